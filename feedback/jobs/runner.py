"""Running one job: claim it, call its handler, store the file, record done or failed."""

from __future__ import annotations

import tempfile

from flask import current_app

from ..extensions import db
from . import store
from .registry import JobFailed, handler_for

__all__ = ["run_job", "tidy"]


def tidy() -> None:
    """Remove expired files and fail jobs whose worker is gone (see ``store.fail_stale``)."""
    store.purge_expired()
    store.fail_stale()


def run_job(job_id: str) -> None:
    """Run a queued job to its end (what a worker runs); nothing for a job that is not queued.

    The handler writes into a temporary file; the file is then stored in ~1 MB chunks and the
    job marked done. Any exception marks the job failed (``"failed: <type>: <message>"``, or
    ``"timeout: …"`` when RQ stopped it), is logged with its traceback and goes no further, so
    the worker carries on with the next job. Expired files are purged first, opportunistically.
    """
    try:
        tidy()
        claimed = store.claim(job_id)
        if claimed is None:
            return
        kind, params = claimed
        try:
            handler = handler_for(kind)
            with tempfile.TemporaryFile(prefix="job-") as out:
                result = handler(params, out, store.ProgressWriter(job_id))
                out.flush()
                store.finish(
                    job_id, out, file_name=result["file_name"], mimetype=result["mimetype"], rows=result.get("rows")
                )
        except JobFailed as exc:  # a failure the user can act on (too many rows for XLSX, say)
            current_app.logger.warning("job %s (%s) failed: %s", job_id, kind, exc)
            db.session.rollback()
            store.fail(job_id, exc.code, exc.detail)
        except Exception as exc:  # noqa: BLE001 (any failure is the job's, never the worker's)
            current_app.logger.exception("job %s (%s) failed", job_id, kind)
            db.session.rollback()
            code = "timeout" if type(exc).__name__ == "JobTimeoutException" else "failed"
            store.fail(job_id, code, f"{type(exc).__name__}: {exc}")
    finally:
        db.session.remove()
