"""Tests for raking, capping and the Kish effective sample size."""

import numpy as np
import pandas as pd
import pytest

from analysis import cap_weights, kish_n_eff, rake


def two_by_two() -> pd.DataFrame:
    # Sample counts by sex x age band: n = [[2, 1], [1, 2]] (odds ratio 4).
    return pd.DataFrame(
        {
            "sex": ["female", "female", "female", "male", "male", "male"],
            "age_band": ["18-29", "18-29", "30-44", "18-29", "30-44", "30-44"],
        }
    )


MARGINS_2X2 = {"sex": {"female": 50, "male": 40}, "age_band": {"18-29": 60, "30-44": 30}}


def test_rake_two_by_two_closed_form():
    # Raking gives w_ij = a_i * b_j, so the fitted table m_ij = n_ij a_i b_j keeps the
    # sample odds ratio n11 n22 / (n12 n21) = 2*2/(1*1) = 4 while matching the margins
    # rows (50, 40) and columns (60, 30). With m11 = x: m = [[x, 50-x], [60-x, x-20]]
    # and x (x - 20) = 4 (50 - x)(60 - x)  <=>  3x^2 - 420x + 12000 = 0  <=>  x = 40
    # (the other root, 100, is outside [20, 50]). So m = [[40, 10], [20, 20]] and
    # w = m / n = [[40/2, 10/1], [20/1, 20/2]] = [[20, 10], [20, 10]].
    result = rake(two_by_two(), MARGINS_2X2)
    assert result.converged
    assert result.collapsed == ()
    np.testing.assert_allclose(result.weights, [20, 20, 10, 20, 10, 10], rtol=1e-9)


def test_rake_matches_margins_and_keeps_index():
    frame = two_by_two().set_index(pd.Index(list("abcdef")))
    weights = rake(frame, MARGINS_2X2).weights
    assert list(weights.index) == list("abcdef")
    by_sex = weights.groupby(frame["sex"]).sum()
    assert by_sex["female"] == pytest.approx(50) and by_sex["male"] == pytest.approx(40)


def test_rake_collapses_empty_category():
    # Nobody is "tay": its 50 are dropped and kinh/hmong (100/50) are rescaled to the
    # variable's total 200, i.e. 133.33/66.67, shared by 2 respondents each.
    frame = pd.DataFrame({"ethnic_group": ["kinh", "kinh", "hmong", "hmong"]})
    result = rake(frame, {"ethnic_group": {"kinh": 100, "hmong": 50, "tay": 50}})
    assert result.collapsed == ("ethnic_group",)
    np.testing.assert_allclose(result.weights, [200 / 3, 200 / 3, 100 / 3, 100 / 3])


def test_rake_with_base_weights():
    # One variable: w_i = d_i * N_c / sum_{j in c} d_j.
    frame = pd.DataFrame({"sex": ["female", "female", "male"]})
    result = rake(frame, {"sex": {"female": 30, "male": 10}}, weights=[1, 2, 5])
    np.testing.assert_allclose(result.weights, [10, 20, 10])


@pytest.mark.parametrize(
    ("frame", "margins", "message"),
    [
        (pd.DataFrame({"sex": ["female", None]}), {"sex": {"female": 1, "male": 1}}, "missing"),
        (pd.DataFrame({"sex": ["female"]}), {"age_band": {"18-29": 1}}, "no column"),
        (pd.DataFrame({"sex": ["female"]}), {"sex": {"female": 0, "male": 5}}, "margin is 0"),
        (pd.DataFrame({"sex": ["female"]}), {"sex": {"female": -1}}, "non-negative"),
        (pd.DataFrame({"sex": []}), {"sex": {"female": 1}}, "empty"),
    ],
)
def test_rake_rejects_bad_input(frame, margins, message):
    with pytest.raises(ValueError, match=message):
        rake(frame, margins)


def test_kish_n_eff():
    # (1 + 3)^2 / (1 + 9) = 16 / 10
    assert kish_n_eff([1, 3]) == pytest.approx(1.6)
    assert kish_n_eff([2.5] * 7) == pytest.approx(7)
    # The 2x2 raking weights: 90^2 / (2*400 + 100 + 400 + 2*100) = 8100 / 1500
    assert kish_n_eff([20, 20, 10, 20, 10, 10]) == pytest.approx(5.4)


@pytest.mark.parametrize("weights", [[], [0, 0], [1, -1], [1, np.nan]])
def test_kish_n_eff_rejects_bad_weights(weights):
    with pytest.raises(ValueError):
        kish_n_eff(weights)


def test_cap_weights_redistributes_and_keeps_total():
    # Total 100, mean 10, cap 50: the 91 becomes 50 and the other nine share the
    # remaining 50 (5.556 each), all below the cap.
    capped = cap_weights([1.0] * 9 + [91.0], cap=5)
    np.testing.assert_allclose(capped, [50 / 9] * 9 + [50])
    assert capped.sum() == pytest.approx(100)


def test_cap_weights_repeats_until_none_exceeds():
    rng = np.random.default_rng(4)
    weights = rng.lognormal(0, 2, 200)
    capped = cap_weights(weights, cap=3)
    assert capped.sum() == pytest.approx(weights.sum())
    assert capped.max() <= 3 * capped.mean() * (1 + 1e-9)
    # Weights below the cap keep their ratios.
    small = capped < 3 * capped.mean() * (1 - 1e-9)
    ratio = capped[small] / weights[small]
    np.testing.assert_allclose(ratio, ratio[0])


def test_cap_weights_leaves_modest_weights_alone():
    np.testing.assert_allclose(cap_weights([1, 2, 3], cap=5), [1, 2, 3])


def test_cap_below_one_is_rejected():
    with pytest.raises(ValueError, match="cap"):
        cap_weights([1, 2], cap=0.5)
