"""Time the score export (read + compute + file) and the response export on SQLite or PostgreSQL.

Usage::

    .venv/bin/python benchmarks/export_speed.py                                  # SQLite file in /tmp
    .venv/bin/python benchmarks/export_speed.py --db postgres                    # feedback_bench on 127.0.0.1
    .venv/bin/python benchmarks/export_speed.py --db postgres --url postgresql://postgres@127.0.0.1:5432/x
    .venv/bin/python benchmarks/export_speed.py --sizes 100000 --xlsx-baseline  # + the old openpyxl writer

Responses (≈10 answers each: the survey's questions plus the respondent block) are spread over
Lào Cai's 99 communes; they are generated as numpy arrays and bulk-inserted (executemany on
SQLite, ``COPY … FROM STDIN`` of pandas-made CSV on PostgreSQL), so the database grows to each
size in turn. Every measurement runs in a fresh process, so its peak resident memory
(``VmHWM``) is its own. Printed beside each figure, a baseline from the same run:

- score export: the same frames read the old way, rows fetched as Python tuples through
  SQLAlchemy (how the bridge read PostgreSQL before issue #13);
- response export (at the first size): pandas' one-shot ``to_csv`` / ``to_parquet`` of the
  same table, and with ``--xlsx-baseline`` the former openpyxl writer (≈ 100 s at 100k).

Goals (issue #13): score export of 1 M ≤ 10 s on both databases, analysis peak ≤ 0.8 GB;
response export of 100 k: CSV ≤ 5 s, Parquet ≤ 3 s, XLSX ≤ 40 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = (100_000, 1_000_000)
PG_URL = "postgresql://postgres@127.0.0.1:5432/feedback_bench"
FLAGGED_SHARE = 0.02
OUT = Path("/tmp/feedback_export_bench")


def _app(url: str):
    from feedback import create_app

    return create_app(
        {"TESTING": True, "SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False}
    )


def prepare_database(url: str) -> None:
    """An empty, migrated database with Lào Cai's communes and the demo margins."""
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from feedback.analyst.margins import import_margins
    from feedback.extensions import db
    from feedback.units import load_units

    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    else:
        target = sa.make_url(url)
        admin = sa.create_engine(
            target.set(drivername="postgresql+psycopg", database="postgres"), isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            if not conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}):
                conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
        admin.dispose()
    app = _app(url)
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade(directory=str(ROOT / "migrations"))
        load_units("15")
        import_margins((ROOT / "docs" / "demo_margins_lao_cai.csv").read_text(encoding="utf-8"))
        db.session.commit()
        db.engine.dispose()


def _plan(surveys):
    """Per survey: its answerable questions with option values and scores (relevance ignored)."""
    plan = []
    for survey in surveys:
        questions = [q for q in survey.questions if q.type not in ("text", "multiple") and q.options]
        plan.append(
            (
                survey,
                [
                    (
                        q.id,
                        np.array(q.option_values, dtype=object),
                        np.array([np.nan if o.score is None else o.score for o in q.options]),
                        q.subdimension,
                        q.respondent,
                    )
                    for q in questions
                ],
            )
        )
    return plan


