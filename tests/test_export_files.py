"""write_score_export / write_response_export: every format reads back to exactly the rows written."""

from __future__ import annotations

import io
import json
import uuid
from datetime import date, datetime

import numpy as np
import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest

from feedback.exports import (
    MIMETYPES, RESPONSE_FORMATS, SCORE_FORMATS, build_score_export, write_codebook_csv, write_response_export,
    write_score_export,
)
from feedback.exports.writers import CHUNK_ROWS, write_csv, write_xlsx
from feedback.extensions import db
from feedback.models import Answer, Response
from tests.test_bridge import OTHER, OWN, seed

#: The known responses: (commune, submitted UTC, flags, {question: value or [values by position]}).
KNOWN = [
    (OWN, datetime(2025, 8, 1, 3), "", {"wait_time": "lt15", "overall": "4", "sex": "female", "comment": "Tên tôi"}),
    (OWN, datetime(2025, 8, 1, 18), "clock", {"wait_time": ["gt60", "lt15"], "age_band": "60+"}),  # 2 Aug local
    (OTHER, datetime(2025, 8, 3, 3), "", {"informal_payment": "no", "ethnic_group": "hmong"}),
    (OTHER, datetime(2025, 8, 3, 4), "too_fast", {"wait_time": "15-30"}),  # low quality: left out
]
EXPECTED = pd.DataFrame({
    "commune_code": [OWN, OWN, OTHER],
    "commune_name": ["Xã Khao Mang", "Xã Khao Mang", "Phường Lào Cai"],
    "submitted_date": [date(2025, 8, 1), date(2025, 8, 2), date(2025, 8, 3)],
    "flags": ["", "clock", ""],
    "wait_time": ["lt15", "gt60;lt15", None],
    "overall": ["4", None, None],
    "informal_payment": [None, None, "no"],
    "sex": ["female", None, None],
    "age_band": [None, "60+", None],
    "ethnic_group": [None, None, "hmong"],
})


def _store_known(app) -> None:
    with app.app_context():
        for commune, submitted, flags, answers in KNOWN:
            response = Response(id=uuid.uuid4(), survey="health", survey_version=1, commune_code=commune, lang="vi",
                                mode="web", submitted_at=submitted, received_at=submitted, content_hash="0" * 64,
                                flags=flags)
            for qid, value in answers.items():
                for position, v in enumerate(value if isinstance(value, list) else [value]):
                    response.answers.append(Answer(question_id=qid, position=position, value=v))
            db.session.add(response)
        db.session.commit()


def _read_responses(data: bytes, fmt: str) -> pd.DataFrame:
    if fmt == "csv":
        return pd.read_csv(io.BytesIO(data), dtype=str, encoding="utf-8-sig", keep_default_na=False)
    if fmt == "xlsx":
        return pd.read_excel(io.BytesIO(data), sheet_name="responses", dtype=object)
    if fmt == "parquet":
        return pd.read_parquet(io.BytesIO(data))
    return pd.read_stata(io.BytesIO(data))


def _normalise(table: pd.DataFrame) -> pd.DataFrame:
    """The known columns as plain text ("" for missing), dates as ISO text, sorted by date."""
    out = pd.DataFrame({c: table[c] for c in EXPECTED.columns})
    out["submitted_date"] = pd.to_datetime(out["submitted_date"]).dt.strftime("%Y-%m-%d")
    out = out.astype(object).where(out.notna(), "").astype(str)
    return out.sort_values("submitted_date", ignore_index=True)


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet"])
def test_response_export_round_trips_exactly(app, fmt):
    _store_known(app)
    out, calls = io.BytesIO(), []
    with app.app_context():
        meta = write_response_export(out, fmt, progress=lambda done, total: calls.append((done, total)))
    assert meta == {"rows": 3, "excluded": 1}
    table = _read_responses(out.getvalue(), fmt)
    assert len(table) == 3 and sorted(table["export_id"].astype(int)) == [1, 2, 3]
    expected = _normalise(EXPECTED.assign(submitted_date=pd.to_datetime(EXPECTED["submitted_date"])))
    pd.testing.assert_frame_equal(_normalise(table), expected)
    assert "comment" not in table.columns  # free text is never exported
    assert calls and calls[-1][0] == calls[-1][1]  # last call: done == total
    assert all(done <= total for done, total in calls)


