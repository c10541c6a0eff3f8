"""Background jobs: exports started from the pages, run by the embedded pool or a real RQ worker
(Redis db 1), their progress, files, expiry, failures and who may see them."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from redis import Redis

from feedback.extensions import db
from feedback.jobs import start_job
from feedback.jobs.store import CHUNK_BYTES, ProgressWriter
from feedback.models import AuditEvent, Job, JobFileChunk, User, utcnow
from tests import job_app  # noqa: F401 (registers the test job kinds)
from tests.conftest import AuthActions, csrf_token, redis_url
from tests.test_bridge import seed

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = redis_url(1)  # this suite's Redis database
DEADLINE = 120  # seconds: generous for a busy 2-core machine; the tests poll, never sleep blindly


def wait_for(check, *, what: str, deadline: float = DEADLINE):
    """Poll ``check()`` until it returns something truthy; fail after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def poll_until_finished(client, job_url: str) -> list[dict]:
    """Every JSON state the progress endpoint gave until the job ended."""
    seen: list[dict] = []

    def finished():
        state = client.get(f"{job_url}.json").get_json()
        seen.append(state)
        return state["status"] in ("done", "failed")

    wait_for(finished, what=f"{job_url} to finish")
    return seen


def start_export(client, **fields):
    token = csrf_token(client, "/analyst/exports")
    return client.post("/analyst/exports", data={"csrf_token": token, **fields})


def export_file(client, **fields):
    """Start an export through the page, wait for it, and download it: the file's response."""
    r = start_export(client, **fields)
    assert r.status_code == 303, r.get_data(as_text=True)
    final = poll_until_finished(client, r.headers["Location"])[-1]
    assert final["status"] == "done", final
    return client.get(final["download_url"])


def job_row(app, job_id: str) -> Job:
    with app.app_context():
        job = db.session.get(Job, job_id)
        db.session.expunge(job)
        return job


def chunk_count(app, job_id: str) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(sa.func.count()).select_from(JobFileChunk).where(JobFileChunk.job_id == job_id)
        )


def wait_in_app(app, job_id: str) -> Job:
    def finished():
        job = job_row(app, job_id)
        return job if job.status in ("done", "failed") else None

    return wait_for(finished, what=f"job {job_id}")


@pytest.fixture
def analyst(client, auth, users):
    auth.login(users["analyst"]["email"])
    return client


def test_a_status_poll_without_a_session_gets_a_401_in_json_and_a_page_the_log_in(client):
    """A script asking for JSON learns that the session ended (in the reader's language); a
    browser asking for the page is sent to the log-in page and back."""
    url = f"/analyst/exports/{'a' * 32}.json"
    polled = client.get(url + "?lang=en", headers={"Accept": "application/json"})
    assert polled.status_code == 401 and polled.is_json
    assert polled.get_json()["errors"][0]["message"] == "Your session has ended. Please log in again."
    assert polled.get_json()["login_url"] == "/login"
    vi = client.get(url + "?lang=vi", headers={"Accept": "application/json"}).get_json()
    assert "đăng nhập" in vi["errors"][0]["message"]
    page = client.get(f"/analyst/exports/{'a' * 32}", headers={"Accept": "text/html,*/*;q=0.8"})
    assert page.status_code == 302 and "/login?next=" in page.headers["Location"]
    assert client.get(url).status_code == 302  # no preference stated (curl): the page's answer


# ---- through the pages, embedded runner ----------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx", "dta"])
def test_an_export_counts_the_rows_of_its_data_in_every_format(app, analyst, fmt):
    """Found by a user's walk: the XLSX file counted its codebook sheet's rows among the
    responses (20,352 rows against 20,260 as CSV)."""
    seed(app, own=8, other=3, flagged=1)
    r = start_export(analyst, kind="responses", fmt=fmt, **{"from": "2025-08-01", "to": "2025-08-31"})
    states = poll_until_finished(analyst, r.headers["Location"])
    assert states[-1]["status"] == "done"
    assert all(s["rows_total"] in (None, 11) for s in states) and states[-1]["rows_done"] == 11


