# The R oracle for tests/analysis: R's `survey` and `metafor` run on data written by
# tests/analysis/r_reference.py, which documents the inputs, outputs and rules.
#
#   Rscript reference.R survey  DIR MIN_CELL CAP
#       reads  DIR/respondents.csv, DIR/values.csv, DIR/margins.csv
#       writes DIR/weights.csv, DIR/estimates.csv
#   Rscript reference.R metafor DIR
#       reads  DIR/meta.csv (yi, vi, then one column per moderator)
#       writes DIR/metafor_*.csv, or DIR/error.txt and exits with status 3
#   Rscript reference.R changes DIR
#       reads  DIR/changes.csv (estimate, mse, previous, previous_mse, family; NA as "")
#       writes DIR/changes_out.csv (difference, se, z, p, holm, bonferroni)
#   Rscript reference.R rates DIR
#       reads  DIR/rates.csv (reports, answers, family)
#       writes DIR/rates_out.csv (rate, rest_rate, p, bh): fisher.test against the rest of the family
#
# Numbers are written with sprintf("%.17g"), which reads back as the same double.
# A failure inside one commune (e.g. trimWeights(strict = TRUE), whose stopping test is
# exact, recursing until R runs out of C stack) is written to that commune's `r_error`
# column; the other communes go on. Communes run in forked workers (parallel::mclapply).

args <- commandArgs(trailingOnly = TRUE)
mode <- args[1]
dir <- args[2]

VARS <- c("sex", "age_band", "ethnic_group")
LEVELS <- list(
  sex = c("female", "male"),
  age_band = c("18-29", "30-44", "45-59", "60+"),
  ethnic_group = c("kinh", "hmong", "tay", "dao", "giay", "nung", "thai", "other")
)

num <- function(x) {
  out <- sprintf("%.17g", as.numeric(x))
  out[!is.finite(as.numeric(x))] <- ""
  out
}

# ---------------------------------------------------------------------------------------
# Sparse categories. `cnt` and `pop` are named by category, in LEVELS order. Returns the
# groups (list of character vectors of categories, in order), their counts and
# populations, and whether a merge joined two groups that both had respondents or
# population (joining an empty, zero-population category changes no weight).
non_empty <- function(n, p) n > 0 | p > 0

collapse_age <- function(cnt, pop, min_cell) {
  groups <- as.list(names(cnt))
  gn <- unname(cnt)
  gp <- unname(pop)
  collapsed <- FALSE
  while (length(groups) > 1 && any(gn < min_cell)) {
    i <- which.min(gn) # first of the smallest
    k <- length(groups)
    j <- if (i == 1) 2 else if (i == k) k - 1 else if (gn[i + 1] < gn[i - 1]) i + 1 else i - 1
    if (non_empty(gn[i], gp[i]) && non_empty(gn[j], gp[j])) collapsed <- TRUE
    lo <- min(i, j)
    hi <- max(i, j)
    groups[[lo]] <- c(groups[[lo]], groups[[hi]])
    gn[lo] <- gn[i] + gn[j]
    gp[lo] <- gp[i] + gp[j]
    groups <- groups[-hi]
    gn <- gn[-hi]
    gp <- gp[-hi]
  }
  list(groups = groups, n = gn, pop = gp, collapsed = collapsed)
}

collapse_ethnic <- function(cnt, pop, min_cell) {
  cats <- names(cnt)
  small <- cnt < min_cell
  if (!any(small)) {
    return(list(groups = as.list(cats), n = unname(cnt), pop = unname(pop), collapsed = FALSE))
  }
  solid <- non_empty(cnt, pop)
  collapsed <- sum(solid[small]) >= 2
  groups <- as.list(cats[!small])
  gn <- unname(cnt[!small])
  gp <- unname(pop[!small])
  merged <- cats[small]
  mn <- sum(cnt[small])
  mp <- sum(pop[small])
  if (mn < min_cell && length(groups) > 0) {
    j <- which.max(gn) # first of the largest
    if (any(solid[small]) && (gn[j] > 0 || gp[j] > 0)) collapsed <- TRUE
    groups[[j]] <- cats[cats %in% c(groups[[j]], merged)]
    gn[j] <- gn[j] + mn
    gp[j] <- gp[j] + mp
  } else {
    # the merged group stands as a category of its own, placed at its first member
    pos <- sum(!small[seq_len(match(TRUE, small))])
    groups <- append(groups, list(merged), after = pos)
    gn <- append(gn, mn, after = pos)
    gp <- append(gp, mp, after = pos)
  }
  list(groups = groups, n = gn, pop = gp, collapsed = collapsed)
}

