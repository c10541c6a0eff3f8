"""Every column of every export is labelled (README sheet, Stata, Parquet, JSON); periods and codes are explained."""

from __future__ import annotations

import io
import json
from datetime import date

import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest

from feedback.exports import (
    CODEBOOK_LABELS,
    RESPONSE_FORMATS,
    SCORE_FORMATS,
    build_response_export,
    build_score_export,
    period_text,
    response_bytes,
    score_bytes,
)
from tests.test_bridge import seed

#: Every kind of score export: (level, public).
SCORE_KINDS = [("commune", False), ("commune", True), ("province", False), ("province", True)]


def _readme_columns(book: openpyxl.Workbook) -> dict[str, tuple]:
    """Column name -> its (Vietnamese, English) description in the README sheet's column tables."""
    described, in_table = {}, False
    for row in book["README"].iter_rows(values_only=True):
        first = row[0] if row else None
        if isinstance(first, str) and first.startswith("Cột / Column"):
            in_table = True
            continue
        if in_table and first is None and not any(row[1:]):
            in_table = False  # an empty row ends a table
            continue
        if in_table and first:
            described[first] = tuple(row[1:3])
    return described


def _readme_text(book: openpyxl.Workbook) -> str:
    return "\n".join(str(v) for row in book["README"].iter_rows(values_only=True) for v in row if v is not None)


def _stata_labels(data: bytes) -> dict[str, str]:
    with pd.io.stata.StataReader(io.BytesIO(data)) as reader:
        return reader.variable_labels()


def _score_exports(app, **period):
    with app.app_context():
        return [build_score_export(level=level, public=public, **period) for level, public in SCORE_KINDS]


def test_every_score_column_is_labelled_in_every_format(app):
    seed(app)
    for export in _score_exports(app):
        columns = list(export.table.columns)
        with app.app_context():
            files = {fmt: score_bytes(export, fmt) for fmt in SCORE_FORMATS}
        readme = _readme_columns(openpyxl.load_workbook(io.BytesIO(files["xlsx"])))
        stata = _stata_labels(files["dta"])
        parquet = json.loads(pq.read_schema(io.BytesIO(files["parquet"])).metadata[b"feedback.column_labels"])
        document = json.loads(files["json"])
        for column in columns:
            where = f"{column} ({export.level}, public={export.public})"
            assert all(readme.get(column, ("", ""))), f"README sheet lacks {where}"
            assert stata.get(column) and len(stata[column]) <= 80, f"Stata lacks a label for {where}"
            assert all(parquet.get(column, ("", ""))), f"Parquet lacks a label for {where}"
            assert all(document["meta"]["column_labels"].get(column, {"": ""}).values()), f"JSON lacks {where}"
        assert stata["se_p"].startswith("Standard error of p")


def test_every_response_column_is_labelled_in_every_format(app):
    seed(app)
    with app.app_context():
        export = build_response_export()
        files = {fmt: response_bytes(export, fmt) for fmt in RESPONSE_FORMATS}
    columns = list(export.responses.columns)
    book = openpyxl.load_workbook(io.BytesIO(files["xlsx"][""]))
    readme = _readme_columns(book)
    stata = _stata_labels(files["dta"][""])
    parquet = json.loads(pq.read_schema(io.BytesIO(files["parquet"][""])).metadata[b"feedback.column_labels"])
    for column in columns:
        assert all(readme.get(column, ("", ""))), f"README sheet lacks {column}"
        assert stata.get(column) and len(stata[column]) <= 80, f"Stata lacks a label for {column}"
        assert all(parquet.get(column, ("", ""))), f"Parquet lacks a label for {column}"
    codebook = pd.read_csv(io.BytesIO(files["csv"][".codebook.csv"]), dtype=str, encoding="utf-8-sig")
    assert set(codebook.columns) == set(CODEBOOK_LABELS)
    for column in codebook.columns:  # the codebook's own columns, in the README sheet
        assert all(readme.get(column, ("", ""))), f"README sheet lacks codebook column {column}"


@pytest.mark.parametrize(
    ("period", "vi", "en"),
    [
        ({}, "tất cả phiếu trả lời", "all responses"),
        ({"date_from": date(2025, 8, 1)}, "từ 2025-08-01 trở đi", "from 2025-08-01 on"),
        ({"date_to": date(2025, 8, 31)}, "đến hết 2025-08-31", "up to 2025-08-31"),
        (
            {"date_from": date(2025, 8, 1), "date_to": date(2025, 8, 31)},
            "2025-08-01 – 2025-08-31",
            "2025-08-01 – 2025-08-31",
        ),
    ],
)
def test_readme_says_the_period_in_words_in_every_format(app, period, vi, en):
    assert period_text(period.get("date_from"), period.get("date_to")) == (vi, en)
    seed(app)
    with app.app_context():
        score = build_score_export(**period)
        response = build_response_export(**period)
        files = {fmt: score_bytes(score, fmt) for fmt in ("xlsx", "json", "dta", "parquet")}
        responses = response_bytes(response, "xlsx")[""]
        response_dta = response_bytes(response, "dta")[""]
    for data in (files["xlsx"], responses):
        text = _readme_text(openpyxl.load_workbook(io.BytesIO(data)))
        assert f"{vi} / {en}" in text and "… – …" not in text
    assert json.loads(files["json"])["meta"]["period"] == en
    assert json.loads(pq.read_schema(io.BytesIO(files["parquet"])).metadata[b"feedback.period"]) == en
    for data in (files["dta"], response_dta):
        with pd.io.stata.StataReader(io.BytesIO(data)) as reader:
            assert en in reader.data_label


def test_readme_explains_that_commune_codes_are_text(app):
    seed(app)
    with app.app_context():
        books = [score_bytes(build_score_export(), "xlsx"), response_bytes(build_response_export(), "xlsx")[""]]
    for data in books:
        text = _readme_text(openpyxl.load_workbook(io.BytesIO(data)))
        assert "leading zeros" in text and 'dtype={"commune_code": str}' in text and "số 0 ở đầu" in text
