"""Store responses exactly once: validation, canonical content hash, idempotent insert."""

from __future__ import annotations

import fcntl
import hashlib
import itertools
import json
import logging
import operator
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from flask import current_app, g
from sqlalchemy.dialects import sqlite

from surveys import Problem, Survey, check_answers, scored_rows

from .extensions import db
from .models import Answer, Response, channel_of
from .places import point_is_active, point_place
from .quality import answer_flags, flag_burst_members, is_burst
from .score_cache import PG_BUMP_FOR_INSERTED, SQLITE_BUMP_FOR_COMMUNE
from .times import day_start, now_seconds, trusted_times, whole_seconds

VIETNAM_TZ = timezone(timedelta(hours=7))
ANY_MODULE = "*"  # paper entry and API clients may answer any module's questions


@dataclass
class Submission:
    """A response as received, before it is stored."""

    id: uuid.UUID
    survey: Survey
    commune_code: str
    service_point_id: int | None
    answers: dict[str, Any]
    lang: str
    mode: str
    started_at: datetime | None
    submitted_at: datetime
    problems: list[Problem] = field(default_factory=list)
    # The officer who typed in a paper form.
    entered_by: int | None = None
    # The registered API client that sent it.
    api_client_id: int | None = None
    flags: list[str] = field(default_factory=list)
    network_hash: str | None = None
    device_hash: str | None = None
    module: str | None = None
    # When the server received it (whole seconds); ``apply_clock`` may put it in submitted_at.
    received_at: datetime = field(default_factory=now_seconds)
    # (started_at, submitted_at) as the client sent them, kept by ``apply_clock`` for the
    # content hash: a retry hashes the same even when the stored times were replaced.
    sent_times: tuple[datetime | None, datetime] | None = None
    # A client time was implausible and replaced (flag "clock"; see feedback/times.py).
    clock: bool = False
    # How it arrived (models.CHANNELS); None: as its mode and service point say (``channel_of``).
    channel: str | None = None

    def content_hash(self) -> str:
        """SHA-256 of the canonical content: equal for a retry, different for a changed answer."""
        started_at, submitted_at = self.sent_times or (self.started_at, self.submitted_at)
        canonical = {
            "survey": self.survey.slug,
            "version": self.survey.version,
            "commune": self.commune_code,
            "service_point": self.service_point_id,
            "answers": self.answers,
            "lang": self.lang,
            "started_at": started_at.isoformat() if started_at else None,
            "submitted_at": submitted_at.isoformat(),
        }
        text = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 → naive UTC; a time without offset is taken as Viet Nam time (UTC+7).

    None only for text that is not an ISO 8601 time (refused with 422). Whether a readable time
    is plausible is ``apply_clock``'s question; a time so far out that it has no UTC equivalent
    in Python (year 1 or 9999 with an offset) comes back as the first or last representable
    time, which is never plausible.
    """
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=VIETNAM_TZ)
    try:
        return moment.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:
        return datetime.min if moment.year == 1 else datetime.max


def apply_clock(sub: Submission) -> Submission:
    """Keep the client's times only where plausible, else the receive time; flag ``clock``.

    The rule is ``feedback.times.trusted_times`` (docs/quality.md, "Times and clocks"), with the
    survey version's release day as the earliest plausible time. Every channel's times pass
    through here: API times, the start time in a web or paper form's signed state (whose
    submit time is the server's own), and any time typed in from paper.
    """
    if sub.sent_times is None:
        sub.sent_times = (sub.started_at, sub.submitted_at)
    started_at, submitted_at = sub.sent_times
    keep = None
    if sub.mode == "paper":
        # A paper form's submit time is its interview day, which the entry screen has checked
        # in Viet Nam days (feedback/paper.py); the day begins up to a day before the typing's.
        keep = timedelta(days=current_app.config["PAPER_MAX_AGE_DAYS"] + 1)
    times = trusted_times(
        received_at=sub.received_at,
        submitted_at=submitted_at,
        started_at=started_at,
        released=sub.survey.released,
        keep=keep,
    )
    sub.started_at, sub.submitted_at, sub.received_at = times.started_at, times.submitted_at, times.received_at
    sub.clock = times.clock
    return sub


def check_submission(sub: Submission, raw_answers: dict[str, Any]) -> Submission:
    """Validate answers in place (problems are left on ``sub.problems``) and settle the times.

    A readable but implausible time is never a problem: ``apply_clock`` replaces it and flags
    the response, so a genuine answer from a device with a wrong clock is kept.
    """
    sub.answers, problems = check_answers(sub.survey, raw_answers)
    sub.problems.extend(problems)
    apply_clock(sub)
    return sub


def service_point_problem(sub: Submission) -> Problem | None:
    """A service point must exist, belong to the commune, offer the survey's service and be in use."""
    if sub.service_point_id is None:
        return None
    place = point_place(sub.service_point_id)
    if place is None or place[0] != sub.commune_code:
        return Problem("service_point", "unknown_service_point")
    if place[1] != sub.survey.service_area:
        return Problem("service_point", "wrong_service_area")
    if not point_is_active(sub.service_point_id):
        return Problem("service_point", "retired_service_point")
    return None


