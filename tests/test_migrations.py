"""Migrations 0007_scale (an installation that holds one province), 0008_read_speed and 0009_channel,
on both databases."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

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
                conn.execute(
                    sa.text(
                        "INSERT INTO commune (code, name, division_type, codename, province_code, province_name) "
                        "VALUES (:code, 'X', 'xã', 'x', :p, 'P')"
                    ),
                    {"code": f"9{i:04d}", "p": province},
                )
            for role in ("admin", "analyst", "officer"):
                conn.execute(
                    sa.text(
                        "INSERT INTO user_account (email, password_hash, role, active, created_at, session_epoch, "
                        "failed_logins) VALUES (:e, 'x', :r, true, CURRENT_TIMESTAMP, 0, 0)"
                    ),
                    {"e": f"{role}@example.org", "r": role},
                )
        upgrade()
        with db.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT role, province_code FROM user_account")).all()
        db.engine.dispose()
    return dict(rows)


def test_one_province_installation_keeps_its_admins_and_analysts_to_it(database_url, tmp_path):
    assert _staff_provinces(database_url, tmp_path, ["15", "15"]) == {"admin": "15", "analyst": "15", "officer": None}


def test_a_several_province_installation_leaves_accounts_national(database_url, tmp_path):
    assert _staff_provinces(database_url, tmp_path, ["15", "14"]) == {"admin": None, "analyst": None, "officer": None}


FLAGS = ["", "clock", "too_fast", "clock;too_fast", "too_fast;clock", "straight_lined;burst", "burst", "honeypot"]


def test_0008_computes_low_quality_from_the_flags_and_indexes_the_respondent_block(database_url, tmp_path):
    """Responses stored before 0008 get ``low_quality`` from their flags, as the bridge's old text test said."""
    app = create_app(_config(_fresh_url(database_url, tmp_path)))
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade(revision="0007_scale")
        with db.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO commune (code, name, division_type, codename, province_code, "
                    "province_name) VALUES ('90000', 'X', 'xã', 'x', '15', 'P')"
                )
            )
            for i, flags in enumerate(FLAGS):
                conn.execute(
                    sa.text(
                        "INSERT INTO response (id, survey, survey_version, commune_code, lang, mode, submitted_at, "
                        "received_at, content_hash, flags) VALUES (:id, 'health', 1, '90000', 'vi', 'web', "
                        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 'x', :flags)"
                    ),
                    {"id": f"{i:032x}", "flags": flags},
                )
        upgrade()
        with db.engine.begin() as conn:
            # The pre-0008 test of the bridge, on the same rows.
            rest = "replace(';' || coalesce(flags, '') || ';', ';clock;', ';')"
            rows = conn.execute(sa.text(f"SELECT flags, low_quality, {rest} NOT IN (';', ';;') FROM response")).all()
            assert {flags: (bool(stored), bool(old)) for flags, stored, old in rows} == {
                flags: (flags not in ("", "clock"),) * 2 for flags in FLAGS
            }
            # Kept in step by the database when flags change later (burst flagging updates them).
            conn.execute(sa.text("UPDATE response SET flags = 'burst' WHERE flags = ''"))
            conn.execute(sa.text("UPDATE response SET flags = 'clock' WHERE flags = 'too_fast'"))
            changed = dict(
                conn.execute(sa.text("SELECT flags, low_quality FROM response WHERE flags IN ('burst', 'clock')")).all()
            )
            assert {k: bool(v) for k, v in changed.items()} == {"burst": True, "clock": False}
            indexes = {i["name"] for i in sa.inspect(conn).get_indexes("answer")}
        assert "ix_answer_respondent" in indexes
        db.engine.dispose()


# (mode, service point?) of responses stored before 0009, and the channel each gets.
BEFORE_CHANNELS = [
    ("web", True, "poster"),
    ("web", False, "landing"),
    ("paper", True, "paper"),
    ("api", True, "api"),
    ("api", False, "api"),
]


def test_0009_gives_every_stored_response_its_channel(database_url, tmp_path):
    """Responses stored before 0009 get the channel their mode and service point say; the column is
    NOT NULL and takes only the four channels; it goes and comes back with a downgrade and upgrade."""
    app = create_app(_config(_fresh_url(database_url, tmp_path)))
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade(revision="0008_read_speed")
        with db.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO commune (code, name, division_type, codename, province_code, "
                    "province_name) VALUES ('90000', 'X', 'xã', 'x', '15', 'P')"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO service_point (id, commune_code, service_area, name, token, active, "
                    "created_at) VALUES (1, '90000', 'health', 'T', 'tok', true, CURRENT_TIMESTAMP)"
                )
            )
            for i, (mode, with_point, _) in enumerate(BEFORE_CHANNELS):
                conn.execute(
                    sa.text(
                        "INSERT INTO response (id, survey, survey_version, commune_code, service_point_id, lang, mode, "
                        "submitted_at, received_at, content_hash, flags) VALUES (:id, 'health', 1, '90000', :point, "
                        "'vi', :mode, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 'x', '')"
                    ),
                    {"id": f"{i:032x}", "point": 1 if with_point else None, "mode": mode},
                )
            conn.execute(
                sa.text(
                    "INSERT INTO answer (response_id, question_id, position, value) VALUES (:id, 'overall', 0, '4')"
                ),
                {"id": f"{0:032x}"},
            )
        upgrade()
        with db.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, channel FROM response")).all()
            assert {str(rid).replace("-", "")[-2:]: channel for rid, channel in rows} == {
                f"{i:02x}": channel for i, (_, _, channel) in enumerate(BEFORE_CHANNELS)
            }
            assert conn.scalar(sa.text("SELECT count(*) FROM answer")) == 1  # no rebuild cascaded into answers
            column = next(c for c in sa.inspect(conn).get_columns("response") if c["name"] == "channel")
            assert column["nullable"] is False
        for bad in ("'qr'", "NULL"):
            with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
                conn.execute(sa.text(f"UPDATE response SET channel = {bad}"))
        downgrade(revision="0008_read_speed")
        with db.engine.connect() as conn:
            assert "channel" not in {c["name"] for c in sa.inspect(conn).get_columns("response")}
            assert conn.scalar(sa.text("SELECT count(*) FROM answer")) == 1
        upgrade()
        with db.engine.connect() as conn:
            assert sorted(conn.execute(sa.text("SELECT channel FROM response")).scalars()) == sorted(
                channel for *_, channel in BEFORE_CHANNELS
            )
        db.engine.dispose()
