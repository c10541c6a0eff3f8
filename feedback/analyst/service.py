"""What the analyst pages show: periods from query strings, rankings, scorecards, chart geometry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from analysis import DIMENSION_NAMES, PLAN_TARGETS, get_structure

from ..bridge import load_analysis_input
from ..exports import commune_scores, province_scores, suppress_small_cells

__all__ = ["Period", "parse_period", "Ranking", "province_ranking", "Scorecard", "commune_scorecard",
           "interval_chart", "CODES"]

#: The codes a page can rank by: the aggregate, then the 8 dimensions.
CODES = ("total", "1", "2", "3", "4", "5", "6", "7", "8")
LEVEL_OF = {"total": "aggregate", **{d: "dimension" for d in CODES[1:]}}


@dataclass(frozen=True)
class Period:
    """Submission days (Viet Nam), both ends optional."""

    date_from: date | None = None
    date_to: date | None = None

    def args(self) -> dict[str, str]:
        """As query-string arguments for links."""
        out = {}
        if self.date_from:
            out["from"] = self.date_from.isoformat()
        if self.date_to:
            out["to"] = self.date_to.isoformat()
        return out


def parse_period(args: Any) -> Period:
    """``from`` and ``to`` (YYYY-MM-DD) from a query string; ValueError names the bad one."""
    values = {}
    for key in ("from", "to"):
        raw = args.get(key) or ""  # empty: no limit; anything else must be a date
        if raw:
            try:
                values[key] = date.fromisoformat(raw)
            except ValueError:
                raise ValueError(f"{key} must be a date YYYY-MM-DD, not {raw!r}") from None
            if not 2000 <= values[key].year <= 2999:  # responses carry times in these years only
                raise ValueError(f"{key} must be a date from 2000-01-01 to 2999-12-31, not {raw!r}")
    period = Period(values.get("from"), values.get("to"))
    if period.date_from and period.date_to and period.date_from > period.date_to:
        raise ValueError("from must not be after to")
    return period


@dataclass(frozen=True)
class Ranking:
    """Communes ranked on one code, with the province value and target."""

    code: str
    rows: list[dict[str, Any]]
    province: dict[str, Any]
    chart: dict[str, Any]
    excluded: int
    respondents: int
    ranked: int
    model_only: int


def _clean(value: Any) -> Any:
    return None if (value is pd.NA or value is None or (isinstance(value, float) and np.isnan(value))) else value


def _model_only(flags: str | None) -> tuple[int, int] | None:
    """(k, K) when k of the row's K parts are estimated from the model alone (flag ``synthetic``)."""
    for flag in (flags or "").split(";"):
        base, _, suffix = flag.partition(":")
        if base == "synthetic":
            if not suffix:
                return (1, 1)
            k, _, total = suffix.partition("/")
            return (int(k), int(total))
    return None


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Table rows as dicts without NaN/NA, with ``synthetic`` = (k, K) parts from the model alone, or None."""
    rows = [{k: _clean(v) for k, v in r.items()} for r in frame.to_dict("records")]
    for r in rows:
        r["synthetic"] = _model_only(r.get("flags"))
    return rows


def _score_tables(period: Period, province_code: str, structure: str = "current") -> tuple[pd.DataFrame, pd.DataFrame, int]:
    data = load_analysis_input(period.date_from, period.date_to, province_code=province_code)
    table = commune_scores(data, structure=structure)
    province = province_scores(table, data, province_code=province_code)
    return table, province, len(data.respondents) - data.flagged


def interval_chart(rows: list[dict[str, Any]], *, reference: float | None = None, target: float | None = None,
                   low: float, high: float, width: int = 440, row_height: int = 16, label_width: int = 124,
                   score: str = "score_eb", ci: tuple[str, str] = ("ci_low_eb", "ci_high_eb")) -> dict[str, Any]:
    """Geometry of a horizontal interval plot: a dot per score with its interval as a bar.

    Draws the small-area (EB) estimates by default. The axis spans the rows' intervals (and
    the reference and target) with some room, within the level's range [low, high], so
    differences stay visible.
    """
    values = [v for r in rows for v in (r.get(ci[0]), r.get(ci[1]), r.get(score)) if v is not None]
    values += [v for v in (reference, target) if v is not None]
    lo, hi = (min(values), max(values)) if values else (low, high)
    pad = max((hi - lo) * 0.08, (high - low) * 0.01)
    lo, hi = max(low, lo - pad), min(high, hi + pad)
    if hi <= lo:
        lo, hi = low, high
    plot = width - label_width - 18  # room for the last tick's label

    def x(v: float | None) -> float | None:
        return None if v is None else round(label_width + (v - lo) / (hi - lo) * plot, 1)

    ticks = [round(t, 2) for t in np.linspace(lo, hi, 5)]
    return {
        "width": width,
        "height": row_height * len(rows) + 24,
        "row_height": row_height,
        "label_width": label_width,
        "points": [{"y": row_height * i + row_height / 2, "x": x(r.get(score)), "x1": x(r.get(ci[0])),
                    "x2": x(r.get(ci[1])), "score": r.get(score), "low": r.get(ci[0]), "high": r.get(ci[1]),
                    "row": r} for i, r in enumerate(rows)],
        "reference": x(reference),
        "target": x(target),
        "ticks": [{"x": x(t), "label": f"{t:g}"} for t in ticks],
        "axis_y": row_height * len(rows) + 4,
    }


def province_ranking(period: Period, code: str, *, province_code: str = "15", structure: str = "current") -> Ranking:
    """Communes ranked on ``code`` by their small-area estimates, best first; communes without data last."""
    st = get_structure(structure)
    if code not in CODES and code not in st.subdimensions:
        raise ValueError(f"unknown code {code!r}")
    level = LEVEL_OF.get(code, "subdimension")
    table, province, respondents = _score_tables(period, province_code, structure)
    rows = table[(table["level"] == level) & (table["code"] == code)]
    rows = rows.sort_values(["rank", "commune_name"], na_position="last", kind="stable")
    prov = {k: _clean(v) for k, v in province[province["code"] == code].iloc[0].to_dict().items()}
    if level == "subdimension":
        k = st.k(st.dimension_of(code))
        level_range = (1 / k, 10 / k)
    else:
        level_range = (8.0, 80.0) if code == "total" else (1.0, 10.0)
    records = _rows(rows)
    chart_rows = [r for r in records if r["score_eb"] is not None]
    chart = interval_chart(chart_rows, reference=prov.get("score"), target=prov.get("target_2019"),
                           low=level_range[0], high=level_range[1])
    return Ranking(code=code, rows=records, province=prov, chart=chart,
                   excluded=int(table.attrs.get("excluded", 0)), respondents=respondents,
                   ranked=int(rows["rank"].notna().sum()),
                   model_only=sum(1 for r in records if r["synthetic"] and r["synthetic"][0] == r["synthetic"][1]))


@dataclass(frozen=True)
class Scorecard:
    """One commune's 8 dimensions and aggregate beside the province and plan 170 targets."""

    commune_code: str
    rows: list[dict[str, Any]]
    subdimensions: list[dict[str, Any]]
    chart: dict[str, Any]
    excluded: int
    suppressed: int