def test_parquet_types_keep_codes_as_text(app):
    _store_known(app)
    out = io.BytesIO()
    with app.app_context():
        write_response_export(out, "parquet")
    schema = pq.read_schema(io.BytesIO(out.getvalue()))
    assert str(schema.field("commune_code").type) == "string"
    assert str(schema.field("export_id").type) == "int64"
    assert str(schema.field("submitted_date").type) == "date32[day]"
    assert str(schema.field("wait_time").type) == "string"
    table = pd.read_parquet(io.BytesIO(out.getvalue()))
    assert set(table["commune_code"]) == {OWN, OTHER} and OTHER.startswith("0")  # the leading zero is kept
    assert pq.read_metadata(io.BytesIO(out.getvalue())).metadata[b"feedback.excluded_low_quality"] == b"1"


def test_csv_codebook_is_a_separate_file(app):
    out = io.BytesIO()
    with app.app_context():
        write_codebook_csv(out)
    codebook = pd.read_csv(io.BytesIO(out.getvalue()), dtype=str, encoding="utf-8-sig")
    assert out.getvalue().startswith(b"\xef\xbb\xbf")
    assert {"survey", "question_id", "value_labels", "score_map"} <= set(codebook.columns)


@pytest.mark.parametrize("fmt", SCORE_FORMATS)
def test_score_export_files_hold_the_built_table(app, fmt):
    seed(app)
    out, calls = io.BytesIO(), []
    with app.app_context():
        expected = build_score_export().table
        meta = write_score_export(out, fmt, progress=lambda done, total: calls.append((done, total)))
    assert meta["rows"] == len(expected) == 99 * 37 and meta["excluded_low_quality"] == 1
    assert calls[-1] == (len(expected), len(expected))
    data = out.getvalue()
    if fmt == "csv":
        got = pd.read_csv(io.BytesIO(data), dtype={"commune_code": str, "code": str}, encoding="utf-8-sig",
                          keep_default_na=False, na_values=[""])
    elif fmt == "xlsx":
        got = pd.read_excel(io.BytesIO(data), sheet_name="scores", dtype={"commune_code": str, "code": str})
    elif fmt == "json":
        got = pd.DataFrame(json.loads(data)["rows"])
    elif fmt == "parquet":
        got = pd.read_parquet(io.BytesIO(data))
    else:
        got = pd.read_stata(io.BytesIO(data))
    assert list(got.columns) == list(expected.columns)
    for column in ("p", "score", "ci_low", "score_eb", "rank"):
        np.testing.assert_allclose(pd.to_numeric(got[column]).to_numpy(dtype=float),
                                   pd.to_numeric(expected[column]).to_numpy(dtype=float), rtol=1e-9, equal_nan=True)
    assert got["commune_code"].astype(str).tolist() == expected["commune_code"].tolist()
    assert got["flags"].fillna("").astype(str).tolist() == expected["flags"].fillna("").tolist()


def test_formats_and_mimetypes():
    assert SCORE_FORMATS == ("csv", "xlsx", "json", "dta", "parquet")
    assert RESPONSE_FORMATS == ("csv", "xlsx", "dta", "parquet")
    assert set(MIMETYPES) == set(SCORE_FORMATS) | set(RESPONSE_FORMATS)
    with pytest.raises(ValueError, match="unknown format"):
        write_score_export(io.BytesIO(), "pdf")
    with pytest.raises(ValueError, match="unknown format"):
        write_response_export(io.BytesIO(), "json")


def test_writers_stream_in_chunks_and_report_bounded_progress():
    rows = 2 * CHUNK_ROWS + 7
    table = pd.DataFrame({"code": [f"{i:05d}" for i in range(rows)], "x": np.arange(rows) / 3,
                          "text": pd.Series(["=1+1", None] * (rows // 2) + ["a"], dtype=object)})
    for write in (write_csv, lambda t, out, progress: write_xlsx([("s", t)], out, progress=progress)):
        out, calls = io.BytesIO(), []
        write(table, out, progress=lambda done, total: calls.append((done, total)))
        assert calls[-1] == (rows, rows) and len(calls) <= rows // CHUNK_ROWS + 2
        assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    book = openpyxl.load_workbook(out, read_only=True)
    values = [r for r in book["s"].iter_rows(values_only=True)]
    assert len(values) == rows + 1 and values[1] == ("00000", 0.0, "=1+1")  # text stays text, never a formula
    assert values[2] == ("00001", pytest.approx(1 / 3), None) and values[-1][2] == "a"


def test_xlsx_rejects_more_rows_than_a_sheet_holds(monkeypatch):
    from feedback.exports import writers

    monkeypatch.setattr(writers, "XLSX_MAX_ROWS", 3)
    with pytest.raises(ValueError, match="at most 3 rows"):
        write_xlsx([("s", pd.DataFrame({"a": range(4)}))], io.BytesIO())
