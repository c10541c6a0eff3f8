"""Time score_communes on synthetic data: 100k, 300k and 1M responses over 99 communes,
or the national shape (10 M responses over 3,321 communes).

Each response has about 10 scored answers spread over the 28 sub-dimensions; 90 of the 99
communes have population margins (sex, age band, ethnic group), 9 are wards (phường), so the
small-area model carries a ward indicator (the same shares for ``--communes N``). Each size
runs in a fresh process: the time to build the data, the first and second ``score_communes``
run (design, domain estimates, Korn–Graubard intervals, Fay–Herriot, ranks with rank
intervals: everything), and the peak memory of one more, traced run (tracemalloc: the
computation's own allocations, not the input frames). Goals: issue 11, 1M responses computed
in under 5 s; issue 13, peak ≤ 0.8 GB at 1M, and the national shape in ≤ 30 s.

``--baseline REV`` measures ``analysis/`` of a git revision (unpacked with ``git archive``,
nothing in the checkout changes) on the same data in its own process, prints its figures
above the current ones and checks that both tables agree
(``pd.testing.assert_frame_equal(..., rtol=1e-9)``, attrs included).

R baseline: when ``Rscript`` with the ``survey`` package is installed, R computes, on the same
5,000 and 10,000 responses, per commune: the respondent values, a rake to the margins
(``rake(..., control = list(maxit = 100, epsilon = 1e-10))``, categories with fewer than 5
respondents merged into the largest) and ``svymean(~y_s, design, na.rm = TRUE)`` for every
sub-dimension. That is less than score_communes does (no intervals, small-area estimates,
ranks), so the comparison favours R. Without R the baseline is skipped with a note.

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/analysis_speed.py
    PYTHONPATH=. .venv/bin/python benchmarks/analysis_speed.py --quick          # 100k, R on 5k
    PYTHONPATH=. .venv/bin/python benchmarks/analysis_speed.py --sizes 1000000 --r-sizes --baseline HEAD
    PYTHONPATH=. .venv/bin/python benchmarks/analysis_speed.py --national       # 10 M x 3,321, categorical
    PYTHONPATH=. .venv/bin/python benchmarks/analysis_speed.py --sizes 1000000 --communes 3321
    PYTHONPATH=. .venv/bin/python benchmarks/analysis_speed.py --categorical --sizes 1000000
"""

from __future__ import annotations

import argparse
import json
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# A child measuring an earlier revision imports its analysis/ (extracted by git archive) first.
if os.environ.get("ANALYSIS_SPEED_CODE"):
    sys.path.insert(0, os.environ["ANALYSIS_SPEED_CODE"])

from analysis import STRUCTURES, score_communes  # noqa: E402
from analysis._inputs import CATEGORIES  # noqa: E402

N_COMMUNES = 99
N_WARDS = 9
ANSWERS_PER_RESPONSE = 10
GOAL_SIZE, GOAL_SECONDS = 1_000_000, 5.0
#: National shape (issue 13): 10 M responses over the 3,321 communes of the 34 provinces.
NATIONAL_RESPONSES, NATIONAL_COMMUNES = 10_000_000, 3_321


def commune_codes(n_communes: int) -> np.ndarray:
    """``n_communes`` distinct 5-digit codes (the first 99 are the historical ones)."""
    step = 37 if n_communes <= 2_400 else 27
    return np.array([f"{10000 + step * i:05d}" for i in range(n_communes)])


