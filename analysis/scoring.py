"""Proxy PAPI scores per commune: weights, direct estimates, small-area estimates, ranks, flags."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from analysis._inputs import (
    CATEGORIES,
    RAKING_VARIABLES,
    Prepared,
    check_commune_codes,
    prepare,
    respondent_subvalues,
    subvalue_blocks,
)
from analysis.design import CommuneDesigns, build_designs
from analysis.domains import estimate_domain_blocks
from analysis.estimates import (
    NCHS_MIN_N_EFF,
    ZERO_SE,
    korn_graubard_interval,
    nchs_reasons,
    papi_scale,
)
from analysis.ranking import (
    RANK_DRAWS,
    RANK_SEED,
    _intervals,
    rank_and_group,
    rank_intervals,
    standard_draws,
)
from analysis.small_area import FayHerriotResult, fay_herriot, smoothed_variances
from analysis.structures import DIMENSIONS, Structure, get_structure

__all__ = [
    "COLUMNS",
    "FLAGS",
    "commune_population",
    "design_weights",
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
    "se_p",
    "se",
    "score",
    "ci_low",
    "ci_high",
    "p_eb",
    "mse_eb",
    "score_eb",
    "se_eb",
    "ci_low_eb",
    "ci_high_eb",
    "rank",
    "rank_low",
    "rank_high",
    "group",
    "flags",
)

#: Flag codes of the ``flags`` column, in the order they are written. A code may carry a
#: suffix after ":" — the raking variable (``collapsed:age_band``, ``not_raked:sex``), the
#: NCHS rule failed (``unreliable:width``), or for dimensions and the aggregate how many of
#: their sub-dimensions are synthetic (``synthetic:3/22``).
FLAGS: tuple[str, ...] = (
    "empty",
    "incomplete",
    "one_respondent",
    "unweighted",
    "collapsed",
    "not_raked",
    "trimmed",
    "unreliable",
    "synthetic",
)
UNRELIABLE_REASONS: tuple[str, ...] = ("n_eff", "width", "relative_width", "df")

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
    prepared = prepare(scores, respondents, structure=st, excluded=excluded, include_flagged=include_flagged)
    resp, sub, value = respondent_subvalues(prepared)
    frame = pd.DataFrame(
        {
            "response_id": pd.Categorical(prepared.response_ids.to_numpy()[resp]),
            "commune": pd.Categorical.from_codes(prepared.commune[resp], categories=pd.Index(prepared.communes)),
            "subdimension": pd.Categorical.from_codes(sub, categories=pd.Index(st.subdimensions)),
            "value": value,
        }
    )
    frame.attrs["excluded"] = prepared.excluded
    return frame


def _margin_arrays(margins: pd.DataFrame, communes: tuple[str, ...]) -> dict[str, npt.NDArray[np.float64]]:
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
        raise ValueError(f"margins.variable has {bad_vars}; allowed: {', '.join(RAKING_VARIABLES)}")
    commune_index = pd.Index(communes)
    out = {}
    for variable in RAKING_VARIABLES:
        levels = CATEGORIES[variable]
        rows = margins["variable"].astype(str) == variable
        cats = pd.Index(levels).get_indexer(pd.Index(margins.loc[rows, "category"].astype(str)))
        if (cats < 0).any():
            bad = sorted(set(margins.loc[rows, "category"].astype(str)) - set(levels))
            raise ValueError(f"margins for {variable} have category(ies) {bad}; allowed: {', '.join(levels)}")
        where = commune_index.get_indexer(pd.Index(margins.loc[rows, "commune"].astype(str)))
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


def design_weights(
    scores: pd.DataFrame,
    respondents: pd.DataFrame,
    *,
    margins: pd.DataFrame | None = None,
    structure: str | Structure = "current",
    min_cell: int = 5,
    cap: float = 5.0,
    include_flagged: bool = False,
) -> pd.DataFrame:
    """Each respondent's final weight in their commune's design (as :func:`score_communes`).

    Parameters
    ----------
    scores, respondents, margins, structure, min_cell, cap, include_flagged
        As in :func:`score_communes`.

    Returns
    -------
    pandas.DataFrame
        ``response_id``, ``commune``, ``weight``: one row per respondent in a design
        (not flagged, at least one scored answer), in the order of ``respondents``.
        Weights of a raked commune sum to its population; unraked communes have 1.
    """
    st = get_structure(structure)
    prepared = prepare(scores, respondents, structure=st, include_flagged=include_flagged)
    designs = _designs(prepared, margins, min_cell=min_cell, cap=cap)
    who = np.flatnonzero(designs.cell_of >= 0)
    return pd.DataFrame(
        {
            "response_id": prepared.response_ids.to_numpy()[who],
            "commune": np.array(prepared.communes, dtype=object)[prepared.commune[who]],
            "weight": designs.weight[designs.cell_of[who]],
        }
    )


def _designs(prepared: Prepared, margins: pd.DataFrame | None, *, min_cell: int, cap: float) -> CommuneDesigns:
    """The communes' weighted designs (respondents with a kept answer, each with a value)."""
    n_communes = len(prepared.communes)
    population = (
        _margin_arrays(margins, prepared.communes)
        if margins is not None
        else {v: np.full((n_communes, len(CATEGORIES[v])), np.nan) for v in RAKING_VARIABLES}
    )
    in_design = np.zeros(len(prepared.commune), dtype=bool)
    in_design[prepared.respondent] = True
    designs = build_designs(
        prepared.commune,
        prepared.categories,
        in_design,
        population,
        n_communes=n_communes,
        min_cell=int(min_cell),
        cap=cap,
        labels=prepared.communes,
    )
    return designs