def generate(n: int, batch: int, communes: list[str], *, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Response and answer rows of one batch as DataFrames, built with array operations."""
    from surveys import catalog

    rng = np.random.default_rng(seed)
    high, low = rng.integers(0, 2**63, n, dtype=np.int64), rng.integers(0, 2**63, n, dtype=np.int64)
    ids = (
        (
            pd.Series(np.full(n, f"{batch:02x}"))
            + pd.Series(high).map("{:016x}".format)
            + pd.Series(low).map("{:014x}".format).str[:14]
        )
        .sort_values()
        .to_numpy(dtype=object)
    )
    plan = _plan(catalog().all_current())
    survey_of = rng.integers(0, len(plan), n)
    commune_of = rng.integers(0, len(communes), n)
    effect = rng.normal(0, 0.8, len(communes))
    submitted = pd.Timestamp(datetime(2025, 7, 1)) + pd.to_timedelta(rng.integers(0, 180 * 86400, n), unit="s")
    responses = pd.DataFrame(
        {
            "id": ids,
            "survey": np.array([s.slug for s, _ in plan], dtype=object)[survey_of],
            "commune_code": np.array(communes, dtype=object)[commune_of],
            "submitted_at": submitted,
            "flags": np.where(rng.random(n) < FLAGGED_SHARE, "too_fast", ""),
        }
    )
    parts = []
    for s, (_, questions) in enumerate(plan):
        who = np.flatnonzero(survey_of == s)
        for qid, values, scores, sub, respondent in questions:
            keep = who[rng.random(len(who)) >= (0.05 if respondent else 0.02)]
            k = len(values)
            # Better communes tilt towards the first (favourable) options.
            tilt = 1 / (1 + np.exp(-effect[commune_of[keep]]))
            pick = np.minimum((rng.random(len(keep)) ** (0.5 + tilt) * k).astype(int), k - 1)
            parts.append(
                pd.DataFrame(
                    {
                        "response_id": ids[keep],
                        "question_id": qid,
                        "value": values[pick],
                        "subdimension": sub,
                        "score": scores[pick],
                    }
                )
            )
    # In key order, as the primary-key indexes want them (random order: several times slower).
    answers = pd.concat(parts, ignore_index=True).sort_values("response_id", kind="stable", ignore_index=True)
    return responses, answers


def insert(url: str, responses: pd.DataFrame, answers: pd.DataFrame) -> None:
    """Bulk insert one batch: executemany on SQLite, COPY of CSV text on PostgreSQL."""
    if url.startswith("sqlite:///"):
        import sqlite3

        stamp = responses["submitted_at"].dt.strftime("%Y-%m-%d %H:%M:%S.%f")
        con = sqlite3.connect(url.removeprefix("sqlite:///"))
        con.execute("PRAGMA synchronous=OFF")
        con.executemany(
            "INSERT INTO response (id, survey, survey_version, commune_code, lang, mode, channel, started_at,"
            " submitted_at, received_at, content_hash, flags)"
            " VALUES (?, ?, 1, ?, 'vi', 'web', 'landing', NULL, ?, ?, ?, ?)",
            zip(
                responses["id"],
                responses["survey"],
                responses["commune_code"],
                stamp,
                stamp,
                ["0" * 64] * len(responses),
                responses["flags"],
                strict=False,
            ),
        )
        score = answers["score"].astype(object).where(answers["score"].notna(), None)
        sub = answers["subdimension"].astype(object).where(answers["subdimension"].notna(), None)
        con.executemany(
            "INSERT INTO answer (response_id, question_id, position, value, subdimension, score)"
            " VALUES (?, ?, 0, ?, ?, ?)",
            zip(answers["response_id"], answers["question_id"], answers["value"], sub, score, strict=False),
        )
        con.commit()
        con.close()
        return
    import psycopg

    head = responses.assign(
        survey_version=1,
        lang="vi",
        mode="web",
        channel="landing",
        received_at=responses["submitted_at"],
        content_hash="0" * 64,
    )
    head = head[
        [
            "id",
            "survey",
            "survey_version",
            "commune_code",
            "lang",
            "mode",
            "channel",
            "submitted_at",
            "received_at",
            "content_hash",
            "flags",
        ]
    ]
    with psycopg.connect(url) as con, con.cursor() as cur:
        for table, frame, options in (
            ("response", head, ", FORCE_NOT_NULL (flags)"),
            (
                "answer",
                answers.assign(position=0)[
                    ["response_id", "question_id", "position", "value", "subdimension", "score"]
                ],
                "",
            ),
        ):
            columns = ", ".join(frame.columns)
            # An empty CSV field is NULL to COPY; an empty flags list is the empty string.
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT csv{options})") as copy:
                for start in range(0, len(frame), 500_000):
                    copy.write(frame.iloc[start : start + 500_000].to_csv(index=False, header=False))
        con.commit()
        con.autocommit = True
        cur.execute("VACUUM ANALYZE")


def _peak_mb() -> float:
    """This process's peak resident memory: VmHWM, which execve resets (ru_maxrss keeps the
    forking parent's peak, here the generator's gigabytes)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_scores(url: str, baseline: bool) -> dict:
    """Score export in this process: read, compute, CSV file (or the old tuple read alone)."""
    from feedback import bridge
    from feedback.exports import ScoreExport, commune_scores, write_score_file

    app = _app(url)
    with app.app_context():
        if baseline:  # the former PostgreSQL path: rows as tuples through SQLAlchemy
            bridge._sqlite = bridge._postgres = lambda: False
        t0 = time.perf_counter()
        data = bridge.load_analysis_input(province_code="15")
        t_read = time.perf_counter() - t0
        peak_read = _peak_mb()
        if baseline:
            return {"read_s": t_read, "peak_mb": peak_read, "answers": len(data.scores)}
        t0 = time.perf_counter()
        table = commune_scores(data, structure="current")
        t_compute = time.perf_counter() - t0
        export = ScoreExport(
            table=table,
            level="commune",
            structure="current",
            date_from=None,
            date_to=None,
            excluded=int(table.attrs.get("excluded", 0)),
        )
        t0 = time.perf_counter()
        with open(OUT / "scores.csv", "wb") as f:
            write_score_file(export, f, "csv")
        t_file = time.perf_counter() - t0
    return {
        "read_s": t_read,
        "compute_s": t_compute,
        "file_s": t_file,
        "peak_read_mb": peak_read,
        "peak_mb": _peak_mb(),
        "answers": len(data.scores),
        "respondents": len(data.respondents),
    }


