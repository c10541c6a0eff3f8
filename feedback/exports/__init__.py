"""Score and response exports: tables built from the bridge, written to files in chunks.

``scores`` builds and writes the score export, ``responses`` the anonymised response export,
``suppression`` hides small cells of public tables, ``labels`` says what columns and flags
mean, ``writers`` writes CSV, XLSX, Parquet, Stata and JSON. The job runner and the CLI call
:func:`write_score_export`, :func:`write_response_export` and :func:`write_codebook_csv`.
"""

from __future__ import annotations

from .labels import (
    COLUMN_LABELS,
    FLAG_MEANINGS,
    FLAG_NAMES,
    FLAG_SUFFIX_MEANINGS,
    FLAG_SUFFIX_NAMES,
    FLAG_SUFFIX_TEMPLATES,
    METHOD_SUMMARY,
    READING_NOTES,
    REFERENCES,
    flag_meaning,
    flag_name,
    period_text,
)
from .responses import (
    CODEBOOK_FORMATS,
    CODEBOOK_LABELS,
    RESPONSE_COLUMNS,
    RESPONSE_FORMATS,
    RESPONSE_LABELS,
    ResponseExport,
    build_response_export,
    codebook_csv_path,
    codebook_frame,
    response_bytes,
    response_column_labels,
    write_codebook_csv,
    write_response_export,
    write_response_file,
)
from .scores import (
    CONTRACT_COLUMNS,
    DEFAULT_OFFICIAL,
    PROVINCE_EXTRA,
    PROVINCE_NAME,
    SCORE_FORMATS,
    ScoreExport,
    build_score_export,
    commune_scores,
    province_scores,
    score_bytes,
    score_records,
    write_score_export,
    write_score_file,
)
from .suppression import MIN_PUBLIC_N, SUPPRESSION_KEEPS, SUPPRESSION_KEEPS_FLAGS, suppress_small_cells
from .writers import MIMETYPES

__all__ = [
    "CODEBOOK_FORMATS",
    "CODEBOOK_LABELS",
    "COLUMN_LABELS",
    "CONTRACT_COLUMNS",
    "DEFAULT_OFFICIAL",
    "FLAG_MEANINGS",
    "FLAG_NAMES",
    "FLAG_SUFFIX_MEANINGS",
    "FLAG_SUFFIX_NAMES",
    "FLAG_SUFFIX_TEMPLATES",
    "METHOD_SUMMARY",
    "MIMETYPES",
    "MIN_PUBLIC_N",
    "PROVINCE_EXTRA",
    "PROVINCE_NAME",
    "READING_NOTES",
    "REFERENCES",
    "RESPONSE_COLUMNS",
    "RESPONSE_FORMATS",
    "RESPONSE_LABELS",
    "SCORE_FORMATS",
    "SUPPRESSION_KEEPS",
    "SUPPRESSION_KEEPS_FLAGS",
    "ResponseExport",
    "ScoreExport",
    "build_response_export",
    "build_score_export",
    "codebook_csv_path",
    "codebook_frame",
    "commune_scores",
    "flag_meaning",
    "flag_name",
    "period_text",
    "province_scores",
    "response_bytes",
    "response_column_labels",
    "score_bytes",
    "score_records",
    "suppress_small_cells",
    "write_codebook_csv",
    "write_response_export",
    "write_response_file",
    "write_score_export",
    "write_score_file",
]
