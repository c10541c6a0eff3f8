"""Staff log-in: hashing, CSRF, throttling, where log-in leads, password and e-mail rules, create-user,
and the settings production refuses. (Sessions and log-out: tests/test_sessions.py.)"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import unicodedata
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from feedback.extensions import db
from feedback.models import AuditEvent, User, utcnow

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


def test_session_cookie_is_http_only_and_expires(app, auth, users):
    cookie = auth.login("officer@khaomang.test").headers["Set-Cookie"]
    assert "Expires=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert app.permanent_session_lifetime.total_seconds() == app.config["PERMANENT_SESSION_LIFETIME"] <= 12 * 3600


def test_anonymous_officer_pages_redirect_to_login(client):
    r = client.get("/officer/c/04465")
    assert r.status_code == 302 and "/login?next=" in r.location


def test_create_user_prompts_for_password(app, runner):
    r = runner.invoke(
        args=[
            "create-user",
            "--email",
            "o@khaomang.test",
            "--role",
            "officer",
            "--commune",
            "04465",
            "--commune",
            "02647",
        ],
        input="a secret pw\na secret pw\n",
    )
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
    assert r.exit_code != 0 and "at least 10" in r.output
    assert count(app, User) == 1


# Throttling: per-address limits count failures only; a guessed-at account slows down, but
# neither hands an attacker a way to lock the real user out.


@pytest.fixture
def limited(database_url, users):
    """An app with the login limits on (the default test app has rate limits off); the account
    delay is long here so that no test depends on how fast the machine is."""
    from feedback import create_app

    from .conftest import _config

    app = create_app(
        {
            **_config(database_url),
            "RATELIMIT_ENABLED": True,
            "LOGIN_DELAY_SECONDS": 300,
            "LOGIN_DELAY_MAX_SECONDS": 600,
            "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        }
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _account(app, email="officer@khaomang.test") -> User:
    with app.app_context():
        return db.session.execute(sa.select(User).filter_by(email=email)).scalar_one()


def _end_delay(app, email="officer@khaomang.test") -> None:
    """Let the account's delay run out (moving the clock instead of waiting)."""
    with app.app_context():
        user = db.session.execute(sa.select(User).filter_by(email=email)).scalar_one()
        user.login_delay_until = utcnow() - timedelta(seconds=1)
        db.session.commit()


def test_login_is_throttled_per_address(limited):
    auth = AuthActions(limited.test_client())
    responses = [auth.login(f"officer{i}@khaomang.test", "guess") for i in range(12)]
    assert [r.status_code for r in responses] == [401] * 10 + [429, 429]
    blocked = responses[-1]
    # A 60-second window; Flask-Limiter rounds its reset time up to the next whole second
    # (RequestLimit.reset_at), so the wait said can be 61 s (seen once in CI on a busy machine).
    assert 0 < int(blocked.headers["Retry-After"]) <= 61
    html = blocked.get_data(as_text=True)
    assert "Đăng nhập" in html and "giây" in html  # the log-in page, in Vietnamese, says how long
    assert 'name="password"' in html and "guess" not in html


def test_successful_logins_do_not_count_toward_the_address_limit(limited):
    client = limited.test_client()
    auth = AuthActions(client)
    for _ in range(15):
        assert auth.login("officer@khaomang.test").status_code == 302
        assert auth.logout().status_code == 302
    codes = [auth.login("nobody@khaomang.test", "guess").status_code for _ in range(11)]
    assert codes == [401] * 10 + [429]


def test_a_typo_does_not_count_against_later_successes(limited):
    auth = AuthActions(limited.test_client())
    for _ in range(4):
        assert auth.login("officer@khaomang.test", "typo").status_code == 401
    assert auth.login("officer@khaomang.test").status_code == 302
    assert (_account(limited).failed_logins, _account(limited).login_delay_until) == (0, None)


