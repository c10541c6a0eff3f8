"""Proxy PAPI scores per commune: weights, estimates, intervals, shrinkage, ranks, flags."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from analysis._inputs import (
    CATEGORIES,
    RAKING_VARIABLES,
    check_commune_codes,
    prepare,
    respondent_subvalues,
)
from analysis.estimates import papi_scale, t_interval
from analysis.ranking import rank_and_group
from analysis.small_area import fay_herriot
from analysis.structures import DIMENSIONS, Structure, get_structure
from analysis.weights import (
    RAKE_MAX_ITER,
    RAKE_TOL,
    _cap_cells,
    _check_cap,
    _margin_targets,
    _rake_cells,
)

__all__ = [
    "COLUMNS",
    "FLAGS",
    "commune_population",
    "respondent_values",
    "score_communes",
]

#: Columns of the table returned by :func:`score_communes`, in order.
COLUMNS: tuple[str, ...] = (
    "commune",
    "level",
    "code",
    "n",
    "n_eff",
    "p",
    "se",
    "score",
    "ci_low",
    "ci_high",
    "p_eb",
    "score_eb",
    "group",
    "rank",
    "flags",
    "se_p",
)

#: Flags that can appear in the ``flags`` column, in the order they are written.
FLAGS: tuple[str, ...] = (
    "empty",
    "incomplete",
    "unweighted",
    "collapsed",
    "capped",
    "nonconvergent",
    "insufficient",
)

_LEVEL_RANGE = {"dimension": (1.0, 10.0), "aggregate": (8.0, 80.0)}


def respondent_values(
    scores: pd.DataFrame,
    respondents: pd.DataFrame,
    *,
    structure: str | Structure = "current",
    excluded: int | None = None,
    include_flagged: bool = False,
) -> pd.DataFrame:
    """Each respondent's value per sub-dimension: the mean of their scored items.

    Parameters
    ----------
    scores, respondents, structure, excluded, include_flagged
        As in :func:`score_communes`.

    Returns
    -------
    pandas.DataFrame
        Columns ``response_id``, ``commune`` and ``subdimension`` (categoricals) and
        ``value`` in [0, 1]; one row per respondent × answered sub-dimension.
        ``attrs["excluded"]`` counts the low-quality responses left out.

    Examples
    --------
    >>> scores = pd.DataFrame({"response_id": ["a", "a", "b"], "commune": "02647",
    ...                        "subdimension": ["6.1", "6.1", "6.1"], "score": [1, 0, 1.0]})
    >>> respondents = pd.DataFrame({"response_id": ["a", "b"], "commune": "02647"})
    >>> respondent_values(scores, respondents)["value"].tolist()
    [0.5, 1.0]
    """
    st = get_structure(structure)
    prepared = prepare(
        scores, respondents, structure=st, excluded=excluded, include_flagged=include_flagged
    )
    resp, sub, value = respondent_subvalues(prepared)
    frame = pd.DataFrame(
        {
            "response_id": pd.Categorical(prepared.response_ids.to_numpy()[resp]),
            "commune": pd.Categorical.from_codes(
                prepared.commune[resp], categories=list(prepared.communes)
            ),
            "subdimension": pd.Categorical.from_codes(sub, categories=list(st.subdimensions)),
            "value": value,
        }
    )
    frame.attrs["excluded"] = prepared.excluded
    return frame


def _margin_arrays(
    margins: pd.DataFrame, communes: tuple[str, ...]
) -> dict[str, npt.NDArray[np.float64]]:
    """Population per commune × category for each raking variable.

    A row of NaN means the commune has no margin for that variable; categories
    missing from a variable's margins count as population 0.
    """
    if not isinstance(margins, pd.DataFrame):
        raise ValueError("margins must be a pandas DataFrame")
    if "commune" not in margins.columns and "commune_code" in margins.columns:
        margins = margins.rename(columns={"commune_code": "commune"})
    missing = [c for c in ("commune", "variable", "category", "population") if c not in margins]
    if missing:
        raise ValueError(f"margins lacks column(s) {', '.join(missing)}")
    check_commune_codes(margins["commune"].dropna().unique(), "margins.commune")
    if margins[["commune", "variable", "category"]].isna().any().any():
        raise ValueError("margins has rows with a missing commune, variable or category")
    population = pd.to_numeric(margins["population"], errors="coerce")
    if population.isna().any() or (population < 0).any() or not np.isfinite(population).all():
        raise ValueError("margins.population must be a non-negative number on every row")
    if margins.duplicated(["commune", "variable", "category"]).any():
        raise ValueError("margins lists the same commune, variable and category more than once")
    bad_vars = sorted(set(margins["variable"].astype(str)) - set(RAKING_VARIABLES))
    if bad_vars:
        raise ValueError(
            f"margins.variable has {bad_vars}; allowed: {', '.join(RAKING_VARIABLES)}"
        )
    commune_index = pd.Index(communes)
    out = {}
    for variable in RAKING_VARIABLES:
        levels = CATEGORIES[variable]
        rows = margins["variable"].astype(str) == variable
        cats = pd.Index(levels).get_indexer(margins.loc[rows, "category"].astype(str))
        if (cats < 0).any():
            bad = sorted(set(margins.loc[rows, "category"].astype(str)) - set(levels))
            raise ValueError(
                f"margins for {variable} have category(ies) {bad}; allowed: {', '.join(levels)}"
            )
        where = commune_index.get_indexer(margins.loc[rows, "commune"].astype(str))
        known = where >= 0  # margins of communes without data are not needed
        table = np.full((len(communes), len(levels)), np.nan)
        table[np.unique(where[known])] = 0.0
        table[where[known], cats[known]] = population[rows].to_numpy(dtype=float)[known]
        out[variable] = table
    return out


def commune_population(margins: pd.DataFrame) -> pd.Series:
    """Population of each commune from its margins (the first of sex, age_band, ethnic_group).

    Parameters
    ----------
    margins
        Columns ``commune, variable, category, population`` as for :func:`score_communes`.

    Returns
    -------
    pandas.Series
        Population indexed by commune code.
    """
    if not isinstance(margins, pd.DataFrame):
        raise ValueError("margins must be a pandas DataFrame")
    if "commune" not in margins.columns and "commune_code" in margins.columns:
        margins = margins.rename(columns={"commune_code": "commune"})
    communes = tuple(sorted(margins["commune"].dropna().astype(str).unique()))
    tables = _margin_arrays(margins, communes)
    total = np.full(len(communes), np.nan)
    for variable in RAKING_VARIABLES:
        total = np.where(np.isnan(total), tables[variable].sum(axis=1), total)
    return pd.Series(total, index=pd.Index(communes, name="commune"), name="population")


def score_communes(
    scores: pd.DataFrame,
    respondents: pd.DataFrame,
    *,
    margins: pd.DataFrame | None = None,
    structure: str | Structure = "current",
    min_n_eff: float = 30.0,
    cap: float = 5.0,
    confidence: float = 0.95,
    excluded: int | None = None,
    include_flagged: bool = False,
    communes: Iterable[str] | None = None,
    tol: float = RAKE_TOL,
    max_iter: int = RAKE_MAX_ITER,
) -> pd.DataFrame:
    r"""Proxy PAPI scores per commune, with weights, uncertainty, shrinkage and ranks.

    Parameters
    ----------
    scores
        One row per scored answer: ``response_id``, ``subdimension`` (``"6.1"``) and
        ``score`` in [0, 1] (NaN = no score). A ``commune`` column may be present; the
        respondent's commune in ``respondents`` is the one used. Sub-dimensions of
        another PAPI structure (``5.2`` under ``"current"``) are ignored.
    respondents
        One row per response: ``response_id``, ``commune`` (5-digit code) and,
        optionally, ``sex``, ``age_band``, ``ethnic_group`` (missing allowed) and a
        boolean ``flagged`` (low quality).
    margins
        Optional population margins: ``commune`` (or ``commune_code``), ``variable``
        (``sex``, ``age_band``, ``ethnic_group``), ``category``, ``population``.
    structure
        PAPI structure giving k per dimension: ``"current"`` (2021+), ``"2019"`` or ``"2018"``.
    min_n_eff
        Effective sample size below which a row is flagged ``insufficient``.
    cap
        Weights are capped at ``cap`` × their mean (see :func:`analysis.cap_weights`).
    confidence
        Confidence level of the intervals.
    excluded
        Number of low-quality responses the caller already left out; added to the
        count of ``flagged`` respondents in ``attrs["excluded"]``.
    include_flagged
        Keep respondents whose ``flagged`` is True (they are excluded by default).
    communes
        Extra commune codes to report even without respondents (all rows ``empty``).
    tol, max_iter
        Raking convergence tolerance and sweep limit (see :func:`analysis.rake`).

    Returns
    -------
    pandas.DataFrame
        One row per commune × code with the columns of :data:`COLUMNS`: ``level`` is
        ``subdimension``, ``dimension`` or ``aggregate``; ``code`` is ``"6.1"``, ``"6"`` or
        ``"total"``; ``n``, ``n_eff``, ``p``, ``p_eb`` and ``se_p`` (SE on the 0–1 scale) are
        set for sub-dimensions only; ``se``, ``score``, ``ci_low``, ``ci_high`` and
        ``score_eb`` are on the PAPI scale; ``rank`` (1 = best) and ``group`` are
        within level × code; ``flags`` joins :data:`FLAGS` with ``;``.
        ``attrs`` holds ``excluded``, ``structure``, ``min_n_eff``, ``cap``, ``confidence``.

    Notes
    -----
    Per commune *c* and sub-dimension *s*, over the n respondents with a value
    :math:`y_i` (mean of their items for *s*):

    1. weights :math:`w_i`: raked to the commune's margins (:func:`analysis.rake`;
       empty margin categories dropped, flag ``collapsed``; a respondent missing a
       raking variable takes the group's modal category, first in survey order on a
       tie), then capped (:func:`analysis.cap_weights`, flag ``capped``). Without
       margins :math:`w_i = 1` (flag ``unweighted``).
    2. :math:`\hat p = \sum w_i y_i / \sum w_i`, :math:`SE = \sqrt{n/(n-1)\sum
       [w_i(y_i-\hat p)/\sum w]^2}`, interval :math:`\hat p \pm t_{n-1}SE` clipped to
       [0, 1]; :math:`n_{\mathrm{eff}} = (\sum w)^2/\sum w^2`.
    3. score :math:`1/k + 9\hat p/k`, SE :math:`9\,SE_p/k`, bounds mapped likewise.
    4. dimension = sum of its k sub-dimension scores, :math:`SE = \sqrt{\sum SE_s^2}`
       (sub-dimensions treated as independent), interval score ± z·SE clipped to
       1–10; aggregate likewise over the 8 dimensions (8–80). Missing parts: NaN score
       and flag ``incomplete``.
    5. ``p_eb``: Fay–Herriot shrinkage across communes (:func:`analysis.fay_herriot`).
    6. ``insufficient`` when :math:`n_{\mathrm{eff}}` < ``min_n_eff`` (or any part is);
       such rows are not ranked or grouped (:func:`analysis.rank_and_group`).

    The computation is vectorised: respondents sharing a commune, sub-dimension and
    raking categories form a cell with one weight, so raking and capping run on at
    most communes × sub-dimensions × 135 cells, whatever the number of responses.

    References
    ----------
    Lumley, T. (2010). *Complex Surveys: A Guide to Analysis Using R*. Wiley.
    Deming, W. E. & Stephan, F. F. (1940). *Ann. Math. Stat.* 11(4), 427–444.
    Kish, L. (1965). *Survey Sampling*. Wiley.
    Fay, R. E. & Herriot, R. A. (1979). *JASA* 74(366), 269–277.
    Rao, J. N. K. & Molina, I. (2015). *Small Area Estimation*, 2nd ed. Wiley.

    Examples
    --------
    >>> scores = pd.DataFrame({"response_id": ["a", "b"], "subdimension": ["6.1", "6.1"],
    ...                        "score": [1.0, 0.0]})
    >>> respondents = pd.DataFrame({"response_id": ["a", "b"], "commune": ["02647"] * 2})
    >>> table = score_communes(scores, respondents)
    >>> table.query("code == '6.1'")[["n", "p", "score", "flags"]].to_dict("records")
    [{'n': 2, 'p': 0.5, 'score': 1.375, 'flags': 'unweighted;insufficient'}]
    """
    st = get_structure(structure)
    _check_cap(cap)
    if not (np.isfinite(min_n_eff) and min_n_eff >= 0):
        raise ValueError(f"min_n_eff must be a non-negative number, got {min_n_eff!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
    prepared = prepare(
        scores,
        respondents,
        structure=st,
        excluded=excluded,
        include_flagged=include_flagged,
        communes=communes,
    )
    resp, sub, value = respondent_subvalues(prepared)
    subs = st.subdimensions
    n_communes, n_subs = len(prepared.communes), len(subs)
    n_groups = n_communes * n_subs

    # Cells: commune × sub-dimension × (sex, age band, ethnic group), missing coded last.
    sizes = {v: len(CATEGORIES[v]) + 1 for v in RAKING_VARIABLES}
    combo = np.zeros(len(prepared.commune), dtype=np.intp)
    for v in RAKING_VARIABLES:
        codes = prepared.categories[v].astype(np.intp)
        combo = combo * sizes[v] + np.where(codes < 0, sizes[v] - 1, codes)
    n_combo = int(np.prod(list(sizes.values())))
    key = (prepared.commune[resp] * n_subs + sub) * n_combo + combo[resp]
    span = n_groups * n_combo
    count = np.bincount(key, minlength=span)
    cells = np.flatnonzero(count)
    n_cell = count[cells].astype(float)
    mean_full = np.zeros(span)
    mean_full[cells] = np.bincount(key, weights=value, minlength=span)[cells] / n_cell
    within_full = np.bincount(key, weights=np.square(value - mean_full[key]), minlength=span)
    mean_cell, within_cell = mean_full[cells], within_full[cells]
    del key, mean_full, within_full
    cell_group = cells // n_combo
    rest = cells % n_combo
    cell_codes: dict[str, npt.NDArray[np.intp]] = {}
    for v in reversed(RAKING_VARIABLES):
        cell_codes[v] = rest % sizes[v]
        rest = rest // sizes[v]
    group_commune = np.arange(n_groups) // n_subs

    # Impute missing categories (modal, first in survey order on ties), then targets.
    population = (
        _margin_arrays(margins, prepared.communes)
        if margins is not None
        else {v: np.full((n_communes, len(CATEGORIES[v])), np.nan) for v in RAKING_VARIABLES}
    )
    commune_total = np.full(n_communes, np.nan)
    for v in RAKING_VARIABLES:
        commune_total = np.where(
            np.isnan(commune_total), population[v].sum(axis=1), commune_total
        )
    has_margins = np.isfinite(commune_total)
    imputed, targets = [], []
    collapsed = np.zeros(n_groups, dtype=bool)
    raked = np.zeros(n_groups, dtype=bool)
    for v in RAKING_VARIABLES:
        k = len(CATEGORIES[v])
        codes = cell_codes[v]
        seen = codes < k
        counts = np.bincount(
            cell_group[seen] * k + codes[seen], weights=n_cell[seen], minlength=n_groups * k
        ).reshape(n_groups, k)
        modal = counts.argmax(axis=1)  # argmax returns the first maximum
        usable = counts.sum(axis=1) > 0
        filled = np.where(seen, codes, modal[cell_group])
        present = (
            np.bincount(cell_group * k + filled, weights=n_cell, minlength=n_groups * k)
            .reshape(n_groups, k)
            > 0
        )
        pop = population[v][group_commune]
        pop[~usable] = np.nan  # nobody in the group answered v: v is not raked on
        target, was_collapsed, empty_pop = _margin_targets(
            present, pop, commune_total[group_commune]
        )
        if empty_pop.any():
            g, c = np.argwhere(empty_pop)[0]
            raise ValueError(
                f"commune {prepared.communes[g // n_subs]}: respondents for sub-dimension "
                f"{subs[g % n_subs]} are in {v}={CATEGORIES[v][c]!r}, whose population "
                "margin is 0 or missing; add it to the margins"
            )
        collapsed |= was_collapsed
        raked |= np.isfinite(pop).all(axis=1)
        imputed.append(filled)
        targets.append(target)

    weight, converged, _ = _rake_cells(
        cell_group,
        imputed,
        n_cell,
        np.ones(len(cells)),
        targets,
        n_groups,
        tol=tol,
        max_iter=max_iter,
    )
    weight, capped = _cap_cells(cell_group, n_cell, weight, n_groups, cap)

    # Estimates per group from cell sums: sum_i w_i (y_i - p)^2 over a cell is
    # w^2 [within-cell SS + n_c (mean_c - p)^2], computed without cancellation.
    w_total = np.bincount(cell_group, weights=n_cell * weight, minlength=n_groups)
    n = np.bincount(cell_group, weights=n_cell, minlength=n_groups)
    wy = np.bincount(cell_group, weights=n_cell * weight * mean_cell, minlength=n_groups)
    w_squares = np.bincount(cell_group, weights=n_cell * weight**2, minlength=n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, wy / w_total, np.nan)
        deviation = mean_cell - p[cell_group]
        spread = np.bincount(
            cell_group,
            weights=weight**2 * (within_cell + n_cell * deviation**2),
            minlength=n_groups,
        )
        se_p = np.where(n >= 2, np.sqrt(n / (n - 1) * spread / w_total**2), np.nan)
        n_eff = np.where(n > 0, w_total**2 / w_squares, 0.0)
    ci_low_p, ci_high_p = t_interval(p, se_p, n, level=confidence)

    shape = (n_communes, n_subs)
    p, se_p, n, n_eff = (a.reshape(shape) for a in (p, se_p, n, n_eff))
    ci_low_p, ci_high_p = ci_low_p.reshape(shape), ci_high_p.reshape(shape)
    k_sub = np.array([st.k(st.dimension_of(s)) for s in subs], dtype=float)
    p_eb = np.full(shape, np.nan)
    for s in range(n_subs):
        p_eb[:, s] = fay_herriot(p[:, s], se_p[:, s] ** 2).estimate

    sub_flags = {
        "empty": n == 0,
        "incomplete": np.zeros(shape, dtype=bool),
        "unweighted": (~has_margins[:, None] | ((n > 0) & ~raked.reshape(shape))),
        "collapsed": collapsed.reshape(shape) & (n > 0),
        "capped": capped.reshape(shape),
        "nonconvergent": raked.reshape(shape) & ~converged.reshape(shape) & (n > 0),
        "insufficient": n_eff < min_n_eff,
    }
    sub_block = {
        "n": n,
        "n_eff": n_eff,
        "p": p,
        "se": 9 * se_p / k_sub,
        "score": papi_scale(p, k_sub),
        "ci_low": papi_scale(ci_low_p, k_sub),
        "ci_high": papi_scale(ci_high_p, k_sub),
        "p_eb": p_eb,
        "score_eb": papi_scale(p_eb, k_sub),
        "se_p": se_p,
    }

    z = float(stats.norm.ppf((1 + confidence) / 2))
    starts = np.cumsum([0] + [st.k(d) for d in DIMENSIONS[:-1]])
    dim_block, dim_flags = _sum_parts(sub_block, sub_flags, starts, z, "dimension")
    total_block, total_flags = _sum_parts(
        dim_block, dim_flags, np.array([0]), z, "aggregate"
    )

    table = pd.concat(
        [
            _long(sub_block, sub_flags, prepared.communes, "subdimension", subs),
            _long(dim_block, dim_flags, prepared.communes, "dimension", DIMENSIONS),
            _long(total_block, total_flags, prepared.communes, "aggregate", ("total",)),
        ],
        ignore_index=True,
    )
    table = table.sort_values("commune", kind="stable", ignore_index=True)
    table["eligible"] = ~table["flags"].str.contains("insufficient", regex=False)
    ranks = rank_and_group(table, by=["level", "code"], eligible="eligible")
    table["rank"] = ranks["rank"]
    table["group"] = ranks["group"]
    table = table.loc[:, list(COLUMNS)]
    table.attrs.update(
        excluded=prepared.excluded,
        structure=st.name,
        min_n_eff=float(min_n_eff),
        cap=float(cap),
        confidence=float(confidence),
    )
    return table


def _sum_parts(
    block: dict[str, npt.NDArray[np.float64]],
    flags: dict[str, npt.NDArray[np.bool_]],
    starts: npt.NDArray[np.intp],
    z: float,
    level: str,
) -> tuple[dict[str, npt.NDArray[np.float64]], dict[str, npt.NDArray[np.bool_]]]:
    """Sum consecutive parts (sub-dimensions -> dimension, dimensions -> aggregate)."""
    score = np.add.reduceat(block["score"], starts, axis=1)  # NaN if any part is NaN
    se = np.sqrt(np.add.reduceat(np.square(block["se"]), starts, axis=1))
    low, high = _LEVEL_RANGE[level]
    nan = np.full(score.shape, np.nan)
    summed = {
        "n": nan,
        "n_eff": nan,
        "p": nan,
        "se": se,
        "score": score,
        "ci_low": np.clip(score - z * se, low, high),
        "ci_high": np.clip(score + z * se, low, high),
        "p_eb": nan,
        "score_eb": np.add.reduceat(block["score_eb"], starts, axis=1),
        "se_p": nan,
    }
    missing_part = np.add.reduceat(np.isnan(block["score"]).astype(int), starts, axis=1) > 0
    combined = {
        name: np.add.reduceat(mask.astype(int), starts, axis=1) > 0
        for name, mask in flags.items()
    }
    combined["empty"] = np.add.reduceat((~flags["empty"]).astype(int), starts, axis=1) == 0
    combined["incomplete"] = missing_part & ~combined["empty"]
    return summed, combined


def _long(
    block: dict[str, npt.NDArray[np.float64]],
    flags: dict[str, npt.NDArray[np.bool_]],
    communes: tuple[str, ...],
    level: str,
    codes: tuple[str, ...],
) -> pd.DataFrame:
    """Flatten (commune × code) arrays into rows."""
    n_rows = len(communes) * len(codes)
    flag_matrix = np.column_stack([flags[name].ravel() for name in FLAGS])
    names = np.array(FLAGS)
    frame = pd.DataFrame(
        {
            "commune": np.repeat(np.array(communes, dtype=object), len(codes)),
            "level": level,
            "code": np.tile(np.array(codes, dtype=object), len(communes)),
            **{name: values.ravel() for name, values in block.items()},
            "flags": [";".join(names[row]) for row in flag_matrix],
        },
        index=pd.RangeIndex(n_rows),
    )
    frame["n"] = frame["n"].astype("Int64")
    for column in ("commune", "level", "code", "flags"):
        frame[column] = frame[column].astype("str")
    return frame
