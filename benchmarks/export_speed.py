"""Time export-scores end to end (database read + computation + CSV) at 100k, 300k and 1M responses.

Usage::

    .venv/bin/python benchmarks/export_speed.py                 # SQLite scratch file in /tmp
    .venv/bin/python benchmarks/export_speed.py --db postgres   # database feedback_bench on 127.0.0.1

Responses (≈10 answers each: the survey's questions plus the respondent block) are spread over
Lào Cai's 99 communes and bulk-inserted in batches (executemany on SQLite, COPY on PostgreSQL),
so the database grows 100k → 300k → 1M. Each measurement runs in a fresh process, so its peak
resident memory (``ru_maxrss``) is the export's own. Goals (issue #4): export < 20 s, computation
< 5 s, memory < 2 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = (100_000, 300_000, 1_000_000)
PG_URL = "postgresql://postgres@127.0.0.1:5432/feedback_bench"
FLAGGED_SHARE = 0.02


def _app(url: str):
    from feedback import create_app

    return create_app({"TESTING": True, "SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": url,
                       "RATELIMIT_ENABLED": False})


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
        from feedback import database_url

        target = sa.make_url(database_url(url))
        admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
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
        plan.append((survey, [(q.id, np.array(q.option_values, dtype=object),
                               np.array([np.nan if o.score is None else o.score for o in q.options]),
                               q.subdimension, q.respondent) for q in questions]))
    return plan


def generate(n: int, batch: int, communes: list[str], *, seed: int):
    """Response and answer rows of one batch, as column arrays (response ids sorted)."""
    from surveys import catalog

    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 2**63, size=(n, 2), dtype=np.int64)
    ids = np.sort(np.array([f"{batch:x}{a:016x}{b:015x}"[:32] for a, b in raw], dtype=object))
    survey_of = rng.integers(0, 5, n)
    commune_of = rng.integers(0, len(communes), n)
    effect = rng.normal(0, 0.8, len(communes))
    start = datetime(2025, 7, 1)
    submitted = [start + timedelta(seconds=int(s)) for s in rng.integers(0, 180 * 86400, n)]
    flagged = rng.random(n) < FLAGGED_SHARE
    plan = _plan(catalog().all_current())
    responses = {
        "id": ids, "survey": np.array([plan[s][0].slug for s in survey_of], dtype=object),
        "commune_code": np.array(communes, dtype=object)[commune_of],
        "submitted_at": submitted, "flags": np.where(flagged, "too_fast", ""),
    }
    cols = {"response_id": [], "question_id": [], "value": [], "subdimension": [], "score": []}
    for s, (survey, questions) in enumerate(plan):
        who = np.flatnonzero(survey_of == s)
        for qid, values, scores, sub, respondent in questions:
            skip = rng.random(len(who)) < (0.05 if respondent else 0.02)
            keep = who[~skip]
            k = len(values)
            # Better communes tilt towards the first (favourable) options.
            tilt = 1 / (1 + np.exp(-effect[commune_of[keep]]))
            pick = np.minimum((rng.random(len(keep)) ** (0.5 + tilt) * k).astype(int), k - 1)
            cols["response_id"].append(ids[keep])
            cols["question_id"].append(np.full(len(keep), qid, dtype=object))
            cols["value"].append(values[pick])
            cols["subdimension"].append(np.full(len(keep), sub, dtype=object))
            cols["score"].append(scores[pick])
    answers = {k: np.concatenate(v) for k, v in cols.items()}
    order = np.argsort(answers["response_id"], kind="stable")
    answers = {k: v[order] for k, v in answers.items()}
    return responses, answers


def insert(url: str, responses: dict, answers: dict) -> None:
    """Bulk insert one batch: executemany on SQLite, COPY on PostgreSQL."""
    n = len(responses["id"])
    subs = [None if s is None else s for s in answers["subdimension"]]
    scores = [None if np.isnan(x) else float(x) for x in answers["score"]]
    if url.startswith("sqlite:///"):
        import sqlite3

        con = sqlite3.connect(url.removeprefix("sqlite:///"))
        con.execute("PRAGMA synchronous=OFF")
        fmt = "%Y-%m-%d %H:%M:%S.%f"
        con.executemany(
            "INSERT INTO response (id, survey, survey_version, commune_code, lang, mode, started_at, submitted_at,"
            " received_at, content_hash, flags) VALUES (?, ?, 1, ?, 'vi', 'web', NULL, ?, ?, ?, ?)",
            ((responses["id"][i], responses["survey"][i], responses["commune_code"][i],
              responses["submitted_at"][i].strftime(fmt), responses["submitted_at"][i].strftime(fmt), "0" * 64,
              responses["flags"][i]) for i in range(n)))
        con.executemany(
            "INSERT INTO answer (response_id, question_id, position, value, subdimension, score)"
            " VALUES (?, ?, 0, ?, ?, ?)",
            zip(answers["response_id"], answers["question_id"], answers["value"], subs, scores))
        con.commit()
        con.close()
        return
    import uuid

    import psycopg

    with psycopg.connect(url) as con, con.cursor() as cur:
        with cur.copy("COPY response (id, survey, survey_version, commune_code, lang, mode, submitted_at,"
                      " received_at, content_hash, flags) FROM STDIN") as copy:
            for i in range(n):
                copy.write_row((uuid.UUID(responses["id"][i]), responses["survey"][i], 1,
                                responses["commune_code"][i], "vi", "web", responses["submitted_at"][i],
                                responses["submitted_at"][i], "0" * 64, responses["flags"][i]))
        with cur.copy("COPY answer (response_id, question_id, position, value, subdimension, score)"
                      " FROM STDIN") as copy:
            for row in zip(answers["response_id"], answers["question_id"], answers["value"], subs, scores):
                copy.write_row((uuid.UUID(row[0]), row[1], 0, row[2], row[3], row[4]))
        cur.execute("ANALYZE")


def measure(url: str, output: str) -> dict:
    """One export in this process: read + compute + CSV, then the computation alone."""
    from feedback.bridge import load_analysis_input
    from feedback.exports import build_score_export, commune_scores, score_bytes

    app = _app(url)
    with app.app_context():
        t0 = time.perf_counter()
        export = build_score_export(province_code="15")
        data = score_bytes(export, "csv")
        with open(output, "wb") as f:
            f.write(data)
        t_export = time.perf_counter() - t0
        t0 = time.perf_counter()
        inputs = load_analysis_input(province_code="15")
        t_read = time.perf_counter() - t0
        t0 = time.perf_counter()
        commune_scores(inputs, structure="current")
        t_compute = time.perf_counter() - t0
    return {"export_s": t_export, "read_s": t_read, "compute_s": t_compute, "rows": len(export.table),
            "answers": len(inputs.scores), "excluded": export.excluded,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--path", default="/tmp/feedback_export_bench.sqlite", help="SQLite scratch file.")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="Comma-separated response totals.")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    url = args.url or (PG_URL if args.db == "postgres" else f"sqlite:///{args.path}")
    if args.measure:
        print(json.dumps(measure(url, "/tmp/feedback_export_bench.csv")))
        return

    prepare_database(url)
    app = _app(url)
    with app.app_context():
        from feedback.extensions import db
        from feedback.models import Commune

        communes = list(db.session.scalars(db.select(Commune.code).where(Commune.province_code == "15")))
        db.engine.dispose()
    done = 0
    print(f"{'responses':>10} {'answers':>11} {'insert s':>9} {'export s':>9} {'read s':>7} "
          f"{'compute s':>9} {'peak MB':>8}")
    for batch, total in enumerate(int(s) for s in args.sizes.split(",")):
        t0 = time.perf_counter()
        responses, answers = generate(total - done, batch + 1, communes, seed=batch)
        insert(url, responses, answers)
        t_insert = time.perf_counter() - t0
        done = total
        del responses, answers
        child = subprocess.run([sys.executable, __file__, "--measure", "--url", url], capture_output=True,
                               text=True, check=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        r = json.loads(child.stdout.strip().splitlines()[-1])
        print(f"{total:>10,} {r['answers']:>11,} {t_insert:>9.1f} {r['export_s']:>9.2f} {r['read_s']:>7.2f} "
              f"{r['compute_s']:>9.2f} {r['peak_mb']:>8.0f}", flush=True)


if __name__ == "__main__":
    main()
