"""Fixtures: one migrated database per test session (SQLite, or PostgreSQL when
``TEST_DATABASE_URL`` is set), emptied of responses and service points before each test."""

from __future__ import annotations

import os
import re
import uuid

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from feedback import create_app
from feedback import database_url as database_url_for_psycopg
from feedback.extensions import db
from feedback.models import (
    Answer,
    ApiClient,
    AuditEvent,
    CommuneAction,
    DataVersion,
    DigestSent,
    Job,
    JobFileChunk,
    PopulationMargin,
    ProvinceSetting,
    PublishedPeriod,
    Response,
    ScoreCache,
    ServicePoint,
    User,
    user_commune,
)
from feedback.units import load_units

BASE_URL = "http://poster.test"


def redis_url(db: int) -> str:
    """A database of the shared Redis server (127.0.0.1:6379) for one test file.

    ``TEST_REDIS_DB_SHIFT`` moves every file's database by the same amount (modulo 16), so two
    runs of the suite on one machine (a developer's and a CI run) never touch each other's keys.
    """
    return f"redis://127.0.0.1:6379/{(db + int(os.environ.get('TEST_REDIS_DB_SHIFT', '0'))) % 16}"


def _config(url: str) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": url,
        "BASE_URL": BASE_URL,
        # Limits are tested on their own (tests/test_limits.py); elsewhere they would only
        # make the count of requests per test matter.
        "RATELIMIT_ENABLED": False,
    }


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """A freshly migrated database with Lào Cai's communes loaded."""
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"
    if url.startswith("postgresql"):
        _create_database(url)
    app = create_app(_config(url))
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        load_units("15")
        db.engine.dispose()
    return url


def _create_database(url: str) -> None:
    """Create the test database on the server if it does not exist yet."""
    target = sa.make_url(database_url_for_psycopg(url))
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database})
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


@pytest.fixture
def app(database_url):
    app = create_app(_config(database_url))
    with app.app_context():
        for model in (
            JobFileChunk,
            Job,
            ScoreCache,
            DataVersion,
            Answer,
            Response,
            ApiClient,
            AuditEvent,
            user_commune,
            DigestSent,
            CommuneAction,
            PublishedPeriod,
            ProvinceSetting,
            User,
            ServicePoint,
            PopulationMargin,
        ):
            db.session.execute(sa.delete(model))
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def point(app):
    """An active health service point in Xã Khao Mang (04465)."""
    with app.app_context():
        sp = ServicePoint(commune_code="04465", service_area="health", name="Trạm Y tế Khao Mang")
        db.session.add(sp)
        db.session.commit()
        return {"id": sp.id, "token": sp.token}


def hidden_fields(html: str) -> dict[str, str]:
    """The hidden inputs of a rendered form (CSRF token and signed state)."""
    return dict(re.findall(r'<input id="\w+" name="(\w+)" type="hidden" value="([^"]*)"', html))


def count(app, model=Response, **filters) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model).filter_by(**filters))


def new_id() -> str:
    return str(uuid.uuid4())


PASSWORD = "correct horse 42"
OWN_COMMUNE, OTHER_COMMUNE = "04465", "02647"  # Xã Khao Mang, Phường Lào Cai


@pytest.fixture(scope="session")
def password_hash() -> str:
    from feedback.auth import hash_password

    return hash_password(PASSWORD)  # once per session: scrypt is slow on purpose


@pytest.fixture
def users(app, password_hash) -> dict[str, dict]:
    """An admin, an analyst, an officer of Khao Mang and an officer of Phường Lào Cai."""
    from feedback.models import Commune

    specs = {
        "admin": ("admin@laocai.test", "admin", []),
        "analyst": ("analyst@laocai.test", "analyst", []),
        "officer": ("officer@khaomang.test", "officer", [OWN_COMMUNE]),
        "other_officer": ("officer@laocai.test", "officer", [OTHER_COMMUNE]),
    }
    made = {}
    with app.app_context():
        for key, (email, role, codes) in specs.items():
            user = User(
                email=email,
                role=role,
                password_hash=password_hash,
                communes=[db.session.get(Commune, c) for c in codes],
            )
            db.session.add(user)
            db.session.flush()
            made[key] = {"id": user.id, "email": email}
        db.session.commit()
    return made


class AuthActions:
    """Log in and out through the real form, CSRF token included."""

    def __init__(self, client):
        self._client = client

    def login(self, email: str, password: str = PASSWORD, **extra):
        token = hidden_fields(self._client.get("/login").get_data(as_text=True))["csrf_token"]
        return self._client.post("/login", data={"csrf_token": token, "email": email, "password": password}, **extra)

    def logout(self):
        """Log out as the page's button does: a POST with the CSRF token (GET ends nothing)."""
        page = self._client.get("/logout")  # logged in: a page with the logout button; else the log-in page
        if page.status_code == 302:
            page = self._client.get(page.location)
        token = hidden_fields(page.get_data(as_text=True)).get("csrf_token", "")
        return self._client.post("/logout", data={"csrf_token": token})


@pytest.fixture
def auth(client):
    return AuthActions(client)


def csrf_token(client, url: str = "/login") -> str:
    """A CSRF token valid for the client's session."""
    return hidden_fields(client.get(url).get_data(as_text=True))["csrf_token"]
