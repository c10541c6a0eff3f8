"""Ranks and PAPI-style quartile groups (highest, high-average, low-average, lowest)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = [
    "GROUPS",
    "RANK_DRAWS",
    "RANK_SEED",
    "group_sizes",
    "rank_and_group",
    "rank_intervals",
    "standard_draws",
]

GROUPS: tuple[str, ...] = ("highest", "high-average", "low-average", "lowest")
#: Draws and seed of the rank intervals (the seed is the date of plan 170/KH-UBND).
RANK_DRAWS = 1000
RANK_SEED = 20190425

# When m is not a multiple of 4 the r = m mod 4 extra units go to the groups in this
# order: highest, lowest, high-average. It reproduces PAPI 2020 (63 -> 16/16/15/16).
_EXTRA_ORDER = (0, 3, 1, 2)


def group_sizes(m: int) -> tuple[int, int, int, int]:
    """Sizes of the four groups for ``m`` ranked units.

    Parameters
    ----------
    m
        Number of units ranked.

    Returns
    -------
    tuple of int
        Sizes of ``highest, high-average, low-average, lowest``: each is ``m // 4``,
        and the ``m % 4`` remaining units go one each to highest, then lowest, then
        high-average.

    Examples
    --------
    >>> group_sizes(63)
    (16, 16, 15, 16)
    >>> group_sizes(99)
    (25, 25, 24, 25)
    """
    if m < 0:
        raise ValueError("m must be non-negative")
    q, r = divmod(int(m), 4)
    sizes = [q] * 4
    for position in _EXTRA_ORDER[:r]:
        sizes[position] += 1
    return (sizes[0], sizes[1], sizes[2], sizes[3])


def rank_and_group(
    frame: pd.DataFrame,
    *,
    by: str | list[str],
    score: str = "score",
    eligible: str | None = None,
) -> pd.DataFrame:
    """Rank units within each ``by`` group (1 = best) and split them into four groups.

    Parameters
    ----------
    frame
        Table with the score column and the grouping columns.
    by
        Column(s) defining what is ranked together (e.g. ``["level", "code"]``).
    score
        Column to rank on; higher is better. NaN scores are not ranked.
    eligible
        Optional boolean column; rows where it is False are not ranked
        (e.g. flagged ``insufficient``).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``frame``, with ``rank`` (nullable Int64) and ``group`` (str or NaN).

    Notes
    -----
    Ties share the smallest rank (``method="min"``, 1, 2, 2, 4) and the group of
    that position, so tied units are never split across groups. Group sizes follow
    :func:`group_sizes`.
    """
    keys = [by] if isinstance(by, str) else list(by)
    missing = [c for c in [*keys, score] if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks column(s) {', '.join(missing)}")
    values = frame[score].astype(float)
    mask = values.notna()
    if eligible is not None:
        mask &= frame[eligible].astype(bool)
    ranked = values.where(mask)
    grouped = ranked.groupby([frame[k] for k in keys], sort=False)
    rank = grouped.rank(method="min", ascending=False)
    m = grouped.transform("count").to_numpy(dtype=float)
    q, r = np.floor_divide(m, 4), np.mod(m, 4)
    # Extra units by r: highest if r >= 1, high-average if r >= 3, low-average never,
    # lowest if r >= 2 (the order of _EXTRA_ORDER).
    sizes = [q + (r >= 1), q + (r >= 3), q, q + (r >= 2)]
    bound1 = sizes[0]
    bound2 = bound1 + sizes[1]
    bound3 = bound2 + sizes[2]
    position = rank.to_numpy(dtype=float) - 1
    index: npt.NDArray[np.float64] = (position >= bound1).astype(float) + (position >= bound2) + (position >= bound3)
    labels = np.array(GROUPS, dtype=object)
    has_rank = np.isfinite(position)
    group = np.full(len(frame), np.nan, dtype=object)
    group[has_rank] = labels[index[has_rank].astype(int)]
    return pd.DataFrame(
        {
            "rank": rank.where(has_rank).astype("Int64"),
            "group": pd.Series(group, index=frame.index, dtype="str"),
        },
        index=frame.index,
    )


def rank_intervals(
    estimate: npt.ArrayLike,
    se: npt.ArrayLike,
    *,
    level: float = 0.95,
    draws: int = RANK_DRAWS,
    seed: int = RANK_SEED,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    r"""Intervals for ranks (1 = best) from the estimates' uncertainty.

    Parameters
    ----------
    estimate, se
        Estimates (higher is better) and their root MSE, shape (m,), all finite.
    level
        Coverage of the interval.
    draws
        Number of simulated rankings.
    seed
        Seed of ``numpy.random.default_rng``: the same data always gives the same
        intervals.

    Returns
    -------
    tuple of numpy.ndarray
        ``(low, high)``: for each unit the lower ((1 − level)/2, ``method="lower"``) and
        upper ((1 + level)/2, ``method="higher"``) quantiles of its rank over ``draws``
        draws :math:`\theta^{(b)}_c \sim N(\hat\theta_c, \widehat{SE}_c^2)`,
        independently across units.

    Notes
    -----
    Draw b ranks unit c at :math:`r^{(b)}_c = 1 + \#\{j : \theta^{(b)}_j > \theta^{(b)}_c\}
    + \#\{j < c : \theta^{(b)}_j = \theta^{(b)}_c\}` (ties by position). The bounds are
    the order statistics :math:`r_{c,(\lfloor (B-1)\alpha/2 \rfloor)}` and
    :math:`r_{c,(\lceil (B-1)(1-\alpha/2) \rceil)}` (0-based) of the B draws, what
    ``numpy.quantile`` returns with ``method="lower"`` / ``"higher"``, found by a partial
    selection (``numpy.partition``) rather than a full sort; cost
    :math:`O(B\, m \log m)` time for the B argsorts and :math:`O(B\, m)` memory
    (int32 ranks).

    References
    ----------
    Goldstein, H. & Spiegelhalter, D. J. (1996). League tables and their limitations:
    statistical issues in comparisons of institutional performance. *JRSS A* 159(3),
    385–443.

    Examples
    --------
    >>> rank_intervals([3.0, 2.0, 1.0], [0.01, 0.01, 0.01])
    (array([1., 2., 3.]), array([1., 2., 3.]))
    """
    theta = np.asarray(estimate, dtype=float).ravel()
    sd = np.asarray(se, dtype=float).ravel()
    if theta.shape != sd.shape or not (np.all(np.isfinite(theta)) and np.all(np.isfinite(sd))):
        raise ValueError("estimate and se must be finite arrays of the same length")
    if np.any(sd < 0):
        raise ValueError("se must be non-negative")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level!r}")
    m = theta.size
    if m == 0:
        return np.empty(0), np.empty(0)
    return _intervals(theta, sd, standard_draws(draws, m, seed), level)


def standard_draws(draws: int, m: int, seed: int = RANK_SEED) -> npt.NDArray[np.float64]:
    """The standard normal draws of :func:`rank_intervals`, shape (draws, m).

    They depend only on the seed and the shape, so a caller ranking several codes over
    the same number of units draws them once and passes them to :func:`_intervals`.
    """
    return np.random.default_rng(seed).standard_normal((draws, m))


def _intervals(
    theta: npt.NDArray[np.float64],
    sd: npt.NDArray[np.float64],
    normals: npt.NDArray[np.float64],
    level: float,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """:func:`rank_intervals` from given standard normal draws (left unchanged)."""
    draws, m = normals.shape
    # Minus the draws, so that ascending order is rank order (1 = best); the same
    # arithmetic as theta + sd * z.
    sample = np.multiply(normals, sd)
    sample += theta
    np.negative(sample, out=sample)
    order = _rank_order(sample)
    del sample
    # ranks[c, b]: rank of unit c in draw b; a unit's draws lie contiguous for the selection.
    ranks = np.empty((m, draws), dtype=np.int32 if m < 2**31 else np.int64)
    ranks[order, np.arange(draws)[:, None]] = np.arange(1, m + 1, dtype=ranks.dtype)
    del order
    # The order statistics that np.quantile(..., method="lower" / "higher") returns.
    alpha = 1 - level
    k_low = int(np.floor((draws - 1) * np.float64(alpha / 2)))
    k_high = int(np.ceil((draws - 1) * np.float64(1 - alpha / 2)))
    ranks.partition((k_low, k_high), axis=1)
    return ranks[:, k_low].astype(float), ranks[:, k_high].astype(float)


def _rank_order(sample: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
    """Per row, the positions in ascending order, ties in position order (a stable argsort).

    An unstable argsort is twice as fast and gives the same order on rows without ties
    (continuous draws tie only where two units have the same estimate and SE 0); rows
    with a tie are sorted again with a stable sort.
    """
    order = np.argsort(sample, axis=1)
    ordered = np.take_along_axis(sample, order, axis=1)
    tied = np.flatnonzero((ordered[:, 1:] == ordered[:, :-1]).any(axis=1))
    if tied.size:
        order[tied] = np.argsort(sample[tied], axis=1, kind="stable")
    return order
