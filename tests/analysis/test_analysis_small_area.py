"""Tests for the Fay–Herriot model (REML), its EB predictions, MSE and smoothed variances."""

import numpy as np
import pytest

from analysis import fay_herriot, smoothed_variances


def test_equal_variances_by_hand():
    # Equal psi = D and an intercept: REML gives A = S^2/(m - 1) - D (truncated at 0).
    # theta = 0.2, 0.5, 0.8, D = 0.01: S^2 = 0.18, A = 0.09 - 0.01 = 0.08, beta = 0.5,
    # gamma = 0.08/0.09 = 8/9, EB = 0.5 + 8/9 (theta - 0.5).
    # g1 = gamma D = 0.08/9; g2 = (1/9)^2 (A + D)/m = 0.03/81;
    # g3 = D^2/(A + D)^3 * 2 (A + D)^2/m = 2 D^2 / (m (A + D)) = 2e-4/0.27.
    result = fay_herriot([0.2, 0.5, 0.8], [0.01, 0.01, 0.01])
    assert result.between_variance == pytest.approx(0.08, rel=1e-9)
    np.testing.assert_allclose(result.beta, [0.5])
    np.testing.assert_allclose(result.gamma, 8 / 9)
    np.testing.assert_allclose(result.estimate, [0.5 - 8 / 30, 0.5, 0.5 + 8 / 30])
    np.testing.assert_allclose(result.g1, 0.08 / 9)
    np.testing.assert_allclose(result.g2, 0.03 / 81)
    np.testing.assert_allclose(result.g3, 2e-4 / 0.27)
    np.testing.assert_allclose(result.mse, 0.08 / 9 + 0.03 / 81 + 4e-4 / 0.27)


def test_no_between_variance_pulls_fully_to_the_mean():
    # S^2/(m-1) = 0.01 is below D = 0.05: A = 0, gamma = 0, every EB = the mean.
    result = fay_herriot([0.4, 0.5, 0.6], [0.05, 0.05, 0.05])
    assert result.between_variance == 0.0
    np.testing.assert_allclose(result.gamma, 0.0)
    np.testing.assert_allclose(result.estimate, 0.5)


def test_synthetic_area():
    # An area without a direct estimate gets x'beta with MSE A + x'(X'V^-1 X)^-1 x
    # = 0.08 + 0.09/3 in the example above.
    result = fay_herriot([0.2, 0.5, 0.8, np.nan], [0.01, 0.01, 0.01, np.nan])
    assert result.synthetic.tolist() == [False, False, False, True]
    assert result.estimate[3] == pytest.approx(0.5)
    assert result.mse[3] == pytest.approx(0.08 + 0.03)
    assert result.n_areas == 3


def test_shrinks_noisier_areas_more():
    rng = np.random.default_rng(7)
    theta = rng.uniform(0, 1, 50)
    d = rng.uniform(0.001, 0.05, 50)
    result = fay_herriot(theta, d)
    assert ((result.gamma >= 0) & (result.gamma <= 1)).all()
    order = np.argsort(d)
    assert np.all(np.diff(result.gamma[order]) <= 1e-12)


def test_too_few_areas_and_bad_input():
    assert np.isnan(fay_herriot([0.5], [0.01]).estimate).all()
    # Two parameters need at least three areas.
    x = np.column_stack([np.ones(2), [0, 1]])
    assert np.isnan(fay_herriot([0.5, 0.6], [0.01, 0.01], x).estimate).all()
    with pytest.raises(ValueError, match="variances"):
        fay_herriot([0.1, 0.2], [0.01])
    with pytest.raises(ValueError, match="positive"):
        fay_herriot([0.1, 0.2, 0.3], [0.01, 0.0, 0.01])


def test_smoothed_variances_pool_within_commune_variance():
    # sigma2 = (4*0.2 + 9*0.1 + 0*0) / (4 + 9 + 0) = 1.7/13; psi = sigma2 / n_eff.
    psi, sigma2 = smoothed_variances([5, 10, 1, 0], [0.2, 0.1, 0.0, np.nan], [4.0, 8.0, 1.0, 0.0])
    assert sigma2 == pytest.approx(1.7 / 13)
    np.testing.assert_allclose(psi[:3], [1.7 / 13 / 4, 1.7 / 13 / 8, 1.7 / 13])
    assert np.isnan(psi[3])
    # One respondent everywhere: no within-commune information.
    assert np.isnan(smoothed_variances([1, 1], [0.0, 0.0], [1.0, 1.0])[1])
