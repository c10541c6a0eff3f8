"""Survey weights: raking and trimming as R's ``survey`` package does them, and Kish effective n."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["RakeResult", "kish_n_eff", "rake", "trim_weights"]

#: ``rake(control = list(maxit = 100, epsilon = 1e-10))``.
RAKE_MAXIT = 100
RAKE_EPSILON = 1e-10
#: Trimming stops when no weight exceeds the bound by more than this relative amount
#: (R's test is exact and can recurse without end; see docs/methodology.md §4).
TRIM_RTOL = 1e-12
TRIM_MAX_ROUNDS = 10_000


@dataclass(frozen=True)
class RakeResult:
    """Outcome of :func:`rake`.

    Attributes
    ----------
    weights
        Raked weights, indexed like the input frame; they sum to the first variable's total.
    converged
        Whether the joint table of the raking variables changed by less than the tolerance
        between two sweeps within ``maxit`` sweeps (R's rule) and every margin is met to
        1e-6 of the total (a rake can cycle between two tables without meeting one).
    iterations
        Number of full sweeps run.
    """

    weights: pd.Series
    converged: bool
    iterations: int


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


def trim_weights(weights: npt.ArrayLike, *, upper: float) -> npt.NDArray[np.float64]:
    r"""Trim weights above ``upper`` and share the excess equally among the others.

    Parameters
    ----------
    weights
        Non-negative finite weights, at least one positive.
    upper
        Largest weight allowed (e.g. 5 × the mean weight); at least the mean weight.

    Returns
    -------
    numpy.ndarray
        Weights with the same total, none above ``upper`` by more than 1e-12 relative.

    Notes
    -----
    Each round sets every weight above ``upper`` to ``upper`` and adds the trimmed
    total, in equal parts, to every weight not above ``upper`` — including weights
    trimmed in an earlier round, which therefore exceed ``upper`` again and are trimmed
    once more. Rounds repeat until no weight exceeds ``upper``. This is what R's
    ``survey::trimWeights(design, upper, strict = TRUE)`` does (additive, not
    proportional, redistribution); R's stopping test is exact and on some data recurses
    until R's stack is exhausted, so here a round only counts weights above
    ``upper × (1 + 1e-12)``.

    References
    ----------
    Potter, F. J. (1990). A study of procedures to identify and trim extreme sampling
    weights. *Proc. Survey Research Methods Section, ASA*, 225–230.
    Lumley, T. (2010). *Complex Surveys: A Guide to Analysis Using R*. Wiley, §7.

    Examples
    --------
    >>> trim_weights([1.0, 1.0, 1.0, 9.0], upper=5.0).tolist()
    [2.333333333333333, 2.333333333333333, 2.333333333333333, 5.0]
    """
    w = _as_weights(weights, "weights")
    if not np.isfinite(upper) or upper * len(w) < w.sum() * (1 - 1e-12):
        raise ValueError(f"upper must be at least the mean weight, got {upper!r}")
    group = np.zeros(len(w), dtype=np.intp)
    trimmed, _ = _trim_cells(group, np.ones(len(w)), w, np.array([float(upper)]))
    return trimmed


def rake(
    frame: pd.DataFrame,
    margins: Mapping[str, Mapping[str, float]],
    *,
    weights: npt.ArrayLike | None = None,
    maxit: int = RAKE_MAXIT,
    epsilon: float = RAKE_EPSILON,
) -> RakeResult:
    r"""Rake weights to population margins by iterative proportional fitting.

    Parameters
    ----------
    frame
        One row per respondent, with a column for each raking variable.
    margins
        ``{variable: {category: population}}``, e.g.
        ``{"sex": {"female": 520, "male": 480}}``, visited in this order. Every category
        present in ``frame`` must have a positive population and every category with a
        positive population must be present in ``frame``.
    weights
        Starting (design) weights; equal weights when omitted.
    maxit
        Largest number of sweeps.
    epsilon
        Convergence tolerance. Below 1 it is relative: ``epsilon`` × the sum of the
        starting weights.

    Returns
    -------
    RakeResult
        Weights summing to the last variable's total, plus convergence information.

    Notes
    -----
    Raking (Deming & Stephan 1940) finds weights :math:`w_i = d_i \prod_v a_{v,c_v(i)}`
    whose weighted one-way tables match the margins :math:`N_{vc}`. Each sweep
    post-stratifies on each variable in turn: the weights of category *c* of variable
    *v* are multiplied by :math:`N_{vc} / \sum_{i: c_v(i)=c} w_i`. Sweeps stop when the
    largest absolute change of the *joint* weighted table of all raking variables
    between two sweeps is below the tolerance, at most ``maxit`` sweeps: the rule of R's
    ``survey::rake`` (Lumley 2010, §7.3), so that ``rake(svydesign(ids = ~1, data = d),
    ..., control = list(maxit, epsilon))`` and this function stop at the same sweep. A rake
    that stops by that rule while a margin is still missed by more than 1e-6 of the total
    (it cycles between two tables; R reports success) is not ``converged``.
    Rescale the margins to one total first: IPF cannot match variables whose totals
    differ.

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
    start = np.ones(n) if weights is None else _as_weights(weights, "weights")
    if len(start) != n:
        raise ValueError(f"weights has {len(start)} values but frame has {n} rows")
    if maxit < 1 or not epsilon > 0:
        raise ValueError("maxit must be at least 1 and epsilon positive")
    cats, targets = [], []
    for variable, table in margins.items():
        if variable not in frame.columns:
            raise ValueError(f"frame has no column {variable!r} to rake on")
        levels = list(table)
        pop = np.array([table[c] for c in levels], dtype=float)
        if not np.all(np.isfinite(pop)) or np.any(pop < 0) or pop.sum() <= 0:
            raise ValueError(f"margins for {variable!r} must be non-negative with a positive total")
        codes = pd.Categorical(frame[variable], categories=levels).codes.astype(np.intp)
        if (codes < 0).any():
            raise ValueError(
                f"{int((codes < 0).sum())} respondent(s) have {variable!r} missing or outside "
                "its margins; impute or drop them before raking"
            )
        present = np.bincount(codes, minlength=len(levels)) > 0
        if np.any(present & (pop <= 0)) or np.any(~present & (pop > 0)):
            raise ValueError(
                f"{variable!r}: every category with respondents needs a positive population "
                "and every category with population needs respondents; merge sparse ones first"
            )
        cats.append(codes)
        targets.append(pop[None, :])
    combo = np.zeros(n, dtype=np.intp)
    for codes, target in zip(cats, targets, strict=True):
        combo = combo * target.shape[1] + codes
    result = _rake_cells(
        np.zeros(n, dtype=np.intp),
        cats,
        np.ones(n),
        start,
        targets,
        1,
        maxit=maxit,
        epsilon=epsilon,
        epsilon_base=np.array([start.sum()]),
        joint=np.unique(combo, return_inverse=True)[1],
    )
    return RakeResult(
        weights=pd.Series(result.weights, index=frame.index, name="weight"),
        converged=bool(result.converged[0]),
        iterations=int(result.iterations[0]),
    )


# -- vectorised engines shared with score_communes ---------------------------------


@dataclass(frozen=True)
class _Raked:
    weights: npt.NDArray[np.float64]
    converged: npt.NDArray[np.bool_]
    iterations: npt.NDArray[np.intp]
    step_weights: list[npt.NDArray[np.float64]]


def _rake_cells(
    group: npt.NDArray[np.intp],
    cats: Sequence[npt.NDArray[np.intp]],
    count: npt.NDArray[np.float64],
    start: npt.NDArray[np.float64],
    targets: Sequence[npt.NDArray[np.float64]],
    n_groups: int,
    *,
    maxit: int,
    epsilon: float,
    epsilon_base: npt.NDArray[np.float64],
    joint: npt.NDArray[np.intp] | None = None,
) -> _Raked:
    """IPF with R's stopping rule over many independent groups (communes) at once.

    A cell is a set of ``count`` respondents of one group sharing every raking category
    in use, so they share one weight, and the cells are the entries of R's joint table.
    ``cats[v]`` holds each cell's category code for variable v and ``targets[v]`` the
    (groups × categories) population, a NaN row for groups not raked on v. ``joint``
    maps cells to the entries of R's joint table (default: each cell is one; entries
    never span groups). A group stops when the largest change of its entries over a
    sweep is below
    ``epsilon`` × ``epsilon_base`` (its starting total). Also returns, per variable, the
    cell weights right after that variable's step of the last sweep (R keeps them as the
    post-strata of the raked design, which the variance uses).
    """
    w = np.asarray(start, dtype=float).copy()
    tol = epsilon * epsilon_base if epsilon < 1 else np.full(n_groups, float(epsilon))
    if joint is None:
        joint = np.arange(len(w))
    n_entries = int(joint.max()) + 1 if len(joint) else 0
    entry_group = np.zeros(n_entries, dtype=np.intp)
    entry_group[joint] = group
    order = np.argsort(entry_group, kind="stable")
    sorted_group = entry_group[order]
    bounds = np.flatnonzero(np.r_[True, sorted_group[1:] != sorted_group[:-1]])
    present_groups = sorted_group[bounds] if len(order) else np.empty(0, np.intp)
    uses: npt.NDArray[np.bool_] = np.zeros(n_groups, dtype=bool)
    steps = []
    for codes, target in zip(cats, targets, strict=True):
        k = target.shape[1]
        used = np.all(np.isfinite(target), axis=1, keepdims=False).reshape(-1)
        uses |= used
        flat = np.where(np.isfinite(target), target, 0.0).ravel()
        steps.append((group * k + codes, flat, used, k))
    active = uses.copy()
    converged = np.zeros(n_groups, dtype=bool)
    converged[~uses] = True
    iterations = np.zeros(n_groups, dtype=np.intp)
    step_weights = [w.copy() for _ in steps]
    old = count * w
    sweep = 0
    while sweep < maxit and active.any():
        live = active[group]
        for v, (index, flat, used, k) in enumerate(steps):
            moving = live & used[group]
            if not moving.any():
                continue
            reached = np.bincount(index[moving], weights=(count * w)[moving], minlength=n_groups * k)
            factor = np.ones_like(reached)
            np.divide(flat, reached, out=factor, where=reached > 0)
            w[moving] *= factor[index[moving]]
            step_weights[v][moving] = w[moving]
        new = count * w
        delta = np.zeros(n_groups)
        if len(order):
            change = np.abs(np.bincount(joint, weights=new - old, minlength=n_entries))
            delta[present_groups] = np.maximum.reduceat(change[order], bounds)
        sweep += 1
        iterations[active] = sweep
        done = active & (delta < tol)
        converged |= done
        active &= ~done
        old = new
    # R's rule can stop a rake that cycles between two joint tables without meeting a
    # margin; such a rake is not converged either.
    converged &= _margins_met(count * w, steps, n_groups)
    return _Raked(w, converged, iterations, step_weights)


#: A margin missed by more than this share of the group's total: not converged.
MARGIN_RTOL = 1e-6


def _margins_met(weighted: npt.NDArray[np.float64], steps: list, n_groups: int) -> npt.NDArray[np.bool_]:
    """Per group: every margin of every variable in use met to ``MARGIN_RTOL`` × total."""
    ok = np.ones(n_groups, dtype=bool)
    for index, flat, used, k in steps:
        reached = np.bincount(index, weights=weighted, minlength=n_groups * k)
        gap = np.abs(reached - flat).reshape(n_groups, k).max(axis=1)
        total = flat.reshape(n_groups, k).sum(axis=1)
        ok &= ~used | (gap <= MARGIN_RTOL * total)
    return ok


def _trim_cells(
    group: npt.NDArray[np.intp],
    count: npt.NDArray[np.float64],
    weight: npt.NDArray[np.float64],
    upper: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """R's strict ``trimWeights`` per group, on cells of ``count`` equal weights.

    ``upper`` is the bound per group (NaN or inf: not trimmed). Returns the weights and,
    per group, whether any weight was trimmed.
    """
    w = np.asarray(weight, dtype=float).copy()
    n_groups = len(upper)
    bound = np.where(np.isfinite(upper), upper, np.inf)
    limit = bound[group]
    trimmed = np.zeros(n_groups, dtype=bool)
    for _ in range(TRIM_MAX_ROUNDS):
        outside = w > limit * (1.0 + TRIM_RTOL)
        if not outside.any():
            break
        hit = np.bincount(group, weights=outside, minlength=n_groups) > 0
        trimmed |= hit
        excess = np.bincount(group, weights=count * np.where(outside, w - limit, 0.0), minlength=n_groups)
        inside = np.bincount(group, weights=count * ~outside, minlength=n_groups)
        share = np.zeros(n_groups)
        np.divide(excess, inside, out=share, where=hit & (inside > 0))
        w = np.where(outside, limit, w + share[group])
    return w, trimmed


def _as_weights(values: npt.ArrayLike, name: str) -> npt.NDArray[np.float64]:
    w = np.asarray(values, dtype=float).ravel()
    if w.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"{name} must be finite and non-negative")
    if not np.any(w > 0):
        raise ValueError(f"{name} must include at least one positive weight")
    return w
