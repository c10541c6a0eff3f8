"""National scale on PostgreSQL: 10 M responses over the 3,321 communes of the 34 provinces,
then the whole national score export (read + compute + file) timed with its peak memory.

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/national_scale.py \\
        postgresql://postgres@127.0.0.1:5432/scale_10m                 # generate, then measure
    ... national_scale.py URL --reuse                 # keep the data already there, only measure
    ... national_scale.py URL --responses 200000      # a smaller run (a fresh database)
    ... national_scale.py URL --reuse --profile       # also: where the computation spends its time

Generation: the database is migrated, the communes of all 34 provinces are loaded through
``feedback.units.load_units`` and every commune gets synthetic population margins (sex, age
band, ethnic group). Responses fall on communes in proportion to population and are drawn
set-wise with numpy, with the demo's model (``feedback.demo``): a commune effect, per commune
× service area and × dimension effects, respondent group effects and an adjacent-category
logit per scored question; relevance, optional-question skips, the rotating modules of the
local-governance survey and a 2 % share of quality-flagged responses included. Rows go in
through ``COPY … FROM STDIN`` (psycopg 3) as tab-separated text built with array
concatenation, one batch at a time. Response ids rise with the batch (high 64 bits a counter,
low bits random) so index inserts stay local.

Measurement: a fresh child process per export format runs the app's own code path
(``feedback.exports.write_score_export`` when present, else ``build_score_export`` +
``score_bytes``) for ``province_code=None`` (every commune of the nation), once; the read
(``load_analysis_input``) and the computation (``commune_scores``) are timed by wrapping
them, the file is the rest. Peak memory is the child's ``ru_maxrss``. Goals (issue 13):
≤ 2 min and ≤ 4 GB.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_RESPONSES = 10_000_000
BATCH = 250_000
FLAGGED_SHARE = 0.02
DAYS = 365
NULL = "\\N"


def _app(url: str):
    from feedback import create_app

    return create_app(
        {"TESTING": True, "SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False}
    )


def _psycopg_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def prepare_database(url: str) -> list[str]:
    """An empty, migrated database with every province's communes; returns the commune codes."""
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from feedback import database_url
    from feedback.extensions import db
    from feedback.models import Commune
    from feedback.units import load_all_units

    target = sa.make_url(database_url(url))
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}):
            conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
    app = _app(url)
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade(directory=str(ROOT / "migrations"))
        load_all_units()
        codes = list(db.session.scalars(db.select(Commune.code).order_by(Commune.code)))
        db.engine.dispose()
    return codes


