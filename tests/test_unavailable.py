"""When the database cannot be reached: 503, nothing lost, answers handed back (no mocks:
the app is pointed at a port where no database listens)."""

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
    app = create_app({
        "TESTING": True, "SECRET_KEY": "test", "BASE_URL": "http://poster.test", "RATELIMIT_ENABLED": False,
        "SQLALCHEMY_DATABASE_URI": f"postgresql://postgres@127.0.0.1:{port}/nothing",
        "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}},
    })
    yield app
    with app.app_context():
        db.engine.dispose()


def test_survey_post_gets_503_with_answers_kept(dead_app):
    client = dead_app.test_client()
    r = client.post("/c/04465/health", data={"state": "abc", "csrf_token": "t", "used_service": "no", "overall": "4", "send": "1"})
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
