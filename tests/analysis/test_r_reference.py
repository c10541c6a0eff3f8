"""The R oracle itself (tests/analysis/r_reference.py): small cases checked by hand, so that
the comparisons of ``analysis/`` against it rest on a harness that is known to work.

All the crafted communes go through ONE ``survey_reference`` call (R starts in about a
second); each test reads its own commune from it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tests.analysis import r_reference
from tests.analysis.r_reference import RError, metafor_reference, require_r, survey_reference


@pytest.fixture(autouse=True)
def _r_when_marked(request):
    """Tests marked ``r`` skip without R locally and fail without it under CI."""
    if request.node.get_closest_marker("r"):
        require_r()


# ---------------------------------------------------------------------------------------
# Crafted communes


class Builder:
    def __init__(self):
        self.respondents: list[dict] = []
        self.values: list[dict] = []
        self.margins: list[dict] = []

    def people(self, commune: str, count: int, sex=None, age_band=None, ethnic_group=None) -> list[str]:
        ids = []
        for _ in range(count):
            rid = f"{commune}-{len([r for r in self.respondents if r['commune'] == commune]) + 1:03d}"
            self.respondents.append(
                {"response_id": rid, "commune": commune, "sex": sex, "age_band": age_band, "ethnic_group": ethnic_group}
            )
            ids.append(rid)
        return ids

    def margin(self, commune: str, variable: str, **populations: float) -> None:
        for category, population in populations.items():
            self.margins.append(
                {"commune": commune, "variable": variable, "category": category, "population": float(population)}
            )

    def value(self, rid: str, subdimension: str, value: float) -> None:
        self.values.append({"response_id": rid, "subdimension": subdimension, "value": value})

    def frames(self):
        return (pd.DataFrame(self.respondents), pd.DataFrame(self.values), pd.DataFrame(self.margins))


AGE = r_reference.CATEGORIES["age_band"]
UNWEIGHTED_VALUES = [1.0, 0.0, 1.0, 1.0, 0.5]  # five of six respondents; the sixth lacks 6.1
RAKED_VALUES = [1.0, 0.0, 0.25, 1.0, 0.0, 0.5]  # per (sex, age) cell, see 10002


def _age_margin(b: Builder, commune: str, pops: list[float]) -> None:
    for category, population in zip(AGE, pops, strict=False):
        b.margins.append(
            {"commune": commune, "variable": "age_band", "category": category, "population": float(population)}
        )


def crafted() -> Builder:
    b = Builder()
    # 10001: no margins at all; domain of five for 6.1, of one for 6.2
    ids = b.people("10001", 6, sex="female")
    for rid, v in zip(ids, UNWEIGHTED_VALUES, strict=False):
        b.value(rid, "6.1", v)
    b.value(ids[2], "6.2", 0.75)
    # 10002: 2 x 2 raking with a closed form; counts [[10, 5], [5, 10]]
    cells = [("female", "18-29", 10), ("female", "30-44", 5), ("male", "18-29", 5), ("male", "30-44", 10)]
    for k, (sex, age, count) in enumerate(cells):
        for j, rid in enumerate(b.people("10002", count, sex=sex, age_band=age)):
            if j < 4:  # a domain of 16 in 6.1
                b.value(rid, "6.1", RAKED_VALUES[(k + j) % len(RAKED_VALUES)])
    b.margin("10002", "sex", female=50, male=40)
    _age_margin(b, "10002", [60, 30, 0, 0])
    # 10003: age counts 3, 10, 2, 9
    for age, count in zip(AGE, [3, 10, 2, 9], strict=False):
        b.people("10003", count, age_band=age)
    _age_margin(b, "10003", [30, 100, 20, 130])
    # 10004: ethnic kinh 20, hmong 8, tay 3, dao 2: tay + dao (5) stand as one category
    for eth, count in [("kinh", 20), ("hmong", 8), ("tay", 3), ("dao", 2)]:
        b.people("10004", count, ethnic_group=eth)
    b.margin("10004", "ethnic_group", kinh=500, hmong=200, tay=50, dao=30)
    # 10005: ethnic kinh 20, hmong 8, tay 3: tay (3) joins kinh
    for eth, count in [("kinh", 20), ("hmong", 8), ("tay", 3)]:
        b.people("10005", count, ethnic_group=eth)
    b.margin("10005", "ethnic_group", kinh=500, hmong=200, tay=50)
    # 10006: ethnic kinh 20, hmong 10, margins for those two only: empty categories merge silently
    for eth, count in [("kinh", 20), ("hmong", 10)]:
        b.people("10006", count, ethnic_group=eth)
    b.margin("10006", "ethnic_group", kinh=700, hmong=300)
    # 10007: ethnic kinh 30, hmong 2: one category left
    b.people("10007", 30, ethnic_group="kinh")
    b.people("10007", 2, ethnic_group="hmong")
    b.margin("10007", "ethnic_group", kinh=900, hmong=100)
    # 10008: 4 women and 20 men: sex not raked; ethnic all NA but no ethnic margins: no flag
    b.people("10008", 2, sex="female", age_band="18-29")
    b.people("10008", 2, sex="female", age_band="30-44")
    b.people("10008", 10, sex="male", age_band="18-29")
    b.people("10008", 10, sex="male", age_band="30-44")
    b.margin("10008", "sex", female=75, male=75)
    _age_margin(b, "10008", [100, 50, 0, 0])
    # 10009: 7 women, 6 men, 2 NA: the NAs become women
    b.people("10009", 7, sex="female")
    b.people("10009", 6, sex="male")
    b.people("10009", 2)
    b.margin("10009", "sex", female=60, male=40)
    # 10010: 6 women, 6 men, 1 NA: a tie goes to the first category (female)
    b.people("10010", 6, sex="female")
    b.people("10010", 6, sex="male")
    b.people("10010", 1)
    b.margin("10010", "sex", female=60, male=40)
    # 10011: nobody answered age_band, which has margins
    b.people("10011", 6, sex="female")
    b.people("10011", 6, sex="male")
    b.margin("10011", "sex", female=60, male=40)
    _age_margin(b, "10011", [25, 25, 25, 25])
    # 10012: an age band with no respondents but population 50 merges: flagged
    for age, count in zip(AGE, [10, 10, 10, 0], strict=False):
        b.people("10012", count, age_band=age)
    _age_margin(b, "10012", [100, 100, 100, 50])
    # 10013: no men aged 18-29, and margins that leave no women aged 30-44 either: the
    # fit lies on the boundary, where raking converges like 1/k, too slowly for 1e-10
    b.people("10013", 10, sex="female", age_band="18-29")
    b.people("10013", 10, sex="female", age_band="30-44")
    b.people("10013", 10, sex="male", age_band="30-44")
    b.margin("10013", "sex", female=50, male=50)
    _age_margin(b, "10013", [50, 50, 0, 0])
    # 10014: 5 women of weight 200, 50 men of weight 2: cap 5 x mean 20 = 100
    b.people("10014", 5, sex="female")
    b.people("10014", 50, sex="male")
    b.margin("10014", "sex", female=1000, male=100)
    # 10015: trimWeights(strict = TRUE) recurses until R runs out of C stack (exact stopping test)
    for age, count in zip(AGE, [12, 7, 9, 12], strict=False):
        b.people("10015", count, age_band=age)
    _age_margin(b, "10015", [5, 400, 4, 16])
    b.value("10015-001", "6.1", 0.5)
    # 10016: one respondent
    rid = b.people("10016", 1, sex="male", age_band="60+", ethnic_group="tay")[0]
    b.margin("10016", "sex", female=10, male=10)
    b.value(rid, "6.1", 0.8)
    return b


@pytest.fixture(scope="module")
def reference():
    require_r()
    respondents, values, margins = crafted().frames()
    weights, estimates = survey_reference(respondents, values, margins)
    return respondents, weights, estimates


def commune(reference, code: str):
    respondents, weights, estimates = reference
    w = weights[weights["commune"] == code].merge(respondents, on=["response_id", "commune"])
    return w, estimates[estimates["commune"] == code].set_index("subdimension")


def flags(w: pd.DataFrame) -> str:
    assert w["flags"].nunique() == 1
    return w["flags"].iloc[0]


def cell_sums(w: pd.DataFrame, var: str) -> dict[str, float]:
    return w.groupby(f"{var}_cell")["weight"].sum().to_dict()


# ---------------------------------------------------------------------------------------
# Shape of the output


@pytest.mark.r
def test_output_columns_and_types(reference):
    respondents, weights, estimates = reference
    assert list(weights.columns) == [
        "response_id",
        "commune",
        "weight",
        "raked_weight",
        "sex_cell",
        "age_band_cell",
        "ethnic_group_cell",
        "flags",
        "r_error",
    ]
    assert list(estimates.columns) == [
        "commune",
        "subdimension",
        "n",
        "n_eff",
        "p",
        "se",
        "ci_low",
        "ci_high",
        "r_error",
    ]
    assert sorted(weights["response_id"]) == sorted(respondents["response_id"])
    assert weights["commune"].str.fullmatch(r"\d{5}").all()
    assert weights["weight"].dtype == float and estimates["n"].dtype == int
    assert (weights.loc[weights["commune"] != "10015", "r_error"] == "").all()


# ---------------------------------------------------------------------------------------
# Estimates by hand


@pytest.mark.r
def test_unweighted_domain_mean_se_and_beta_interval_are_the_textbook_ones(reference):
    w, est = commune(reference, "10001")
    assert flags(w) == "unweighted"
    assert (w["weight"] == 1).all()
    # Domain estimation under simple random sampling of the commune's N = 6: the domain's
    # residuals, zeros elsewhere, var = N / (N - 1) * sum((y - p)^2) / n^2. (svymean's
    # na.rm subsets this uncalibrated design to the domain's rows but keeps the count of
    # 6 PSUs in the stratum, hence N and not n.)
    y = np.array(UNWEIGHTED_VALUES)
    n, big_n = len(y), 6
    p = y.mean()
    var = big_n / (big_n - 1) * ((y - p) ** 2).sum() / n**2
    row = est.loc["6.1"]
    assert row["n"] == n and row["n_eff"] == pytest.approx(n, rel=1e-12)
    assert row["p"] == pytest.approx(p, rel=1e-12)
    assert row["se"] == pytest.approx(np.sqrt(var), rel=1e-10)
    n_eff = p * (1 - p) / var  # times (qt(., nrow - 1) / qt(., degf))^2, both 5 - 1 here
    assert row["ci_low"] == pytest.approx(stats.beta.ppf(0.025, n_eff * p, n_eff * (1 - p) + 1), rel=1e-8)
    assert row["ci_high"] == pytest.approx(stats.beta.ppf(0.975, n_eff * p + 1, n_eff * (1 - p)), rel=1e-8)
    # a domain of one respondent: variance 0 (R's beta interval there is whatever qbeta
    # makes of an infinite n.eff; not checked)
    one = est.loc["6.2"]
    assert one["n"] == 1 and one["p"] == 0.75 and one["se"] == 0


@pytest.mark.r
def test_two_by_two_raking_converges_to_the_closed_form(reference):
    # Raking keeps the sample odds ratio (10*10)/(5*5) = 4 and meets the margins: with
    # m11 = x the fitted table is [[x, 50-x], [60-x, x-20]] and x(x-20) = 4(50-x)(60-x),
    # i.e. 3x^2 - 420x + 12000 = 0, x = 40: m = [[40, 10], [20, 20]], w = m / n.
    w, _ = commune(reference, "10002")
    assert flags(w) == ""  # the empty age bands 45-59 and 60+ merge without a trace
    expected = {("female", "18-29"): 4.0, ("female", "30-44"): 2.0, ("male", "18-29"): 4.0, ("male", "30-44"): 2.0}
    got = w.apply(lambda r: expected[(r["sex"], r["age_band"])], axis=1)
    np.testing.assert_allclose(w["weight"], got, rtol=1e-9)
    assert set(w["age_band_cell"]) == {"18-29", "30-44"} and set(w["sex_cell"]) == {"female", "male"}
    assert w["ethnic_group_cell"].isna().all()


@pytest.mark.r
def test_raked_domain_estimate_is_the_weighted_mean_and_n_eff_is_kish(reference):
    respondents, weights, estimates = reference
    _, values, _ = crafted().frames()
    w, est = commune(reference, "10002")
    dom = w.merge(values[values["subdimension"] == "6.1"], on="response_id")
    row = est.loc["6.1"]
    assert row["n"] == len(dom) == 16
    assert row["p"] == pytest.approx(np.average(dom["value"], weights=dom["weight"]), rel=1e-12)
    assert row["n_eff"] == pytest.approx(dom["weight"].sum() ** 2 / (dom["weight"] ** 2).sum(), rel=1e-12)
    assert 0 < row["se"] < 0.5
    assert row["ci_low"] < row["p"] < row["ci_high"]


@pytest.mark.r
def test_single_respondent_commune_has_no_variance(reference):
    w, est = commune(reference, "10016")
    assert flags(w) == "not_raked:sex" and w["weight"].tolist() == [1.0]
    row = est.loc["6.1"]
    assert row["n"] == 1 and row["p"] == 0.8 and row["n_eff"] == 1
    assert np.isnan(row["se"]) and np.isnan(row["ci_low"]) and np.isnan(row["ci_high"])


# ---------------------------------------------------------------------------------------
# Collapse rules, imputation, flags


@pytest.mark.r
def test_age_counts_3_10_2_9_merge_45_59_into_60_plus_then_18_29_into_30_44(reference):
    # 45-59 (2) is the smallest: its neighbours have 10 and 9, it joins 60+ (11). Then
    # 18-29 (3) joins its only neighbour 30-44 (13). 13 and 11 are >= 5: done.
    w, _ = commune(reference, "10003")
    assert flags(w) == "collapsed:age_band"
    assert dict(zip(w["age_band"], w["age_band_cell"], strict=False)) == {
        "18-29": "18-29+30-44",
        "30-44": "18-29+30-44",
        "45-59": "45-59+60+",
        "60+": "45-59+60+",
    }
    sums = cell_sums(w, "age_band")
    assert sums == pytest.approx({"18-29+30-44": 130.0, "45-59+60+": 150.0}, rel=1e-12)


@pytest.mark.r
def test_ethnic_categories_under_min_cell_form_one_group(reference):
    w, _ = commune(reference, "10004")  # tay 3 + dao 2 = 5: a category of its own
    assert flags(w) == "collapsed:ethnic_group"
    assert set(w["ethnic_group_cell"]) == {"kinh", "hmong", "tay+dao"}
    assert cell_sums(w, "ethnic_group") == pytest.approx({"kinh": 500, "hmong": 200, "tay+dao": 80}, rel=1e-12)


@pytest.mark.r
def test_ethnic_group_under_min_cell_joins_the_largest(reference):
    w, _ = commune(reference, "10005")  # tay (3) alone is under 5: it joins kinh
    assert flags(w) == "collapsed:ethnic_group"
    assert cell_sums(w, "ethnic_group") == pytest.approx({"kinh+tay": 550, "hmong": 200}, rel=1e-12)


@pytest.mark.r
def test_empty_categories_merge_without_a_flag(reference):
    w, _ = commune(reference, "10006")
    assert flags(w) == ""
    assert cell_sums(w, "ethnic_group") == pytest.approx({"kinh": 700, "hmong": 300}, rel=1e-12)


@pytest.mark.r
def test_variable_left_with_one_category_is_not_raked(reference):
    # Merged into one group: the flag says it is not raked on (not that it was merged).
    w, _ = commune(reference, "10007")
    assert flags(w) == "not_raked:ethnic_group"
    assert (w["weight"] == 1).all() and w["ethnic_group_cell"].isna().all()


@pytest.mark.r
def test_sparse_sex_is_not_raked_and_a_variable_without_margins_is_silently_unused(reference):
    w, _ = commune(reference, "10008")  # ethnic_group: all NA, but no margins either
    assert flags(w) == "not_raked:sex"
    assert w["sex_cell"].isna().all()
    assert cell_sums(w, "age_band") == pytest.approx({"18-29": 100, "30-44": 50}, rel=1e-12)


@pytest.mark.r
def test_missing_answers_take_the_modal_category_first_on_a_tie(reference):
    w, _ = commune(reference, "10009")  # 7 women, 6 men, 2 NA -> 9 women of 60
    assert flags(w) == ""
    assert w.loc[w["sex"].isna(), "sex_cell"].tolist() == ["female", "female"]
    assert w.loc[w["sex_cell"] == "female", "weight"].tolist() == pytest.approx([60 / 9] * 9, rel=1e-12)
    w, _ = commune(reference, "10010")  # 6 and 6: the tie goes to female
    assert w.loc[w["sex"].isna(), "sex_cell"].tolist() == ["female"]


@pytest.mark.r
def test_variable_nobody_answered_is_not_raked(reference):
    w, _ = commune(reference, "10011")
    assert flags(w) == "not_raked:age_band"
    assert cell_sums(w, "sex") == pytest.approx({"female": 60, "male": 40}, rel=1e-12)


@pytest.mark.r
def test_empty_category_with_population_is_flagged_when_merged(reference):
    w, _ = commune(reference, "10012")  # 60+ has no respondents but 50 people: joins 45-59
    assert flags(w) == "collapsed:age_band"
    assert cell_sums(w, "age_band") == pytest.approx({"18-29": 100, "30-44": 100, "45-59+60+": 150}, rel=1e-12)


@pytest.mark.r
def test_raking_that_does_not_converge_drops_the_last_variable(reference):
    w, _ = commune(reference, "10013")
    assert flags(w) == "not_raked:age_band"
    assert w["age_band_cell"].isna().all()
    np.testing.assert_allclose(w["weight"], np.where(w["sex"] == "female", 2.5, 5.0), rtol=1e-12)


@pytest.mark.r
def test_trimming_redistributes_the_excess_equally(reference):
    # Raked: women 1000/5 = 200, men 100/50 = 2; mean 20, bound 100. The 5 x 100 trimmed
    # go to the 50 men equally: 2 + 10 = 12, and no weight is above 100 any more.
    w, _ = commune(reference, "10014")
    assert flags(w) == "trimmed"
    women = w["sex"] == "female"
    np.testing.assert_allclose(w.loc[women, "raked_weight"], 200, rtol=1e-12)
    np.testing.assert_allclose(w.loc[women, "weight"], 100, rtol=1e-12)
    np.testing.assert_allclose(w.loc[~women, "weight"], 12, rtol=1e-12)


@pytest.mark.r
def test_endless_trimming_is_reported_per_commune_not_raised(reference):
    # R 4.2 / survey 4.1: trimWeights(strict = TRUE) recurses here until R stops.
    w, est = commune(reference, "10015")
    assert "stack" in w["r_error"].iloc[0] or "nested too deeply" in w["r_error"].iloc[0]
    assert flags(w) == "trimmed"
    assert w["weight"].isna().all() and w["raked_weight"].notna().all()
    row = est.loc["6.1"]
    assert row["n"] == 1 and row["r_error"] == w["r_error"].iloc[0] and np.isnan(row["p"])


# ---------------------------------------------------------------------------------------
# metafor


@pytest.mark.r
def test_metafor_equal_variances_have_the_closed_form():
    # With equal vi = v, REML gives tau2 = max(0, s^2 - v) (s^2 with k - 1), beta = mean,
    # var(beta) = (tau2 + v) / k and BLUP = beta + tau2 / (tau2 + v) (y - beta).
    yi, v = np.array([0.1, 0.5, 0.9]), 0.01
    out = metafor_reference(yi, np.full(3, v))
    tau2 = yi.var(ddof=1) - v
    assert np.isfinite(out["tau2"]) and out["tau2"] >= 0
    assert out["tau2"] == pytest.approx(tau2, rel=1e-8)
    np.testing.assert_allclose(out["beta"], [0.5], rtol=1e-10)
    np.testing.assert_allclose(out["vb"], [[(tau2 + v) / 3]], rtol=1e-8)
    np.testing.assert_allclose(out["pred"], 0.5 + tau2 / (tau2 + v) * (yi - 0.5), rtol=1e-8)
    assert out["pred"].shape == out["se"].shape == (3,) and (out["se"] > 0).all()


@pytest.mark.r
def test_metafor_with_moderators_and_a_zero_variance_area():
    yi = np.array([0.2, 0.35, 0.5, 0.4, 0.8, 0.6])
    vi = np.array([0.0, 0.01, 0.02, 0.01, 0.03, 0.02])
    X = pd.DataFrame({"urban": [0, 0, 1, 0, 1, 1]})
    out = metafor_reference(yi, vi, X)
    assert np.isfinite(out["tau2"]) and out["tau2"] >= 0
    assert out["beta"].shape == (2,) and out["vb"].shape == (2, 2)
    assert np.allclose(out["vb"], out["vb"].T) and (np.diag(out["vb"]) > 0).all()
    assert out["pred"][0] == pytest.approx(0.2, abs=1e-12) and out["se"][0] == pytest.approx(0, abs=1e-12)
    assert any("non-positive sampling variances" in w for w in out["warnings"])


@pytest.mark.r
def test_metafor_error_is_raised_with_r_message():
    with pytest.raises(RError, match="Division by zero"):
        metafor_reference([0.1, 0.2], [0.01, -0.01])


# ---------------------------------------------------------------------------------------
# The skip/fail rule and input checks (no R needed)


def test_without_r_tests_skip_locally_and_fail_under_ci(monkeypatch):
    monkeypatch.setattr(r_reference, "r_missing", lambda: "Rscript is not installed")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        require_r()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="cannot be skipped in CI"):
        require_r()
    with pytest.raises(pytest.fail.Exception):
        survey_reference(*crafted().frames())


def test_bad_inputs_are_refused_before_r_runs():
    respondents, values, margins = crafted().frames()
    with pytest.raises(ValueError, match="unknown categories"):
        survey_reference(respondents.assign(sex="other"), values, margins)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        survey_reference(respondents, values.assign(value=2.0), margins)
    with pytest.raises(ValueError, match="min_cell"):
        survey_reference(respondents, values, margins, min_cell=0)
