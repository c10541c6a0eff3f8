"""Weighted mean of 0–1 values with linearisation standard error, t interval and PAPI scale."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from analysis.weights import _as_weights

__all__ = ["MeanEstimate", "estimate_mean", "papi_scale", "t_interval"]


@dataclass(frozen=True)
class MeanEstimate:
    """A weighted mean with its uncertainty (all on the 0–1 scale)."""

    p: float
    se: float
    ci_low: float
    ci_high: float
    n: int
    n_eff: float


def estimate_mean(
    values: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
    *,
    level: float = 0.95,
) -> MeanEstimate:
    r"""Weighted mean, Taylor-linearisation SE and t confidence interval.

    Parameters
    ----------
    values
        Respondent values in [0, 1] (NaN not allowed: drop missing values first).
    weights
        Weights held fixed; equal weights when omitted.
    level
        Confidence level of the interval.

    Returns
    -------
    MeanEstimate
        ``p``, ``se``, ``ci_low``, ``ci_high`` (clipped to [0, 1]), ``n`` and Kish ``n_eff``.
        With one respondent ``se`` and the interval are NaN.

    Notes
    -----
    .. math::

        \hat p = \frac{\sum_i w_i y_i}{\sum_i w_i}, \qquad
        \widehat{SE}(\hat p) = \sqrt{\frac{n}{n-1}\sum_i
            \left(\frac{w_i (y_i - \hat p)}{\sum_j w_j}\right)^2 }

    and the interval is :math:`\hat p \pm t_{(1+\text{level})/2,\,n-1}\,\widehat{SE}`.
    This is what R's ``svymean`` reports for ``svydesign(ids = ~1, weights = ~w)``: a
    with-replacement, single-stage design whose weights are treated as fixed (the
    variance reduction from raking is ignored, which is conservative).

    References
    ----------
    Lumley, T. (2010). *Complex Surveys: A Guide to Analysis Using R*. Wiley, §2.2, §7.
    Wolter, K. M. (2007). *Introduction to Variance Estimation*, 2nd ed. Springer, ch. 6.

    Examples
    --------
    >>> est = estimate_mean([1, 0, 1, 1])
    >>> round(est.p, 4), round(est.se, 4)
    (0.75, 0.25)
    """
    y = np.asarray(values, dtype=float).ravel()
    if y.size == 0:
        raise ValueError("values is empty")
    if not np.all(np.isfinite(y)) or y.min() < 0 or y.max() > 1:
        raise ValueError("values must be finite and within [0, 1]; drop missing values first")
    w = np.ones_like(y) if weights is None else _as_weights(weights, "weights")
    if w.size != y.size:
        raise ValueError(f"weights has {w.size} values but values has {y.size}")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level!r}")
    total = w.sum()
    p = float(np.dot(w, y) / total)
    n = y.size
    se, low, high = _linearised_se(y, w, p, n, level)
    return MeanEstimate(
        p=p, se=se, ci_low=low, ci_high=high, n=n, n_eff=float(total**2 / np.dot(w, w))
    )


def _linearised_se(
    y: npt.NDArray[np.float64], w: npt.NDArray[np.float64], p: float, n: int, level: float
) -> tuple[float, float, float]:
    if n < 2:
        return float("nan"), float("nan"), float("nan")
    se = float(np.sqrt(n / (n - 1) * np.sum(np.square(w * (y - p) / w.sum()))))
    low, high = t_interval(np.array([p]), np.array([se]), np.array([n]), level=level)
    return se, float(low[0]), float(high[0])


def t_interval(
    p: npt.ArrayLike,
    se: npt.ArrayLike,
    n: npt.ArrayLike,
    *,
    level: float = 0.95,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    r"""Vectorised t interval :math:`p \pm t_{(1+\text{level})/2,\,n-1}\,SE`, clipped to [0, 1].

    Parameters
    ----------
    p, se, n
        Arrays of estimates, standard errors and respondent counts.
    level
        Confidence level.

    Returns
    -------
    tuple of numpy.ndarray
        Lower and upper bounds; NaN where ``n < 2`` or ``se`` is NaN.
    """
    p = np.asarray(p, dtype=float)
    se = np.asarray(se, dtype=float)
    df = np.asarray(n, dtype=float) - 1.0
    ok = np.isfinite(df) & (df >= 1) & np.isfinite(se) & np.isfinite(p)
    quantile = np.full(p.shape, np.nan)
    quantile[ok] = stats.t.ppf((1 + level) / 2, df[ok])
    half = quantile * se
    return np.clip(p - half, 0.0, 1.0), np.clip(p + half, 0.0, 1.0)


def papi_scale(p: npt.ArrayLike, k: npt.ArrayLike) -> npt.NDArray[np.float64]:
    r"""Map a 0–1 estimate to the PAPI sub-dimension scale, :math:`1/k + 9p/k`.

    Parameters
    ----------
    p
        Estimates (or interval bounds) on the 0–1 scale.
    k
        Number of sub-dimensions of the dimension in the structure in use.

    Returns
    -------
    numpy.ndarray
        Scores between ``1/k`` and ``10/k``, so that the k sub-dimensions of a
        dimension sum to 1–10 (papi.md §4).

    Examples
    --------
    >>> papi_scale([0.0, 0.5, 1.0], 4)
    array([0.25 , 1.375, 2.5  ])
    """
    return (1.0 + 9.0 * np.asarray(p, dtype=float)) / np.asarray(k, dtype=float)