# Label of a merged cell: its categories that have respondents or population, joined by "+".
cell_label <- function(members, cnt, pop) {
  keep <- members[non_empty(cnt[members], pop[members])]
  paste(if (length(keep)) keep else members, collapse = "+")
}

# ---------------------------------------------------------------------------------------
# One commune: weights and estimates. State lives in `st` so that an error part-way keeps
# the flags found so far.
one_commune <- function(code, resp, vals, marg, min_cell, cap) {
  n <- nrow(resp)
  st <- new.env()
  st$collapsed <- character()
  st$not_raked <- character()
  st$trimmed <- FALSE
  st$unweighted <- nrow(marg) == 0
  st$raked_weight <- rep(NA_real_, n)
  st$weight <- rep(NA_real_, n)
  st$error <- ""
  cells <- setNames(rep(list(rep(NA_character_, n)), length(VARS)), VARS)
  st$cells <- cells
  st$estimates <- NULL

  single_respondent <- function(vals) {
    st$raked_weight <- 1
    st$weight <- 1
    if (nrow(vals)) {
      st$estimates <- data.frame(
        subdimension = vals$subdimension, n = 1, n_eff = 1, p = vals$value,
        se = NA_real_, ci_low = NA_real_, ci_high = NA_real_
      )
      st$estimates <- st$estimates[order(st$estimates$subdimension), , drop = FALSE]
    }
  }

  body <- function() {
    d <- data.frame(row = seq_len(n), w0 = rep(1, n))
    in_use <- character()
    pops <- list()
    for (v in VARS) {
      mv <- marg[marg$variable == v, , drop = FALSE]
      if (nrow(mv) == 0 || sum(mv$population) <= 0) next # no margins: not used, no flag
      x <- resp[[v]]
      answered <- x[!is.na(x)]
      if (length(answered) == 0) {
        st$not_raked <- c(st$not_raked, v)
        next
      }
      tab <- table(factor(answered, levels = LEVELS[[v]]))
      x[is.na(x)] <- names(tab)[which.max(tab)] # modal, first in order on a tie
      cnt <- setNames(as.numeric(table(factor(x, levels = LEVELS[[v]]))), LEVELS[[v]])
      pop <- setNames(vapply(LEVELS[[v]], function(k) sum(mv$population[mv$category == k]), 0), LEVELS[[v]])
      if (v == "sex") {
        if (any(cnt < min_cell)) {
          st$not_raked <- c(st$not_raked, v)
          next
        }
        res <- list(groups = as.list(LEVELS$sex), n = unname(cnt), pop = unname(pop), collapsed = FALSE)
      } else if (v == "age_band") {
        res <- collapse_age(cnt, pop, min_cell)
      } else {
        res <- collapse_ethnic(cnt, pop, min_cell)
      }
      if (res$collapsed) st$collapsed <- c(st$collapsed, v)
      if (length(res$groups) < 2) {
        st$not_raked <- c(st$not_raked, v)
        next
      }
      labels <- vapply(res$groups, cell_label, "", cnt = cnt, pop = pop)
      lookup <- setNames(rep(labels, lengths(res$groups)), unlist(res$groups))
      d[[v]] <- factor(unname(lookup[x]), levels = labels)
      st$cells[[v]] <- as.character(d[[v]])
      pops[[v]] <- setNames(res$pop, labels)
      in_use <- c(in_use, v)
    }

    if (n == 1) {
      # svydesign() refuses a design of one PSU, and nothing can be raked on one person
      # (sex needs min_cell in both categories, the others are left with one category).
      single_respondent(vals)
      return(invisible())
    }
    base <- svydesign(ids = ~1, weights = ~w0, data = d)
    des <- base
    while (length(in_use) > 0) {
      total <- sum(pops[[in_use[1]]])
      population <- lapply(in_use, function(v) {
        p <- pops[[v]]
        df <- data.frame(factor(names(p), levels = names(p)), Freq = p * total / sum(p))
        names(df)[1] <- v
        df
      })
      sample <- lapply(in_use, function(v) as.formula(paste0("~", v)))
      converged <- TRUE
      raked <- withCallingHandlers(
        rake(base, sample, population, control = list(maxit = 100, epsilon = 1e-10)),
        warning = function(w) {
          if (grepl("did not converge", conditionMessage(w))) {
            converged <<- FALSE
            invokeRestart("muffleWarning")
          }
        }
      )
      # R's rule compares the joint table between sweeps, so a rake that cycles between
      # two tables without meeting a margin stops as "converged"; a margin missed by
      # more than 1e-6 of the total counts as not converged too (docs/methodology.md §4).
      if (converged) {
        for (i in seq_along(in_use)) {
          got <- svytable(sample[[i]], raked)
          want <- setNames(population[[i]]$Freq, as.character(population[[i]][[1]]))
          if (max(abs(as.vector(got[names(want)]) - want)) > 1e-6 * total) converged <- FALSE
        }
      }
      if (converged) {
        des <- raked
        break
      }
      st$not_raked <- c(st$not_raked, in_use[length(in_use)])
      in_use <- in_use[-length(in_use)]
    }
    for (v in setdiff(VARS, in_use)) st$cells[[v]] <- rep(NA_character_, n)
    st$raked_weight <- weights(des)

    w <- weights(des)
    upper <- cap * mean(w)
    if (any(w > upper)) {
      st$trimmed <- TRUE
      des <- trimWeights(des, upper = upper, strict = TRUE)
    }
    st$weight <- weights(des)

    rows <- list()
    for (s in sort(unique(vals$subdimension))) {
      vs <- vals[vals$subdimension == s, , drop = FALSE]
      y <- vs$value[match(resp$response_id, vs$response_id)]
      dom <- !is.na(y)
      if (!any(dom)) next
      des$variables$y <- y
      m <- svymean(~y, des, na.rm = TRUE)
      p <- unname(coef(m))[1]
      se <- unname(SE(m))[1]
      ci <- suppressWarnings(attr(svyciprop(~y, des, method = "beta", na.rm = TRUE), "ci"))
      wd <- st$weight[dom]
      rows[[length(rows) + 1]] <- data.frame(
        subdimension = s, n = sum(dom), n_eff = sum(wd)^2 / sum(wd^2),
        p = p, se = se, ci_low = unname(ci[1]), ci_high = unname(ci[2])
      )
    }
    st$estimates <- if (length(rows)) do.call(rbind, rows) else NULL
  }

  tryCatch(body(), error = function(e) {
    st$error <- paste(trimws(conditionMessage(e)), collapse = " ")
  })

  prefixed <- function(prefix, vars) if (length(vars)) paste0(prefix, vars)
  flags <- c(
    # A variable that ends up not raked on says so; that it was merged first is moot.
    prefixed("collapsed:", VARS[VARS %in% st$collapsed & !(VARS %in% st$not_raked)]),
    prefixed("not_raked:", VARS[VARS %in% st$not_raked]),
    if (st$trimmed) "trimmed",
    if (st$unweighted) "unweighted"
  )
  weights_out <- data.frame(
    response_id = resp$response_id, commune = rep(code, n),
    weight = num(st$weight), raked_weight = num(st$raked_weight),
    sex_cell = st$cells$sex, age_band_cell = st$cells$age_band, ethnic_group_cell = st$cells$ethnic_group,
    flags = rep(paste(flags, collapse = ";"), n), r_error = rep(st$error, n),
    stringsAsFactors = FALSE
  )
  if (st$error != "") {
    # estimates cannot be trusted: one row per sub-dimension with the domain size only
    vs <- vals[vals$response_id %in% resp$response_id, , drop = FALSE]
    subs <- sort(unique(vs$subdimension))
    none <- rep(NA_real_, length(subs))
    est <- data.frame(
      subdimension = subs, n = vapply(subs, function(s) sum(vs$subdimension == s), 0),
      n_eff = none, p = none, se = none, ci_low = none, ci_high = none
    )
  } else {
    est <- st$estimates
  }
  if (!is.null(est) && nrow(est) > 0) {
    est <- data.frame(
      commune = rep(code, nrow(est)), subdimension = est$subdimension, n = num(est$n),
      n_eff = num(est$n_eff), p = num(est$p), se = num(est$se),
      ci_low = num(est$ci_low), ci_high = num(est$ci_high), r_error = rep(st$error, nrow(est)),
      stringsAsFactors = FALSE
    )
  }
  list(weights = weights_out, estimates = est)
}

