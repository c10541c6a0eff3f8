"""``analysis/`` held against R's ``survey`` and ``metafor`` on random data (the oracle).

Weights, p, SE and Korn–Graubard intervals must agree with R's ``survey`` to 1e-8, and the
Fay–Herriot fit (A, β, EB, g1 + g2) with ``metafor`` to 1e-6. The random provinces cover:
communes of one respondent and of hundreds, constant answers, missing raking variables,
sparse and empty categories (merged), communes without margins, sub-dimensions nobody in a
commune answered, and a province where every commune is small. R is installed by
``make r``; these tests skip without it locally and fail without it in CI.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import design_weights, fay_herriot, get_structure, score_communes
from analysis._inputs import CATEGORIES, RAKING_VARIABLES
from tests.analysis.r_reference import metafor_reference, require_r, survey_reference

pytestmark = pytest.mark.r

SUBS = ("1.1", "2.2", "6.1", "6.2", "6.3", "7.3")
WEIGHT_FLAGS = ("collapsed:", "not_raked:", "trimmed", "unweighted")


@pytest.fixture(autouse=True)
def _r():
    require_r()


def random_province(seed: int, sizes: list[int], *, constant: bool = True) -> tuple:
    """Respondents, scores and margins of a province with communes of the given sizes."""
    rng = np.random.default_rng(seed)
    respondents, scores, margins = [], [], []
    mix = {
        "sex": [0.45, 0.55],
        "age_band": [0.4, 0.3, 0.2, 0.1],
        "ethnic_group": [0.45, 0.2, 0.12, 0.1, 0.05, 0.04, 0.03, 0.01],
    }
    for c, size in enumerate(sizes):
        commune = f"{10000 + c:05d}"
        effect = rng.normal(0, 0.8)
        all_alike = constant and c % 6 == 2  # a constant-answer commune now and then
        people = []
        for i in range(size):
            rid = f"{commune}-{i:04d}"
            person = {
                v: None if rng.random() < 0.07 else str(rng.choice(CATEGORIES[v], p=mix[v])) for v in RAKING_VARIABLES
            }
            people.append(person)
            respondents.append((rid, commune, *person.values()))
            lean = effect + 0.6 * (person["sex"] == "male") - 0.5 * (person["ethnic_group"] == "hmong")
            for s in SUBS:
                if (c % 4 == 1 and s == "2.2") or rng.random() > 0.6:
                    continue  # nobody in every fourth commune answers 2.2
                if all_alike:
                    value = 1.0
                elif s in ("6.1", "6.2"):  # five-point items
                    value = float(np.round(4 / (1 + np.exp(-lean - rng.normal(0, 1)))) / 4)
                else:
                    value = float(rng.random() < 1 / (1 + np.exp(-lean)))
                scores.append((rid, s, value))
        # Every fifth commune has no margins; every seventh lacks age bands. Categories
        # without respondents sometimes have population 0 (listed or not).
        if c % 5 == 4:
            continue
        for v in RAKING_VARIABLES:
            if c % 7 == 3 and v == "age_band":
                continue
            present = {p[v] for p in people}
            for category in CATEGORIES[v]:
                population = float(rng.integers(20, 600))
                if category not in present and rng.random() < 0.3:
                    population = 0.0
                if population > 0 or rng.random() < 0.5:
                    margins.append((commune, v, category, population))
    return (
        pd.DataFrame(respondents, columns=["response_id", "commune", *RAKING_VARIABLES]),
        pd.DataFrame(scores, columns=["response_id", "subdimension", "score"]),
        pd.DataFrame(margins, columns=["commune", "variable", "category", "population"]),
    )


def compare_province(respondents, scores, margins, *, min_cell=5):
    """Run ours and R's on one province and hold them together."""
    values = scores.rename(columns={"score": "value"})
    in_design = respondents[respondents["response_id"].isin(values["response_id"])]
    r_weights, r_est = survey_reference(in_design, values, margins, min_cell=min_cell)
    failed = set(r_weights.loc[r_weights["r_error"] != "", "commune"])

    ours = design_weights(scores, respondents, margins=margins, min_cell=min_cell)
    merged = ours.merge(r_weights, on=["response_id", "commune"], suffixes=("", "_r"))
    assert len(merged) == len(ours) == len(r_weights)
    ok = ~merged["commune"].isin(failed)
    np.testing.assert_allclose(merged.loc[ok, "weight"], merged.loc[ok, "weight_r"], rtol=1e-8, atol=0)

    table = score_communes(scores, respondents, margins=margins, min_cell=min_cell)
    st = get_structure("current")
    sub = table[(table["level"] == "subdimension") & (table["n"] > 0)].copy()
    k = sub["code"].map(lambda s: st.k(st.dimension_of(s))).astype(float)
    sub["ci_low_p"] = (sub["ci_low"] * k - 1) / 9
    sub["ci_high_p"] = (sub["ci_high"] * k - 1) / 9
    both = sub.merge(r_est, left_on=["commune", "code"], right_on=["commune", "subdimension"], suffixes=("", "_r"))
    assert len(both) == len(sub) == len(r_est)
    both = both[~both["commune"].isin(failed)]
    np.testing.assert_array_equal(both["n"].astype(int), both["n_r"])
    np.testing.assert_allclose(both["p"], both["p_r"], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(both["n_eff"], both["n_eff_r"], rtol=1e-8)
    # One respondent in a domain: R's SE is 0 (the estimating function vanishes); ours is
    # missing on purpose (one answer says nothing about the spread).
    assert both.loc[both["n"] == 1, "se_p"].isna().all()
    has_se = both["se_r"].notna() & (both["n"] >= 2)
    np.testing.assert_allclose(both.loc[has_se, "se_p"], both.loc[has_se, "se_r"], rtol=1e-8, atol=1e-12)
    # R's interval where it has a variance; where all answers are alike R gives NaN or a
    # zero-width interval, and ours must be the Kish-n_eff rule instead: never zero width.
    regular = both["ci_low_r"].notna() & (both["se_r"] > 1e-9)
    np.testing.assert_allclose(both.loc[regular, "ci_low_p"], both.loc[regular, "ci_low_r"], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(both.loc[regular, "ci_high_p"], both.loc[regular, "ci_high_r"], rtol=1e-8, atol=1e-12)
    several = both["n"] >= 2
    assert (both.loc[several, "ci_high"] > both.loc[several, "ci_low"]).all()

    # The commune's weighting flags are R's.
    r_flags = r_weights.drop_duplicates("commune").set_index("commune")["flags"]
    for commune, group in sub.groupby("commune"):
        flags = {f for f in group["flags"].iloc[0].split(";") if f.startswith(WEIGHT_FLAGS)}
        expected = {f for f in r_flags[commune].split(";") if f}
        assert flags == expected, commune
    return table, both, failed


def test_survey_on_a_mixed_province():
    sizes = [1, 2, 3, 5, 8, 12, 20, 35, 60, 90, 150, 240, 4, 17, 44, 7, 300, 25, 9, 70]
    respondents, scores, margins = random_province(11, sizes)
    table, both, failed = compare_province(respondents, scores, margins)
    assert len(both) > 60 and len(failed) <= 2
    flags = ";".join(table["flags"])
    for expected in ("collapsed:", "not_raked:", "trimmed", "unweighted", "one_respondent", "synthetic"):
        assert expected in flags


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_survey_on_provinces_of_small_communes(seed):
    rng = np.random.default_rng(100 + seed)
    sizes = list(rng.integers(2, 30, 25))
    respondents, scores, margins = random_province(seed, sizes)
    compare_province(respondents, scores, margins)


def test_survey_with_another_min_cell():
    respondents, scores, margins = random_province(5, [40, 80, 15, 120, 33, 9])
    compare_province(respondents, scores, margins, min_cell=2)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_fay_herriot_matches_metafor(seed):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(8, 60))
    psi = rng.uniform(0.001, 0.06, m)
    ward = (rng.random(m) < 0.3).astype(float)
    ward[:2], ward[2:4] = 1.0, 0.0
    theta = 0.6 + 0.1 * ward + rng.normal(0, rng.choice([0.01, 0.05, 0.12]), m) + rng.normal(0, np.sqrt(psi))
    for x_mods in (None, ward):
        x = np.ones((m, 1)) if x_mods is None else np.column_stack([np.ones(m), x_mods])
        ours = fay_herriot(theta, psi, x)
        ref = metafor_reference(theta, psi, x_mods)
        assert ours.between_variance == pytest.approx(ref["tau2"], abs=1e-6)
        np.testing.assert_allclose(ours.beta, ref["beta"], atol=1e-6)
        np.testing.assert_allclose(ours.estimate, ref["pred"], atol=1e-6)
        np.testing.assert_allclose(np.sqrt(ours.g1 + ours.g2), ref["se"], atol=1e-6)


def test_score_communes_small_area_matches_metafor():
    # The EB column of score_communes is metafor's BLUP on the direct estimates and the
    # smoothed variances psi = sigma2 / n_eff, with the ward indicator as moderator.
    rng = np.random.default_rng(8)
    sizes = list(rng.integers(3, 120, 24))
    respondents, scores, margins = random_province(8, sizes, constant=False)
    communes = sorted(respondents["commune"].unique())
    wards = communes[::3]
    table = score_communes(scores, respondents, margins=margins, wards=wards)
    for code in ("6.1", "7.3"):
        sub = table[(table["code"] == code) & (table["n"] > 0)]
        psi = table.attrs["sigma2"][code] / sub["n_eff"].to_numpy()
        ward = sub["commune"].isin(wards).to_numpy(dtype=float)
        ref = metafor_reference(sub["p"].to_numpy(), psi, ward)
        assert table.attrs["between_variance"][code] == pytest.approx(ref["tau2"], abs=1e-6)
        np.testing.assert_allclose(sub["p_eb"], ref["pred"], atol=1e-6)
