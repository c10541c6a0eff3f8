"""Time score_communes on synthetic data: 100k, 300k and 1M responses over 99 communes.

Each response has about 10 scored answers spread over the 28 sub-dimensions; 90 of the 99
communes have population margins (sex, age band, ethnic group), 9 are wards (phường), so the
small-area model carries a ward indicator. For each size: the time to build the data, the
first and second ``score_communes`` run (design, domain estimates, Korn–Graubard intervals,
Fay–Herriot, ranks with rank intervals: everything), and the peak memory of a third, traced
run. Goal (issue 11): 1M responses computed in under 5 s.

Baseline: when ``Rscript`` with the ``survey`` package is installed, R computes, on the same
5,000 and 10,000 responses, per commune: the respondent values, a rake to the margins
(``rake(..., control = list(maxit = 100, epsilon = 1e-10))``, categories with fewer than 5
respondents merged into the largest) and ``svymean(~y_s, design, na.rm = TRUE)`` for every
sub-dimension. That is less than score_communes does (no intervals, small-area estimates,
ranks), so the comparison favours R. Without R the baseline is skipped with a note.

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/analysis_speed.py
    PYTHONPATH=. .venv/bin/python benchmarks/analysis_speed.py --quick          # 100k, R on 5k
    PYTHONPATH=. .venv/bin/python benchmarks/analysis_speed.py --categorical --sizes 1000000
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis import STRUCTURES, score_communes  # noqa: E402
from analysis._inputs import CATEGORIES  # noqa: E402

N_COMMUNES = 99
N_WARDS = 9
ANSWERS_PER_RESPONSE = 10
GOAL_SIZE, GOAL_SECONDS = 1_000_000, 5.0
COMMUNES = np.array([f"{10000 + 37 * i:05d}" for i in range(N_COMMUNES)])
WARDS = tuple(COMMUNES[:: N_COMMUNES // N_WARDS][:N_WARDS])


def synthetic(n_responses: int, *, seed: int = 2019, categorical: bool = False):
    """Respondents, scored answers (~10 per response) and margins for 99 communes."""
    rng = np.random.default_rng(seed)
    communes = COMMUNES
    ids = pd.Series([f"r{i:07d}" for i in range(n_responses)], dtype="str")
    commune_of = rng.integers(0, N_COMMUNES, n_responses)

    def draw(variable: str, probs: list[float]) -> np.ndarray:
        levels = np.array(CATEGORIES[variable], dtype=object)
        out = levels[rng.choice(len(levels), n_responses, p=probs)]
        out[rng.random(n_responses) < 0.03] = None  # a few skipped the question
        return out

    respondents = pd.DataFrame(
        {
            "response_id": ids,
            "commune": pd.Series(communes[commune_of], dtype="str"),
            "sex": pd.Series(draw("sex", [0.35, 0.65]), dtype="str"),
            "age_band": pd.Series(draw("age_band", [0.4, 0.3, 0.2, 0.1]), dtype="str"),
            "ethnic_group": pd.Series(
                draw("ethnic_group", [0.5, 0.15, 0.1, 0.08, 0.05, 0.04, 0.04, 0.04]), dtype="str"
            ),
        }
    )
    subs = np.array(STRUCTURES["current"].subdimensions, dtype=object)
    n_answers = n_responses * ANSWERS_PER_RESPONSE
    answer_resp = np.repeat(np.arange(n_responses), ANSWERS_PER_RESPONSE)
    true_p = rng.uniform(0.3, 0.9, (N_COMMUNES, len(subs)))
    sub_of = rng.integers(0, len(subs), n_answers)
    score = (rng.random(n_answers) < true_p[commune_of[answer_resp], sub_of]).astype(float)
    score[rng.random(n_answers) < 0.05] = np.nan  # "don't know"
    scores = pd.DataFrame(
        {
            "response_id": ids.to_numpy()[answer_resp],
            "commune": communes[commune_of][answer_resp],
            "subdimension": subs[sub_of],
            "score": score,
        }
    )
    if categorical:
        for column in ("response_id", "commune", "subdimension"):
            scores[column] = scores[column].astype("category")
    else:
        for column in ("response_id", "commune", "subdimension"):
            scores[column] = scores[column].astype("str")
    rows = []
    for c in communes[: N_COMMUNES - 9]:  # 9 communes have no margins
        for variable, levels in CATEGORIES.items():
            pops = rng.integers(200, 5000, len(levels))
            rows += [(c, variable, level, int(p)) for level, p in zip(levels, pops)]
    margins = pd.DataFrame(rows, columns=["commune", "variable", "category", "population"])
    return scores, respondents, margins


def timed_runs(scores: pd.DataFrame, respondents: pd.DataFrame, margins: pd.DataFrame):
    """First and second run (wall seconds), the first run's CPU seconds, the table, and the
    traced peak of a third run (bytes)."""
    start, cpu = time.perf_counter(), time.process_time()
    table = score_communes(scores, respondents, margins=margins, wards=WARDS)
    first, cpu = time.perf_counter() - start, time.process_time() - cpu
    start = time.perf_counter()
    score_communes(scores, respondents, margins=margins, wards=WARDS)
    second = time.perf_counter() - start
    # A third, traced run measures the computation's own peak allocation (numpy reports its
    # buffers to tracemalloc); tracing slows it, so it is not timed.
    tracemalloc.start()
    score_communes(scores, respondents, margins=margins, wards=WARDS)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return first, second, cpu, table, peak


# --------------------------------------------------------------------------------------------
# The R baseline

R_SCRIPT = r"""
suppressMessages(library(survey))
args <- commandArgs(trailingOnly = TRUE)
dir <- args[1]
t0 <- proc.time()[["elapsed"]]
resp <- read.csv(file.path(dir, "respondents.csv"), colClasses = "character", na.strings = "")
ans <- read.csv(file.path(dir, "answers.csv"), colClasses = c("character", "character", "numeric"))
marg <- read.csv(file.path(dir, "margins.csv"), colClasses = c("character", "character", "character", "numeric"))
t_read <- proc.time()[["elapsed"]]
cpu_read <- sum(proc.time()[c("user.self", "sys.self")])
VARS <- c("sex", "age_band", "ethnic_group")
# Respondent value per sub-dimension: the mean of their scored items.
ans <- ans[!is.na(ans$score), ]
vals <- aggregate(score ~ response_id + subdimension, data = ans, FUN = mean)
subs <- sort(unique(vals$subdimension))
wide <- reshape(vals, idvar = "response_id", timevar = "subdimension", direction = "wide")
resp <- merge(resp, wide, by = "response_id")  # respondents with a scored answer
ycols <- paste0("score.", subs)
out <- list()
for (code in sort(unique(resp$commune))) {
  d <- resp[resp$commune == code, , drop = FALSE]
  m <- marg[marg$commune == code, , drop = FALSE]
  d$w0 <- 1
  sample <- list()
  population <- list()
  for (v in VARS) {
    if (nrow(m) == 0) next
    x <- d[[v]]
    tab <- table(factor(x[!is.na(x)], levels = unique(m$category[m$variable == v])))
    x[is.na(x)] <- names(tab)[which.max(tab)]  # modal category
    cnt <- table(factor(x, levels = names(tab)))
    pop <- setNames(m$population[m$variable == v], m$category[m$variable == v])[names(tab)]
    small <- names(cnt)[cnt < 5]
    big <- names(cnt)[which.max(cnt)]
    x[x %in% small] <- big  # sparse categories join the largest
    pop[big] <- pop[big] + sum(pop[setdiff(small, big)])
    keep <- setdiff(names(cnt), setdiff(small, big))
    if (length(keep) < 2) next
    d[[v]] <- factor(x, levels = keep)
    df <- data.frame(factor(keep, levels = keep), Freq = unname(pop[keep]))
    names(df)[1] <- v
    sample[[length(sample) + 1]] <- as.formula(paste0("~", v))
    population[[length(population) + 1]] <- df
  }
  if (length(population) > 0) {
    total <- sum(population[[1]]$Freq)
    population <- lapply(population, function(df) { df$Freq <- df$Freq * total / sum(df$Freq); df })
  }
  des <- svydesign(ids = ~1, weights = ~w0, data = d)
  if (length(sample) > 0) {
    des <- tryCatch(
      suppressWarnings(rake(des, sample, population, control = list(maxit = 100, epsilon = 1e-10))),
      error = function(e) des)
  }
  for (y in ycols) {
    if (all(is.na(d[[y]]))) next
    est <- svymean(as.formula(paste0("~`", y, "`")), des, na.rm = TRUE)
    out[[length(out) + 1]] <- data.frame(commune = code, subdimension = sub("score.", "", y, fixed = TRUE),
                                         p = coef(est)[[1]], se = SE(est)[[1]])
  }
}
res <- do.call(rbind, out)
t_end <- proc.time()[["elapsed"]]
cpu_end <- sum(proc.time()[c("user.self", "sys.self")])
write.csv(res, file.path(dir, "r_estimates.csv"), row.names = FALSE)
cat(sprintf("R_SECONDS read=%.3f compute=%.3f cpu=%.3f estimates=%d\n", t_read - t0, t_end - t_read,
            cpu_end - cpu_read, nrow(res)))