def shape(n_communes: int) -> tuple[np.ndarray, tuple[str, ...], int]:
    """Commune codes, ward codes and how many communes have margins: 9 of 99 are wards and
    9 of 99 lack margins, in the same proportion for other counts."""
    communes = commune_codes(n_communes)
    n_wards = max(1, round(n_communes * N_WARDS / N_COMMUNES))
    wards = tuple(communes[:: max(1, n_communes // n_wards)][:n_wards])
    with_margins = n_communes - max(0, round(n_communes * 9 / N_COMMUNES))
    return communes, wards, with_margins


COMMUNES = commune_codes(N_COMMUNES)
WARDS = shape(N_COMMUNES)[1]


def synthetic(n_responses: int, *, seed: int = 2019, categorical: bool = False, n_communes: int = N_COMMUNES):
    """Respondents, scored answers (~10 per response) and margins for ``n_communes`` communes."""
    rng = np.random.default_rng(seed)
    communes, _, with_margins = shape(n_communes)
    ids = pd.Series([f"r{i:07d}" for i in range(n_responses)], dtype="str")
    commune_of = rng.integers(0, n_communes, n_responses)

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
    true_p = rng.uniform(0.3, 0.9, (n_communes, len(subs)))
    sub_of = rng.integers(0, len(subs), n_answers)
    score = (rng.random(n_answers) < true_p[commune_of[answer_resp], sub_of]).astype(float)
    score[rng.random(n_answers) < 0.05] = np.nan  # "don't know"
    if categorical:
        # Built from codes, as feedback.bridge hands them over (no 100 M strings).
        scores = pd.DataFrame(
            {
                "response_id": pd.Categorical.from_codes(answer_resp, categories=pd.Index(ids)),
                "commune": pd.Categorical.from_codes(commune_of[answer_resp], categories=pd.Index(communes)),
                "subdimension": pd.Categorical.from_codes(sub_of, categories=pd.Index(subs)),
                "score": score,
            }
        )
    else:
        scores = pd.DataFrame(
            {
                "response_id": pd.Series(ids.to_numpy()[answer_resp], dtype="str"),
                "commune": pd.Series(communes[commune_of][answer_resp], dtype="str"),
                "subdimension": pd.Series(subs[sub_of], dtype="str"),
                "score": score,
            }
        )
    del answer_resp, sub_of, score
    rows = []
    for c in communes[:with_margins]:  # the others have no margins
        for variable, levels in CATEGORIES.items():
            pops = rng.integers(200, 5000, len(levels))
            rows += [(c, variable, level, int(p)) for level, p in zip(levels, pops, strict=False)]
    margins = pd.DataFrame(rows, columns=["commune", "variable", "category", "population"])
    return scores, respondents, margins


def timed_runs(
    scores: pd.DataFrame,
    respondents: pd.DataFrame,
    margins: pd.DataFrame,
    *,
    wards: tuple[str, ...] = WARDS,
    runs: int = 2,
):
    """Wall seconds of ``runs`` runs, the first run's CPU seconds, the table, and the traced
    peak of one more run (bytes)."""
    walls, cpu = [], 0.0
    for i in range(runs):
        start, cpu_start = time.perf_counter(), time.process_time()
        table = score_communes(scores, respondents, margins=margins, wards=wards)
        walls.append(time.perf_counter() - start)
        if i == 0:
            cpu = time.process_time() - cpu_start
    # One more, traced run measures the computation's own peak allocation (numpy reports its
    # buffers to tracemalloc); tracing slows it, so it is not timed.
    tracemalloc.start()
    score_communes(scores, respondents, margins=margins, wards=wards)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return walls, cpu, table, peak


def measure_child(size: int, n_communes: int, categorical: bool, runs: int, out: str) -> None:
    """Child process: build the data, time and trace score_communes, save the table, print JSON."""
    start = time.perf_counter()
    scores, respondents, margins = synthetic(size, categorical=categorical, n_communes=n_communes)
    built = time.perf_counter() - start
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    walls, cpu, table, peak = timed_runs(scores, respondents, margins, wards=shape(n_communes)[1], runs=runs)
    table.to_pickle(out)
    print(
        "RESULT "
        + json.dumps(
            {
                "answers": len(scores),
                "built": built,
                "walls": walls,
                "cpu": cpu,
                "peak": peak,
                "rows": len(table),
                "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "rss_data": rss_data,
            }
        ),
        flush=True,
    )


def run_child(size: int, n_communes: int, categorical: bool, runs: int, out: Path, code: Path | None) -> dict:
    """Run :func:`measure_child` in a fresh interpreter (``code``: an earlier analysis/)."""
    env = dict(os.environ)
    env.pop("ANALYSIS_SPEED_CODE", None)
    if code is not None:
        env["ANALYSIS_SPEED_CODE"] = str(code)
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            str(size),
            "--communes",
            str(n_communes),
            "--runs",
            str(runs),
            "--out",
            str(out),
            *(["--categorical"] if categorical else []),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    if done.returncode != 0:
        raise RuntimeError(f"measurement failed: {done.stderr.strip()[-2000:]}")
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def extract_revision(revision: str, folder: Path) -> Path:
    """``analysis/`` of a git revision, unpacked under ``folder`` (read-only ``git archive``)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision, "analysis"], capture_output=True, check=True
    ).stdout
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def same_table(table: pd.DataFrame, reference: pd.DataFrame) -> str:
    """ "identical" when the tables agree up to rtol 1e-9, else the first difference."""
    try:
        pd.testing.assert_frame_equal(table, reference, rtol=1e-9, atol=0, check_exact=False)
        assert table.attrs.keys() == reference.attrs.keys()
        for key, value in reference.attrs.items():
            if isinstance(value, dict):
                pd.testing.assert_series_equal(
                    pd.Series(table.attrs[key], dtype=float), pd.Series(value, dtype=float), rtol=1e-9
                )
            else:
                assert table.attrs[key] == value, key
    except AssertionError as error:
        return "DIFFERENT: " + " ".join(str(error).split())[:400]
    return "identical (rtol 1e-9, attrs included)"


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
    done = subprocess.run(
        [rscript, "-e", "suppressMessages(library(survey))"], capture_output=True, text=True, timeout=120
    )
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
        done = subprocess.run(
            ["Rscript", str(folder / "baseline.R"), str(folder)],
            capture_output=True,
            text=True,
            timeout=3600,
            env={**os.environ, "LC_ALL": "C.UTF-8"},
        )
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"Rscript failed: {done.stderr.strip()[-800:]}")
        line = next(x for x in done.stdout.splitlines() if x.startswith("R_SECONDS"))
        fields = dict(part.split("=") for part in line.split()[1:])
        return {
            "wall": wall,
            "read": float(fields["read"]),
            "compute": float(fields["compute"]),
            "cpu": float(fields["cpu"]),
            "estimates": int(fields["estimates"]),
        }


def baseline(r_sizes: list[int], categorical: bool) -> None:
    print(
        f"\nBaseline: R's survey package on the same responses (first n of the {max(r_sizes):,}-response "
        "data set; per commune: respondent values, rake, svymean per sub-dimension)"
    )
    why = r_missing()
    if why:
        print(f"   skipped: {why}")
        return
    version = subprocess.run(
        ["Rscript", "-e", "cat(R.version.string, '/ survey', as.character(packageVersion('survey')))"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    print(f"   {version}")
    print(
        f"   {'responses':>10} {'answers':>9} {'ours s':>7} {'2nd s':>6} {'CPU s':>6} {'R compute s':>12} "
        f"{'CPU s':>6} {'R wall s':>9} {'R / ours':>9} {'CPU R / ours':>13} {'estimates ours / R':>19}"
    )
    scores_all, respondents_all, margins = synthetic(max(r_sizes), categorical=categorical)
    for n in sorted(r_sizes):
        scores, respondents = subset(scores_all, respondents_all, n)
        (ours, again), cpu, table, _ = timed_runs(scores, respondents, margins)
        r = run_r(scores, respondents, margins)
        n_ours = int(((table["level"] == "subdimension") & (table["n"].fillna(0) > 0)).sum())
        print(
            f"   {n:>10,} {len(scores):>9,} {ours:>7.2f} {again:>6.2f} {cpu:>6.2f} {r['compute']:>12.2f} "
            f"{r['cpu']:>6.1f} {r['wall']:>9.2f} {r['compute'] / ours:>8.0f}x {r['cpu'] / cpu:>12.0f}x "
            f"{n_ours:>9,} / {r['estimates']:<7,}",
            flush=True,
        )
    print(
        "   R compute: respondent values, rakes and svymeans, after reading the CSVs (R wall: the whole "
        "Rscript, start-up and CSV reading included); CPU: user + system seconds of the same part "
        "(less sensitive to a busy machine);\n   ours: score_communes' first run, everything (also "
        "Korn-Graubard intervals, Fay-Herriot, ranks with 1,000-draw rank intervals). R's time goes mostly "
        "to\n   per-commune rakes and per commune x sub-dimension svymeans, so it grows less than "
        "linearly with responses; it is not extrapolated here."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="*",
        default=None,
        help="responses per run (default 100000 300000 1000000; --quick 100000; --national 10000000)",
    )
    parser.add_argument(
        "--communes", type=int, default=None, help=f"communes (default {N_COMMUNES}; --national {NATIONAL_COMMUNES})"
    )
    parser.add_argument(
        "--national",
        action="store_true",
        help=f"the national shape: {NATIONAL_RESPONSES:,} responses over "
        f"{NATIONAL_COMMUNES:,} communes, categorical columns, one timed run, no R",
    )
    parser.add_argument(
        "--runs", type=int, default=None, help="timed runs per size before the traced one (default 2; --national 1)"
    )
    parser.add_argument(
        "--baseline",
        metavar="REV",
        default=None,
        help="also measure analysis/ of this git revision (e.g. HEAD) on the same "
        "data and check that both tables agree (rtol 1e-9)",
    )
    parser.add_argument(
        "--r-sizes",
        type=int,
        nargs="*",
        default=None,
        help="responses for the R baseline (default 5000 10000; --quick 5000; none: skip)",
    )
    parser.add_argument("--quick", action="store_true", help="100k responses only, R on 5k")
    parser.add_argument(
        "--categorical", action="store_true", help="pass id/commune/sub-dimension columns as pandas categoricals"
    )
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    n_communes = args.communes or (NATIONAL_COMMUNES if args.national else N_COMMUNES)
    runs = args.runs or (1 if args.national else 2)
    categorical = args.categorical or args.national
    if args.child is not None:
        measure_child(args.child, n_communes, categorical, runs, args.out)
        return
    if args.sizes is not None:
        sizes = args.sizes
    elif args.national:
        sizes = [NATIONAL_RESPONSES]
    else:
        sizes = [100_000] if args.quick else [100_000, 300_000, 1_000_000]
    if args.r_sizes is not None:
        r_sizes = args.r_sizes
    else:
        r_sizes = [] if args.national else ([5_000] if args.quick else [5_000, 10_000])
    _, wards, with_margins = shape(n_communes)
    print(
        f"score_communes on synthetic data: {n_communes:,} communes ({len(wards)} wards, "
        f"{n_communes - with_margins} without margins), ~{ANSWERS_PER_RESPONSE} answers per response, "
        f"{'categorical' if categorical else 'string'} id/commune/sub-dimension columns; "
        "each size measured in a fresh process"
    )
    print(
        f"{'code':>8} {'responses':>11} {'answers':>12} {'build s':>8} {'compute s':>10} "
        f"{'2nd run s':>10} {'CPU s':>6} {'peak MB':>8} {'RSS MB':>7} {'data MB':>8} {'rows':>7}"
    )
    results = {}
    with tempfile.TemporaryDirectory(prefix="analysis_speed_") as tmp:
        folder = Path(tmp)
        old_code = None
        if args.baseline:
            old_code = extract_revision(args.baseline, folder / "old")
        for size in sizes:
            tables = {}
            codes = ([(args.baseline, old_code)] if old_code else []) + [("current", None)]
            for label, code in codes:
                out = folder / f"{label}-{size}.pkl"
                r = run_child(size, n_communes, categorical, runs, out, code)
                walls = r["walls"]
                second = f"{walls[1]:>10.2f}" if len(walls) > 1 else f"{'-':>10}"
                print(
                    f"{label[:8]:>8} {size:>11,} {r['answers']:>12,} {r['built']:>8.2f} {walls[0]:>10.2f} "
                    f"{second} {r['cpu']:>6.2f} {r['peak'] / 2**20:>8.0f} {r['rss']:>7.0f} "
                    f"{r['rss_data']:>8.0f} {r['rows']:>7,}",
                    flush=True,
                )
                tables[label] = pd.read_pickle(out)
                out.unlink()
                if label == "current":
                    results[size] = walls
            if old_code is not None:
                print(
                    f"{'':>8} current vs {args.baseline}: {same_table(tables['current'], tables[args.baseline])}",
                    flush=True,
                )
            del tables
    print(
        "compute s / 2nd run s: wall time of score_communes' first and second run; CPU s: the first "
        "run's process CPU time; peak MB: tracemalloc peak of one more (traced) run, the computation's "
        "own allocations; RSS MB: the process's max RSS, synthetic data included; data MB: max RSS "
        "once the data was built"
    )
    if GOAL_SIZE in results and n_communes == N_COMMUNES:
        first = results[GOAL_SIZE][0]
        print(
            f"goal: {GOAL_SIZE:,} responses computed in under {GOAL_SECONDS:.0f} s: first run {first:.2f} s "
            f"-> {'met' if first < GOAL_SECONDS else 'NOT met'}"
        )
    if r_sizes:
        baseline(r_sizes, categorical)


if __name__ == "__main__":
    main()