RESPONSE_COLUMNS = [c.name for c in Response.__table__.columns if c.computed is None]  # low_quality: the database's
# An answer row beside its response id, and the PostgreSQL type of each field.
ANSWER_FIELDS = {"question_id": "text", "position": "int", "value": "text", "subdimension": "text", "score": "float8"}

# PostgreSQL: the response and all its answers in one statement (one round trip); the answers
# travel as one JSON array (cheaper to send than one array per field). They go in only if the
# response row did (a new id), and so does the bump of the province's data version (the score
# cache, feedback/score_cache.py); the outer count says which it was.
PG_INSERT = f"""
WITH r AS (
    INSERT INTO response ({", ".join(RESPONSE_COLUMNS)})
    VALUES ({", ".join(["%s"] * len(RESPONSE_COLUMNS))})
    ON CONFLICT (id) DO NOTHING
    RETURNING id, commune_code
), a AS (
    INSERT INTO answer (response_id, {", ".join(ANSWER_FIELDS)})
    SELECT r.id, a.* FROM r CROSS JOIN json_to_recordset(%s::json)
        AS a({", ".join(f"{f} {t}" for f, t in ANSWER_FIELDS.items())})
){PG_BUMP_FOR_INSERTED}
SELECT count(*) FROM r
"""
PG_FIND = "SELECT content_hash, mode, received_at, started_at, submitted_at FROM response WHERE id = %s"

# SQLite: two plain statements on a pooled driver connection (the ORM session and Core's
# per-row work cost more than SQLite's own); values are stored exactly as SQLAlchemy stores them,
# by the columns' own bind processors (the UUID, the times and the score have one). The first
# statement skips a known id (and only that).
ANSWER_COLUMNS = ["response_id", *ANSWER_FIELDS]
SQLITE_INSERT_RESPONSE = (
    f"INSERT INTO response ({', '.join(RESPONSE_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(RESPONSE_COLUMNS))}) ON CONFLICT (id) DO NOTHING"
)
SQLITE_INSERT_ANSWER = (
    f"INSERT INTO answer ({', '.join(ANSWER_COLUMNS)}) VALUES ({', '.join('?' * len(ANSWER_COLUMNS))})"
)


def _processors(table: sa.Table, columns: list[str]) -> list[Any]:
    """Each column's SQLite bind processor, or None where the value goes in as it is.

    The dialect's own implementation of each type: its times go in as SQLAlchemy's one text
    form (``YYYY-MM-DD HH:MM:SS.ffffff``), which the ORM and every query's parameters use too;
    left to the driver, a whole second lost its fraction and SQLite's text comparison put
    ``…17:00:00`` before a bound ``…17:00:00.000000`` (issue 12).
    """
    dialect = sqlite.dialect()
    return [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]


SQLITE_RESPONSE_PROCESSORS = _processors(Response.__table__, RESPONSE_COLUMNS)
SQLITE_ANSWER_ID = Answer.__table__.c.response_id.type.bind_processor(sqlite.dialect())
SQLITE_ANSWER_PROCESSORS = _processors(Answer.__table__, list(ANSWER_FIELDS))
ANSWER_VALUES = operator.itemgetter(*ANSWER_FIELDS)