def test_guessing_from_many_addresses_never_locks_the_real_user_out(limited):
    # The real officer has logged in from this browser before.
    officer = limited.test_client()
    assert AuthActions(officer).login("officer@khaomang.test").status_code == 302
    AuthActions(officer).logout()
    attacker = AuthActions(limited.test_client())
    codes = [
        attacker.login(
            "officer@khaomang.test", f"guess {i}", environ_base={"REMOTE_ADDR": f"10.0.0.{i % 4}"}
        ).status_code
        for i in range(30)
    ]
    free = limited.config["LOGIN_FREE_FAILURES"]
    assert codes == [401] * free + [429] * (30 - free)
    assert _account(limited).failed_logins == free  # attempts during the delay are not checked
    # The officer's own browser is not held up by the delay…
    assert AuthActions(officer).login("officer@khaomang.test").status_code == 302
    assert _account(limited).failed_logins == 0


def test_a_new_browser_waits_out_a_short_delay(limited):
    attacker = AuthActions(limited.test_client())
    free = limited.config["LOGIN_FREE_FAILURES"]
    for i in range(free):
        attacker.login("officer@khaomang.test", f"guess {i}", environ_base={"REMOTE_ADDR": f"10.0.1.{i}"})
    stranger = limited.test_client()
    r = AuthActions(stranger).login("officer@khaomang.test", environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert r.status_code == 429  # even the right password is not checked during the delay
    assert 0 < int(r.headers["Retry-After"]) <= limited.config["LOGIN_DELAY_SECONDS"]
    assert PASSWORD not in r.get_data(as_text=True)
    _end_delay(limited)
    r = AuthActions(stranger).login("officer@khaomang.test", environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert r.status_code == 302


def test_a_known_browser_cookie_is_for_its_own_account_only(limited):
    browser = limited.test_client()
    assert AuthActions(browser).login("admin@laocai.test").status_code == 302
    AuthActions(browser).logout()
    attacker = AuthActions(limited.test_client())
    for i in range(limited.config["LOGIN_FREE_FAILURES"]):
        attacker.login("officer@khaomang.test", f"guess {i}", environ_base={"REMOTE_ADDR": f"10.0.2.{i}"})
    assert AuthActions(browser).login("officer@khaomang.test").status_code == 429
    # A forged or foreign cookie is worth nothing either.
    browser.set_cookie("staff_browser", "forged")
    assert AuthActions(browser).login("officer@khaomang.test").status_code == 429


@pytest.mark.parametrize("failures, seconds", [(0, 0), (4, 0), (5, 1), (6, 2), (7, 4), (10, 32), (11, 60), (50, 60)])
def test_account_delay_doubles_up_to_a_cap(app, failures, seconds):
    from feedback.auth import login_delay

    with app.app_context():
        assert login_delay(failures) == seconds


# The 429 and 503 pages hand back survey answers only, never a password or a staff token.


def test_a_limited_login_never_echoes_the_password(limited):
    client = limited.test_client()
    auth = AuthActions(client)
    secret = "my-secret-typed-password"
    for _ in range(11):
        r = auth.login("someone@khaomang.test", secret)
    html = r.get_data(as_text=True)
    assert r.status_code == 429 and secret not in html and "Send my answers again" not in html


def test_a_database_outage_at_login_never_echoes_the_password(database_url):
    from feedback import create_app

    with socket.socket() as s:  # a port where no database listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "BASE_URL": "http://poster.test",
            "RATELIMIT_ENABLED": False,
            "WTF_CSRF_ENABLED": False,
            "SQLALCHEMY_DATABASE_URI": f"postgresql://postgres@127.0.0.1:{port}/nothing",
            "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}},
        }
    )
    try:
        r = dead.test_client().post(
            "/login", data={"email": "a@b.vn", "password": "my-secret-typed-password", "csrf_token": "a-staff-token"}
        )
        html = r.get_data(as_text=True)
        assert r.status_code == 503
        assert "my-secret-typed-password" not in html and "a-staff-token" not in html
    finally:
        with dead.app_context():
            db.engine.dispose()