def score_communes(
    scores: pd.DataFrame,
    respondents: pd.DataFrame,
    *,
    margins: pd.DataFrame | None = None,
    structure: str | Structure = "current",
    min_n_eff: float = NCHS_MIN_N_EFF,
    min_cell: int = 5,
    cap: float = 5.0,
    confidence: float = 0.95,
    excluded: int | None = None,
    include_flagged: bool = False,
    communes: Iterable[str] | None = None,
    wards: Iterable[str] | None = None,
) -> pd.DataFrame:
    r"""Proxy PAPI scores per commune: direct and small-area estimates, ranks and flags.

    Parameters
    ----------
    scores
        One row per scored answer: ``response_id``, ``subdimension`` (``"6.1"``) and
        ``score`` in [0, 1] (NaN = no score). Sub-dimensions of another PAPI structure
        (``5.2`` under ``"current"``) are ignored.
    respondents
        One row per response: ``response_id``, ``commune`` (5-digit code) and,
        optionally, ``sex``, ``age_band``, ``ethnic_group`` (missing allowed) and a
        boolean ``flagged`` (low quality, left out unless ``include_flagged``).
    margins
        Optional population margins: ``commune`` (or ``commune_code``), ``variable``
        (``sex``, ``age_band``, ``ethnic_group``), ``category``, ``population``.
    structure
        PAPI structure giving k per dimension: ``"current"`` (2021+), ``"2019"`` or ``"2018"``.
    min_n_eff
        NCHS effective sample size below which a direct estimate is ``unreliable:n_eff``.
    min_cell
        Raking categories with fewer respondents are merged (docs/methodology.md §4).
    cap
        Weights above ``cap`` × the commune's mean weight are trimmed.
    confidence
        Confidence level of every interval.
    excluded
        Low-quality responses the caller already left out (added to ``attrs["excluded"]``).
    include_flagged
        Keep respondents whose ``flagged`` is True.
    communes
        Extra commune codes to report even without respondents (rows flagged ``empty``).
    wards
        Codes of the wards (phường) among the communes: the small-area model then has a
        ward indicator, when at least two wards and two communes have a direct estimate.

    Returns
    -------
    pandas.DataFrame
        One row per commune × code with the columns of :data:`COLUMNS`. ``level`` is
        ``subdimension``, ``dimension`` or ``aggregate``; ``code`` is ``"6.1"``, ``"6"``
        or ``"total"``. Direct estimates: ``n``, ``n_eff`` (Kish), ``p``, ``se_p`` (0–1
        scale, sub-dimensions only), ``se``, ``score``, ``ci_low``, ``ci_high`` (PAPI
        scale; Korn–Graubard for sub-dimensions). Small-area estimates: ``p_eb``,
        ``mse_eb`` (0–1 scale, sub-dimensions only), ``score_eb``, ``se_eb`` (root MSE),
        ``ci_low_eb``, ``ci_high_eb`` (PAPI scale). ``rank`` (1 = best), ``rank_low``,
        ``rank_high`` (95% rank interval) and ``group`` rank the EB scores within level ×
        code over the communes with any response. ``flags`` joins :data:`FLAGS` with ";".
        ``attrs``: ``excluded``, ``structure``, ``min_n_eff``, ``min_cell``, ``cap``,
        ``confidence``, and ``sigma2`` / ``between_variance`` per sub-dimension.

    Notes
    -----
    Per commune, all its respondents with a scored answer form one design, raked to the
    commune's margins after merging sparse categories, then trimmed (R's
    ``rake`` and ``trimWeights``; :mod:`analysis.design`). Each sub-dimension is a
    domain of that design: weighted mean, variance from the calibration residuals
    (:mod:`analysis.domains`), Korn–Graubard interval and NCHS reliability
    (:mod:`analysis.estimates`). Per sub-dimension, a Fay–Herriot model over the
    communes with a direct estimate, fitted by REML on smoothed sampling variances,
    gives EB estimates with Datta–Lahiri MSE, and synthetic estimates for communes
    with responses but none for this sub-dimension (:mod:`analysis.small_area`).
    Dimensions sum their sub-dimensions' scores and MSEs (treated as independent); the
    aggregate sums the dimensions. Full method: docs/methodology.md.

    Examples
    --------
    >>> scores = pd.DataFrame({"response_id": ["a", "b"], "subdimension": ["6.1", "6.1"],
    ...                        "score": [1.0, 0.0]})
    >>> respondents = pd.DataFrame({"response_id": ["a", "b"], "commune": ["02647"] * 2})
    >>> table = score_communes(scores, respondents)
    >>> table.query("code == '6.1'")[["n", "p", "score"]].to_dict("records")
    [{'n': 2, 'p': 0.5, 'score': 1.375}]
    """
    st = get_structure(structure)
    if not np.isfinite(cap) or cap < 1:
        raise ValueError(f"cap must be a number >= 1 (times the mean weight), got {cap!r}")
    if not (np.isfinite(min_n_eff) and min_n_eff >= 0):
        raise ValueError(f"min_n_eff must be a non-negative number, got {min_n_eff!r}")
    if int(min_cell) != min_cell or min_cell < 1:
        raise ValueError(f"min_cell must be a whole number >= 1, got {min_cell!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
    ward_codes = set() if wards is None else set(wards)
    check_commune_codes(ward_codes, "wards")
    prepared = prepare(
        scores,
        respondents,
        structure=st,
        excluded=excluded,
        include_flagged=include_flagged,
        communes=communes,
    )
    subs = st.subdimensions
    n_communes, n_subs = len(prepared.communes), len(subs)
    shape = (n_communes, n_subs)
    designs = _designs(prepared, margins, min_cell=min_cell, cap=cap)
    # One sub-dimension's respondent values at a time: the (respondent × sub-dimension)
    # table is never held whole.
    est = estimate_domain_blocks(designs, subvalue_blocks(prepared), n_subdimensions=n_subs)
    communes_list, n_excluded = prepared.communes, prepared.excluded
    del prepared  # the answers (1.3 GB at 100 M) are not needed any more
    n, p = est.n, est.p
    one = n == 1
    se_p = np.where(one, np.nan, np.sqrt(est.variance))
    low_p, high_p, n_eff_kg = korn_graubard_interval(
        p,
        np.where(one, np.nan, est.variance),
        est.n_eff,
        n_rows=est.rows,
        df=est.rows - 1,
        level=confidence,
    )
    reasons = nchs_reasons(p, low_p, high_p, n, n_eff_kg, min_n_eff=min_n_eff)

    has_data = designs.size > 0
    is_ward = np.array([c in ward_codes for c in communes_list])
    p_eb, mse_eb = np.full(shape, np.nan), np.full(shape, np.nan)
    synthetic = np.zeros(shape, dtype=bool)
    sigma2, between = {}, {}
    for s in range(n_subs):
        fit = _small_area(p[:, s], n[:, s], est.within[:, s], est.n_eff[:, s], has_data, is_ward)
        if fit is None:
            continue
        rows, result, sigma2[subs[s]] = fit
        p_eb[rows, s] = result.estimate
        mse_eb[rows, s] = result.mse
        synthetic[rows, s] = result.synthetic
        between[subs[s]] = result.between_variance
    z = float(stats.norm.ppf((1 + confidence) / 2))
    k_sub = np.array([st.k(st.dimension_of(s)) for s in subs], dtype=float)
    scale = 9.0 / k_sub
    se_eb_p = np.sqrt(mse_eb)
    has_n = n > 0
    sub_flags: dict[str, npt.NDArray[np.bool_]] = {
        "empty": ~has_n,
        "one_respondent": one,
        "unweighted": designs.unweighted[:, None] & has_n,
    }
    for v in RAKING_VARIABLES:
        sub_flags[f"collapsed:{v}"] = designs.collapsed[v][:, None] & has_n
    for v in RAKING_VARIABLES:
        sub_flags[f"not_raked:{v}"] = designs.not_raked[v][:, None] & has_n
    sub_flags["trimmed"] = designs.trimmed[:, None] & has_n
    for reason in UNRELIABLE_REASONS:
        sub_flags[f"unreliable:{reason}"] = reasons[reason]
    sub_block = {
        "n": n,
        "n_eff": est.n_eff,
        "p": p,
        "se_p": se_p,
        "se": scale * se_p,
        "score": papi_scale(p, k_sub),
        "ci_low": papi_scale(low_p, k_sub),
        "ci_high": papi_scale(high_p, k_sub),
        "p_eb": p_eb,
        "mse_eb": mse_eb,
        "score_eb": papi_scale(p_eb, k_sub),
        "se_eb": scale * se_eb_p,
        "ci_low_eb": papi_scale(np.clip(p_eb - z * se_eb_p, 0.0, 1.0), k_sub),
        "ci_high_eb": papi_scale(np.clip(p_eb + z * se_eb_p, 0.0, 1.0), k_sub),
    }

    # In sums, a part whose answers are all alike (SE 0) counts with the SE of a normal
    # interval as wide as its Korn–Graubard one (from its Kish n_eff), and a part with one
    # respondent with the largest variance of a 0–1 value, 0.25 (as in the roll-up), so
    # that no dimension interval has zero width.
    all_alike = (est.variance <= ZERO_SE**2) & (n >= 2)
    se_in_sums = scale * np.where(all_alike, (high_p - low_p) / (2 * z), np.where(one, 0.5, se_p))
    starts = np.cumsum([0] + [st.k(d) for d in DIMENSIONS[:-1]])
    dim_block, dim_flags = _sum_parts(sub_block, sub_flags, starts, z, "dimension", se_parts=se_in_sums)
    total_block, total_flags = _sum_parts(dim_block, dim_flags, np.array([0]), z, "aggregate")
    dim_synthetic = np.add.reduceat(synthetic.astype(int), starts, axis=1)
    dim_parts = np.array([st.k(d) for d in DIMENSIONS])

    table = pd.concat(
        [
            _long(sub_block, sub_flags, communes_list, "subdimension", subs, np.where(synthetic, "synthetic", "")),
            _long(dim_block, dim_flags, communes_list, "dimension", DIMENSIONS, _count_flag(dim_synthetic, dim_parts)),
            _long(
                total_block,
                total_flags,
                communes_list,
                "aggregate",
                ("total",),
                _count_flag(synthetic.sum(axis=1, keepdims=True), np.array([n_subs])),
            ),
        ],
        ignore_index=True,
    )
    table = table.sort_values("commune", kind="stable", ignore_index=True)
    table = _add_ranks(table, level=confidence)
    table = table.loc[:, list(COLUMNS)]
    table.attrs.update(
        excluded=n_excluded,
        structure=st.name,
        min_n_eff=float(min_n_eff),
        min_cell=int(min_cell),
        cap=float(cap),
        confidence=float(confidence),
        sigma2=sigma2,
        between_variance=between,
    )
    return table


def _small_area(
    p: npt.NDArray[np.float64],
    n: npt.NDArray[np.float64],
    within: npt.NDArray[np.float64],
    n_eff: npt.NDArray[np.float64],
    has_data: npt.NDArray[np.bool_],
    is_ward: npt.NDArray[np.bool_],
) -> tuple[npt.NDArray[np.intp], FayHerriotResult, float] | None:
    """Fay–Herriot for one sub-dimension over the communes with data; None if unfittable."""
    direct = n > 0
    rows = np.flatnonzero(has_data)
    if direct.sum() < 2:
        return None
    psi, sigma2 = smoothed_variances(n, within, n_eff)
    if not sigma2 > 0:
        # No within-commune spread to pool (every commune has one respondent, or the few
        # with more answered alike): use the spread of all answers in the province, an
        # upper bound of the within-commune variance.
        weight = np.where(direct, n, 0.0)
        mean = np.sum(weight * np.nan_to_num(p)) / weight.sum()
        spread = np.nan_to_num(within) + np.square(np.nan_to_num(p) - mean)
        sigma2 = float(np.sum(weight * spread) / weight.sum())
        psi = np.where(direct, sigma2 / np.where(direct, n_eff, 1.0), np.nan)
    if not sigma2 > 0:  # every answer in the province alike
        return None
    x = np.ones((len(rows), 1))
    wards_fitted = int((is_ward & direct).sum())
    if wards_fitted >= 2 and int((~is_ward & direct).sum()) >= 2:
        x = np.column_stack([x, is_ward[rows].astype(float)])
    theta = np.where(direct, p, np.nan)[rows]
    result = fay_herriot(theta, np.where(direct, psi, np.nan)[rows], x)
    if not np.isfinite(result.between_variance):
        return None
    return rows, result, sigma2


def _count_flag(count: npt.NDArray[np.int_], parts: npt.NDArray[np.int_]) -> npt.NDArray[np.str_]:
    """``synthetic:k/K`` where k of K parts are synthetic, else ""."""
    total = np.broadcast_to(parts, count.shape)
    text = np.char.add(np.char.add("synthetic:", count.astype(str)), np.char.add("/", total.astype(str)))
    return np.where(count > 0, text, "")


def _add_ranks(table: pd.DataFrame, *, level: float) -> pd.DataFrame:
    """Rank, group and rank interval from ``score_eb`` within level × code.

    Ranked: rows with an EB score resting on at least one answer (not ``empty``; a
    commune's purely synthetic estimates all equal x'β and would tie in bulk). The rank
    interval is widened to contain the rank itself (the percentiles of the simulated
    ranks can miss it for a commune much less certain than the others).
    """
    eligible = table["score_eb"].notna().to_numpy() & ~table["flags"].str.startswith("empty").to_numpy(dtype=bool)
    ranks = rank_and_group(table.assign(eligible=eligible), by=["level", "code"], score="score_eb", eligible="eligible")
    low = np.full(len(table), np.nan)
    high = np.full(len(table), np.nan)
    score_eb = table["score_eb"].to_numpy(float)
    se_eb = table["se_eb"].to_numpy(float)
    if np.isfinite(se_eb[eligible]).all() and (se_eb[eligible] >= 0).all():
        # rank_intervals' draws depend only on how many units are ranked: draw them once
        # per size rather than once per code (the same intervals, a third of the time).
        normals: dict[int, npt.NDArray[np.float64]] = {}
        eligible_rows = np.flatnonzero(eligible)
        for index in table[eligible].groupby(["level", "code"], sort=False).indices.values():
            rows = eligible_rows[index]
            if len(rows) not in normals:
                normals[len(rows)] = standard_draws(RANK_DRAWS, len(rows), RANK_SEED)
            low[rows], high[rows] = _intervals(score_eb[rows], se_eb[rows], normals[len(rows)], level)
        del normals
    else:  # let rank_intervals say what is wrong
        for index in table[eligible].groupby(["level", "code"], sort=False).indices.values():
            rows = np.flatnonzero(eligible)[index]
            low[rows], high[rows] = rank_intervals(score_eb[rows], se_eb[rows], level=level)
    rank = ranks["rank"].to_numpy(dtype=float, na_value=np.nan)
    low, high = np.fmin(low, rank), np.fmax(high, rank)
    return table.assign(
        rank=ranks["rank"],
        group=ranks["group"],
        rank_low=pd.array(low, dtype="Float64").astype("Int64"),
        rank_high=pd.array(high, dtype="Float64").astype("Int64"),
    )


def _sum_parts(
    block: dict[str, npt.NDArray[np.float64]],
    flags: dict[str, npt.NDArray[np.bool_]],
    starts: npt.NDArray[np.intp],
    z: float,
    level: str,
    se_parts: npt.NDArray[np.float64] | None = None,
) -> tuple[dict[str, npt.NDArray[np.float64]], dict[str, npt.NDArray[np.bool_]]]:
    """Sum consecutive parts (sub-dimensions -> dimension, dimensions -> aggregate)."""
    score = np.add.reduceat(block["score"], starts, axis=1)  # NaN if any part is NaN
    parts = block["se"] if se_parts is None else se_parts
    se = np.sqrt(np.add.reduceat(np.square(parts), starts, axis=1))
    score_eb = np.add.reduceat(block["score_eb"], starts, axis=1)
    se_eb = np.sqrt(np.add.reduceat(np.square(block["se_eb"]), starts, axis=1))
    low, high = _LEVEL_RANGE[level]
    nan = np.full(score.shape, np.nan)
    summed = {
        "n": nan,
        "n_eff": nan,
        "p": nan,
        "se_p": nan,
        "se": se,
        "score": score,
        "ci_low": np.clip(score - z * se, low, high),
        "ci_high": np.clip(score + z * se, low, high),
        "p_eb": nan,
        "mse_eb": nan,
        "score_eb": score_eb,
        "se_eb": se_eb,
        "ci_low_eb": np.clip(score_eb - z * se_eb, low, high),
        "ci_high_eb": np.clip(score_eb + z * se_eb, low, high),
    }
    combined = {
        name: np.add.reduceat(mask.astype(int), starts, axis=1) > 0 for name, mask in flags.items() if name != "empty"
    }
    missing_part = np.add.reduceat(np.isnan(block["score"]).astype(int), starts, axis=1) > 0
    empty = np.add.reduceat((~flags["empty"]).astype(int), starts, axis=1) == 0
    out = {"empty": empty, "incomplete": missing_part & ~empty}
    out.update(combined)
    return summed, out


def _long(
    block: dict[str, npt.NDArray[np.float64]],
    flags: dict[str, npt.NDArray[np.bool_]],
    communes: tuple[str, ...],
    level: str,
    codes: tuple[str, ...],
    extra: npt.NDArray[np.str_],
) -> pd.DataFrame:
    """Flatten (commune × code) arrays into rows; ``extra`` is a last flag per cell."""
    n_rows = len(communes) * len(codes)
    names = list(flags)
    flag_matrix = np.column_stack([flags[name].ravel() for name in names])
    labels = np.array(names, dtype=object)
    extra_flat = np.asarray(extra).ravel()
    text = []
    for row, last in zip(flag_matrix, extra_flat, strict=True):
        parts = list(labels[row])
        if last:
            parts.append(str(last))
        text.append(";".join(parts))
    frame = pd.DataFrame(
        {
            "commune": np.repeat(np.array(communes, dtype=object), len(codes)),
            "level": level,
            "code": np.tile(np.array(codes, dtype=object), len(communes)),
            **{name: values.ravel() for name, values in block.items()},
            "flags": text,
        },
        index=pd.RangeIndex(n_rows),
    )
    frame["n"] = frame["n"].astype("Int64")
    for column in ("commune", "level", "code", "flags"):
        frame[column] = frame[column].astype("str")
    return frame
