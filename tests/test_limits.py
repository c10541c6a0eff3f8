"""Submission rate limits, with in-memory storage and with Redis (as in production)."""

from __future__ import annotations

import os
import socket
import uuid

import pytest

from feedback import create_app
from feedback.extensions import db

from .conftest import _config, count, hidden_fields, redis_url


def _redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
        return True
    except OSError:
        return False


STORAGES = [
    "memory://",
    pytest.param(
        redis_url(15),
        marks=pytest.mark.skipif(
            not _redis_up() and not os.environ.get("CI"), reason="no Redis at 127.0.0.1:6379 (CI has one)"
        ),
    ),
]


@pytest.fixture(params=STORAGES)
def limited(request, app, database_url):
    """An app with small limits on the given storage; a fresh key prefix per test."""
    limited_app = create_app(
        {
            **_config(database_url),
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_STORAGE_URI": request.param,
            "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
            "SUBMIT_LIMIT": "3 per minute",
            "API_SUBMIT_LIMIT": "2 per minute",
        }
    )
    yield limited_app
    with limited_app.app_context():
        db.session.remove()
        db.engine.dispose()


def _post_form(client, url, addr="10.0.0.1", **answers):
    env = {"REMOTE_ADDR": addr}
    fields = hidden_fields(client.get(url, environ_base=env).get_data(as_text=True))
    return client.post(
        url, data={**fields, "used_service": "no", "overall": "4", "send": "1", **answers}, environ_base=env
    )


def test_survey_submissions_are_limited_per_address_and_link(limited):
    client = limited.test_client()
    for _ in range(3):  # three citizens (a browser each) on one network
        assert _post_form(limited.test_client(), "/c/04465/health").status_code == 303
    blocked = _post_form(limited.test_client(), "/c/04465/health")
    html = blocked.get_data(as_text=True)
    assert blocked.status_code == 429
    # The answers come back with a resend button rather than being lost.
    assert 'name="overall" value="4"' in html and 'name="state"' in html
    # Another poster from the same crowded network, and another network, still get through.
    assert _post_form(client, "/c/04465/land", used_service=None).status_code in (303, 422)
    assert _post_form(client, "/c/04465/health", addr="10.0.0.2").status_code == 303
    assert count(limited) == 4 + (count(limited, survey="land"))


def test_api_submissions_are_limited(limited):
    client = limited.test_client()
    codes = [client.post("/api/v1/responses", json={}).status_code for _ in range(3)]
    assert codes == [422, 422, 429]
    assert "errors" in client.post("/api/v1/responses", json={}).get_json()


def test_limits_can_be_switched_off_for_bulk_loading(app):
    client = app.test_client()  # the default test config has RATELIMIT_ENABLED = False
    assert all(client.post("/api/v1/responses", json={}).status_code == 422 for _ in range(200))
