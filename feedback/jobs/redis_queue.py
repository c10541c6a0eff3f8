"""RQ over Redis (JOB_QUEUE="rq"): enqueueing, and the worker that ``flask worker`` runs.

A job dies in three ways besides raising (which ``run_job`` records itself):
- its work horse is killed (out of memory, SIGKILL): the worker's ``handle_work_horse_killed``
  marks it failed at once;
- the whole worker dies: RQ finds the job abandoned in its started-job registry when a worker
  next cleans it up and calls the job's failure callback, which marks it failed;
- anything else (Redis lost, a host switched off): ``store.fail_stale`` fails it once it has
  run longer than JOB_TIMEOUT_MINUTES, which is also RQ's job timeout.
"""

from __future__ import annotations

from flask import current_app
from redis import Redis
from rq import Callback, Queue, Worker

from ..extensions import db
from . import store
from .runner import run_job

__all__ = ["JobWorker", "enqueue_rq", "make_worker", "perform"]


def _redis() -> Redis:
    app = current_app._get_current_object()
    connection = app.extensions.get("jobs_redis")
    if connection is None:
        connection = app.extensions["jobs_redis"] = Redis.from_url(app.config["REDIS_URL"])
    return connection


def _queue() -> Queue:
    return Queue(current_app.config["JOB_RQ_QUEUE"], connection=_redis())


def perform(job_id: str) -> None:
    """What an RQ job calls (inside the worker's app context)."""
    run_job(job_id)


def on_failure(job, connection, exc_type, exc_value, tb) -> None:
    """RQ's failure callback: the job was abandoned by a dead worker (or escaped ``run_job``)."""
    store.fail(job.id, "lost", f"{getattr(exc_type, '__name__', exc_type)}: {exc_value}")


def enqueue_rq(job_id: str) -> None:
    """Queue the job in Redis under its own id, with RQ's timeout set to JOB_TIMEOUT_MINUTES."""
    timeout = int(float(current_app.config["JOB_TIMEOUT_MINUTES"]) * 60)
    _queue().enqueue(
        perform,
        job_id,
        job_id=job_id,
        job_timeout=timeout,
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
        on_failure=Callback(on_failure),
        description=f"job {job_id}",
    )


class JobWorker(Worker):
    """RQ's forking worker, fitted to the jobs: each work horse gets its own database
    connections, and a horse that dies (killed, out of memory) fails its job at once."""

    def main_work_horse(self, job, queue):  # runs in the forked child
        db.engine.dispose(close=False)  # the parent's pooled connections stay the parent's
        return super().main_work_horse(job, queue)

    def handle_work_horse_killed(self, job, retpid, ret_val, rusage):
        store.fail(job.id, "lost", f"work horse ended by the system (wait status {ret_val})")
        return super().handle_work_horse_killed(job, retpid, ret_val, rusage)


def make_worker() -> JobWorker:
    """A worker for JOB_RQ_QUEUE on REDIS_URL."""
    return JobWorker([_queue()], connection=_redis())
