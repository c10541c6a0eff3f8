"""Response-quality flags: stored with the response, never a reason to refuse it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from feedback.extensions import db
from feedback.forms import read_state
from feedback.models import Response, utcnow

from .conftest import hidden_fields

CALM = {
    "used_service": "yes",
    "health_insurance": "no",
    "wait_time": "15-30",
    "staff_respect": "yes",
    "medicine_available": "no",
    "informal_payment": "no",
    "fees_posted": "yes",
    "overall": "4",
}


def _state(page_state: str, seconds_ago: int) -> str:
    """The page's signed form state, as if the form had been opened ``seconds_ago``."""
    state = read_state(page_state)
    return replace(state, started_at=utcnow() - timedelta(seconds=seconds_ago)).dumps()


def _submit(app, client, answers, *, seconds_ago=120, addr="10.1.1.1", agent="Phone/1", url="/c/04465/health", **extra):
    env = {"REMOTE_ADDR": addr, "HTTP_USER_AGENT": agent}
    fields = hidden_fields(client.get(url, environ_base=env).get_data(as_text=True))
    with app.app_context():
        fields["state"] = _state(fields["state"], seconds_ago)
    r = client.post(url, data={**fields, **answers, "send": "1", **extra}, environ_base=env)
    assert r.status_code == 303
    client.post(url, data={"new_response": "1"}, environ_base=env)  # "answer again": a new form


def _flags(app) -> list[str]:
    with app.app_context():
        # Sorted: receive times are whole seconds, so several responses may share one.
        return sorted(r.flags for r in db.session.execute(db.select(Response)).scalars())


def test_a_calm_response_has_no_flags(app, client):
    _submit(app, client, CALM)
    assert _flags(app) == [""]


def test_too_fast(app, client):
    _submit(app, client, CALM, seconds_ago=3)  # 8 answers in 3 s
    assert _flags(app) == ["too_fast"]


def test_straight_lined(app, client):
    first_options = {
        k: "yes"
        for k in (
            "used_service",
            "health_insurance",
            "staff_respect",
            "medicine_available",
            "informal_payment",
            "fees_posted",
        )
    }
    _submit(app, client, {**first_options, "wait_time": "lt15", "overall": "1"})
    assert _flags(app) == ["straight_lined"]


def test_honeypot(app, client):
    _submit(app, client, CALM, website="http://spam.example")
    assert _flags(app) == ["honeypot"]


@pytest.mark.parametrize(
    "same_device, expected",
    [
        # The 4th from one device completes a burst, which flags the three before it too: the
        # opening responses of a burst would otherwise still count.
        (True, ["burst"] * 4),
        (False, ["", "", "", ""]),
    ],
)
def test_burst_from_one_device(app, client, same_device, expected):
    # A device is its cookie (each test client keeps its own), never its User-Agent: the same
    # User-Agent from four browsers is four devices. See also tests/test_anonymity.py.
    for _ in range(4):
        _submit(app, client if same_device else app.test_client(), CALM, agent="Phone/1")
    assert _flags(app) == expected


def test_no_raw_address_is_stored(app, client):
    _submit(app, client, CALM, addr="203.0.113.77")
    with app.app_context():
        response = db.session.execute(db.select(Response)).scalar_one()
        stored = " ".join(str(getattr(response, c.key)) for c in Response.__table__.columns)
    assert "203.0.113.77" not in stored
    assert len(response.network_hash) == 16 and len(response.device_hash) == 16
    assert response.network_hash != response.device_hash
