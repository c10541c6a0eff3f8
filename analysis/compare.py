"""Comparisons: change between periods, differences across communes, province roll-up."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from analysis.estimates import papi_scale
from analysis.scoring import commune_population, respondent_values
from analysis.structures import DIMENSIONS, PLAN_TARGETS, Structure, get_structure

__all__ = ["compare_periods", "kruskal_communes", "rollup_province"]

_KEYS = ["commune", "level", "code"]
_LEVEL_RANGE = {"subdimension": (0.0, np.inf), "dimension": (1.0, 10.0), "aggregate": (8.0, 80.0)}


def _require_table(table: object, name: str) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"{name} must be the DataFrame returned by score_communes")
    missing = [c for c in ("commune", "level", "code", "n", "se", "score", "se_p", "p") if c not in table.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {', '.join(missing)}; pass score_communes output")
    return table


def compare_periods(
    current: pd.DataFrame,
    previous: pd.DataFrame,
    *,
    alpha: float = 0.05,
) -> pd.DataFrame:
    r"""Change of each commune's scores from a previous period, with a Welch test.

    Parameters
    ----------
    current, previous
        Two tables returned by :func:`analysis.score_communes` (same structure).
    alpha
        Significance level of the ``significant`` column.

    Returns
    -------
    pandas.DataFrame
        Per commune × level × code present in both: ``score_previous``,
        ``score_current``, ``change``, ``se_change``, ``df``, ``statistic``, ``p_value``
        and ``significant``.

    Notes
    -----
    The two periods are independent samples, so
    :math:`SE_\Delta = \sqrt{SE_1^2 + SE_0^2}` and :math:`t = \Delta / SE_\Delta`.
    For sub-dimensions the reference distribution is Student's t with the
    Welch–Satterthwaite degrees of freedom

    .. math:: \nu = \frac{(SE_1^2 + SE_0^2)^2}{SE_1^4/(n_1 - 1) + SE_0^4/(n_0 - 1)},

    using respondent counts n as for the intervals; dimensions and the aggregate
    (sums of many parts) use the normal distribution (:math:`\nu = \infty`). Rows
    without two standard errors, or with :math:`SE_\Delta = 0`, get NaN tests.

    References
    ----------
    Welch, B. L. (1947). The generalization of "Student's" problem when several
    different population variances are involved. *Biometrika* 34, 28–35.
    Satterthwaite, F. E. (1946). *Biometrics Bulletin* 2(6), 110–114.
    """
    _require_table(current, "current")
    _require_table(previous, "previous")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}")
    s1, s0 = current.attrs.get("structure"), previous.attrs.get("structure")
    if s1 is not None and s0 is not None and s1 != s0:
        raise ValueError(
            f"the periods were scored with different PAPI structures ({s0} and {s1}); "
            "score both with the same structure"
        )
    columns = [*_KEYS, "n", "se", "score"]
    merged = previous[columns].merge(current[columns], on=_KEYS, how="inner", suffixes=("_previous", "_current"))
    se1 = merged["se_current"].to_numpy(dtype=float)
    se0 = merged["se_previous"].to_numpy(dtype=float)
    n1 = merged["n_current"].to_numpy(dtype=float, na_value=np.nan)
    n0 = merged["n_previous"].to_numpy(dtype=float, na_value=np.nan)
    change = merged["score_current"].to_numpy(dtype=float) - merged["score_previous"].to_numpy(dtype=float)
    variance = se1**2 + se0**2
    se_change = np.sqrt(variance)
    is_sub = (merged["level"] == "subdimension").to_numpy()
    df = np.full(len(merged), np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        welch = variance**2 / (se1**4 / (n1 - 1) + se0**4 / (n0 - 1))
        df[is_sub] = welch[is_sub]
        testable = np.isfinite(change) & (se_change > 0) & (df > 0)
        statistic = np.where(testable, change / se_change, np.nan)
    p_value = np.full(len(merged), np.nan)
    p_value[testable] = 2 * stats.t.sf(np.abs(statistic[testable]), df[testable])
    df = np.where(testable, df, np.nan)
    significant = pd.array(np.where(testable, p_value < alpha, False), dtype="boolean")
    significant[~testable] = pd.NA  # unknown, not "no change"
    return pd.DataFrame(
        {
            "commune": merged["commune"],
            "level": merged["level"],
            "code": merged["code"],
            "score_previous": merged["score_previous"],
            "score_current": merged["score_current"],
            "change": change,
            "se_change": se_change,
            "df": df,
            "statistic": statistic,
            "p_value": p_value,
            "significant": significant,
        }
    )


def kruskal_communes(
    scores: pd.DataFrame,
    respondents: pd.DataFrame,
    *,
    structure: str | Structure = "current",
    include_flagged: bool = False,
) -> pd.DataFrame:
    r"""Kruskal–Wallis test of whether communes differ, per sub-dimension.

    Parameters
    ----------
    scores, respondents, structure, include_flagged
        As in :func:`analysis.score_communes`.

    Returns
    -------
    pandas.DataFrame
        Per sub-dimension with data: ``code``, ``statistic`` (H, tie-corrected),
        ``df`` (communes − 1), ``p_value``, ``n_communes`` and ``n`` (respondents).
        Fewer than two communes, or all values equal: NaN statistic and p-value.

    Notes
    -----
    :math:`H = \frac{12}{N(N+1)}\sum_j R_j^2/n_j - 3(N+1)`, divided by the tie
    correction :math:`1 - \sum(t^3 - t)/(N^3 - N)`, referred to
    :math:`\chi^2_{m-1}`; computed by :func:`scipy.stats.kruskal` on the unweighted
    respondent values (mean of each respondent's items). Unweighted because the
    test is about whether communes differ at all, not about population means.

    References
    ----------
    Kruskal, W. H. & Wallis, W. A. (1952). Use of ranks in one-criterion variance
    analysis. *JASA* 47(260), 583–621.
    """
    st = get_structure(structure)
    values = respondent_values(scores, respondents, structure=st, include_flagged=include_flagged)
    rows = []
    commune_codes = values["commune"].cat.codes.to_numpy()
    sub_codes = values["subdimension"].cat.codes.to_numpy()
    y = values["value"].to_numpy()
    order = np.lexsort((commune_codes, sub_codes))
    sub_sorted, commune_sorted, y_sorted = sub_codes[order], commune_codes[order], y[order]
    sub_bounds = np.searchsorted(sub_sorted, np.arange(len(st.subdimensions) + 1))
    for s, code in enumerate(st.subdimensions):
        lo, hi = sub_bounds[s], sub_bounds[s + 1]
        if lo == hi:
            continue
        communes = commune_sorted[lo:hi]
        cuts = np.flatnonzero(np.diff(communes)) + 1
        samples = np.split(y_sorted[lo:hi], cuts)
        statistic = p_value = np.nan
        if len(samples) >= 2 and np.ptp(y_sorted[lo:hi]) > 0:
            result = stats.kruskal(*samples)
            statistic, p_value = float(result.statistic), float(result.pvalue)
        rows.append(
            {
                "code": code,
                "statistic": statistic,
                "df": len(samples) - 1,
                "p_value": p_value,
                "n_communes": len(samples),
                "n": hi - lo,
            }
        )
    frame = pd.DataFrame(rows, columns=["code", "statistic", "df", "p_value", "n_communes", "n"])
    frame["code"] = frame["code"].astype("str")
    frame.attrs["excluded"] = values.attrs["excluded"]
    return frame


def rollup_province(
    table: pd.DataFrame,
    *,
    population: pd.Series | Mapping[str, float] | pd.DataFrame | None = None,
    structure: str | Structure | None = None,
    official: pd.DataFrame | None = None,
    official_year: int | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    r"""Province scores from commune scores, beside plan 170 targets and official PAPI.

    Parameters
    ----------
    table
        Output of :func:`analysis.score_communes`.
    population
        Commune populations (Series or mapping commune -> population, or a margins
        table, see :func:`analysis.commune_population`). Without it communes are
        weighted by their respondent counts n.
    structure
        PAPI structure of ``table``; taken from ``table.attrs`` when omitted.
    official
        Official scores from :func:`analysis.load_official_scores`.
    official_year
        Year of the official scores to show; the latest year when omitted.
    confidence
        Confidence level of the (normal) intervals.

    Returns
    -------
    pandas.DataFrame
        Per level × code: ``n_communes``, ``n``, ``p`` (sub-dimensions), ``score``,
        ``se``, ``ci_low``, ``ci_high``, ``baseline_2018`` and ``target_2019`` (plan 170;
        dimensions and total), ``official`` and ``gap_to_target`` (score − target).

    Notes
    -----
    Communes are strata sampled independently. For a sub-dimension, over the
    communes c with an estimate and weights :math:`W_c` (population, else n),

    .. math:: \hat p = \sum_c W_c \hat p_c / \sum_c W_c, \qquad
              SE = \sqrt{\sum_c (W_c/\textstyle\sum W)^2\,SE_c^2}

    where a commune with one respondent (no SE) contributes the largest possible
    variance of a 0–1 value, 0.25. Score :math:`1/k + 9\hat p/k`; dimensions and the
    total are sums of their parts with variances added (independence assumed).
    Intervals are normal. Communes without an estimate for a sub-dimension are left
    out and the weights renormalised over the others, which assumes they resemble
    the rest. Flagged (``insufficient``) communes are included: the roll-up does not
    rank them.

    References
    ----------
    Cochran, W. G. (1977). *Sampling Techniques*, 3rd ed. Wiley, ch. 5 (stratified
    estimation).
    """
    _require_table(table, "table")
    if structure is None:
        structure = table.attrs.get("structure", "current")
    st = get_structure(structure)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
    sub = table[table["level"] == "subdimension"]
    sub = sub[sub["code"].isin(st.subdimensions) & sub["p"].notna()]
    n = sub["n"].to_numpy(dtype=float, na_value=np.nan)
    if population is None:
        weight = n
    else:
        if isinstance(population, pd.DataFrame):
            population = commune_population(population)
        population = pd.Series(population, dtype=float)
        weight = sub["commune"].map(population).to_numpy(dtype=float)
        lacking = sorted(set(sub.loc[np.isnan(weight), "commune"]))
        if lacking:
            raise ValueError(f"population is missing for commune(s) {lacking[:5]}")
        if (weight < 0).any():
            raise ValueError("population must be non-negative")
    se_p = sub["se_p"].to_numpy(dtype=float)
    variance = np.where(np.isfinite(se_p), se_p**2, 0.25 / n)
    frame = pd.DataFrame(
        {
            "code": sub["code"].to_numpy(),
            "w": weight,
            "wp": weight * sub["p"].to_numpy(dtype=float),
            "w2v": weight**2 * variance,
            "n": n,
            "one": 1,
        }
    )
    sums = frame.groupby("code", sort=False).sum()
    codes = list(st.subdimensions)
    sums = sums.reindex(codes)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(sums["w"] > 0, sums["wp"] / sums["w"], np.nan)
        se_p_prov = np.where(sums["w"] > 0, np.sqrt(sums["w2v"]) / sums["w"], np.nan)
    k = np.array([st.k(st.dimension_of(c)) for c in codes], dtype=float)
    score = papi_scale(p, k)
    se = 9 * se_p_prov / k
    z = float(stats.norm.ppf((1 + confidence) / 2))
    sub_rows = pd.DataFrame(
        {
            "level": "subdimension",
            "code": codes,
            "n_communes": sums["one"].fillna(0).to_numpy(dtype=int),
            "n": sums["n"].fillna(0).to_numpy(dtype=int),
            "p": p,
            "score": score,
            "se": se,
        }
    )
    dim_rows = []
    for dim in DIMENSIONS:
        parts = sub_rows[sub_rows["code"].isin(st[dim])]
        dim_rows.append(
            {
                "level": "dimension",
                "code": dim,
                "n_communes": int(parts["n_communes"].max()),
                "n": int(parts["n"].max()),
                "p": np.nan,
                "score": float(parts["score"].sum(min_count=len(st[dim]))),
                "se": float(np.sqrt(np.square(parts["se"]).sum(min_count=len(st[dim])))),
            }
        )
    dims = pd.DataFrame(dim_rows)
    total = pd.DataFrame(
        [
            {
                "level": "aggregate",
                "code": "total",
                "n_communes": int(dims["n_communes"].max()),
                "n": int(dims["n"].max()),
                "p": np.nan,
                "score": float(dims["score"].sum(min_count=len(DIMENSIONS))),
                "se": float(np.sqrt(np.square(dims["se"]).sum(min_count=len(DIMENSIONS)))),
            }
        ]
    )
    out = pd.concat([sub_rows, dims, total], ignore_index=True)
    low = out["level"].map({lvl: r[0] for lvl, r in _LEVEL_RANGE.items()}).to_numpy(dtype=float, copy=True)
    high = out["level"].map({lvl: r[1] for lvl, r in _LEVEL_RANGE.items()}).to_numpy(dtype=float, copy=True)
    low[: len(codes)], high[: len(codes)] = 1 / k, 10 / k  # sub-dimension rows come first
    out["ci_low"] = np.clip(out["score"] - z * out["se"], low, high)
    out["ci_high"] = np.clip(out["score"] + z * out["se"], low, high)
    out["baseline_2018"] = out["code"].map({c: t.baseline_2018 for c, t in PLAN_TARGETS.items()})
    out["target_2019"] = out["code"].map({c: t.target_2019 for c, t in PLAN_TARGETS.items()})
    out.loc[out["level"] == "subdimension", ["baseline_2018", "target_2019"]] = np.nan
    out["official"] = np.nan
    if official is not None:
        if not {"year", "code", "score"} <= set(official.columns):
            raise ValueError("official must have columns year, code, score (load_official_scores)")
        year = int(official["year"].max()) if official_year is None else int(official_year)
        chosen = official[official["year"] == year]
        if chosen.empty:
            raise ValueError(f"official scores have no year {year}")
        out["official"] = out["code"].map(chosen.set_index("code")["score"]).astype(float)
        out.attrs["official_year"] = year
    out["gap_to_target"] = out["score"] - out["target_2019"]
    out.attrs["structure"] = st.name
    return out
