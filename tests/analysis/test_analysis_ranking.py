"""Tests for ranks and the four PAPI-style groups."""

import numpy as np
import pandas as pd
import pytest

from analysis import group_sizes, rank_and_group, rank_intervals
from analysis.ranking import RANK_DRAWS, RANK_SEED


@pytest.mark.parametrize(
    ("m", "sizes"),
    [
        (63, (16, 16, 15, 16)),  # PAPI 2020
        (99, (25, 25, 24, 25)),
        (100, (25, 25, 25, 25)),
        (5, (2, 1, 1, 1)),
        (6, (2, 1, 1, 2)),
        (3, (1, 1, 0, 1)),
        (0, (0, 0, 0, 0)),
    ],
)
def test_group_sizes(m, sizes):
    assert group_sizes(m) == sizes


@pytest.mark.parametrize("m", [4, 5, 6, 7, 63, 99])
def test_rank_and_group_matches_sizes(m):
    frame = pd.DataFrame({"code": "1", "score": [float(i) for i in range(m)]})
    out = rank_and_group(frame, by="code")
    counts = out["group"].value_counts()
    expected = dict(zip(["highest", "high-average", "low-average", "lowest"], group_sizes(m), strict=False))
    assert {g: int(counts.get(g, 0)) for g in expected} == expected
    assert out.loc[frame["score"].idxmax(), "rank"] == 1


def test_ties_share_rank_and_group():
    frame = pd.DataFrame({"code": "1", "score": [9.0, 8.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0]})
    out = rank_and_group(frame, by="code")
    assert out["rank"].tolist() == [1, 2, 2, 4, 5, 6, 7, 8]
    assert out["group"].tolist()[:3] == ["highest", "highest", "highest"]


def test_ineligible_and_missing_not_ranked():
    frame = pd.DataFrame({"code": "1", "score": [3.0, 2.0, None, 1.0], "ok": [True, False, True, True]})
    out = rank_and_group(frame, by="code", eligible="ok")
    assert out["rank"].tolist()[0] == 1 and out["rank"].tolist()[3] == 2
    assert out["rank"].isna().tolist() == [False, True, True, False]


def test_rank_intervals_reproducible_and_contain_clear_ranks():
    # Far apart relative to their SEs: each unit's interval is its own rank.
    low, high = rank_intervals([3.0, 2.0, 1.0], [0.01, 0.01, 0.01])
    assert low.tolist() == [1, 2, 3] and high.tolist() == [1, 2, 3]
    # Overlapping: intervals widen, contain the point rank, and repeat exactly.
    estimate = np.array([0.50, 0.52, 0.54, 0.9])
    se = np.array([0.05, 0.05, 0.05, 0.01])
    low, high = rank_intervals(estimate, se)
    again = rank_intervals(estimate, se)
    np.testing.assert_array_equal(low, again[0])
    np.testing.assert_array_equal(high, again[1])
    assert low[3] == high[3] == 1
    assert low[0] <= 4 <= high[0] and high[0] - low[0] >= 1
    assert low[2] == 2 and high[2] >= 3


def test_rank_intervals_reject_missing_values():
    with pytest.raises(ValueError):
        rank_intervals([1.0, np.nan], [0.1, 0.1])


def full_ranking_intervals(estimate, se, level, draws=RANK_DRAWS, seed=RANK_SEED):
    """Rank intervals the direct way: every draw ranked by a stable argsort, then np.quantile."""
    theta, sd = np.asarray(estimate, float), np.asarray(se, float)
    sample = theta + sd * np.random.default_rng(seed).standard_normal((draws, theta.size))
    order = np.argsort(-sample, axis=1, kind="stable")
    ranks = np.empty((draws, theta.size))
    np.put_along_axis(ranks, order, np.arange(1.0, theta.size + 1)[None, :].repeat(draws, 0), axis=1)
    alpha = 1 - level
    return (
        np.quantile(ranks, alpha / 2, axis=0, method="lower"),
        np.quantile(ranks, 1 - alpha / 2, axis=0, method="higher"),
    )


@pytest.mark.parametrize("m", [1, 2, 9, 250])
@pytest.mark.parametrize("level", [0.95, 0.8])
@pytest.mark.parametrize("draws", [RANK_DRAWS, 7])
def test_rank_intervals_equal_the_full_ranking_with_ties(m, level, draws):
    # rank_intervals selects two order statistics instead of sorting every unit's ranks,
    # and sorts stably only draws with a tie: same bounds, same seed, tie rule included
    # (equal estimates with SE 0 tie in every draw; the earlier unit ranks first).
    rng = np.random.default_rng(m)
    estimate, se = rng.normal(5, 1, m), rng.uniform(0.01, 0.5, m)
    if m > 2:
        estimate[: m // 3], se[: m // 3] = 4.0, 0.0
    low, high = rank_intervals(estimate, se, level=level, draws=draws)
    expected = full_ranking_intervals(estimate, se, level, draws=draws)
    np.testing.assert_array_equal(low, expected[0])
    np.testing.assert_array_equal(high, expected[1])