# Where a log-in leads: only same-site paths, whatever the encoding.

OPEN_REDIRECTS = [
    "//evil.example/x",
    "///evil.example",
    "////evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "/\t/evil.example",
    "/\n/x",
    "/\r\n/x",
    "/\r/evil.example",
    "\t//evil.example",
    " //evil.example",
    "/ /evil.example",
    "/\x00/evil.example",
    "/\x0b/evil.example",
    "/\u3000/evil.example",
    "/\u200b/evil.example",
    "/\ufeff/evil.example",
    "https://evil.example",
    "http:evil.example",
    "http:/evil.example",
    "HTTPS://evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,x",
    "evil.example",
    "@evil.example",
    ".evil.example",
    "//evil.example@x",
    "/.//evil.example",
    "/./../evil.example",
    "/..//evil.example",
    "/\uff0f/evil.example",
    "/\uff0fevil.example",
    "http://poster.test@evil.example/",
    "/officer/\r\nSet-Cookie: a=b",
    "",
]


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_next_never_leaves_the_site(client, auth, users, target):
    r = auth.login("admin@laocai.test", query_string={"next": target})
    assert r.status_code == 302 and r.location == "/officer/"


@pytest.mark.parametrize(
    "query",
    [
        "next=/%09/evil.example",
        "next=/%0A/x",
        "next=/%0D%0A/x",
        "next=%2F%2Fevil.example",
        "next=/%5Cevil.example",
        "next=%09/%2F/evil.example",
        "next=/%E3%80%80/evil.example",
    ],
)
def test_next_is_checked_after_decoding(client, auth, users, query):
    r = auth.login("admin@laocai.test", query_string=query)
    assert r.status_code == 302 and r.location == "/officer/"


@pytest.mark.parametrize(
    "target",
    ["/officer/audit", "/analyst/?code=total&from=2025-01-01", "/officer/c/04465", "/analyst/c/04465?to=2025-12-31"],
)
def test_next_keeps_same_site_paths(client, auth, users, target):
    r = auth.login("admin@laocai.test", query_string={"next": target})
    assert r.status_code == 302 and r.location == target


# Passwords and e-mail addresses: a minimum length, no common passwords, real addresses.

WEAK_PASSWORDS = [
    "12345678",
    "password",
    "password1234",
    "qwertyuiop",
    "iloveyou123",
    "Password123!",
    "P@ssw0rd2024",
    "matkhau123",
    "Matkhau@123",
    "laocai2025",
    "1234567890",
    "aaaaaaaaaaaa",
]


@pytest.mark.parametrize("password", WEAK_PASSWORDS)
def test_common_passwords_are_refused_everywhere(app, runner, client, auth, users, password):
    r = runner.invoke(args=["create-user", "--email", "x@laocai.vn", "--role", "admin", "--password", password])
    assert r.exit_code != 0, r.output
    r = runner.invoke(args=["set-password", "--email", "officer@khaomang.test", "--password", password])
    assert r.exit_code != 0, r.output
    auth.login("admin@laocai.test")
    token = csrf_token(client, "/officer/users")
    client.post(
        "/officer/users",
        data={"csrf_token": token, "email": "y@laocai.vn", "role": "admin", "password": password, "active": "y"},
    )
    client.post(
        f"/officer/users/{users['officer']['id']}",
        data={
            "csrf_token": token,
            "email": "officer@khaomang.test",
            "role": "officer",
            "communes": ["04465"],
            "active": "y",
            "password": password,
        },
    )
    assert count(app, User) == 4
    assert AuthActions(app.test_client()).login("officer@khaomang.test", password).status_code == 401


def test_the_weak_password_message_is_translated(client, auth, users):
    auth.login("admin@laocai.test")
    r = client.post(
        "/officer/users",
        data={
            "csrf_token": csrf_token(client, "/officer/users"),
            "email": "y@laocai.vn",
            "role": "admin",
            "password": "password1234",
            "active": "y",
        },
        follow_redirects=True,
    )
    assert "mật khẩu" in r.get_data(as_text=True).lower()


