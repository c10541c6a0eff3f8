"""Rates above the rest of their group: whether a unit's share of "yes" answers exceeds its group's."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = ["RATE_ADJUSTMENTS", "RateTests", "rates_above_rest"]

#: Ways to adjust the p-values of one family of tests (e.g. a province's service points).
RATE_ADJUSTMENTS = ("bh", "none")


@dataclass(frozen=True)
class RateTests:
    """The tests of :func:`rates_above_rest`, one element per input unit.

    Attributes
    ----------
    rate
        The unit's share of "yes": ``reports / answers`` (NaN without answers).
    rest_rate
        The share among the other units of its family (NaN when they have no answers).
    p_value
        One-sided p-value of Fisher's exact test (the unit's rate above the rest's), unadjusted;
        NaN where no test could be done.
    p_adjusted
        ``p_value`` adjusted for the tests of its family (``adjust``).
    significant
        ``p_adjusted < alpha`` and ``rate > rest_rate``; False where no test could be done.
    alpha
        The significance level used.
    adjust
        The adjustment used (one of :data:`RATE_ADJUSTMENTS`).
    """

    rate: npt.NDArray[np.float64]
    rest_rate: npt.NDArray[np.float64]
    p_value: npt.NDArray[np.float64]
    p_adjusted: npt.NDArray[np.float64]
    significant: npt.NDArray[np.bool_]
    alpha: float
    adjust: str


def _counts(values: npt.ArrayLike, name: str) -> npt.NDArray[np.int64]:
    try:
        out = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be counts (whole numbers >= 0)") from None
    if out.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {out.shape}")
    if not np.isfinite(out).all() or (out < 0).any() or (out != np.floor(out)).any():
        raise ValueError(f"{name} must be counts (whole numbers >= 0)")
    return out.astype(np.int64)


def rates_above_rest(
    reports: npt.ArrayLike,
    *,
    answers: npt.ArrayLike,
    family: npt.ArrayLike | None = None,
    alpha: float = 0.05,
    adjust: str = "bh",
) -> RateTests:
    r"""One-sided exact tests of whether each unit's rate of "yes" exceeds the rest of its family's.

    Parameters
    ----------
    reports
        "Yes" answers per unit (e.g. reports of an informal payment at a service point).
    answers
        Answers per unit ("yes" or "no"), at least ``reports``.
    family
        Labels (e.g. province codes), one per unit: each unit is compared with the other units
        of its label, and the p-values are adjusted within each label. None: one family.
    alpha
        Significance level of ``significant``, between 0 and 1.
    adjust
        ``"bh"`` (Benjamini–Hochberg, default) or ``"none"``.

    Returns
    -------
    RateTests
        Arrays of the unit's rate, the rest's rate, the raw and adjusted p-values and the
        significance flag.

    Notes
    -----
    A unit with :math:`x` "yes" of :math:`n` answers is set against the rest of its family,
    :math:`y` of :math:`m`. Both rates are estimates, so the province rate is not taken as
    known: conditionally on the :math:`k = x + y` "yes" answers in all, :math:`x` is
    hypergeometric under :math:`H_0` (the unit's rate equals the rest's), and the one-sided
    p-value of Fisher's exact test is

    .. math::

        p = P(X \ge x) = \sum_{j = x}^{\min(n, k)}
            \frac{\binom{k}{j}\binom{n + m - k}{n - j}}{\binom{n + m}{n}},

    which is R's ``fisher.test(matrix(c(x, n - x, y, m - y), 2), alternative = "greater")``.
    A unit without answers, or whose family has no other answers, is not tested.

    A province has hundreds of service points; at :math:`\alpha = 0.05` each, about one in
    twenty would be flagged by chance alone. The Benjamini–Hochberg adjustment keeps the
    expected share of false warnings among the warnings at most :math:`\alpha` (for
    independent or positively dependent tests): with the family's m tested p-values in
    increasing order, :math:`\tilde p_{(i)} = \min_{j \ge i} \min(1, m\, p_{(j)} / j)`, as
    R's ``p.adjust(p, method = "BH")`` gives. A warning is a screen that asks someone to
    look, so the false-discovery rate is the right error to control, not the family-wise
    one (which would hide all but extreme service points).

    References
    ----------
    Agresti, A. (2013). *Categorical Data Analysis*, 3rd ed. Wiley, section 3.5.1
    (Fisher's exact test for 2 × 2 tables).
    Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery rate: a practical
    and powerful approach to multiple testing. *Journal of the Royal Statistical Society B*
    57(1), 289–300.

    Examples
    --------
    3 "yes" of 4 answers at one service point, 2 of 20 at the others:
    :math:`p = (\binom{5}{3}\binom{19}{1} + \binom{5}{4}) / \binom{24}{4} = 195 / 10626`.

    >>> tests = rates_above_rest([3, 2], answers=[4, 20], adjust="none")
    >>> round(float(tests.p_value[0]), 6), tests.significant.tolist()
    (0.018351, [True, False])
    """
    if adjust not in RATE_ADJUSTMENTS:
        raise ValueError(f"adjust must be one of {', '.join(RATE_ADJUSTMENTS)}, not {adjust!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}")
    x, n = _counts(reports, "reports"), _counts(answers, "answers")
    if x.shape != n.shape:
        raise ValueError("reports and answers must have the same length")
    if (x > n).any():
        raise ValueError("a unit cannot have more reports than answers")
    if family is None:
        codes = np.zeros(x.shape, dtype=np.intp)
    else:
        labels = np.asarray(family)
        if labels.shape != x.shape:
            raise ValueError("family must have one label per unit")
        codes = np.unique(labels, return_inverse=True)[1].reshape(x.shape).astype(np.intp)

    y = np.bincount(codes, weights=x).astype(np.int64)[codes] - x if x.size else x
    m = np.bincount(codes, weights=n).astype(np.int64)[codes] - n if n.size else n
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n > 0, x / np.maximum(n, 1), np.nan)
        rest_rate = np.where(m > 0, y / np.maximum(m, 1), np.nan)
    tested = (n > 0) & (m > 0)
    p_value = np.full(x.shape, np.nan)
    # P(X >= x) for X ~ hypergeometric(population n + m, k = x + y successes, n draws).
    p_value[tested] = stats.hypergeom.sf(x[tested] - 1, n[tested] + m[tested], x[tested] + y[tested], n[tested])
    p_adjusted = p_value.copy()
    if adjust == "bh":
        for code in np.unique(codes[tested]):
            members = tested & (codes == code)
            p_adjusted[members] = stats.false_discovery_control(p_value[members], method="bh")
    above = np.nan_to_num(rate) > np.nan_to_num(rest_rate)
    significant = tested & (np.nan_to_num(p_adjusted, nan=1.0) < alpha) & above
    return RateTests(
        rate=rate,
        rest_rate=rest_rate,
        p_value=p_value,
        p_adjusted=p_adjusted,
        significant=significant,
        alpha=float(alpha),
        adjust=adjust,
    )
