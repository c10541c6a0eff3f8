"""What the analyst pages show: periods from query strings, rankings, scorecards, chart geometry."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date
from typing import TYPE_CHECKING, Any

from flask_babel import gettext as _

from analysis.structures import DIMENSION_NAMES, PLAN_TARGETS, get_structure

from ..charts import label_room, nice_bounds, nice_step, nice_ticks, tick_label
from ..models import utcnow
from ..places import name_key
from ..score_cache import ScoreTables, cached_score_tables, scope_responses, score_tables
from ..times import local_day

if TYPE_CHECKING:  # pandas and the exports load with the first page that needs them
    import pandas as pd

    from ..exports import ScoreExport

__all__ = [
    "Period",
    "PeriodError",
    "parse_period",
    "ScoresPending",
    "StaleNote",
    "Ranking",
    "province_ranking",
    "Scorecard",
    "commune_scorecard",
    "interval_chart",
    "score_export",
    "CODES",
]

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


class PeriodError(ValueError):
    """A period the reader must correct; ``str()`` says what and how, in their language."""


def parse_period(args: Any) -> Period:
    """``from`` and ``to`` (YYYY-MM-DD, Viet Nam days) from a query string or form.

    Raises PeriodError naming the field and the rule it breaks: not a date, outside the years
    responses can carry (2000–2999), first after last, or a start after today (Viet Nam), when
    the period can hold no responses yet.
    """
    labels = {"from": _("From"), "to": _("To")}
    values = {}
    for key in ("from", "to"):
        raw = args.get(key) or ""  # empty: no limit; anything else must be a date
        if not raw:
            continue
        try:
            values[key] = date.fromisoformat(raw)
        except ValueError:
            raise PeriodError(
                _(
                    "“%(field)s” must be a day written YYYY-MM-DD, such as 2025-07-01, not “%(value)s”.",
                    field=labels[key],
                    value=raw[:40],
                )
            ) from None
        if not 2000 <= values[key].year <= 2999:  # responses carry times in these years only
            raise PeriodError(
                _(
                    "“%(field)s” must be a day from 2000-01-01 to 2999-12-31, not %(value)s.",
                    field=labels[key],
                    value=raw,
                )
            )
    period = Period(values.get("from"), values.get("to"))
    if period.date_from and period.date_to and period.date_from > period.date_to:
        raise PeriodError(
            _(
                "The first day (%(first)s) is after the last (%(last)s).",
                first=period.date_from.isoformat(),
                last=period.date_to.isoformat(),
            )
        )
    today = local_day(utcnow())
    if period.date_from and period.date_from > today:
        raise PeriodError(
            _("The period starts after today (%(today)s), so it holds no responses yet.", today=today.isoformat())
        )
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
    stale: StaleNote | None = None
    #: Year of the province's official PAPI score (the official data file's latest), if any.
    official_year: int | None = None


def _clean(value: Any) -> Any:
    import pandas as pd

    return None if (value is pd.NA or value is None or (isinstance(value, float) and math.isnan(value))) else value


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
    # Column lists zipped into dicts: DataFrame.to_dict("records") goes row by row through pandas.
    columns = {name: [_clean(v) for v in frame[name].tolist()] for name in frame.columns}
    rows = [dict(zip(columns, values, strict=False)) for values in zip(*columns.values(), strict=False)]
    for r in rows:
        r["synthetic"] = _model_only(r.get("flags"))
    return rows


def _bare(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame without ``attrs``: pandas deep-copies them on every operation, which made a
    warm page spend most of its time copying them (read what a page needs from them first)."""
    out = frame.copy(deep=False)
    out.attrs = {}
    return out


class ScoresPending(Exception):
    """No scores are cached for the page's inputs and its scope is too big to compute them in a
    web request: a background job (``job``, a ``refresh_scores`` Job) is computing them."""

    def __init__(self, job: Any):
        super().__init__(f"scores are being computed by job {job.id}")
        self.job = job


@dataclass(frozen=True)
class StaleNote:
    """What a page served from an older cache entry says: when (``time``, HH:MM Viet Nam time)
    and from how many responses (``respondents``) its scores were computed."""

    time: str
    respondents: int

    @classmethod
    def of(cls, tables: ScoreTables) -> StaleNote | None:
        """The note for tables read from an older entry; None for fresh ones."""
        if not tables.stale or tables.computed_at is None:
            return None
        from ..times import VIET_NAM

        local = tables.computed_at.replace(tzinfo=UTC).astimezone(VIET_NAM)
        return cls(time=local.strftime("%H:%M"), respondents=tables.respondents)


def _requester() -> int | None:
    """The logged-in user's id (the refresh job's owner), or None outside a request."""
    from flask import has_request_context
    from flask_login import current_user

    return current_user.id if has_request_context() and current_user.is_authenticated else None