run_survey <- function(min_cell, cap) {
  suppressPackageStartupMessages(library(survey))
  resp <- read.csv(file.path(dir, "respondents.csv"), colClasses = "character", na.strings = "")
  vals <- read.csv(file.path(dir, "values.csv"),
                   colClasses = c("character", "character", "numeric"), na.strings = "")
  vals <- vals[!is.na(vals$value), , drop = FALSE]
  marg <- read.csv(file.path(dir, "margins.csv"),
                   colClasses = c("character", "character", "character", "numeric"), na.strings = "")
  # Communes are independent: forked workers (parallel's mclapply) share the work.
  codes <- sort(unique(resp$commune))
  cores <- max(1L, min(8L, parallel::detectCores(), length(codes)), na.rm = TRUE)
  outs <- parallel::mclapply(codes, function(code) {
    r <- resp[resp$commune == code, , drop = FALSE]
    one_commune(code, r, vals[vals$response_id %in% r$response_id, , drop = FALSE],
                marg[marg$commune == code, , drop = FALSE], min_cell, cap)
  }, mc.cores = cores, mc.preschedule = TRUE)
  failed <- vapply(outs, function(o) inherits(o, "try-error") || is.null(o), logical(1))
  if (any(failed)) stop("a worker died on commune(s) ", paste(codes[failed], collapse = ", "))
  w_all <- lapply(outs, `[[`, "weights")
  e_all <- Filter(Negate(is.null), lapply(outs, `[[`, "estimates"))
  empty_est <- data.frame(commune = character(), subdimension = character(), n = character(),
                          n_eff = character(), p = character(), se = character(), ci_low = character(),
                          ci_high = character(), r_error = character())
  w <- do.call(rbind, unname(w_all))
  e <- if (length(e_all)) do.call(rbind, unname(e_all)) else empty_est
  # numbers were formatted as text; quote only the real text columns
  write.csv(w, file.path(dir, "weights.csv"), row.names = FALSE, na = "",
            quote = match(c("response_id", "commune", "sex_cell", "age_band_cell", "ethnic_group_cell",
                            "flags", "r_error"), names(w)))
  write.csv(e, file.path(dir, "estimates.csv"), row.names = FALSE, na = "",
            quote = match(c("commune", "subdimension", "r_error"), names(e)))
}

