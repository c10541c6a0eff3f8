"""National scale: every province's communes load, and staff see only their province (or all)."""

from __future__ import annotations

import json
import time
from datetime import datetime

import pytest
import sqlalchemy as sa
from vietnam_provinces import Province, Ward

from feedback.auth import staff_province
from feedback.extensions import db
from feedback.models import (
    Answer,
    ApiClient,
    AuditEvent,
    Commune,
    Job,
    JobFileChunk,
    PopulationMargin,
    Response,
    ScoreCache,
    ServicePoint,
    User,
    user_commune,
)
from feedback.units import official_units, province_codes
from tests.conftest import OWN_COMMUNE, PASSWORD, csrf_token, hidden_fields
from tests.test_bridge import add_response

OTHER_PROVINCE = "14"  # Sơn La


def _clear(app) -> None:
    """Remove everything that refers to communes, then every commune outside Lào Cai (the
    session database holds Lào Cai only, which other test modules count on)."""
    with app.app_context():
        for model in (
            JobFileChunk,
            Job,
            ScoreCache,
            Answer,
            Response,
            ApiClient,
            AuditEvent,
            user_commune,
            User,
            ServicePoint,
            PopulationMargin,
        ):
            db.session.execute(sa.delete(model))
        db.session.execute(sa.delete(Commune).where(Commune.province_code != "15"))
        db.session.commit()


@pytest.fixture
def national(app):
    """Sơn La loaded beside Lào Cai; removed again afterwards."""
    from feedback.units import load_units

    with app.app_context():
        load_units(OTHER_PROVINCE)
        far = official_units(OTHER_PROVINCE)[0]["code"]
    yield far
    _clear(app)


@pytest.fixture
def staff(app, national, password_hash):
    """Admins and analysts of Lào Cai, of Sơn La and of the nation; an officer in Sơn La."""
    specs = {
        "admin15": ("admin", "15", []),
        "analyst15": ("analyst", "15", []),
        "admin14": ("admin", OTHER_PROVINCE, []),
        "analyst_nation": ("analyst", None, []),
        "admin_nation": ("admin", None, []),
        "officer14": ("officer", None, [national]),
    }
    made = {}
    with app.app_context():
        for key, (role, province, codes) in specs.items():
            user = User(
                email=f"{key}@national.test",
                role=role,
                password_hash=password_hash,
                province_code=province,
                communes=[db.session.get(Commune, c) for c in codes],
            )
            db.session.add(user)
            db.session.flush()
            made[key] = {"id": user.id, "email": user.email}
        db.session.commit()
    return made


def _seed(app, far: str) -> None:
    """Responses in Khao Mang (Lào Cai) and in a commune of Sơn La."""
    with app.app_context():
        for i, code in enumerate([OWN_COMMUNE] * 6 + [far] * 6):
            add_response(
                code,
                datetime(2025, 8, 1 + i, 3),
                [
                    ("wait_time", "lt15" if i % 2 else "gt60", "6.1", 1.0 if i % 2 else 0.0),
                    ("informal_payment", "no", "4.2", 1.0),
                ],
            )
        db.session.commit()


def _login(client, email: str) -> None:
    token = hidden_fields(client.get("/login").get_data(as_text=True))["csrf_token"]
    assert client.post("/login", data={"csrf_token": token, "email": email, "password": PASSWORD}).status_code == 302


def _start_export(client, **fields):
    """Start a score export job as the page's form does."""
    token = csrf_token(client, "/analyst/exports")
    return client.post("/analyst/exports", data={"csrf_token": token, "kind": "scores", "fmt": "csv", **fields})


