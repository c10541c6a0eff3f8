"""Staff sessions end for real: a copied session cookie replayed from a second browser stops
working at logout, password, role, commune or active change, and after an absolute lifetime;
logout is a POST with CSRF; staff pages are never cached; no inline script anywhere."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from itsdangerous import TimestampSigner

from feedback.extensions import db
from feedback.models import AuditEvent

from .conftest import OWN_COMMUNE, AuthActions, csrf_token

OFFICER_PAGE = f"/officer/c/{OWN_COMMUNE}"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def _session_cookie(client) -> str:
    return client.get_cookie("session").value


def _replay(app, cookie: str):
    """A second browser that only has the copied cookie: its answer to an officer page."""
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief.get(OFFICER_PAGE)


def _logged_in_copy(app, auth, client, email="officer@khaomang.test") -> str:
    assert auth.login(email).status_code == 302
    cookie = _session_cookie(client)
    assert _replay(app, cookie).status_code == 200  # the copy works while the session lives
    return cookie


def _admin_client(app):
    admin = app.test_client()
    assert AuthActions(admin).login("admin@laocai.test").status_code == 302
    return admin


def _edit_officer(app, users, **changes):
    """Change the officer's account through the admin's form."""
    admin = _admin_client(app)
    data = {
        "csrf_token": csrf_token(admin, "/officer/users"),
        "email": "officer@khaomang.test",
        "role": "officer",
        "communes": [OWN_COMMUNE],
        "active": "y",
        **changes,
    }
    data = {k: v for k, v in data.items() if v is not None}
    r = admin.post(f"/officer/users/{users['officer']['id']}", data=data)
    assert r.status_code == 302, r.get_data(as_text=True)
    return admin


def test_copied_cookie_dies_at_logout(app, client, auth, users):
    cookie = _logged_in_copy(app, auth, client)
    assert auth.logout().status_code == 302
    r = _replay(app, cookie)
    assert r.status_code == 302 and "/login" in r.location


def test_logout_ends_the_users_other_sessions_too(app, client, auth, users):
    other_browser = app.test_client()
    assert AuthActions(other_browser).login("officer@khaomang.test").status_code == 302
    _logged_in_copy(app, auth, client)
    AuthActions(other_browser).logout()
    assert client.get(OFFICER_PAGE).status_code == 302


def test_copied_cookie_dies_when_an_admin_changes_the_password(app, client, auth, users):
    cookie = _logged_in_copy(app, auth, client)
    _edit_officer(app, users, password="a brand new passphrase")
    assert _replay(app, cookie).status_code == 302
    assert client.get(OFFICER_PAGE).status_code == 302
    assert auth.login("officer@khaomang.test", "a brand new passphrase").status_code == 302


def test_changing_ones_own_password_keeps_this_session_and_ends_the_others(app, client, auth, users):
    stolen = _logged_in_copy(app, auth, client, "admin@laocai.test")
    admin = _admin_client(app)
    r = admin.post(
        f"/officer/users/{users['admin']['id']}",
        data={
            "csrf_token": csrf_token(admin, "/officer/users"),
            "email": "admin@laocai.test",
            "role": "admin",
            "active": "y",
            "password": "a brand new passphrase",
        },
    )
    assert r.status_code == 302
    assert admin.get("/officer/users").status_code == 200
    assert _replay(app, stolen).status_code == 302


@pytest.mark.parametrize(
    "changes",
    [
        {"role": "analyst", "communes": None},
        {"communes": ["02647"]},
    ],
)
def test_copied_cookie_dies_when_role_or_communes_change(app, client, auth, users, changes):
    cookie = _logged_in_copy(app, auth, client)
    _edit_officer(app, users, **changes)
    assert _replay(app, cookie).status_code == 302


def test_an_unchanged_save_keeps_the_session(app, client, auth, users):
    cookie = _logged_in_copy(app, auth, client)
    _edit_officer(app, users)
    assert _replay(app, cookie).status_code == 200


def test_copied_cookie_stays_dead_after_reactivation(app, client, auth, users):
    cookie = _logged_in_copy(app, auth, client)
    _edit_officer(app, users, active=None)  # unticked: deactivated
    assert _replay(app, cookie).status_code == 302
    _edit_officer(app, users)  # active again
    assert _replay(app, cookie).status_code == 302
    assert auth.login("officer@khaomang.test").status_code == 302


def test_cli_set_password_ends_sessions(app, client, auth, users, runner):
    cookie = _logged_in_copy(app, auth, client)
    r = runner.invoke(
        args=["set-password", "--email", "Officer@KhaoMang.test"],
        input="a brand new passphrase\na brand new passphrase\n",
    )
    assert r.exit_code == 0, r.output
    assert "a brand new passphrase" not in r.output
    assert _replay(app, cookie).status_code == 302
    assert auth.login("officer@khaomang.test", "a brand new passphrase").status_code == 302


def test_cli_set_password_refuses_weak_passwords_and_unknown_accounts(app, runner, users):
    r = runner.invoke(args=["set-password", "--email", "officer@khaomang.test", "--password", "password"])
    assert r.exit_code != 0 and "at least" in r.output
    r = runner.invoke(args=["set-password", "--email", "nobody@khaomang.test", "--password", "a brand new passphrase"])
    assert r.exit_code != 0 and "no account" in r.output


def test_session_has_an_absolute_lifetime_even_when_refreshed(app, client, auth, users):
    auth.login("officer@khaomang.test")
    limit = app.config["SESSION_ABSOLUTE_LIFETIME"]
    assert limit == 12 * 3600
    with client.session_transaction() as session:
        session["issued"] = int(time.time()) - limit + 3600  # issued 11 hours ago
    assert client.get(OFFICER_PAGE).status_code == 200  # refreshed on every request…
    with client.session_transaction() as session:
        session["issued"] = int(time.time()) - limit - 1
    r = client.get(OFFICER_PAGE)  # …but not past the absolute lifetime
    assert r.status_code == 302 and "/login" in r.location


def test_idle_session_is_refused_by_the_server_whatever_the_cookie_says(app, client, auth, users):
    auth.login("officer@khaomang.test")
    with client.session_transaction() as session:
        data = dict(session)
    idle = int(app.permanent_session_lifetime.total_seconds())

    class SignedLongAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - idle - 60

    serializer = app.session_interface.get_signing_serializer(app)
    serializer.signer = SignedLongAgo
    replayed = app.test_client()
    replayed.set_cookie("session", serializer.dumps(data))
    assert replayed.get(OFFICER_PAGE).status_code == 302


def test_a_remember_me_cookie_logs_nobody_in(app, users):
    from flask_login.utils import encode_cookie

    with app.test_request_context():
        forged = encode_cookie(str(users["officer"]["id"]))
    browser = app.test_client()
    browser.set_cookie(app.config.get("REMEMBER_COOKIE_NAME", "remember_token"), forged)
    assert browser.get(OFFICER_PAGE).status_code == 302


def test_a_session_without_epoch_is_refused(app, client, auth, users):
    """A cookie issued before sessions carried their generation (or forged without one)."""
    auth.login("officer@khaomang.test")
    with client.session_transaction() as session:
        session.pop("epoch")
    assert client.get(OFFICER_PAGE).status_code == 302


# Logout: a POST with the CSRF token (the Contract); GET ends nothing.


def test_get_logout_ends_nothing(app, client, auth, users):
    cookie = _logged_in_copy(app, auth, client)
    r = client.get("/logout")
    assert r.status_code == 200
    assert 'method="post"' in r.get_data(as_text=True)  # a page with the logout button
    assert client.get(OFFICER_PAGE).status_code == 200 and _replay(app, cookie).status_code == 200


def test_logout_without_csrf_token_ends_nothing(app, client, auth, users):
    auth.login("officer@khaomang.test")
    assert client.post("/logout").status_code == 400
    assert client.get(OFFICER_PAGE).status_code == 200


def test_logout_with_csrf_token_ends_the_session(app, client, auth, users):
    auth.login("officer@khaomang.test")
    r = client.post("/logout", data={"csrf_token": csrf_token(client, OFFICER_PAGE)})
    assert r.status_code == 302 and r.location.endswith("/login")
    assert client.get(OFFICER_PAGE).status_code == 302
    with app.app_context():  # the audit log says who logged out (and the web, not the CLI)
        event = db.session.execute(sa.select(AuditEvent).filter_by(action="logout")).scalar_one()
        assert event.user_id == users["officer"]["id"] and event.target == "officer@khaomang.test"


def test_get_logout_when_logged_out_goes_to_login(client):
    r = client.get("/logout")
    assert r.status_code == 302 and "/login" in r.location


def test_no_template_links_to_logout():
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"<a\b[^>]*href=\"[^\"]*(logout|auth\.logout)", text), path


def test_staff_pages_show_a_logout_form(client, auth, users):
    auth.login("analyst@laocai.test")
    for url in ("/officer/", "/analyst/", f"/analyst/c/{OWN_COMMUNE}"):
        html = client.get(url).get_data(as_text=True)
        form = re.search(r'<form method="post" action="/logout">(.*?)</form>', html, re.S)
        assert form and 'name="csrf_token"' in form.group(1), url


# Caching: staff pages and downloads are never stored; citizen pages keep theirs.

STAFF_URLS = [
    "/officer/",
    OFFICER_PAGE,
    "/officer/users",
    "/officer/audit",
    "/analyst/",
    f"/analyst/c/{OWN_COMMUNE}",
    "/analyst/exports",
    "/analyst/exports/codebook.csv",
    "/api/v1/scores",
]


def test_staff_pages_and_exports_are_not_stored(client, auth, users):
    auth.login("admin@laocai.test")
    for url in STAFF_URLS:
        r = client.get(url)
        assert r.status_code == 200, url
        assert "no-store" in r.headers.get("Cache-Control", ""), url


def test_login_and_logout_pages_are_not_stored(client, auth, users):
    assert "no-store" in client.get("/login").headers.get("Cache-Control", "")
    assert "no-store" in auth.login("officer@khaomang.test", "wrong password").headers.get("Cache-Control", "")
    assert "no-store" in client.get("/logout").headers.get("Cache-Control", "")


def test_citizen_pages_keep_their_caching(client, point):
    for url in ("/", "/privacy", f"/s/{point['token']}", "/api/v1/surveys"):
        assert "no-store" not in client.get(url).headers.get("Cache-Control", ""), url


# CSP is script-src 'self': no inline script or handler may exist, or it silently does nothing.

INLINE = re.compile(r"<[a-zA-Z][^>]*\son[a-z]+\s*=|<script\b(?![^>]*\bsrc=)|javascript:", re.I)


def test_no_template_has_inline_script_or_handler():
    offenders = [
        str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.html") if INLINE.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_scorecard_print_button_works_under_csp(client, auth, users):
    auth.login("officer@khaomang.test")
    html = client.get(f"/analyst/c/{OWN_COMMUNE}").get_data(as_text=True)
    assert "onclick" not in html and "data-print" in html
    script = re.search(r'<script src="(/static/staff\.js[^"]*)" defer></script>', html)
    assert script
    with client.get(script.group(1)) as js:
        assert js.status_code == 200 and "window.print()" in js.get_data(as_text=True)


# The chosen language survives log-in and log-out.


def test_staff_keep_their_language_across_login_and_logout(app, client, auth, users):
    client.get("/login?lang=en")
    assert auth.login("officer@khaomang.test").status_code == 302
    with client.session_transaction() as s:
        assert s.get("lang") == "en"
    assert auth.logout().status_code == 302
    with client.session_transaction() as s:
        assert s.get("lang") == "en"
    assert 'lang="en"' in client.get("/login").get_data(as_text=True)
