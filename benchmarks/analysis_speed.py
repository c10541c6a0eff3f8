"""Time score_communes on synthetic data: 100k, 300k and 1M responses over 99 communes."""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis import STRUCTURES, score_communes  # noqa: E402
from analysis._inputs import CATEGORIES  # noqa: E402

N_COMMUNES = 99
ANSWERS_PER_RESPONSE = 10


def synthetic(n_responses: int, *, seed: int = 2019, categorical: bool = False):
    """Respondents, scored answers (~10 per response) and margins for 99 communes."""
    rng = np.random.default_rng(seed)
    communes = np.array([f"{10000 + 37 * i:05d}" for i in range(N_COMMUNES)])
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--categorical", action="store_true",
                        help="pass id/commune/sub-dimension columns as pandas categoricals")
    args = parser.parse_args()
    print(f"{'responses':>10} {'answers':>11} {'build s':>8} {'compute s':>10} "
          f"{'2nd run s':>10} {'peak MB':>8} {'rows':>6}")
    for size in args.sizes:
        start = time.perf_counter()
        scores, respondents, margins = synthetic(size, categorical=args.categorical)
        built = time.perf_counter() - start
        start = time.perf_counter()
        table = score_communes(scores, respondents, margins=margins)
        elapsed = time.perf_counter() - start
        start = time.perf_counter()
        score_communes(scores, respondents, margins=margins)
        again = time.perf_counter() - start
        # A third, traced run measures the computation's own peak allocation
        # (numpy reports its buffers to tracemalloc); tracing slows it, so untimed.
        tracemalloc.start()
        score_communes(scores, respondents, margins=margins)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"{size:>10,} {len(scores):>11,} {built:>8.2f} {elapsed:>10.2f} {again:>10.2f} "
              f"{peak / 2**20:>8.0f} {len(table):>6}", flush=True)
        del scores, respondents, margins, table
    # ru_maxrss is in KiB on Linux: the process peak, including the synthetic data.
    print(f"process max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
