"""Survey weights: raking (iterative proportional fitting), capping and Kish effective n."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["RakeResult", "cap_weights", "kish_n_eff", "rake"]

#: Default convergence tolerance: largest relative gap between a weighted
#: margin and its target in a full IPF sweep.
RAKE_TOL = 1e-8
RAKE_MAX_ITER = 1000


@dataclass(frozen=True)
class RakeResult:
    """Outcome of :func:`rake`.

    Attributes
    ----------
    weights
        Raked weights, indexed like the input frame; they sum to the population total.
    converged
        Whether every margin was met to the tolerance within ``max_iter`` sweeps.
    iterations
        Number of full IPF sweeps run.
    collapsed
        Raking variables that had a margin category without any respondent; that
        category was dropped and the variable's other margins rescaled to its total.
    """

    weights: pd.Series
    converged: bool
    iterations: int
    collapsed: tuple[str, ...]


def kish_n_eff(weights: npt.ArrayLike) -> float:
    r"""Kish effective sample size of a set of weights.

    Parameters
    ----------
    weights
        Non-negative finite weights, at least one positive.

    Returns
    -------
    float
        :math:`n_{\mathrm{eff}} = (\sum_i w_i)^2 / \sum_i w_i^2`; equals n for equal
        weights and shrinks as the weights become more unequal.

    Notes
    -----
    The design effect due to unequal weighting is :math:`n / n_{\mathrm{eff}} =
    1 + \mathrm{CV}^2(w)`. It ignores any correlation between weights and the outcome.

    References
    ----------
    Kish, L. (1965). *Survey Sampling*. New York: Wiley, §11.7.

    Examples
    --------
    >>> kish_n_eff([1, 1, 1, 1])
    4.0
    >>> kish_n_eff([1, 3])
    1.6
    """
    w = _as_weights(weights, "weights")
    return float(w.sum() ** 2 / np.square(w).sum())


def cap_weights(weights: npt.ArrayLike, *, cap: float = 5.0) -> npt.NDArray[np.float64]:
    r"""Cap weights at ``cap`` times their mean, keeping their total.

    Parameters
    ----------
    weights
        Non-negative finite weights, at least one positive.
    cap
        Largest allowed ratio of a weight to the mean weight; must be >= 1.

    Returns
    -------
    numpy.ndarray
        Weights with :math:`\max_i w_i \le c\,\bar w` and :math:`\sum_i w_i` unchanged.

    Notes
    -----
    With :math:`T = \sum w_i` and :math:`\bar w = T / n` (constant, because the total
    is kept), repeat until no weight exceeds :math:`c\bar w`: set every weight above
    the cap to :math:`c\bar w`, then multiply the weights still below the cap by
    :math:`(T - \sum_{\text{capped}} w) / \sum_{\text{uncapped}} w`. Capped weights stay
    at the cap (otherwise rescaling would push them back above it for ever), so the
    loop ends after at most n rounds. This is the "trimming with redistribution" of
    Potter (1990) and of R's ``survey::trimWeights(strict = TRUE)``.

    References
    ----------
    Potter, F. J. (1990). A study of procedures to identify and trim extreme sampling
    weights. *Proc. Survey Research Methods Section, ASA*, 225–230.
    Lumley, T. (2010). *Complex Surveys: A Guide to Analysis Using R*. Wiley, §7.

    Examples
    --------
    >>> cap_weights([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 91.0], cap=5.0).round(3)
    array([ 5.556,  5.556,  5.556,  5.556,  5.556,  5.556,  5.556,  5.556,
            5.556, 50.   ])
    """
    w = _as_weights(weights, "weights")
    _check_cap(cap)
    group = np.zeros(len(w), dtype=np.intp)
    capped, _ = _cap_cells(group, np.ones(len(w)), w, 1, cap)
    return capped


def rake(
    frame: pd.DataFrame,
    margins: Mapping[str, Mapping[str, float]],
    *,
    weights: npt.ArrayLike | None = None,
    tol: float = RAKE_TOL,
    max_iter: int = RAKE_MAX_ITER,
) -> RakeResult:
    r"""Rake weights to population margins by iterative proportional fitting.

    Parameters
    ----------
    frame
        One row per respondent, with a column for each raking variable.
    margins
        ``{variable: {category: population}}``, e.g.
        ``{"sex": {"female": 520, "male": 480}}``. Every category present in ``frame``
        must have a positive population.
    weights
        Starting (design) weights; equal weights when omitted.
    tol
        Convergence tolerance: stop when, over a full sweep, every weighted margin is
        within a relative ``tol`` of its target.
    max_iter
        Largest number of sweeps.

    Returns
    -------
    RakeResult
        Weights summing to the population total (the first variable's total), plus
        convergence information.

    Notes
    -----
    Raking (Deming & Stephan 1940) finds weights :math:`w_i = d_i \prod_v a_{v,c_v(i)}`
    whose weighted one-way tables match the margins :math:`N_{vc}`. Each sweep visits
    the variables in turn and multiplies the weights of category *c* of variable *v* by
    :math:`N_{vc} / \sum_{i: c_v(i)=c} w_i`; this is the algorithm of R's
    ``survey::rake`` (Lumley 2010, §7.3), here run to a tight tolerance.

    A margin category without respondents cannot be matched: it is dropped and the
    variable's remaining margins are rescaled to the variable's total (listed in
    ``collapsed``). Variables whose totals differ (e.g. age margins for adults only) are
    all rescaled to the first variable's total, because IPF cannot match inconsistent
    totals; proportions, hence estimates, are unaffected.

    References
    ----------
    Deming, W. E. & Stephan, F. F. (1940). On a least squares adjustment of a sampled
    frequency table when the expected marginal totals are known. *Ann. Math. Stat.*
    11(4), 427–444.
    Lumley, T. (2010). *Complex Surveys: A Guide to Analysis Using R*. Wiley, §7.3.

    Examples
    --------
    >>> frame = pd.DataFrame({"sex": ["female", "male", "male", "male"]})
    >>> rake(frame, {"sex": {"female": 50, "male": 50}}).weights.tolist()
    [50.0, 16.666666666666668, 16.666666666666668, 16.666666666666668]
    """
    if not isinstance(frame, pd.DataFrame):
        raise ValueError("frame must be a pandas DataFrame")
    if not margins:
        raise ValueError("margins must name at least one raking variable")
    n = len(frame)
    if n == 0:
        raise ValueError("cannot rake an empty frame")
    if weights is None:
        start = np.ones(n)
    else:
        start = _as_weights(weights, "weights")
        if len(start) != n:
            raise ValueError(f"weights has {len(start)} values but frame has {n} rows")
    variables = list(margins)
    cats: list[npt.NDArray[np.intp]] = []
    pops: list[npt.NDArray[np.float64]] = []
    for variable in variables:
        if variable not in frame.columns:
            raise ValueError(f"frame has no column {variable!r} to rake on")
        levels = list(margins[variable])
        pop = np.array([margins[variable][c] for c in levels], dtype=float)
        if not np.all(np.isfinite(pop)) or np.any(pop < 0) or pop.sum() <= 0:
            raise ValueError(f"margins for {variable!r} must be non-negative with a positive total")
        codes = pd.Categorical(frame[variable], categories=levels).codes
        bad = codes < 0
        if bad.any():
            examples = sorted(map(str, frame.loc[bad, variable].unique()))[:5]
            raise ValueError(
                f"{int(bad.sum())} respondent(s) have {variable!r} missing or outside its "
                f"margins ({', '.join(examples)}); impute or drop them before raking"
            )
        cats.append(codes.astype(np.intp))
        pops.append(pop)
    group = np.zeros(n, dtype=np.intp)
    count = np.ones(n)
    total = np.array([pops[0].sum()])
    targets = []
    collapsed = []
    for variable, codes, pop in zip(variables, cats, pops, strict=True):
        present = np.bincount(codes, minlength=len(pop))[None, :] > 0
        target, was_collapsed, empty_pop = _margin_targets(present, pop[None, :], total)
        if empty_pop.any():
            category = list(margins[variable])[int(np.flatnonzero(empty_pop[0])[0])]
            raise ValueError(
                f"respondents are in {variable}={category!r} but its population margin is 0"
            )
        if was_collapsed[0]:
            collapsed.append(variable)
        targets.append(target)
    raked, converged, iterations = _rake_cells(
        group, cats, count, start, targets, 1, tol=tol, max_iter=max_iter
    )
    return RakeResult(
        weights=pd.Series(raked, index=frame.index, name="weight"),
        converged=bool(converged[0]),
        iterations=iterations,
        collapsed=tuple(collapsed),
    )


# -- vectorised engines shared with score_communes ---------------------------------


def _margin_targets(
    present: npt.NDArray[np.bool_],
    population: npt.NDArray[np.float64],
    total: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Targets per group × category after dropping empty categories.

    ``present`` and ``population`` are (groups × categories); a row of NaN population
    means the group is not raked on this variable. Returns the targets (NaN rows kept),
    whether a positive-population category was dropped, and the cells where
    respondents sit in a zero-population category (an input error).
    """
    has_margin = np.isfinite(population).all(axis=1)
    pop = np.where(has_margin[:, None], population, 0.0)
    kept = np.where(present, pop, 0.0)
    collapsed = has_margin & ((pop > 0) & ~present).any(axis=1)
    empty_pop = has_margin[:, None] & present & (pop <= 0)
    kept_total = kept.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(kept_total > 0, total / kept_total, 0.0)
    target = kept * scale[:, None]
    target[~has_margin] = np.nan
    return target, collapsed, empty_pop


def _rake_cells(
    group: npt.NDArray[np.intp],
    cats: Sequence[npt.NDArray[np.intp]],
    count: npt.NDArray[np.float64],
    start: npt.NDArray[np.float64],
    targets: Sequence[npt.NDArray[np.float64]],
    n_groups: int,
    *,
    tol: float,
    max_iter: int,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], int]:
    """IPF over many independent groups at once.

    A cell is a set of ``count`` respondents of one group sharing every raking
    category, so they share one weight; ``cats[v]`` holds the category code of each
    cell for variable v and ``targets[v]`` the (groups × categories) targets, NaN for
    groups not raked on v. Returns cell weights, per-group convergence and sweeps.
    """
    if tol <= 0 or max_iter < 1:
        raise ValueError("tol must be positive and max_iter at least 1")
    w = np.asarray(start, dtype=float).copy()
    # Groups without cells are trivially converged; the others are fitted together,
    # and a group leaves the working set once a full sweep moved none of its margins
    # by more than tol (so a few slow groups do not cost a pass over all cells).
    done = np.bincount(group, minlength=n_groups) == 0
    live = np.arange(len(w))
    iterations = 0
    while live.size:
        groups, local = np.unique(group[live], return_inverse=True)
        m = len(groups)
        weight_live, count_live = w[live], count[live]
        steps = []
        for codes, target in zip(cats, targets, strict=True):
            k = target.shape[1]
            flat = target[groups].ravel()
            steps.append((local * k + codes[live], flat, np.isfinite(flat) & (flat > 0), k))
        finished = np.zeros(m, dtype=bool)
        while iterations < max_iter:
            iterations += 1
            worst = np.zeros(m)
            for index, flat, wanted, k in steps:
                reached = np.bincount(index, weights=count_live * weight_live, minlength=m * k)
                factor = np.ones_like(reached)
                np.divide(flat, reached, out=factor, where=wanted & (reached > 0))
                np.maximum(worst, np.abs(factor - 1.0).reshape(m, k).max(axis=1), out=worst)
                weight_live *= factor[index]
            finished = worst < tol
            if finished.any():
                break
        w[live] = weight_live
        done[groups[finished]] = True
        if iterations >= max_iter or finished.all():
            break
        live = live[~finished[local]]
    return w, done, iterations


