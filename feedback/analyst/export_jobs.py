"""Export pages: start an export job, watch its progress, download the file when it is done.

No request builds an export: the POST records a job and returns at once (303 to its page);
a worker writes the file into the database, from where any web host streams it.
"""

from __future__ import annotations

from flask import Response as HttpResponse
from flask import abort, jsonify, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext
from flask_login import current_user

from .. import audit
from ..auth import chosen_province, role_required
from ..jobs import download_ready, job_for_user, recent_jobs, start_job
from ..jobs.exports import CODEBOOK_FILE_NAME
from ..jobs.store import file_chunks
from ..models import Job
from . import bp
from .service import PeriodError, parse_period

ANALYST_ROLES = ("analyst", "admin")
EXPORT_KINDS = {"scores": "export_scores", "responses": "export_responses"}
LEVELS = ("commune", "province")
#: Seconds between refreshes of a progress page without JavaScript.
REFRESH_SECONDS = 3

KIND_NAMES = {
    "export_scores": lazy_gettext("Scores"),
    "export_responses": lazy_gettext("Anonymised responses"),
}
LEVEL_NAMES = {"commune": lazy_gettext("by commune"), "province": lazy_gettext("province roll-up")}
STATUS_NAMES = {
    "queued": lazy_gettext("Waiting for a worker"),
    "running": lazy_gettext("Running"),
    "done": lazy_gettext("Ready"),
    "failed": lazy_gettext("Failed"),
}
ERROR_MESSAGES = {
    "failed": lazy_gettext(
        "The export failed. Please try again; if it fails again, tell the administrator "
        "(the details are in the server log)."
    ),
    "timeout": lazy_gettext("The export took too long and was stopped. Please choose a shorter period."),
    "lost": lazy_gettext("The export stopped because its worker ended. Please start it again."),
    "queue": lazy_gettext(
        "The export could not be queued: the job service is not available. "
        "Please try again later or tell the administrator."
    ),
    "too_large": lazy_gettext(
        "Too many rows for an XLSX file (Excel holds at most 1,048,576). "
        "Please choose CSV or Parquet, or a shorter period."
    ),
}
CHOICE_MESSAGE = lazy_gettext("Please choose what to export and a format offered for it.")


class ExportRequestError(ValueError):
    """A start-export form that cannot be run; its message is for the user."""


def export_formats() -> dict[str, tuple[str, ...]]:
    """Formats offered per kind of export (imported when a page shows the form, not at start-up)."""
    from ..exports import RESPONSE_FORMATS, SCORE_FORMATS

    return {"scores": tuple(SCORE_FORMATS), "responses": tuple(RESPONSE_FORMATS)}


#: How each file format is named on pages (the codes stay lower case in URLs and file names).
FORMAT_NAMES = {"csv": "CSV", "xlsx": "XLSX", "json": "JSON", "dta": "Stata (DTA)", "parquet": "Parquet"}


@bp.app_template_filter("format_name")
def format_name(fmt: str) -> str:
    """``parquet`` -> ``Parquet``, ``dta`` -> ``Stata (DTA)``: a file format as people call it."""
    return FORMAT_NAMES.get(fmt, fmt.upper())


@bp.app_template_filter("file_size")
def file_size(size: int | None) -> str:
    """A file size in the reader's number style: 683,9 kB in Vietnamese, 683.9 kB in English."""
    from flask_babel import format_decimal

    value, unit = float(size or 0), "B"
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            break
        value /= 1000
    return f"{format_decimal(value, format='0' if unit == 'B' else '0.#')} {unit}"


@bp.app_template_global("export_formats")
def _export_formats_global() -> dict[str, tuple[str, ...]]:
    return export_formats()


def export_request(form) -> tuple[str, dict]:
    """(job kind, job params) from the start-export form; ExportRequestError if it cannot be run."""
    kind = form.get("kind", "")
    fmt = form.get("fmt", "")
    level = form.get("level") or "commune"
    if kind not in EXPORT_KINDS or fmt not in export_formats()[kind] or level not in LEVELS:
        raise ExportRequestError(str(CHOICE_MESSAGE))
    try:
        period = parse_period(form)
    except PeriodError as exc:
        raise ExportRequestError(str(exc)) from None
    # The province of the pages (a scoped user's own, a national user's choice).
    province_code = chosen_province(current_user, form.get("province") or session.get("province"))
    params: dict = {"fmt": fmt, **period.args(), "province_code": province_code}
    if kind == "scores":
        params.update(level=level, public=form.get("public") == "1", structure="current")
        if form.get("published"):
            params.update(_published_params(form["published"], province_code))
    return EXPORT_KINDS[kind], params


def _published_params(snapshot_id: str, province_code: str) -> dict:
    """A published snapshot's id, period and structure for the job; ExportRequestError for an
    unknown one or one of another province."""
    from ..extensions import db
    from ..models import PublishedPeriod

    snapshot = db.session.get(PublishedPeriod, int(snapshot_id)) if snapshot_id.isdigit() else None
    if snapshot is None or snapshot.province_code != province_code:
        raise ExportRequestError(str(CHOICE_MESSAGE))
    return {
        "published": snapshot.id,
        "from": snapshot.date_from.isoformat(),
        "to": snapshot.date_to.isoformat(),
        "structure": snapshot.structure,
    }


def _exports_page(values: dict, *, error: str | None = None, status: int = 200):
    jobs = recent_jobs(current_user, kinds=tuple(EXPORT_KINDS.values()))
    return render_template(
        "analyst/exports.html",
        jobs=jobs,
        values=values,
        error=error,
        describe=describe,
        status_names=STATUS_NAMES,
        download_ready=download_ready,
    ), status


