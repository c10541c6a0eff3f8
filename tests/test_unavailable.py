"""When the database cannot be reached or stays busy: 503, nothing lost, answers handed back
(no mocks: the app is pointed at a port where no database listens, or a real transaction
holds the tables)."""

from __future__ import annotations

import socket

import pytest

from feedback import create_app
from feedback.extensions import db


@pytest.fixture
def dead_app():
    with socket.socket() as s:  # a free port, closed again: connections to it are refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "BASE_URL": "http://poster.test",
            "RATELIMIT_ENABLED": False,
            "SQLALCHEMY_DATABASE_URI": f"postgresql://postgres@127.0.0.1:{port}/nothing",
            "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}},
        }
    )
    yield app
    with app.app_context():
        db.engine.dispose()


def test_survey_post_gets_503_with_answers_kept(dead_app):
    client = dead_app.test_client()
    r = client.post(
        "/c/04465/health", data={"state": "abc", "csrf_token": "t", "used_service": "no", "overall": "4", "send": "1"}
    )
    html = r.get_data(as_text=True)
    assert r.status_code == 503 and r.headers["Retry-After"]
    assert "vẫn được giữ" in html
    for name, value in (("state", "abc"), ("used_service", "no"), ("overall", "4")):
        assert f'name="{name}" value="{value}"' in html


def test_api_gets_503_json(dead_app):
    from .test_api import body

    r = dead_app.test_client().post("/api/v1/responses", json=body())
    assert r.status_code == 503 and r.get_json()["errors"]


def test_page_gets_503(dead_app):
    assert dead_app.test_client().get("/c/04465/health").status_code == 503


def test_connections_the_server_ended_are_replaced_without_an_error(app, client):
    """After a PostgreSQL restart every pooled connection is dead; the pool must not hand one out.

    The server ends this app's pooled connections (as a restart or an administrator would);
    the next submissions are stored, not answered 503.
    """
    import sqlalchemy as sa

    from .conftest import count
    from .test_api import body

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("SQLite has no server connection to lose")
    for _ in range(3):  # fill the pool with idle connections
        assert client.post("/api/v1/responses", json=body()).status_code == 201
    admin = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"], isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        ended = conn.scalar(
            sa.text(
                # With a timeout, pg_terminate_backend waits until each backend has exited (the
                # signal alone returns at once, and a connection checked out in that instant still
                # looks alive: a race of the test, not the restart it stands for).
                "SELECT count(pg_terminate_backend(pid, 30000)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle'"
            )
        )
    admin.dispose()
    assert ended >= 1
    for _ in range(3):
        assert client.post("/api/v1/responses", json=body()).status_code == 201
    assert count(app) == 6


def test_a_request_whose_connection_dies_before_it_ends_keeps_its_answer(app):
    """The server ends the connection after the view has answered, while the request's session
    still has a read transaction open: ending the request must not raise (no 500)."""
    import sqlalchemy as sa

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("SQLite has no server connection to lose")
    with app.test_request_context("/"):
        pid = db.session.scalar(sa.text("SELECT pg_backend_pid()"))  # the session's transaction is open
        admin = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"], isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            assert conn.scalar(sa.text("SELECT pg_terminate_backend(:pid, 30000)"), {"pid": pid})
        admin.dispose()
    # Leaving the block ran every teardown without raising; the next request works normally.
    with app.app_context():
        assert db.session.scalar(sa.text("SELECT 1")) == 1


def test_a_database_busy_past_its_timeout_gets_503_and_the_resend_is_stored_once(app, client):
    """The insert itself fails (another transaction holds the tables past the wait limit): the
    client gets a 503 with nothing stored, and the same body sent again is stored once."""
    import sqlite3
    import uuid

    import psycopg
    from sqlalchemy import event

    from feedback.models import Answer

    from .conftest import count
    from .test_api import body

    assert client.post("/api/v1/responses", json=body()).status_code == 201  # caches warm: the insert is next
    with app.app_context():
        engine = db.engine
    url = engine.url
    if engine.dialect.name == "sqlite":
        blocker = sqlite3.connect(url.database, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # holds the write lock
        wait_limit = "PRAGMA busy_timeout=100"
    else:
        blocker = psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
        blocker.execute("LOCK TABLE response IN EXCLUSIVE MODE")  # readers pass, writers wait
        wait_limit = "SET lock_timeout = '100ms'"

    def short_wait(dbapi_connection, record, proxy):
        dbapi_connection.execute(wait_limit)
        dbapi_connection.commit()

    event.listen(engine.pool, "checkout", short_wait)
    try:
        late = body()
        r = client.post("/api/v1/responses", json=late)
        assert r.status_code == 503 and r.headers["Retry-After"] and r.get_json()["errors"]
    finally:
        event.remove(engine.pool, "checkout", short_wait)
        blocker.rollback()
        blocker.close()
    assert count(app) == 1
    assert client.post("/api/v1/responses", json=late).status_code == 201
    assert client.post("/api/v1/responses", json=late).status_code == 200
    assert count(app) == 2
    assert count(app, Answer, response_id=uuid.UUID(late["id"])) == len(late["answers"])
