"""Dashboard queries: response counts, daily series and comments, aggregated in the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from surveys import catalog

from ..extensions import db
from ..models import Answer, Response, utcnow
from ..times import boundary, day_start, local_day

__all__ = ["Counts", "Comment", "day_starts", "counts_by", "count_comments", "daily_counts", "latest_comments"]

LOCAL_OFFSET = timedelta(hours=7)  # "today" is a day in Viet Nam; times are stored in UTC
CHART_DAYS = 30


@dataclass(frozen=True)
class Counts:
    """Responses of today, the last 7 and 30 days (Viet Nam days, by the submission time that
    decides periods), in all, and the latest receive time."""

    today: int = 0
    week: int = 0
    month: int = 0
    total: int = 0
    last: datetime | None = None


@dataclass(frozen=True)
class Comment:
    """One free-text answer with where and on which day it was given: no response id, time of
    day or respondent block, which could point at the person who wrote it."""

    commune_code: str
    service_point_id: int | None
    survey: str
    text: str
    day: date


def day_starts(now: datetime | None = None, days: int = CHART_DAYS) -> list[datetime]:
    """UTC start of each of the last ``days`` Viet Nam days, oldest first (today last)."""
    today = local_day(now or utcnow())
    return [day_start(today - timedelta(days=i)) for i in range(days - 1, -1, -1)]


def _scope(query: sa.Select, commune_codes: list[str] | None, commune_code: str | None) -> sa.Select:
    if commune_codes is not None:
        query = query.where(Response.commune_code.in_(commune_codes))
    if commune_code is not None:
        query = query.where(Response.commune_code == commune_code)
    return query


def counts_by(
    *keys: sa.ColumnElement,
    commune_codes: list[str] | None = None,
    commune_code: str | None = None,
    now: datetime | None = None,
) -> dict[tuple, Counts]:
    """Counts per combination of ``keys`` (e.g. commune, or service point and survey).

    One GROUP BY query; ``commune_codes`` None means every commune.
    """
    starts = day_starts(now)
    today, week, month = starts[-1], starts[-7], starts[0]

    def since(moment: datetime) -> sa.ColumnElement:
        return sa.func.coalesce(sa.func.sum(sa.case((Response.submitted_at >= boundary(moment), 1), else_=0)), 0)

    query = sa.select(
        *keys, since(today), since(week), since(month), sa.func.count(), sa.func.max(Response.received_at)
    ).group_by(*keys)
    rows = db.session.execute(_scope(query, commune_codes, commune_code)).all()
    n = len(keys)
    return {tuple(row[:n]): Counts(*(int(v) for v in row[n : n + 4]), row[n + 4]) for row in rows}


def daily_counts(
    *, commune_codes: list[str] | None = None, commune_code: str | None = None, now: datetime | None = None
) -> list[tuple[date, int]]:
    """Responses per Viet Nam day over the last 30 days, oldest first, in one scan of the window.

    A response counts on the day of its submission time, which decides its period in exports
    too. That time is never after the receive time (feedback/times.py), so the window is
    found by the receive-time index.
    """
    starts = day_starts(now)
    ends = [*starts[1:], day_start(local_day(starts[-1]) + timedelta(days=1))]
    columns = [
        sa.func.coalesce(
            sa.func.sum(
                sa.case(
                    (sa.and_(Response.submitted_at >= boundary(start), Response.submitted_at < boundary(end)), 1),
                    else_=0,
                )
            ),
            0,
        )
        for start, end in zip(starts, ends, strict=False)
    ]
    query = sa.select(*columns).where(Response.received_at >= boundary(starts[0]))
    row = db.session.execute(_scope(query, commune_codes, commune_code)).one()
    return [(local_day(start), int(value)) for start, value in zip(starts, row, strict=False)]


def _text_questions() -> sa.ColumnElement:
    """Free-text questions of every survey version, as a WHERE clause on answers."""
    text_ids: dict[str, set[str]] = {}
    other_ids: set[str] = set()
    for survey in catalog().all_versions():
        for q in survey.questions:
            if q.type == "text":
                text_ids.setdefault(survey.slug, set()).add(q.id)
            else:
                other_ids.add(q.id)
    every = set().union(*text_ids.values()) if text_ids else set()
    if not every:
        return sa.false()
    if not every & other_ids:
        # The usual case (every survey calls it "comment"): a plain IN that the answer
        # primary key (response_id, question_id, …) serves directly.
        return Answer.question_id.in_(sorted(every))
    return sa.or_(
        *(
            sa.and_(Response.survey == slug, Answer.question_id.in_(sorted(ids)))
            for slug, ids in sorted(text_ids.items())
        )
    )


def _received(query: sa.Select, start: datetime | None, end: datetime | None) -> sa.Select:
    if start is not None:
        query = query.where(Response.received_at >= boundary(start))
    if end is not None:
        query = query.where(Response.received_at < boundary(end))
    return query


def latest_comments(
    *,
    commune_codes: list[str] | None = None,
    commune_code: str | None = None,
    limit: int = 10,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[Comment]:
    """The newest free-text answers (received in [``start``, ``end``) when given): newest day
    first, and within a day in alphabetical order, so that the list does not tell which
    visitor of the day wrote which comment."""
    query = (
        sa.select(Response.commune_code, Response.service_point_id, Response.survey, Answer.value, Response.received_at)
        .join(Answer, Answer.response_id == Response.id)
        .where(_text_questions())
        .order_by(Response.received_at.desc())
        .limit(limit)
    )
    rows = db.session.execute(_received(_scope(query, commune_codes, commune_code), start, end)).all()
    comments = [Comment(r[0], r[1], r[2], r[3], local_day(r[4])) for r in rows]
    return sorted(comments, key=lambda c: (-c.day.toordinal(), c.text, c.commune_code))


def count_comments(
    *, commune_codes: list[str] | None = None, start: datetime | None = None, end: datetime | None = None
) -> int:
    """How many free-text answers were received in [``start``, ``end``) (each optional)."""
    query = (
        sa.select(sa.func.count())
        .select_from(Response)
        .join(Answer, Answer.response_id == Response.id)
        .where(_text_questions())
    )
    return int(db.session.scalar(_received(_scope(query, commune_codes, None), start, end)) or 0)