def _sqlite_answers(response_id: str, answers: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Answer rows as driver parameters: processed column by column, in C loops."""
    columns = zip(*map(ANSWER_VALUES, answers), strict=False)
    processed = [
        column if process is None else map(process, column)
        for column, process in zip(columns, SQLITE_ANSWER_PROCESSORS, strict=False)
    ]
    return list(zip(itertools.repeat(response_id), *processed))


@contextmanager
def _driver_connection() -> Iterator[Any]:
    """A pooled DB-API connection for the submission path, failing as SQLAlchemy would.

    A driver error comes out as SQLAlchemy's own class (an outage is an OperationalError,
    answered 503 by errors.py), and the connection that saw it is discarded, not pooled again
    in whatever state the error left it.
    """
    engine = db.engine
    dbapi_error = engine.dialect.loaded_dbapi.Error
    pooled = None
    try:
        pooled = engine.raw_connection()
        yield pooled.driver_connection
    except dbapi_error as error:
        if pooled is not None:
            pooled.invalidate(error)
        disconnected = engine.dialect.is_disconnect(error, None, None)
        raise sa.exc.DBAPIError.instance(
            None, None, error, dbapi_error, connection_invalidated=disconnected, dialect=engine.dialect
        ) from error
    finally:
        if pooled is not None:
            pooled.close()  # back to the pool (rolled back), or gone if invalidated


# SQLite lets one writer in at a time, and a writer that finds the database locked sleeps in
# SQLite's busy handler (1, 2, 5, 10 … ms) however soon the lock is free again, while a
# submission holds it for about half a millisecond (its insert and the sync to disk). So
# submissions queue for their turn on an OS file lock next to the database: the kernel wakes
# the next one the moment the lock is free, and SQLite's own locking (and busy timeout, for
# every other writer) stays as it was.
_write_locks: dict[tuple[int, str], int] = {}  # (process, database file) -> open lock file


@contextmanager
def _sqlite_write_turn(database: str | None) -> Iterator[None]:
    if not database or database == ":memory:" or database.startswith("file:"):
        yield  # no file beside which to queue
        return
    key = (os.getpid(), database)  # opened again after a fork: a shared lock file would not exclude
    if key not in _write_locks:
        _write_locks[key] = os.open(database + "-writelock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(_write_locks[key], fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(_write_locks[key], fcntl.LOCK_UN)


def _sqlite_insert(row: dict[str, Any], answers: list[dict[str, Any]]) -> bool:
    """Insert the response and its answers in one transaction; False if the id was known."""
    values = tuple(
        row[c] if process is None else process(row[c])
        for c, process in zip(RESPONSE_COLUMNS, SQLITE_RESPONSE_PROCESSORS, strict=False)
    )
    with _driver_connection() as conn, _sqlite_write_turn(db.engine.url.database):
        created = conn.execute(SQLITE_INSERT_RESPONSE, values).rowcount == 1
        if created and answers:
            conn.executemany(SQLITE_INSERT_ANSWER, _sqlite_answers(SQLITE_ANSWER_ID(row["id"]), answers))
        if created:
            conn.execute(SQLITE_BUMP_FOR_COMMUNE, (row["commune_code"],))
        conn.commit()
    return created


# SQLite: each worker checkpoints the WAL itself every SQLITE_CHECKPOINT_EVERY of its
# submissions, once the answer has gone out, so that no one waits for it. (SQLite's automatic
# checkpoint runs inside the commit that takes the WAL past 1000 pages, adding tens of
# milliseconds to that submission; it stays as the backstop.)
_since_checkpoint = 0  # this process's submissions since its last checkpoint


def _count_toward_checkpoint() -> None:
    global _since_checkpoint
    _since_checkpoint += 1
    if _since_checkpoint >= current_app.config["SQLITE_CHECKPOINT_EVERY"]:
        _since_checkpoint = 0
        g.wal_checkpoint = db.engine  # feedback.checkpoint_after_response runs it


def checkpoint_wal(engine: sa.Engine) -> None:
    """Copy the WAL into the database as far as no reader needs it, waiting for no one."""
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
    except sa.exc.SQLAlchemyError as error:  # the answer is out already: just tell the log
        logging.getLogger(__name__).warning("WAL checkpoint failed: %s", error)


def _pg_insert(row: dict[str, Any], answers: list[dict[str, Any]]) -> tuple[bool, tuple[Any, ...] | None]:
    """One statement in autocommit (one transaction, no BEGIN or COMMIT round trips); a known id
    is looked up on the same connection, also outside a transaction (a ROLLBACK would make
    psycopg forget the connection's prepared statements)."""
    with _driver_connection() as conn:
        conn.autocommit = True
        values = (*map(row.__getitem__, RESPONSE_COLUMNS), json.dumps(answers, ensure_ascii=False))
        created = conn.execute(PG_INSERT, values).fetchone()[0] == 1
        found = None if created else conn.execute(PG_FIND, (row["id"],)).fetchone()
        conn.autocommit = False  # as the pool's other users expect (after an error it is discarded)
    return created, found


@dataclass(frozen=True)
class Stored:
    """What the database holds for a response id: enough to tell a retry from a conflict."""

    id: uuid.UUID
    content_hash: str
    mode: str
    received_at: datetime
    started_at: datetime | None
    submitted_at: datetime


def store(sub: Submission) -> tuple[Stored, bool]:
    """Insert the response and its answers in one transaction, once.

    Returns ``(stored, created)``. The insert is tried first (the common case is a new id);
    if the id exists already (a retry, a double tap, or a concurrent duplicate that won the
    race) nothing is written and the stored one is returned: the caller compares
    ``content_hash`` to tell a retry from a conflict.
    """
    content_hash = sub.content_hash()
    flags = [*sub.flags, "clock"] if sub.clock and "clock" not in sub.flags else sub.flags
    row = {
        "id": sub.id,
        "survey": sub.survey.slug,
        "survey_version": sub.survey.version,
        "commune_code": sub.commune_code,
        "service_point_id": sub.service_point_id,
        "lang": sub.lang,
        "mode": sub.mode,
        "channel": sub.channel or channel_of(sub.mode, service_point_id=sub.service_point_id),
        # Whole seconds on every channel, whoever built the submission (feedback/times.py).
        "started_at": whole_seconds(sub.started_at),
        "submitted_at": whole_seconds(sub.submitted_at),
        "received_at": whole_seconds(sub.received_at),
        "content_hash": content_hash,
        "module": sub.module,
        "flags": ";".join(flags),
        "network_hash": sub.network_hash,
        "device_hash": sub.device_hash,
        "entered_by": sub.entered_by,
        "api_client_id": sub.api_client_id,
    }
    answers = scored_rows(sub.survey, sub.answers)
    if db.engine.dialect.name == "postgresql":
        created, found = _pg_insert(row, answers)
    else:
        created = _sqlite_insert(row, answers)
        _count_toward_checkpoint()
        found = (
            None
            if created
            else db.session.execute(
                sa.select(
                    Response.content_hash,
                    Response.mode,
                    Response.received_at,
                    Response.started_at,
                    Response.submitted_at,
                ).where(Response.id == sub.id)
            ).one()
        )
    if created:
        return Stored(sub.id, content_hash, sub.mode, row["received_at"], row["started_at"], row["submitted_at"]), True
    return Stored(sub.id, *found), False


def response_json(sub: Submission, stored: Stored) -> dict[str, Any]:
    """The stored response as the API returns it (equal content hashes mean equal content)."""
    return {
        "id": str(sub.id),
        "survey": sub.survey.slug,
        "version": sub.survey.version,
        "commune": sub.commune_code,
        "service_point": sub.service_point_id,
        "answers": sub.answers,
        "lang": sub.lang,
        "mode": stored.mode,
        "started_at": _iso(stored.started_at),
        "submitted_at": _iso(stored.submitted_at),
        "received_at": _iso(stored.received_at),
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.replace(tzinfo=UTC).isoformat() if moment else None


def receive_web(
    survey: Survey,
    raw_answers: dict[str, Any],
    *,
    response_id: uuid.UUID,
    started_at: datetime | None,
    commune_code: str,
    service_point_id: int | None,
    lang: str,
    mode: str = "web",
    entered_by: int | None = None,
    client: tuple[str, str] | None = None,
    honeypot: bool = False,
    module: str | None = ANY_MODULE,
    interviewed_on: date | None = None,
    earlier_problems: Sequence[Problem] = (),
    via: str | None = None,
) -> tuple[uuid.UUID | None, list[Problem]]:
    """Check and store a form submission; returns the response id, or the problems.

    Its channel follows from ``mode`` and, for a web form, from ``via``, where its signed state
    says it was opened ("poster" or "landing"; None for a state older than channels: then the
    service point decides, ``models.channel_of``).

    A response id seen before is acknowledged when the same answers come again (a double tap,
    or Back and Send): stored once. Other answers under a stored id are never dropped silently
    nor stored: the problem ``sent_changed`` says so, and the caller offers them as a new response.

    ``interviewed_on`` (a paper form, checked by ``feedback.paper.read_interview_date``) is the
    Viet Nam day the citizen answered: its start is stored as ``submitted_at``, so the form counts
    in the interview's period, and it is hashed, so a retry must carry the same day; the form
    has no start time (the screen's opening is the typing's). ``earlier_problems`` are what the
    caller found wrong outside the answers (an unreadable date): reported with the answers' own.
    """
    known = db.session.execute(
        sa.select(Response.content_hash, Response.submitted_at, Response.lang).where(Response.id == response_id)
    ).one_or_none()
    received_at = now_seconds()
    sub = Submission(
        id=response_id,
        survey=survey,
        commune_code=commune_code,
        service_point_id=service_point_id,
        answers={},
        lang=lang,
        mode=mode,
        started_at=started_at,
        submitted_at=received_at,  # the server's own time; the form state's start is checked
        entered_by=entered_by,
        received_at=received_at,
        channel=channel_of(mode, via=via, service_point_id=service_point_id),
        problems=list(earlier_problems),
    )
    if interviewed_on is not None:
        started_at = None
        sub.started_at, sub.submitted_at = None, day_start(interviewed_on)
    if module != ANY_MODULE:
        sub.module = module
        # A web respondent sees the core and one module; an answer elsewhere was never shown.
        sub.problems.extend(
            Problem(qid, "not_relevant", {})
            for qid, value in raw_answers.items()
            if value not in (None, "", [])
            and survey.question(qid) is not None
            and survey.question(qid).module not in (None, module)
        )
    check_submission(sub, raw_answers)
    if sub.problems:
        return None, sub.problems
    if known is not None:
        # Hashed as the stored one was: the same form state's start, the stored (server) submit
        # time and language, so only a change of answers (or place) makes a difference.
        sub.sent_times, sub.lang = (started_at, known.submitted_at), known.lang
        if interviewed_on is not None:  # the day as sent, not the stored time: a changed day is a change
            sub.sent_times = (None, day_start(interviewed_on))
        if sub.content_hash() == known.content_hash:
            return response_id, []
        return None, [Problem("", "sent_changed")]
    if mode == "web":
        sub.flags = answer_flags(
            survey, sub.answers, started_at=sub.started_at, submitted_at=sub.submitted_at, honeypot=honeypot
        )
        if client is not None:
            sub.network_hash, sub.device_hash = client
            if is_burst(
                network_hash=client[0],
                device_hash=client[1],
                commune_code=commune_code,
                survey=survey.slug,
                service_point_id=service_point_id,
                now=sub.received_at,
            ):
                sub.flags.append("burst")
    stored, created = store(sub)
    if created and "burst" in sub.flags:
        flag_burst_members(
            response_id=sub.id,
            network_hash=sub.network_hash,
            device_hash=sub.device_hash,
            commune_code=commune_code,
            survey=survey.slug,
            service_point_id=service_point_id,
            now=sub.received_at,
        )
    return stored.id, []