def _exported(client, **fields) -> str:
    """Start a score export, wait for its job (a deadline, no fixed sleep) and download the CSV."""
    started = _start_export(client, **fields)
    assert started.status_code == 303
    status_url = started.headers["Location"].rstrip("/") + ".json"
    deadline = time.monotonic() + 120
    while (state := client.get(status_url).get_json())["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, state
        time.sleep(0.05)
    assert state["status"] == "done", state
    return client.get(state["download_url"]).get_data(as_text=True)


def _export_provinces(app) -> list[str]:
    """The province of each export job started, oldest first."""
    with app.app_context():
        params = db.session.scalars(sa.select(Job.params).order_by(Job.created_at, Job.id)).all()
    return [json.loads(p)["province_code"] for p in params]


# Loading units.


def test_load_units_all_loads_every_province_once(app, runner):
    try:
        result = runner.invoke(args=["load-units", "--all"])
        assert result.exit_code == 0, result.output
        with app.app_context():
            provinces = db.session.scalar(sa.select(sa.func.count(sa.distinct(Commune.province_code))))
            communes = db.session.scalar(sa.select(sa.func.count()).select_from(Commune))
        assert provinces == len(list(Province.iter_all())) == len(province_codes())
        assert communes == len(list(Ward.iter_all()))
        again = runner.invoke(args=["load-units", "--all"])
        assert again.exit_code == 0 and "0 units added, 0 updated" in again.output
    finally:
        _clear(app)


def test_load_units_of_one_province_and_an_unknown_one(app, runner, password_hash):
    with app.app_context():
        db.session.add(User(email="old@national.test", role="analyst", password_hash=password_hash))
        db.session.commit()
    try:
        same = runner.invoke(args=["load-units", "--province", "15"])
        assert same.exit_code == 0 and "note:" not in same.output  # one province: national changes nothing
        result = runner.invoke(args=["load-units", "--province", OTHER_PROVINCE])
        assert result.exit_code == 0, result.output
        assert f"{len(official_units(OTHER_PROVINCE))} units added" in result.output
        assert "old@national.test" in result.output  # an account that now sees a second province
        with app.app_context():
            names = set(
                db.session.scalars(sa.select(Commune.province_name).where(Commune.province_code == OTHER_PROVINCE))
            )
        assert names == {"Sơn La"}
        bad = runner.invoke(args=["load-units", "--province", "99"])
        assert bad.exit_code != 0 and "unknown province" in bad.output
        both = runner.invoke(args=["load-units", "--province", "15", "--all"])
        assert both.exit_code != 0
    finally:
        _clear(app)


# Who is scoped to what.


def test_staff_province_of_each_kind_of_account(app, staff, national):
    with app.app_context():
        by_email = {u.email: u for u in db.session.scalars(sa.select(User))}
        assert staff_province(by_email["analyst15@national.test"]) == "15"
        assert staff_province(by_email["analyst_nation@national.test"]) is None
        # An officer made before provinces existed: the province of their communes.
        assert staff_province(by_email["officer14@national.test"]) == OTHER_PROVINCE


def test_create_user_command_takes_a_province(app, runner, national):
    ok = runner.invoke(
        args=[
            "create-user",
            "--email",
            "sonla@national.test",
            "--role",
            "analyst",
            "--province",
            OTHER_PROVINCE,
            "--password",
            PASSWORD,
        ]
    )
    assert ok.exit_code == 0 and f"province {OTHER_PROVINCE}" in ok.output, ok.output
    nation = runner.invoke(
        args=["create-user", "--email", "nation@national.test", "--role", "admin", "--password", PASSWORD]
    )
    assert nation.exit_code == 0 and "every province" in nation.output
    bad = runner.invoke(
        args=[
            "create-user",
            "--email",
            "x@national.test",
            "--role",
            "analyst",
            "--province",
            "99",
            "--password",
            PASSWORD,
        ]
    )
    assert bad.exit_code != 0 and "unknown province" in bad.output
    mixed = runner.invoke(
        args=[
            "create-user",
            "--email",
            "y@national.test",
            "--role",
            "officer",
            "--province",
            "15",
            "--commune",
            national,
            "--password",
            PASSWORD,
        ]
    )
    assert mixed.exit_code != 0 and "not in province 15" in mixed.output
    with app.app_context():
        provinces = dict(db.session.execute(sa.select(User.email, User.province_code)).all())
    assert provinces == {"sonla@national.test": OTHER_PROVINCE, "nation@national.test": None}


# Analysts.


def test_province_analyst_gets_404_for_another_province(app, client, staff, national):
    _seed(app, national)
    _login(client, staff["analyst15"]["email"])
    assert client.get(f"/analyst/c/{OWN_COMMUNE}").status_code == 200
    assert client.get(f"/analyst/c/{national}").status_code == 404
    assert client.get(f"/analyst/?province={OTHER_PROVINCE}").status_code == 404
    page = client.get("/analyst/").get_data(as_text=True)
    assert '<select name="province"' not in page  # no selector for staff of one province
    assert _start_export(client, province=OTHER_PROVINCE).status_code == 404
    own = _exported(client)
    assert OWN_COMMUNE in own and national not in own
    assert _export_provinces(app) == ["15"]


def test_national_analyst_chooses_the_province(app, client, staff, national):
    _seed(app, national)
    _login(client, staff["analyst_nation"]["email"])
    page = client.get("/analyst/").get_data(as_text=True)
    assert '<select name="province"' in page and "Sơn La" in page
    default = _exported(client)  # DEFAULT_PROVINCE until one is chosen
    assert OWN_COMMUNE in default and national not in default
    assert client.get(f"/analyst/?province={OTHER_PROVINCE}").status_code == 200
    chosen = _exported(client)  # the choice is remembered
    assert national in chosen and OWN_COMMUNE not in chosen
    assert _export_provinces(app) == ["15", OTHER_PROVINCE]
    assert client.get(f"/analyst/c/{national}").status_code == 200
    assert client.get("/analyst/?province=99").status_code == 404
    assert client.get("/analyst/?province=04").status_code == 404  # no communes of Cao Bằng loaded


# Admins.


def test_province_admin_sees_only_their_province(app, client, staff, national):
    with app.app_context():
        point = ServicePoint(commune_code=national, service_area="health", name="Trạm Y tế")
        client_far = ApiClient(name="kiosk-son-la", token_hash="a" * 64, communes=[db.session.get(Commune, national)])
        client_near = ApiClient(
            name="kiosk-lao-cai", token_hash="b" * 64, communes=[db.session.get(Commune, OWN_COMMUNE)]
        )
        db.session.add_all([point, client_far, client_near])
        db.session.add(AuditEvent(action="point_created", target="far point", commune_code=national))
        db.session.add(AuditEvent(action="point_created", target="near point", commune_code=OWN_COMMUNE))
        db.session.commit()
        point_id, far_client_id = point.id, client_far.id
    _login(client, staff["admin15"]["email"])
    users = client.get("/officer/users").get_data(as_text=True)
    assert staff["analyst15"]["email"] in users
    assert staff["admin14"]["email"] not in users and staff["officer14"]["email"] not in users
    assert staff["analyst_nation"]["email"] not in users
    assert client.get(f"/officer/users/{staff['admin14']['id']}").status_code == 404
    assert client.get(f"/officer/users/{staff['officer14']['id']}").status_code == 404
    assert client.get(f"/officer/users/{staff['analyst15']['id']}").status_code == 200
    assert client.get(f"/officer/c/{national}").status_code == 404
    assert client.get(f"/officer/points/{point_id}").status_code == 404
    index = client.get("/officer/").get_data(as_text=True)
    assert "Khao Mang" in index and national not in index
    log = client.get("/officer/audit").get_data(as_text=True)
    assert "near point" in log and "far point" not in log
    clients = client.get("/officer/api-clients").get_data(as_text=True)
    assert "kiosk-lao-cai" in clients and "kiosk-son-la" not in clients
    token = csrf_token(client, "/officer/api-clients")
    assert client.post(f"/officer/api-clients/{far_client_id}/revoke", data={"csrf_token": token}).status_code == 404


def test_national_admin_sees_every_province(app, client, staff, national):
    _login(client, staff["admin_nation"]["email"])
    users = client.get("/officer/users").get_data(as_text=True)
    assert staff["admin14"]["email"] in users and staff["analyst15"]["email"] in users
    assert client.get(f"/officer/users/{staff['officer14']['id']}").status_code == 200
    assert client.get(f"/officer/c/{national}").status_code == 200
    far_name = official_units(OTHER_PROVINCE)[0]["name"]
    assert far_name in client.get(f"/officer/?province={OTHER_PROVINCE}").get_data(as_text=True)
    assert far_name not in client.get("/officer/").get_data(as_text=True)  # DEFAULT_PROVINCE by default


def test_province_admin_creates_accounts_only_in_their_province(app, client, staff, national):
    _login(client, staff["admin15"]["email"])
    token = csrf_token(client, "/officer/users")
    # Asking for another province is ignored: the account is made in the admin's own.
    made = client.post(
        "/officer/users",
        data={
            "csrf_token": token,
            "email": "new15@national.test",
            "role": "analyst",
            "password": "a long unusual phrase 93",
            "province": OTHER_PROVINCE,
            "active": "y",
        },
    )
    assert made.status_code == 302
    # A commune of another province is not among the choices: nothing is made.
    refused = client.post(
        "/officer/users",
        data={
            "csrf_token": token,
            "email": "far@national.test",
            "role": "officer",
            "password": "a long unusual phrase 93",
            "communes": [national],
            "active": "y",
        },
    )
    assert refused.status_code == 200
    with app.app_context():
        provinces = dict(db.session.execute(sa.select(User.email, User.province_code)).all())
    assert provinces["new15@national.test"] == "15" and "far@national.test" not in provinces


def test_national_admin_creates_a_province_analyst(app, client, staff, national):
    _login(client, staff["admin_nation"]["email"])
    token = csrf_token(client, "/officer/users")
    made = client.post(
        "/officer/users",
        data={
            "csrf_token": token,
            "email": "sl@national.test",
            "role": "analyst",
            "password": "a long unusual phrase 93",
            "province": OTHER_PROVINCE,
            "active": "y",
        },
    )
    assert made.status_code == 302
    with app.app_context():
        assert (
            db.session.scalar(sa.select(User.province_code).where(User.email == "sl@national.test")) == OTHER_PROVINCE
        )


def test_the_scores_api_keeps_to_the_accounts_province(app, client, staff, national):
    _seed(app, national)
    _login(client, staff["analyst15"]["email"])
    own = client.get("/api/v1/scores")
    assert own.status_code == 200
    codes = {row["commune_code"] for row in own.get_json()["rows"]}
    assert OWN_COMMUNE in codes and national not in codes
    assert client.get(f"/api/v1/scores?province={OTHER_PROVINCE}").status_code == 404
    client = app.test_client()
    _login(client, staff["analyst_nation"]["email"])
    chosen = client.get(f"/api/v1/scores?province={OTHER_PROVINCE}")
    codes = {row["commune_code"] for row in chosen.get_json()["rows"]}
    assert national in codes and OWN_COMMUNE not in codes
