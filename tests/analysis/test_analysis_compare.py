"""Tests for period comparisons, Kruskal–Wallis across communes and the province roll-up."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import (
    COLUMNS,
    compare_periods,
    kruskal_communes,
    load_official_scores,
    rollup_province,
)


def table(rows, structure="current"):
    """Minimal score_communes-like table from dicts."""
    frame = pd.DataFrame(rows)
    for column in COLUMNS:
        if column not in frame:
            frame[column] = np.nan
    frame.attrs["structure"] = structure
    return frame[list(COLUMNS)]


def test_compare_periods_welch_by_hand():
    # change 0.3, SE = sqrt(0.3^2 + 0.4^2) = 0.5, t = 0.6,
    # Welch df = 0.25^2 / (0.3^4/9 + 0.4^4/19) = 0.0625 / (0.0009 + 0.00134737) = 27.8105
    current = table([{"commune": "00001", "level": "subdimension", "code": "6.1", "n": 10, "se": 0.3, "score": 1.5}])
    previous = table([{"commune": "00001", "level": "subdimension", "code": "6.1", "n": 20, "se": 0.4, "score": 1.2}])
    out = compare_periods(current, previous).iloc[0]
    df = 0.0625 / (0.3**4 / 9 + 0.4**4 / 19)
    assert out["change"] == pytest.approx(0.3)
    assert out["se_change"] == pytest.approx(0.5)
    assert out["statistic"] == pytest.approx(0.6)
    assert out["df"] == pytest.approx(df) and df == pytest.approx(27.8105, rel=1e-5)
    assert out["p_value"] == pytest.approx(2 * stats.t.sf(0.6, df))
    assert not out["significant"]


def test_compare_periods_dimension_uses_normal():
    current = table([{"commune": "00001", "level": "dimension", "code": "6", "se": 0.3, "score": 7.0}])
    previous = table([{"commune": "00001", "level": "dimension", "code": "6", "se": 0.4, "score": 5.5}])
    out = compare_periods(current, previous).iloc[0]
    # z = 1.5 / 0.5 = 3, two-sided normal p = 0.0026998
    assert out["statistic"] == pytest.approx(3.0)
    assert out["p_value"] == pytest.approx(0.0026997960632601866)
    assert out["significant"]


def test_compare_periods_rejects_mixed_structures():
    a = table([{"commune": "00001", "level": "dimension", "code": "5", "se": 1, "score": 5}])
    b = table([{"commune": "00001", "level": "dimension", "code": "5", "se": 1, "score": 5}], structure="2018")
    with pytest.raises(ValueError, match="different PAPI structures"):
        compare_periods(a, b)


def kruskal_inputs():
    values = {"00001": [0.1, 0.2, 0.3], "00002": [0.4, 0.5, 0.6], "00003": [0.7, 0.8, 0.9]}
    rows = [(f"{c}-{i}", c, "6.1", v) for c, vs in values.items() for i, v in enumerate(vs)]
    scores = pd.DataFrame(rows, columns=["response_id", "commune", "subdimension", "score"])
    return scores, scores[["response_id", "commune"]].copy(), values


def test_kruskal_by_hand_and_matches_scipy():
    # Ranks 1-3, 4-6, 7-9: R = 6, 15, 24, N = 9.
    # H = 12/(9*10) * (36/3 + 225/3 + 576/3) - 3*10 = (12/90)*279 - 30 = 7.2;
    # chi-square with 2 df: p = exp(-7.2/2) = 0.0273237.
    scores, respondents, values = kruskal_inputs()
    out = kruskal_communes(scores, respondents).set_index("code").loc["6.1"]
    assert out["statistic"] == pytest.approx(7.2)
    assert out["p_value"] == pytest.approx(np.exp(-3.6))
    assert out["df"] == 2 and out["n_communes"] == 3 and out["n"] == 9
    reference = stats.kruskal(*values.values())
    assert out["statistic"] == pytest.approx(reference.statistic)
    assert out["p_value"] == pytest.approx(reference.pvalue)


def test_kruskal_with_ties_matches_scipy():
    rng = np.random.default_rng(11)
    groups = {f"0000{i}": rng.integers(0, 2, 15 + i).astype(float) for i in range(1, 5)}
    rows = [(f"{c}-{j}", c, "2.1", v) for c, vs in groups.items() for j, v in enumerate(vs)]
    scores = pd.DataFrame(rows, columns=["response_id", "commune", "subdimension", "score"])
    out = kruskal_communes(scores, scores[["response_id", "commune"]]).iloc[0]
    reference = stats.kruskal(*groups.values())
    assert out["statistic"] == pytest.approx(reference.statistic)
    assert out["p_value"] == pytest.approx(reference.pvalue)


def test_kruskal_identical_values_is_nan():
    scores, respondents, _ = kruskal_inputs()
    scores["score"] = 1.0
    out = kruskal_communes(scores, respondents).iloc[0]
    assert np.isnan(out["statistic"]) and np.isnan(out["p_value"])


def test_rollup_population_weighted_by_hand():
    # p = (100*0.5 + 300*0.8)/400 = 0.725;
    # SE = sqrt(0.25^2 * 0.1^2 + 0.75^2 * 0.05^2) = sqrt(0.000625 + 0.00140625) = 0.045069
    rows = [
        {
            "commune": "00001",
            "level": "subdimension",
            "code": "6.1",
            "n": 10,
            "p": 0.5,
            "se_p": 0.1,
            "se": 0.225,
            "score": 1.375,
        },
        {
            "commune": "00002",
            "level": "subdimension",
            "code": "6.1",
            "n": 30,
            "p": 0.8,
            "se_p": 0.05,
            "se": 0.1125,
            "score": 2.05,
        },
    ]
    out = rollup_province(table(rows), population={"00001": 100, "00002": 300})
    r = out.set_index("code").loc["6.1"]
    assert r["p"] == pytest.approx(0.725)
    assert r["score"] == pytest.approx((1 + 9 * 0.725) / 4)
    assert r["se"] == pytest.approx(9 / 4 * np.sqrt(0.00203125))
    assert r["n_communes"] == 2 and r["n"] == 40
    # Weighted by n instead: (10*0.5 + 30*0.8)/40 = 0.725 as well (same 1:3 ratio).
    by_n = rollup_province(table(rows)).set_index("code").loc["6.1"]
    assert by_n["p"] == pytest.approx(0.725)
    dims = out.set_index("code")
    assert np.isnan(dims.loc["6", "score"])  # other sub-dimensions of 6 are missing
    assert dims.loc["6", "target_2019"] == 7.22 and dims.loc["total", "target_2019"] == 46.96


def test_rollup_with_official_scores(tmp_path):
    path = tmp_path / "official.csv"
    path.write_text(
        "year,code,level,score\n2018,6,dimension,7.17\n2018,6.1,subdimension,1.9\n2018,total,aggregate,44.37\n"
    )
    official = load_official_scores(path)
    rows = [
        {
            "commune": "00001",
            "level": "subdimension",
            "code": "6.1",
            "n": 10,
            "p": 0.5,
            "se_p": 0.1,
            "se": 0.225,
            "score": 1.375,
        }
    ]
    out = rollup_province(table(rows), official=official).set_index("code")
    assert out.loc["6.1", "official"] == 1.9 and out.loc["total", "official"] == 44.37
    assert out.attrs["official_year"] == 2018


def test_rollup_missing_population_rejected():
    rows = [
        {
            "commune": "00001",
            "level": "subdimension",
            "code": "6.1",
            "n": 10,
            "p": 0.5,
            "se_p": 0.1,
            "se": 0.225,
            "score": 1.375,
        }
    ]
    with pytest.raises(ValueError, match="population is missing"):
        rollup_province(table(rows), population={"00002": 5})
