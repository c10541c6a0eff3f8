"""The public commune results page's figures, read from the latest published period only.

For one commune: its eight PAPI dimensions as small-area (empirical-Bayes) scores with 95%
intervals beside the province's published value, how many people answered, the period and
revision, the commune's rank when its province makes ranks public, and the dimensions whose
change since the previous published period the statistics support (``analysis.changes``,
Holm-adjusted over the commune's dimensions). Every figure comes from the snapshot after
public small-cell suppression (``feedback.exports.suppress_small_cells``): a hidden cell is
None here, so no page, title or chart can show it; a change is tested only between two shown
values, so the hidden one cannot be recovered from a difference either. A dimension estimated
from the model alone (nobody in the commune answered its questions) is not shown as the
commune's score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from analysis.structures import DIMENSION_NAMES

from . import audit
from .actions import action_text, visible_actions
from .extensions import db
from .models import Commune, ProvinceSetting, PublishedPeriod
from .published import latest_published, previous_published, snapshot_tables
from .score_cache import COMMUNE_RESPONDENTS

if TYPE_CHECKING:
    import pandas as pd

    from .score_cache import ScoreTables

__all__ = [
    "DIMENSIONS",
    "CommuneResults",
    "DimensionResult",
    "PublicSettings",
    "change_public_settings",
    "commune_results",
    "dimension_changes",
    "period_text",
    "public_settings",
    "score_text",
    "shown_dimensions",
    "signed_text",
]

DIMENSIONS = ("1", "2", "3", "4", "5", "6", "7", "8")
#: Significance level of a "supported" change, over the commune's tested dimensions (Holm).
CHANGE_ALPHA = 0.05


# --- The province's settings ---------------------------------------------------------------


@dataclass(frozen=True)
class PublicSettings:
    """What a province shows the public (a province without a ``ProvinceSetting`` row: the defaults)."""

    public_results: bool = True
    public_ranking: bool = False


def public_settings(province_code: str) -> PublicSettings:
    """The province's public-page settings."""
    row = db.session.get(ProvinceSetting, province_code)
    if row is None:
        return PublicSettings()
    return PublicSettings(public_results=bool(row.public_results), public_ranking=bool(row.public_ranking))


def change_public_settings(province_code: str, *, public_results: bool, public_ranking: bool) -> bool:
    """Store the province's settings; audited as ``public_settings_changed`` when anything changed.

    Returns whether anything changed. The caller commits.
    """
    before = public_settings(province_code)
    after = PublicSettings(public_results=bool(public_results), public_ranking=bool(public_ranking))
    if after == before:
        return False
    row = db.session.get(ProvinceSetting, province_code) or ProvinceSetting(province_code=province_code)
    row.public_results, row.public_ranking = after.public_results, after.public_ranking
    db.session.add(row)
    changed = {
        name: {"before": getattr(before, name), "after": getattr(after, name)}
        for name in ("public_results", "public_ranking")
        if getattr(before, name) != getattr(after, name)
    }
    audit.record(
        "public_settings_changed", target=f"province {province_code}", detail={"province": province_code, **changed}
    )
    return True


# --- The page's figures ----------------------------------------------------------------------


@dataclass(frozen=True)
class DimensionResult:
    """One dimension (or the aggregate) of the commune beside the province; None: not shown."""

    code: str
    name_vi: str
    name_en: str
    score: float | None
    low: float | None
    high: float | None
    #: Root mean squared error of ``score`` (for the change test; not shown).
    se: float | None
    province: float | None
    province_low: float | None
    province_high: float | None
    #: Some of its sub-dimensions (k of K) are estimated from the model alone.
    partly_modelled: bool = False
    #: Why ``score`` is None: "suppressed" (too few answers to publish), "model_only" (nobody here
    #: answered), "not_estimated" (no small-area estimate, e.g. too few communes answered); "" when shown.
    missing: str = ""
    rank: int | None = None
    rank_low: int | None = None
    rank_high: int | None = None
    ranked: int = 0

    def name(self, lang: str) -> str:
        """The dimension's name in ``lang``."""
        return self.name_en if lang == "en" else self.name_vi


@dataclass(frozen=True)
class Change:
    """A dimension whose change since the previous period the statistics support."""

    code: str
    name_vi: str
    name_en: str
    before: float
    after: float
    difference: float
    direction: int  # +1 improved, -1 fell
    p_adjusted: float

    def name(self, lang: str) -> str:
        """The dimension's name in ``lang``."""
        return self.name_en if lang == "en" else self.name_vi


