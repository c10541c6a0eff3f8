"""Commands of the job runner: ``flask worker`` and ``flask purge-jobs``."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

__all__ = ["purge_jobs_command", "worker_command"]


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop once the queue is empty (for tests and one-off runs).")
@with_appcontext
def worker_command(burst: bool) -> None:
    """Run an RQ worker for the background jobs (exports) queued in Redis (JOB_QUEUE=rq)."""
    if current_app.config["JOB_QUEUE"] != "rq":
        raise click.ClickException(
            'JOB_QUEUE is not "rq": the web process runs jobs itself '
            "(set FLASK_JOB_QUEUE=rq and REDIS_URL for web hosts and workers alike)"
        )
    from .redis_queue import make_worker

    make_worker().work(burst=burst, with_scheduler=False, logging_level="INFO")


@click.command("purge-jobs")
@with_appcontext
def purge_jobs_command() -> None:
    """Remove export files past EXPORT_KEEP_HOURS and fail jobs whose worker is gone."""
    from . import store

    removed = store.purge_expired()
    failed = store.fail_stale()
    click.echo(f"{removed} expired files removed, {failed} lost jobs marked failed")
