"""The export jobs ("export_scores", "export_responses") and the writers they share with the CLI.

pandas and the export code are imported inside the functions: a web process that never
exports never loads them.
"""

from __future__ import annotations

from datetime import date
from typing import BinaryIO

from .registry import JobFailed, Progress, register

__all__ = [
    "CODEBOOK_FILE_NAME",
    "ascii_slug",
    "export_file_name",
    "mimetype",
    "period_slug",
    "scope_slug",
    "write_codebook",
    "write_responses",
    "write_scores",
]


def mimetype(fmt: str) -> str:
    """The MIME type of an export format."""
    from ..exports import MIMETYPES

    return MIMETYPES[fmt]


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def write_scores(
    out: BinaryIO, fmt: str, *, progress: Progress | None = None, published: int | None = None, **options
) -> dict:
    """Write the score export to ``out`` (``feedback.exports.write_score_export``), or with
    ``published`` (a snapshot's id) that published period's frozen tables, whatever the data now;
    ``{"rows": int, "excluded": int, …meta}``. ValueError for a bad level, structure, format or
    period, or an unknown snapshot."""
    from ..exports import SCORE_FORMATS, write_score_export, write_score_file

    if published is None:
        meta = write_score_export(out, fmt, progress=progress, **options)
    else:
        from ..extensions import db
        from ..models import PublishedPeriod
        from ..published import published_export

        if fmt not in SCORE_FORMATS:
            raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(SCORE_FORMATS)}")
        snapshot = db.session.get(PublishedPeriod, int(published))
        if snapshot is None:
            raise ValueError(f"there is no published period {published}")
        export = published_export(snapshot, level=options.get("level", "commune"), public=bool(options.get("public")))
        write_score_file(export, out, fmt, progress=progress)
        meta = {**export.meta(), "rows": len(export.table)}
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

    return list(
        db.session.scalars(sa.select(Commune.code).where(Commune.province_code == province_code).order_by(Commune.code))
    )


def ascii_slug(text: str) -> str:
    """``Lào Cai`` → ``lao-cai``: lower-case ASCII letters and digits joined by hyphens."""
    import re
    import unicodedata

    plain = unicodedata.normalize("NFKD", text.replace("Đ", "D").replace("đ", "d"))
    plain = plain.encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")


def scope_slug(province_code: str | None) -> str:
    """The file-name word for a province (``lao-cai``, ``ha-noi``), or ``all-provinces``."""
    if not province_code:
        return "all-provinces"
    from ..units import province_name

    try:
        name = province_name(province_code)
    except ValueError:
        return f"province-{ascii_slug(province_code)}"
    for prefix in ("Thành phố ", "Tỉnh "):  # "Thành phố Hà Nội" → ha-noi, as people name it
        name = name.removeprefix(prefix)
    return ascii_slug(name)


def period_slug(date_from: str | None, date_to: str | None) -> str:
    """``2026-01-01_2026-03-31``, ``from-2026-01-01``, ``to-2026-03-31`` or ``all`` (every response)."""
    if date_from and date_to:
        return f"{date_from}_{date_to}"
    if date_from:
        return f"from-{date_from}"
    if date_to:
        return f"to-{date_to}"
    return "all"


def export_file_name(params: dict) -> str:
    """A file name saying what an export holds, for whom, where and when (ASCII, no spaces).

    ``papi-proxy-scores_internal_lao-cai_commune_2026-01-01_2026-03-31.xlsx``,
    ``papi-proxy-scores_public_lao-cai_province_all.csv``, ``responses_lao-cai_all.csv``;
    a 2018-structure score export adds ``_structure-2018``, responses with low-quality ones
    ``_with-flagged``.
    """
    scope = scope_slug(params.get("province_code"))
    period = period_slug(params.get("from"), params.get("to"))
    if params["kind"] == "scores":
        parts = [
            "papi-proxy-scores",
            "public" if params.get("public") else "internal",
            scope,
            params.get("level") or "commune",
            period,
        ]
        if params.get("structure", "current") != "current":
            parts.append(f"structure-{params['structure']}")
        if params.get("published"):
            parts.append(f"published-{params['published']}")
    else:
        parts = ["responses", scope, period]
        if params.get("include_flagged"):
            parts.append("with-flagged")
    return "_".join(parts) + f".{params['fmt']}"


#: The codebook of the response export (every survey version × question; no period or scope).
CODEBOOK_FILE_NAME = "responses-codebook_all-surveys.csv"


@register("export_scores")
def export_scores(params: dict, out: BinaryIO, progress: Progress) -> dict:
    """Job: the score export of ``params`` (fmt, from, to, level, structure, public, province_code)."""
    meta = write_scores(
        out,
        params["fmt"],
        date_from=_day(params.get("from")),
        date_to=_day(params.get("to")),
        level=params.get("level", "commune"),
        structure=params.get("structure", "current"),
        public=bool(params.get("public")),
        province_code=params.get("province_code", "15"),
        progress=progress,
        published=params.get("published"),
    )
    return {**meta, "file_name": export_file_name({**params, "kind": "scores"}), "mimetype": mimetype(params["fmt"])}


@register("export_responses")
def export_responses(params: dict, out: BinaryIO, progress: Progress) -> dict:
    """Job: anonymised responses of ``params`` (fmt, from, to, include_flagged, and the
    communes: ``commune_codes``, else those of ``province_code``, else all)."""
    communes = params.get("commune_codes")
    if communes is None and params.get("province_code"):
        communes = _province_communes(params["province_code"])
    meta = write_responses(
        out,
        params["fmt"],
        date_from=_day(params.get("from")),
        date_to=_day(params.get("to")),
        include_flagged=bool(params.get("include_flagged")),
        commune_codes=communes,
        progress=progress,
    )
    return {**meta, "file_name": export_file_name({**params, "kind": "responses"}), "mimetype": mimetype(params["fmt"])}
