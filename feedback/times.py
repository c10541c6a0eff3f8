"""Times the server can trust: the clock rule for client times, whole seconds, Viet Nam days.

Every response time is stored as naive UTC at whole seconds. Which time decides a response's
period (its Viet Nam calendar day) is ``submitted_at``, and that is always a time the server
trusts: its own receive time, or a client's time that passed :func:`trusted_times`.
docs/quality.md ("Times and clocks") explains the rule and its numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app

__all__ = [
    "VIET_NAM",
    "TrustedTimes",
    "trusted_times",
    "now_seconds",
    "whole_seconds",
    "local_day",
    "day_start",
    "day_bounds",
    "day_clause",
    "boundary",
]

VIET_NAM = ZoneInfo("Asia/Ho_Chi_Minh")


def now_seconds() -> datetime:
    """Naive UTC now, at whole seconds (how every response time is stored)."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def whole_seconds(moment: datetime | None) -> datetime | None:
    """``moment`` without its fraction of a second: a finer time only helps re-identify someone."""
    return moment.replace(microsecond=0) if moment is not None else None


def local_day(moment: datetime) -> date:
    """The Viet Nam calendar day of a naive-UTC time."""
    return moment.replace(tzinfo=UTC).astimezone(VIET_NAM).date()


def day_start(day: date) -> datetime:
    """Naive UTC of 00:00 in Viet Nam on ``day``."""
    return datetime.combine(day, time(), tzinfo=VIET_NAM).astimezone(UTC).replace(tzinfo=None)


def day_bounds(date_from: date | None, date_to: date | None) -> tuple[datetime | None, datetime | None]:
    """Naive-UTC [start, end) of the Viet Nam days ``date_from``..``date_to`` (both inclusive, each optional)."""
    if date_from is not None and date_to is not None and date_from > date_to:
        raise ValueError(f"the period starts ({date_from}) after it ends ({date_to})")
    start = day_start(date_from) if date_from else None
    end = day_start(date_to + timedelta(days=1)) if date_to else None
    return start, end


class _Boundary(sa.types.TypeDecorator):
    """A whole-second time bound that compares right with every stored form on both databases.

    SQLite keeps times as text and compares them as text. SQLAlchemy stores
    ``YYYY-MM-DD HH:MM:SS.ffffff``; rows written before every insert path used that form hold
    ``YYYY-MM-DD HH:MM:SS``. A bound sent without the fraction sorts before (or equal to the
    prefix of) both forms of its own second and after both forms of every earlier second, so
    ``>=`` and ``<`` at a day boundary hold whichever form a row has. PostgreSQL compares times.
    """

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine:
        return dialect.type_descriptor(sa.String() if dialect.name == "sqlite" else sa.DateTime())

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        if value.microsecond:
            raise ValueError("a day boundary is a whole second")
        return value.strftime("%Y-%m-%d %H:%M:%S")


def boundary(moment: datetime) -> sa.BindParameter:
    """``moment`` as a bound parameter for comparing with stored times (see ``_Boundary``)."""
    return sa.bindparam(None, moment, type_=_Boundary())


def day_clause(column: sa.ColumnElement, date_from: date | None, date_to: date | None) -> sa.ColumnElement[bool]:
    """``column`` (naive UTC) falls on the Viet Nam days ``date_from``..``date_to``."""
    start, end = day_bounds(date_from, date_to)
    clauses = []
    if start is not None:
        clauses.append(column >= boundary(start))
    if end is not None:
        clauses.append(column < boundary(end))
    return sa.and_(sa.true(), *clauses)


@dataclass(frozen=True)
class TrustedTimes:
    """The times to store for a response, and whether a client time had to be replaced."""

    started_at: datetime | None
    submitted_at: datetime
    received_at: datetime
    clock: bool


def trusted_times(
    *,
    received_at: datetime,
    submitted_at: datetime | None = None,
    started_at: datetime | None = None,
    released: date | None = None,
    skew: timedelta | None = None,
    keep: timedelta | None = None,
) -> TrustedTimes:
    """Keep a client's times only where they are plausible; otherwise trust the receive time.

    A client time (naive UTC) is plausible when it lies in [earliest, ``received_at`` + ``skew``]:
    not ahead of the server by more than a clock's usual error, and not before ``earliest``, the
    later of ``received_at`` − ``keep`` (the longest a response may wait unsent on a device) and
    the start of ``released`` (the Viet Nam day the survey version shipped). A submit time before
    the start time is not plausible either.

    An implausible submit time is replaced by ``received_at``. The start time then keeps its
    distance before the submit time when the client's two times agree (start not after submit,
    nor longer before it than ``keep``): a wrong clock is wrong by the same amount at both, so
    the time spent answering is still known. A start time that is (or so becomes) implausible
    is dropped (unknown). ``clock`` says that a time was replaced or dropped.

    ``submitted_at`` None means the server's own receive time (web and paper forms). A plausible
    submit time a little ahead is moved back to ``received_at`` (and the start with it),
    unflagged, so no response is ever stored in the server's future. All times come back at
    whole seconds. ``skew`` and ``keep`` default to the settings ``CLOCK_SKEW_MINUTES`` and
    ``OFFLINE_KEEP_DAYS``.
    """
    if skew is None:
        skew = timedelta(minutes=current_app.config["CLOCK_SKEW_MINUTES"])
    if keep is None:
        keep = timedelta(days=current_app.config["OFFLINE_KEEP_DAYS"])
    # Every time is compared at whole seconds, as it is stored: a start later in the same second
    # as the submit (a web form sent right after it was opened) is not a wrong clock.
    received_at = whole_seconds(received_at)
    submitted_at, started_at = whole_seconds(submitted_at), whole_seconds(started_at)
    earliest = received_at - keep
    if released is not None:
        earliest = max(earliest, day_start(released))
    latest = received_at + skew

    def plausible(moment: datetime) -> bool:
        return earliest <= moment <= latest

    clock = False
    if submitted_at is None:
        submitted_at = received_at
    else:
        clock = not plausible(submitted_at) or (started_at is not None and submitted_at < started_at)
        if clock or submitted_at > received_at:
            # Off by (submitted_at - received_at), as far as the server can tell: both times move.
            if started_at is not None and timedelta(0) <= submitted_at - started_at <= keep:
                started_at = received_at - (submitted_at - started_at)
            submitted_at = received_at
    if started_at is not None and not plausible(started_at):
        started_at, clock = None, True
    submitted_at = whole_seconds(submitted_at)
    if started_at is not None:
        started_at = min(whole_seconds(started_at), submitted_at)
    return TrustedTimes(started_at=started_at, submitted_at=submitted_at, received_at=received_at, clock=clock)
