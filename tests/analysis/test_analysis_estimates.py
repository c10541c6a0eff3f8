"""Tests for the weighted mean, its linearisation SE, the t interval and the PAPI scale."""

import numpy as np
import pytest

from analysis import estimate_mean, papi_scale

T_975_9 = 2.262157162740992  # Student t quantile, 0.975, 9 df (any t table: 2.262)
T_975_5 = 2.570581835636314  # 0.975, 5 df (table: 2.571)


def test_unweighted_mean_se_ci_by_hand():
    # y = six 1s, three 0s and one 0.5; p = 6.5/10 = 0.65.
    # sum (y - p)^2 = 6*0.35^2 + 3*0.65^2 + 0.15^2 = 0.735 + 1.2675 + 0.0225 = 2.025
    # SE^2 = n/(n-1) * sum((y - p)/n)^2 = 10/9 * 2.025/100 = 0.0225, SE = 0.15
    est = estimate_mean([1, 1, 1, 1, 1, 1, 0, 0, 0, 0.5])
    assert est.p == pytest.approx(0.65)
    assert est.se == pytest.approx(0.15)
    assert est.ci_low == pytest.approx(0.65 - T_975_9 * 0.15)
    assert est.ci_high == pytest.approx(0.65 + T_975_9 * 0.15)
    assert est.n == 10 and est.n_eff == pytest.approx(10)


def test_weighted_mean_se_by_hand():
    # The 2x2 raking weights (see test_analysis_weights): w = 20, 20, 10, 20, 10, 10
    # with y = 1, 0, 1, 0, 1, 1. sum w = 90, sum w y = 20 + 10 + 10 + 10 = 50, p = 5/9.
    # w (y - p) / sum w: y = 1 -> w * (4/9) / 90, y = 0 -> -w * (5/9) / 90, i.e. in
    # 81ths: 8, -10, 4, -10, 4, 4; squares sum to (64+100+16+100+16+16)/6561 = 312/6561.
    # SE^2 = 6/5 * 312/6561 = 1872/32805.
    est = estimate_mean([1, 0, 1, 0, 1, 1], [20, 20, 10, 20, 10, 10])
    assert est.p == pytest.approx(5 / 9)
    assert est.se == pytest.approx(np.sqrt(1872 / 32805))
    # 5/9 -/+ 2.571 * 0.2389 = -0.059 / 1.170: both ends clipped to [0, 1].
    assert (est.ci_low, est.ci_high) == (0.0, 1.0)
    assert est.n_eff == pytest.approx(5.4)


def test_one_respondent_has_no_se():
    est = estimate_mean([1.0])
    assert est.p == 1.0
    assert np.isnan(est.se) and np.isnan(est.ci_low) and np.isnan(est.ci_high)


def test_constant_answers_have_zero_se():
    est = estimate_mean([1, 1, 1], [1, 2, 7])
    assert est.p == 1.0 and est.se == 0.0
    assert est.ci_low == 1.0 and est.ci_high == 1.0


def test_interval_is_clipped_to_unit_range():
    # Nine 1s and one 0: p = 0.9, SE = sqrt(10/9 * (9*0.01 + 0.81)/100) = 0.1,
    # 0.9 + 2.262 * 0.1 = 1.126 -> clipped to 1; the lower bound 0.674 is kept.
    est = estimate_mean([1] * 9 + [0])
    assert est.se == pytest.approx(0.1)
    assert est.ci_high == 1.0
    assert est.ci_low == pytest.approx(0.9 - T_975_9 * 0.1)


@pytest.mark.parametrize(
    ("values", "weights"), [([], None), ([0.5, 2], None), ([np.nan], None), ([1, 0], [1])]
)
def test_estimate_mean_rejects_bad_input(values, weights):
    with pytest.raises(ValueError):
        estimate_mean(values, weights)


def test_papi_scale_bounds():
    # k = 4: 0.25 to 2.5; k = 3: 1/3 to 10/3 (papi.md section 4).
    np.testing.assert_allclose(papi_scale([0, 1], 4), [0.25, 2.5])
    np.testing.assert_allclose(papi_scale([0, 1], 3), [1 / 3, 10 / 3])
