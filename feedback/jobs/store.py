"""Job state in the database: claim, progress, the finished file in chunks, failure, expiry.

Every write here is its own short transaction on its own connection (never the caller's
session), so progress is visible to every web host at once and a failed job never leaves a
half-written state behind.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import BinaryIO

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..models import Job, JobFileChunk, utcnow

__all__ = [
    "CHUNK_BYTES",
    "ERROR_CODES",
    "ProgressWriter",
    "claim",
    "fail",
    "fail_stale",
    "file_chunks",
    "finish",
    "is_stale",
    "purge_expired",
]

#: Size of the pieces a finished file is stored in (bytes).
CHUNK_BYTES = 1024 * 1024
# Rows of finished jobs are deleted this long after they finished: exports stay listed for a
# month (the audit log keeps who exported what for good), score refreshes only for a day.
JOB_ROWS_KEEP = timedelta(days=30)
ROWS_KEEP_BY_KIND = {"refresh_scores": timedelta(days=1)}
#: What ``Job.error`` starts with (``"<code>: <detail>"``); the pages show a message per code.
ERROR_CODES = ("failed", "timeout", "lost", "queue", "too_large")


def _job() -> sa.Table:
    return Job.__table__


def claim(job_id: str) -> tuple[str, dict] | None:
    """Mark a queued job running; its (kind, params), or None if it is not queued (done,
    failed, or already claimed by another worker)."""
    table = _job()
    with db.engine.begin() as conn:
        claimed = conn.execute(
            sa.update(table)
            .where(table.c.id == job_id, table.c.status == "queued")
            .values(status="running", started_at=utcnow(), rows_done=0)
        ).rowcount
        if not claimed:
            return None
        kind, params = conn.execute(sa.select(table.c.kind, table.c.params).where(table.c.id == job_id)).one()
    return kind, json.loads(params or "{}")


class ProgressWriter:
    """The ``progress(rows_done, rows_total)`` callback a handler gets.

    Writes at most once per whole percent (so about 100 times per job, whatever the handler's
    call rate), only forwards, and only while the job is running.
    """

    def __init__(self, job_id: str):
        self.job_id = job_id
        self.done = 0
        self.total: int | None = None
        self.writes = 0
        self._written: tuple[int, int, bool] | None = None

    def __call__(self, rows_done: int, rows_total: int) -> None:
        total = max(int(rows_total), 0)
        done = min(max(int(rows_done), self.done), total)  # never backwards
        self.done, self.total = done, total
        key = (done * 100 // total if total else 100, total, done == total)
        if key == self._written:
            return
        table = _job()
        with db.engine.begin() as conn:
            conn.execute(
                sa.update(table)
                .where(table.c.id == self.job_id, table.c.status == "running")
                .values(rows_done=done, rows_total=total)
            )
        self._written = key
        self.writes += 1


def finish(job_id: str, out: BinaryIO, *, file_name: str, mimetype: str, rows: int | None = None) -> bool:
    """Store the file in ``out`` (read from its start) as the job's chunks and mark it done.

    Each chunk is its own transaction (short write locks on SQLite); the job turns ``done`` in a
    last one, so nobody sees a done job with half a file. False (and no chunks kept) if the job
    was no longer running meanwhile (failed as stale, say).
    """
    chunks = JobFileChunk.__table__
    out.seek(0)
    size = seq = 0
    with db.engine.begin() as conn:
        conn.execute(sa.delete(chunks).where(chunks.c.job_id == job_id))
    while True:
        data = out.read(CHUNK_BYTES)
        if not data:
            break
        with db.engine.begin() as conn:
            conn.execute(sa.insert(chunks).values(job_id=job_id, seq=seq, data=data))
        seq += 1
        size += len(data)
    table = _job()
    now = utcnow()
    keep = timedelta(hours=float(current_app.config["EXPORT_KEEP_HOURS"]))
    with db.engine.begin() as conn:
        total = rows  # the handler's count of the file's data rows, when it gives one
        if total is None:
            total = conn.scalar(sa.select(table.c.rows_total).where(table.c.id == job_id)) or 0
        done = conn.execute(
            sa.update(table)
            .where(table.c.id == job_id, table.c.status == "running")
            .values(
                status="done",
                finished_at=now,
                expires_at=now + keep,
                file_name=file_name[:200],
                mimetype=mimetype[:120],
                size_bytes=size,
                rows_done=total,
                rows_total=total,
                error=None,
            )
        ).rowcount
        if not done:
            conn.execute(sa.delete(chunks).where(chunks.c.job_id == job_id))
    return bool(done)


def fail(job_id: str, code: str, detail: str = "", *, only_unfinished: bool = True) -> bool:
    """Mark the job failed with ``"<code>: <detail>"``; False if it had already finished."""
    if code not in ERROR_CODES:
        raise ValueError(f"unknown job error code {code!r}")
    table = _job()
    query = sa.update(table).where(table.c.id == job_id)
    if only_unfinished:
        query = query.where(table.c.status.in_(("queued", "running")))
    with db.engine.begin() as conn:
        return bool(
            conn.execute(query.values(status="failed", finished_at=utcnow(), error=f"{code}: {detail}"[:2000])).rowcount
        )


def _stale_before(now: datetime) -> datetime:
    return now - timedelta(minutes=float(current_app.config["JOB_TIMEOUT_MINUTES"]))


def is_stale(job: Job, now: datetime | None = None) -> bool:
    """Whether a queued or running job has waited or run longer than JOB_TIMEOUT_MINUTES."""
    if job.status not in ("queued", "running"):
        return False
    return (job.started_at or job.created_at) < _stale_before(now or utcnow())


def fail_stale(now: datetime | None = None) -> int:
    """Fail every job queued or running longer than JOB_TIMEOUT_MINUTES (its worker died, or no
    worker is running); the number failed. A worker that is still at it finds its job failed
    and drops its file (see ``finish``)."""
    table = _job()
    before = _stale_before(now or utcnow())
    with db.engine.begin() as conn:
        return conn.execute(
            sa.update(table)
            .where(
                table.c.status.in_(("queued", "running")),
                sa.func.coalesce(table.c.started_at, table.c.created_at) < before,
            )
            .values(status="failed", finished_at=utcnow(), error="lost: no worker finished it in time")
        ).rowcount


def purge_expired(now: datetime | None = None) -> int:
    """Remove the files of jobs past their ``expires_at``, and the rows of jobs finished longer
    ago than ``JOB_ROWS_KEEP`` (``ROWS_KEEP_BY_KIND`` for some kinds); the number of files removed."""
    table, chunks = _job(), JobFileChunk.__table__
    now = now or utcnow()
    finished = table.c.status.in_(("done", "failed"))
    with db.engine.begin() as conn:
        expired = sa.select(table.c.id).where(table.c.expires_at < now)
        ids = conn.scalars(sa.select(chunks.c.job_id).where(chunks.c.job_id.in_(expired)).distinct()).all()
        if ids:
            conn.execute(sa.delete(chunks).where(chunks.c.job_id.in_(ids)))
        old = [
            sa.and_(table.c.kind == kind, table.c.finished_at < now - keep) for kind, keep in ROWS_KEEP_BY_KIND.items()
        ]
        old.append(table.c.finished_at < now - JOB_ROWS_KEEP)
        gone = sa.select(table.c.id).where(finished, sa.or_(*old))
        conn.execute(sa.delete(chunks).where(chunks.c.job_id.in_(gone)))
        conn.execute(sa.delete(table).where(finished, sa.or_(*old)))
    return len(ids)


def file_chunks(job_id: str) -> Iterator[bytes]:
    """The job's file, chunk after chunk, each read in its own short query (one chunk in
    memory at a time); stops early if the file is removed meanwhile."""
    chunks = JobFileChunk.__table__
    engine = db.engine  # bound now: the generator runs after the request context is gone

    def generate() -> Iterator[bytes]:
        seq = 0
        while True:
            with engine.connect() as conn:
                data = conn.scalar(sa.select(chunks.c.data).where(chunks.c.job_id == job_id, chunks.c.seq == seq))
            if data is None:
                return
            yield bytes(data)
            seq += 1

    return generate()
