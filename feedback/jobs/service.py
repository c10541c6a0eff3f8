"""Starting jobs and finding them again for the pages (thin views call these)."""

from __future__ import annotations

import json
import secrets

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..models import Job, User, utcnow
from . import store
from .queues import enqueue
from .registry import kinds

__all__ = ["download_ready", "job_for_user", "recent_jobs", "start_job"]


def start_job(kind: str, params: dict, *, user_id: int | None) -> Job:
    """Record a queued job (committing the session, with whatever the caller added to it, such
    as its audit event) and hand it to the runner.

    ``params`` must be JSON-serialisable. Raises ValueError for a kind no handler is registered
    for. If the runner cannot take the job (Redis down, say), the job is returned failed with
    error code ``queue`` rather than raising: the page then says so.
    """
    if kind not in kinds():
        raise ValueError(f"no handler for job kind {kind!r}")
    job = Job(
        id=secrets.token_hex(16),
        kind=kind,
        params=json.dumps(params, sort_keys=True, ensure_ascii=False),
        status="queued",
        rows_done=0,
        user_id=user_id,
        created_at=utcnow(),
    )
    db.session.add(job)
    db.session.commit()
    try:
        enqueue(job.id)
    except Exception as exc:  # noqa: BLE001 (reported on the job's page, logged here)
        current_app.logger.exception("job %s could not be queued", job.id)
        store.fail(job.id, "queue", f"{type(exc).__name__}: {exc}")
        db.session.refresh(job)
    return job


def job_for_user(job_id: str, user: User) -> Job | None:
    """The job if ``user`` started it or is an admin, else None; a job whose worker is gone
    is failed on the way (``store.is_stale``)."""
    job = db.session.get(Job, job_id)
    if job is None or (job.user_id != user.id and user.role != "admin"):
        return None
    if store.is_stale(job):
        store.fail_stale()
        db.session.refresh(job)
    return job


def recent_jobs(user: User, *, kinds: tuple[str, ...], limit: int = 20) -> list[Job]:
    """The user's latest jobs of these kinds, newest first."""
    query = (
        sa.select(Job)
        .where(Job.user_id == user.id, Job.kind.in_(kinds))
        .order_by(Job.created_at.desc(), Job.id)
        .limit(limit)
    )
    return list(db.session.execute(query).scalars())


def download_ready(job: Job) -> bool:
    """Whether the job's file can be downloaded now (done and not expired)."""
    return job.status == "done" and job.expires_at is not None and job.expires_at > utcnow()