def test_a_response_export_runs_in_the_background_and_downloads_every_row(app, analyst):
    ids = seed(app, own=8, other=3, flagged=1)
    r = start_export(analyst, kind="responses", fmt="csv", **{"from": "2025-08-01", "to": "2025-08-31"})
    assert r.status_code == 303
    job_url = r.headers["Location"]
    assert job_url.startswith("/analyst/exports/")
    page = analyst.get(job_url).get_data(as_text=True)
    if "<progress" in page and 'http-equiv="refresh"' not in page:
        pytest.fail("an unfinished job's page must refresh itself")
    states = poll_until_finished(analyst, job_url)
    final = states[-1]
    assert final["status"] == "done" and final["rows_done"] == final["rows_total"] == 11
    done = [s["rows_done"] for s in states]
    assert done == sorted(done)  # progress never goes back
    page = analyst.get(job_url).get_data(as_text=True)
    assert final["download_url"] in page and "responses-codebook_all-surveys.csv" in page
    assert 'http-equiv="refresh"' not in page
    download = analyst.get(final["download_url"])
    assert download.status_code == 200 and download.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        download.headers["Content-Disposition"] == 'attachment; filename="responses_lao-cai_2025-08-01_2025-08-31.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(download.get_data().decode("utf-8-sig"))))
    assert len(rows) == len(ids["own"]) + len(ids["other"]) == 11  # the flagged one is left out
    assert sorted(int(r["export_id"]) for r in rows) == list(range(1, 12))
    assert int(download.headers["Content-Length"]) == len(download.get_data())
    codebook = analyst.get("/analyst/exports/codebook.csv")
    assert codebook.status_code == 200 and b"question_id" in codebook.data
    assert codebook.headers["Content-Disposition"] == 'attachment; filename="responses-codebook_all-surveys.csv"'
    listing = analyst.get("/analyst/exports").get_data(as_text=True)
    assert final["download_url"] in listing


def test_a_score_export_job_gives_the_rows_of_the_scores_api(app, analyst):
    seed(app)
    r = start_export(analyst, kind="scores", fmt="json", level="commune", **{"from": "2025-08-01", "to": "2025-08-31"})
    final = poll_until_finished(analyst, r.headers["Location"])[-1]
    assert final["status"] == "done"
    document = json.loads(analyst.get(final["download_url"]).get_data())
    expected = analyst.get("/api/v1/scores?from=2025-08-01&to=2025-08-31").get_json()
    assert len(document["rows"]) == len(expected["rows"]) == final["rows_total"]
    assert document["rows"] == expected["rows"]


def test_exports_are_audited_when_requested(app, client, auth, users):
    auth.login(users["admin"]["email"])
    r = start_export(client, kind="scores", fmt="xlsx", level="province", **{"from": "2025-08-01"})
    poll_until_finished(client, r.headers["Location"])
    r = start_export(client, kind="responses", fmt="xlsx")
    poll_until_finished(client, r.headers["Location"])
    with app.app_context():
        events = db.session.execute(
            sa.select(AuditEvent.target, AuditEvent.detail, AuditEvent.user_id).where(
                AuditEvent.action == "data_exported"
            )
        ).all()
    assert sorted(e.target for e in events) == ["responses xlsx", "scores province xlsx"]
    assert {e.user_id for e in events} == {users["admin"]["id"]}
    assert any(json.loads(e.detail)["from"] == "2025-08-01" for e in events)


def test_another_users_job_is_404_but_an_admin_sees_it(app, client, analyst, users, password_hash):
    r = start_export(analyst, kind="scores", fmt="csv")
    job_url = r.headers["Location"]
    final = poll_until_finished(analyst, job_url)[-1]
    with app.app_context():
        db.session.add(User(email="analyst2@laocai.test", role="analyst", password_hash=password_hash))
        db.session.commit()
    other = app.test_client()
    AuthActions(other).login("analyst2@laocai.test")
    for url in (job_url, f"{job_url}.json", final["download_url"]):
        assert other.get(url).status_code == 404, url
    assert job_url not in other.get("/analyst/exports").get_data(as_text=True)
    admin = app.test_client()
    AuthActions(admin).login(users["admin"]["email"])
    assert admin.get(final["download_url"]).status_code == 200
    officer = app.test_client()
    AuthActions(officer).login(users["officer"]["email"])
    assert officer.get(job_url).status_code == 403
    assert analyst.get("/analyst/exports/" + "0" * 32).status_code == 404