def test_a_password_made_of_the_email_is_refused(runner, users):
    r = runner.invoke(
        args=["create-user", "--email", "nguyenvanbinh@laocai.vn", "--role", "admin", "--password", "nguyenvanbinh"]
    )
    assert r.exit_code != 0


BAD_EMAILS = [
    "@",
    "a@",
    "@b.vn",
    "a@b",
    "a b@laocai.vn",
    "a@laocai..vn",
    "a@-laocai.vn",
    "a@@laocai.vn",
    "a@laocai.vn\nb@laocai.vn",
    "<a@laocai.vn>",
    "a@localhost",
    "a@[127.0.0.1]",
    "a@" + "x" * 250 + ".vn",
]


@pytest.mark.parametrize("email", BAD_EMAILS)
def test_invalid_emails_are_refused_everywhere(app, runner, client, auth, users, email):
    r = runner.invoke(args=["create-user", "--email", email, "--role", "admin", "--password", "long enough pw"])
    assert r.exit_code != 0 and "not an e-mail" in r.output, r.output
    auth.login("admin@laocai.test")
    token = csrf_token(client, "/officer/users")
    client.post(
        "/officer/users",
        data={"csrf_token": token, "email": email, "role": "admin", "password": "long enough pw", "active": "y"},
    )
    client.post(
        f"/officer/users/{users['analyst']['id']}",
        data={"csrf_token": token, "email": email, "role": "analyst", "active": "y"},
    )
    assert count(app, User) == 4
    assert _account(app, "analyst@laocai.test") is not None


def test_emails_are_stored_normalised(app, runner):
    r = runner.invoke(
        args=["create-user", "--email", " Cán.Bộ@LaoCai.VN ", "--role", "admin", "--password", "long enough pw"]
    )
    assert r.exit_code == 0, r.output
    with app.app_context():
        assert db.session.execute(sa.select(User.email)).scalar_one() == "cán.bộ@laocai.vn"


def test_demo_users_still_get_created_with_the_readme_password(app, runner):
    from feedback.demo import DEMO_PASSWORD

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert f"`{DEMO_PASSWORD}`" in readme
    r = runner.invoke(args=["create-demo-users"])
    assert r.exit_code == 0 and r.output.count("created") == 3, r.output
    assert AuthActions(app.test_client()).login("admin@demo.laocai.vn", DEMO_PASSWORD).status_code == 302


# Production refuses to start with the debugger on or a guessable secret key.

GOOD_KEY = secrets.token_hex(32)


def _production(**config):
    from feedback import create_app

    return create_app(
        {
            "ENV_NAME": "production",
            "SECRET_KEY": GOOD_KEY,
            "BASE_URL_SET": True,
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            **config,
        }
    )


@pytest.mark.parametrize("key", ["x", "s3cret", "dev-not-secret", "a" * 64, "ab" * 32, GOOD_KEY[:31]])
def test_production_refuses_a_short_or_guessable_secret_key(key):
    with pytest.raises(RuntimeError, match="SECRET_KEY.*32"):
        _production(SECRET_KEY=key)


def test_production_refuses_debug_mode():
    with pytest.raises(RuntimeError, match="debug"):
        _production(DEBUG=True)


def test_production_starts_with_safe_settings():
    app = _production()
    assert not app.debug and app.config["SESSION_COOKIE_SECURE"]


def _run(args, tmp_path, timeout=120, **env):
    base = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_") and k not in ("SECRET_KEY", "BASE_URL")}
    env = {
        **base,
        "FLASK_ENV_NAME": "production",
        "SECRET_KEY": GOOD_KEY,
        "BASE_URL": "https://feedback.laocai.vn",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite'}",
        **env,
    }
    root = Path(__file__).resolve().parent.parent
    return subprocess.run(args, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)