# ---------------------------------------------------------------------------------------
run_metafor <- function() {
  suppressPackageStartupMessages(library(metafor))
  dat <- read.csv(file.path(dir, "meta.csv"))
  mods <- if (ncol(dat) > 2) as.matrix(dat[, -(1:2), drop = FALSE]) else NULL
  warnings_seen <- character()
  result <- tryCatch(
    withCallingHandlers({
      control <- list(threshold = 1e-12, maxiter = 10000)
      fit <- if (is.null(mods)) {
        rma(yi = dat$yi, vi = dat$vi, method = "REML", control = control)
      } else {
        rma(yi = dat$yi, vi = dat$vi, mods = mods, method = "REML", control = control)
      }
      list(fit = fit, blup = blup(fit))
    }, warning = function(w) {
      warnings_seen <<- c(warnings_seen, conditionMessage(w))
      invokeRestart("muffleWarning")
    }),
    error = function(e) e
  )
  if (inherits(result, "error")) {
    writeLines(conditionMessage(result), file.path(dir, "error.txt"))
    quit(status = 3)
  }
  fit <- result$fit
  b <- result$blup
  vb <- unclass(vcov(fit))
  write.csv(data.frame(tau2 = num(fit$tau2)), file.path(dir, "metafor_tau2.csv"), row.names = FALSE, quote = FALSE)
  write.csv(data.frame(name = rownames(fit$beta), beta = num(fit$beta[, 1])),
            file.path(dir, "metafor_beta.csv"), row.names = FALSE, quote = 1)
  write.csv(as.data.frame(matrix(num(vb), nrow = nrow(vb))), file.path(dir, "metafor_vb.csv"),
            row.names = FALSE, quote = FALSE)
  write.csv(data.frame(pred = num(b$pred), se = num(b$se)), file.path(dir, "metafor_blup.csv"),
            row.names = FALSE, quote = FALSE)
  writeLines(warnings_seen, file.path(dir, "metafor_warnings.txt"))
}

