"""Where a started job goes: a thread pool in this process ("embedded") or an RQ queue ("rq")."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from flask import Flask, current_app

from .runner import run_job

__all__ = ["enqueue"]

QUEUE_MODES = ("embedded", "rq")

_pool: ThreadPoolExecutor | None = None
_pool_pid: int | None = None
_pool_lock = threading.Lock()


def enqueue(job_id: str) -> None:
    """Hand a committed, queued job to the configured runner (JOB_QUEUE); raises if the
    runner cannot take it (Redis down, say)."""
    mode = current_app.config["JOB_QUEUE"]
    if mode == "embedded":
        _executor(int(current_app.config["JOB_THREADS"])).submit(_run_in_app, current_app._get_current_object(), job_id)
    elif mode == "rq":
        from .redis_queue import enqueue_rq

        enqueue_rq(job_id)
    else:
        raise ValueError(f"JOB_QUEUE must be one of {', '.join(QUEUE_MODES)}, not {mode!r}")


def _executor(threads: int) -> ThreadPoolExecutor:
    """This process's pool (made on first use, and again in a forked child: threads do not
    survive a fork, so a pool made before gunicorn forks would never run anything)."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(max_workers=max(threads, 1), thread_name_prefix="job")
            _pool_pid = os.getpid()
        return _pool


def _run_in_app(app: Flask, job_id: str) -> None:
    with app.app_context():
        try:
            run_job(job_id)
        except Exception:  # noqa: BLE001 (the database itself failed: logged, the pool lives on)
            app.logger.exception("job %s could not be run", job_id)
