"""Migration 0007_scale on an installation that holds one province (both databases)."""

from __future__ import annotations

import sqlalchemy as sa
from flask_migrate import upgrade

from feedback import create_app
from feedback.extensions import db

from .conftest import _config, _create_database


def _fresh_url(database_url: str, tmp_path) -> str:
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'upgrade.sqlite'}"
    url = sa.make_url(database_url)
    url = url.set(database=f"{url.database}_upgrade").render_as_string(hide_password=False)
    _create_database(url)
    return url


def _staff_provinces(database_url: str, tmp_path, province_codes: list[str]) -> dict[str, str | None]:
    app = create_app(_config(_fresh_url(database_url, tmp_path)))
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade(revision="0006_trust")
        with db.engine.begin() as conn:
            for i, province in enumerate(province_codes):
                conn.execute(sa.text(
                    "INSERT INTO commune (code, name, division_type, codename, province_code, province_name) "
                    "VALUES (:code, 'X', 'xã', 'x', :p, 'P')"), {"code": f"9{i:04d}", "p": province})
            for role in ("admin", "analyst", "officer"):
                conn.execute(sa.text(
                    "INSERT INTO user_account (email, password_hash, role, active, created_at, session_epoch, "
                    "failed_logins) VALUES (:e, 'x', :r, true, CURRENT_TIMESTAMP, 0, 0)"),
                    {"e": f"{role}@example.org", "r": role})
        upgrade()
        with db.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT role, province_code FROM user_account")).all()
        db.engine.dispose()
    return dict(rows)


def test_one_province_installation_keeps_its_admins_and_analysts_to_it(database_url, tmp_path):
    assert _staff_provinces(database_url, tmp_path, ["15", "15"]) == {"admin": "15", "analyst": "15", "officer": None}


def test_a_several_province_installation_leaves_accounts_national(database_url, tmp_path):
    assert _staff_provinces(database_url, tmp_path, ["15", "14"]) == {"admin": None, "analyst": None, "officer": None}