@pytest.mark.parametrize("query", ["from=2026-13-01", "from=garbage", "to=1/8/2025", "from=2026-12-01&to=2025-01-01"])
def test_a_bad_period_is_a_400_with_the_form_kept(app, analyst, query):
    fields = dict(pair.split("=") for pair in query.split("&"))
    r = start_export(analyst, kind="responses", fmt="dta", **fields)
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and r.mimetype == "text/html"
    assert '<html lang="vi">' in html  # Vietnamese first; the message names what is wrong
    alert = re.search(r'role="alert">(.*?)</p>', html).group(1)
    assert all(value in alert for value in fields.values()) and "ngày" in alert.lower()
    for value in fields.values():
        assert f'value="{value}"' in html
    assert 'value="responses" checked' in html and '<option value="dta" selected' in html
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "responses", "fmt": "json"},
        {"kind": "everything", "fmt": "csv"},
        {"kind": "scores", "fmt": "csv", "level": "district"},
        {"kind": "scores"},
    ],
)
def test_an_export_that_cannot_be_made_is_a_400(app, analyst, fields):
    r = start_export(analyst, **fields)
    assert r.status_code == 400 and "định dạng" in r.get_data(as_text=True)


def test_starting_an_export_needs_the_csrf_token(app, analyst):
    assert analyst.post("/analyst/exports", data={"kind": "scores", "fmt": "csv"}).status_code == 400


@pytest.mark.parametrize(
    "old",
    [
        "/analyst/export/scores.csv?from=2025-08-01",
        "/analyst/export/responses.xlsx",
        "/analyst/export/responses.csv",
        "/analyst/export/scores.pdf?from=garbage",
    ],
)
def test_old_download_links_lead_to_the_export_page(app, analyst, old):
    r = analyst.get(old)
    assert r.status_code == 302 and r.headers["Location"].startswith("/analyst/exports?")
    page = analyst.get(r.headers["Location"])
    assert page.status_code == 200 and 'name="csrf_token"' in page.get_data(as_text=True)


def test_the_province_page_starts_exports_with_a_form(app, analyst):
    html = analyst.get("/analyst/?from=2025-08-01").get_data(as_text=True)
    assert 'action="/analyst/exports"' in html and 'method="post"' in html and 'value="2025-08-01"' in html
    assert "/analyst/export/" not in html


def test_the_progress_script_is_a_static_file(app, analyst):
    r = start_export(analyst, kind="scores", fmt="csv")
    html = analyst.get(r.headers["Location"]).get_data(as_text=True)
    poll_until_finished(analyst, r.headers["Location"])
    if "export_progress.js" in html:  # only while the job runs
        assert "<script>" not in html
    with analyst.get("/static/export_progress.js") as script:
        assert script.status_code == 200 and b"fetch(" in script.data


# ---- the runner itself ------------------------------------------------------------------------


def test_a_large_file_is_stored_in_chunks_and_streamed_back_whole(app, analyst, users):
    n = (2 * CHUNK_BYTES + 1000) // job_app.LINE_BYTES
    with app.test_request_context():
        job = start_job("test_lines", {"n": n}, user_id=users["analyst"]["id"]).id
    job = wait_in_app(app, job)
    assert job.status == "done" and job.size_bytes == n * job_app.LINE_BYTES
    assert chunk_count(app, job.id) == 3
    download = analyst.get(f"/analyst/exports/{job.id}/download")
    assert download.status_code == 404  # not an export: not on the export pages
    with app.app_context():
        from feedback.jobs.store import file_chunks

        chunks = list(file_chunks(job.id))
    data = b"".join(chunks)
    assert [len(c) for c in chunks] == [CHUNK_BYTES, CHUNK_BYTES, len(data) - 2 * CHUNK_BYTES]
    assert data.splitlines()[-1] == b"%07d" % (n - 1) and len(data.splitlines()) == n


def test_progress_is_written_a_bounded_number_of_times_and_only_forwards(app, users):
    with app.app_context():
        job = Job(id=uuid.uuid4().hex, kind="test_lines", params="{}", status="running", user_id=users["analyst"]["id"])
        db.session.add(job)
        db.session.commit()
        progress = ProgressWriter(job.id)
        total = 200_000
        for done in range(0, total + 1, 7):
            progress(done, total)
        progress(5, total)  # a late, smaller count never moves the bar back
        progress(total, total)
        db.session.refresh(job)
        assert job.rows_done == job.rows_total == total
        assert progress.writes <= 102


