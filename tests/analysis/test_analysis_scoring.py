"""Tests for score_communes: estimates, weights, flags, shrinkage, ranks and groups."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import COLUMNS, FLAGS, design_weights, respondent_values, score_communes

COMMUNE = "02647"
Z_975 = 1.959963984540054


def kg_bounds(p, n_eff):
    """Clopper–Pearson bounds at an effective sample size (Korn & Graubard 1998)."""
    low = 0.0 if p == 0 else stats.beta.ppf(0.025, n_eff * p, n_eff * (1 - p) + 1)
    high = 1.0 if p == 1 else stats.beta.ppf(0.975, n_eff * p + 1, n_eff * (1 - p))
    return low, high


def flags_of(r):
    return r["flags"].split(";") if r["flags"] else []


def make_inputs(rows, commune=COMMUNE, subdimension="6.1"):
    """rows: (response_id, item scores, sex, age_band, ethnic_group)."""
    scores = pd.DataFrame(
        [(rid, commune, subdimension, float(s)) for rid, items, *_ in rows for s in items],
        columns=["response_id", "commune", "subdimension", "score"],
    )
    respondents = pd.DataFrame(
        [(rid, commune, *attrs) for rid, _, *attrs in rows],
        columns=["response_id", "commune", "sex", "age_band", "ethnic_group"],
    )
    return scores, respondents


def row(table, code, commune=COMMUNE):
    found = table[(table["commune"] == commune) & (table["code"] == code)]
    assert len(found) == 1
    return found.iloc[0]


def margins_for(commune, **variables):
    return pd.DataFrame(
        [
            (commune, variable, category, population)
            for variable, cats in variables.items()
            for category, population in cats.items()
        ],
        columns=["commune", "variable", "category", "population"],
    )


def test_columns_and_levels():
    scores, respondents = make_inputs([("a", [1], "male", "18-29", "kinh")])
    table = score_communes(scores, respondents)
    assert tuple(table.columns) == COLUMNS
    # 28 sub-dimensions + 8 dimensions + 1 aggregate in the current structure.
    assert table["level"].value_counts().to_dict() == {
        "subdimension": 28,
        "dimension": 8,
        "aggregate": 1,
    }
    assert table.attrs["structure"] == "current"


def test_unweighted_estimate_by_hand():
    # Respondent values: six 1s, three 0s and one respondent with items (1, 0) -> 0.5.
    # p = 6.5/10 = 0.65; sum (y - p)^2 = 6*0.35^2 + 3*0.65^2 + 0.15^2 = 2.025;
    # SE^2 = n/(n-1) * sum((y - p)/n)^2 = 10/9 * 2.025/100 = 0.0225, SE = 0.15.
    # k = 4 for 6.1: score = (1 + 9 * 0.65)/4 = 1.7125, SE on the PAPI scale 0.3375.
    # Korn–Graubard: n* = p(1 - p)/SE^2 = 0.2275/0.0225.
    rows = [(f"r{i}", [1], "male", "18-29", "kinh") for i in range(6)]
    rows += [(f"z{i}", [0], "male", "18-29", "kinh") for i in range(3)]
    rows += [("half", [1, 0], "female", "60+", "dao")]
    scores, respondents = make_inputs(rows)
    r = row(score_communes(scores, respondents), "6.1")
    assert r["n"] == 10 and r["n_eff"] == pytest.approx(10)
    assert r["p"] == pytest.approx(0.65)
    assert r["se_p"] == pytest.approx(0.15)
    assert r["score"] == pytest.approx(1.7125)
    assert r["se"] == pytest.approx(0.3375)
    low, high = kg_bounds(0.65, 0.2275 / 0.0225)
    assert r["ci_low"] == pytest.approx((1 + 9 * low) / 4)
    assert r["ci_high"] == pytest.approx((1 + 9 * high) / 4)
    # NCHS: n* = 10.1 capped at n = 10 < 30; width 0.30 or more; df = 9 >= 8.
    assert high - low >= 0.30
    assert r["flags"] == "unweighted;unreliable:n_eff;unreliable:width"


def test_weighted_estimate_by_hand():
    # The 2x2 raking example with every respondent doubled: cell counts
    # n = [[4, 2], [2, 4]] keep odds ratio 4, so the fitted table is still
    # m = [[40, 10], [20, 20]] (closed form in test_analysis_weights) and
    # w = m / n = [[10, 5], [10, 5]]. y by cell: (1, 0) x 2, 1 x 2, 0 x 2, (1, 1) x 2.
    # sum w = 90, sum w y = 2*10 + 2*5 + 0 + 4*5 = 50 -> p = 5/9.
    # Terms w (y - p)/90 in 81ths: 4 (x2), -5 (x2), 2 (x2), -5 (x2), 2 (x4):
    # n_eff = 8100 / (4*100 + 2*25 + 2*100 + 4*25) = 10.8. The SE uses the calibration
    # residuals, held against R's survey in test_analysis_against_r; here: it is below
    # the SE with the weights held fixed, sqrt(12/11 * 156/6561) (Σ w(y-p)/90 in 81ths:
    # 4 (x2), -5 (x2), 2 (x2), -5 (x2), 2 (x4)), because y depends on age.
    rows = []
    for copy in range(2):
        rows += [
            (f"a{copy}", [1], "female", "18-29", "kinh"),
            (f"b{copy}", [0], "female", "18-29", "kinh"),
            (f"c{copy}", [1], "female", "30-44", "kinh"),
            (f"d{copy}", [0], "male", "18-29", "kinh"),
            (f"e{copy}", [1], "male", "30-44", "kinh"),
            (f"f{copy}", [1, 1], "male", "30-44", "kinh"),
        ]
    scores, respondents = make_inputs(rows)
    margins = margins_for(COMMUNE, sex={"female": 50, "male": 40}, age_band={"18-29": 60, "30-44": 30})
    r = row(score_communes(scores, respondents, margins=margins), "6.1")
    assert r["n"] == 12
    assert r["p"] == pytest.approx(5 / 9)
    assert 0 < r["se_p"] < np.sqrt(12 / 11 * 156 / 6561)
    assert r["n_eff"] == pytest.approx(10.8)
    low, high = kg_bounds(5 / 9, (5 / 9) * (4 / 9) / r["se_p"] ** 2)
    assert r["ci_low"] == pytest.approx((1 + 9 * low) / 4)
    assert r["ci_high"] == pytest.approx((1 + 9 * high) / 4)
    assert "unweighted" not in flags_of(r) and "trimmed" not in flags_of(r)


def test_one_respondent():
    scores, respondents = make_inputs([("a", [1, 0, 1, 1], "male", "18-29", "kinh")])
    r = row(score_communes(scores, respondents), "6.1")
    assert r["n"] == 1 and r["p"] == pytest.approx(0.75)
    assert np.isnan(r["se"]) and np.isnan(r["ci_low"]) and np.isnan(r["ci_high"])
    # No interval: every NCHS rule fails.
    assert r["flags"] == "one_respondent;unweighted;unreliable:n_eff;unreliable:width;unreliable:df"
    # One commune: no small-area model, so no EB score and no rank.
    assert np.isnan(r["score_eb"]) and pd.isna(r["rank"]) and pd.isna(r["group"])


def test_subdimension_nobody_answered():
    scores, respondents = make_inputs([("a", [1], "male", "18-29", "kinh")])
    table = score_communes(scores, respondents)
    r = row(table, "6.2")
    assert r["n"] == 0 and r["n_eff"] == 0 and np.isnan(r["p"]) and np.isnan(r["score"])
    assert "empty" in r["flags"].split(";")
    dim = row(table, "6")
    assert np.isnan(dim["score"]) and "incomplete" in dim["flags"].split(";")
    assert "empty" in row(table, "7")["flags"].split(";")
    assert np.isnan(row(table, "total")["score"])


def test_constant_answers_get_an_interval_from_kish_n_eff():
    # Four answers of 1: SE 0, where R's svyciprop gives NaN. The beta interval with
    # n* = Kish n_eff = 4: lower bound qbeta(0.025, 4, 1) = 0.025^(1/4) = 0.3976.
    scores, respondents = make_inputs([(f"r{i}", [1], "male", "18-29", "kinh") for i in range(4)])
    r = row(score_communes(scores, respondents), "6.1")
    assert r["p"] == 1.0 and r["se"] == 0.0
    assert r["ci_low"] == pytest.approx((1 + 9 * 0.025**0.25) / 4)
    assert r["ci_high"] == pytest.approx(2.5)
    # All alike at 0.5 (five-point items): p(1-p)/0 is infinite in R (zero width).
    scores, respondents = make_inputs([(f"r{i}", [0.5], "male", "18-29", "kinh") for i in range(4)])
    r = row(score_communes(scores, respondents), "6.1")
    low, high = kg_bounds(0.5, 4)
    assert r["ci_low"] == pytest.approx((1 + 9 * low) / 4) and r["ci_high"] > r["ci_low"]


def test_commune_without_margins_is_unweighted():
    scores_a, resp_a = make_inputs([("a", [1], "female", "18-29", "kinh")], commune="00001")
    scores_b, resp_b = make_inputs([("b", [1], "male", "18-29", "kinh")], commune="00002")
    scores = pd.concat([scores_a, scores_b], ignore_index=True)
    respondents = pd.concat([resp_a, resp_b], ignore_index=True)
    margins = margins_for("00001", sex={"female": 10, "male": 10})
    table = score_communes(scores, respondents, margins=margins)
    assert "unweighted" in flags_of(row(table, "6.1", "00002"))
    # 00001 has margins; its only respondent is female: fewer than 5 of either sex.
    assert flags_of(row(table, "6.1", "00001"))[:2] == ["one_respondent", "not_raked:sex"]


def test_margin_category_without_respondents_is_merged():
    # min_cell = 1: tay (50) has no respondents, so it is pooled and, being still under
    # min_cell, joins the largest category (kinh, first of the tie 2 = 2): kinh+tay 150
    # and hmong 50, so each kinh weighs 75 and each hmong 25: p = 150 / 200 = 0.75.
    rows = [
        ("a", [1], "male", "18-29", "kinh"),
        ("b", [1], "male", "18-29", "kinh"),
        ("c", [0], "male", "18-29", "hmong"),
        ("d", [0], "male", "18-29", "hmong"),
    ]
    scores, respondents = make_inputs(rows)
    margins = margins_for(COMMUNE, ethnic_group={"kinh": 100, "hmong": 50, "tay": 50})
    r = row(score_communes(scores, respondents, margins=margins, min_cell=1), "6.1")
    assert r["p"] == pytest.approx(0.75)
    assert "collapsed:ethnic_group" in flags_of(r)
    # With the default min_cell = 5 every group is sparse: one group, not raked.
    r = row(score_communes(scores, respondents, margins=margins), "6.1")
    assert r["p"] == pytest.approx(0.5) and "not_raked:ethnic_group" in flags_of(r)


def test_missing_raking_variable_gets_modal_category():
    # Sex: female, female, male, missing -> missing becomes female (modal). Margins
    # female 60 / male 40: three females weigh 20 each, the male 40.
    # p = (20*1 + 20*0 + 40*0 + 20*1) / 100 = 0.4 (without imputation it would differ).
    rows = [
        ("a", [1], "female", "18-29", "kinh"),
        ("b", [0], "female", "18-29", "kinh"),
        ("c", [0], "male", "18-29", "kinh"),
        ("d", [1], None, "18-29", "kinh"),
    ]
    scores, respondents = make_inputs(rows)
    margins = margins_for(COMMUNE, sex={"female": 60, "male": 40})
    r = row(score_communes(scores, respondents, margins=margins, min_cell=1), "6.1")
    assert r["p"] == pytest.approx(0.4)


def test_missing_raking_variable_tie_takes_first_category():
    # female 1, male 1, missing 1: tie -> "female" (first in survey order). Females
    # (2) weigh 30 each and the male 40: p = (30*1 + 40*0 + 30*0) / 100 = 0.3; were
    # the missing one male, p would be (60*1 + 20*0 + 20*0)/100 = 0.6.
    rows = [
        ("a", [1], "female", "18-29", "kinh"),
        ("b", [0], "male", "18-29", "kinh"),
        ("c", [0], None, "18-29", "kinh"),
    ]
    scores, respondents = make_inputs(rows)
    margins = margins_for(COMMUNE, sex={"female": 60, "male": 40})
    r = row(score_communes(scores, respondents, margins=margins, min_cell=1), "6.1")
    assert r["p"] == pytest.approx(0.3)


def test_trimming_applied():
    # One female against margins female 90 / male 10 with nine males: raked weights
    # 90 and 10/9; mean 10, bound 50 -> female 50 and the 40 trimmed shared equally,
    # each male 10/9 + 40/9 = 50/9. Then
    # p = 50 * 1 / 100 = 0.5 (raked and uncapped it would be 0.9).
    rows = [("f", [1], "female", "18-29", "kinh")]
    rows += [(f"m{i}", [0], "male", "18-29", "kinh") for i in range(9)]
    scores, respondents = make_inputs(rows)
    margins = margins_for(COMMUNE, sex={"female": 90, "male": 10})
    r = row(score_communes(scores, respondents, margins=margins, min_cell=1), "6.1")
    assert r["p"] == pytest.approx(0.5)
    # n_eff = 100^2 / (50^2 + 9 * (50/9)^2) = 10000 / 2777.8 = 3.6
    assert r["n_eff"] == pytest.approx(10000 / (2500 + 2500 / 9))
    assert "trimmed" in flags_of(r)
    r_free = row(score_communes(scores, respondents, margins=margins, min_cell=1, cap=100), "6.1")
    assert r_free["p"] == pytest.approx(0.9)


def test_several_items_are_averaged_per_respondent():
    scores, respondents = make_inputs([("a", [1, 0, 0, 0], "male", "18-29", "kinh")])
    values = respondent_values(scores, respondents)
    assert values["value"].tolist() == [0.25]


def test_dimension_and_aggregate_sum_parts():
    # Every respondent answers every sub-dimension with 1: each sub-dimension scores
    # 10/k, each dimension 10 and the aggregate 80.
    from analysis import STRUCTURES

    subs = STRUCTURES["current"].subdimensions
    scores = pd.DataFrame(
        [(f"r{i}", COMMUNE, s, 1.0) for i in range(3) for s in subs],
        columns=["response_id", "commune", "subdimension", "score"],
    )
    respondents = pd.DataFrame({"response_id": [f"r{i}" for i in range(3)], "commune": COMMUNE})
    table = score_communes(scores, respondents)
    assert row(table, "5")["score"] == pytest.approx(10)
    assert row(table, "5.1")["score"] == pytest.approx(10 / 3)
    assert row(table, "total")["score"] == pytest.approx(80)
    # Every part has SE 0 (all alike); in the sums each counts with the SE of a normal
    # interval as wide as its Korn–Graubard interval on Kish n_eff = 3, so no dimension
    # or aggregate interval has zero width.
    low = 0.025 ** (1 / 3)
    part = 9 * (1 - low) / (2 * Z_975) / 4
    assert row(table, "6")["se"] == pytest.approx(np.sqrt(4) * part)
    assert row(table, "total")["ci_low"] < 80 - 1
    t2018 = score_communes(scores, respondents, structure="2018")
    assert row(t2018, "8.1")["score"] == pytest.approx(5)  # k = 2 in 2018
    assert "8.3" not in set(t2018["code"])


def test_dimension_se_is_root_sum_of_squares():
    rng = np.random.default_rng(1)
    subs = ["6.1", "6.2", "6.3", "6.4"]
    scores = pd.DataFrame(
        [(f"r{i}", COMMUNE, s, float(rng.random() < 0.6)) for i in range(40) for s in subs],
        columns=["response_id", "commune", "subdimension", "score"],
    )
    respondents = pd.DataFrame({"response_id": [f"r{i}" for i in range(40)], "commune": COMMUNE})
    table = score_communes(scores, respondents)
    parts = table[table["code"].isin(subs)]
    dim = row(table, "6")
    assert dim["score"] == pytest.approx(parts["score"].sum())
    assert dim["se"] == pytest.approx(np.sqrt(np.square(parts["se"]).sum()))
    assert dim["ci_low"] == pytest.approx(dim["score"] - Z_975 * dim["se"])


def many_communes(n_communes, n_per=1, seed=0):
    rng = np.random.default_rng(seed)
    codes = [f"{i:05d}" for i in range(1, n_communes + 1)]
    truth = np.linspace(0.05, 0.95, n_communes)
    rows = [
        (f"{c}-{j}", c, "6.1", float(np.clip(truth[i] + rng.uniform(-0.05, 0.05), 0, 1)))
        for i, c in enumerate(codes)
        for j in range(n_per)
    ]
    scores = pd.DataFrame(rows, columns=["response_id", "commune", "subdimension", "score"])
    respondents = scores[["response_id", "commune"]].copy()
    return scores, respondents, codes


def test_groups_of_99_communes():
    scores, respondents, codes = many_communes(99, n_per=3)
    table = score_communes(scores, respondents)
    sub = table[table["code"] == "6.1"]
    assert sub["group"].value_counts().to_dict() == {
        "highest": 25,
        "high-average": 25,
        "low-average": 24,
        "lowest": 25,
    }
    best = sub.loc[sub["rank"] == 1, "commune"].item()
    assert best in codes[-5:]  # among the highest true values
    assert sub.loc[sub["commune"] == codes[0], "rank"].item() == 99
    assert sub.loc[sub["commune"] == codes[-1], "group"].item() == "highest"


def test_every_commune_with_data_is_ranked_with_an_interval():
    # Unreliable and one-respondent communes are ranked on their EB scores too.
    s1, r1 = make_inputs([(f"a{i}", [1], "male", "18-29", "kinh") for i in range(5)], "00001")
    s2, r2 = make_inputs([(f"b{i}", [i % 2], "male", "18-29", "kinh") for i in range(5)], "00002")
    s3, r3 = make_inputs([("c0", [0], "male", "18-29", "kinh")], "00003")
    s4, r4 = make_inputs([(f"d{i}", [i % 3 > 0], "male", "18-29", "kinh") for i in range(9)], "00004")
    scores = pd.concat([s1, s2, s3, s4], ignore_index=True)
    respondents = pd.concat([r1, r2, r3, r4], ignore_index=True)
    table = score_communes(scores, respondents, communes=["00009"])
    sub = table[table["code"] == "6.1"].set_index("commune")
    ranked = sub.drop(index="00009")
    assert ranked["rank"].notna().all() and ranked["group"].notna().all()
    assert (ranked["rank_low"] <= ranked["rank"]).all() and (ranked["rank"] <= ranked["rank_high"]).all()
    assert ranked.loc["00001", "rank"] == 1  # five 1s beat the others
    assert "one_respondent" in sub.loc["00003", "flags"].split(";")
    assert pd.isna(sub.loc["00009", "rank"]) and np.isnan(sub.loc["00009", "score_eb"])


def test_sub_dimension_without_answers_gets_synthetic_estimate():
    # Every sub-dimension of dimension 6 is answered somewhere, but commune 00003 never
    # answered 6.2: its 6.2 is the model's synthetic estimate, and its dimension 6
    # exists, flagged with how many parts are synthetic.
    rng = np.random.default_rng(2)
    subs = ["6.1", "6.2", "6.3", "6.4"]
    rows = []
    for c, commune in enumerate(["00001", "00002", "00003", "00004"]):
        for i in range(8):
            for s in subs:
                if not (commune == "00003" and s == "6.2"):
                    rows.append((f"{commune}-{i}", commune, s, float(rng.random() < 0.3 + 0.15 * c)))
    scores = pd.DataFrame(rows, columns=["response_id", "commune", "subdimension", "score"])
    respondents = scores[["response_id", "commune"]].drop_duplicates()
    table = score_communes(scores, respondents)
    r = row(table, "6.2", "00003")
    assert r["n"] == 0 and np.isnan(r["score"]) and np.isfinite(r["score_eb"])
    assert flags_of(r) == ["empty", "synthetic"]
    dim = row(table, "6", "00003")
    assert np.isnan(dim["score"]) and np.isfinite(dim["score_eb"])
    assert "incomplete" in flags_of(dim) and "synthetic:1/4" in flags_of(dim)
    # The synthetic MSE is A + g2: larger than any direct commune's g1 + g2 + 2 g3 here.
    other = table[(table["code"] == "6.2") & (table["commune"] != "00003")]
    assert r["mse_eb"] > other["mse_eb"].max()
    dims = table[(table["code"] == "6")]
    assert dims["rank"].notna().all() and (dims["ci_high_eb"] > dims["ci_low_eb"]).all()
    assert dim["se_eb"] == pytest.approx(
        np.sqrt(np.square(table[(table["commune"] == "00003") & table["code"].isin(subs)]["se_eb"]).sum())
    )


def test_flags_come_from_the_documented_codes():
    scores, respondents, _ = many_communes(12, n_per=8, seed=5)
    table = score_communes(scores, respondents, communes=["09999"])
    codes = {f.split(":")[0] for text in table["flags"] for f in text.split(";") if f}
    assert codes <= set(FLAGS)


def test_ward_indicator_enters_the_model():
    # Wards score higher than communes. Without the ward indicator the wards' EB
    # estimates are pulled down toward the province mean; with it, toward the ward mean.
    rng = np.random.default_rng(4)
    rows = []
    codes = [f"{i:05d}" for i in range(1, 13)]
    for c, commune in enumerate(codes):
        base = 0.85 if c < 6 else 0.35
        for i in range(6):
            rows.append((f"{commune}-{i}", commune, "6.1", float(np.clip(base + rng.normal(0, 0.15), 0, 1))))
    scores = pd.DataFrame(rows, columns=["response_id", "commune", "subdimension", "score"])
    respondents = scores[["response_id", "commune"]].drop_duplicates()
    plain = score_communes(scores, respondents)
    with_wards = score_communes(scores, respondents, wards=codes[:6])
    ward = lambda t: t[(t["code"] == "6.1") & t["commune"].isin(codes[:6])]  # noqa: E731
    pull = lambda t: (ward(t)["p_eb"] - ward(t)["p"]).mean()  # noqa: E731
    assert pull(plain) < 0
    assert abs(pull(with_wards)) < abs(pull(plain)) / 10


def test_empirical_bayes_shrinks_toward_mean():
    scores, respondents, _ = many_communes(20, n_per=12, seed=3)
    table = score_communes(scores, respondents)
    sub = table[table["code"] == "6.1"]
    mean = sub["p"].mean()
    # Equal n, so equal smoothed variances: the GLS mean is the simple mean, and each
    # p_eb lies between its direct estimate and that mean.
    lo = np.minimum(sub["p"], mean) - 1e-12
    hi = np.maximum(sub["p"], mean) + 1e-12
    assert ((sub["p_eb"] >= lo) & (sub["p_eb"] <= hi)).all()
    assert sub["p_eb"].var() < sub["p"].var()
    np.testing.assert_allclose(sub["score_eb"], (1 + 9 * sub["p_eb"]) / 4)


def test_flagged_responses_are_excluded_and_counted():
    rows = [(f"r{i}", [1], "male", "18-29", "kinh") for i in range(3)]
    rows += [("bad", [0], "male", "18-29", "kinh")]
    scores, respondents = make_inputs(rows)
    respondents["flagged"] = respondents["response_id"] == "bad"
    table = score_communes(scores, respondents, excluded=2)
    assert row(table, "6.1")["n"] == 3 and row(table, "6.1")["p"] == 1.0
    assert table.attrs["excluded"] == 3  # 2 left out by the caller + 1 flagged
    kept = score_communes(scores, respondents, include_flagged=True)
    assert row(kept, "6.1")["n"] == 4 and kept.attrs["excluded"] == 0


def test_extra_commune_without_respondents():
    scores, respondents = make_inputs([("a", [1], "male", "18-29", "kinh")])
    table = score_communes(scores, respondents, communes=["09999"])
    empty = table[table["commune"] == "09999"]
    assert len(empty) == 37 and empty["score"].isna().all()


def test_other_structure_codes_are_ignored():
    scores, respondents = make_inputs([("a", [1], "male", "18-29", "kinh")], subdimension="5.2")
    table = score_communes(scores, respondents)
    assert "5.2" not in set(table["code"])
    assert row(score_communes(scores, respondents, structure="2018"), "5.2")["n"] == 1


def bad_case(kind):
    scores, respondents = make_inputs([("a", [1], "male", "18-29", "kinh")])
    margins = None
    if kind == "unknown response":
        scores.loc[0, "response_id"] = "zzz"
    elif kind == "score range":
        scores.loc[0, "score"] = 2.0
    elif kind == "sub code":
        scores.loc[0, "subdimension"] = "9.9"
    elif kind == "duplicate id":
        respondents = pd.concat([respondents, respondents], ignore_index=True)
    elif kind == "commune code":
        respondents.loc[0, "commune"] = "123"
    elif kind == "category":
        respondents.loc[0, "sex"] = "unknown"
    elif kind == "missing column":
        scores = scores.drop(columns="score")
    elif kind == "margin variable":
        margins = margins_for(COMMUNE, religion={"none": 1})
    elif kind == "zero margin":
        scores, respondents = make_inputs(
            [(f"m{i}", [1], "male", "18-29", "kinh") for i in range(5)]
            + [(f"f{i}", [1], "female", "18-29", "kinh") for i in range(5)]
        )
        margins = margins_for(COMMUNE, sex={"female": 10, "male": 0})
    return scores, respondents, margins


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("unknown response", "missing from respondents"),
        ("score range", r"\[0, 1\]"),
        ("sub code", "not PAPI sub-dimensions"),
        ("duplicate id", "must be unique"),
        ("commune code", "5-digit"),
        ("category", "respondents.sex"),
        ("missing column", "lacks column"),
        ("margin variable", "margins.variable"),
        ("zero margin", "population margin is 0"),
        ("ward code", "5-digit"),
    ],
)
def test_bad_input_raises_value_error(kind, message):
    scores, respondents, margins = bad_case(kind)
    options = {"wards": ["12"]} if kind == "ward code" else {}
    with pytest.raises(ValueError, match=message):
        score_communes(scores, respondents, margins=margins, **options)


@pytest.mark.parametrize(
    "options",
    [{"structure": "2030"}, {"min_n_eff": -1}, {"cap": 0.5}, {"confidence": 1.5}, {"min_cell": 0}],
)
def test_bad_options_raise_value_error(options):
    scores, respondents, _ = bad_case("none")
    with pytest.raises(ValueError):
        score_communes(scores, respondents, **options)


def test_categorical_input_gives_same_result():
    scores, respondents, _ = many_communes(12, n_per=8, seed=5)
    plain = score_communes(scores, respondents)
    cat = scores.astype({"response_id": "category", "subdimension": "category"})
    pd.testing.assert_frame_equal(plain, score_communes(cat, respondents))


def test_raking_that_does_not_converge_drops_the_last_variable():
    # Cells female/18-29, female/30-44, male/18-29 against margins of 1 each: IPF only
    # approaches its limit (a weight of 0) and does not converge in 100 sweeps, so age
    # band is dropped and the commune is raked on sex alone: weights 1/2, 1/2, 1.
    rows = [
        ("a", [1], "female", "18-29", "kinh"),
        ("b", [0], "female", "30-44", "kinh"),
        ("c", [0], "male", "18-29", "kinh"),
    ]
    scores, respondents = make_inputs(rows)
    margins = margins_for(COMMUNE, sex={"female": 1, "male": 1}, age_band={"18-29": 1, "30-44": 1})
    r = row(score_communes(scores, respondents, margins=margins, min_cell=1), "6.1")
    assert "not_raked:age_band" in flags_of(r) and "not_raked:sex" not in flags_of(r)
    assert r["p"] == pytest.approx(0.25)
    weights = design_weights(scores, respondents, margins=margins, min_cell=1)
    np.testing.assert_allclose(weights.set_index("response_id")["weight"].loc[["a", "b", "c"]], [0.5, 0.5, 1])


def test_rake_that_cycles_without_meeting_a_margin_drops_a_variable():
    # Found by the coverage simulation: 28 respondents whose categories cannot meet the
    # commune's margins. R's stopping rule reports success while a margin is missed by
    # 35% and some weights are 1e-10; after trimming R's SE is 3.9e9. A rake that misses
    # a margin is not converged: ethnic group is dropped and the estimate is sane.
    sex, age, eth = "mmmfmmfffmmfmmmffffmmffffffm", "2122232213122324112132242221", "tthtgnhkntdnktknkknnthhtnkgk"
    y = "1101110110011001001000110110"
    code = {
        "m": "male",
        "f": "female",
        "1": "18-29",
        "2": "30-44",
        "3": "45-59",
        "4": "60+",
        "k": "kinh",
        "h": "hmong",
        "t": "tay",
        "d": "dao",
        "g": "giay",
        "n": "nung",
    }
    rows = [(f"r{i:02d}", [float(y[i])], code[sex[i]], code[age[i]], code[eth[i]]) for i in range(28)]
    scores, respondents = make_inputs(rows, subdimension="1.1")
    margins = margins_for(
        COMMUNE,
        sex={"female": 6667, "male": 6633},
        age_band={"18-29": 3662, "30-44": 4084, "45-59": 3427, "60+": 2127},
        ethnic_group={
            "kinh": 2284,
            "hmong": 5115,
            "tay": 1685,
            "dao": 1007,
            "giay": 444,
            "nung": 1931,
            "thai": 437,
            "other": 397,
        },
    )
    r = row(score_communes(scores, respondents, margins=margins), "1.1")
    assert "not_raked:ethnic_group" in flags_of(r)
    assert r["se_p"] < 0.2 and r["ci_high"] - r["ci_low"] < 1.0


def short_period(seed=9, n_communes=30):
    """A week of answers: most communes have 0-2 respondents per sub-dimension."""
    rng = np.random.default_rng(seed)
    subs = ["3.1", "3.2", "3.3"]
    rows = []
    for c in range(n_communes):
        commune = f"{c + 1:05d}"
        level = rng.uniform(0.2, 0.9)
        for i in range(int(rng.integers(1, 5))):
            for s in subs:
                if rng.random() < 0.5:
                    rows.append((f"{commune}-{i}", commune, s, float(rng.random() < level)))
    scores = pd.DataFrame(rows, columns=["response_id", "commune", "subdimension", "score"])
    return scores, scores[["response_id", "commune"]].drop_duplicates()


def test_one_respondent_parts_make_sums_uncertain_not_exact():
    # Found by a tester: a dimension made of one-respondent parts had a zero-width
    # interval. Such a part counts in sums with variance 0.25 and its flag carries up.
    scores, respondents = short_period()
    table = score_communes(scores, respondents)
    single = table[(table["level"] == "subdimension") & (table["n"] == 1)]
    assert len(single) > 5 and single["se_p"].isna().all()
    dims = table[(table["level"] == "dimension") & table["score"].notna()]
    assert ((dims["ci_high"] - dims["ci_low"]) > 0).all()
    assert (dims["ci_high_eb"] - dims["ci_low_eb"] > 0).all()
    with_single = dims[dims["commune"].isin(single["commune"])]
    assert with_single["flags"].str.contains("one_respondent").all()


def test_rank_intervals_contain_the_rank_and_synthetic_rows_are_not_ranked():
    # Found by a tester: in short periods ranks fell outside their intervals, and the
    # communes with no answer for a code tied in bulk at one rank and filled a group.
    scores, respondents = short_period()
    table = score_communes(scores, respondents)
    ranked = table[table["rank"].notna()]
    assert ((ranked["rank_low"] <= ranked["rank"]) & (ranked["rank"] <= ranked["rank_high"])).all()
    synthetic = table[table["flags"].str.split(";").apply(lambda f: "synthetic" in f)]
    assert len(synthetic) > 0 and synthetic["rank"].isna().all() and synthetic["group"].isna().all()
    sub = table[table["code"] == "3.1"]
    assert sub["rank"].notna().sum() == (sub["n"] > 0).sum()


def test_small_area_model_when_the_few_larger_communes_answered_alike():
    # Found by a tester: in a week the only communes with two answers for a code had
    # answered alike, the pooled within-commune variance was 0 and no EB was made. Then
    # the spread of all answers in the province stands in for it.
    rows = [
        ("a1", "00001", "1.2", 1.0),
        ("a2", "00001", "1.2", 1.0),
        ("b1", "00002", "1.2", 0.0),
        ("c1", "00003", "1.2", 1.0),
        ("d1", "00004", "1.2", 0.0),
        ("e1", "00005", "1.2", 1.0),
    ]
    scores = pd.DataFrame(rows, columns=["response_id", "commune", "subdimension", "score"])
    respondents = scores[["response_id", "commune"]]
    table = score_communes(scores, respondents)
    sub = table[table["code"] == "1.2"]
    assert sub["p_eb"].notna().all() and sub["rank"].notna().all()
    # n-weighted variance of the six answers: mean 4/6, variance 2/9.
    assert table.attrs["sigma2"]["1.2"] == pytest.approx(2 / 9)


def test_answer_order_does_not_change_the_table():
    # Answers grouped by respondent take a run-length path to respondent values, others a
    # bincount over all respondents; the domain sums work one sub-dimension at a time.
    # Shuffled answers, the array API of estimate_domains and the blocks must all agree.
    from analysis._inputs import prepare, subvalue_blocks
    from analysis.domains import estimate_domain_blocks, estimate_domains
    from analysis.scoring import _designs
    from analysis.structures import get_structure

    rng = np.random.default_rng(13)
    n, codes = 600, ["00011", "00012", "00013", "00014"]
    subs = ["1.1", "2.2", "6.1", "6.3", "8.2"]
    respondents = pd.DataFrame(
        {
            "response_id": [f"r{i:04d}" for i in range(n)],
            "commune": rng.choice(codes, n),
            "sex": rng.choice(["female", "male"], n),
            "age_band": rng.choice(["18-29", "30-44", "45-59", "60+"], n),
            "ethnic_group": rng.choice(["kinh", "hmong", "tay"], n, p=[0.6, 0.3, 0.1]),
        }
    )
    per = 4
    scores = pd.DataFrame(
        {
            "response_id": np.repeat(respondents["response_id"].to_numpy(), per),
            "subdimension": rng.choice(subs, n * per),
            "score": rng.choice([0.0, 0.25, 0.5, 0.75, 1.0, np.nan], n * per),
        }
    )
    margins = pd.concat(
        [
            margins_for(
                c,
                sex={"female": 500, "male": 480},
                age_band={"18-29": 300, "30-44": 280, "45-59": 250, "60+": 150},
                ethnic_group={"kinh": 600, "hmong": 300, "tay": 80},
            )
            for c in codes[:3]
        ]
    )
    grouped = score_communes(scores, respondents, margins=margins)
    shuffled = scores.sample(frac=1.0, random_state=4).reset_index(drop=True)
    pd.testing.assert_frame_equal(grouped, score_communes(shuffled, respondents, margins=margins), check_exact=True)

    prepared = prepare(shuffled, respondents, structure=get_structure("current"))
    designs = _designs(prepared, margins, min_cell=5, cap=5.0)
    blocks = estimate_domain_blocks(designs, subvalue_blocks(prepared), n_subdimensions=28)
    values = respondent_values(shuffled, respondents)
    sub_index = pd.Index(get_structure("current").subdimensions)
    order = rng.permutation(len(values))
    rows = estimate_domains(
        designs,
        pd.Index(respondents["response_id"]).get_indexer(values["response_id"].astype(str))[order],
        sub_index.get_indexer(values["subdimension"].astype(str))[order],
        values["value"].to_numpy()[order],
        n_subdimensions=28,
    )
    for name in ("n", "n_eff", "p", "variance", "within"):
        np.testing.assert_allclose(getattr(rows, name), getattr(blocks, name), rtol=1e-12, equal_nan=True)