def _score_tables(period: Period, province_code: str | None, structure: str = "current") -> ScoreTables:
    """The period's score tables without waiting for a long computation (stale-while-revalidate).

    Fresh cached tables as they are; tables cached at an older data version at once (``stale``)
    while a background job recomputes them (one per inputs at a time); with nothing cached,
    computed here if the scope has fewer than SCORES_INLINE_MAX_RESPONSES responses, else
    ScoresPending (the job is started).
    """
    from flask import current_app

    from ..jobs.scores import refresh_params, request_refresh

    options = dict(structure=structure, province_code=province_code, include_flagged=False)
    tables = cached_score_tables(period.date_from, period.date_to, **options)
    if tables is not None and not tables.stale:
        return tables
    params = refresh_params(period.date_from, period.date_to, **options)
    if tables is not None:
        request_refresh(params, user_id=_requester())
        return tables
    limit = int(current_app.config["SCORES_INLINE_MAX_RESPONSES"])
    if scope_responses(period.date_from, period.date_to, province_code) < limit:
        return score_tables(period.date_from, period.date_to, **options)
    raise ScoresPending(request_refresh(params, user_id=_requester()))


def score_export(
    period: Period,
    *,
    level: str = "commune",
    structure: str = "current",
    public: bool = False,
    province_code: str | None = "15",
) -> ScoreExport:
    """The score export of a period (as ``feedback.exports.build_score_export``), read through the cache.

    Raises ValueError for a level other than ``commune`` or ``province`` or an unknown structure.
    """
    from ..published import tables_export

    if level not in ("commune", "province"):
        raise ValueError(f"level must be commune or province, not {level!r}")
    get_structure(structure)
    tables = _score_tables(period, province_code, structure)
    return tables_export(tables, period.date_from, period.date_to, level=level, structure=structure, public=public)


def interval_chart(
    rows: list[dict[str, Any]],
    *,
    reference: float | None = None,
    target: float | None = None,
    low: float,
    high: float,
    width: int = 440,
    row_height: int = 16,
    label_width: int = 124,
    score: str = "score_eb",
    ci: tuple[str, str] = ("ci_low_eb", "ci_high_eb"),
    font_size: float = 11,
) -> dict[str, Any]:
    """Geometry of a horizontal interval plot: a dot per score with its interval as a bar.

    Draws the small-area (EB) estimates by default. The axis spans the rows' intervals (and
    the reference and target) with some room, widened to round values (1-2-5 steps) within
    the level's range [low, high], so differences stay visible; ticks sit on round values
    only, and the plot leaves room for half the widest tick label at both ends.
    """
    values = [v for r in rows for v in (r.get(ci[0]), r.get(ci[1]), r.get(score)) if v is not None]
    values += [v for v in (reference, target) if v is not None]
    lo, hi = (min(values), max(values)) if values else (low, high)
    pad = max((hi - lo) * 0.08, (high - low) * 0.01)
    lo, hi = max(low, lo - pad), min(high, hi + pad)
    if hi <= lo:
        lo, hi = low, high
    step = nice_step(hi - lo, 6)
    nice_lo, nice_hi = nice_bounds(lo, hi, step)
    lo, hi = max(low, nice_lo), min(high, nice_hi)
    ticks = nice_ticks(lo, hi, step=step)
    labels = [tick_label(t, step) for t in ticks]
    room = label_room(labels, font_size)
    plot = width - label_width - room

    def x(v: float | None) -> float | None:
        return None if v is None else round(label_width + (v - lo) / (hi - lo) * plot, 1)

    return {
        "width": width,
        "height": row_height * len(rows) + 24,
        "row_height": row_height,
        "label_width": label_width,
        "points": [
            {
                "y": row_height * i + row_height / 2,
                "x": x(r.get(score)),
                "x1": x(r.get(ci[0])),
                "x2": x(r.get(ci[1])),
                "score": r.get(score),
                "low": r.get(ci[0]),
                "high": r.get(ci[1]),
                "row": r,
            }
            for i, r in enumerate(rows)
        ],
        "reference": x(reference),
        "target": x(target),
        "ticks": [{"x": x(t), "label": text} for t, text in zip(ticks, labels, strict=False)],
        "axis_y": row_height * len(rows) + 4,
    }


def _official_year(table: Any) -> int | None:
    """The year of the official PAPI scores beside a province table, if it has them."""
    year = table.attrs.get("official_year")
    return None if year is None else int(year)


