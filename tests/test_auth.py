"""Staff log-in: hashing, CSRF, throttling, session expiry, log-out, roles, create-user."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from feedback.extensions import db
from feedback.models import AuditEvent, User

from .conftest import PASSWORD, AuthActions, count, csrf_token


def test_login_lands_officer_on_own_commune(client, auth, users):
    r = auth.login("officer@khaomang.test")
    assert r.status_code == 302 and r.location.endswith("/officer/")
    r = client.get("/officer/")
    assert r.status_code == 302 and r.location.endswith("/officer/c/04465")
    assert "Xã Khao Mang" in client.get("/officer/c/04465").get_data(as_text=True)


def test_email_is_case_insensitive(client, auth, users):
    assert auth.login("Officer@KhaoMang.test").status_code == 302


def test_wrong_password_and_unknown_email_are_refused_alike(app, client, auth, users):
    wrong = auth.login("officer@khaomang.test", "wrong password")
    unknown = auth.login("nobody@khaomang.test", "wrong password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_data(as_text=True).count("alert") == unknown.get_data(as_text=True).count("alert")
    assert client.get("/officer/").status_code == 302
    assert count(app, AuditEvent, action="login_failed") == 2


def test_login_needs_csrf_token(client, users):
    r = client.post("/login", data={"email": "officer@khaomang.test", "password": PASSWORD})
    assert r.status_code == 400
    assert client.get("/officer/").status_code == 302


def test_inactive_account_cannot_log_in_and_is_logged_out(app, client, auth, users):
    assert auth.login("officer@khaomang.test").status_code == 302
    with app.app_context():
        db.session.get(User, users["officer"]["id"]).active = False
        db.session.commit()
    assert client.get("/officer/c/04465").status_code == 302  # the live session ends too
    assert auth.login("officer@khaomang.test").status_code == 401


def test_password_is_stored_as_scrypt_hash(app, runner):
    r = runner.invoke(args=["create-user", "--email", "a@b.test", "--role", "admin", "--password", "long enough pw"])
    assert r.exit_code == 0, r.output
    with app.app_context():
        stored = db.session.execute(sa.select(User.password_hash)).scalar_one()
    assert stored.startswith("scrypt:") and "long enough pw" not in stored


@pytest.fixture
def limited(database_url, users):
    """An app with the login limits on (the default test app has rate limits off)."""
    from feedback import create_app

    from .conftest import _config

    app = create_app({**_config(database_url), "RATELIMIT_ENABLED": True, "LOGIN_LIMIT_PER_ACCOUNT": "15 per hour",
                      "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}"})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_login_is_throttled_per_address(limited):
    auth = AuthActions(limited.test_client())
    codes = [auth.login(f"officer{i}@khaomang.test", "guess").status_code for i in range(12)]
    assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]


def test_login_is_throttled_per_account_across_addresses(limited):
    auth = AuthActions(limited.test_client())
    codes = [auth.login("officer@khaomang.test", f"guess {i}", environ_base={"REMOTE_ADDR": f"10.0.0.{i}"}).status_code
             for i in range(16)]
    assert codes[:15] == [401] * 15 and codes[15] == 429


def test_session_expires_and_logout_ends_it(app, client, auth, users):
    r = auth.login("officer@khaomang.test")
    cookie = r.headers["Set-Cookie"]
    assert "Expires=" in cookie and "HttpOnly" in cookie
    assert app.permanent_session_lifetime.total_seconds() == app.config["PERMANENT_SESSION_LIFETIME"] <= 12 * 3600
    assert client.get("/officer/c/04465").status_code == 200
    r = client.post("/logout", data={"csrf_token": csrf_token(client, "/officer/c/04465")})
    assert r.status_code == 302
    r = client.get("/officer/c/04465")
    assert r.status_code == 302 and "/login" in r.location


def test_anonymous_officer_pages_redirect_to_login(client):
    r = client.get("/officer/c/04465")
    assert r.status_code == 302 and "/login?next=" in r.location


def test_next_only_goes_to_local_paths(client, auth, users):
    r = auth.login("admin@laocai.test", query_string={"next": "//evil.test/x"})
    assert r.location.endswith("/officer/")
    client.get("/logout")
    r = auth.login("admin@laocai.test", query_string={"next": "/officer/audit"})
    assert r.location.endswith("/officer/audit")


def test_create_user_prompts_for_password(app, runner):
    r = runner.invoke(args=["create-user", "--email", "o@khaomang.test", "--role", "officer",
                            "--commune", "04465", "--commune", "02647"], input="a secret pw\na secret pw\n")
    assert r.exit_code == 0, r.output
    assert "a secret pw" not in r.output
    with app.app_context():
        user = db.session.execute(sa.select(User)).scalar_one()
        assert (user.role, user.commune_codes) == ("officer", {"04465", "02647"})
    assert count(app, AuditEvent, action="user_created") == 1


def test_create_user_refuses_bad_requests(app, runner):
    base = ["create-user", "--password", "long enough pw"]
    cases = [
        (["--email", "x@y.test", "--role", "officer"], "at least one commune"),
        (["--email", "x@y.test", "--role", "officer", "--commune", "99999"], "unknown commune"),
        (["--email", "x@y.test", "--role", "chief"], "Invalid value"),
        (["--email", "not-an-email", "--role", "admin"], "not an e-mail"),
    ]
    for args, message in cases:
        r = runner.invoke(args=base + args)
        assert r.exit_code != 0 and message in r.output, r.output
    assert runner.invoke(args=base + ["--email", "x@y.test", "--role", "admin"]).exit_code == 0
    r = runner.invoke(args=base + ["--email", "X@y.test", "--role", "admin"])
    assert r.exit_code != 0 and "exists already" in r.output
    r = runner.invoke(args=["create-user", "--email", "z@y.test", "--role", "admin", "--password", "short"])
    assert r.exit_code != 0 and "at least 8" in r.output
    assert count(app, User) == 1