def _cap_cells(
    group: npt.NDArray[np.intp],
    count: npt.NDArray[np.float64],
    weight: npt.NDArray[np.float64],
    n_groups: int,
    cap: float,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Cap cell weights at ``cap`` × the group's mean weight, keeping group totals.

    Returns the capped weights and, per group, whether any weight was capped.
    """
    w = np.asarray(weight, dtype=float).copy()
    total = np.bincount(group, weights=count * w, minlength=n_groups)
    size = np.bincount(group, weights=count, minlength=n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = (total / size)[group]
    # Raking that cannot meet its margins may drive weights towards 0; a floor of
    # 1e-9 x mean keeps the redistribution below finite (its effect is < 1e-9).
    w = np.maximum(w, 1e-9 * mean)
    total = np.bincount(group, weights=count * w, minlength=n_groups)
    limit = cap * mean
    fixed = np.zeros(len(w), dtype=bool)
    # Each round fixes at least one more cell at the cap, so len(w) + 1 rounds suffice.
    for _ in range(len(w) + 1):
        over = ~fixed & (w > limit * (1.0 + 1e-12))
        if not over.any():
            break
        fixed |= over
        w[fixed] = limit[fixed]
        fixed_total = np.bincount(group, weights=count * w * fixed, minlength=n_groups)
        free_total = np.bincount(group, weights=count * w * ~fixed, minlength=n_groups)
        factor = np.ones(n_groups)
        np.divide(total - fixed_total, free_total, out=factor, where=free_total > 0)
        w = np.where(fixed, w, w * factor[group])
    capped = np.bincount(group, weights=fixed, minlength=n_groups) > 0
    return w, capped


def _as_weights(values: npt.ArrayLike, name: str) -> npt.NDArray[np.float64]:
    w = np.asarray(values, dtype=float).ravel()
    if w.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"{name} must be finite and non-negative")
    if not np.any(w > 0):
        raise ValueError(f"{name} must include at least one positive weight")
    return w


def _check_cap(cap: float) -> None:
    if not np.isfinite(cap) or cap < 1:
        raise ValueError(f"cap must be a number >= 1 (times the mean weight), got {cap!r}")
