"""One weighted design per commune: imputation, sparse categories merged, raking, trimming."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from analysis._inputs import CATEGORIES, RAKING_VARIABLES
from analysis.collapse import collapse_categories
from analysis.weights import RAKE_EPSILON, RAKE_MAXIT, _rake_cells, _trim_cells

__all__ = ["CommuneDesigns", "build_designs"]


@dataclass(frozen=True)
class CommuneDesigns:
    """Raked and trimmed weights of every commune's respondents, held per cell.

    A cell is the set of respondents of one commune who share the (merged) category of
    every raking variable in use there; they share one weight. Arrays per cell:
    ``commune`` (index into the commune list), ``count`` (respondents), ``weight``
    (final weight), and per raking variable v: ``margin[v]`` (index of the cell's
    post-stratum, commune × merged category) and ``step_weight[v]`` (the weight right
    after v's step of the last raking sweep). ``cell_of`` gives each respondent's cell
    (-1 when not in any design: no scored answer). Per commune: ``size`` (respondents),
    ``raked_on[v]`` (bool), and the flags ``unweighted``, ``collapsed[v]``,
    ``not_raked[v]``, ``trimmed``.
    """

    cell_of: npt.NDArray[np.intp]
    commune: npt.NDArray[np.intp]
    count: npt.NDArray[np.float64]
    weight: npt.NDArray[np.float64]
    margin: dict[str, npt.NDArray[np.intp]]
    step_weight: dict[str, npt.NDArray[np.float64]]
    size: npt.NDArray[np.float64]
    raked_on: dict[str, npt.NDArray[np.bool_]]
    unweighted: npt.NDArray[np.bool_]
    collapsed: dict[str, npt.NDArray[np.bool_]]
    not_raked: dict[str, npt.NDArray[np.bool_]]
    trimmed: npt.NDArray[np.bool_]

    @property
    def n_communes(self) -> int:
        """Number of communes (rows of the per-commune arrays)."""
        return len(self.size)


def build_designs(
    commune: npt.NDArray[np.intp],
    categories: dict[str, npt.NDArray[np.int8]],
    in_design: npt.NDArray[np.bool_],
    population: dict[str, npt.NDArray[np.float64]],
    *,
    n_communes: int,
    min_cell: int = 5,
    cap: float = 5.0,
    labels: tuple[str, ...] | None = None,
) -> CommuneDesigns:
    """Weights per commune, following docs/methodology.md §4.

    Parameters
    ----------
    commune
        Commune index of each respondent (length R).
    categories
        Per raking variable, each respondent's category code (-1 = missing).
    in_design
        Respondents to weight (not flagged, at least one scored answer).
    population
        Per raking variable, a (communes × categories) population table; a row of NaN
        means the commune has no margins for that variable.
    n_communes
        Number of communes.
    min_cell
        Smallest category size that stands alone (see :func:`analysis.collapse_categories`).
    cap
        Trim weights above ``cap`` × the commune's mean weight.
    labels
        Commune codes, for error messages.

    Returns
    -------
    CommuneDesigns

    Raises
    ------
    ValueError
        When respondents sit in a (merged) category whose population is 0.
    """
    who = np.flatnonzero(in_design)
    home = commune[who]
    size = np.bincount(home, minlength=n_communes).astype(float)
    has_any_margin = np.zeros(n_communes, dtype=bool)
    for v in RAKING_VARIABLES:
        has_any_margin |= np.isfinite(population[v]).all(axis=1)

    merged: dict[str, npt.NDArray[np.intp]] = {}
    targets: dict[str, npt.NDArray[np.float64]] = {}
    usable: dict[str, npt.NDArray[np.bool_]] = {}
    collapsed: dict[str, npt.NDArray[np.bool_]] = {}
    not_raked: dict[str, npt.NDArray[np.bool_]] = {}
    for v in RAKING_VARIABLES:
        k = len(CATEGORIES[v])
        codes = categories[v][who].astype(np.intp)
        seen = codes >= 0
        counts = np.bincount(home[seen] * k + codes[seen], minlength=n_communes * k).reshape(n_communes, k)
        answered = counts.sum(axis=1) > 0
        filled = np.where(seen, codes, counts.argmax(axis=1)[home])  # first maximum on ties
        counts = np.bincount(home * k + filled, minlength=n_communes * k).reshape(n_communes, k)
        pop = population[v]
        has_margin = np.isfinite(pop).all(axis=1)
        group_map = np.tile(np.arange(k), (n_communes, 1))
        merged_pop = np.full((n_communes, k), np.nan)
        use = has_margin & answered & (size > 0)
        was_collapsed = np.zeros(n_communes, dtype=bool)
        # A commune with no sparse category keeps its categories as they are (what
        # collapse_categories returns then), handled for all such communes at once.
        plain = use & (counts >= min_cell).all(axis=1)
        if not ((counts[plain] > 0) & (pop[plain] <= 0)).any():
            merged_pop[plain] = pop[plain]
            loop = np.flatnonzero(use & ~plain)
        else:  # the loop below names the first commune with an empty margin
            loop = np.flatnonzero(use)
        for c in loop:
            result = collapse_categories(v, counts[c], pop[c], min_cell=min_cell)
            group_map[c] = result.group
            use[c] = result.raked
            was_collapsed[c] = result.collapsed
            if result.raked:
                g_pop = np.bincount(result.group, weights=pop[c], minlength=k)
                g_count = np.bincount(result.group, weights=counts[c], minlength=k)
                bad = np.flatnonzero((g_count > 0) & (g_pop <= 0))
                if bad.size:
                    name = labels[c] if labels is not None else str(c)
                    cats = [CATEGORIES[v][i] for i in np.flatnonzero(np.isin(result.group, bad))]
                    raise ValueError(
                        f"commune {name}: respondents are in {v}={'/'.join(cats)}, whose "
                        "population margin is 0 or missing; add it to the margins"
                    )
                g_pop[result.n_groups :] = np.nan
                merged_pop[c] = g_pop
        merged[v] = group_map[home, filled]
        targets[v] = merged_pop
        usable[v] = use
        collapsed[v] = was_collapsed
        not_raked[v] = has_margin & (size > 0) & ~use

    raked, cell_of, cells = _rake_until_converged(home, merged, targets, usable, not_raked, n_communes)
    cell_commune, count, weight, margin, step_weight = cells
    mean = np.zeros(n_communes)
    np.divide(
        np.bincount(cell_commune, weights=count * weight, minlength=n_communes),
        size,
        out=mean,
        where=size > 0,
    )
    any_raked = np.zeros(n_communes, dtype=bool)
    for v in RAKING_VARIABLES:
        any_raked |= raked[v]
    upper = np.where(any_raked, cap * mean, np.inf)
    weight, trimmed = _trim_cells(cell_commune, count, weight, upper)

    respondent_cell = np.full(len(commune), -1, dtype=np.intp)
    respondent_cell[who] = cell_of
    return CommuneDesigns(
        cell_of=respondent_cell,
        commune=cell_commune,
        count=count,
        weight=weight,
        margin=margin,
        step_weight=step_weight,
        size=size,
        raked_on=raked,
        unweighted=(size > 0) & ~has_any_margin,
        collapsed={v: collapsed[v] & raked[v] for v in RAKING_VARIABLES},
        not_raked=not_raked,
        trimmed=trimmed,
    )


def _rake_until_converged(
    home: npt.NDArray[np.intp],
    merged: dict[str, npt.NDArray[np.intp]],
    targets: dict[str, npt.NDArray[np.float64]],
    usable: dict[str, npt.NDArray[np.bool_]],
    not_raked: dict[str, npt.NDArray[np.bool_]],
    n_communes: int,
) -> tuple[dict[str, npt.NDArray[np.bool_]], npt.NDArray[np.intp], tuple]:
    """Rake every commune; where raking does not converge drop the last variable in use
    and rake that commune again (``not_raked`` is updated in place)."""
    use = {v: usable[v].copy() for v in RAKING_VARIABLES}
    todo = np.ones(n_communes, dtype=bool)
    passes = []
    while True:
        cell_of, cells, keys = _cells(home, merged, use, n_communes)
        cell_commune, count, margin = cells
        scaled = _scaled_targets(targets, use, n_communes)
        result = _rake_cells(
            cell_commune,
            [_merged_codes(margin[v], cell_commune, targets[v].shape[1]) for v in RAKING_VARIABLES],
            count,
            np.ones(len(count)),
            [np.where(todo[:, None], scaled[v], np.nan) for v in RAKING_VARIABLES],
            n_communes,
            maxit=RAKE_MAXIT,
            epsilon=RAKE_EPSILON,
            epsilon_base=np.bincount(cell_commune, weights=count, minlength=n_communes).astype(float),
        )
        live = todo[cell_commune]
        passes.append((keys[live], result.weights[live], [w[live] for w in result.step_weights]))
        failed = todo & ~result.converged
        if not failed.any():
            break
        for c in np.flatnonzero(failed):
            in_use = [v for v in RAKING_VARIABLES if use[v][c]]
            use[in_use[-1]][c] = False
            not_raked[in_use[-1]][c] = True
        todo = failed
    # A commune's weights come from the last pass that raked it; its variables did not
    # change after that pass, so its cells there are its final cells (same keys).
    weight = np.ones(len(count))
    step_weight = {v: np.ones(len(count)) for v in RAKING_VARIABLES}
    for pass_keys, pass_weight, pass_steps in passes if len(keys) else ():
        at = np.minimum(np.searchsorted(keys, pass_keys), len(keys) - 1)
        same = keys[at] == pass_keys
        weight[at[same]] = pass_weight[same]
        for v, steps in zip(RAKING_VARIABLES, pass_steps, strict=True):
            step_weight[v][at[same]] = steps[same]
    return use, cell_of, (cell_commune, count, weight, margin, step_weight)


def _merged_codes(margin: npt.NDArray[np.intp], cell_commune: npt.NDArray[np.intp], k: int) -> npt.NDArray[np.intp]:
    """A cell's merged category code from its post-stratum index (commune × k + code)."""
    return margin - cell_commune * k


def _cells(
    home: npt.NDArray[np.intp],
    merged: dict[str, npt.NDArray[np.intp]],
    use: dict[str, npt.NDArray[np.bool_]],
    n_communes: int,
) -> tuple[npt.NDArray[np.intp], tuple, npt.NDArray[np.int64]]:
    """Group respondents into cells: commune × merged category of each variable in use.

    Returns each respondent's cell, the cells' (commune, count, post-stratum per
    variable) and their keys (ascending). The keys are dense (communes × 64 at most), so
    a ``bincount`` finds the cells in linear time, in the order ``np.unique`` gives.
    """
    key = home.astype(np.int64)
    span = n_communes
    for v in RAKING_VARIABLES:
        k = len(CATEGORIES[v])
        key *= k
        key += np.where(use[v][home], merged[v], 0)
        span *= k
    present = np.bincount(key, minlength=span)
    unique = np.flatnonzero(present)
    number = np.cumsum(present > 0, dtype=np.intp) - 1  # cell number of each key
    cell_of = number[key]
    del key, number
    count = present[unique].astype(float)
    rest = unique.copy()
    codes = {}
    for v in reversed(RAKING_VARIABLES):
        k = len(CATEGORIES[v])
        codes[v] = (rest % k).astype(np.intp)
        rest //= k
    cell_commune = rest.astype(np.intp)
    margin = {v: cell_commune * len(CATEGORIES[v]) + codes[v] for v in RAKING_VARIABLES}
    return cell_of, (cell_commune, count, margin), unique.astype(np.int64)


def _scaled_targets(
    targets: dict[str, npt.NDArray[np.float64]],
    use: dict[str, npt.NDArray[np.bool_]],
    n_communes: int,
) -> dict[str, npt.NDArray[np.float64]]:
    """Merged margins of the variables in use, each rescaled to the first one's total."""
    total = np.full(n_communes, np.nan)
    for v in RAKING_VARIABLES:
        v_total = np.nansum(targets[v], axis=1)
        total = np.where(np.isnan(total) & use[v], v_total, total)
    out = {}
    for v in RAKING_VARIABLES:
        v_total = np.nansum(targets[v], axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = targets[v] * (total / v_total)[:, None]
        scaled[~use[v]] = np.nan
        # Merged groups past n_groups are NaN: no cell sits there, population 0.
        out[v] = np.where(use[v][:, None] & np.isnan(scaled), 0.0, scaled)
    return out
