"""The app with extra job kinds for tests/test_jobs.py, also for `flask worker` subprocesses
(``flask --app tests.job_app worker``): a file of counted lines, a failure, a killed worker."""

from __future__ import annotations

import os
import signal

from feedback import create_app as _create_app
from feedback.jobs import register

LINE_BYTES = 8  # "%07d\n"


@register("test_lines")
def lines(params: dict, out, progress) -> dict:
    """``n`` numbered lines of 8 bytes, with progress every 1,000 lines."""
    n = int(params["n"])
    for i in range(n):
        out.write(b"%07d\n" % i)
        if i % 1000 == 0:
            progress(i, n)
    progress(n, n)
    return {"file_name": "lines.txt", "mimetype": "text/plain", "rows": n}


@register("test_fail")
def fail(params: dict, out, progress) -> dict:
    """Fails half-way, as an export hitting a bug would."""
    progress(1, 2)
    raise RuntimeError("the handler broke")


@register("test_crash")
def crash(params: dict, out, progress) -> dict:
    """Kills its own process (an out-of-memory kill, say). Only ever run in an RQ work horse."""
    if not os.environ.get("RQ_JOB_ID"):
        raise RuntimeError("test_crash runs only in an RQ work horse")
    os.kill(os.getpid(), signal.SIGKILL)
    return {}


def create_app():
    """The app configured from the environment, as `flask --app wsgi` would build it."""
    return _create_app()
