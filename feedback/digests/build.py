"""The weekly digest's figures (issue #15): what an officer's communes, or an analyst's province, saw last week.

One function, :func:`build_digest`, makes the figures that both the dashboard's "This week"
panel and the e-mail of ``send-digests`` show:

- responses of the week (Monday–Sunday, Viet Nam days, by the submission time that decides
  periods) against the mean of the :data:`PREVIOUS_WEEKS` weeks before;
- active service points without a response received in the :data:`SILENT_DAYS` days up to the
  week's end (a poster probably fell down);
- comments received in the week (their count and the newest few, shown as the dashboards show
  them: day only, alphabetical within a day);
- dimensions whose change between the latest two published periods the statistics support
  (``analysis.changes``, as the public results page tests them; left out while a province has
  fewer than two published periods);
- service points whose reports of informal payments over the :data:`PAYMENT_WEEKS` weeks up to
  the week's end lie above the rest of their province's (``analysis.rates``: one-sided Fisher
  test, Benjamini–Hochberg over the province's service points).

The digest's week is the latest Monday–Sunday week that has ended in Viet Nam: on a Monday
(when the timer runs) it is the week that ended the night before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from analysis.structures import DIMENSION_NAMES

from ..extensions import db
from ..models import Answer, Commune, ServicePoint, User, utcnow
from ..models import Response as FeedbackResponse
from ..officer.queries import Comment, count_comments, latest_comments
from ..times import boundary, day_start, local_day

__all__ = [
    "COMMENTS_SHOWN",
    "PAYMENT_ALPHA",
    "PAYMENT_WEEKS",
    "PREVIOUS_WEEKS",
    "SILENT_DAYS",
    "Digest",
    "PaymentWarning",
    "TEMPLATE_HELPERS",
    "ScoreChange",
    "Scope",
    "SilentPoint",
    "UnitCounts",
    "build_digest",
    "last_week",
    "number_text",
    "percent_text",
    "period_text",
    "scope_of",
    "week_of",
]

#: Weeks before the digest's week whose mean it is compared with.
PREVIOUS_WEEKS = 4
#: A service point with no response received in this many days is "silent".
SILENT_DAYS = 14
#: Weeks of informal-payment answers (up to the digest week's end) tested at each service point.
PAYMENT_WEEKS = 13
#: False-discovery rate of the informal-payment warnings, per province.
PAYMENT_ALPHA = 0.05
#: Newest comments shown; lists of service points are cut at LIST_SHOWN (their total is given).
COMMENTS_SHOWN = 5
LIST_SHOWN = 10
PAYMENT_QUESTION = "informal_payment"


def week_of(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


def last_week(now: datetime | None = None) -> date:
    """The Monday of the latest Monday–Sunday week (Viet Nam days) that has ended by ``now`` (naive UTC)."""
    return week_of(local_day(now or utcnow())) - timedelta(days=7)


@dataclass(frozen=True)
class Scope:
    """What a digest covers: some communes (an officer's, or the one a page shows), or whole
    provinces (an analyst's or admin's; every province loaded for national staff)."""

    communes: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()
    #: The whole nation: no filter on communes at all.
    national: bool = False

    @property
    def by_province(self) -> bool:
        return bool(self.provinces)

    def commune_filter(self, column: sa.ColumnElement) -> sa.ColumnElement[bool]:
        """WHERE clause: ``column`` (a commune code) lies in the scope."""
        if self.national:
            return sa.true()
        if self.provinces:
            return column.in_(sa.select(Commune.code).where(Commune.province_code.in_(self.provinces)))
        return column.in_(self.communes)


def scope_of(user: User) -> Scope | None:
    """The scope of a staff account's digest: an officer's communes, an analyst's or admin's
    province (national accounts: every province loaded); None for an officer without communes."""
    if user.role == "officer":
        codes = tuple(sorted(c.code for c in user.communes))
        return Scope(communes=codes) if codes else None
    if user.province_code is not None:
        return Scope(provinces=(user.province_code,))
    provinces = tuple(db.session.scalars(sa.select(Commune.province_code).distinct().order_by(Commune.province_code)))
    return Scope(provinces=provinces, national=True)


@dataclass(frozen=True)
class UnitCounts:
    """Responses of a commune (or a province) in the digest's week and, on average, the weeks before."""

    code: str
    name: str
    week: int
    previous_mean: float


@dataclass(frozen=True)
class SilentPoint:
    """An active service point without a response in the last :data:`SILENT_DAYS` days of the week."""

    id: int
    name: str
    commune_code: str
    commune_name: str
    last_response: date | None  # Viet Nam day of the latest response before the week's end; None: never


@dataclass(frozen=True)
class ScoreChange:
    """A dimension of a commune whose change between two published periods the statistics support."""

    commune_code: str
    commune_name: str
    dimension: str
    name_vi: str
    name_en: str
    before: float
    after: float
    direction: int  # +1 improved, -1 fell
    period: tuple[date, date]
    previous_period: tuple[date, date]

    def name(self, lang: str) -> str:
        """The dimension's name in ``lang``."""
        return self.name_en if lang == "en" else self.name_vi


@dataclass(frozen=True)
class PaymentWarning:
    """A service point whose reports of informal payments lie above the rest of its province's."""

    id: int
    name: str
    commune_code: str
    commune_name: str
    reports: int
    answers: int
    rate: float
    province_rate: float
    p_adjusted: float


@dataclass(frozen=True)
class Digest:
    """One week's digest of a scope (see the module's docstring)."""

    week: date  # Monday
    scope: Scope
    units: list[UnitCounts]
    silent: list[SilentPoint]
    silent_total: int
    comments: list[Comment]
    comment_total: int
    #: None: no province of the scope has two published periods yet (the section is left out).
    changes: list[ScoreChange] | None
    warnings: list[PaymentWarning]
    names: dict[str, str] = field(default_factory=dict)  # commune code → name, for the comments
    point_names: dict[int, str] = field(default_factory=dict)

    @property
    def week_end(self) -> date:
        """The Sunday that ends the week."""
        return self.week + timedelta(days=6)

    @property
    def total(self) -> int:
        return sum(u.week for u in self.units)

    @property
    def previous_mean(self) -> float:
        return sum(u.previous_mean for u in self.units)


def build_digest(scope: Scope, week: date, *, cache: dict[Any, Any] | None = None) -> Digest:
    """The digest of ``scope`` for the week starting on Monday ``week``.

    ``cache`` (a dict kept over one ``send-digests`` run) keeps the province-wide figures (the
    informal-payment tests, the published changes) so each province's are computed once.
    """
    if week.weekday() != 0:
        raise ValueError(f"a digest's week starts on a Monday, not on {week:%A} {week}")
    cache = {} if cache is None else cache
    start, end = day_start(week), day_start(week + timedelta(days=7))
    communes = _communes(scope)
    provinces = sorted({c.province_code for c in communes})
    units = _counts(scope, communes, week)
    silent, silent_total = _silent_points(scope, end)
    codes = None if scope.national else [c.code for c in communes]
    comments = latest_comments(commune_codes=codes, limit=COMMENTS_SHOWN, start=start, end=end)
    comment_total = count_comments(commune_codes=codes, start=start, end=end)
    in_scope = {c.code for c in communes}
    names = {c.code: c.name for c in communes}
    warnings = [w for p in provinces for w in _payment_warnings(p, week, cache) if w.commune_code in in_scope]
    changes: list[ScoreChange] | None = None
    for province in provinces:
        found = _published_changes(province, cache)
        if found is not None:
            changes = (changes or []) + [c for c in found if c.commune_code in in_scope]
    point_ids = {c.service_point_id for c in comments if c.service_point_id is not None}
    point_names = (
        dict(
            db.session.execute(
                sa.select(ServicePoint.id, ServicePoint.name).where(ServicePoint.id.in_(point_ids))
            ).all()
        )
        if point_ids
        else {}
    )
    return Digest(
        week=week,
        scope=scope,
        units=units,
        silent=silent,
        silent_total=silent_total,
        comments=comments,
        comment_total=comment_total,
        changes=changes,
        warnings=warnings,
        names=names,
        point_names=point_names,
    )


def _communes(scope: Scope) -> list[Commune]:
    from ..places import sorted_by_name

    query = sa.select(Commune)
    if not scope.national:
        query = query.where(scope.commune_filter(Commune.code))
    return sorted_by_name(db.session.scalars(query))


def _counts(scope: Scope, communes: list[Commune], week: date) -> list[UnitCounts]:
    """Responses per commune (officers) or province (analysts): the week's, and the mean of the weeks before."""
    first = day_start(week - timedelta(days=7 * PREVIOUS_WEEKS))
    start, end = day_start(week), day_start(week + timedelta(days=7))
    submitted = FeedbackResponse.submitted_at
    in_week = sa.func.coalesce(sa.func.sum(sa.case((submitted >= boundary(start), 1), else_=0)), 0)
    before = sa.func.coalesce(sa.func.sum(sa.case((submitted < boundary(start), 1), else_=0)), 0)
    # The submission time is never after the receive time: the receive-time index finds the window.
    query = (
        sa.select(FeedbackResponse.commune_code, in_week, before)
        .where(
            FeedbackResponse.received_at >= boundary(first),
            submitted >= boundary(first),
            submitted < boundary(end),
            scope.commune_filter(FeedbackResponse.commune_code),
        )
        .group_by(FeedbackResponse.commune_code)
    )
    per_commune = {code: (int(w), int(b)) for code, w, b in db.session.execute(query)}
    if not scope.by_province:
        return [UnitCounts(c.code, c.name, *_pair(per_commune.get(c.code, (0, 0)))) for c in communes]
    totals: dict[str, list[int]] = {}
    names: dict[str, str] = {}
    for c in communes:
        names.setdefault(c.province_code, c.province_name)
        w, b = per_commune.get(c.code, (0, 0))
        total = totals.setdefault(c.province_code, [0, 0])
        total[0] += w
        total[1] += b
    return [UnitCounts(code, names[code], *_pair((w, b))) for code, (w, b) in sorted(totals.items())]


def _pair(counts: tuple[int, int]) -> tuple[int, float]:
    return counts[0], counts[1] / PREVIOUS_WEEKS


def _silent_points(scope: Scope, end: datetime) -> tuple[list[SilentPoint], int]:
    """Active service points, older than :data:`SILENT_DAYS`, with no response received in the
    :data:`SILENT_DAYS` days before ``end``; the first :data:`LIST_SHOWN` and how many in all."""
    since = end - timedelta(days=SILENT_DAYS)
    recent = sa.exists().where(
        FeedbackResponse.service_point_id == ServicePoint.id,
        FeedbackResponse.received_at >= boundary(since),
        FeedbackResponse.received_at < boundary(end),
    )
    last = (
        sa.select(sa.func.max(FeedbackResponse.received_at))
        .where(FeedbackResponse.service_point_id == ServicePoint.id, FeedbackResponse.received_at < boundary(end))
        .scalar_subquery()
    )
    where = (
        ServicePoint.active,
        ServicePoint.created_at < boundary(since),
        ~recent,
        scope.commune_filter(ServicePoint.commune_code),
    )
    total = int(db.session.scalar(sa.select(sa.func.count()).select_from(ServicePoint).where(*where)) or 0)
    rows = db.session.execute(
        sa.select(ServicePoint.id, ServicePoint.name, ServicePoint.commune_code, Commune.name, last)
        .join(Commune, Commune.code == ServicePoint.commune_code)
        .where(*where)
        .order_by(last.asc().nulls_first(), ServicePoint.commune_code, ServicePoint.id)
        .limit(LIST_SHOWN)
    ).all()
    return [
        SilentPoint(
            id=r[0],
            name=r[1],
            commune_code=r[2],
            commune_name=r[3],
            last_response=local_day(r[4]) if r[4] is not None else None,
        )
        for r in rows
    ], total


def _payment_warnings(province: str, week: date, cache: dict[Any, Any]) -> list[PaymentWarning]:
    """The province's service points whose informal-payment reports lie above the rest of the
    province's, over the :data:`PAYMENT_WEEKS` weeks up to the week's end (unflagged responses only)."""
    key = ("payments", province, week)
    if key in cache:
        return cache[key]
    from analysis.rates import rates_above_rest

    start = day_start(week + timedelta(days=7 - 7 * PAYMENT_WEEKS))
    end = day_start(week + timedelta(days=7))
    submitted = FeedbackResponse.submitted_at
    query = (
        sa.select(
            FeedbackResponse.service_point_id,
            sa.func.sum(sa.case((Answer.value == "yes", 1), else_=0)),
            sa.func.count(),
        )
        .join(Answer, Answer.response_id == FeedbackResponse.id)
        .join(Commune, Commune.code == FeedbackResponse.commune_code)
        .where(
            Commune.province_code == province,
            Answer.question_id == PAYMENT_QUESTION,
            Answer.value.in_(("yes", "no")),
            FeedbackResponse.service_point_id.is_not(None),
            ~FeedbackResponse.low_quality,
            FeedbackResponse.received_at >= boundary(start),
            submitted >= boundary(start),
            submitted < boundary(end),
        )
        .group_by(FeedbackResponse.service_point_id)
    )
    rows = db.session.execute(query).all()
    warnings: list[PaymentWarning] = []
    if rows:
        tests = rates_above_rest([int(r[1]) for r in rows], answers=[int(r[2]) for r in rows], alpha=PAYMENT_ALPHA)
        flagged = {rows[i][0]: i for i in range(len(rows)) if tests.significant[i]}
        if flagged:
            points = db.session.execute(
                sa.select(ServicePoint.id, ServicePoint.name, ServicePoint.commune_code, Commune.name)
                .join(Commune, Commune.code == ServicePoint.commune_code)
                .where(ServicePoint.id.in_(flagged))
            ).all()
            for point_id, name, commune_code, commune_name in points:
                i = flagged[point_id]
                warnings.append(
                    PaymentWarning(
                        id=point_id,
                        name=name,
                        commune_code=commune_code,
                        commune_name=commune_name,
                        reports=int(rows[i][1]),
                        answers=int(rows[i][2]),
                        rate=float(tests.rate[i]),
                        province_rate=float(tests.rest_rate[i]),
                        p_adjusted=float(tests.p_adjusted[i]),
                    )
                )
    warnings.sort(key=lambda w: (w.p_adjusted, w.commune_code, w.id))
    cache[key] = warnings
    return warnings


def _published_changes(province: str, cache: dict[Any, Any]) -> list[ScoreChange] | None:
    """The supported changes of every commune of the province between its latest published
    period and the one before (None while it has fewer than two), tested as the public results
    page tests them: the dimensions shown in both periods (small cells suppressed, model-only
    estimates left out), one Holm family per commune at :data:`feedback.results.CHANGE_ALPHA`."""
    from ..published import latest_published, previous_published

    latest = latest_published(province)
    previous = previous_published(latest) if latest is not None else None
    if latest is None or previous is None:
        return None
    key = ("changes", latest.id, previous.id)
    if key not in cache:
        cache[key] = _changes_between(latest, previous)
    return cache[key]


def _changes_between(latest: Any, previous: Any) -> list[ScoreChange]:
    """The supported changes of every commune's dimensions, as the public pages show them."""
    from ..published import snapshot_tables
    from ..results import dimension_changes

    pairs = dimension_changes(snapshot_tables(latest), snapshot_tables(previous))
    changes = [
        ScoreChange(
            commune_code=row.commune_code,
            commune_name=row.commune_name,
            dimension=row.code,
            name_vi=DIMENSION_NAMES[row.code].vi,
            name_en=DIMENSION_NAMES[row.code].en,
            before=float(row.score_before),
            after=float(row.score),
            direction=int(row.direction),
            period=(latest.date_from, latest.date_to),
            previous_period=(previous.date_from, previous.date_to),
        )
        for row in pairs.itertuples(index=False)
        if row.direction != 0
    ]
    return sorted(changes, key=lambda c: (c.commune_code, c.dimension))


def number_text(value: float) -> str:
    """A count or mean with one decimal at most, as the reader writes it (8,5 in Vietnamese, 8.5 in English)."""
    from flask_babel import format_decimal

    return format_decimal(value, format="0.#")


def percent_text(rate: float) -> str:
    """A share as a whole percentage: 12%."""
    from flask_babel import format_decimal

    return format_decimal(rate * 100, format="0") + "%"


def period_text(period: tuple[date, date]) -> str:
    """A period as people write it in Viet Nam: 01/07/2025 – 30/09/2025."""
    return f"{period[0]:%d/%m/%Y} – {period[1]:%d/%m/%Y}"


#: What the digest templates (dashboard panel and e-mail) use besides the digest itself.
TEMPLATE_HELPERS = {
    "number": number_text,
    "percent": percent_text,
    "period_text": period_text,
    "previous_weeks": PREVIOUS_WEEKS,
    "silent_days": SILENT_DAYS,
    "payment_weeks": PAYMENT_WEEKS,
}
