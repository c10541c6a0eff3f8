"""Tests for raking, trimming and the Kish effective sample size."""

import numpy as np
import pandas as pd
import pytest

from analysis import kish_n_eff, rake, trim_weights


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
    np.testing.assert_allclose(result.weights, [20, 20, 10, 20, 10, 10], rtol=1e-9)


def test_rake_matches_margins_and_keeps_index():
    frame = two_by_two().set_index(pd.Index(list("abcdef")))
    weights = rake(frame, MARGINS_2X2).weights
    assert list(weights.index) == list("abcdef")
    by_sex = weights.groupby(frame["sex"]).sum()
    assert by_sex["female"] == pytest.approx(50) and by_sex["male"] == pytest.approx(40)


def test_rake_stops_by_the_joint_table_rule():
    # One variable: the second sweep changes nothing, so R stops after 2 sweeps.
    frame = pd.DataFrame({"sex": ["female", "male", "male"]})
    result = rake(frame, {"sex": {"female": 10, "male": 10}})
    assert result.converged and result.iterations == 2
    # Cells female/18-29, female/30-44, male/18-29 with all margins 1: the fit needs
    # the female/18-29 weight to reach 0, which IPF approaches like 1/k — after 100
    # sweeps the joint table still moves by more than 1e-10 x 3: not converged.
    frame = pd.DataFrame({"sex": ["female", "female", "male"], "age_band": ["18-29", "30-44", "18-29"]})
    margins = {"sex": {"female": 1, "male": 1}, "age_band": {"18-29": 1, "30-44": 1}}
    result = rake(frame, margins)
    assert not result.converged and result.iterations == 100
    assert result.weights.iloc[0] < 0.02
    # No male 18-29 respondent, yet 18-29 has 90 of 100 people and women only 10: the
    # sweeps cycle between the same two tables, so R's rule stops after a few sweeps —
    # with the sex margin missed by 80. Not converged.
    frame = pd.DataFrame({"sex": ["female", "female", "male"], "age_band": ["18-29", "30-44", "30-44"]})
    margins = {"sex": {"female": 10, "male": 90}, "age_band": {"18-29": 90, "30-44": 10}}
    result = rake(frame, margins)
    assert not result.converged and result.iterations < 100


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
        (pd.DataFrame({"sex": ["female"]}), {"sex": {"female": 0, "male": 5}}, "positive population"),
        (pd.DataFrame({"sex": ["female"]}), {"sex": {"female": 5, "male": 5}}, "merge sparse"),
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


def test_trim_weights_shares_the_excess_equally():
    # Total 100, bound 50: the 91 becomes 50 and the other nine get 41/9 more each.
    trimmed = trim_weights([1.0] * 9 + [91.0], upper=50)
    np.testing.assert_allclose(trimmed, [1 + 41 / 9] * 9 + [50])


def test_trim_weights_repeats_until_none_exceeds():
    # 1, 4.9, 10 with bound 5.5: round 1 trims 10 -> 5.5 and adds 2.25 to the others
    # (4.9 -> 7.15 > 5.5); each later round trims the excess again and shares it with
    # every weight not above the bound, the earlier trimmed ones included (R's strict
    # trimWeights). The end: no weight above 5.5, the total 15.9 kept.
    rng = np.random.default_rng(4)
    for weights, upper in [([1, 4.9, 10], 5.5), (rng.lognormal(0, 2, 200), None)]:
        weights = np.asarray(weights, dtype=float)
        upper = upper or 3 * weights.mean()
        trimmed = trim_weights(weights, upper=upper)
        assert trimmed.sum() == pytest.approx(weights.sum())
        assert trimmed.max() <= upper * (1 + 1e-12)
        # Untrimmed weights all moved by the same additive amount (not proportionally).
        kept = trimmed < upper * (1 - 1e-9)
        shift = trimmed[kept] - weights[kept]
        np.testing.assert_allclose(shift, shift[0])
        assert shift[0] > 0


def test_trim_weights_leaves_modest_weights_alone():
    np.testing.assert_allclose(trim_weights([1, 2, 3], upper=10), [1, 2, 3])


def test_trim_bound_below_mean_is_rejected():
    with pytest.raises(ValueError, match="upper"):
        trim_weights([1, 2], upper=1.0)