def test_a_failing_handler_fails_its_job_with_a_message_and_the_next_job_runs(app, users, client, auth):
    auth.login(users["analyst"]["email"])
    with app.test_request_context():
        failing = start_job("test_fail", {}, user_id=users["analyst"]["id"]).id
        after = start_job("test_lines", {"n": 10}, user_id=users["analyst"]["id"]).id
    failed = wait_in_app(app, failing)
    assert failed.status == "failed" and failed.error == "failed: RuntimeError: the handler broke"
    assert chunk_count(app, failing) == 0
    assert wait_in_app(app, after).status == "done"


def test_a_failed_export_shows_a_message_in_the_users_language(app, analyst, users):
    seed(app)
    r = start_export(analyst, kind="scores", fmt="csv")
    job_id = r.headers["Location"].rsplit("/", 1)[1]
    poll_until_finished(analyst, r.headers["Location"])
    with app.app_context():  # as if it had failed
        db.session.execute(
            sa.update(Job).where(Job.id == job_id).values(status="failed", error="failed: KeyError: 'x'")
        )
        db.session.commit()
    html = analyst.get(r.headers["Location"]).get_data(as_text=True)
    assert "Xuất dữ liệu không thành công" in html and "KeyError" not in html and "Traceback" not in html
    state = analyst.get(r.headers["Location"] + ".json?lang=en").get_json()
    assert state["status"] == "failed" and state["download_url"] is None and "export failed" in state["error"]


def test_an_expired_file_is_gone_and_purged(app, analyst, runner):
    r = start_export(analyst, kind="scores", fmt="csv")
    job_url = r.headers["Location"]
    final = poll_until_finished(analyst, job_url)[-1]
    job_id = job_url.rsplit("/", 1)[1]
    job = job_row(app, job_id)
    assert job.expires_at - job.finished_at == timedelta(hours=24)
    assert chunk_count(app, job_id) >= 1
    result = runner.invoke(args=["purge-jobs"])
    assert result.exit_code == 0 and "0 expired files removed" in result.output
    with app.app_context():  # a day later
        db.session.execute(sa.update(Job).where(Job.id == job_id).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert analyst.get(final["download_url"]).status_code == 404
    assert analyst.get(f"{job_url}.json").get_json()["download_url"] is None
    assert "removed" in analyst.get(f"{job_url}?lang=en").get_data(as_text=True)
    result = runner.invoke(args=["purge-jobs"])
    assert result.exit_code == 0 and "1 expired files removed" in result.output
    assert chunk_count(app, job_id) == 0


def test_a_tiny_keep_time_removes_the_file_when_the_next_job_starts(app, analyst):
    app.config["EXPORT_KEEP_HOURS"] = 1e-9
    first = start_export(analyst, kind="scores", fmt="csv").headers["Location"]
    poll_until_finished(analyst, first)
    first_id = first.rsplit("/", 1)[1]
    wait_for(lambda: job_row(app, first_id).expires_at < utcnow(), what="the keep time to pass")
    second = start_export(analyst, kind="scores", fmt="csv").headers["Location"]
    poll_until_finished(analyst, second)
    assert chunk_count(app, first_id) == 0  # purged when the second job started


def test_a_job_whose_worker_died_is_failed_after_the_timeout(app, analyst, users, runner):
    with app.app_context():
        long_ago = utcnow() - timedelta(minutes=61)
        for job_id, status in (("a" * 32, "running"), ("b" * 32, "queued")):
            db.session.add(
                Job(
                    id=job_id,
                    kind="export_scores",
                    params='{"fmt": "csv"}',
                    status=status,
                    user_id=users["analyst"]["id"],
                    created_at=long_ago,
                    started_at=long_ago if status == "running" else None,
                )
            )
        db.session.add(
            Job(
                id="c" * 32,
                kind="export_scores",
                params='{"fmt": "csv"}',
                status="running",
                user_id=users["analyst"]["id"],
                started_at=utcnow(),
            )
        )
        db.session.commit()
    state = analyst.get(f"/analyst/exports/{'a' * 32}.json?lang=en").get_json()
    assert state["status"] == "failed" and "worker ended" in state["error"]
    assert job_row(app, "b" * 32).status == "failed"  # every stale job at once
    assert job_row(app, "c" * 32).status == "running"
    assert "0 lost jobs" in runner.invoke(args=["purge-jobs"]).output


def test_a_queue_that_cannot_be_reached_fails_the_job_with_a_message(app, analyst):
    app.config.update(JOB_QUEUE="rq", REDIS_URL="redis://127.0.0.1:5639/1")  # nothing listens there
    r = start_export(analyst, kind="scores", fmt="csv")
    assert r.status_code == 303
    state = analyst.get(r.headers["Location"] + ".json?lang=en").get_json()
    assert state["status"] == "failed" and "could not be queued" in state["error"]


def test_the_worker_command_refuses_the_embedded_mode(app, runner):
    result = runner.invoke(args=["worker", "--burst"])
    assert result.exit_code == 1 and "JOB_QUEUE" in result.output


# ---- a real RQ worker over Redis ----------------------------------------------------------------


@pytest.fixture
def rq_app(app, database_url):
    """The app queueing into a fresh queue of Redis db 1; the queue's keys are removed after."""
    redis = Redis.from_url(REDIS_URL)
    try:
        redis.ping()
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"these tests need Redis at {REDIS_URL}: {exc}")
    queue = f"test-jobs-{uuid.uuid4().hex[:12]}"
    app.config.update(JOB_QUEUE="rq", REDIS_URL=REDIS_URL, JOB_RQ_QUEUE=queue)
    yield app
    with app.app_context():
        ids = db.session.scalars(sa.select(Job.id)).all()
    keys = [k for pattern in (f"*{queue}*",) for k in redis.scan_iter(pattern)]
    keys += [f"rq:job:{i}" for i in ids] + [f"rq:results:{i}" for i in ids]
    if keys:
        redis.delete(*keys)
    redis.close()


