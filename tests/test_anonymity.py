"""Respondents stay anonymous: a device is its random cookie, hashes use daily peppers that are
destroyed, officers see no single web response, and suppressed public cells carry nothing."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import re
import threading
import uuid
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from feedback import create_app
from feedback.devices import DEVICE_COOKIE, day_key, local_day, purge_peppers
from feedback.exports import SUPPRESSION_KEEPS, SUPPRESSION_KEEPS_FLAGS, suppress_small_cells
from feedback.extensions import db
from feedback.models import Answer, HashPepper, Response, User, utcnow
from surveys import catalog

from .conftest import OWN_COMMUNE, AuthActions, _config, hidden_fields
from .helpers import paper_date, valid_answers
from .test_bridge import OTHER, OWN, seed
from .test_quality import CALM

ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/125.0.0.0 Mobile Safari/537.36"
)  # the reduced User-Agent every such phone sends
WIFI = "203.0.113.9"


@pytest.fixture(autouse=True)
def unhurried(app):
    """Forms here are sent as soon as they open: only the burst rule is under test."""
    app.config["QUALITY_SECONDS_PER_ANSWER"] = 0


def _answer(app, client, url: str, *, addr: str = WIFI, agent: str = ANDROID_CHROME, forget_device=False, **extra):
    """Open the survey page and send it, as a phone with its own cookie jar would."""
    env = {"REMOTE_ADDR": addr, "HTTP_USER_AGENT": agent}
    fields = hidden_fields(client.get(url, environ_base=env).get_data(as_text=True))
    if forget_device:
        client.delete_cookie(DEVICE_COOKIE)
    r = client.post(url, data={**fields, **CALM, "send": "1", **extra}, environ_base=env)
    assert r.status_code == 303, r.status_code
    # "Answer again": the page keeps a sent form's id until asked for a new one.
    client.post(url, data={"new_response": "1"}, environ_base=env)


def _flags(app) -> list[str]:
    """The burst flag of each response, sorted ("" without it; other rules are not under test)."""
    with app.app_context():
        flags = db.session.execute(sa.select(Response.flags)).scalars()
        # Sorted ("" before "burst"): receive times are whole seconds and cannot order a burst.
        return sorted("burst" if "burst" in f.split(";") else "" for f in flags)


@pytest.fixture(params=["landing", "poster"])
def survey_url(request, point) -> str:
    return "/c/04465/health" if request.param == "landing" else f"/s/{point['token']}"


# ---- a device is its cookie ------------------------------------------------------------------


def _device_cookie_header(response) -> str | None:
    return next((h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{DEVICE_COOKIE}=")), None)


def test_survey_page_gives_each_browser_a_random_device_cookie(app, survey_url):
    one, two = app.test_client(), app.test_client()
    header = _device_cookie_header(one.get(survey_url))
    assert header is not None
    attributes = [a.strip().lower() for a in header.split(";")]
    assert "httponly" in attributes and "samesite=lax" in attributes and "secure" not in attributes
    max_age = next(int(a.split("=")[1]) for a in attributes if a.startswith("max-age="))
    assert max_age >= 180 * 86400  # long-lived
    value = one.get_cookie(DEVICE_COOKIE).value
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", value)  # 128 random bits, nothing else
    assert _device_cookie_header(one.get(survey_url)) is None  # kept, not renewed on every page
    two.get(survey_url)
    assert two.get_cookie(DEVICE_COOKIE).value != value
    # Staff and other pages set none.
    assert _device_cookie_header(app.test_client().get("/privacy")) is None


def test_device_cookie_is_secure_on_https(app):
    r = app.test_client().get("/c/04465/health", base_url="https://poster.test")
    assert "secure" in [a.strip().lower() for a in _device_cookie_header(r).split(";")]


def test_five_phones_on_one_wifi_are_not_a_burst(app, survey_url):
    # Five different phones, same reduced User-Agent, same commune Wi-Fi, one poster.
    for _ in range(5):
        _answer(app, app.test_client(), survey_url)
    assert _flags(app) == [""] * 5
    with app.app_context():
        devices = set(db.session.execute(sa.select(Response.device_hash)).scalars())
        networks = set(db.session.execute(sa.select(Response.network_hash)).scalars())
    assert len(devices) == 5 and len(networks) == 1


def test_one_phone_sending_four_is_a_burst(app, survey_url):
    phone = app.test_client()
    for _ in range(3):
        _answer(app, phone, survey_url)
    assert _flags(app) == ["", "", ""]
    _answer(app, phone, survey_url)  # the 4th completes the burst and flags its members too
    assert _flags(app) == ["burst"] * 4


def test_a_flood_with_fresh_cookies_is_caught_by_the_network(app):
    # 21 "devices" from one address (a script taking a fresh cookie each time): the 21st is
    # past QUALITY_BURST_NETWORK = 20.
    for _ in range(21):
        _answer(app, app.test_client(), "/c/04465/health")
    assert _flags(app) == [""] * 20 + ["burst"]


def test_without_a_device_cookie_only_the_network_counts(app):
    # A browser that drops the device cookie (but keeps its session, or the form could not be
    # sent at all) is not one device: no device hash, only the network threshold applies.
    phone = app.test_client()
    for _ in range(4):
        _answer(app, phone, "/c/04465/health", forget_device=True)
    assert _flags(app) == [""] * 4
    with app.app_context():
        assert set(db.session.execute(sa.select(Response.device_hash)).scalars()) == {None}


def test_a_forged_device_cookie_is_replaced(app):
    phone = app.test_client()
    phone.set_cookie(DEVICE_COOKIE, "not a random code")
    r = phone.get("/c/04465/health")
    assert _device_cookie_header(r) is not None and phone.get_cookie(DEVICE_COOKIE).value != "not a random code"


def test_privacy_notice_explains_the_device_cookie(client):
    english = client.get("/privacy?lang=en").get_data(as_text=True)
    assert "cookie" in english and "not personal data" in english and "destroyed" in english
    vietnamese = client.get("/privacy?lang=vi").get_data(as_text=True)
    assert "cookie" in vietnamese and "không phải dữ liệu cá nhân" in vietnamese


def test_every_cookie_a_citizen_gets_is_explained_on_the_privacy_page(app, client):
    set_names = set()
    for url in ("/?lang=en", "/c/04465/health", "/?lang=vi"):
        set_names |= {h.split("=", 1)[0] for h in client.get(url).headers.getlist("Set-Cookie")}
    session_cookie = app.config.get("SESSION_COOKIE_NAME", "session")
    assert set_names >= {session_cookie, "device", "lang"}
    notice = client.get("/privacy?lang=en").get_data(as_text=True)
    for name in set_names - {session_cookie}:
        assert f"cookie named “{name}”" in notice
    assert "session cookie" in notice


# ---- daily peppers -----------------------------------------------------------------------------


def _clear_peppers(app) -> None:
    with app.app_context():
        db.session.execute(sa.delete(HashPepper))
        db.session.commit()


def test_hashes_use_the_days_random_pepper_not_the_secret_key(app, database_url):
    _clear_peppers(app)
    _answer(app, app.test_client(), "/c/04465/health")
    with app.app_context():
        stored = db.session.execute(sa.select(Response)).scalar_one()
        pepper = db.session.execute(sa.select(HashPepper)).scalar_one()
    assert pepper.day == local_day() and len(pepper.pepper) == 64
    # The old scheme (secret key + date) no longer gives the stored hash: the key alone cannot
    # be used to try every address.
    for day in (utcnow().date(), local_day()):
        old = hmac.new(f"test-secret|{day.isoformat()}".encode(), WIFI.encode(), hashlib.sha256).hexdigest()[:16]
        assert stored.network_hash != old
    key = hmac.new(b"test-secret", bytes.fromhex(pepper.pepper), hashlib.sha256).digest()
    assert stored.network_hash == hmac.new(key, f"network|{WIFI}".encode(), hashlib.sha256).hexdigest()[:16]
    # Once the pepper is gone, the secret key and the address no longer give the hash back.
    _clear_peppers(app)
    fresh = create_app(_config(database_url))
    with fresh.app_context():
        from feedback.quality import client_hashes

        assert client_hashes(WIFI, device_id=None)[0] != stored.network_hash
        db.session.remove()
        db.engine.dispose()


def _app_in_thread(worker, day: date, barrier: threading.Barrier, out: list, errors: list) -> None:
    try:
        with worker.app_context():
            barrier.wait()
            out.append(day_key(day))
            db.session.remove()
            db.engine.dispose()
    except BaseException as error:  # noqa: BLE001 - reported by the test, never a hang at the barrier
        barrier.abort()
        errors.append(repr(error))


def test_two_workers_creating_the_days_pepper_end_with_one(app, database_url):
    _clear_peppers(app)
    day = local_day()
    # Apps are made one after another (as each worker process makes its own), each with its
    # own pepper cache; only the day's first key is asked for at once.
    workers = [create_app(_config(database_url)) for _ in range(4)]
    barrier, keys, errors = threading.Barrier(4, timeout=120), [], []
    threads = [threading.Thread(target=_app_in_thread, args=(worker, day, barrier, keys, errors)) for worker in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(keys) == 4 and len(set(keys)) == 1
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(HashPepper)) == 1
        assert day_key(day) == keys[0]


def test_peppers_are_destroyed_once_their_burst_window_has_passed(app):
    _clear_peppers(app)
    day = date(2025, 5, 1)
    end_utc = datetime(2025, 5, 1, 17, 0)  # 2025-05-02 00:00 in Viet Nam
    with app.app_context():
        db.session.add_all(
            [HashPepper(day=day - timedelta(days=1), pepper="aa" * 32), HashPepper(day=day, pepper="bb" * 32)]
        )
        db.session.commit()
        assert purge_peppers(end_utc + timedelta(minutes=9, seconds=59)) == 1  # the day before only
        assert db.session.scalar(sa.select(HashPepper.day)) == day
        db.session.rollback()  # a fresh snapshot (SQLite)
        assert purge_peppers(end_utc + timedelta(minutes=10)) == 1  # QUALITY_BURST_MINUTES after its end
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(HashPepper)) == 0


def test_the_submission_path_destroys_expired_peppers(app, runner):
    _clear_peppers(app)
    with app.app_context():
        db.session.add(HashPepper(day=local_day() - timedelta(days=2), pepper="cc" * 32))
        db.session.commit()
    _answer(app, app.test_client(), "/c/04465/health")
    with app.app_context():
        assert list(db.session.execute(sa.select(HashPepper.day)).scalars()) == [local_day()]
        db.session.add(HashPepper(day=local_day() - timedelta(days=3), pepper="dd" * 32))
        db.session.commit()
        with pytest.raises(ValueError):
            day_key(local_day() - timedelta(days=3))  # a destroyed day is never used again
    result = runner.invoke(args=["purge-peppers"])
    assert result.exit_code == 0 and "1 expired" in result.output
    with app.app_context():
        assert list(db.session.execute(sa.select(HashPepper.day)).scalars()) == [local_day()]


def test_rate_limit_key_keeps_no_reversible_address(app):
    from feedback.citizen.views import _submit_key

    with app.test_request_context("/c/04465/health", method="POST", environ_base={"REMOTE_ADDR": WIFI}):
        key = _submit_key()
        stored = db.session.execute(sa.select(HashPepper.pepper).where(HashPepper.day == local_day())).scalar_one()
    assert WIFI not in key
    for day in (utcnow().date(), local_day()):
        old = hmac.new(f"test-secret|{day.isoformat()}".encode(), WIFI.encode(), hashlib.sha256).hexdigest()[:16]
        assert old not in key
    secret = hmac.new(b"test-secret", bytes.fromhex(stored), hashlib.sha256).digest()
    assert key.split("|")[0] == hmac.new(secret, f"limit|{WIFI}".encode(), hashlib.sha256).hexdigest()[:16]


# ---- officers see no single respondent -----------------------------------------------------------


def _web_response(app, client, point, *, comment: str, sex: str = "female") -> str:
    """A real web submission with the respondent block and a comment; returns its id."""
    survey = catalog().current("health")
    url = f"/s/{point['token']}"
    fields = hidden_fields(client.get(url).get_data(as_text=True))
    answers = {**valid_answers(survey), "comment": comment, "sex": sex}
    assert client.post(url, data={**fields, **answers, "send": "1"}).status_code == 303
    client.post(url, data={"new_response": "1"})
    with app.app_context():
        return str(db.session.execute(sa.select(Response.id).join(Answer).where(Answer.value == comment)).scalar_one())


def _api_response(app, point) -> str:
    rid = str(uuid.uuid4())
    with app.app_context():
        version = catalog().current("health").version
        db.session.add(
            Response(
                id=uuid.UUID(rid),
                survey="health",
                survey_version=version,
                commune_code=OWN_COMMUNE,
                service_point_id=point["id"],
                lang="vi",
                mode="api",
                submitted_at=utcnow(),
                received_at=utcnow(),
                content_hash="0" * 64,
            )
        )
        db.session.commit()
    return rid


@pytest.mark.parametrize("who", ["officer@khaomang.test", "admin@laocai.test", "analyst@laocai.test"])
def test_no_page_shows_a_web_or_api_response(app, client, auth, users, point, who):
    web = _web_response(app, app.test_client(), point, comment="Cán bộ thu tiền ngoài")
    api = _api_response(app, point)
    auth.login(who)
    for rid in (web, api):
        r = client.get(f"/officer/responses/{rid}")
        assert r.status_code == 404
        assert "Cán bộ thu tiền" not in r.get_data(as_text=True)


def test_paper_forms_stay_reviewable_by_their_typist_and_admins(app, client, auth, users, point, password_hash):
    from feedback.models import Commune

    with app.app_context():
        colleague = User(
            email="colleague@khaomang.test",
            role="officer",
            password_hash=password_hash,
            communes=[db.session.get(Commune, OWN_COMMUNE)],
        )
        db.session.add(colleague)
        db.session.commit()
    auth.login("officer@khaomang.test")
    url = f"/officer/points/{point['id']}/paper"
    fields = hidden_fields(client.get(url).get_data(as_text=True))
    answers = {**valid_answers(catalog().current("health")), "comment": "Giấy"}
    r = client.post(url, data={**fields, **answers, **paper_date()})
    assert r.status_code == 303
    with app.app_context():
        rid = db.session.execute(sa.select(Response.id).where(Response.mode == "paper")).scalar_one()
    page = client.get(f"/officer/responses/{rid}")
    assert page.status_code == 200 and "Giấy" in page.get_data(as_text=True)
    for who, status in (("colleague@khaomang.test", 404), ("analyst@laocai.test", 404), ("admin@laocai.test", 200)):
        other = app.test_client()
        AuthActions(other).login(who)
        assert other.get(f"/officer/responses/{rid}").status_code == status, who


def test_comments_show_the_day_only_and_no_respondent(app, client, auth, users, point):
    phone = app.test_client()
    ids = [
        _web_response(app, phone, point, comment=text, sex="male")
        for text in ("Ưu tiên người già", "Chờ quá lâu", "Bác sĩ tận tình")
    ]
    with app.app_context():
        received = db.session.scalar(sa.select(sa.func.max(Response.received_at)))
    auth.login("officer@khaomang.test")
    for url in ("/officer/", f"/officer/c/{OWN_COMMUNE}", f"/officer/points/{point['id']}"):
        html = client.get(url, follow_redirects=True).get_data(as_text=True)
        local = received + timedelta(hours=7)
        assert local.strftime("%H:%M") not in html and not re.search(r"\b\d{1,2}:\d{2}\b", html), url
        assert "/officer/responses/" not in html
        for rid in ids:
            assert rid not in html and uuid.UUID(rid).hex not in html
    html = client.get(f"/officer/c/{OWN_COMMUNE}").get_data(as_text=True)
    assert local.strftime("%Y-%m-%d") in html
    # Within a day, not in the order they came (which would tell who wrote which).
    positions = [html.index(text) for text in ("Bác sĩ tận tình", "Chờ quá lâu", "Ưu tiên người già")]
    assert positions == sorted(positions)


def test_audit_log_names_no_web_response(app, client, auth, users, point):
    rid = _web_response(app, app.test_client(), point, comment="Không có gì")
    auth.login("admin@laocai.test")
    html = client.get("/officer/audit").get_data(as_text=True)
    assert rid not in html and uuid.UUID(rid).hex not in html


# ---- suppressed public cells carry nothing else --------------------------------------------------


def _blank(value) -> bool:
    return value is None or value is pd.NA or value == "" or (isinstance(value, float) and np.isnan(value))


def _assert_suppressed_rows_are_bare(rows: list[dict], where: str) -> int:
    """Every suppressed row has nothing outside the allow-list, and only allowed flags."""
    hidden = 0
    for row in rows:
        flags = [f for f in str(row.get("flags") or "").split(";") if f]
        if "suppressed" not in flags:
            continue
        hidden += 1
        leaked = {k: v for k, v in row.items() if k not in SUPPRESSION_KEEPS and not _blank(v)}
        assert not leaked, f"{where}: {row['commune_code']} {row['code']} leaks {leaked}"
        for flag in flags:
            assert (
                flag == "suppressed"
                or flag in SUPPRESSION_KEEPS_FLAGS
                or (flag.split(":")[0] in SUPPRESSION_KEEPS_FLAGS and not flag.startswith("unreliable"))
            ), flag
    return hidden


def test_suppression_keeps_only_the_allow_list_even_for_new_columns():
    table = pd.DataFrame(
        {
            "commune_code": ["1", "1", "1", "1", "2"],
            "commune_name": "x",
            "level": ["subdimension", "subdimension", "dimension", "aggregate", "subdimension"],
            "code": ["6.1", "6.2", "6", "total", "6.1"],
            "n": pd.array([3, 10, pd.NA, pd.NA, 12], dtype="Int64"),
            "se_p": [0.0, 0.1, np.nan, np.nan, 0.05],  # 0 says: every answer alike
            "a_new_statistic": [7, 8, 9, 10, 11],  # added later, by someone who forgot suppression
            "a_new_text": ["unanimous", "b", "c", "d", "e"],
            "a_new_bool": [True, False, True, False, True],
            "flags": ["unreliable:n_eff;unreliable:relative_width;collapsed:sex;new_flag", "", "", "", ""],
        }
    )
    out = suppress_small_cells(table)
    hidden = out[out["flags"].str.contains("suppressed")]
    assert list(hidden.index) == [0, 2, 3]
    assert _assert_suppressed_rows_are_bare(out.to_dict("records"), "unit") == 3
    assert out.loc[0, "flags"] == "unreliable:n_eff;collapsed:sex;suppressed"
    assert out.loc[0, "n"] == 3 and out.loc[1, "se_p"] == 0.1 and out.loc[4, "a_new_statistic"] == 11
    assert out.loc[1, "a_new_text"] == "b" and bool(out.loc[1, "a_new_bool"]) is False


def _read_scores(data: bytes, fmt: str) -> list[dict]:
    if fmt == "csv":
        frame = pd.read_csv(
            io.BytesIO(data),
            dtype={"commune_code": str, "code": str},
            encoding="utf-8-sig",
            keep_default_na=False,
            na_values=[""],
        )
    elif fmt == "xlsx":
        frame = pd.read_excel(io.BytesIO(data), sheet_name="scores", dtype={"commune_code": str, "code": str})
    elif fmt == "json":
        return json.loads(data)["rows"]
    else:
        frame = pd.read_stata(io.BytesIO(data))
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


@pytest.mark.parametrize("level", ["commune", "province"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json", "dta"])
def test_every_public_score_output_hides_everything_of_a_suppressed_row(
    app, client, auth, users, runner, tmp_path, fmt, level
):
    seed(app, own=8, other=3)
    out = tmp_path / f"scores.{fmt}"
    result = runner.invoke(args=["export-scores", "--public", "--level", level, "--format", fmt, "-o", str(out)])
    assert result.exit_code == 0, result.output
    outputs = {"cli": _read_scores(out.read_bytes(), fmt)}
    from tests.test_jobs import export_file

    auth.login("analyst@laocai.test")
    r = export_file(client, kind="scores", fmt=fmt, level=level, public="1")
    assert r.status_code == 200
    outputs["download"] = _read_scores(r.data, fmt)
    if fmt == "json":
        outputs["api"] = client.get(f"/api/v1/scores?public=1&level={level}").get_json()["rows"]
    for where, rows in outputs.items():
        hidden = _assert_suppressed_rows_are_bare(rows, f"{where} {fmt} {level}")
        if level == "commune":
            assert hidden >= 3, where  # Phường Lào Cai: 6.1, 4.2, their dimensions and the total


def test_public_province_roll_up_gives_no_hidden_commune_cell_back(app, runner, tmp_path):
    seed(app, own=8, other=3)  # Phường Lào Cai's 3 respondents are hidden; Khao Mang's 8 are not
    tables = {}
    for level in ("commune", "province"):
        out = tmp_path / f"{level}.json"
        assert (
            runner.invoke(
                args=["export-scores", "--public", "--level", level, "--format", "json", "-o", str(out)]
            ).exit_code
            == 0
        )
        tables[level] = pd.DataFrame(json.loads(out.read_text(encoding="utf-8"))["rows"])
    communes, province = tables["commune"], tables["province"]
    own = communes[(communes["commune_code"] == OWN) & (communes["code"] == "6.1")].iloc[0]
    other = communes[(communes["commune_code"] == OTHER) & (communes["code"] == "6.1")].iloc[0]
    assert pd.isna(other["p"]) and pd.notna(own["p"])
    prov = province[province["code"] == "6.1"].iloc[0]
    # The published province value rests on the published cells only: province − Khao Mang
    # would otherwise give Phường Lào Cai's hidden value.
    assert prov["p"] == pytest.approx(own["p"]) and prov["n"] == own["n"]


def test_scorecard_shows_nothing_of_a_hidden_row(app, client, auth, users):
    from feedback.analyst.service import Period, commune_scorecard

    seed(app, own=8, other=3)
    with app.app_context():
        card = commune_scorecard(OTHER, Period())
        own_card = commune_scorecard(OWN, Period())
    rows = [
        {
            k: v
            for k, v in r.items()
            if k
            not in (
                "ranked",
                "name",
                "synthetic",
                "dimension",
                "shown",
                "target",
                "official",
                "province",
                "province_low",
                "province_high",
            )
        }
        for r in card.rows + card.subdimensions
    ]
    assert _assert_suppressed_rows_are_bare(rows, "scorecard") >= 3
    assert own_card.suppressed == 0
    auth.login("analyst@laocai.test")
    assert client.get(f"/analyst/c/{OTHER}").status_code == 200
