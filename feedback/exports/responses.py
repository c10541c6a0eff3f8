"""The anonymised response export: one row per response, its codebook, and their files."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from analysis import SUBDIMENSION_NAMES
from surveys import catalog

from ..bridge import response_export_frames
from ..times import VIET_NAM
from .writers import Progress, write_csv, write_dta, write_parquet, write_xlsx

__all__ = [
    "RESPONSE_COLUMNS",
    "RESPONSE_FORMATS",
    "ResponseExport",
    "build_response_export",
    "codebook_csv_path",
    "codebook_frame",
    "response_bytes",
    "write_codebook_csv",
    "write_response_export",
]

RESPONSE_FORMATS = ("csv", "xlsx", "dta", "parquet")


@dataclass(frozen=True)
class ResponseExport:
    """Anonymised responses (one row per response) and their codebook."""

    responses: pd.DataFrame
    codebook: pd.DataFrame
    value_labels: dict[str, dict[int, str]]
    variable_labels: dict[str, str]
    excluded: int


#: Columns describing each response, before the question columns.
RESPONSE_COLUMNS = ("export_id", "survey", "survey_version", "service_area", "commune_code", "commune_name",
                    "mode", "lang", "submitted_date", "flags")
RESPONSE_LABELS = {
    "export_id": "Row number in this export (not stored anywhere)",
    "survey": "Survey",
    "survey_version": "Survey version",
    "service_area": "Service area",
    "commune_code": "Official commune/ward code",
    "commune_name": "Commune/ward name",
    "mode": "Channel: web, paper or api",
    "lang": "Language the form was answered in",
    "submitted_date": "Submission date (Viet Nam)",
    "flags": "Quality flags (;-separated)",
}


def _question_columns() -> list[str]:
    """Question ids of every survey version, in survey order, free text left out."""
    seen: dict[str, None] = {}
    for survey in sorted(catalog().all_versions(), key=lambda s: (s.slug, s.version)):
        for q in survey.questions:
            if q.type != "text":
                seen.setdefault(q.id, None)
    return list(seen)


def codebook_frame() -> pd.DataFrame:
    """One row per survey version × question: labels, type, value labels, sub-dimension, score map."""
    rows = []
    for survey in sorted(catalog().all_versions(), key=lambda s: (s.slug, s.version)):
        for q in survey.questions:
            exported = q.type != "text"
            rows.append({
                "survey": survey.slug,
                "survey_version": survey.version,
                "question_id": q.id,
                "column": q.id if exported else "",
                "type": q.type,
                "respondent_block": q.respondent,
                "label_vi": q.label.vi,
                "label_en": q.label.en,
                "value_labels": "; ".join(f"{o.value} = {o.label.vi} / {o.label.en}" for o in q.options),
                "subdimension": q.subdimension or "",
                "subdimension_name": SUBDIMENSION_NAMES[q.subdimension].en if q.subdimension in SUBDIMENSION_NAMES else "",
                "score_map": "; ".join(f"{o.value} = {o.score:g}" for o in q.options if o.score is not None)
                if q.scored else "",
                "note": "" if exported else "free text: not exported (may identify people)",
            })
    return pd.DataFrame(rows)


def _stata_coding(columns: list[str]) -> tuple[dict[str, list[str]], dict[str, dict[int, str]], dict[str, str]]:
    """Per question column: option values in order (code 1, 2, …), their labels and a variable label."""
    order: dict[str, list[str]] = {}
    labels: dict[str, dict[int, str]] = {}
    variable: dict[str, str] = {}
    texts: dict[str, set[str]] = {}
    for survey in sorted(catalog().all_versions(), key=lambda s: (s.slug, s.version)):
        for q in survey.questions:
            if q.id not in columns:
                continue
            texts.setdefault(q.id, set()).add(q.label.en)
            variable.setdefault(q.id, q.label.en)
            if not q.options or q.type == "multiple":
                continue
            values = order.setdefault(q.id, [])
            for o in q.options:
                if o.value not in values:
                    values.append(o.value)
                    labels.setdefault(q.id, {})[len(values)] = f"{o.value}: {o.label.vi} / {o.label.en}"[:320]
    for qid, seen in texts.items():
        if len(seen) > 1:
            variable[qid] = f"{qid} (wording differs by survey: see codebook)"
    return order, labels, variable



def build_response_export(date_from: date | None = None, date_to: date | None = None, *,
                          include_flagged: bool = False, commune_codes: list[str] | None = None,
                          seed: int | None = None) -> ResponseExport:
    """Anonymised responses of a period: no stored ids, hashes, times of day or free text.

    ``export_id`` numbers rows 1…N after a random shuffle within each day and commune: the
    stored response id is chosen on the citizen's device (offline clients keep it), so
    exporting it could link a row back to a phone or a client log, and a stable id would
    let two exports be joined. A per-export number only lets analysts cite rows.

    Built set-wise: the bridge reads responses and answers in two bulk reads; answers are
    placed into the question columns by their row and column codes (a multiple-choice
    answer's values joined with ``;`` in option position order).
    """
    columns = _question_columns()
    head, answers, excluded = response_export_frames(date_from, date_to, question_ids=columns,
                                                     include_flagged=include_flagged, commune_codes=commune_codes)
    local = head["submitted_at"].dt.tz_localize("UTC").dt.tz_convert(VIET_NAM).dt.tz_localize(None).dt.normalize()
    rng = np.random.default_rng(seed)
    order = pd.DataFrame({"day": local, "commune": head["commune_code"].astype(str),
                          "shuffle": rng.permutation(len(head))}).sort_values(["day", "commune", "shuffle"]).index
    order = order.to_numpy()  # output row i is head row order[i]
    areas = {s.slug: s.service_area for s in catalog().all_versions()}
    out = pd.DataFrame({
        "export_id": np.arange(1, len(head) + 1, dtype=np.int64),
        "survey": head["survey"].to_numpy()[order],
        "survey_version": head["survey_version"].to_numpy()[order],
        "service_area": head["survey"].astype(object).map(areas).to_numpy()[order],
        "commune_code": head["commune_code"].to_numpy()[order],
        "commune_name": head["commune_name"].to_numpy()[order],
        "mode": head["mode"].to_numpy()[order],
        "lang": head["lang"].to_numpy()[order],
        "submitted_date": local.dt.date.to_numpy()[order],
        "flags": head["flags"].to_numpy()[order],
    })
    for name, cells in _answer_columns(answers, len(head), columns).items():
        out[name] = cells[order]  # output row i is the response in head row order[i]
    _, value_labels, variable = _stata_coding(columns)
    variable_labels = {**RESPONSE_LABELS, **variable}
    return ResponseExport(responses=out, codebook=codebook_frame(), value_labels=value_labels,
                          variable_labels=variable_labels, excluded=excluded)


def _answer_columns(answers: pd.DataFrame, rows: int, columns: list[str]) -> dict[str, np.ndarray]:
    """Per question column, an object array over the response rows: the value, or None.

    ``answers`` codes give each value's row (``response_id``) and column (``question_id``);
    cells with several values (multiple choice: ``position`` > 0 somewhere in the cell) are
    the only ones grouped, their values joined with ``;`` in position order.
    """
    row = answers["response_id"].cat.codes.to_numpy(dtype=np.int64)
    col = answers["question_id"].cat.codes.to_numpy(dtype=np.int64)
    values = answers["value"].cat.categories.astype(object).to_numpy()
    code = answers["value"].cat.codes.to_numpy()
    cell = row * len(columns) + col
    multi = np.isin(cell, np.unique(cell[answers["position"].to_numpy() > 0]))
    grid = np.full((len(columns), rows), None, dtype=object)
    single = ~multi
    grid[col[single], row[single]] = values[code[single]]
    if multi.any():
        several = pd.DataFrame({"cell": cell[multi], "position": answers["position"].to_numpy()[multi],
                                "value": values[code[multi]]}).sort_values(["cell", "position"], kind="stable")
        joined = several.groupby("cell", sort=False)["value"].agg(";".join)
        cells = joined.index.to_numpy()
        grid[cells % len(columns), cells // len(columns)] = joined.to_numpy()
    return {name: grid[j] for j, name in enumerate(columns)}


def _stata_responses(export: ResponseExport) -> tuple[pd.DataFrame, dict[str, dict[int, str]]]:
    """Choice answers as labelled integer codes (1, 2, … in option order), others as text."""
    order, labels, _ = _stata_coding(list(export.responses.columns))
    frame = export.responses.copy()
    frame["submitted_date"] = pd.to_datetime(frame["submitted_date"])
    for column, values in order.items():
        coded = frame[column].astype(object).map({v: i + 1 for i, v in enumerate(values)})
        frame[column] = coded.astype("float64")
    return frame, {c: labels[c] for c in order if c in labels}


def _readme(export: ResponseExport) -> list[list[Any]]:
    return [["Phiếu trả lời ẩn danh — chỉ dành cho chuyên viên phân tích",
             "Anonymised responses — for analysts only, not for publication"],
            ["Phiếu chất lượng thấp bị loại / Low-quality responses excluded", export.excluded],
            ["export_id", RESPONSE_LABELS["export_id"]]]


def write_response_file(export: ResponseExport, out: BinaryIO, fmt: str, *, progress: Progress = None) -> None:
    """Write a built response export to ``out`` in ``fmt``; CSV leaves the codebook to :func:`write_codebook_csv`.

    Raises
    ------
    ValueError
        For an unknown format, or more rows than an XLSX sheet holds.
    """
    if fmt == "csv":
        write_csv(export.responses, out, progress=progress)
    elif fmt == "parquet":
        write_parquet(export.responses, out, progress=progress,
                      metadata={"feedback.excluded_low_quality": str(export.excluded)})
    elif fmt == "xlsx":
        write_xlsx([("responses", export.responses), ("codebook", export.codebook), ("README", _readme(export))],
                   out, progress=progress)
    elif fmt == "dta":
        frame, value_labels = _stata_responses(export)
        write_dta(frame, out, labels=export.variable_labels, value_labels=value_labels,
                  title="Anonymised citizen feedback responses", progress=progress)
    else:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(RESPONSE_FORMATS)}")


def write_response_export(out: BinaryIO, fmt: str, *, date_from: date | None = None, date_to: date | None = None,
                          include_flagged: bool = False, commune_codes: list[str] | None = None,
                          progress: Progress = None) -> dict[str, Any]:
    """Build the anonymised response export of a period and write it to ``out``; for the job runner and CLI.

    ``progress(rows_done, rows_total)`` counts responses written (XLSX: also the codebook's
    rows), last with done == total. Returns ``{"rows": responses written, "excluded": low-quality
    responses left out}``. A CSV's codebook is a separate file: :func:`write_codebook_csv`.

    Raises
    ------
    ValueError
        For an unknown format, a period that ends before it starts, or too many rows for XLSX.
    """
    if fmt not in RESPONSE_FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(RESPONSE_FORMATS)}")
    export = build_response_export(date_from, date_to, include_flagged=include_flagged, commune_codes=commune_codes)
    write_response_file(export, out, fmt, progress=progress)
    return {"rows": len(export.responses), "excluded": export.excluded}


def write_codebook_csv(out: BinaryIO) -> None:
    """The codebook of the response export (every survey version × question) as UTF-8 CSV."""
    write_csv(codebook_frame(), out)


def response_bytes(export: ResponseExport, fmt: str) -> dict[str, bytes]:
    """The response export in ``fmt``: file suffix -> bytes (CSV adds ``.codebook.csv``)."""
    main = io.BytesIO()
    write_response_file(export, main, fmt)
    files = {"": main.getvalue()}
    if fmt == "csv":
        codebook = io.BytesIO()
        write_csv(export.codebook, codebook)
        files[".codebook.csv"] = codebook.getvalue()
    return files


def codebook_csv_path(path: str | Path) -> Path:
    """Where the codebook of a CSV export goes: ``<name>.codebook.csv`` next to it."""
    path = Path(path)
    return path.with_name(path.stem + ".codebook.csv")
