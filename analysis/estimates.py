"""Korn–Graubard intervals, NCHS reliability rules and the PAPI scale."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = [
    "NCHS_MAX_RELATIVE_WIDTH",
    "NCHS_MAX_WIDTH",
    "NCHS_MIN_DF",
    "NCHS_MIN_N_EFF",
    "NCHS_REVIEW_WIDTH",
    "ZERO_SE",
    "korn_graubard_interval",
    "nchs_reasons",
    "papi_scale",
]

#: A standard error (0–1 scale) at or below this is "no estimated variance" (all answers
#: alike, or rounding noise of a residualised zero).
ZERO_SE = 1e-9
#: NCHS Data Presentation Standards for Proportions (Parker et al. 2017).
NCHS_MIN_N_EFF = 30.0
NCHS_MAX_WIDTH = 0.30
NCHS_REVIEW_WIDTH = 0.05
NCHS_MAX_RELATIVE_WIDTH = 1.30
NCHS_MIN_DF = 8


def korn_graubard_interval(
    p: npt.ArrayLike,
    variance: npt.ArrayLike,
    kish_n_eff: npt.ArrayLike,
    *,
    n_rows: npt.ArrayLike | None = None,
    df: npt.ArrayLike | None = None,
    level: float = 0.95,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    r"""Korn–Graubard ("beta") confidence interval for a proportion from a complex sample.

    Parameters
    ----------
    p
        Estimated proportions (or means of 0–1 values), shape (m,).
    variance
        Their design-based variances.
    kish_n_eff
        Kish effective sample sizes, used when the variance is zero.
    n_rows, df
        Rows of the design and its degrees of freedom; when both are given the
        effective size is multiplied by :math:`(t_{\alpha/2, n_{rows}-1} /
        t_{\alpha/2, df})^2` as R does (1 when ``df = n_rows - 1``).
    level
        Confidence level.

    Returns
    -------
    tuple of numpy.ndarray
        ``(low, high, n_eff)``: the bounds on the 0–1 scale and the effective sample size
        used. NaN where ``p`` or the variance is NaN.

    Notes
    -----
    With :math:`n^* = \hat p(1-\hat p)/\widehat{V}(\hat p)`,

    .. math::

        \left[\,B^{-1}_{\alpha/2}(n^*\hat p,\ n^*(1-\hat p)+1),\
        B^{-1}_{1-\alpha/2}(n^*\hat p+1,\ n^*(1-\hat p))\,\right],

    the Clopper–Pearson interval at the effective sample size (Korn & Graubard 1998),
    as R's ``svyciprop(method = "beta")``. When the variance is zero (all answers alike:
    R returns NaN at :math:`\hat p \in \{0, 1\}` and a zero-width interval otherwise)
    :math:`n^*` is the Kish effective sample size, so five identical answers give an
    interval as wide as a Clopper–Pearson interval on five respondents. The bound at 0
    is 0 when :math:`\hat p = 0` and the bound at 1 is 1 when :math:`\hat p = 1`.

    References
    ----------
    Korn, E. L. & Graubard, B. I. (1998). Confidence intervals for proportions with
    small expected number of positive counts estimated from survey data. *Survey
    Methodology* 24(2), 193–201.

    Examples
    --------
    >>> low, high, n_eff = korn_graubard_interval([1.0], [0.0], [5.0])
    >>> round(float(low[0]), 4), float(high[0])
    (0.4782, 1.0)
    """
    p = np.asarray(p, dtype=float)
    var = np.asarray(variance, dtype=float)
    kish = np.asarray(kish_n_eff, dtype=float)
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level!r}")
    alpha = 1.0 - level
    zero = var <= ZERO_SE**2
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = np.where(zero, kish, p * (1 - p) / var)
        if n_rows is not None and df is not None:
            rows = np.asarray(n_rows, dtype=float)
            dfs = np.asarray(df, dtype=float)
            ok = (rows > 1) & (dfs > 0)
            ratio = np.full(np.broadcast(rows, dfs).shape, np.nan)
            ratio[ok] = (
                stats.t.ppf(alpha / 2, np.broadcast_to(rows, ratio.shape)[ok] - 1)
                / stats.t.ppf(alpha / 2, np.broadcast_to(dfs, ratio.shape)[ok])
            ) ** 2
            n_eff = np.where(zero, n_eff, n_eff * ratio)
    valid = np.isfinite(p) & np.isfinite(var) & np.isfinite(n_eff) & (n_eff > 0)
    low = np.full(p.shape, np.nan)
    high = np.full(p.shape, np.nan)
    at_zero = valid & (p <= 0)
    at_one = valid & (p >= 1)
    inner = valid & ~at_zero & ~at_one
    x, n = p[inner], n_eff[inner]
    low[at_zero], high[at_one] = 0.0, 1.0
    low[inner] = stats.beta.ppf(alpha / 2, n * x, n * (1 - x) + 1)
    high[inner] = stats.beta.ppf(1 - alpha / 2, n * x + 1, n * (1 - x))
    x1, n1 = p[at_one], n_eff[at_one]
    low[at_one] = stats.beta.ppf(alpha / 2, n1 * x1, n1 * (1 - x1) + 1)
    x0, n0 = p[at_zero], n_eff[at_zero]
    high[at_zero] = stats.beta.ppf(1 - alpha / 2, n0 * x0 + 1, n0 * (1 - x0))
    return low, high, np.where(valid, n_eff, np.nan)


def nchs_reasons(
    p: npt.ArrayLike,
    low: npt.ArrayLike,
    high: npt.ArrayLike,
    n: npt.ArrayLike,
    n_eff: npt.ArrayLike,
    *,
    min_n_eff: float = NCHS_MIN_N_EFF,
) -> dict[str, npt.NDArray[np.bool_]]:
    r"""Which NCHS reliability rules an estimated proportion fails.

    Parameters
    ----------
    p, low, high
        Estimate and Korn–Graubard bounds on the 0–1 scale.
    n
        Respondents behind each estimate.
    n_eff
        The effective sample size of the interval (:func:`korn_graubard_interval`);
        capped at ``n`` as the standard does (a design effect below 1 counts as 1).
    min_n_eff
        Smallest acceptable effective sample size (30 in the standard).

    Returns
    -------
    dict of numpy.ndarray
        Boolean arrays ``n_eff`` (effective size < ``min_n_eff``), ``width`` (interval
        width ≥ 0.30), ``relative_width`` (width in (0.05, 0.30) and width / p > 130%),
        ``df`` (degrees of freedom n − 1 < 8). Rows without an interval fail ``width``.

    References
    ----------
    Parker, J. D., Talih, M., Malec, D. J., et al. (2017). National Center for Health
    Statistics Data Presentation Standards for Proportions. *Vital Health Stat* 2(175).
    """
    p = np.asarray(p, dtype=float)
    width = np.asarray(high, dtype=float) - np.asarray(low, dtype=float)
    n = np.asarray(n, dtype=float)
    effective = np.fmin(np.asarray(n_eff, dtype=float), n)
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(p > 0, width / p, np.inf)
    has_n = n > 0
    return {
        "n_eff": has_n & ~(effective >= min_n_eff),
        "width": has_n & ~(width < NCHS_MAX_WIDTH),
        "relative_width": has_n
        & (width > NCHS_REVIEW_WIDTH)
        & (width < NCHS_MAX_WIDTH)
        & (relative > NCHS_MAX_RELATIVE_WIDTH),
        "df": has_n & (n - 1 < NCHS_MIN_DF),
    }


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