def commune_scorecard(commune_code: str, period: Period, *, province_code: str = "15",
                      structure: str = "current") -> Scorecard:
    """The scorecard of a commune; small cells suppressed because scorecards get printed and shared.

    Each row carries ``ranked``: how many communes are ranked on its code.
    """
    data = load_analysis_input(period.date_from, period.date_to, province_code=province_code)
    table = commune_scores(data, structure=structure)
    ranked = table.groupby(["level", "code"])["rank"].count()
    own = suppress_small_cells(table[table["commune_code"] == commune_code].reset_index(drop=True))
    own["ranked"] = [int(ranked.get((lv, c), 0)) for lv, c in zip(own["level"], own["code"])]
    # The province beside it, as published: rolled up from published cells, small ones hidden.
    prov = suppress_small_cells(province_scores(suppress_small_cells(table), data, province_code=province_code))
    prov = prov.set_index("code")
    st = get_structure(structure)
    rows = []
    for code in CODES[1:] + ("total",):
        row = _rows(own[(own["code"] == code) & (own["level"] == LEVEL_OF[code])])[0]
        rows.append({
            **row,
            "name": DIMENSION_NAMES[code],
            "province": _num(prov.loc[code, "score"]),
            "province_low": _num(prov.loc[code, "ci_low"]),
            "province_high": _num(prov.loc[code, "ci_high"]),
            "target": PLAN_TARGETS[code].target_2019 if code in PLAN_TARGETS else None,
            "official": _num(prov.loc[code, "official"]),
        })
    subs = _rows(own[own["level"] == "subdimension"])
    for s in subs:
        s["dimension"] = st.dimension_of(s["code"])
        s["shown"] = bool(s["n"]) or s["score_eb"] is not None  # answered, or estimated from the model
    return Scorecard(commune_code=commune_code, rows=rows, subdimensions=subs,
                     chart=_scorecard_chart(rows[:-1]), excluded=int(table.attrs.get("excluded", 0)),
                     suppressed=int(own.attrs.get("suppressed", 0)))


def _scorecard_chart(rows: list[dict[str, Any]], width: int = 420, row_height: int = 26,
                     label_width: int = 28) -> dict[str, Any]:
    """Eight dimensions on a common 1–10 axis: the commune's EB score and interval, province dot, target tick."""
    plot = width - label_width - 10

    def x(v: float | None) -> float | None:
        return None if v is None else round(label_width + (v - 1.0) / 9.0 * plot, 1)

    return {
        "width": width,
        "height": row_height * len(rows) + 24,
        "axis_y": row_height * len(rows) + 4,
        "label_width": label_width,
        "rows": [{"y": row_height * i + row_height / 2, "code": r["code"], "x": x(r.get("score_eb")),
                  "x1": x(r.get("ci_low_eb")), "x2": x(r.get("ci_high_eb")), "province": x(r.get("province")),
                  "target": x(r.get("target")), "row": r} for i, r in enumerate(rows)],
        "ticks": [{"x": x(t), "label": str(t)} for t in range(1, 11)],
    }


def _num(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(value) else value