def province_ranking(period: Period, code: str, *, province_code: str = "15", structure: str = "current") -> Ranking:
    """Communes ranked on ``code`` by their small-area estimates, best first; communes without data last."""
    st = get_structure(structure)
    if code not in CODES and code not in st.subdimensions:
        raise ValueError(f"unknown code {code!r}")
    level = LEVEL_OF.get(code, "subdimension")
    tables = _score_tables(period, province_code, structure)
    excluded = int(tables.communes.attrs.get("excluded", 0))
    table, province, respondents = _bare(tables.communes), _bare(tables.province), tables.respondents
    rows = table[(table["level"] == level) & (table["code"] == code)]
    # Ties, and communes without a rank, in Vietnamese alphabetical order of their names.
    rows = rows.sort_values(
        ["rank", "commune_name"],
        na_position="last",
        kind="stable",
        key=lambda col: col.map(name_key) if col.name == "commune_name" else col,
    )
    prov = {k: _clean(v) for k, v in province[province["code"] == code].iloc[0].to_dict().items()}
    if level == "subdimension":
        k = st.k(st.dimension_of(code))
        level_range = (1 / k, 10 / k)
    else:
        level_range = (8.0, 80.0) if code == "total" else (1.0, 10.0)
    records = _rows(rows)
    chart_rows = [r for r in records if r["score_eb"] is not None]
    chart = interval_chart(
        chart_rows, reference=prov.get("score"), target=prov.get("target_2019"), low=level_range[0], high=level_range[1]
    )
    return Ranking(
        code=code,
        rows=records,
        province=prov,
        chart=chart,
        excluded=excluded,
        respondents=respondents,
        ranked=int(rows["rank"].notna().sum()),
        model_only=sum(1 for r in records if r["synthetic"] and r["synthetic"][0] == r["synthetic"][1]),
        stale=StaleNote.of(tables),
        official_year=_official_year(tables.province),
    )


@dataclass(frozen=True)
class Scorecard:
    """One commune's 8 dimensions and aggregate beside the province and plan 170 targets."""

    commune_code: str
    rows: list[dict[str, Any]]
    subdimensions: list[dict[str, Any]]
    chart: dict[str, Any]
    excluded: int
    suppressed: int
    stale: StaleNote | None = None


def commune_scorecard(
    commune_code: str, period: Period, *, province_code: str = "15", structure: str = "current"
) -> Scorecard:
    """The scorecard of a commune; small cells suppressed because scorecards get printed and shared.

    Each row carries ``ranked``: how many communes are ranked on its code.
    """
    from ..exports import suppress_small_cells

    tables = _score_tables(period, province_code, structure)
    excluded = int(tables.communes.attrs.get("excluded", 0))
    table = _bare(tables.communes)
    ranked = table.groupby(["level", "code"])["rank"].count()
    own = suppress_small_cells(table[table["commune_code"] == commune_code].reset_index(drop=True))
    own["ranked"] = [int(ranked.get((lv, c), 0)) for lv, c in zip(own["level"], own["code"], strict=False)]
    # The province beside it, as published: rolled up from published cells, small ones hidden.
    prov = {r["code"]: r for r in _rows(_bare(tables.province_published))}
    st = get_structure(structure)
    own_rows = _rows(own)
    by_code = {(r["level"], r["code"]): r for r in own_rows}
    rows = []
    for code in CODES[1:] + ("total",):
        rows.append(
            {
                **by_code[(LEVEL_OF[code], code)],
                "name": DIMENSION_NAMES[code],
                "province": _num(prov[code]["score"]),
                "province_low": _num(prov[code]["ci_low"]),
                "province_high": _num(prov[code]["ci_high"]),
                "target": PLAN_TARGETS[code].target_2019 if code in PLAN_TARGETS else None,
                "official": _num(prov[code]["official"]),
            }
        )
    subs = [r for r in own_rows if r["level"] == "subdimension"]
    for s in subs:
        s["dimension"] = st.dimension_of(s["code"])
        s["shown"] = bool(s["n"]) or s["score_eb"] is not None  # answered, or estimated from the model
    return Scorecard(
        commune_code=commune_code,
        rows=rows,
        subdimensions=subs,
        chart=_scorecard_chart(rows[:-1]),
        excluded=excluded,
        suppressed=int(own.attrs.get("suppressed", 0)),
        stale=StaleNote.of(tables),
    )


def _scorecard_chart(
    rows: list[dict[str, Any]], width: int = 420, row_height: int = 26, label_width: int = 28, font_size: float = 11
) -> dict[str, Any]:
    """Eight dimensions on a common 1–10 axis: the commune's EB score and interval, province dot, target tick."""
    ticks = nice_ticks(1.0, 10.0, step=1.0)
    labels = [tick_label(t, 1.0) for t in ticks]
    plot = width - label_width - label_room(labels, font_size)

    def x(v: float | None) -> float | None:
        return None if v is None else round(label_width + (v - 1.0) / 9.0 * plot, 1)

    return {
        "width": width,
        "height": row_height * len(rows) + 24,
        "axis_y": row_height * len(rows) + 4,
        "label_width": label_width,
        "rows": [
            {
                "y": row_height * i + row_height / 2,
                "code": r["code"],
                "x": x(r.get("score_eb")),
                "x1": x(r.get("ci_low_eb")),
                "x2": x(r.get("ci_high_eb")),
                "province": x(r.get("province")),
                "target": x(r.get("target")),
                "row": r,
            }
            for i, r in enumerate(rows)
        ],
        "ticks": [{"x": x(t), "label": text} for t, text in zip(ticks, labels, strict=False)],
    }


def _num(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value
