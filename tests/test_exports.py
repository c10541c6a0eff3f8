"""export-scores, export-responses and import-margins: formats read back, contract columns, suppression."""

from __future__ import annotations

import io
import json
import re
import uuid

import numpy as np
import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa

import analysis
from feedback.exports import (
    COLUMN_LABELS,
    CONTRACT_COLUMNS,
    FLAG_MEANINGS,
    FLAG_SUFFIX_MEANINGS,
    build_score_export,
    flag_meaning,
    score_records,
    suppress_small_cells,
)
from feedback.exports.scores import _readme_rows
from feedback.extensions import db
from feedback.models import AuditEvent, PopulationMargin
from tests.test_bridge import COMMUNES, OTHER, OWN, WARDS, seed, seed_every_subdimension


def _scores(runner, tmp_path, fmt: str, *args: str):
    out = tmp_path / f"scores.{fmt}"
    result = runner.invoke(args=["export-scores", "--format", fmt, "-o", str(out), *args])
    assert result.exit_code == 0, result.output
    return out, result.output


def _read(path, fmt: str) -> pd.DataFrame:
    if fmt == "csv":
        return pd.read_csv(
            path, dtype={"commune_code": str, "code": str}, encoding="utf-8-sig", keep_default_na=False, na_values=[""]
        )
    if fmt == "xlsx":
        return pd.read_excel(path, sheet_name="scores", dtype={"commune_code": str, "code": str})
    if fmt == "json":
        return pd.DataFrame(json.loads(path.read_text(encoding="utf-8"))["rows"])
    return pd.read_stata(path)


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json", "dta"])
def test_export_scores_formats_have_contract_columns(app, runner, tmp_path, fmt):
    ids = seed(app)
    path, output = _scores(runner, tmp_path, fmt)
    assert "1 low-quality responses excluded" in output
    table = _read(path, fmt)
    assert list(table.columns[: len(CONTRACT_COLUMNS)]) == list(CONTRACT_COLUMNS)
    assert len(table) == 99 * 37  # every commune of Lào Cai × 29 sub-dimensions, 8 dimensions, total
    row = table[(table["commune_code"] == OWN) & (table["code"] == "6.1")].iloc[0]
    assert row["level"] == "subdimension" and row["commune_name"] == "Xã Khao Mang"
    # The flagged response (both 6.1 items 0) is left out: n counts the good ones only.
    assert row["n"] == len(ids["own"])
    # Per respondent mean of (wait, overall): alternately (0 + .75)/2 and (1 + .75)/2; equal weights.
    assert row["p"] == pytest.approx(np.mean([0.375, 0.875] * (len(ids["own"]) // 2)))
    assert "unweighted" in row["flags"] and "unreliable:n_eff" in row["flags"]
    # Direct estimate with its Korn–Graubard interval; small-area estimate, its interval and rank.
    assert row["ci_low"] < row["score"] < row["ci_high"]
    assert row["se"] == pytest.approx(9 / 4 * row["se_p"])  # dimension 6 has k = 4 sub-dimensions
    assert 0 < row["p_eb"] < 1 and row["mse_eb"] > 0
    assert row["ci_low_eb"] < row["score_eb"] < row["ci_high_eb"]
    assert row["se_eb"] == pytest.approx(9 / 4 * np.sqrt(row["mse_eb"]))
    assert 1 <= row["rank_low"] <= row["rank"] <= row["rank_high"] <= 2  # two communes with answers
    assert row["group"] in {"highest", "lowest"}
    assert set(table["level"]) == {"subdimension", "dimension", "aggregate"}
    assert "total" in set(table["code"].astype(str))


#: The score export's columns as issue #11 names them (outside checks read these names).
ISSUE_11_COLUMNS = (
    "commune_code",
    "commune_name",
    "level",
    "code",
    "n",
    "n_eff",
    "p",
    "se",
    "score",
    "ci_low",
    "ci_high",
    "se_p",
    "p_eb",
    "mse_eb",
    "score_eb",
    "se_eb",
    "ci_low_eb",
    "ci_high_eb",
    "rank",
    "rank_low",
    "rank_high",
    "group",
    "flags",
)


def test_csv_export_has_every_contract_column(app, runner, tmp_path):
    seed_every_subdimension(app)
    path, _ = _scores(runner, tmp_path, "csv")
    table = _read(path, "csv")
    assert set(ISSUE_11_COLUMNS) <= set(table.columns) and set(CONTRACT_COLUMNS) == set(ISSUE_11_COLUMNS)
    assert set(analysis.COLUMNS) - {"commune"} <= set(table.columns)
    answered = table[table["commune_code"].isin([*WARDS, *COMMUNES])]
    # Every commune with answers is ranked on every code, with a rank interval; the others are not.
    assert answered[["score_eb", "ci_low_eb", "ci_high_eb", "rank", "rank_low", "rank_high"]].notna().all().all()
    assert (answered["rank_low"] <= answered["rank"]).all() and (answered["rank"] <= answered["rank_high"]).all()
    assert table.loc[~table.index.isin(answered.index), "rank"].isna().all()
    subs = answered[answered["level"] == "subdimension"]
    assert subs[["se_p", "p_eb", "mse_eb"]].notna().all().all()
    assert (subs["ci_high"] > subs["ci_low"]).all()  # no zero-width interval, even for answers all alike


def test_flags_are_only_the_documented_codes(app, runner, tmp_path):
    from analysis.scoring import RAKING_VARIABLES, UNRELIABLE_REASONS

    seed(app, own=20, other=3)
    seed_every_subdimension(app, {"02680": 0.3, "02683": 0.5}, n=2)  # one respondent per sub-dimension or so
    path = tmp_path / "margins.csv"
    path.write_text(MARGINS, encoding="utf-8")
    assert runner.invoke(args=["import-margins", str(path)]).exit_code == 0
    assert set(analysis.FLAGS) <= set(FLAG_MEANINGS)  # every code analysis writes is explained
    for base, variables in (
        ("collapsed", RAKING_VARIABLES),
        ("not_raked", RAKING_VARIABLES),
        ("unreliable", UNRELIABLE_REASONS),
    ):
        assert set(variables) <= set(FLAG_SUFFIX_MEANINGS[base]), base
    for public in ((), ("--public",)):
        table = _read(_scores(runner, tmp_path, "csv", *public)[0], "csv")
        flags = {f for cell in table["flags"].dropna() for f in cell.split(";")}
        assert flags, "the data should raise some flags"
        for flag in flags:
            base, _, suffix = flag.partition(":")
            assert base in (*analysis.FLAGS, "suppressed"), flag
            assert not suffix or suffix in FLAG_SUFFIX_MEANINGS[base] or re.fullmatch(r"\d+/\d+", suffix), flag
            assert flag_meaning(flag, "vi") != flag and flag_meaning(flag, "en") != flag
    assert {"unweighted", "not_raked:age_band", "unreliable:n_eff", "synthetic", "suppressed"} <= flags
    assert any(f.startswith("synthetic:") for f in flags)
    assert not flags & {"insufficient", "capped", "nonconvergent", "collapsed"}


def test_xlsx_readme_sheet(app, runner, tmp_path):
    seed(app)
    path, _ = _scores(runner, tmp_path, "xlsx", "--from", "2025-08-01", "--to", "2025-08-31")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["scores", "README"]
    text = "\n".join(str(c.value) for row in book["README"].iter_rows() for c in row if c.value is not None)
    assert "not official" in text and "2025-08-01 – 2025-08-31" in text
    readme = {row[0].value: row[1].value for row in book["README"].iter_rows() if row[0].value}
    assert readme["Phiếu chất lượng thấp bị loại / Low-quality responses excluded"] == 1
    sheet = {row[0].value: [c.value for c in row[1:]] for row in book["README"].iter_rows() if row[0].value}
    scores = pd.read_excel(path, sheet_name="scores")
    for column in scores.columns:  # every column, in both languages
        assert column in sheet and all(sheet[column][:2]), column
    for flag in (
        *FLAG_MEANINGS,
        "collapsed:ethnic_group",
        "not_raked:sex",
        "unreliable:n_eff",
        "unreliable:width",
        "unreliable:relative_width",
        "unreliable:df",
        "synthetic:k/K",
    ):
        assert flag in sheet and all(sheet[flag][:2]), flag
    assert "insufficient" not in sheet and "capped" not in sheet
    for reference in (
        "Korn",
        "Graubard",
        "Parker",
        "Vital and Health Statistics 2(175)",
        "Fay",
        "Herriot",
        "Datta",
        "Lahiri",
        "Lumley",
        "survey",
    ):
        assert reference in text, reference


def test_dta_has_variable_labels(app, runner, tmp_path):
    seed(app)
    path, _ = _scores(runner, tmp_path, "dta")
    with pd.io.stata.StataReader(path) as reader:
        labels = reader.variable_labels()
    assert labels["n_eff"].startswith("Kish effective sample size")
    assert labels["score"].startswith("Direct PAPI-scale score")
    assert labels["ci_low_eb"] == "Empirical-Bayes score, 95% interval low"
    assert labels["rank_high"] == "95% rank interval: worst plausible rank"
    assert set(labels) == set(CONTRACT_COLUMNS) and all(labels.values())  # every column labelled
    province, _ = _scores(runner, tmp_path, "dta", "--level", "province")
    with pd.io.stata.StataReader(province) as reader:
        assert all(reader.variable_labels().values())


def test_column_labels_fit_stata():
    assert set(CONTRACT_COLUMNS) | {"n_communes", "baseline_2018", "target_2019", "official", "gap_to_target"} <= set(
        COLUMN_LABELS
    )
    assert all(len(en) <= 80 for _, en in COLUMN_LABELS.values())  # Stata cuts labels at 80 characters


def test_json_meta_counts_exclusions(app, runner, tmp_path):
    seed(app, flagged=2)
    path, _ = _scores(runner, tmp_path, "json", "--structure", "2018")
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["meta"]["excluded_low_quality"] == 2
    assert document["meta"]["structure"] == "2018"
    assert "5.2" in {r["code"] for r in document["rows"]}


def test_province_level_against_targets(app, runner, tmp_path):
    seed(app)
    path, _ = _scores(runner, tmp_path, "csv", "--level", "province")
    table = _read(path, "csv")
    assert list(table.columns[: len(CONTRACT_COLUMNS)]) == list(CONTRACT_COLUMNS)
    assert {"target_2019", "baseline_2018", "official", "n_communes"} <= set(table.columns)
    # The roll-up is direct: no small-area estimates or ranks for the province itself.
    assert (
        table[["p_eb", "mse_eb", "score_eb", "se_eb", "ci_low_eb", "ci_high_eb", "rank", "rank_low", "rank_high"]]
        .isna()
        .all()
        .all()
    )
    total = table[table["code"] == "total"].iloc[0]
    assert total["target_2019"] == pytest.approx(46.96) and total["baseline_2018"] == pytest.approx(44.37)
    sub = table[table["code"] == "6.1"].iloc[0]
    assert sub["n"] == 8 + 3 and sub["n_communes"] == 2
    assert sub["se_p"] == pytest.approx(sub["se"] * 4 / 9)


def test_province_exports_say_the_year_of_the_official_score(app, runner, tmp_path):
    """The official figure is of the data file's latest year, not of plan 170's 2019: every label says so."""
    seed(app)
    official = tmp_path / "official.csv"
    official.write_text("year,code,level,score\n2022,total,aggregate,40.40\n", encoding="utf-8")
    app.config["PAPI_OFFICIAL_CSV"] = str(official)
    with app.app_context():
        export = build_score_export(level="province")
        labels = score_records(export)["meta"]["column_labels"]["official"]
        assert labels == {
            "vi": "Điểm PAPI chính thức của tỉnh, năm 2022",
            "en": "Official PAPI score of the province, 2022",
        }
        readme = [row for row in _readme_rows(export) if row and row[0] == "official"]
        assert readme == [["official", labels["vi"], labels["en"]]]


def test_public_export_suppresses_small_cells(app, runner, tmp_path):
    seed(app, own=8, other=3)
    path, _ = _scores(runner, tmp_path, "csv", "--public")
    table = _read(path, "csv")
    small = table[(table["commune_code"] == OTHER) & (table["code"] == "6.1")].iloc[0]
    assert small["n"] == 3 and "suppressed" in small["flags"]
    estimates = [
        c for c in CONTRACT_COLUMNS if c not in ("commune_code", "commune_name", "level", "code", "n", "flags")
    ]
    assert small[estimates].isna().all(), small[estimates][small[estimates].notna()]
    dim = table[(table["commune_code"] == OTHER) & (table["code"] == "6")].iloc[0]
    assert "suppressed" in dim["flags"] and dim[estimates].isna().all()
    big = table[(table["commune_code"] == OWN) & (table["code"] == "6.1")].iloc[0]
    assert big["score"] > 0 and "suppressed" not in big["flags"] and big[["rank_low", "ci_low_eb"]].notna().all()


def test_suppress_small_cells_blanks_parts_and_their_sums():
    table = pd.DataFrame(
        {
            "commune_code": ["1", "1", "1", "1", "2", "2"],
            "commune_name": "x",
            "level": ["subdimension", "subdimension", "dimension", "aggregate", "subdimension", "dimension"],
            "code": ["6.1", "6.2", "6", "total", "6.1", "6"],
            "n": pd.array([4, 10, pd.NA, pd.NA, 5, pd.NA], dtype="Int64"),
            "score": [1.0, 2.0, 3.0, 40.0, 1.5, 3.5],
            "group": ["", "high-average", "", "", "lowest", "lowest"],
            "flags": ["unreliable:n_eff", "", "", "", "", ""],
        }
    )
    out = suppress_small_cells(table)
    assert out["score"].isna().tolist() == [True, False, True, True, False, False]
    assert out.loc[0, "flags"] == "unreliable:n_eff;suppressed" and out.loc[3, "flags"] == "suppressed"
    assert out.loc[0, "n"] == 4  # the count stays: it says why the value is hidden
    assert out.attrs["suppressed"] == 3
    assert table["score"].notna().all()  # the input is not changed


def test_export_responses_csv_with_codebook(app, runner, tmp_path):
    ids = seed(app)
    out = tmp_path / "responses.csv"
    result = runner.invoke(args=["export-responses", "-o", str(out)])
    assert result.exit_code == 0, result.output
    raw = out.read_bytes()
    for rid in ids["own"] + ids["other"]:
        assert uuid.UUID(rid).hex.encode() not in raw and rid.encode() not in raw
    assert b"0912345678" not in raw  # free text is not exported
    table = pd.read_csv(out, dtype=str, encoding="utf-8-sig")
    assert len(table) == len(ids["own"]) + len(ids["other"])  # flagged left out
    assert sorted(table["export_id"].astype(int)) == list(range(1, len(table) + 1))
    assert {"wait_time", "overall", "sex", "age_band", "ethnic_group"} <= set(table.columns)
    assert not {"device_hash", "network_hash", "content_hash", "id", "comment"} & set(table.columns)
    codebook = pd.read_csv(tmp_path / "responses.codebook.csv", dtype=str, encoding="utf-8-sig")
    wait = codebook[(codebook["survey"] == "health") & (codebook["question_id"] == "wait_time")].iloc[0]
    assert wait["subdimension"] == "6.1" and "lt15 = 1" in wait["score_map"]
    assert "Dưới 15 phút" in wait["value_labels"] and wait["label_en"].startswith("How long")
    assert "1 low-quality responses excluded" in result.output


def test_export_responses_xlsx_and_dta(app, runner, tmp_path):
    seed(app)
    xlsx, dta = tmp_path / "r.xlsx", tmp_path / "r.dta"
    assert runner.invoke(args=["export-responses", "--include-flagged", "-o", str(xlsx)]).exit_code == 0
    assert runner.invoke(args=["export-responses", "--format", "dta", "-o", str(dta)]).exit_code == 0
    book = openpyxl.load_workbook(xlsx)
    assert book.sheetnames == ["responses", "codebook", "README"]
    assert book["responses"].max_row == 1 + 8 + 3 + 1
    frame = pd.read_stata(dta)
    assert set(frame["wait_time"].dropna()) <= {
        "lt15: Dưới 15 phút / Under 15 minutes",
        "gt60: Trên 1 giờ / Over an hour",
        "15-30: 15–30 phút / 15–30 minutes",
    }
    with pd.io.stata.StataReader(dta) as reader:
        assert reader.variable_labels()["wait_time"] == "How long did you wait to be seen?"


def test_exports_are_audited(app, runner, tmp_path):
    seed(app)
    _scores(runner, tmp_path, "csv")
    runner.invoke(args=["export-responses", "-o", str(tmp_path / "r.csv")])
    with app.app_context():
        targets = db.session.scalars(sa.select(AuditEvent.target).where(AuditEvent.action == "data_exported")).all()
    assert sorted(targets) == ["responses csv", "scores commune csv"]


MARGINS = (
    "commune_code,variable,category,population\n"
    + "\n".join(
        f"{OWN},{v},{c},{p}"
        for v, c, p in [
            ("sex", "female", 600),
            ("sex", "male", 400),
            ("age_band", "18-29", 250),
            ("age_band", "30-44", 250),
            ("age_band", "45-59", 250),
            ("age_band", "60+", 250),
            ("ethnic_group", "kinh", 300),
            ("ethnic_group", "hmong", 700),
        ]
    )
    + "\n"
)


def test_import_margins_is_idempotent_and_weights(app, runner, tmp_path):
    seed(app, own=20)  # enough respondents per category for sex and ethnic group to be raked
    path = tmp_path / "margins.csv"
    path.write_text(MARGINS, encoding="utf-8")
    first = runner.invoke(args=["import-margins", str(path)])
    assert first.exit_code == 0 and "8 margins added, 0 updated" in first.output
    again = runner.invoke(args=["import-margins", str(path)])
    assert "0 margins added, 0 updated, 8 unchanged" in again.output
    path.write_text(MARGINS.replace("female,600", "female,610"), encoding="utf-8")
    assert "0 margins added, 1 updated, 7 unchanged" in runner.invoke(args=["import-margins", str(path)]).output
    out, _ = _scores(runner, tmp_path, "csv")
    row = _read(out, "csv").query("commune_code == @OWN and code == '6.1'").iloc[0]
    assert "unweighted" not in row["flags"] and row["n_eff"] < row["n"]
    assert "not_raked:age_band" in row["flags"]  # everyone is 30–44: one category left


def test_import_margins_reports_bad_lines(app, runner, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "commune_code,variable,category,population\n"
        f"{OWN},sex,female,10\n"
        "99999,sex,male,10\n"
        f"{OWN},religion,none,10\n"
        f"{OWN},ethnic_group,martian,10\n"
        f"{OWN},age_band,18-29,-3\n"
        f"{OWN},sex,female,12\n",
        encoding="utf-8",
    )
    result = runner.invoke(args=["import-margins", str(path)])
    assert result.exit_code == 1
    for expected in (
        "line 3: unknown commune code '99999'",
        "line 4: variable 'religion'",
        "line 5: category 'martian' is not a ethnic_group category",
        "line 6: population '-3'",
        "line 7: repeats line 2",
    ):
        assert expected in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PopulationMargin)) == 0
    header = tmp_path / "header.csv"
    header.write_text("commune,variable,category,population\n", encoding="utf-8")
    assert "lacks column(s) commune_code" in runner.invoke(args=["import-margins", str(header)]).output


def test_demo_margins_file_is_valid(app, runner):
    from pathlib import Path

    demo = Path(__file__).resolve().parent.parent / "docs" / "demo_margins_lao_cai.csv"
    result = runner.invoke(args=["import-margins", str(demo)])
    assert result.exit_code == 0 and "1386 margins added" in result.output
    frame = pd.read_csv(demo, dtype={"commune_code": str})
    totals = frame.groupby(["commune_code", "variable"])["population"].sum().unstack()
    assert len(totals) == 99 and (totals.nunique(axis=1) == 1).all()  # equal totals per commune
    ethnic = frame[frame["variable"] == "ethnic_group"]
    share = 1 - ethnic.loc[ethnic["category"] == "kinh", "population"].sum() / ethnic["population"].sum()
    assert 0.6 < share < 0.75  # about two thirds belong to ethnic minorities


def test_bad_period_is_a_clear_error(app, runner, tmp_path):
    result = runner.invoke(
        args=["export-scores", "--from", "2025-09-01", "--to", "2025-08-01", "-o", str(tmp_path / "x.csv")]
    )
    assert result.exit_code == 1 and "after it ends" in result.output
    assert runner.invoke(args=["export-scores", "--from", "1/8/2025", "-o", str(tmp_path / "x.csv")]).exit_code == 2


def test_writers_return_bytes(app):
    from feedback.exports import build_score_export, score_bytes

    seed(app)
    with app.app_context():
        export = build_score_export()
    assert pd.read_excel(io.BytesIO(score_bytes(export, "xlsx")), sheet_name="scores").shape[0] == 99 * 37
    with pytest.raises(ValueError, match="unknown format"):
        score_bytes(export, "pdf")


def test_small_area_model_is_told_which_communes_are_wards(app, monkeypatch):
    """The Fay–Herriot model gets a ward (phường) indicator: two wards and three communes answer here."""
    from feedback.bridge import load_analysis_input
    from feedback.exports import scores as exports

    seed_every_subdimension(app)
    calls = []

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return analysis.score_communes(*args, **kwargs)

    monkeypatch.setattr(exports, "score_communes", spy)
    with app.app_context():
        data = load_analysis_input(province_code="15")
        table = exports.commune_scores(data)
    wards = set(calls[0]["wards"])
    assert len(wards) == 10 and set(WARDS) <= wards and not set(COMMUNES) & wards  # Lào Cai has 10 wards
    answered = table["commune_code"].isin([*WARDS, *COMMUNES]) & (table["level"] == "subdimension")
    args = (data.scores, data.respondents)
    common = {"communes": list(data.communes["commune_code"])}
    with_wards = analysis.score_communes(*args, wards=data.wards, **common)
    without = analysis.score_communes(*args, **common)
    np.testing.assert_allclose(table.loc[answered, "p_eb"], with_wards.loc[answered, "p_eb"])
    # Wards answer better than communes here: the indicator moves the estimates.
    assert not np.allclose(with_wards.loc[answered, "p_eb"], without.loc[answered, "p_eb"])


def test_response_export_keeps_clock_flagged_responses_and_dates_them_by_viet_nam_day(app, runner, tmp_path):
    """A response flagged only ``clock`` is exported (and counted as kept); submitted_date is the
    Viet Nam day, also for a response stored at 00:00 there."""
    from datetime import datetime

    from tests.test_bridge import add_response

    answers = [("wait_time", "lt15", "6.1", 1.0)]
    with app.app_context():
        add_response(OWN, datetime(2025, 5, 1, 17), answers, flags="clock")  # 2 May, 00:00 in Viet Nam
        add_response(OWN, datetime(2025, 5, 1, 16, 59, 59), answers)  # 1 May, 23:59:59
        add_response(OWN, datetime(2025, 5, 1, 17), answers, flags="clock;too_fast")
        db.session.commit()
    out = tmp_path / "responses.csv"
    result = runner.invoke(args=["export-responses", "--from", "2025-05-02", "--to", "2025-05-02", "-o", str(out)])
    assert result.exit_code == 0 and "(1 low-quality responses excluded)" in result.output
    table = pd.read_csv(out, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    assert table[["submitted_date", "flags"]].values.tolist() == [["2025-05-02", "clock"]]


def _module_responses(app) -> None:
    """A local-governance web response given module b, and a paper form printed with every question."""
    from datetime import datetime

    from feedback.models import Answer, Response
    from surveys import catalog

    survey = catalog().current("local-governance")
    b = next(q for q in survey.questions if q.module == "b" and q.options)
    with app.app_context():
        for mode, channel, module in (("web", "landing", "b"), ("paper", "paper", None)):
            db.session.add(
                Response(
                    id=uuid.uuid4(),
                    survey=survey.slug,
                    survey_version=survey.version,
                    commune_code=OWN,
                    lang="vi",
                    mode=mode,
                    channel=channel,
                    module=module,
                    submitted_at=datetime(2025, 8, 1, 3),
                    received_at=datetime(2025, 8, 1, 3),
                    content_hash="0" * 64,
                    answers=[Answer(question_id=b.id, position=0, value=b.options[0].value)],
                )
            )
        db.session.commit()


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "dta", "parquet"])
def test_response_export_says_which_module_each_response_was_asked(app, runner, tmp_path, fmt):
    """``module`` sits next to ``channel``: "b" for the web respondent given module b, empty for
    the paper form that asked every question (so "not asked" is told from "skipped")."""
    _module_responses(app)
    out = tmp_path / f"responses.{fmt}"
    result = runner.invoke(args=["export-responses", "--format", fmt, "-o", str(out)])
    assert result.exit_code == 0, result.output
    if fmt == "csv":
        table = pd.read_csv(out, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    elif fmt == "xlsx":
        table = pd.read_excel(out, sheet_name="responses", dtype=str, keep_default_na=False)
    elif fmt == "dta":
        table = pd.read_stata(out)
    else:
        table = pd.read_parquet(out)
    columns = list(table.columns)
    assert columns[columns.index("channel") + 1] == "module"
    modes = {str(mode).split(":")[0]: module for mode, module in zip(table["mode"], table["module"], strict=True)}
    assert modes == {"web": "b", "paper": ""}


def test_codebook_explains_the_module_column(app):
    from feedback.exports.responses import codebook_frame

    with app.app_context():
        codebook = codebook_frame()
    row = codebook[codebook["column"] == "module"]
    assert len(row) == 1
    row = row.iloc[0]
    assert "local-governance" in row["note"] and "every question" in row["label_en"]
    assert {"a", "b", "c"} <= {v.split(" = ")[0] for v in row["value_labels"].split("; ")}
