"""A short run of benchmarks/load.py: the app under gunicorn, concurrent clients, faults.

On the suite's database (a SQLite file by default; with TEST_DATABASE_URL on PostgreSQL, a
separate ``<test database>_load`` database on the same server), plus a private PostgreSQL that
is stopped mid-load. Asserts what must hold — nothing lost, nothing twice, nothing half
stored, no 5xx — and never anything about speed.
"""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from benchmarks import load


def _suite_db() -> tuple[str, str]:
    url = os.environ.get("TEST_DATABASE_URL", "")
    if url.startswith("postgres"):
        url = sa.make_url(url)  # a database of its own beside the suite's, as tests/test_backup.py does
        return "postgres", url.set(database=f"{url.database}_load").render_as_string(hide_password=False)
    return "sqlite", load.SHARED_PG_URL  # the PostgreSQL URL is unused for SQLite


def _server_log(line: str) -> None:
    """Keep quiet, except for the server's log, which the benchmark prints when it saw a 5xx."""
    if line.startswith("server log"):
        print(line)


def _assert_clean(report: load.Report) -> None:
    c = report.check
    summary = load.table(report)
    assert c.acknowledged > 0, summary
    assert (c.lost, c.duplicated, c.incomplete, c.without_answers, c.orphan_answers, c.unknown) == (0, 0, 0, 0, 0, 0), (
        summary
    )
    assert report.server_errors == 0, summary
    assert c.integrity in ("ok", "n/a"), summary


def test_load_with_kill_and_restart():
    """20 clients for 6 s, a fifth of them resending; gunicorn SIGKILLed at 2.4 s and started again
    only after 6 s down: a restart that ends after the planned load, as on a busy machine (18–22 s
    seen on two loaded cores). The clients go on until the restarted server has taken over."""
    db, pg_url = _suite_db()
    report = load.run(
        db=db,
        duration=6,
        clients=20,
        workers=2,
        retry_share=0.2,
        fault="kill",
        down=6,
        trivial_duration=1,
        pg_url=pg_url,
        log=_server_log,
    )
    _assert_clean(report)
    assert report.fault_notes.get("restart_s") is not None, load.table(report)
    assert report.resends > 0
    if db == "sqlite":
        assert report.check.integrity == "ok"
    # Acknowledged both before and after the kill: the restarted server took over.
    assert report.fault_notes["acknowledged_before_kill"] > 0, load.table(report)
    assert report.fault_notes["acknowledged_after_restart"] > 0, load.table(report)


def test_postgres_stopped_mid_load_gives_503_and_recovers():
    """A private PostgreSQL stopped for 3 s under load: 503 (never 500), then back without a restart."""
    if load.find_pg_bindir() is None:
        pytest.skip("initdb not found (install postgresql): the private PostgreSQL cannot be started")
    report = load.run(
        db="postgres",
        duration=6,
        clients=20,
        workers=2,
        retry_share=0.2,
        fault="pg-stop",
        trivial_duration=0,
        log=_server_log,
    )
    summary = load.table(report)
    _assert_clean(report)
    during = report.submit.outage_statuses
    assert during.get(500, 0) == 0, summary
    assert during.get(503, 0) > 0 or report.fault_notes.get("probe_status_during_outage") == 503, summary
    assert report.fault_notes.get("probe_status_during_outage") == 503, summary
    assert report.fault_notes.get("recovered_after_s") is not None, summary
    assert report.fault_notes.get("acknowledged_after_restart") in (200, 201), summary
