"""The anonymised response export: one row per response, its codebook, and their files."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from analysis import SUBDIMENSION_NAMES
from surveys import catalog

from ..bridge import response_export_frames
from ..channels import channel_names
from ..models import CHANNELS
from ..times import VIET_NAM
from .labels import READING_NOTES, period_text
from .writers import Progress, write_csv, write_dta, write_parquet, write_xlsx

__all__ = [
    "CODEBOOK_FORMATS",
    "CODEBOOK_LABELS",
    "RESPONSE_COLUMNS",
    "RESPONSE_FORMATS",
    "RESPONSE_LABELS",
    "RESPONSE_LABELS_VI",
    "ResponseExport",
    "build_response_export",
    "codebook_csv_path",
    "codebook_frame",
    "response_bytes",
    "response_column_labels",
    "write_codebook_csv",
    "write_response_export",
]

RESPONSE_FORMATS = ("csv", "xlsx", "dta", "parquet")
#: Formats whose codebook is a separate CSV file beside them (XLSX holds it as a sheet, Stata as labels).
CODEBOOK_FORMATS = ("csv", "parquet")


@dataclass(frozen=True)
class ResponseExport:
    """Anonymised responses (one row per response) and their codebook.

    ``numeric`` names the question columns whose answers are numbers in every survey version
    (ratings 1–5, integers): Parquet stores them as integers, other choice columns as
    dictionary-encoded text.
    """

    responses: pd.DataFrame
    codebook: pd.DataFrame
    value_labels: dict[str, dict[int, str]]
    variable_labels: dict[str, str]
    excluded: int
    numeric: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None


#: Columns describing each response, before the question columns.
RESPONSE_COLUMNS = (
    "export_id",
    "survey",
    "survey_version",
    "service_area",
    "commune_code",
    "commune_name",
    "mode",
    "channel",
    "module",
    "lang",
    "submitted_date",
    "flags",
)
RESPONSE_LABELS = {
    "export_id": "Row number in this export (not stored anywhere)",
    "survey": "Survey",
    "survey_version": "Survey version",
    "service_area": "Service area",
    "commune_code": "Official commune/ward code",
    "commune_name": "Commune/ward name",
    "mode": "Channel: web, paper or api",
    "channel": "How it arrived: poster (QR code), landing (home page), paper or api",
    "module": "Rotating question module asked (empty: every question was shown)",
    "lang": "Language the form was answered in",
    "submitted_date": "Submission date (Viet Nam)",
    "flags": "Quality flags (;-separated)",
}
#: Vietnamese labels of the same columns, for the README sheet.
RESPONSE_LABELS_VI = {
    "export_id": "Số thứ tự dòng trong tệp này (không lưu ở đâu khác)",
    "survey": "Khảo sát",
    "survey_version": "Phiên bản khảo sát",
    "service_area": "Lĩnh vực dịch vụ",
    "commune_code": "Mã xã/phường (chính thức)",
    "commune_name": "Tên xã/phường",
    "mode": "Kênh: web, paper (phiếu giấy) hoặc api",
    "channel": "Đến qua: poster (mã QR trên áp phích), landing (trang chủ), paper (phiếu giấy) hoặc api",
    "module": "Nhóm câu hỏi luân phiên được hỏi (trống: được hỏi mọi câu hỏi)",
    "lang": "Ngôn ngữ người trả lời dùng",
    "submitted_date": "Ngày nộp (giờ Việt Nam)",
    "flags": "Cờ chất lượng (cách nhau bởi dấu ;)",
}
#: (Vietnamese, English) labels of the codebook's columns (its own sheet, or the CSV beside the export).
CODEBOOK_LABELS: dict[str, tuple[str, str]] = {
    "survey": ("Khảo sát", "Survey"),
    "survey_version": ("Phiên bản khảo sát", "Survey version"),
    "question_id": ("Mã câu hỏi", "Question id"),
    "column": ("Cột trong tệp phiếu trả lời (trống: không xuất)", "Column in the response file (empty: not exported)"),
    "type": (
        "Loại câu hỏi: rating, yes_no, single, multiple, integer, text",
        "Question type: rating, yes_no, single, multiple, integer, text",
    ),
    "respondent_block": (
        "Thuộc phần thông tin người trả lời (giới tính, tuổi, dân tộc)",
        "Part of the respondent block (sex, age band, ethnic group)",
    ),
    "label_vi": ("Nội dung câu hỏi (tiếng Việt)", "Question text (Vietnamese)"),
    "label_en": ("Nội dung câu hỏi (tiếng Anh)", "Question text (English)"),
    "value_labels": ("Giá trị = nhãn tiếng Việt / tiếng Anh", "Value = Vietnamese / English label"),
    "subdimension": ("Mã nội dung thành phần PAPI mà câu hỏi đo", "PAPI sub-dimension the question measures"),
    "subdimension_name": ("Tên nội dung thành phần (tiếng Anh)", "Sub-dimension name (English)"),
    "score_map": ("Điểm 0–1 của từng giá trị", "Score 0–1 of each value"),
    "note": ("Ghi chú", "Note"),
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
            rows.append(
                {
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
                    "subdimension_name": SUBDIMENSION_NAMES[q.subdimension].en
                    if q.subdimension in SUBDIMENSION_NAMES
                    else "",
                    "score_map": "; ".join(f"{o.value} = {o.score:g}" for o in q.options if o.score is not None)
                    if q.scored
                    else "",
                    "note": "" if exported else "free text: not exported (may identify people)",
                }
            )
    names = channel_names()
    rows.append(
        {  # a column of every response, not a question: no survey, version or scores
            "survey": "",
            "survey_version": None,
            "question_id": "",
            "column": "channel",
            "type": "single",
            "respondent_block": False,
            "label_vi": RESPONSE_LABELS_VI["channel"],
            "label_en": RESPONSE_LABELS["channel"],
            "value_labels": "; ".join(f"{c} = {vi} / {en}" for c, (vi, en) in names.items()),
            "subdimension": "",
            "subdimension_name": "",
            "score_map": "",
            "note": "every survey: how the response arrived",
        }
    )
    rows.append(
        {  # likewise: which rotating module's questions a response was asked
            "survey": "",
            "survey_version": None,
            "question_id": "",
            "column": "module",
            "type": "single",
            "respondent_block": False,
            "label_vi": RESPONSE_LABELS_VI["module"],
            "label_en": RESPONSE_LABELS["module"],
            "value_labels": _module_value_labels(),
            "subdimension": "",
            "subdimension_name": "",
            "score_map": "",
            "note": _module_note(),
        }
    )
    frame = pd.DataFrame(rows)
    frame["survey_version"] = frame["survey_version"].astype("Int64")
    return frame


def _module_surveys() -> dict[str, list[str]]:
    """Rotating module name -> the survey versions (``slug vN``) that have it, in catalogue order."""
    surveys: dict[str, list[str]] = {}
    for survey in sorted(catalog().all_versions(), key=lambda s: (s.slug, s.version)):
        for module in survey.modules:
            surveys.setdefault(module, []).append(f"{survey.slug} v{survey.version}")
    return surveys


def _module_value_labels() -> str:
    """The module codebook row's values: each module with the surveys that ask it, then empty."""
    named = [f"{m} = nhóm {m} ({', '.join(s)}) / module {m} ({', '.join(s)})" for m, s in _module_surveys().items()]
    return "; ".join([*named, "(trống) = mọi câu hỏi / (empty) = every question was shown"])