def test_the_wsgi_entry_refuses_debug_and_a_short_key_in_production(tmp_path):
    assert _run([sys.executable, "-c", "import wsgi"], tmp_path).returncode == 0
    r = _run([sys.executable, "-c", "import wsgi"], tmp_path, FLASK_DEBUG="1")
    assert r.returncode != 0 and "debug" in r.stderr
    r = _run([sys.executable, "-c", "import wsgi"], tmp_path, SECRET_KEY="x")
    assert r.returncode != 0 and "SECRET_KEY" in r.stderr


def test_flask_run_refuses_debug_in_production(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    flask = str(Path(sys.executable).with_name("flask"))
    # It must refuse at once; a server that started would run until the timeout.
    r = _run([flask, "--app", "wsgi", "run", "--port", str(port)], tmp_path, FLASK_DEBUG="1")
    assert r.returncode != 0 and "debug" in r.stderr
    r = _run([flask, "--app", "wsgi", "--debug", "run", "--port", str(port)], tmp_path)
    assert r.returncode != 0 and "debug" in r.stderr


# Production cannot be switched off by the spelling of its name, nor crash on a numeric key.


@pytest.mark.parametrize("name", ["Production", "production ", " PRODUCTION", "prod", "staging"])
def test_any_env_name_but_development_or_testing_is_production(name):
    with pytest.raises(RuntimeError, match="debug"):
        _production(ENV_NAME=name, DEBUG=True)


@pytest.mark.parametrize(
    "key", [12345678901234567890123456789012345, b"x" * 40, "abcdefgh" * 4, "0123456789abcdef" * 4]
)
def test_production_refuses_a_numeric_or_repeated_secret_key(key):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        _production(SECRET_KEY=key)


def test_a_numeric_secret_key_from_the_environment_is_refused_clearly(tmp_path):
    r = _run(
        [sys.executable, "-c", "import wsgi"],
        tmp_path,
        SECRET_KEY="",
        FLASK_SECRET_KEY="12345678901234567890123456789012345",
    )
    assert r.returncode != 0 and "SECRET_KEY" in r.stderr and "TypeError" not in r.stderr


# Passwords: one text whatever the keyboard's Unicode form; no control characters.

VIETNAMESE_PASSWORD = "trạm y tế khao mang"


def test_a_password_set_in_nfc_logs_in_typed_in_nfd(app, client, auth, runner, users):
    nfc = unicodedata.normalize("NFC", VIETNAMESE_PASSWORD)
    r = runner.invoke(args=["set-password", "--email", "officer@khaomang.test", "--password", nfc])
    assert r.exit_code == 0, r.output
    assert auth.login("officer@khaomang.test", unicodedata.normalize("NFD", nfc)).status_code == 302


@pytest.mark.parametrize("bad", ["\r", "\n", "\x00", "\x1b", "\u202e"])
def test_a_new_password_with_a_control_character_is_refused(app, runner, users, bad):
    r = runner.invoke(
        args=["set-password", "--email", "officer@khaomang.test", "--password", f"trạm y tế{bad}khao mang"]
    )
    assert r.exit_code != 0 and "control" in r.output.lower()


def test_the_password_length_message_is_vietnamese(app, client, auth, users):
    assert auth.login("admin@laocai.test").status_code == 302
    data = {
        "csrf_token": csrf_token(client, "/officer/users"),
        "email": "new@laocai.test",
        "role": "analyst",
        "password": "short",
    }
    html = client.post("/officer/users", data=data).get_data(as_text=True)
    assert "Field must be between" not in html and "ký tự" in html


def test_a_look_alike_email_is_an_existing_account(app, runner, users):
    r = runner.invoke(
        args=[
            "create-user",
            "--email",
            "o\ufb03cer@khaomang.test",
            "--role",
            "analyst",
            "--password",
            "trạm y tế khao mang",
        ]
    )
    assert r.exit_code != 0 and "exists" in r.output