"""


def r_missing() -> str | None:
    """Why the R baseline cannot run, or None."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return "Rscript is not installed (Debian: r-base-core r-cran-survey)"
    done = subprocess.run([rscript, "-e", "suppressMessages(library(survey))"],
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        return f"R's survey package does not load: {done.stderr.strip()[:200]}"
    return None


def subset(scores: pd.DataFrame, respondents: pd.DataFrame, n: int):
    """The first n respondents and their answers."""
    keep = respondents.iloc[:n]
    ids = set(keep["response_id"])
    return scores[scores["response_id"].isin(ids)].reset_index(drop=True), keep.reset_index(drop=True)


def run_r(scores: pd.DataFrame, respondents: pd.DataFrame, margins: pd.DataFrame) -> dict:
    with tempfile.TemporaryDirectory(prefix="analysis_speed_r_") as tmp:
        folder = Path(tmp)
        respondents.to_csv(folder / "respondents.csv", index=False)
        scores[["response_id", "subdimension", "score"]].to_csv(folder / "answers.csv", index=False)
        margins.to_csv(folder / "margins.csv", index=False)
        (folder / "baseline.R").write_text(R_SCRIPT, encoding="utf-8")
        start = time.perf_counter()
        done = subprocess.run(["Rscript", str(folder / "baseline.R"), str(folder)],
                              capture_output=True, text=True, timeout=3600,
                              env={**os.environ, "LC_ALL": "C.UTF-8"})
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"Rscript failed: {done.stderr.strip()[-800:]}")
        line = next(x for x in done.stdout.splitlines() if x.startswith("R_SECONDS"))
        fields = dict(part.split("=") for part in line.split()[1:])
        return {"wall": wall, "read": float(fields["read"]), "compute": float(fields["compute"]),
                "cpu": float(fields["cpu"]), "estimates": int(fields["estimates"])}


