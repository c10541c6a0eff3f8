"""Stateless web hosts: two gunicorn processes and two job workers on one PostgreSQL and one
Redis share sessions, jobs and rate limits; and ``GET /healthz``, which their checks poll."""

from __future__ import annotations

import csv
import io
import os
import re
import uuid

import pytest
import redis

from deploy.processes import app_env, start_web, start_worker
from deploy.prod_check import Site, remove_redis_keys
from feedback import create_app
from tests.conftest import PASSWORD, _config, redis_url

from .test_api import body

# Redis for these tests: a database of its own (only this run's keys are written and removed).
REDIS_URL = os.environ.get("TEST_REDIS_URL") or redis_url(4)
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


def _redis_or_fail() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        pytest.fail(f"these tests need Redis at {REDIS_URL} (TEST_REDIS_URL): {exc}")


# ---- /healthz --------------------------------------------------------------------------------


def test_healthz_reports_the_database_and_schema(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    assert r.get_json() == {"status": "ok", "database": "ok", "schema": r.get_json()["schema"], "redis": "not used"}
    assert r.get_json()["schema"].startswith("00")


@pytest.mark.parametrize("setting", ["RATELIMIT_STORAGE_URI", "REDIS_URL"])
def test_healthz_checks_redis_when_the_host_uses_it(app, setting):
    _redis_or_fail()
    extra = {"JOB_QUEUE": "rq"} if setting == "REDIS_URL" else {}
    app.config.update({setting: REDIS_URL, **extra})
    assert app.test_client().get("/healthz").get_json()["redis"] == "ok"
    app.config.update({setting: UNREACHABLE_REDIS})
    r = app.test_client().get("/healthz")
    assert r.status_code == 503
    assert r.get_json() | {"schema": None} == {
        "status": "unavailable",
        "database": "ok",
        "schema": None,
        "redis": "unavailable",
    }


def test_healthz_is_503_without_the_database(tmp_path):
    down = create_app(_config(f"sqlite:///{tmp_path / 'no-such-folder' / 'db.sqlite'}"))
    r = down.test_client().get("/healthz")
    assert r.status_code == 503 and r.get_json()["database"] == "unavailable"
    empty = create_app(_config(f"sqlite:///{tmp_path / 'empty.sqlite'}"))
    r = empty.test_client().get("/healthz")
    assert r.status_code == 503 and r.get_json()["database"] == "not migrated"


def test_static_urls_carry_a_content_version(app):
    with app.test_request_context():
        from flask import url_for

        url = url_for("static", filename="survey.js")
        assert re.fullmatch(r"/static/survey\.js\?v=[0-9a-f]{12}", url)
        assert url_for("static", filename="no-such-file.js") == "/static/no-such-file.js"
    with app.test_client().get(url) as r:
        assert r.status_code == 200


# ---- two hosts, two workers --------------------------------------------------------------------


def test_two_hosts_share_sessions_jobs_and_rate_limits(app, database_url, users):
    if not database_url.startswith("postgresql"):
        pytest.skip(
            "several hosts need a database server: SQLite is one host's file (TEST_DATABASE_URL=postgresql://…)"
        )
    _redis_or_fail()
    run = uuid.uuid4().hex[:10]
    env = app_env(
        database_url,
        SECRET_KEY=f"one-key-for-every-host-{uuid.uuid4().hex}",
        BASE_URL="http://127.0.0.1",
        FLASK_RATELIMIT_STORAGE_URI=REDIS_URL,
        FLASK_RATELIMIT_KEY_PREFIX=f"test-hosts-{run}",
        FLASK_LOGIN_LIMIT="3 per minute",
        FLASK_API_SUBMIT_LIMIT="1000 per minute",
        # Five responses in a row from one address are not a burst to flag here.
        FLASK_QUALITY_BURST_DEVICE="1000",
        FLASK_QUALITY_BURST_NETWORK="1000",
        FLASK_JOB_QUEUE="rq",
        REDIS_URL=REDIS_URL,
        FLASK_JOB_RQ_QUEUE=f"test-hosts-{run}",
    )
    services = []
    try:
        (host_a, base_a), (host_b, base_b) = start_web(env), start_web(env)
        services += [host_a, host_b, start_worker(env, "worker-1"), start_worker(env, "worker-2")]
        a = Site(base_a, address="127.0.0.1")

        # Citizens' responses through A, for the export.
        for _ in range(5):
            assert a.http.post(base_a + "/api/v1/responses", json=body(), timeout=60).status_code == 201

        # A session made on A is good on B.
        assert a.login(users["analyst"]["email"], PASSWORD).status_code == 302
        b = a.on(base_b)
        assert b.get("/analyst/exports").status_code == 200
        assert Site(base_b).get("/analyst/exports").status_code == 302  # no session: the log-in page

        # An export started on A: its progress and its file on B, whichever worker ran it.
        started = a.start_export(kind="responses", fmt="csv")
        assert started.status_code == 303, started.text[:500]
        job_url = started.headers["Location"]
        assert "<progress" in b.get(job_url).text or "download" in b.get(job_url).text
        final = b.wait_for_job(job_url)
        assert final["status"] == "done" and final["rows_done"] == final["rows_total"] == 5, final
        download = b.get(final["download_url"])
        assert download.status_code == 200
        assert len(list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))) == 5

        # Failed log-ins from one address are counted across hosts: 3 per minute in all.
        outsider = Site(base_a, address="127.0.0.1")
        statuses = [
            outsider.on(base).login("nobody@laocai.gov.vn", "wrong password 1").status_code
            for base in (base_a, base_b, base_a, base_b)
        ]
        assert statuses == [401, 401, 401, 429], statuses
        outputs = [s.output() for s in services]
        assert not any("Traceback" in out for out in outputs), "\n".join(o[-3000:] for o in outputs)
    finally:
        for service in reversed(services):
            service.stop()
        remove_redis_keys(env)
