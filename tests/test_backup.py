"""``flask backup`` / ``flask restore``: a backup taken under live submissions holds every response
acknowledged before it began, and restores into a fresh database at the migrations' head."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid

import pytest
import requests
import sqlalchemy as sa

from deploy.processes import app_env, flask, recreate_pg_database, start_web, wait_until
from feedback.backup import backup_kind, plan_restore
from feedback.extensions import db
from feedback.models import Job, JobFileChunk

from .test_api import body


class Submitter(threading.Thread):
    """Posts responses to the JSON API one after another; records when each was acknowledged."""

    def __init__(self, base: str):
        super().__init__(daemon=True)
        self.base = base
        self.acknowledged: list[tuple[float, str]] = []  # (monotonic time of the 2xx, response id)
        self.refused: list[int] = []
        self.errors: list[str] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        with requests.Session() as http:
            while not self.stopping.is_set():
                sent = body()
                try:
                    r = http.post(self.base + "/api/v1/responses", json=sent, timeout=30)
                except requests.RequestException as exc:
                    self.errors.append(repr(exc))
                    continue  # not acknowledged: need not be in any backup
                if 200 <= r.status_code < 300:
                    self.acknowledged.append((time.monotonic(), sent["id"]))
                else:
                    self.refused.append(r.status_code)

    def acknowledged_between(self, start: float, end: float) -> set[str]:
        return {rid for at, rid in list(self.acknowledged) if start <= at < end}


def _restore_url(database_url: str, tmp_path) -> str:
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'restored.sqlite'}"
    url = sa.make_url(database_url)
    restored = url.set(database=f"{url.database}_restore").render_as_string(hide_password=False)
    recreate_pg_database(restored)
    return restored


def _stored(url: str) -> tuple[set[str], int, int]:
    """(response ids, responses without answers, job rows) in the database at ``url``."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            ids = {str(uuid.UUID(str(r))) for r in conn.exec_driver_sql("SELECT id FROM response").scalars()}
            bare = conn.exec_driver_sql(
                "SELECT count(*) FROM response r WHERE NOT EXISTS (SELECT 1 FROM answer a WHERE a.response_id = r.id)"
            ).scalar()
            jobs = conn.exec_driver_sql("SELECT count(*) FROM job").scalar()
    finally:
        engine.dispose()
    return ids, bare, jobs


def test_backup_under_load_restores_every_acknowledged_response(app, database_url, tmp_path):
    with app.app_context():  # an export file: left out of backups (it expires and can be made again)
        db.session.add(Job(id=uuid.uuid4().hex, kind="export_scores", status="done"))
        db.session.flush()
        db.session.add(JobFileChunk(job_id=db.session.scalars(sa.select(Job.id)).one(), seq=0, data=b"x" * 1000))
        db.session.commit()
    env = app_env(
        database_url, SECRET_KEY=uuid.uuid4().hex, BASE_URL="http://127.0.0.1", FLASK_RATELIMIT_ENABLED="false"
    )
    server, base = start_web(env)
    submitter = Submitter(base)
    try:
        submitter.start()
        try:
            wait_until(lambda: len(submitter.acknowledged) >= 20, timeout=120, what="20 responses acknowledged")
        except RuntimeError as exc:
            raise AssertionError(
                f"{exc}; refused: {submitter.refused[:5]}, errors: {submitter.errors[:3]}\n{server.output()[-3000:]}"
            ) from None
        began = time.monotonic()
        before = submitter.acknowledged_between(0, began)
        backup = tmp_path / "backup.dump"
        out = flask(["backup", "-o", str(backup)], env)
        ended = time.monotonic()
        # Submissions went on while the command ran, and after it.
        wait_until(
            lambda: submitter.acknowledged_between(ended, float("inf")),
            timeout=60,
            what="a response acknowledged after the backup",
        )
        during = submitter.acknowledged_between(began, ended)
    finally:
        submitter.stopping.set()
        submitter.join(60)
        server.stop()
    assert during, "no submission was acknowledged while the backup ran"
    assert submitter.refused == []
    kind = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    assert f"{kind} backup written to {backup}" in out.stdout and backup_kind(backup) == kind

    restored_url = _restore_url(database_url, tmp_path)
    restore_env = app_env(restored_url)
    out = flask(["restore", str(backup)], restore_env)
    assert "which is empty" in out.stdout and "Restored." in out.stdout, out.stdout
    ids, bare, jobs = _stored(restored_url)
    missing = before - ids
    assert not missing, f"{len(missing)} of {len(before)} acknowledged responses are not in the backup"
    assert bare == 0 and jobs == 0
    assert ids <= before | during  # nothing in it that was not sent before the backup ended
    assert "(head)" in flask(["db", "current"], restore_env).stdout

    # A database that is not empty is replaced only with --force, after saying so.
    refused = flask(["restore", str(backup)], restore_env, check=False)
    assert refused.returncode != 0
    assert "holds" in refused.stdout + refused.stderr and "--force" in refused.stderr, refused.stderr
    assert _stored(restored_url)[0] == ids
    forced = flask(["restore", "--force", str(backup)], restore_env)
    assert f"and {len(ids)} responses" in forced.stdout
    assert _stored(restored_url)[0] == ids


def test_a_backup_restores_only_into_its_own_kind_of_database(tmp_path):
    path = tmp_path / "copy.sqlite"
    sqlite3.connect(path).close()
    with open(path, "wb") as f:
        f.write(b"SQLite format 3\x00" + bytes(100))
    with pytest.raises(ValueError, match="is a sqlite backup but the configured database is postgresql"):
        plan_restore("postgresql+psycopg://nobody@127.0.0.1:1/none", path)
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(ValueError, match="neither a SQLite database nor a pg_dump"):
        plan_restore(f"sqlite:///{tmp_path / 'x.sqlite'}", other)
