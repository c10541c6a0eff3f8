"""Tests for the Korn–Graubard interval, the NCHS reliability rules and the PAPI scale."""

import numpy as np
import pytest
from scipy import stats

from analysis import korn_graubard_interval, nchs_reasons, papi_scale


def test_korn_graubard_is_clopper_pearson_at_the_effective_size():
    # p = 0.5 with variance 0.01: n* = 0.25 / 0.01 = 25, bounds of the beta quantiles
    # B(0.025; 12.5, 13.5) and B(0.975; 13.5, 12.5).
    low, high, n_eff = korn_graubard_interval([0.5], [0.01], [99.0])
    assert n_eff[0] == pytest.approx(25)
    assert low[0] == pytest.approx(stats.beta.ppf(0.025, 12.5, 13.5))
    assert high[0] == pytest.approx(1 - low[0])  # symmetric at 0.5


def test_zero_variance_uses_kish_n_eff():
    # All five answers 1: lower bound qbeta(0.025, 5, 1) = 0.025^(1/5); upper 1.
    # All five 0: upper bound 1 - 0.025^(1/5).
    low, high, n_eff = korn_graubard_interval([1.0, 0.0], [0.0, 0.0], [5.0, 5.0])
    np.testing.assert_allclose(low, [0.025**0.2, 0.0])
    np.testing.assert_allclose(high, [1.0, 1 - 0.025**0.2])
    np.testing.assert_allclose(n_eff, [5.0, 5.0])
    # No interval of zero width for n >= 2, wherever p lies.
    low, high, _ = korn_graubard_interval([0.5, 0.25], [0.0, 1e-40], [2.0, 3.0])
    assert np.all(high - low > 0.3)


def test_degrees_of_freedom_adjustment():
    # n* times (t(0.025, rows - 1) / t(0.025, df))^2: with df = rows - 1 it is 1.
    plain = korn_graubard_interval([0.3], [0.004], [50.0])
    same = korn_graubard_interval([0.3], [0.004], [50.0], n_rows=[40], df=[39])
    np.testing.assert_allclose(plain, same)
    fewer = korn_graubard_interval([0.3], [0.004], [50.0], n_rows=[40], df=[9])
    ratio = (stats.t.ppf(0.025, 39) / stats.t.ppf(0.025, 9)) ** 2
    assert fewer[2][0] == pytest.approx(0.3 * 0.7 / 0.004 * ratio)
    assert fewer[1][0] - fewer[0][0] > plain[1][0] - plain[0][0]


def test_missing_values_give_nan():
    low, high, n_eff = korn_graubard_interval([np.nan, 0.5], [0.01, np.nan], [5.0, 5.0])
    assert np.isnan(low).all() and np.isnan(high).all() and np.isnan(n_eff).all()


@pytest.mark.parametrize(
    ("p", "low", "high", "n", "n_eff", "failed"),
    [
        (0.5, 0.40, 0.60, 100, 100, []),
        (0.5, 0.40, 0.60, 100, 29, ["n_eff"]),  # design effect
        (0.5, 0.45, 0.55, 40, 200, []),  # n_eff is capped at n = 40
        (0.5, 0.45, 0.55, 20, 200, ["n_eff"]),  # capped at n = 20 < 30
        (0.5, 0.30, 0.65, 100, 100, ["width"]),  # width 0.35 >= 0.30
        (0.1, 0.02, 0.18, 100, 100, ["relative_width"]),  # 0.16 / 0.1 = 160% > 130%
        (0.1, 0.08, 0.12, 100, 100, []),  # width 0.04 <= 0.05: relative width not used
        (0.9, 0.8, 0.95, 8, 8, ["n_eff", "df"]),  # df = 7 < 8
    ],
)
def test_nchs_rules(p, low, high, n, n_eff, failed):
    reasons = nchs_reasons([p], [low], [high], [n], [n_eff])
    assert [name for name, hit in reasons.items() if hit[0]] == failed


def test_papi_scale_bounds():
    # k = 4: 0.25 to 2.5; k = 3: 1/3 to 10/3 (papi.md section 4).
    np.testing.assert_allclose(papi_scale([0, 1], 4), [0.25, 2.5])
    np.testing.assert_allclose(papi_scale([0, 1], 3), [1 / 3, 10 / 3])
