"""SQLite: durable WAL settings; submissions queue on a file lock; workers checkpoint the WAL
after the answer has gone out."""

from __future__ import annotations

import fcntl
import os
import threading

import pytest

from feedback.extensions import db

from .conftest import count
from .test_api import body


def _wal_bytes_after(app, client, submissions: int) -> int:
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("PostgreSQL has no WAL file of the app's to look after")
        path = db.engine.url.database
        with db.engine.connect() as conn:  # start from an empty WAL file
            assert conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()[0] == 0
    assert os.path.getsize(path + "-wal") == 0
    for _ in range(submissions):
        with client.post("/api/v1/responses", json=body()) as response:  # closed, as a server does
            assert response.status_code == 201
    return os.path.getsize(path + "-wal")


@pytest.mark.parametrize("every, small", [(1, True), (10_000, False)])
def test_the_wal_is_checkpointed_after_responses(app, client, every, small):
    """Each submission writes a few pages to the WAL; a checkpoint lets the next writer start
    the WAL again from its beginning. Without the workers' own checkpoints (every 10 000) the
    WAL grows until SQLite's automatic one at 1000 pages (4 MB)."""
    app.config["SQLITE_CHECKPOINT_EVERY"] = every
    size = _wal_bytes_after(app, client, 60)
    assert (size < 200_000) is small, size
    assert count(app) == 60


def test_every_connection_is_durable_and_queues_writers(app):
    """WAL, commits synced before the answer goes out (FULL = 2; NORMAL would lose the last
    acknowledged responses to a power cut), writers wait up to 10 s for the lock."""
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("PostgreSQL's durability is the server's (synchronous_commit)")
        with db.engine.connect() as conn:
            pragma = lambda name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
            assert (pragma("journal_mode"), pragma("synchronous"), pragma("busy_timeout")) == ("wal", 2, 10000)


def test_submissions_queue_for_the_write_lock(app, client):
    """While another process holds the queue's lock file, a submission waits; it is stored as
    soon as the lock is free."""
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("PostgreSQL has no single-writer lock to queue for")
        path = db.engine.url.database + "-writelock"
    client.post("/api/v1/responses", json=body())  # creates the lock file
    other = os.open(path, os.O_RDWR)  # another open file: excluded as another process would be
    statuses = []
    try:
        fcntl.flock(other, fcntl.LOCK_EX)
        waiting = threading.Thread(
            target=lambda: statuses.append(app.test_client().post("/api/v1/responses", json=body()).status_code)
        )
        waiting.start()
        waiting.join(1.0)
        assert waiting.is_alive() and statuses == [] and count(app) == 1
        fcntl.flock(other, fcntl.LOCK_UN)
        waiting.join(10)
        assert statuses == [201] and count(app) == 2
    finally:
        os.close(other)
