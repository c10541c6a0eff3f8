"""Empirical-Bayes small-area estimates: Fay–Herriot without covariates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["FayHerriotResult", "fay_herriot"]


@dataclass(frozen=True)
class FayHerriotResult:
    """Shrunken estimates and the fitted model.

    Attributes
    ----------
    estimate
        Empirical-Bayes estimates (NaN where the direct variance is unknown).
    gamma
        Shrinkage factors in [0, 1]; 1 keeps the direct estimate.
    between_variance
        Method-of-moments estimate of the between-area variance A (truncated at 0).
    mean
        The province mean the estimates are pulled toward.
    n_areas
        Number of areas used to fit A and the mean.
    """

    estimate: npt.NDArray[np.float64]
    gamma: npt.NDArray[np.float64]
    between_variance: float
    mean: float
    n_areas: int


def fay_herriot(estimates: npt.ArrayLike, variances: npt.ArrayLike) -> FayHerriotResult:
    r"""Shrink direct area estimates toward their mean (Fay–Herriot, no covariates).

    Parameters
    ----------
    estimates
        Direct estimates :math:`\hat\theta_i`, one per area (NaN allowed: not used).
    variances
        Their sampling variances :math:`D_i = SE_i^2`, treated as known (NaN: the area
        is not used for fitting and gets a NaN estimate).

    Returns
    -------
    FayHerriotResult

    Notes
    -----
    Model: :math:`\hat\theta_i = \theta_i + e_i`, :math:`\theta_i = \mu + v_i`,
    :math:`e_i \sim (0, D_i)`, :math:`v_i \sim (0, A)`. With the *m* usable areas,
    :math:`\bar\theta = m^{-1}\sum \hat\theta_i` and the Prasad–Rao moment estimator
    for an intercept-only model (:math:`h_{ii} = 1/m`),

    .. math::

        \hat A = \max\left(0,\ \frac{\sum_i (\hat\theta_i - \bar\theta)^2
                 - (1 - 1/m)\sum_i D_i}{m - 1}\right),

    the shrinkage factor :math:`\hat\gamma_i = \hat A / (\hat A + D_i)` and the
    empirical-Bayes estimate :math:`\hat\theta_i^{EB} = \hat\gamma_i\hat\theta_i +
    (1 - \hat\gamma_i)\bar\theta`. The mean is the simple (OLS) mean, not the GLS mean
    weighted by :math:`1/(A + D_i)`: with A = 0 the GLS mean would be dominated by any
    small area whose answers happen to be all equal (:math:`D_i = 0`). An area with
    :math:`D_i = 0` keeps its direct estimate (:math:`\gamma_i = 1`). Fewer than two
    usable areas: no shrinkage can be estimated and all results are NaN.

    References
    ----------
    Fay, R. E. & Herriot, R. A. (1979). Estimates of income for small places: an
    application of James–Stein procedures to census data. *JASA* 74(366), 269–277.
    Prasad, N. G. N. & Rao, J. N. K. (1990). The estimation of the mean squared error
    of small-area estimators. *JASA* 85(409), 163–171.
    Rao, J. N. K. & Molina, I. (2015). *Small Area Estimation*, 2nd ed. Wiley, §6.1.

    Examples
    --------
    >>> result = fay_herriot([0.2, 0.5, 0.8], [0.01, 0.01, 0.04])
    >>> round(result.between_variance, 4), result.estimate.round(3).tolist()
    (0.07, [0.238, 0.5, 0.691])
    """
    theta = np.asarray(estimates, dtype=float).ravel()
    d = np.asarray(variances, dtype=float).ravel()
    if theta.shape != d.shape:
        raise ValueError(
            f"estimates has {theta.size} values but variances has {d.size}; give one per area"
        )
    if np.any(d[np.isfinite(d)] < 0):
        raise ValueError("variances must be non-negative")
    usable = np.isfinite(theta) & np.isfinite(d)
    m = int(usable.sum())
    nan = np.full(theta.shape, np.nan)
    if m < 2:
        return FayHerriotResult(nan, nan.copy(), float("nan"), float("nan"), m)
    mean = float(theta[usable].mean())
    spread = float(np.square(theta[usable] - mean).sum())
    a = max(0.0, (spread - (1 - 1 / m) * float(d[usable].sum())) / (m - 1))
    gamma = np.full(theta.shape, np.nan)
    denominator = a + d[usable]
    gamma[usable] = np.divide(
        a, denominator, out=np.ones_like(denominator), where=denominator > 0
    )
    estimate = gamma * theta + (1 - gamma) * mean
    return FayHerriotResult(estimate, gamma, a, mean, m)
