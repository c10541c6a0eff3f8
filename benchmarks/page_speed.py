"""Time the province page and a commune scorecard with a cold and a warm score cache, on SQLite or PostgreSQL.

Usage::

    .venv/bin/python benchmarks/page_speed.py                       # SQLite file in /tmp, 1 M responses
    .venv/bin/python benchmarks/page_speed.py --db postgres --url postgresql://postgres@127.0.0.1:5432/h_pages_bench
    .venv/bin/python benchmarks/page_speed.py --sizes 100000 --reuse  # keep the database of an earlier run

Responses are generated and bulk-inserted set-wise by ``benchmarks/export_speed.py``'s generator
(≈10 answers each over Lào Cai's 99 communes). Pages are requested through the Flask test
client as a logged-in analyst, so the figures are the server's time for the whole page
(cache lookup or computation, then rendering). Cold: the score cache emptied before the
request, so the page reads and scores the period. Warm: the median of 7 further requests.
Beside them, the same run's baseline: the computation alone (bridge read + scoring), the work
the cache saves.

Goal (issue #13): province page and scorecard ≤ 300 ms with a warm cache at 1 M responses.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.export_speed import generate, insert, prepare_database  # noqa: E402

PAGES = {"province page": "/analyst/?code=total", "scorecard": "/analyst/c/04465"}
EMAIL, PASSWORD = "bench-analyst@example.org", "bench-analyst-Passw0rd-Lao-Cai-2025"


def _app(url: str):
    from feedback import create_app

    # Cold: computed in the request whatever the size (the app would hand a big scope to a job
    # and answer "being computed", so the warm requests would time that page instead).
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": url,
            "RATELIMIT_ENABLED": False,
            "WTF_CSRF_ENABLED": False,
            "SCORES_INLINE_MAX_RESPONSES": 10**12,
        }
    )


def _logged_in(app):
    from feedback.auth import create_user, find_user
    from feedback.extensions import db

    with app.app_context():
        if find_user(EMAIL) is None:
            create_user(EMAIL, "analyst", PASSWORD)
            db.session.commit()
    client = app.test_client()
    response = client.post("/login", data={"email": EMAIL, "password": PASSWORD})
    if response.status_code not in (302, 303):
        raise SystemExit(f"login failed: {response.status_code}")
    return client


def _get(client, path: str) -> float:
    t0 = time.perf_counter()
    response = client.get(path)
    elapsed = time.perf_counter() - t0
    if response.status_code != 200:
        raise SystemExit(f"{path}: {response.status_code}")
    return elapsed


def measure(url: str) -> None:
    import sqlalchemy as sa

    from feedback import score_cache
    from feedback.bridge import load_analysis_input
    from feedback.exports import commune_scores
    from feedback.extensions import db
    from feedback.models import ScoreCache

    app = _app(url)
    client = _logged_in(app)
    with app.app_context():
        t0 = time.perf_counter()
        data = load_analysis_input(province_code="15")
        commune_scores(data, structure="current")
        baseline = time.perf_counter() - t0
        respondents = len(data.respondents)
        del data
    print(f"  {respondents:,} responses; baseline, read + score once: {baseline:.2f} s")
    for name, path in PAGES.items():
        with app.app_context():
            db.session.execute(sa.delete(ScoreCache))
            db.session.commit()
        computed = score_cache.stats["computed"]
        cold = _get(client, path)
        warm = [_get(client, path) for _ in range(7)]
        assert score_cache.stats["computed"] == computed + 1, "a warm request recomputed"
        print(
            f"  {name:<14} cold {cold * 1000:7.0f} ms   warm median {statistics.median(warm) * 1000:5.0f} ms "
            f"(min {min(warm) * 1000:.0f}, max {max(warm) * 1000:.0f})",
            flush=True,
        )
    with app.app_context():
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--url", help="database URL (default: a SQLite file in /tmp, or h_pages_bench)")
    parser.add_argument("--sizes", default="1000000", help="comma-separated response totals, measured at each")
    parser.add_argument("--reuse", action="store_true", help="measure the database as it is (no generation)")
    args = parser.parse_args()
    url = args.url or (
        "postgresql://postgres@127.0.0.1:5432/h_pages_bench"
        if args.db == "postgres"
        else "sqlite:////tmp/feedback_page_bench.sqlite"
    )
    print(f"database: {url.split('@')[-1]}")
    if args.reuse:
        measure(url)
        return
    prepare_database(url)
    app = _app(url)
    with app.app_context():
        from feedback.extensions import db
        from feedback.models import Commune

        communes = list(db.session.scalars(db.select(Commune.code).where(Commune.province_code == "15")))
        db.engine.dispose()
    done = 0
    for batch, total in enumerate(int(s) for s in args.sizes.split(",")):
        t0 = time.perf_counter()
        responses, answers = generate(total - done, batch + 1, communes, seed=batch)
        insert(url, responses, answers)
        del responses, answers
        done = total
        print(f"\n{total:,} responses generated and inserted in {time.perf_counter() - t0:.1f} s", flush=True)
        measure(url)
    print("goal: pages <= 300 ms with a warm cache at 1 M responses")


if __name__ == "__main__":
    main()
