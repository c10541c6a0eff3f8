"""Tests for ranks and the four PAPI-style groups."""

import pandas as pd
import pytest

from analysis import group_sizes, rank_and_group


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
    expected = dict(zip(["highest", "high-average", "low-average", "lowest"], group_sizes(m)))
    assert {g: int(counts.get(g, 0)) for g in expected} == expected
    assert out.loc[frame["score"].idxmax(), "rank"] == 1


def test_ties_share_rank_and_group():
    frame = pd.DataFrame({"code": "1", "score": [9.0, 8.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0]})
    out = rank_and_group(frame, by="code")
    assert out["rank"].tolist() == [1, 2, 2, 4, 5, 6, 7, 8]
    assert out["group"].tolist()[:3] == ["highest", "highest", "highest"]


def test_ineligible_and_missing_not_ranked():
    frame = pd.DataFrame(
        {"code": "1", "score": [3.0, 2.0, None, 1.0], "ok": [True, False, True, True]}
    )
    out = rank_and_group(frame, by="code", eligible="ok")
    assert out["rank"].tolist()[0] == 1 and out["rank"].tolist()[3] == 2
    assert out["rank"].isna().tolist() == [False, True, True, False]