# ---------------------------------------------------------------------------------------
# Change between two periods: z test on sqrt(mse1 + mse0), p-values adjusted per family by
# stats::p.adjust (which leaves NA p-values out of the family's count).
run_changes <- function() {
  d <- read.csv(file.path(dir, "changes.csv"), colClasses = c(family = "character"), na.strings = "")
  difference <- d$estimate - d$previous
  se <- sqrt(d$mse + d$previous_mse)
  tested <- is.finite(difference) & is.finite(se) & se > 0
  z <- ifelse(tested, difference / se, NA_real_)
  p <- ifelse(tested, 2 * pnorm(-abs(z)), NA_real_)
  holm <- bonferroni <- rep(NA_real_, nrow(d))
  for (f in unique(d$family)) {
    rows <- which(d$family == f)
    holm[rows] <- p.adjust(p[rows], method = "holm")
    bonferroni[rows] <- p.adjust(p[rows], method = "bonferroni")
  }
  out <- data.frame(difference = num(difference), se = num(se), z = num(z), p = num(p),
                    holm = num(holm), bonferroni = num(bonferroni))
  write.csv(out, file.path(dir, "changes_out.csv"), row.names = FALSE, quote = FALSE)
}

run_rates <- function() {
  d <- read.csv(file.path(dir, "rates.csv"), colClasses = c(family = "character"))
  y <- ave(d$reports, d$family, FUN = sum) - d$reports
  m <- ave(d$answers, d$family, FUN = sum) - d$answers
  p <- rep(NA_real_, nrow(d))
  for (i in which(d$answers > 0 & m > 0)) {
    table <- matrix(c(d$reports[i], d$answers[i] - d$reports[i], y[i], m[i] - y[i]), nrow = 2)
    p[i] <- fisher.test(table, alternative = "greater")$p.value
  }
  bh <- rep(NA_real_, nrow(d))
  for (f in unique(d$family)) {
    rows <- which(d$family == f & !is.na(p))
    if (length(rows)) bh[rows] <- p.adjust(p[rows], method = "BH")
  }
  rate <- ifelse(d$answers > 0, d$reports / d$answers, NA_real_)
  rest_rate <- ifelse(m > 0, y / m, NA_real_)
  out <- data.frame(rate = num(rate), rest_rate = num(rest_rate), p = num(p), bh = num(bh))
  write.csv(out, file.path(dir, "rates_out.csv"), row.names = FALSE, quote = FALSE)
}

if (mode == "survey") {
  run_survey(as.numeric(args[3]), as.numeric(args[4]))
} else if (mode == "metafor") {
  run_metafor()
} else if (mode == "changes") {
  run_changes()
} else if (mode == "rates") {
  run_rates()
} else {
  stop("unknown mode: ", mode)
}
