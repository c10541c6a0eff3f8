"""Registered API clients: tokens issued by the CLI, shown once, stored hashed, scoped, revocable."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from feedback.extensions import db
from feedback.models import ApiClient, AuditEvent, Response

from .conftest import count, hidden_fields
from .test_api import body, post_from, stored_flags

OWN, OTHER = "04465", "02647"  # Xã Khao Mang, Phường Lào Cai


def create(runner, name: str, *communes: str) -> str:
    """Run ``create-api-client`` and return the token from its last line."""
    args = ["create-api-client", "--name", name]
    for code in communes:
        args += ["--commune", code]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_create_prints_the_token_last_and_stores_only_its_hash(app, runner):
    result = runner.invoke(args=["create-api-client", "--name", "kiosk-khao-mang", "--commune", OWN])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert len(token) >= 43 and " " not in token
    with app.app_context():
        client = db.session.execute(sa.select(ApiClient)).scalar_one()
        assert client.name == "kiosk-khao-mang" and [c.code for c in client.communes] == [OWN]
        assert client.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert client.revoked_at is None and client.last_used_at is None
        event = db.session.execute(sa.select(AuditEvent)).scalar_one()
        assert event.action == "api_client_created" and event.target == "kiosk-khao-mang"
        assert token not in event.detail


def test_every_token_is_new(runner):
    assert create(runner, "a", OWN) != create(runner, "b", OWN)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--name", "kiosk", "--commune", "99999"], "99999"),
        (["--name", "", "--commune", OWN], "name"),
        (["--name", "x" * 81], "name"),
    ],
)
def test_create_refuses_bad_input(app, runner, args, message):
    result = runner.invoke(args=["create-api-client", *args])
    assert result.exit_code != 0 and message in result.output
    assert count(app, ApiClient) == 0


def test_create_refuses_a_name_in_use(app, runner):
    create(runner, "kiosk", OWN)
    result = runner.invoke(args=["create-api-client", "--name", "kiosk"])
    assert result.exit_code != 0 and "kiosk" in result.output
    assert count(app, ApiClient) == 1


def test_list_shows_clients_without_tokens(runner):
    token = create(runner, "kiosk", OWN)
    create(runner, "paper-tool")
    runner.invoke(args=["revoke-api-client", "--name", "paper-tool"])
    result = runner.invoke(args=["list-api-clients"])
    assert result.exit_code == 0 and token not in result.output
    lines = result.output.strip().splitlines()
    kiosk = next(line for line in lines if line.startswith("kiosk"))
    paper = next(line for line in lines if line.startswith("paper-tool"))
    assert OWN in kiosk and "active" in kiosk
    assert "revoked" in paper and "every commune of province 15" in paper


def test_a_registered_client_is_attributed(app, client, runner):
    token = create(runner, "kiosk", OWN)
    r = client.post("/api/v1/responses", json=body(), headers=bearer(token))
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["mode"] == "api"
    with app.app_context():
        kiosk = db.session.execute(sa.select(ApiClient)).scalar_one()
        stored = db.session.execute(sa.select(Response)).scalar_one()
        assert stored.api_client_id == kiosk.id and stored.mode == "api"
        assert kiosk.last_used_at is not None


def test_the_auth_scheme_is_case_insensitive(app, client, runner):
    token = create(runner, "kiosk", OWN)
    r = client.post("/api/v1/responses", json=body(), headers={"Authorization": f"bearer {token}"})
    assert r.status_code == 201, r.get_json()


def test_outside_its_communes_is_403(app, client, runner):
    token = create(runner, "kiosk", OWN)
    r = client.post("/api/v1/responses", json=body(commune=OTHER), headers=bearer(token))
    assert r.status_code == 403 and r.get_json()["errors"][0]["field"] == "commune"
    assert count(app) == 0


def test_a_client_without_communes_may_send_for_every_commune_of_the_province(app, client, runner):
    token = create(runner, "paper-tool")
    for commune in (OWN, OTHER):
        assert client.post("/api/v1/responses", json=body(commune=commune), headers=bearer(token)).status_code == 201
    assert count(app) == 2


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer unknown-token-unknown-token-unknown-token-123",
        "Bearer",
        "Bearer ",
        "Bearer a b",
        "Basic dXNlcjpwYXNz",
        "Token abc",
        "",
        "Bearer \u00e9\u00e9\u00e9",
        "Bearer " + "a" * 5000,
    ],
)
def test_an_unknown_or_malformed_token_is_401_never_anonymous(app, client, runner, authorization):
    create(runner, "kiosk", OWN)
    r = client.post("/api/v1/responses", json=body(), headers={"Authorization": authorization})
    assert r.status_code == 401, r.get_data(as_text=True)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert r.get_json()["errors"][0]["message"]
    assert count(app) == 0


def test_a_revoked_token_is_401(app, client, runner):
    token = create(runner, "kiosk", OWN)
    assert client.post("/api/v1/responses", json=body(), headers=bearer(token)).status_code == 201
    result = runner.invoke(args=["revoke-api-client", "--name", "kiosk"])
    assert result.exit_code == 0, result.output
    r = client.post("/api/v1/responses", json=body(), headers=bearer(token))
    assert r.status_code == 401 and "invalid_token" in r.headers["WWW-Authenticate"]
    assert count(app) == 1
    with app.app_context():
        kiosk = db.session.execute(sa.select(ApiClient)).scalar_one()
        assert kiosk.revoked_at is not None
        actions = db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()
        assert actions == ["api_client_created", "api_client_revoked"]


def test_revoking_an_unknown_or_revoked_client_fails(runner):
    assert runner.invoke(args=["revoke-api-client", "--name", "nobody"]).exit_code != 0
    create(runner, "kiosk", OWN)
    assert runner.invoke(args=["revoke-api-client", "--name", "kiosk"]).exit_code == 0
    again = runner.invoke(args=["revoke-api-client", "--name", "kiosk"])
    assert again.exit_code != 0 and "already revoked" in again.output


def test_401_speaks_the_callers_language(client):
    vi = client.post("/api/v1/responses", json=body(), headers={**bearer("x" * 43), "Accept-Language": "vi"})
    en = client.post("/api/v1/responses", json=body(), headers={**bearer("x" * 43), "Accept-Language": "en"})
    assert vi.status_code == en.status_code == 401
    assert vi.get_json()["errors"][0]["message"] != en.get_json()["errors"][0]["message"]


def test_a_token_on_other_endpoints_is_checked_too(client, runner):
    """A read needs no token, but one that is sent must be valid."""
    token = create(runner, "kiosk", OWN)
    assert client.get("/api/v1/surveys", headers=bearer(token)).status_code == 200
    assert client.get("/api/v1/surveys", headers=bearer("nope")).status_code == 401


def test_a_registered_kiosk_is_no_burst_but_keeps_the_other_checks(app, client, runner):
    """A kiosk legitimately sends many responses from one device in minutes."""
    token = create(runner, "kiosk", OWN)
    for _ in range(10):
        r = post_from(client, "198.51.100.20", body(), headers=bearer(token))
        assert r.status_code == 201, r.get_json()
    assert stored_flags(app) == [""] * 10
    fast = post_from(client, "198.51.100.20", body(seconds=3), headers=bearer(token))
    assert fast.status_code == 201
    assert stored_flags(app, [fast.get_json()["id"]]) == ["too_fast"]


def test_a_registered_paper_tool_may_leave_out_the_start_time(app, client, runner):
    """A paper form has no start time: a registered client is not flagged for leaving it out."""
    token = create(runner, "paper-tool", OWN)
    b = body()
    del b["started_at"]
    assert client.post("/api/v1/responses", json=b, headers=bearer(token)).status_code == 201
    assert stored_flags(app) == [""]


def test_a_retry_with_the_token_is_still_idempotent(app, client, runner):
    token = create(runner, "kiosk", OWN)
    b = body()
    first = client.post("/api/v1/responses", json=b, headers=bearer(token))
    again = client.post("/api/v1/responses", json=b, headers=bearer(token))
    assert (first.status_code, again.status_code) == (201, 200)
    assert count(app) == 1


def test_last_used_is_written_cheaply(app, client, runner):
    """Written when older than a few minutes, not on every request."""
    token = create(runner, "kiosk", OWN)
    assert client.post("/api/v1/responses", json=body(), headers=bearer(token)).status_code == 201
    with app.app_context():
        first = db.session.execute(sa.select(ApiClient.last_used_at)).scalar_one()
    assert client.post("/api/v1/responses", json=body(), headers=bearer(token)).status_code == 201
    with app.app_context():
        assert db.session.execute(sa.select(ApiClient.last_used_at)).scalar_one() == first
        long_ago = datetime(2025, 1, 1)
        db.session.execute(sa.update(ApiClient).values(last_used_at=long_ago))
        db.session.commit()
    assert client.post("/api/v1/responses", json=body(), headers=bearer(token)).status_code == 201
    with app.app_context():
        assert db.session.execute(sa.select(ApiClient.last_used_at)).scalar_one() > long_ago + timedelta(days=1)


# The admin page: the same service, through the web.


def _page_token(html: str) -> str | None:
    found = re.search(r'id="new-token" type="text" readonly value="([^"]+)"', html)
    return found.group(1) if found else None


def test_admin_issues_a_token_shown_once_and_revokes_it(app, client, auth, users):
    assert auth.login(users["admin"]["email"]).status_code == 302
    page = client.get("/officer/api-clients")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    created = client.post(
        "/officer/api-clients",
        data={
            "csrf_token": hidden_fields(page.get_data(as_text=True))["csrf_token"],
            "name": "  kiosk  khao mang ",
            "communes": [OWN],
        },
    )
    assert created.status_code == 200 and created.headers["Cache-Control"] == "no-store"
    token = _page_token(created.get_data(as_text=True))
    assert token
    assert _page_token(client.get("/officer/api-clients").get_data(as_text=True)) is None  # shown once
    with app.app_context():
        kiosk = db.session.execute(sa.select(ApiClient)).scalar_one()
        assert kiosk.name == "kiosk khao mang" and kiosk.created_by == users["admin"]["id"]
        assert kiosk.token_hash == hashlib.sha256(token.encode()).hexdigest()
        kiosk_id = kiosk.id
    api = app.test_client()
    assert api.post("/api/v1/responses", json=body(), headers=bearer(token)).status_code == 201
    assert api.post("/api/v1/responses", json=body(commune=OTHER), headers=bearer(token)).status_code == 403
    csrf = hidden_fields(client.get("/officer/api-clients").get_data(as_text=True))["csrf_token"]
    revoked = client.post(f"/officer/api-clients/{kiosk_id}/revoke", data={"csrf_token": csrf})
    assert revoked.status_code == 303
    assert api.post("/api/v1/responses", json=body(), headers=bearer(token)).status_code == 401
    with app.app_context():
        events = db.session.execute(sa.select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
        assert [(e.action, e.user_id) for e in events if e.action.startswith("api_client")] == [
            ("api_client_created", users["admin"]["id"]),
            ("api_client_revoked", users["admin"]["id"]),
        ]


def test_revoking_needs_the_csrf_token(app, client, auth, users, runner):
    create(runner, "kiosk", OWN)
    assert auth.login(users["admin"]["email"]).status_code == 302
    with app.app_context():
        kiosk_id = db.session.execute(sa.select(ApiClient.id)).scalar_one()
    client.post(f"/officer/api-clients/{kiosk_id}/revoke", data={})
    with app.app_context():
        assert db.session.get(ApiClient, kiosk_id).revoked_at is None


def test_a_taken_name_is_refused_on_the_page(app, client, auth, users, runner):
    create(runner, "kiosk", OWN)
    assert auth.login(users["admin"]["email"]).status_code == 302
    csrf = hidden_fields(client.get("/officer/api-clients").get_data(as_text=True))["csrf_token"]
    r = client.post("/officer/api-clients", data={"csrf_token": csrf, "name": "kiosk"})
    assert r.status_code == 200 and _page_token(r.get_data(as_text=True)) is None
    assert count(app, ApiClient) == 1


@pytest.mark.parametrize("role", ["officer", "analyst"])
def test_only_admins_manage_api_clients(client, auth, users, role):
    assert auth.login(users[role]["email"]).status_code == 302
    assert client.get("/officer/api-clients").status_code == 403
    assert client.post("/officer/api-clients/1/revoke").status_code in (400, 403)


def test_logged_out_visitors_are_sent_to_log_in(client):
    assert client.get("/officer/api-clients").status_code == 302


# Client names: one line, one Unicode form, case-insensitive.


@pytest.mark.parametrize("name", ["kiosk\none", "kiosk\tone", "kiosk\u200bone", "kiosk\x00one"])
def test_create_refuses_control_and_format_characters_in_a_name(app, runner, name):
    result = runner.invoke(args=["create-api-client", "--name", name])
    assert result.exit_code != 0 and "character" in result.output
    assert count(app, ApiClient) == 0


@pytest.mark.parametrize(
    "first, second", [("Kiosk1", "kiosk1"), ("Trạm y t\u00ea", "Trạm y te\u0302"), (" kiosk ", "KIOSK")]
)
def test_names_that_look_the_same_are_one_name(app, runner, first, second):
    create(runner, first, OWN)
    result = runner.invoke(args=["create-api-client", "--name", second])
    assert result.exit_code != 0 and "exists" in result.output
    assert count(app, ApiClient) == 1
    revoked = runner.invoke(args=["revoke-api-client", "--name", second])
    assert revoked.exit_code == 0, revoked.output