def _module_note() -> str:
    """Why the module column matters, naming the surveys that rotate modules."""
    rotating = sorted({s.split(" v")[0] for surveys in _module_surveys().values() for s in surveys})
    return (
        "every survey: a web respondent of a survey with rotating modules "
        f"({', '.join(rotating) or 'none yet'}) sees the core and one module; a question of another "
        "module was not asked, not skipped. Empty: no modules, or a paper or API form that may answer "
        "every question"
    )


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


def _numeric_columns(columns: list[str]) -> tuple[str, ...]:
    """Question columns that are a rating or an integer in every survey version that asks them."""
    types: dict[str, set[str]] = {}
    for survey in catalog().all_versions():
        for q in survey.questions:
            types.setdefault(q.id, set()).add(q.type)
    return tuple(c for c in columns if types.get(c) and types[c] <= {"rating", "integer"})


def _option_order(columns: list[str]) -> dict[str, dict[str, int]]:
    """Per question column, its option values' first position across survey versions (category order)."""
    order: dict[str, dict[str, int]] = {}
    for survey in sorted(catalog().all_versions(), key=lambda s: (s.slug, s.version)):
        for q in survey.questions:
            values = order.setdefault(q.id, {})
            for o in q.options:
                values.setdefault(o.value, len(values))
    return {c: order.get(c, {}) for c in columns}


def _categorical(codes: np.ndarray, categories: pd.Index) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, categories=categories, validate=False)