@dataclass(frozen=True)
class CommuneResults:
    """Everything the public page of one commune shows; ``snapshot`` None: nothing published yet."""

    commune: Commune
    snapshot: PublishedPeriod | None
    previous: PublishedPeriod | None = None
    respondents: int = 0
    dimensions: list[DimensionResult] = field(default_factory=list)
    aggregate: DimensionResult | None = None
    #: Dimensions tested for a change (shown in both periods), and those with a supported change.
    compared: int = 0
    changes: list[Change] = field(default_factory=list)
    ranking: bool = False
    chart: dict[str, Any] | None = None
    actions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def improved(self) -> list[Change]:
        return [c for c in self.changes if c.direction > 0]

    @property
    def fell(self) -> list[Change]:
        return [c for c in self.changes if c.direction < 0]


def commune_results(commune: Commune, *, lang: str = "vi") -> CommuneResults:
    """The public results of ``commune`` from its province's latest published period.

    Raises ``feedback.published.SnapshotDamaged`` when a snapshot no longer matches its checksum.
    """
    from .exports import suppress_small_cells

    settings = public_settings(commune.province_code)
    actions = [{"done_on": a.done_on, **action_text(a, lang)} for a in visible_actions(commune.code)]
    snapshot = latest_published(commune.province_code)
    if snapshot is None:
        return CommuneResults(commune=commune, snapshot=None, actions=actions)
    tables = snapshot_tables(snapshot)
    communes = tables.communes
    own = suppress_small_cells(communes[communes["commune_code"] == commune.code].reset_index(drop=True))
    own.attrs = {}
    ranked = communes.groupby(["level", "code"])["rank"].count()
    province = {str(r["code"]): r for r in tables.province_published.to_dict("records")}
    rows = _by_code(own)
    dims = [
        _dimension(
            rows.get(("dimension", d)),
            d,
            province.get(d),
            settings.public_ranking,
            int(ranked.get(("dimension", d), 0)),
        )
        for d in DIMENSIONS
    ]
    aggregate = _dimension(
        rows.get(("aggregate", "total")),
        "total",
        province.get("total"),
        settings.public_ranking,
        int(ranked.get(("aggregate", "total"), 0)),
    )
    respondents = int(communes.attrs.get(COMMUNE_RESPONDENTS, {}).get(commune.code, 0))

    previous = previous_published(snapshot)
    compared, changes = 0, []
    if previous is not None and respondents:
        pairs = dimension_changes(tables, snapshot_tables(previous), commune_codes=[commune.code])
        names = {d.code: d for d in dims}
        compared = len(pairs)
        changes = [
            Change(
                code=r.code,
                name_vi=names[r.code].name_vi,
                name_en=names[r.code].name_en,
                before=r.score_before,
                after=r.score,
                difference=r.difference,
                direction=r.direction,
                p_adjusted=r.p_adjusted,
            )
            for r in pairs.itertuples(index=False)
            if r.direction != 0
        ]
    return CommuneResults(
        commune=commune,
        snapshot=snapshot,
        previous=previous,
        respondents=respondents,
        dimensions=dims,
        aggregate=aggregate,
        compared=compared,
        changes=changes,
        ranking=settings.public_ranking,
        chart=_chart(dims),
        actions=actions,
    )


def _number(value: Any) -> float | None:
    """A finite float, or None for a missing or blanked cell."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _integer(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def _by_code(frame: pd.DataFrame) -> dict[tuple[str, str], dict[str, Any]]:
    return {(str(r["level"]), str(r["code"])): r for r in frame.to_dict("records")}


def _model_parts(flags: Any) -> tuple[int, int] | None:
    """(k, K) when k of a row's K parts come from the model alone (flag ``synthetic[:k/K]``)."""
    for flag in str(flags or "").split(";"):
        base, _, suffix = flag.partition(":")
        if base == "synthetic":
            if not suffix:
                return (1, 1)
            k, _, total = suffix.partition("/")
            return (int(k), int(total))
    return None


def _dimension(
    row: dict[str, Any] | None, code: str, province: dict[str, Any] | None, ranking: bool, ranked: int
) -> DimensionResult:
    """A row of the suppressed table as the page shows it."""
    label = DIMENSION_NAMES[code]
    prov = {k: _number((province or {}).get(k)) for k in ("score", "ci_low", "ci_high")}
    base = dict(
        code=code,
        name_vi=label.vi,
        name_en=label.en,
        province=prov["score"],
        province_low=prov["ci_low"],
        province_high=prov["ci_high"],
    )
    flags = str((row or {}).get("flags") or "")
    parts = _model_parts(flags)
    score = _number((row or {}).get("score_eb"))
    if row is None or "suppressed" in flags.split(";"):
        return DimensionResult(score=None, low=None, high=None, se=None, missing="suppressed", **base)
    if parts is not None and parts[0] == parts[1]:
        return DimensionResult(score=None, low=None, high=None, se=None, missing="model_only", **base)
    if score is None:  # e.g. too few communes with answers for the small-area model
        return DimensionResult(score=None, low=None, high=None, se=None, missing="not_estimated", **base)
    rank = (
        dict(
            rank=_integer(row.get("rank")),
            rank_low=_integer(row.get("rank_low")),
            rank_high=_integer(row.get("rank_high")),
            ranked=ranked,
        )
        if ranking
        else {}
    )
    return DimensionResult(
        score=score,
        low=_number(row.get("ci_low_eb")),
        high=_number(row.get("ci_high_eb")),
        se=_number(row.get("se_eb")),
        partly_modelled=parts is not None,
        **rank,
        **base,
    )


