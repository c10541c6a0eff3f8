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


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: (None if (v is pd.NA or (isinstance(v, float) and np.isnan(v))) else v) for k, v in r.items()}
            for r in frame.to_dict("records")]


def _score_tables(period: Period, province_code: str, structure: str = "current") -> tuple[pd.DataFrame, pd.DataFrame, int]:
    data = load_analysis_input(period.date_from, period.date_to, province_code=province_code)
    table = commune_scores(data, structure=structure)
    province = province_scores(table, data, province_code=province_code)
    return table, province, len(data.respondents) - data.flagged


def interval_chart(rows: list[dict[str, Any]], *, reference: float | None = None, target: float | None = None,
                   low: float, high: float, width: int = 560, row_height: int = 18, label_width: int = 0) -> dict[str, Any]:
    """Geometry of a horizontal interval plot: a dot per score with its CI as a bar.

    The axis spans the rows' intervals (and the reference and target) with some room, within
    the level's range [low, high], so differences stay visible.
    """
    values = [v for r in rows for v in (r.get("ci_low"), r.get("ci_high"), r.get("score")) if v is not None]
    values += [v for v in (reference, target) if v is not None]
    lo, hi = (min(values), max(values)) if values else (low, high)
    pad = max((hi - lo) * 0.08, (high - low) * 0.01)
    lo, hi = max(low, lo - pad), min(high, hi + pad)
    if hi <= lo:
        lo, hi = low, high
    plot = width - label_width - 10

    def x(v: float | None) -> float | None:
        return None if v is None else round(label_width + (v - lo) / (hi - lo) * plot, 1)

    ticks = [round(t, 2) for t in np.linspace(lo, hi, 5)]
    return {
        "width": width,
        "height": row_height * len(rows) + 24,
        "row_height": row_height,
        "label_width": label_width,
        "points": [{"y": row_height * i + row_height / 2, "x": x(r.get("score")), "x1": x(r.get("ci_low")),
                    "x2": x(r.get("ci_high")), "row": r} for i, r in enumerate(rows)],
        "reference": x(reference),
        "target": x(target),
        "ticks": [{"x": x(t), "label": f"{t:g}"} for t in ticks],
        "axis_y": row_height * len(rows) + 4,
    }


def province_ranking(period: Period, code: str, *, province_code: str = "15", structure: str = "current") -> Ranking:
    """Communes ranked on ``code`` (``total`` or ``1``…``8``), best first, unranked ones last."""
    st = get_structure(structure)
    if code not in CODES and code not in st.subdimensions:
        raise ValueError(f"unknown code {code!r}")
    level = LEVEL_OF.get(code, "subdimension")
    table, province, respondents = _score_tables(period, province_code, structure)
    rows = table[(table["level"] == level) & (table["code"] == code)].copy()
    rows["_has"] = rows["score"].notna()
    rows = rows.sort_values(["rank", "_has", "score"], ascending=[True, False, False], na_position="last")
    prov = province[province["code"] == code].iloc[0].to_dict()
    prov = {k: (None if (v is pd.NA or (isinstance(v, float) and np.isnan(v))) else v) for k, v in prov.items()}
    if level == "subdimension":
        k = st.k(st.dimension_of(code))
        level_range = (1 / k, 10 / k)
    else:
        level_range = (8.0, 80.0) if code == "total" else (1.0, 10.0)
    records = _rows(rows.drop(columns="_has"))
    chart_rows = [r for r in records if r["score"] is not None]
    chart = interval_chart(chart_rows, reference=prov.get("score"), target=prov.get("target_2019"),
                           low=level_range[0], high=level_range[1], label_width=150)
    return Ranking(code=code, rows=records, province=prov, chart=chart,
                   excluded=int(table.attrs.get("excluded", 0)), respondents=respondents)


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
    """The scorecard of a commune; small cells suppressed because scorecards get printed and shared."""
    table, province, _ = _score_tables(period, province_code, structure)
    own = suppress_small_cells(table[table["commune_code"] == commune_code].reset_index(drop=True))
    prov = province.set_index("code")
    st = get_structure(structure)
    rows = []
    for code in CODES[1:] + ("total",):
        row = own[(own["code"] == code) & (own["level"] == LEVEL_OF[code])].iloc[0].to_dict()
        rows.append({
            **{k: (None if (v is pd.NA or (isinstance(v, float) and np.isnan(v))) else v) for k, v in row.items()},
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
    return Scorecard(commune_code=commune_code, rows=rows, subdimensions=subs,
                     chart=_scorecard_chart(rows[:-1]), excluded=int(table.attrs.get("excluded", 0)),
                     suppressed=int(own.attrs.get("suppressed", 0)))


def _scorecard_chart(rows: list[dict[str, Any]], width: int = 600, row_height: int = 26,
                     label_width: int = 40) -> dict[str, Any]:
    """Eight dimensions on a common 1–10 axis: commune CI and score, province dot, target tick."""
    plot = width - label_width - 10

    def x(v: float | None) -> float | None:
        return None if v is None else round(label_width + (v - 1.0) / 9.0 * plot, 1)

    return {
        "width": width,
        "height": row_height * len(rows) + 24,
        "axis_y": row_height * len(rows) + 4,
        "label_width": label_width,
        "rows": [{"y": row_height * i + row_height / 2, "code": r["code"], "x": x(r.get("score")),
                  "x1": x(r.get("ci_low")), "x2": x(r.get("ci_high")), "province": x(r.get("province")),
                  "target": x(r.get("target")), "row": r} for i, r in enumerate(rows)],
        "ticks": [{"x": x(t), "label": str(t)} for t in range(1, 11)],
    }


def _num(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(value) else value
