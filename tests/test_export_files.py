"""write_score_export / write_response_export: every format reads back to exactly the rows written."""

from __future__ import annotations

import io
import uuid
from datetime import date, datetime

import pandas as pd
import pyarrow.parquet as pq
import pytest

from feedback.exports import (
    RESPONSE_FORMATS,
    build_response_export,
    response_bytes,
    write_response_export,
)
from feedback.extensions import db
from feedback.models import Answer, Response
from tests.test_bridge import OTHER, OWN

#: The known responses: (commune, submitted UTC, flags, {question: value or [values by position]}).
KNOWN = [
    (OWN, datetime(2025, 8, 1, 3), "", {"wait_time": "lt15", "overall": "4", "sex": "female", "comment": "Tên tôi"}),
    (OWN, datetime(2025, 8, 1, 18), "clock", {"wait_time": ["gt60", "lt15"], "age_band": "60+"}),  # 2 Aug local
    (OTHER, datetime(2025, 8, 3, 3), "", {"informal_payment": "no", "ethnic_group": "hmong"}),
    (OTHER, datetime(2025, 8, 3, 4), "too_fast", {"wait_time": "15-30"}),  # low quality: left out
]
EXPECTED = pd.DataFrame(
    {
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
    }
)


def _store_known(app) -> None:
    with app.app_context():
        for commune, submitted, flags, answers in KNOWN:
            response = Response(
                id=uuid.uuid4(),
                survey="health",
                survey_version=1,
                commune_code=commune,
                lang="vi",
                mode="web",
                submitted_at=submitted,
                received_at=submitted,
                content_hash="0" * 64,
                flags=flags,
            )
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
    if fmt == "parquet":  # ratings are integers: read them as nullable integers, 4 not 4.0
        return pd.read_parquet(io.BytesIO(data), dtype_backend="numpy_nullable")
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
    table = pd.read_parquet(io.BytesIO(out.getvalue()))
    assert set(table["commune_code"]) == {OWN, OTHER} and OTHER.startswith("0")  # the leading zero is kept
    assert pq.read_metadata(io.BytesIO(out.getvalue())).metadata[b"feedback.excluded_low_quality"] == b"1"


def test_parquet_ratings_are_numbers_and_choices_dictionaries(app):
    _store_known(app)
    out = io.BytesIO()
    with app.app_context():
        write_response_export(out, "parquet")
    schema = pq.read_schema(io.BytesIO(out.getvalue()))
    assert str(schema.field("overall").type) == "int64"  # a rating in every survey
    for column in ("wait_time", "sex", "informal_payment", "trips"):  # labelled choices, "trips": "1", "2", "3+"
        assert str(schema.field(column).type) == "dictionary<values=string, indices=int32, ordered=0>", column
    table = pd.read_parquet(io.BytesIO(out.getvalue()))
    by_date = table.sort_values("submitted_date", ignore_index=True)
    assert by_date["overall"].iloc[0] == 4 and by_date["overall"].iloc[1:].isna().all()
    assert isinstance(table["wait_time"].dtype, pd.CategoricalDtype)
    # Categories: the options used, in the survey's option order, then joined multiple values.
    assert list(table["wait_time"].cat.categories) == ["lt15", "gt60;lt15"]
    assert by_date["wait_time"].astype(object).tolist()[:2] == ["lt15", "gt60;lt15"]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_csv_and_parquet_get_a_codebook_beside_them(app, runner, tmp_path, fmt):
    _store_known(app)
    output = tmp_path / f"responses.{fmt}"
    result = runner.invoke(args=["export-responses", "-o", str(output)])
    assert result.exit_code == 0, result.output
    codebook = pd.read_csv(tmp_path / "responses.codebook.csv", dtype=str, encoding="utf-8-sig")
    assert "overall" in set(codebook["column"]) and "responses.codebook.csv" in result.output
    with app.app_context():
        files = response_bytes(build_response_export(), fmt)
    assert set(files) == {"", ".codebook.csv"}


def test_xlsx_and_stata_carry_their_codebook_inside(app, runner, tmp_path):
    _store_known(app)
    result = runner.invoke(args=["export-responses", "-o", str(tmp_path / "responses.xlsx")])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "responses.codebook.csv").exists()


@pytest.mark.parametrize("fmt", RESPONSE_FORMATS)
def test_response_export_progress_rises_before_the_file_is_written(app, fmt):
    for _ in range(20):
        _store_known(app)  # 60 kept rows: enough for whole-row steps in every stage
    calls, sizes = [], []
    out = io.BytesIO()

    def progress(done, total):
        calls.append((done, total))
        sizes.append(out.tell())

    with app.app_context():
        write_response_export(out, fmt, progress=progress)
    assert calls[0] == (0, 60)  # the row count is known once the responses are read
    assert calls[-1][0] == calls[-1][1] and out.tell() > 0
    dones = [done for done, _ in calls]
    assert dones == sorted(dones) and all(done <= total for done, total in calls)
    # Before a byte of the file is written, the bar already moves (building the table).
    assert any(0 < done < total and size == 0 for (done, total), size in zip(calls, sizes, strict=False))
    assert len(set(dones)) >= 3