def run_worker(app, database_url: str) -> subprocess.CompletedProcess:
    """`flask worker --burst` in its own process, on the test database and queue."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "FLASK_JOB_QUEUE": "rq",
        "REDIS_URL": REDIS_URL,
        "FLASK_JOB_RQ_QUEUE": app.config["JOB_RQ_QUEUE"],
        "SECRET_KEY": "test-secret-for-the-worker-process",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("FLASK_ENV_NAME", None)
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "tests.job_app:create_app", "worker", "--burst"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )


def test_an_rq_worker_runs_the_export_and_survives_failures(rq_app, database_url, client, auth, users):
    app = rq_app
    ids = seed(app)
    auth.login(users["analyst"]["email"])
    with app.test_request_context():
        failing = start_job("test_fail", {}, user_id=users["analyst"]["id"]).id
    r = start_export(client, kind="responses", fmt="csv")
    job_url = r.headers["Location"]
    state = client.get(f"{job_url}.json").get_json()
    assert state["status"] == "queued"  # nobody has run it yet: the web process did not
    assert 'http-equiv="refresh"' in client.get(job_url).get_data(as_text=True)
    worker = run_worker(app, database_url)
    assert worker.returncode == 0, worker.stderr
    final = client.get(f"{job_url}.json").get_json()
    assert final["status"] == "done" and final["rows_done"] == final["rows_total"] == len(ids["own"]) + len(
        ids["other"]
    )
    rows = list(csv.DictReader(io.StringIO(client.get(final["download_url"]).get_data().decode("utf-8-sig"))))
    assert len(rows) == len(ids["own"]) + len(ids["other"])
    failed = job_row(app, failing)
    assert failed.status == "failed" and failed.error.startswith("failed: RuntimeError")


def test_a_killed_rq_work_horse_fails_its_job_and_the_worker_goes_on(rq_app, database_url, users):
    app = rq_app
    with app.test_request_context():
        crashing = start_job("test_crash", {}, user_id=users["analyst"]["id"]).id
        after = start_job("test_lines", {"n": 5000}, user_id=users["analyst"]["id"]).id
    worker = run_worker(app, database_url)
    assert worker.returncode == 0, worker.stderr
    crashed = job_row(app, crashing)
    assert crashed.status == "failed" and crashed.error.startswith("lost:")
    done = job_row(app, after)
    assert done.status == "done" and done.rows_done == done.rows_total == 5000
    assert done.size_bytes == 5000 * job_app.LINE_BYTES


# ---- the command line -----------------------------------------------------------------------------


def test_the_cli_draws_progress_only_on_a_terminal(app, database_url, runner, tmp_path):
    import pty

    seed(app)
    plain = runner.invoke(args=["export-scores", "-o", str(tmp_path / "plain.csv")])  # not a terminal
    assert plain.exit_code == 0 and "rows written" in plain.output and "%" not in plain.output
    leader, follower = pty.openpty()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-for-the-cli-process",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("FLASK_ENV_NAME", None)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "export-scores", "-o", str(tmp_path / "tty.csv")],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=follower,
            timeout=DEADLINE,
        )
    finally:
        os.close(follower)
    drawn = b""
    while True:
        try:
            piece = os.read(leader, 65536)
        except OSError:  # EIO: the terminal has no writer left
            break
        if not piece:
            break
        drawn += piece
    os.close(leader)
    assert done.returncode == 0, drawn
    assert b"rows" in drawn and b"100%" in drawn
    assert (tmp_path / "tty.csv").read_bytes() == (tmp_path / "plain.csv").read_bytes()


def test_a_failed_cli_export_leaves_no_half_file(app, runner, tmp_path):
    out = tmp_path / "x.csv"
    result = runner.invoke(args=["export-scores", "--from", "2025-09-01", "--to", "2025-08-01", "-o", str(out)])
    assert result.exit_code == 1 and not out.exists() and list(tmp_path.iterdir()) == []


def test_purging_deletes_old_job_rows_but_keeps_recent_and_unfinished_ones(app, runner):
    now = utcnow()
    rows = {
        "old_export": ("export_scores", "done", now - timedelta(days=31)),
        "recent_export": ("export_scores", "failed", now - timedelta(days=29)),
        "old_refresh": ("refresh_scores", "done", now - timedelta(days=2)),
        "recent_refresh": ("refresh_scores", "done", now - timedelta(hours=1)),
        "running": ("export_scores", "running", None),
    }
    with app.app_context():
        for name, (kind, status, finished) in rows.items():
            db.session.add(
                Job(
                    id=name.ljust(32, "0"),
                    kind=kind,
                    status=status,
                    params="{}",
                    created_at=now - timedelta(days=40),
                    finished_at=finished,
                )
            )
        db.session.commit()
    assert runner.invoke(args=["purge-jobs"]).exit_code == 0
    with app.app_context():
        left = set(db.session.scalars(sa.select(Job.id)))
    assert left == {name.ljust(32, "0") for name in ("recent_export", "recent_refresh", "running")}


@pytest.mark.parametrize("output", ["-", "no-such-folder/x.csv"])
def test_an_export_to_standard_output_or_a_missing_folder_is_refused_clearly(
    app, runner, tmp_path, monkeypatch, output
):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(args=["export-scores", "-o", output])
    assert result.exit_code != 0 and "Error:" in result.output and not isinstance(result.exception, OSError)
    assert list(tmp_path.iterdir()) == []


# ---- file names ----------------------------------------------------------------------------------


def _every_export() -> list[dict]:
    """The parameters of every kind of export a page or the CLI can start, over every format and period."""
    from feedback.exports import RESPONSE_FORMATS, SCORE_FORMATS

    periods = [{}, {"from": "2026-01-01"}, {"to": "2026-03-31"}, {"from": "2026-01-01", "to": "2026-03-31"}]
    out = []
    for period in periods:
        for province in ("15", "01", None):
            for fmt in SCORE_FORMATS:
                for level in ("commune", "province"):
                    for public in (False, True):
                        for structure in ("current", "2018"):
                            out.append(
                                {
                                    "kind": "scores",
                                    "fmt": fmt,
                                    "level": level,
                                    "public": public,
                                    "structure": structure,
                                    "province_code": province,
                                    **period,
                                }
                            )
            for fmt in RESPONSE_FORMATS:
                for flagged in (False, True):
                    out.append(
                        {
                            "kind": "responses",
                            "fmt": fmt,
                            "include_flagged": flagged,
                            "province_code": province,
                            **period,
                        }
                    )
    return out


def test_every_export_has_its_own_descriptive_ascii_file_name():
    from feedback.jobs.exports import CODEBOOK_FILE_NAME, export_file_name

    names = [export_file_name(params) for params in _every_export()]
    assert len(set(names)) == len(names)  # public and internal, levels, formats, periods, scopes all differ
    assert CODEBOOK_FILE_NAME not in names
    for name in [*names, CODEBOOK_FILE_NAME]:
        assert name.isascii() and re.fullmatch(r"[a-z0-9._-]+", name), name
    assert (
        export_file_name(
            {
                "kind": "scores",
                "fmt": "xlsx",
                "level": "commune",
                "public": False,
                "province_code": "15",
                "from": "2026-01-01",
                "to": "2026-03-31",
            }
        )
        == "papi-proxy-scores_internal_lao-cai_commune_2026-01-01_2026-03-31.xlsx"
    )
    assert (
        export_file_name(
            {
                "kind": "scores",
                "fmt": "xlsx",
                "level": "commune",
                "public": True,
                "province_code": "15",
                "from": "2026-01-01",
                "to": "2026-03-31",
            }
        )
        == "papi-proxy-scores_public_lao-cai_commune_2026-01-01_2026-03-31.xlsx"
    )
    assert export_file_name({"kind": "responses", "fmt": "csv", "province_code": "15"}) == "responses_lao-cai_all.csv"
    assert export_file_name({"kind": "responses", "fmt": "csv", "province_code": "01"}) == "responses_ha-noi_all.csv"


def test_a_non_ascii_download_name_gets_a_utf8_filename_star(app):
    from feedback.analyst.export_jobs import attachment

    assert attachment("responses_lao-cai_all.csv") == 'attachment; filename="responses_lao-cai_all.csv"'
    assert attachment("Lào Cai.csv") == ("attachment; filename=\"L_o Cai.csv\"; filename*=UTF-8''L%C3%A0o%20Cai.csv")


@pytest.mark.parametrize(("public", "word"), [("", "internal"), ("1", "public")])
def test_public_and_internal_score_downloads_have_different_names(app, analyst, public, word):
    seed(app)
    r = start_export(
        analyst, kind="scores", fmt="xlsx", level="commune", public=public, **{"from": "2025-08-01", "to": "2025-08-31"}
    )
    final = poll_until_finished(analyst, r.headers["Location"])[-1]
    download = analyst.get(final["download_url"])
    assert (
        download.headers["Content-Disposition"]
        == f'attachment; filename="papi-proxy-scores_{word}_lao-cai_commune_2025-08-01_2025-08-31.xlsx"'
    )


@pytest.mark.parametrize(
    ("command", "args", "names"),
    [
        ("export-scores", [], ["papi-proxy-scores_internal_lao-cai_commune_all.csv"]),
        (
            "export-scores",
            ["--public", "--format", "xlsx", "--from", "2025-08-01", "--to", "2025-08-31"],
            ["papi-proxy-scores_public_lao-cai_commune_2025-08-01_2025-08-31.xlsx"],
        ),
        (
            "export-scores",
            ["--level", "province", "--to", "2025-08-31", "--format", "dta"],
            ["papi-proxy-scores_internal_lao-cai_province_to-2025-08-31.dta"],
        ),
        (
            "export-responses",
            ["--from", "2025-08-01"],
            ["responses_all-provinces_from-2025-08-01.csv", "responses_all-provinces_from-2025-08-01.codebook.csv"],
        ),
    ],
)
def test_the_cli_names_its_files_by_content_when_no_file_is_given(
    app, runner, tmp_path, monkeypatch, command, args, names
):
    seed(app)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(args=[command, *args])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)
    folder = tmp_path / "out"
    folder.mkdir()
    assert runner.invoke(args=[command, *args, "-o", str(folder)]).exit_code == 0  # a folder: the same names in it
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)


def test_export_pages_name_formats_and_sizes_in_the_readers_style(app):
    """One number style per language on the export pages (683,9 kB beside 3.663 dòng), and the
    formats named as people call them (Parquet, not PARQUET)."""
    from flask_babel import force_locale

    from feedback.analyst.export_jobs import file_size, format_name

    with app.test_request_context():
        with force_locale("vi"):
            assert file_size(683_912) == "683,9 kB" and file_size(2_500_000) == "2,5 MB" and file_size(12) == "12 B"
        with force_locale("en"):
            assert file_size(683_912) == "683.9 kB"
    assert [format_name(f) for f in ("csv", "xlsx", "parquet", "dta", "json")] == [
        "CSV",
        "XLSX",
        "Parquet",
        "Stata (DTA)",
        "JSON",
    ]