def measure_responses(url: str, fmt: str, xlsx_baseline: bool) -> dict:
    """Response export in this process: build (read + pivot), write, and the baseline writer."""
    from feedback.exports import build_response_export, write_response_file

    app = _app(url)
    with app.app_context():
        t0, c0 = time.perf_counter(), time.process_time()
        export = build_response_export()
        t_build = time.perf_counter() - t0
        path = OUT / f"responses.{fmt}"
        t0 = time.perf_counter()
        with open(path, "wb") as f:
            write_response_file(export, f, fmt)
        t_write = time.perf_counter() - t0
        cpu = time.process_time() - c0  # this process only (not the database server's)
        peak = _peak_mb()
        table = export.responses
        t0 = time.perf_counter()
        if fmt == "csv":
            table.to_csv(OUT / "baseline.csv", index=False)
        elif fmt == "parquet":
            table.astype({"submitted_date": "datetime64[s]"}).to_parquet(OUT / "baseline.parquet", index=False)
        elif fmt == "xlsx" and xlsx_baseline:
            _openpyxl_baseline(table, OUT / "baseline.xlsx")
        t_base = time.perf_counter() - t0 if fmt != "xlsx" or xlsx_baseline else float("nan")
    return {
        "rows": len(table),
        "build_s": t_build,
        "write_s": t_write,
        "cpu_s": cpu,
        "baseline_s": t_base,
        "peak_mb": peak,
        "mb": path.stat().st_size / 1e6,
    }


