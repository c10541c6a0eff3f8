"""Background jobs (exports, later digests): started by a page, run by a worker, their state,
progress and finished file kept in the database so any web host can show and serve them.

    job = start_job("export_scores", {"fmt": "csv", ...}, user_id=user.id)  # commits, enqueues
    run_job(job.id)  # what a worker runs: handler -> file in JobFileChunk rows -> done / failed

``JOB_QUEUE="embedded"`` (default) runs jobs in a small thread pool of the web process;
``"rq"`` queues them in Redis (``REDIS_URL``) for ``flask --app wsgi worker``.
"""

from __future__ import annotations

from flask import Flask

from .registry import register
from .runner import run_job
from .service import download_ready, job_for_user, recent_jobs, start_job

__all__ = ["download_ready", "init_app", "job_for_user", "recent_jobs", "register", "run_job", "start_job"]


def init_app(app: Flask) -> None:
    """Register the export handlers and the ``worker`` and ``purge-jobs`` commands."""
    from . import (
        exports,  # noqa: F401 (registers its handlers)
        scores,  # noqa: F401 (registers the score refresh)
    )
    from .cli import purge_jobs_command, worker_command

    app.cli.add_command(worker_command)
    app.cli.add_command(purge_jobs_command)
