"""Small-area estimates: the Fay–Herriot model fitted by REML, EB predictions and their MSE."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["FayHerriotResult", "fay_herriot", "smoothed_variances"]

REML_TOL = 1e-12
REML_MAXITER = 500


@dataclass(frozen=True)
class FayHerriotResult:
    """A fitted Fay–Herriot model and its predictions (arrays have one entry per area).

    Attributes
    ----------
    estimate
        EB predictions; the synthetic :math:`x_c'\\hat\\beta` for areas without a direct
        estimate; NaN when the model could not be fitted.
    mse
        MSE estimates: :math:`g_1 + g_2 + 2g_3` (Datta & Lahiri 2000), or
        :math:`\\hat A + g_2` for synthetic areas.
    g1, g2, g3
        The MSE components (g1 + g2 is metafor's ``blup()`` ``se`` squared).
    gamma
        Shrinkage factors :math:`\\hat A/(\\hat A + \\psi_c)`; 0 for synthetic areas.
    synthetic
        Areas predicted without a direct estimate.
    fitted
        :math:`x_c'\\hat\\beta`.
    between_variance
        REML estimate :math:`\\hat A` (≥ 0).
    beta
        GLS regression coefficients at :math:`\\hat A`.
    n_areas
        Areas with a direct estimate (those the model is fitted on).
    iterations
        Fisher-scoring iterations used.
    """

    estimate: npt.NDArray[np.float64]
    mse: npt.NDArray[np.float64]
    g1: npt.NDArray[np.float64]
    g2: npt.NDArray[np.float64]
    g3: npt.NDArray[np.float64]
    gamma: npt.NDArray[np.float64]
    synthetic: npt.NDArray[np.bool_]
    fitted: npt.NDArray[np.float64]
    between_variance: float
    beta: npt.NDArray[np.float64]
    n_areas: int
    iterations: int


def smoothed_variances(
    n: npt.ArrayLike, within: npt.ArrayLike, n_eff: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], float]:
    r"""Sampling variances from one pooled within-area variance.

    Parameters
    ----------
    n
        Respondents per area (areas with n = 0 get NaN).
    within
        Weighted within-area variances :math:`v_c = \sum w (y - \hat p_c)^2 / \sum w`.
    n_eff
        Kish effective sample sizes.

    Returns
    -------
    tuple
        ``(psi, sigma2)``: :math:`\psi_c = \hat\sigma^2 / n_{\mathrm{eff},c}` with
        :math:`\hat\sigma^2 = \sum_c (n_c - 1) v_c / \sum_c (n_c - 1)`; NaN when no
        area has two respondents (the caller then needs another estimate of the
        within-area variance; :func:`analysis.score_communes` uses the spread of all
        answers in the province).

    Notes
    -----
    Smoothing the sampling variances (Rao & Molina 2015, §6.4.2; You & Chapman 2006)
    keeps an area whose few answers happen to be identical (direct variance 0) from
    being trusted as if it were known exactly.
    """
    n = np.asarray(n, dtype=float)
    v = np.asarray(within, dtype=float)
    k = np.asarray(n_eff, dtype=float)
    has = n > 0
    df = np.where(has, n - 1, 0.0)
    if df.sum() > 0:
        sigma2 = float(np.nansum(df * np.where(has, v, 0.0)) / df.sum())
    else:
        sigma2 = float(np.nan)
    psi = np.where(has, sigma2 / np.where(has, k, 1.0), np.nan)
    return psi, sigma2


def fay_herriot(
    estimates: npt.ArrayLike,
    variances: npt.ArrayLike,
    covariates: npt.ArrayLike | None = None,
    *,
    tol: float = REML_TOL,
    max_iter: int = REML_MAXITER,
) -> FayHerriotResult:
    r"""Fit a Fay–Herriot model by REML and predict every area.

    Parameters
    ----------
    estimates
        Direct estimates :math:`\hat\theta_c`, shape (m,); NaN for an area to be
        predicted synthetically.
    variances
        Sampling variances :math:`\psi_c` (known), shape (m,); ignored for NaN estimates.
    covariates
        Design matrix X, shape (m, q), with the intercept column; intercept only
        when omitted.
    tol, max_iter
        Convergence threshold on :math:`\hat A` and iteration limit of Fisher scoring.

    Returns
    -------
    FayHerriotResult
        All NaN when fewer than q + 1 areas have a direct estimate.

    Notes
    -----
    Model: :math:`\hat\theta_c = x_c'\beta + v_c + e_c`, :math:`v_c \sim N(0, A)`,
    :math:`e_c \sim N(0, \psi_c)`. :math:`\hat A` maximises the restricted likelihood
    (Fisher scoring from the moment estimate, steps halved while the likelihood falls,
    truncated at 0), :math:`\hat\beta` is the GLS estimate at :math:`\hat A`, and

    .. math::

        \hat\theta_c^{EB} = x_c'\hat\beta + \hat\gamma_c(\hat\theta_c - x_c'\hat\beta),
        \qquad \hat\gamma_c = \hat A / (\hat A + \psi_c),

    what ``metafor::rma(yi, vi, mods, method = "REML")`` and ``blup()`` give. MSE
    (Datta & Lahiri 2000, REML): :math:`g_1 = \hat\gamma_c\psi_c`, :math:`g_2 =
    (1-\hat\gamma_c)^2 x_c'(X'V^{-1}X)^{-1}x_c`, :math:`g_3 = \psi_c^2 (\hat A +
    \psi_c)^{-3}\,\bar V(\hat A)` with :math:`\bar V(\hat A) = 2 / \sum_c (\hat A +
    \psi_c)^{-2}`; MSE = g1 + g2 + 2 g3. A synthetic area gets :math:`x_c'\hat\beta`
    with MSE :math:`\hat A + x_c'(X'V^{-1}X)^{-1}x_c`.

    References
    ----------
    Fay, R. E. & Herriot, R. A. (1979). *JASA* 74(366), 269–277.
    Datta, G. S. & Lahiri, P. (2000). A unified measure of uncertainty of estimated best
    linear unbiased predictors in small area estimation problems. *Statistica Sinica*
    10, 613–627.
    Rao, J. N. K. & Molina, I. (2015). *Small Area Estimation*, 2nd ed. Wiley, §6.1–6.2.
    Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package.
    *J. Stat. Softw.* 36(3).

    Examples
    --------
    >>> r = fay_herriot([0.2, 0.5, 0.8, 0.6], [0.01, 0.01, 0.04, 0.02])
    >>> round(r.between_variance, 4), r.estimate.round(3).tolist()
    (0.041, [0.257, 0.498, 0.648, 0.565])
    """
    theta = np.asarray(estimates, dtype=float).ravel()
    psi = np.asarray(variances, dtype=float).ravel()
    m_all = theta.size
    if psi.shape != theta.shape:
        raise ValueError(f"estimates has {theta.size} values but variances has {psi.size}")
    x = np.ones((m_all, 1)) if covariates is None else np.asarray(covariates, dtype=float)
    if x.ndim != 2 or x.shape[0] != m_all:
        raise ValueError(f"covariates must have shape ({m_all}, q)")
    direct = np.isfinite(theta)
    if np.any(~np.isfinite(psi[direct])) or np.any(psi[direct] <= 0):
        raise ValueError("variances must be finite and positive where estimates are given")
    q = x.shape[1]
    m = int(direct.sum())
    nan = np.full(m_all, np.nan)
    if m <= q or np.linalg.matrix_rank(x[direct]) < q:
        return FayHerriotResult(
            nan,
            nan.copy(),
            nan.copy(),
            nan.copy(),
            nan.copy(),
            nan.copy(),
            ~direct,
            nan.copy(),
            float("nan"),
            np.full(q, np.nan),
            m,
            0,
        )
    y, d, xd = theta[direct], psi[direct], x[direct]
    a, iterations = _reml(y, d, xd, tol=tol, max_iter=max_iter)
    v = a + d
    info = xd.T @ (xd / v[:, None])
    info_inv = np.linalg.inv(info)
    beta = info_inv @ (xd.T @ (y / v))
    fitted = x @ beta
    leverage = np.einsum("ij,jk,ik->i", x, info_inv, x)
    gamma = np.zeros(m_all)
    with np.errstate(divide="ignore", invalid="ignore"):
        gamma[direct] = np.where(v > 0, a / v, 1.0)
    estimate = fitted.copy()
    estimate[direct] = fitted[direct] + gamma[direct] * (y - fitted[direct])
    g1 = np.zeros(m_all)
    g3 = np.zeros(m_all)
    g1[direct] = gamma[direct] * d
    g2 = (1 - gamma) ** 2 * leverage
    with np.errstate(divide="ignore", invalid="ignore"):
        var_a = 2.0 / np.sum(1.0 / v**2)
        g3[direct] = np.where(v > 0, d**2 / v**3 * var_a, 0.0)
    mse = g1 + g2 + 2 * g3
    mse[~direct] = a + leverage[~direct]
    return FayHerriotResult(estimate, mse, g1, g2, g3, gamma, ~direct, fitted, float(a), beta, m, iterations)


def _reml_parts(
    a: float, y: npt.NDArray[np.float64], d: npt.NDArray[np.float64], x: npt.NDArray[np.float64]
) -> tuple[float, float, float]:
    """Restricted log-likelihood, its score and Fisher information in A."""
    v = a + d
    w = 1.0 / v
    info = x.T @ (x * w[:, None])
    info_inv = np.linalg.inv(info)
    beta = info_inv @ (x.T @ (w * y))
    py = w * (y - x @ beta)  # P y
    xw2 = x.T @ (x * (w**2)[:, None])
    trace_p = w.sum() - np.trace(info_inv @ xw2)
    xw3 = x.T @ (x * (w**3)[:, None])
    h = info_inv @ xw2
    trace_pp = (w**2).sum() - 2 * np.trace(info_inv @ xw3) + np.trace(h @ h)
    _, logdet = np.linalg.slogdet(info)
    loglik = -0.5 * (np.log(v).sum() + logdet + float(py @ (y - x @ beta)))
    score = 0.5 * (float(py @ py) - trace_p)
    return loglik, score, 0.5 * trace_pp


def _reml(
    y: npt.NDArray[np.float64],
    d: npt.NDArray[np.float64],
    x: npt.NDArray[np.float64],
    *,
    tol: float,
    max_iter: int,
) -> tuple[float, int]:
    """REML estimate of A by Fisher scoring with step halving, truncated at 0."""
    m, q = x.shape
    resid = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
    a = max(0.0, float(resid @ resid) / (m - q) - float(d.mean()))
    loglik, score, info = _reml_parts(a, y, d, x)
    for iteration in range(1, max_iter + 1):
        step = score / info
        new = max(0.0, a + step)
        new_loglik, new_score, new_info = _reml_parts(new, y, d, x)
        halvings = 0
        while new_loglik < loglik - 1e-12 * abs(loglik) and halvings < 60:
            step /= 2
            new = max(0.0, a + step)
            new_loglik, new_score, new_info = _reml_parts(new, y, d, x)
            halvings += 1
        if abs(new - a) < tol:
            return new, iteration
        a, loglik, score, info = new, new_loglik, new_score, new_info
        if a == 0.0 and score <= 0:
            return 0.0, iteration
    return a, max_iter
