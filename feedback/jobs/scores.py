"""The "refresh_scores" job: recompute a stale score-cache entry in the background.

Pages read the newest cached score tables even when new responses arrived since
(``feedback.score_cache.cached_score_tables``) and ask for a refresh here; at most one
refresh per inputs is queued or running at a time (found through the Job table), and the
job itself computes nothing when the entry is already fresh (a duplicate started by two
requests racing costs two small queries).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import BinaryIO

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..models import Job, utcnow
from .registry import Progress, register

__all__ = ["KIND", "refresh_params", "request_refresh"]

KIND = "refresh_scores"


def refresh_params(
    date_from: date | None, date_to: date | None, *, structure: str, province_code: str | None, include_flagged: bool
) -> dict:
    """The job parameters of one cache entry's inputs (JSON: dates as ISO strings)."""
    return {
        "date_from": date_from.isoformat() if date_from else None,
        "date_to": date_to.isoformat() if date_to else None,
        "structure": structure,
        "province_code": province_code,
        "include_flagged": bool(include_flagged),
    }


def request_refresh(params: dict, *, user_id: int | None) -> Job:
    """The queued or running refresh job of ``params`` (``refresh_params``), or a new one
    (committing the session, see ``start_job``). A job older than JOB_TIMEOUT_MINUTES is
    taken as lost and does not count."""
    from .service import start_job

    encoded = json.dumps(params, sort_keys=True, ensure_ascii=False)  # as start_job stores it
    since = utcnow() - timedelta(minutes=float(current_app.config["JOB_TIMEOUT_MINUTES"]))
    existing = db.session.scalar(
        sa.select(Job)
        .where(
            Job.kind == KIND,
            Job.params == encoded,
            Job.status.in_(("queued", "running")),
            sa.func.coalesce(Job.started_at, Job.created_at) >= since,
        )
        .order_by(Job.created_at.desc())
        .limit(1)
    )
    return existing if existing is not None else start_job(KIND, params, user_id=user_id)


@register(KIND)
def refresh_scores(params: dict, out: BinaryIO, progress: Progress) -> dict:
    """Compute and store the score tables of ``params`` unless they are fresh already; the
    job's file is empty (its ``rows``: the responses the tables count)."""
    from ..score_cache import score_tables

    def day(value: str | None) -> date | None:
        return date.fromisoformat(value) if value else None

    progress(0, 1)
    tables = score_tables(
        day(params["date_from"]),
        day(params["date_to"]),
        structure=params["structure"],
        province_code=params["province_code"],
        include_flagged=params["include_flagged"],
    )
    progress(1, 1)
    return {"file_name": "scores-refreshed.txt", "mimetype": "text/plain", "rows": tables.respondents}