def _openpyxl_baseline(table: pd.DataFrame, path: Path) -> None:
    """The former writer: openpyxl in normal mode, a cell object per value."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(list(table.columns))
    for row in table.astype(object).where(table.notna(), None).itertuples(index=False):
        sheet.append(list(row))
    book.save(path)


def _child(url: str, *args: str) -> dict:
    child = subprocess.run(
        [sys.executable, __file__, "--url", url, "--out", str(OUT), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    if child.returncode:
        raise SystemExit(child.stderr)
    return json.loads(child.stdout.strip().splitlines()[-1])


def _report_responses(fmt: str, runs: list[dict]) -> None:
    whole = sorted(r["build_s"] + r["write_s"] for r in runs)
    r = sorted(runs, key=lambda r: r["build_s"] + r["write_s"])[len(runs) // 2]
    spread = f" (runs {', '.join(f'{w:.2f}' for w in whole)})" if len(runs) > 1 else ""
    print(
        f"  response export {fmt:>7}: {r['build_s'] + r['write_s']:.2f} s = build {r['build_s']:.2f} + "
        f"write {r['write_s']:.2f}{spread}; CPU {r.get('cpu_s', float('nan')):.2f} s; {r['mb']:.0f} MB file; "
        f"peak {r['peak_mb']:.0f} MB; "
        f"baseline writer {r['baseline_s']:.2f} s ({r['rows']:,} rows)",
        flush=True,
    )


def time_responses(url: str, args: argparse.Namespace) -> None:
    """The response export alone, ``--repeat`` times per format, on an already filled database."""
    print(f"database: {url.split('@')[-1]}")
    extra = ("--xlsx-baseline",) if args.xlsx_baseline else ()
    for fmt in ("csv", "parquet", "xlsx"):
        _report_responses(fmt, [_child(url, "--responses", fmt, *extra) for _ in range(args.repeat)])


def main() -> None:
    global OUT
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--url", help="Database URL (default: a SQLite file in /tmp, or feedback_bench).")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="Comma-separated response totals.")
    parser.add_argument("--xlsx-baseline", action="store_true", help="Also time the former openpyxl writer.")
    parser.add_argument(
        "--only", choices=["responses"], help="Time only the response export, on the database as it is (no generation)."
    )
    parser.add_argument("--repeat", type=int, default=1, help="With --only: runs per format (median printed).")
    parser.add_argument("--out", default=str(OUT), help=f"Folder of the exported files (default {OUT}).")
    parser.add_argument("--scores", choices=["new", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--responses", choices=["csv", "parquet", "xlsx"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    url = args.url or (PG_URL if args.db == "postgres" else "sqlite:////tmp/feedback_export_bench.sqlite")
    OUT = Path(args.out)
    OUT.mkdir(exist_ok=True)
    if args.scores:
        print(json.dumps(measure_scores(url, args.scores == "baseline")))
        return
    if args.responses:
        print(json.dumps(measure_responses(url, args.responses, args.xlsx_baseline)))
        return

    if args.only == "responses":
        time_responses(url, args)
        return

    prepare_database(url)
    app = _app(url)
    with app.app_context():
        from feedback.extensions import db
        from feedback.models import Commune

        communes = list(db.session.scalars(db.select(Commune.code).where(Commune.province_code == "15")))
        db.engine.dispose()
    print(f"database: {url.split('@')[-1]}")
    done = 0
    for batch, total in enumerate(int(s) for s in args.sizes.split(",")):
        t0 = time.perf_counter()
        responses, answers = generate(total - done, batch + 1, communes, seed=batch)
        t_generate = time.perf_counter() - t0
        t0 = time.perf_counter()
        insert(url, responses, answers)
        t_insert = time.perf_counter() - t0
        done = total
        del responses, answers
        print(f"\n{total:,} responses (generated in {t_generate:.1f} s, inserted in {t_insert:.1f} s)", flush=True)
        new = _child(url, "--scores", "new")
        old = _child(url, "--scores", "baseline")
        whole = new["read_s"] + new["compute_s"] + new["file_s"]
        print(
            f"  score export: {whole:.2f} s = read {new['read_s']:.2f} + compute {new['compute_s']:.2f} + "
            f"file {new['file_s']:.2f}; peak {new['peak_mb']:.0f} MB (after read {new['peak_read_mb']:.0f} MB); "
            f"{new['answers']:,} rows of scores (SQLite: per respondent and sub-dimension; else per answer)",
            flush=True,
        )
        print(f"    baseline read, rows as tuples: {old['read_s']:.2f} s, peak {old['peak_mb']:.0f} MB", flush=True)
        if batch == 0:
            extra = ("--xlsx-baseline",) if args.xlsx_baseline else ()
            for fmt in ("csv", "parquet", "xlsx"):
                _report_responses(fmt, [_child(url, "--responses", fmt, *extra)])


if __name__ == "__main__":
    main()