@bp.get("/exports")
@role_required(*ANALYST_ROLES)
def exports():
    """The start-export form (period from the query string) and the user's recent exports."""
    return _exports_page(request.args.to_dict())


@bp.post("/exports")
@role_required(*ANALYST_ROLES)
def start_export():
    """Start an export job (audited now: who, what, period) and go to its progress page."""
    try:
        kind, params = export_request(request.form)
    except ExportRequestError as exc:
        return _exports_page(request.form.to_dict(), error=str(exc), status=400)
    target = f"scores {params['level']} {params['fmt']}" if kind == "export_scores" else f"responses {params['fmt']}"
    audit.record(
        "data_exported",
        target=target,
        detail={
            "from": params.get("from"),
            "to": params.get("to"),
            "via": "job",
            **{k: params[k] for k in ("level", "public", "published") if k in params},
        },
    )
    job = start_job(kind, params, user_id=current_user.id)  # commits the audit event with the job
    return redirect(url_for("analyst.export_job", job_id=job.id), 303)


def _job_or_404(job_id: str) -> Job:
    job = job_for_user(job_id, current_user)
    if job is None or job.kind not in EXPORT_KINDS.values():
        abort(404)
    return job


def describe(job: Job) -> str:
    """``Scores by commune · CSV · 2025-07-01 – 2025-07-31`` in the reader's language."""
    import json

    params = json.loads(job.params or "{}")
    what = str(KIND_NAMES.get(job.kind, job.kind))
    if job.kind == "export_scores":
        what += " " + str(LEVEL_NAMES.get(params.get("level"), ""))
        if params.get("public"):
            what += " (" + str(lazy_gettext("public")) + ")"
        if params.get("published"):
            what += " · " + str(lazy_gettext("published no. %(id)s", id=params["published"]))
    return f"{what} · {format_name(str(params.get('fmt', '')))} · {period_words(params.get('from'), params.get('to'))}"


def period_words(date_from: str | None, date_to: str | None) -> str:
    """A period of submission days for a page: both days, or an open end said in words."""
    if date_from and date_to:
        return f"{date_from} – {date_to}"
    if date_from:
        return str(lazy_gettext("from %(day)s on", day=date_from))
    if date_to:
        return str(lazy_gettext("up to %(day)s", day=date_to))
    return str(lazy_gettext("all responses"))


def _status(job: Job) -> dict:
    code = (job.error or "").split(":", 1)[0]
    return {
        "status": job.status,
        "rows_done": job.rows_done,
        "rows_total": job.rows_total,
        "download_url": url_for("analyst.export_download", job_id=job.id) if download_ready(job) else None,
        "error": str(ERROR_MESSAGES.get(code, ERROR_MESSAGES["failed"])) if job.status == "failed" else None,
    }


@bp.get("/exports/<string(length=32):job_id>")
@role_required(*ANALYST_ROLES)
def export_job(job_id: str):
    """A job's progress (refreshing itself until it ends), then its download link."""
    job = _job_or_404(job_id)
    params_fmt = job.file_name.rsplit(".", 1)[-1] if job.file_name else ""
    return render_template(
        "analyst/export_job.html",
        job=job,
        state=_status(job),
        describe=describe,
        status_names=STATUS_NAMES,
        refresh=REFRESH_SECONDS,
        codebook=job.kind == "export_responses" and params_fmt in ("csv", "parquet"),
        codebook_name=CODEBOOK_FILE_NAME,
    )


@bp.get("/exports/<string(length=32):job_id>.json")
@role_required(*ANALYST_ROLES)
def export_job_json(job_id: str):
    """``{"status", "rows_done", "rows_total", "download_url", "error"}`` for the progress script."""
    return jsonify(_status(_job_or_404(job_id)))


@bp.get("/exports/<string(length=32):job_id>/download")
@role_required(*ANALYST_ROLES)
def export_download(job_id: str):
    """The finished file, streamed from its stored chunks; 404 once it has expired."""
    job = _job_or_404(job_id)
    if not download_ready(job):
        abort(404)
    chunks = file_chunks(job.id)
    first = next(chunks, None)  # the file may have been purged just now: then 404, not an empty file
    if first is None and job.size_bytes:
        abort(404)

    def body():
        if first is not None:
            yield first
        yield from chunks

    return HttpResponse(
        body(),
        content_type=job.mimetype,
        headers={
            "Content-Disposition": attachment(job.file_name or f"export-{job.id}"),
            "Content-Length": str(job.size_bytes or 0),
        },
    )


@bp.get("/exports/codebook.csv")
@role_required(*ANALYST_ROLES)
def export_codebook():
    """The codebook of the response export (small: served directly)."""
    import io

    from ..jobs.exports import write_codebook

    out = io.BytesIO()
    write_codebook(out)
    return HttpResponse(
        out.getvalue(), mimetype="text/csv", headers={"Content-Disposition": attachment(CODEBOOK_FILE_NAME)}
    )


def attachment(file_name: str) -> str:
    """A Content-Disposition for a download: ``filename=`` in ASCII, plus RFC 6266's UTF-8
    ``filename*`` when the name is not plain ASCII (export names are, by construction)."""
    from urllib.parse import quote

    ascii_name = file_name.encode("ascii", "replace").decode("ascii").replace('"', "").replace("?", "_")
    header = f'attachment; filename="{ascii_name}"'
    if ascii_name != file_name:
        header += f"; filename*=UTF-8''{quote(file_name, safe='')}"
    return header