def baseline(r_sizes: list[int], categorical: bool) -> None:
    print(f"\nBaseline: R's survey package on the same responses (first n of the {max(r_sizes):,}-response "
          "data set; per commune: respondent values, rake, svymean per sub-dimension)")
    why = r_missing()
    if why:
        print(f"   skipped: {why}")
        return
    version = subprocess.run(["Rscript", "-e", "cat(R.version.string, '/ survey', "
                              "as.character(packageVersion('survey')))"],
                             capture_output=True, text=True).stdout.strip()
    print(f"   {version}")
    print(f"   {'responses':>10} {'answers':>9} {'ours s':>7} {'2nd s':>6} {'CPU s':>6} {'R compute s':>12} "
          f"{'CPU s':>6} {'R wall s':>9} {'R / ours':>9} {'CPU R / ours':>13} {'estimates ours / R':>19}")
    scores_all, respondents_all, margins = synthetic(max(r_sizes), categorical=categorical)
    for n in sorted(r_sizes):
        scores, respondents = subset(scores_all, respondents_all, n)
        ours, again, cpu, table, _ = timed_runs(scores, respondents, margins)
        r = run_r(scores, respondents, margins)
        n_ours = int(((table["level"] == "subdimension") & (table["n"].fillna(0) > 0)).sum())
        print(f"   {n:>10,} {len(scores):>9,} {ours:>7.2f} {again:>6.2f} {cpu:>6.2f} {r['compute']:>12.2f} "
              f"{r['cpu']:>6.1f} {r['wall']:>9.2f} {r['compute'] / ours:>8.0f}x {r['cpu'] / cpu:>12.0f}x "
              f"{n_ours:>9,} / {r['estimates']:<7,}", flush=True)
    print("   R compute: respondent values, rakes and svymeans, after reading the CSVs (R wall: the whole "
          "Rscript, start-up and CSV reading included); CPU: user + system seconds of the same part "
          "(less sensitive to a busy machine);\n   ours: score_communes' first run, everything (also "
          "Korn-Graubard intervals, Fay-Herriot, ranks with 1,000-draw rank intervals). R's time goes mostly "
          "to\n   per-commune rakes and per commune x sub-dimension svymeans, so it grows less than "
          "linearly with responses; it is not extrapolated here.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=None,
                        help="responses per run (default 100000 300000 1000000; --quick 100000)")
    parser.add_argument("--r-sizes", type=int, nargs="*", default=None,
                        help="responses for the R baseline (default 5000 10000; --quick 5000; none: skip)")
    parser.add_argument("--quick", action="store_true", help="100k responses only, R on 5k")
    parser.add_argument("--categorical", action="store_true",
                        help="pass id/commune/sub-dimension columns as pandas categoricals")
    args = parser.parse_args()
    sizes = args.sizes if args.sizes is not None else ([100_000] if args.quick else [100_000, 300_000, 1_000_000])
    r_sizes = args.r_sizes if args.r_sizes is not None else ([5_000] if args.quick else [5_000, 10_000])
    print(f"score_communes on synthetic data: {N_COMMUNES} communes ({N_WARDS} wards, 9 without margins), "
          f"~{ANSWERS_PER_RESPONSE} answers per response, {'categorical' if args.categorical else 'string'} "
          "id/commune/sub-dimension columns")
    print(f"{'responses':>10} {'answers':>11} {'build s':>8} {'compute s':>10} "
          f"{'2nd run s':>10} {'CPU s':>6} {'peak MB':>8} {'rows':>6}")
    results = {}
    for size in sizes:
        start = time.perf_counter()
        scores, respondents, margins = synthetic(size, categorical=args.categorical)
        built = time.perf_counter() - start
        elapsed, again, cpu, table, peak = timed_runs(scores, respondents, margins)
        results[size] = (elapsed, again)
        print(f"{size:>10,} {len(scores):>11,} {built:>8.2f} {elapsed:>10.2f} {again:>10.2f} {cpu:>6.2f} "
              f"{peak / 2**20:>8.0f} {len(table):>6}", flush=True)
        del scores, respondents, margins, table
    # ru_maxrss is in KiB on Linux: the process peak, including the synthetic data.
    print("compute s / 2nd run s: wall time of score_communes' first and second run; CPU s: the first "
          "run's process CPU time; peak MB: tracemalloc peak of a third run")
    print(f"process max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB "
          "(includes the synthetic data held in memory)")
    if GOAL_SIZE in results:
        first, second = results[GOAL_SIZE]
        print(f"goal: {GOAL_SIZE:,} responses computed in under {GOAL_SECONDS:.0f} s: first run {first:.2f} s, "
              f"second {second:.2f} s -> {'met' if first < GOAL_SECONDS else 'NOT met'}")
    else:
        print(f"goal ({GOAL_SIZE:,} responses in under {GOAL_SECONDS:.0f} s): not measured in this run")
    if r_sizes:
        baseline(r_sizes, args.categorical)


if __name__ == "__main__":
    main()
