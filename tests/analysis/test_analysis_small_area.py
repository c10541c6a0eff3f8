"""Tests for the Fay–Herriot empirical-Bayes estimates."""

import numpy as np
import pytest

from analysis import fay_herriot


def test_fay_herriot_by_hand():
    # theta = 0.2, 0.5, 0.8; D = 0.01, 0.01, 0.04; m = 3; mean = 0.5.
    # sum (theta - mean)^2 = 0.18; (1 - 1/3) * sum D = 0.04; A = (0.18 - 0.04)/2 = 0.07.
    # gamma = 0.07/0.08 = 0.875, 0.875, 0.07/0.11 = 0.63636.
    # EB: 0.875*0.2 + 0.125*0.5 = 0.2375; 0.5; 0.63636*0.8 + 0.36364*0.5 = 0.69091.
    result = fay_herriot([0.2, 0.5, 0.8], [0.01, 0.01, 0.04])
    assert result.between_variance == pytest.approx(0.07)
    assert result.mean == pytest.approx(0.5)
    np.testing.assert_allclose(result.gamma, [0.875, 0.875, 0.07 / 0.11])
    np.testing.assert_allclose(result.estimate, [0.2375, 0.5, 0.8 * 7 / 11 + 0.5 * 4 / 11])


def test_no_between_variance_pulls_fully_to_mean():
    # Spread 0.02 is less than the sampling noise: A is truncated at 0, gamma = 0.
    result = fay_herriot([0.4, 0.5, 0.6], [0.05, 0.05, 0.05])
    assert result.between_variance == 0.0
    np.testing.assert_allclose(result.gamma, 0.0)
    np.testing.assert_allclose(result.estimate, 0.5)


def test_gamma_in_unit_interval_and_shrinks_toward_mean():
    rng = np.random.default_rng(7)
    theta = rng.uniform(0, 1, 50)
    d = rng.uniform(0.001, 0.05, 50)
    result = fay_herriot(theta, d)
    assert ((result.gamma >= 0) & (result.gamma <= 1)).all()
    lo, hi = np.minimum(theta, result.mean), np.maximum(theta, result.mean)
    assert ((result.estimate >= lo - 1e-12) & (result.estimate <= hi + 1e-12)).all()
    # Noisier areas are shrunk more.
    order = np.argsort(d)
    assert np.all(np.diff(result.gamma[order]) <= 1e-12)


def test_missing_variance_and_zero_variance():
    result = fay_herriot([0.1, 0.9, 0.5, 0.3], [0.01, 0.01, np.nan, 0.0])
    assert np.isnan(result.estimate[2]) and result.n_areas == 3
    assert result.gamma[3] == 1.0 and result.estimate[3] == pytest.approx(0.3)


def test_too_few_areas():
    result = fay_herriot([0.5], [0.01])
    assert np.isnan(result.estimate).all()


def test_shape_mismatch_rejected():
    with pytest.raises(ValueError, match="one per area"):
        fay_herriot([0.1, 0.2], [0.01])
