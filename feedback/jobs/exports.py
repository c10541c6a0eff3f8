"""The export jobs ("export_scores", "export_responses") and the writers they share with the CLI.

pandas and the export code are imported inside the functions: a web process that never
exports never loads them.
"""

from __future__ import annotations

from datetime import date
from typing import BinaryIO

from .registry import JobFailed, Progress, register

__all__ = ["export_file_name", "mimetype", "write_codebook", "write_responses", "write_scores"]


def mimetype(fmt: str) -> str:
    """The MIME type of an export format."""
    from ..exports import MIMETYPES

    return MIMETYPES[fmt]


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def write_scores(out: BinaryIO, fmt: str, *, progress: Progress | None = None, **options) -> dict:
    """Write the score export to ``out`` (``feedback.exports.write_score_export``);
    ``{"rows": int, "excluded": int, …meta}``. ValueError for a bad level, structure, format or period."""
    from ..exports import write_score_export

    meta = write_score_export(out, fmt, progress=progress, **options)
    return {**meta, "excluded": meta.get("excluded", meta.get("excluded_low_quality", 0))}


def write_responses(out: BinaryIO, fmt: str, *, progress: Progress | None = None, **options) -> dict:
    """Write the anonymised responses to ``out`` (CSV and Parquet without their codebook: see
    ``write_codebook``); ``{"rows": int, "excluded": int}``. ValueError for a bad format or period,
    ``JobFailed("too_large")`` for more rows than an XLSX sheet holds."""
    from ..exports import write_response_export

    try:
        return write_response_export(out, fmt, progress=progress, **options)
    except ValueError as exc:
        if fmt == "xlsx" and "at most" in str(exc):  # Excel's row limit (feedback/exports/writers.py)
            raise JobFailed("too_large", str(exc)) from exc
        raise


def write_codebook(out: BinaryIO) -> None:
    """Write the codebook of the response export (CSV) to ``out``."""
    from ..exports import write_codebook_csv

    write_codebook_csv(out)


def _province_communes(province_code: str) -> list[str]:
    import sqlalchemy as sa

    from ..extensions import db
    from ..models import Commune

    return list(db.session.scalars(sa.select(Commune.code).where(Commune.province_code == province_code)
                                   .order_by(Commune.code)))


def export_file_name(params: dict) -> str:
    """``papi-proxy-commune_from-2025-07-01_to-2025-07-31.csv``, ``responses.xlsx`` …"""
    if params["kind"] == "scores":
        stem = f"papi-proxy-{params.get('level', 'commune')}" + ("-public" if params.get("public") else "")
    else:
        stem = "responses"
    period = [f"{end}-{params[end]}" for end in ("from", "to") if params.get(end)]
    return "_".join([stem, *period]) + f".{params['fmt']}"


@register("export_scores")
def export_scores(params: dict, out: BinaryIO, progress: Progress) -> dict:
    """Job: the score export of ``params`` (fmt, from, to, level, structure, public, province_code)."""
    meta = write_scores(out, params["fmt"], date_from=_day(params.get("from")), date_to=_day(params.get("to")),
                        level=params.get("level", "commune"), structure=params.get("structure", "current"),
                        public=bool(params.get("public")), province_code=params.get("province_code", "15"),
                        progress=progress)
    return {**meta, "file_name": export_file_name({**params, "kind": "scores"}), "mimetype": mimetype(params["fmt"])}


@register("export_responses")
def export_responses(params: dict, out: BinaryIO, progress: Progress) -> dict:
    """Job: anonymised responses of ``params`` (fmt, from, to, include_flagged, and the
    communes: ``commune_codes``, else those of ``province_code``, else all)."""
    communes = params.get("commune_codes")
    if communes is None and params.get("province_code"):
        communes = _province_communes(params["province_code"])
    meta = write_responses(out, params["fmt"], date_from=_day(params.get("from")), date_to=_day(params.get("to")),
                           include_flagged=bool(params.get("include_flagged")), commune_codes=communes,
                           progress=progress)
    return {**meta, "file_name": export_file_name({**params, "kind": "responses"}), "mimetype": mimetype(params["fmt"])}