def synthetic_margins(codes: list[str], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per commune: population by sex, age band and ethnic group (categories of the surveys)."""
    from feedback.analyst.margins import margin_categories

    categories = margin_categories()
    people = np.rint(rng.lognormal(np.log(18_000), 0.6, len(codes))).astype(int) + 500
    base = {
        "sex": [0.5, 0.5],
        "age_band": [0.33, 0.30, 0.23, 0.14],
        "ethnic_group": [0.55, 0.12, 0.09, 0.07, 0.03, 0.03, 0.06, 0.05],
    }
    out = {"people": people}
    for variable, cats in categories.items():
        alpha = np.array(base.get(variable, [1 / len(cats)] * len(cats)))[: len(cats)] * 20
        shares = rng.dirichlet(alpha, len(codes))
        # At least a few people in every category: a margin of 0 where respondents are is refused.
        out[variable] = np.maximum(np.rint(shares * people[:, None]).astype(int), 5)
    return out


def copy_margins(url: str, codes: list[str], margins: dict[str, np.ndarray]) -> int:
    """COPY the synthetic margins into population_margin; returns rows written."""
    import psycopg

    from feedback.analyst.margins import margin_categories

    lines = []
    for variable, cats in margin_categories().items():
        table = margins[variable]
        for j, cat in enumerate(cats):
            lines.extend(f"{code}\t{variable}\t{cat}\t{n}\n" for code, n in zip(codes, table[:, j], strict=False))
    with psycopg.connect(_psycopg_url(url)) as con, con.cursor() as cur:
        with cur.copy("COPY population_margin (commune_code, variable, category, population) FROM STDIN") as copy:
            copy.write("".join(lines))
    return len(lines)


class Model:
    """The demo's response model, prepared once as arrays (see ``feedback.demo``)."""

    def __init__(self, codes: list[str], margins: dict[str, np.ndarray], rng: np.random.Generator):
        from feedback import demo
        from feedback.models import SERVICE_AREAS
        from surveys import RESPONDENT_IDS, catalog

        self.codes = np.array(codes, dtype=object)
        self.share = margins["people"] / margins["people"].sum()
        self.surveys = list(catalog().all_current())
        self.respondent_ids = RESPONDENT_IDS
        n = len(codes)
        overall = rng.normal(0, demo.COMMUNE_SD, n)
        self.area_effect = (
            overall[:, None]
            + rng.normal(0, demo.COMMUNE_AREA_SD, (n, len(SERVICE_AREAS)))
            + np.array([demo.AREA_EFFECT[a] for a in SERVICE_AREAS])
        )
        self.dimensions = sorted(demo.DIMENSION_EFFECT)
        self.dimension_effect = np.array([demo.DIMENSION_EFFECT[d] for d in self.dimensions]) + rng.normal(
            0, demo.COMMUNE_DIMENSION_SD, (n, len(self.dimensions))
        )
        self.demo = demo
        # Respondents: half like the commune's population, half like the service-point mix.
        self.mix = {}
        for variable in RESPONDENT_IDS:
            cats = list(demo.SERVICE_POINT_MIX[variable])
            skewed = np.array([demo.SERVICE_POINT_MIX[variable][c] for c in cats])
            own = margins[variable] / np.maximum(margins[variable].sum(axis=1, keepdims=True), 1)
            p = demo.OWN_POPULATION_SHARE * own + (1 - demo.OWN_POPULATION_SHARE) * skewed
            self.mix[variable] = (cats, np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1))
        self.area_of = [SERVICE_AREAS.index(s.service_area) for s in self.surveys]
        # COPY text after the response id, per survey × question × option.
        self.suffix = {}
        for s in self.surveys:
            for q in s.questions:
                for o in q.options or ():
                    score = q.score_of(o.value) if q.scored else None
                    self.suffix[(s.slug, q.id, o.value)] = (
                        f"\t{q.id}\t0\t{o.value}\t{q.subdimension or NULL}\t"
                        f"{NULL if score is None else repr(float(score))}\n"
                    )

    def batch(self, first: int, n: int, rng: np.random.Generator, now: datetime) -> tuple[str, str]:
        """COPY text of ``n`` responses (ids from ``first``) and of their answers."""
        demo = self.demo
        commune = np.minimum(np.searchsorted(np.cumsum(self.share), rng.random(n)), len(self.codes) - 1)
        survey_of = rng.integers(len(self.surveys), size=n)
        ids = np.array(
            [f"{first + i:016x}{r:016x}" for i, r in enumerate(rng.integers(0, 2**63, size=n, dtype=np.int64))],
            dtype=object,
        )
        people = {}
        for variable, (cats, cdf) in self.mix.items():
            pick = (rng.random(n)[:, None] > cdf[commune]).sum(axis=1)
            people[variable] = np.minimum(pick, len(cats) - 1)
        latent = self.area_effect[commune, np.array(self.area_of)[survey_of]] + rng.normal(0, demo.RESPONDENT_SD, n)
        for variable, (cats, _) in self.mix.items():
            latent += np.array([demo.GROUP_EFFECT.get(c, 0.0) for c in cats])[people[variable]]
        submitted = np.datetime64(now.replace(microsecond=0), "s") - rng.integers(60, DAYS * 86400, size=n).astype(
            "timedelta64[s]"
        )
        stamps = np.datetime_as_string(submitted, unit="s").astype(object)
        flags = np.where(rng.random(n) < FLAGGED_SHARE, "too_fast", "").astype(object)
        module = np.full(n, NULL, dtype=object)
        pieces_id, pieces_text = [], []
        for s_index, survey in enumerate(self.surveys):
            who = np.flatnonzero(survey_of == s_index)
            if survey.modules:
                module[who] = np.array(survey.modules, dtype=object)[rng.integers(len(survey.modules), size=len(who))]
            chosen: dict[str, np.ndarray] = {}  # question id -> option index per respondent (-1: none)
            for q in survey.questions:
                if not q.options or q.type in ("multiple", "text"):
                    continue
                values = list(q.option_values)
                asked = np.ones(len(who), dtype=bool)
                if q.module is not None:
                    asked &= module[who] == q.module
                if q.relevant is not None:
                    given = chosen.get(q.relevant.question)
                    ok = np.array(
                        [
                            v in q.relevant.values
                            for v in (survey.question(q.relevant.question).option_values if given is not None else [])
                        ]
                    )
                    asked &= (given >= 0) & ok[np.maximum(given, 0)] if given is not None else False
                if q.respondent:
                    pick = people[q.id][who]
                    asked &= rng.random(len(who)) < 0.85
                elif q.scored:
                    scores = [None if q.score_of(v) is None else q.score_of(v) for v in values]
                    numeric = [x for x in scores if x is not None]
                    spread = float(np.var(numeric))
                    slope = 0.25 / spread if spread > 0 else 1.0
                    dim = self.dimensions.index(q.subdimension.split(".")[0])
                    eta = latent[who] + self.dimension_effect[commune[who], dim]
                    odds = np.stack([np.zeros(len(who)) if x is None else np.exp(slope * x * eta) for x in scores], 1)
                    unscored = sum(x is None for x in scores)
                    p = odds * (1 - demo.UNSCORED_SHARE * unscored) / odds.sum(axis=1, keepdims=True)
                    p[:, [x is None for x in scores]] = demo.UNSCORED_SHARE
                    pick = (rng.random(len(who))[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
                    pick = np.minimum(pick, len(values) - 1)
                else:
                    weights = (
                        np.array([0.85 if v == "yes" else 0.1 for v in values])
                        if q.id.startswith("used")
                        else np.ones(len(values))
                    )
                    pick = np.searchsorted(np.cumsum(weights / weights.sum()), rng.random(len(who)))
                    pick = np.minimum(pick, len(values) - 1)
                if not q.required and not q.respondent:
                    asked &= rng.random(len(who)) >= 0.08
                chosen[q.id] = np.where(asked, pick, -1)
                suffixes = np.array([self.suffix[(survey.slug, q.id, v)] for v in values], dtype=object)
                keep = who[asked]
                pieces_id.append(keep)
                pieces_text.append(suffixes[pick[asked]])
        order_ids = np.concatenate(pieces_id)
        texts = np.concatenate(pieces_text)
        order = np.argsort(order_ids, kind="stable")
        answers = "".join(ids[order_ids[order]] + texts[order])
        slugs = np.array([s.slug for s in self.surveys], dtype=object)[survey_of]
        versions = np.array([str(s.version) for s in self.surveys], dtype=object)[survey_of]
        responses = "".join(
            ids
            + "\t"
            + slugs
            + "\t"
            + versions
            + "\t"
            + self.codes[commune]
            + "\tvi\tweb\tlanding\t"
            + module
            + "\t"
            + stamps
            + "\t"
            + stamps
            + "\tbench\t"
            + flags
            + "\n"
        )
        return responses, answers


def generate(url: str, total: int, *, seed: int = 13) -> None:
    """Fill an empty, migrated database with ``total`` responses in batches, printing progress."""
    import psycopg

    codes = prepare_database(url)
    rng = np.random.default_rng(seed)
    margins = synthetic_margins(codes, rng)
    print(f"communes: {len(codes):,}; margin rows: {copy_margins(url, codes, margins):,}", flush=True)
    model = Model(codes, margins, rng)
    now = datetime(2026, 1, 1)
    t_start = time.perf_counter()
    with psycopg.connect(_psycopg_url(url)) as con:
        # Secondary indexes (random keys: commune, times) are built once at the end from their
        # own definitions, not maintained row by row; primary keys stay (ids rise).
        indexes = con.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i JOIN pg_class c ON c.relname = i.indexname"
            " JOIN pg_index x ON x.indexrelid = c.oid WHERE i.tablename IN ('response', 'answer')"
            " AND NOT x.indisprimary AND NOT x.indisunique"
        ).fetchall()
        for name, _ in indexes:
            con.execute(f'DROP INDEX "{name}"')
        con.commit()
        con.execute("SET synchronous_commit = off")
        # Rows are consistent by construction: skip the per-row foreign-key triggers (superuser).
        con.execute("SET session_replication_role = replica")
        for first in range(0, total, BATCH):
            n = min(BATCH, total - first)
            t0 = time.perf_counter()
            responses, answers = model.batch(first, n, rng, now)
            t_make = time.perf_counter() - t0
            with con.cursor() as cur:
                with cur.copy(
                    "COPY response (id, survey, survey_version, commune_code, lang, mode, channel, module,"
                    " submitted_at, received_at, content_hash, flags) FROM STDIN"
                ) as copy:
                    copy.write(responses)
                with cur.copy(
                    "COPY answer (response_id, question_id, position, value, subdimension, score) FROM STDIN"
                ) as copy:
                    copy.write(answers)
            con.commit()
            print(
                f"{first + n:>11,} responses ({answers.count(chr(10)):,} answers in this batch): "
                f"make {t_make:.1f} s, copy {time.perf_counter() - t0 - t_make:.1f} s, "
                f"elapsed {time.perf_counter() - t_start:.0f} s",
                flush=True,
            )
        con.autocommit = True
        t0 = time.perf_counter()
        con.execute("SET maintenance_work_mem = '1GB'")
        for _, definition in indexes:
            con.execute(definition)
        print(f"{len(indexes)} secondary indexes built in {time.perf_counter() - t0:.0f} s", flush=True)
        con.execute("VACUUM ANALYZE")
    print(f"generated {total:,} responses in {time.perf_counter() - t_start:.0f} s", flush=True)


def _timed(module, name: str, times: dict, profiler: cProfile.Profile | None = None) -> None:
    """Wrap ``module.name`` so that its wall time adds up in ``times[name]`` (and is profiled)."""
    inner = getattr(module, name)

    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        if profiler:
            profiler.enable()
        try:
            return inner(*args, **kwargs)
        finally:
            if profiler:
                profiler.disable()
            times[name] = times.get(name, 0.0) + time.perf_counter() - t0

    setattr(module, name, wrapper)


def measure(url: str, fmt: str, output: str, profile: bool) -> dict:
    """One national export in this process (a child), split into read, compute and file.

    The export runs once, through ``write_score_export`` (or ``build_score_export`` +
    ``score_bytes`` before it existed); the read and the computation are timed by wrapping the
    two functions it calls, so nothing is run twice.
    """
    from feedback import exports

    scores_module = sys.modules[exports.build_score_export.__module__]
    times: dict[str, float] = {}
    profiler = cProfile.Profile() if profile else None
    _timed(scores_module, "load_analysis_input", times)
    _timed(scores_module, "commune_scores", times, profiler)
    app = _app(url)
    with app.app_context():
        t0 = time.perf_counter()
        with open(output, "wb") as out:
            if hasattr(exports, "write_score_export"):
                meta = exports.write_score_export(out, fmt, province_code=None)
            else:
                export = exports.build_score_export(province_code=None)
                out.write(exports.score_bytes(export, fmt))
                meta = {"rows": len(export.table), **export.meta()}
        t_export = time.perf_counter() - t0
    if profiler:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(30)
        print(text.getvalue(), file=sys.stderr)
    read, compute = times.get("load_analysis_input", 0.0), times.get("commune_scores", 0.0)
    return {
        "format": fmt,
        "export_s": t_export,
        "read_s": read,
        "compute_s": compute,
        "file_s": t_export - read - compute,
        "rows": meta["rows"],
        "excluded": meta.get("excluded"),
        "file_mb": os.path.getsize(output) / 1e6,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def stored(url: str) -> tuple[int, int]:
    """(communes, responses) already in the database; (0, 0) when it is missing or empty."""
    import psycopg

    try:
        with psycopg.connect(_psycopg_url(url)) as con:
            communes = con.execute("SELECT count(*) FROM commune").fetchone()[0]
            responses = con.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'response'").fetchone()[0]
            return communes, max(int(responses), 0)
    except psycopg.Error:
        return 0, 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="PostgreSQL database (created if missing; its schema is replaced unless --reuse).")
    parser.add_argument("--responses", type=int, default=DEFAULT_RESPONSES)
    parser.add_argument("--reuse", action="store_true", help="Measure the data already there; generate nothing.")
    parser.add_argument("--formats", default="csv", help="Comma-separated score export formats to time.")
    parser.add_argument("--output", default="/tmp/national_scale_export", help="Export file (format appended).")
    parser.add_argument("--profile", action="store_true", help="Print where the computation spends its time.")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.url, args.measure, f"{args.output}.{args.measure}", args.profile)))
        return
    if args.reuse:
        communes, responses = stored(args.url)
        if not responses:
            parser.error(f"--reuse: no responses in {args.url}")
        print(f"reusing {communes:,} communes and ≈{responses:,} responses", flush=True)
    else:
        generate(args.url, args.responses)
    print(
        f"{'format':>7} {'export s':>9} {'read s':>7} {'compute s':>9} {'file s':>7} {'rows':>8} "
        f"{'file MB':>8} {'peak MB':>8}",
        flush=True,
    )
    for fmt in args.formats.split(","):
        command = [sys.executable, __file__, args.url, "--measure", fmt, "--output", args.output]
        if args.profile:
            command.append("--profile")
        child = subprocess.run(
            command, stdout=subprocess.PIPE, text=True, check=True, env={**os.environ, "PYTHONWARNINGS": "ignore"}
        )
        r = json.loads(child.stdout.strip().splitlines()[-1])
        print(
            f"{fmt:>7} {r['export_s']:>9.1f} {r['read_s']:>7.1f} {r['compute_s']:>9.1f} {r['file_s']:>7.1f} "
            f"{r['rows']:>8,} {r['file_mb']:>8.1f} {r['peak_mb']:>8.0f}",
            flush=True,
        )
    print("goals: export ≤ 120 s, peak ≤ 4096 MB (peak MB: the export alone, in a fresh process)")


if __name__ == "__main__":
    main()