def build_response_export(
    date_from: date | None = None,
    date_to: date | None = None,
    *,
    include_flagged: bool = False,
    commune_codes: list[str] | None = None,
    seed: int | None = None,
    progress: Progress = None,
) -> ResponseExport:
    """Anonymised responses of a period: no stored ids, hashes, times of day or free text.

    ``export_id`` numbers rows 1…N after a random shuffle within each day and commune: the
    stored response id is chosen on the citizen's device (offline clients keep it), so
    exporting it could link a row back to a phone or a client log, and a stable id would
    let two exports be joined. A per-export number only lets analysts cite rows.

    Built set-wise: the bridge reads responses and answers in two bulk reads; answers are
    placed into a grid of value codes by their row and column codes, and every text column
    is a categorical (labels looked up once per category, never per cell). A multiple-choice
    answer's values are joined with ``;`` in option position order. ``progress(done, total)``
    is told the row count once the responses are read, and again after each step.
    """
    columns = _question_columns()

    def rows_known(rows: int) -> None:
        if progress is not None:
            progress(0, rows)

    head, answers, excluded = response_export_frames(
        date_from,
        date_to,
        question_ids=columns,
        include_flagged=include_flagged,
        commune_codes=commune_codes,
        on_head=rows_known,
    )
    rows = len(head)
    if progress is not None:
        progress(rows // 3, rows)
    stamps = head["submitted_at"].to_numpy()
    days, day_values = pd.factorize(
        pd.DatetimeIndex(stamps).tz_localize("UTC").tz_convert(VIET_NAM).tz_localize(None).normalize()
    )
    commune = head["commune_code"].cat.codes.to_numpy()
    rng = np.random.default_rng(seed)
    shuffle = rng.permutation(rows)
    # Day order, then commune code, then the shuffle; categories are not sorted, so rank them.
    day_rank = np.argsort(np.argsort(day_values.to_numpy(), kind="stable"), kind="stable")
    commune_rank = np.argsort(
        np.argsort(head["commune_code"].cat.categories.to_numpy(dtype=object), kind="stable"), kind="stable"
    )
    order = np.lexsort((shuffle, commune_rank[commune], day_rank[days]))
    areas = {s.slug: s.service_area for s in catalog().all_versions()}
    survey = head["survey"].cat
    area_names = pd.Index(sorted({areas.get(slug) for slug in survey.categories if areas.get(slug) is not None}))
    area_codes = np.array(
        [area_names.get_loc(areas[slug]) if areas.get(slug) is not None else -1 for slug in survey.categories] + [-1],
        dtype=np.int64,
    )
    day_dates = np.array([d.date() for d in day_values], dtype=object)
    out = {
        "export_id": np.arange(1, rows + 1, dtype=np.int64),
        "survey": _take(head["survey"], order),
        "survey_version": head["survey_version"].to_numpy()[order],
        "service_area": _categorical(area_codes[survey.codes.to_numpy()][order], area_names),
        "commune_code": _take(head["commune_code"], order),
        "commune_name": _take(head["commune_name"], order),
        "mode": _take(head["mode"], order),
        "channel": _take(head["channel"], order),
        "module": _take(head["module"], order),
        "lang": _take(head["lang"], order),
        "submitted_date": day_dates[days[order]],
        "flags": _take(head["flags"], order),
    }
    out.update(_answer_columns(answers, rows, columns, order))
    if progress is not None:
        progress(2 * rows // 3, rows)
    _, value_labels, variable = _stata_coding(columns)
    variable_labels = {**RESPONSE_LABELS, **variable}
    return ResponseExport(
        responses=pd.DataFrame(out, copy=False),
        codebook=codebook_frame(),
        value_labels=value_labels,
        variable_labels=variable_labels,
        excluded=excluded,
        numeric=_numeric_columns(columns),
        date_from=date_from,
        date_to=date_to,
    )


def _take(column: pd.Series, order: np.ndarray) -> pd.Categorical:
    """A categorical column's rows in ``order``, still categorical (codes moved, labels untouched)."""
    return _categorical(column.cat.codes.to_numpy()[order], column.cat.categories)


def _answer_columns(
    answers: pd.DataFrame, rows: int, columns: list[str], order: np.ndarray
) -> dict[str, pd.Categorical]:
    """Per question column, a categorical over the output rows (row i is head row ``order[i]``).

    ``answers`` codes give each value's row (``response_id``) and column (``question_id``), so
    one scatter into a (column × row) grid of value codes places every single value; cells
    with several values (multiple choice: ``position`` > 0 somewhere in the cell) are the
    only ones grouped, their values joined with ``;`` in position order and coded as extra
    categories. Each column keeps only the categories it uses, in the survey's option order.
    """
    row = answers["response_id"].cat.codes.to_numpy(dtype=np.int64)
    col = answers["question_id"].cat.codes.to_numpy(dtype=np.int64)
    values = answers["value"].cat.categories.astype(object).to_numpy()
    code = answers["value"].cat.codes.to_numpy(dtype=np.int64)
    position = answers["position"].to_numpy()
    width = len(columns)
    cell = row * width + col
    several = position > 0
    multi = np.isin(cell, cell[several]) if several.any() else np.zeros(len(cell), dtype=bool)
    grid = np.full((width, rows), -1, dtype=np.int32)
    single = ~multi
    grid[col[single], row[single]] = code[single]
    labels = values
    if multi.any():
        joined = (
            pd.DataFrame({"cell": cell[multi], "position": position[multi], "value": values[code[multi]]})
            .sort_values(["cell", "position"], kind="stable")
            .groupby("cell", sort=False)["value"]
            .agg(";".join)
        )
        combos, combo_labels = pd.factorize(joined.to_numpy(dtype=object))
        cells = joined.index.to_numpy()
        grid[cells % width, cells // width] = len(values) + combos
        labels = np.concatenate([values, np.asarray(combo_labels, dtype=object)])
    grid = grid[:, order]
    option_order = _option_order(columns)
    out = {}
    for j, name in enumerate(columns):
        codes = grid[j]
        used = np.flatnonzero(np.bincount(codes + 1, minlength=len(labels) + 1)[1:])
        known = option_order[name]
        # Option values in the survey's order first, then any other value (joined choices) by text.
        used = sorted(used, key=lambda k: (0, known[labels[k]]) if labels[k] in known else (1, labels[k]))
        remap = np.full(len(labels) + 1, -1, dtype=np.int32)  # index -1 (no answer) stays -1
        remap[used] = np.arange(len(used))
        out[name] = _categorical(remap[codes], pd.Index(labels[used] if used else [], dtype=object))
    return out


def _stata_responses(export: ResponseExport) -> tuple[pd.DataFrame, dict[str, dict[int, str]]]:
    """Choice answers and the channel as labelled integer codes (1, 2, … in option order), others as text."""
    order, labels, _ = _stata_coding(list(export.responses.columns))
    order, labels = {"channel": list(CHANNELS), **order}, {"channel": _channel_value_labels(), **labels}
    frame = export.responses.copy()
    frame["submitted_date"] = pd.to_datetime(frame["submitted_date"])
    for column, values in order.items():
        coded = frame[column].astype(object).map({v: i + 1 for i, v in enumerate(values)})
        frame[column] = coded.astype("float64")
    return frame, {c: labels[c] for c in order if c in labels}


def _channel_value_labels() -> dict[int, str]:
    """The channel codes 1, 2, … (``models.CHANNELS`` order) with their names, as Stata labels them."""
    names = channel_names()
    return {i: f"{c}: {names[c][0]} / {names[c][1]}" for i, c in enumerate(CHANNELS, start=1)}


def response_column_labels(export: ResponseExport) -> dict[str, tuple[str, str]]:
    """(Vietnamese, English) label of every column of the response table."""
    vi: dict[str, str] = {}
    for survey in sorted(catalog().all_versions(), key=lambda s: (s.slug, s.version)):
        for q in survey.questions:
            vi.setdefault(q.id, q.label.vi)
    labels = {}
    for column in export.responses.columns:
        if column in RESPONSE_LABELS:
            labels[column] = (RESPONSE_LABELS_VI[column], RESPONSE_LABELS[column])
        else:
            labels[column] = (vi.get(column, ""), export.variable_labels.get(column, ""))
    return labels


def _readme(export: ResponseExport) -> list[list[Any]]:
    period_vi, period_en = period_text(export.date_from, export.date_to)
    rows: list[list[Any]] = [
        [
            "Phiếu trả lời ẩn danh — chỉ dành cho chuyên viên phân tích",
            "Anonymised responses — for analysts only, not for publication",
        ],
        [],
        ["Thời kỳ / Period", f"{period_vi} / {period_en} (ngày nộp, giờ Việt Nam / submission date, Viet Nam time)"],
        ["Phiếu chất lượng thấp bị loại / Low-quality responses excluded", export.excluded],
        [],
        ["Đọc tệp", "Reading the file"],
        *[list(r) for r in READING_NOTES],
        [],
        ["Cột / Column (responses)", "Ý nghĩa", "Meaning"],
    ]
    rows += [[c, vi, en] for c, (vi, en) in response_column_labels(export).items()]
    rows += [
        [
            "",
            "Câu hỏi lựa chọn: xem các giá trị ở trang codebook.",
            "Choice questions: their values are listed in the codebook sheet.",
        ]
    ]
    rows += [[], ["Cột / Column (codebook)", "Ý nghĩa", "Meaning"]]
    rows += [[c, *CODEBOOK_LABELS[c]] for c in export.codebook.columns]
    return rows


def write_response_file(export: ResponseExport, out: BinaryIO, fmt: str, *, progress: Progress = None) -> None:
    """Write a built response export to ``out`` in ``fmt``; the codebook of CSV and Parquet is
    a separate file (:func:`write_codebook_csv`).

    Raises
    ------
    ValueError
        For an unknown format, or more rows than an XLSX sheet holds.
    """
    if fmt == "csv":
        write_csv(export.responses, out, progress=progress)
    elif fmt == "parquet":
        questions = [c for c in export.responses.columns if c not in RESPONSE_COLUMNS]
        kinds = {c: "integer" if c in export.numeric else "dictionary" for c in questions}
        labels = {c: list(pair) for c, pair in response_column_labels(export).items()}
        write_parquet(
            export.responses,
            out,
            progress=progress,
            kinds=kinds,
            metadata={
                "feedback.excluded_low_quality": str(export.excluded),
                "feedback.period": period_text(export.date_from, export.date_to)[1],
                "feedback.column_labels": json.dumps(labels, ensure_ascii=False),
            },
        )
    elif fmt == "xlsx":
        write_xlsx(
            [("responses", export.responses), ("codebook", export.codebook), ("README", _readme(export))],
            out,
            progress=progress,
        )
    elif fmt == "dta":
        frame, value_labels = _stata_responses(export)
        write_dta(
            frame,
            out,
            labels=export.variable_labels,
            value_labels=value_labels,
            title=f"Anonymised citizen feedback responses, {period_text(export.date_from, export.date_to)[1]}",
            progress=progress,
        )
    else:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(RESPONSE_FORMATS)}")


def write_response_export(
    out: BinaryIO,
    fmt: str,
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    include_flagged: bool = False,
    commune_codes: list[str] | None = None,
    progress: Progress = None,
) -> dict[str, Any]:
    """Build the anonymised response export of a period and write it to ``out``; for the job runner and CLI.

    ``progress(rows_done, rows_total)`` counts responses built, then written (XLSX: also the
    codebook's rows), scaled so that building takes the first :data:`BUILD_SHARE` of the total;
    it is called once the responses are read, after each build step and per written chunk,
    last with done == total. Returns ``{"rows": responses written, "excluded": low-quality
    responses left out}``. The codebook of CSV and Parquet is a separate file: :func:`write_codebook_csv`.

    Raises
    ------
    ValueError
        For an unknown format, a period that ends before it starts, or too many rows for XLSX.
    """
    if fmt not in RESPONSE_FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(RESPONSE_FORMATS)}")
    share = BUILD_SHARE[fmt]
    export = build_response_export(
        date_from,
        date_to,
        include_flagged=include_flagged,
        commune_codes=commune_codes,
        progress=_scaled(progress, 0.0, share),
    )
    write_response_file(export, out, fmt, progress=_scaled(progress, share, 1.0))
    return {"rows": len(export.responses), "excluded": export.excluded}


#: Share of a response export's progress bar that building the table takes (the rest is
#: writing the file), roughly as the time splits at 100 k responses (benchmarks/export_speed.py).
BUILD_SHARE = {"csv": 0.6, "parquet": 0.8, "xlsx": 0.1, "dta": 0.5}


def _scaled(progress: Progress, low: float, high: float) -> Progress:
    """``progress`` told the rows of one stage as the rows between ``low`` and ``high`` shares of the total."""
    if progress is None:
        return None

    def report(done: int, total: int) -> None:
        progress(total if high == 1.0 and done >= total else int(total * low + (high - low) * done), total)

    return report


def write_codebook_csv(out: BinaryIO) -> None:
    """The codebook of the response export (every survey version × question) as UTF-8 CSV."""
    write_csv(codebook_frame(), out)


def response_bytes(export: ResponseExport, fmt: str) -> dict[str, bytes]:
    """The response export in ``fmt``: file suffix -> bytes (CSV and Parquet add ``.codebook.csv``)."""
    main = io.BytesIO()
    write_response_file(export, main, fmt)
    files = {"": main.getvalue()}
    if fmt in CODEBOOK_FORMATS:
        codebook = io.BytesIO()
        write_csv(export.codebook, codebook)
        files[".codebook.csv"] = codebook.getvalue()
    return files


def codebook_csv_path(path: str | Path) -> Path:
    """Where the codebook of a CSV or Parquet export goes: ``<name>.codebook.csv`` next to it."""
    path = Path(path)
    return path.with_name(path.stem + ".codebook.csv")