def shown_dimensions(tables: ScoreTables) -> pd.DataFrame:
    """Every commune's dimension rows that public pages show with a score, one row each:
    ``commune_code``, ``commune_name``, ``code``, ``score`` (small-area, 1–10) and ``se`` (its
    root MSE). Small cells are suppressed first (#8); rows from the model alone (nobody in the
    commune answered) and rows the model could not estimate are left out, as on the page."""
    import numpy as np
    import pandas as pd

    from .exports import suppress_small_cells

    table = suppress_small_cells(tables.communes)
    dims = table[table["level"] == "dimension"]
    flags = dims["flags"].fillna("").astype(str)
    suppressed = flags.map(lambda f: "suppressed" in f.split(";"))
    model_only = flags.map(lambda f: (parts := _model_parts(f)) is not None and parts[0] == parts[1])
    score = pd.to_numeric(dims["score_eb"], errors="coerce")
    se = pd.to_numeric(dims["se_eb"], errors="coerce")
    shown = (~suppressed & ~model_only & np.isfinite(score) & np.isfinite(se)).to_numpy(dtype=bool)
    return pd.DataFrame(
        {
            "commune_code": dims["commune_code"].astype(str),
            "commune_name": dims["commune_name"].astype(str),
            "code": dims["code"].astype(str),
            "score": score,
            "se": se,
        }
    )[shown].reset_index(drop=True)


def dimension_changes(
    latest: ScoreTables, previous: ScoreTables, *, commune_codes: list[str] | None = None
) -> pd.DataFrame:
    """The dimensions shown in both periods, per commune, with the test of their change
    (``analysis.changes.supported_changes``: z test of two independent small-area estimates,
    Holm-adjusted within each commune's dimensions, level :data:`CHANGE_ALPHA`).

    Columns: those of :func:`shown_dimensions`, ``score_before``, ``se_before``, ``difference``,
    ``p_adjusted`` and ``direction`` (+1 supported rise, -1 supported fall, 0 not supported).
    The public page (one commune) and the weekly digest (many) read changes from here only.
    """
    from analysis.changes import supported_changes

    now, before = shown_dimensions(latest), shown_dimensions(previous)
    if commune_codes is not None:
        now = now[now["commune_code"].isin(commune_codes)]
    pairs = now.merge(
        before[["commune_code", "code", "score", "se"]], on=["commune_code", "code"], suffixes=("", "_before")
    ).reset_index(drop=True)
    if pairs.empty:
        return pairs.assign(difference=[], p_adjusted=[], direction=[])
    tests = supported_changes(
        pairs["score"].to_numpy(),
        mse=pairs["se"].to_numpy() ** 2,
        previous=pairs["score_before"].to_numpy(),
        previous_mse=pairs["se_before"].to_numpy() ** 2,
        family=pairs["commune_code"].to_numpy(),
        alpha=CHANGE_ALPHA,
        adjust="holm",
    )
    return pairs.assign(difference=tests.difference, p_adjusted=tests.p_adjusted, direction=tests.direction.astype(int))


def _chart(dims: list[DimensionResult]) -> dict[str, Any]:
    """The eight dimensions on the 1–10 axis (the scorecard's chart geometry, shared): the
    commune's interval and dot, the province's diamond."""
    from .analyst.service import _scorecard_chart

    rows = [
        {
            "code": d.code,
            "score_eb": d.score,
            "ci_low_eb": d.low,
            "ci_high_eb": d.high,
            "province": d.province,
            "target": None,
            "dimension": d,
        }
        for d in dims
    ]
    return _scorecard_chart(rows, width=340, row_height=30, label_width=22, font_size=12)


def score_text(value: float | None, lang: str) -> str:
    """A score with one decimal as the reader writes it (4,5 in Vietnamese, 4.5 in English); "–" for None."""
    if value is None:
        return "–"
    from babel.numbers import format_decimal

    return format_decimal(value, format="0.0", locale="en" if lang == "en" else "vi")


def signed_text(value: float, lang: str) -> str:
    """A change with its sign: +1,4 / −0,8."""
    return ("+" if value >= 0 else "−") + score_text(abs(value), lang)


def period_text(start: date, end: date) -> str:
    """A period as people write it in Viet Nam: 01/07/2025 – 30/09/2025."""
    return f"{start:%d/%m/%Y} – {end:%d/%m/%Y}"
