"""Issue 12, the citizen's form: answers never lost, never stored twice, never under the wrong
survey, and text that is the same text whatever its spelling (web form, paper entry, API)."""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import timedelta
from html import unescape

import pytest
import sqlalchemy as sa

from feedback.extensions import db
from feedback.forms import FormState, read_state
from feedback.models import Answer, Response, ServicePoint, utcnow
from surveys import catalog

from .conftest import OWN_COMMUNE, count, csrf_token, hidden_fields, new_id
from .helpers import module_in_page, paper_date, valid_answers

HEALTH = catalog().current("health")
ANSWERS = {"used_service": "no", "overall": "4"}
# 450 Vietnamese letters (and spaces): 578 code points once decomposed (NFD), as some phones send it.
VIETNAMESE = ("Nhân viên trạm y tế xã làm việc chậm, người dân phải chờ lâu. " * 7)[:414] + ("xin cam on " * 4)[:36]
DECOMPOSED = unicodedata.normalize("NFD", VIETNAMESE)


def _open(client, url: str) -> dict[str, str]:
    """The hidden fields of a freshly opened survey page."""
    page = client.get(url)
    assert page.status_code == 200
    return hidden_fields(page.get_data(as_text=True))


def _send(client, url: str, fields: dict, answers: dict = ANSWERS, **extra):
    return client.post(url, data={**fields, **answers, "send": "1", **extra})


def _state(app, fields: dict) -> FormState:
    with app.app_context():
        state = read_state(fields["state"])
    assert state is not None
    return state


def _stored(app) -> list[Response]:
    with app.app_context():
        rows = db.session.execute(sa.select(Response).order_by(Response.received_at)).scalars().all()
        db.session.expunge_all()
        return rows


def _comment(app) -> str:
    with app.app_context():
        return db.session.scalar(sa.select(Answer.value).where(Answer.question_id == "comment"))


def _add_point(app, commune: str = OWN_COMMUNE, area: str = "health", name: str = "Trạm Y tế mới") -> dict:
    with app.app_context():
        point = ServicePoint(commune_code=commune, service_area=area, name=name)
        db.session.add(point)
        db.session.commit()
        return {"id": point.id, "token": point.token}


def _officer(app, auth) -> None:
    auth.login("officer@khaomang.test")


# --- One filling, one response id: language switch, reload, Back/Forward ------------------------


def test_back_after_the_language_switch_and_submit_stores_once(app, client, point):
    """Landing page → survey → English (button) → submit → Back (the page is loaded again) → submit."""
    start = client.get("/start?commune=04465&survey=health")
    url = start.location
    fields = _open(client, url)
    switched = client.post(url, data={**fields, "used_service": "no", "switch_lang": "en"})
    assert switched.status_code == 200 and '<html lang="en">' in switched.get_data(as_text=True)
    cached = hidden_fields(switched.get_data(as_text=True))
    assert _send(client, url, cached).status_code == 303
    back = client.get(url)  # Back: Chromium loads the survey page again
    html = back.get_data(as_text=True)
    assert 'id="sent"' in html and "already been received" in html and 'name="state"' not in html
    assert _send(client, url, cached).status_code == 303  # the page kept by the browser, sent again
    assert count(app) == 1


@pytest.mark.parametrize("how", ["button", "link", "reload"])
def test_the_response_id_survives_every_way_of_opening_the_page_again(app, client, point, how):
    url = f"/s/{point['token']}"
    fields = _open(client, url)
    if how == "button":
        again = client.post(url, data={**fields, "switch_lang": "en"})
    elif how == "link":
        again = client.get(url + "?lang=en")
    else:
        again = client.get(url)
    assert hidden_fields(again.get_data(as_text=True))["state"] == fields["state"]


def test_replaying_the_language_switch_keeps_the_response_id(app, client, point):
    """Chromium's "resend the form?" after Back re-posts the switch: same state, one response."""
    url = f"/s/{point['token']}"
    fields = _open(client, url)
    switch = {**fields, **ANSWERS, "switch_lang": "en"}
    first = hidden_fields(client.post(url, data=switch).get_data(as_text=True))
    assert _send(client, url, first).status_code == 303
    replayed = client.post(url, data=switch).get_data(as_text=True)
    assert 'id="sent"' in replayed and 'name="state"' not in replayed  # stored: no form for its id
    assert _send(client, url, first).status_code == 303
    assert count(app) == 1


def test_each_citizen_has_their_own_filling(app, point):
    first, second = app.test_client(), app.test_client()
    url = f"/s/{point['token']}"
    assert _state(app, _open(first, url)).response_id != _state(app, _open(second, url)).response_id


def test_a_page_remembers_its_own_filling(app, client, point):
    health, land = f"/s/{point['token']}", "/c/04465/land"
    a, b = _open(client, health), _open(client, land)
    assert _state(app, a).response_id != _state(app, b).response_id
    assert _open(client, health)["state"] == a["state"] and _open(client, land)["state"] == b["state"]


def test_answering_again_on_purpose_is_a_new_response(app, client, point):
    url = f"/s/{point['token']}"
    fields = _open(client, url)
    assert _send(client, url, fields).status_code == 303
    new = client.post(url, data={"new_response": "1"})
    assert new.status_code == 303 and new.location.endswith(url)
    page = client.get(url).get_data(as_text=True)
    assert 'id="sent"' not in page
    assert _state(app, hidden_fields(page)).response_id != _state(app, fields).response_id
    assert _send(client, url, hidden_fields(page)).status_code == 303
    assert count(app) == 2


def test_a_filling_left_for_more_than_a_day_is_not_continued(app, client, point):
    url = f"/s/{point['token']}"
    with app.test_request_context():
        old = FormState(
            uuid.uuid4(), "health", HEALTH.version, utcnow() - timedelta(hours=25), None, OWN_COMMUNE, point["id"]
        ).dumps()
    with client.session_transaction() as session:
        session["fillings"] = [(url, old)]
    assert _open(client, url)["state"] != old


def test_a_reloaded_page_keeps_its_module(app, client):
    survey = catalog().current("local-governance")
    url = "/c/04465/local-governance"
    seen = {module_in_page(survey, client.get(url).get_data(as_text=True)) for _ in range(8)}
    assert len(seen) == 1


# --- Retired and re-issued posters ---------------------------------------------------------------


def _retire(app, client, auth, point_id: int) -> None:
    _officer(app, auth)
    token = csrf_token(client, f"/officer/points/{point_id}")
    assert client.post(f"/officer/points/{point_id}/retire", data={"csrf_token": token}).status_code == 302


def _reissue(app, client, auth, point_id: int) -> str:
    _officer(app, auth)
    token = csrf_token(client, f"/officer/points/{point_id}")
    assert client.post(f"/officer/points/{point_id}/reissue", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        return db.session.get(ServicePoint, point_id).token


@pytest.mark.parametrize("change", ["retire", "reissue"])
def test_a_form_opened_before_the_poster_changed_is_accepted_in_the_grace_period(
    app, client, auth, users, point, change
):
    citizen = app.test_client()
    url = f"/s/{point['token']}"
    fields = _open(citizen, url)
    (_retire if change == "retire" else _reissue)(app, client, auth, point["id"])
    r = _send(citizen, url, fields)
    assert r.status_code == 303 and "/thanks/04465" in r.location
    assert _send(citizen, url, fields).status_code == 303  # a double tap: still one
    [stored] = _stored(app)
    assert (stored.service_point_id, stored.id) == (point["id"], _state(app, fields).response_id)


def test_a_retired_poster_past_the_grace_period_keeps_the_answers_for_the_current_poster(
    app, client, auth, users, point
):
    app.config["POSTER_GRACE_HOURS"] = 0
    new = _add_point(app)
    citizen = app.test_client()
    url = f"/s/{point['token']}"
    fields = _open(citizen, url)
    _retire(app, client, auth, point["id"])
    answers = {**ANSWERS, "comment": "Chờ rất lâu"}
    r = _send(citizen, url, fields, answers)
    html = r.get_data(as_text=True)
    assert r.status_code == 410 and count(app) == 0
    assert 'id="moved"' in html and "đã ngừng sử dụng" in html
    assert f'action="/s/{new["token"]}"' in html
    assert re.search(r'name="overall" value="4" checked', html) and "Chờ rất lâu</textarea>" in html
    moved = hidden_fields(html)
    assert _state(app, moved).response_id == _state(app, fields).response_id  # the same filling, moved
    assert _send(citizen, f"/s/{new['token']}", moved, answers).status_code == 303
    assert _send(citizen, f"/s/{new['token']}", moved, answers).status_code == 303
    assert _send(citizen, url, fields, answers).status_code == 303  # the old page again: it counted already
    [stored] = _stored(app)
    assert stored.service_point_id == new["id"]


def test_a_replaced_poster_link_past_the_grace_period_says_so_in_english(app, client, auth, users, point):
    """A link re-issued because it was misused never leads to the new link: answers go to the commune."""
    app.config["POSTER_GRACE_HOURS"] = 0
    citizen = app.test_client()
    url = f"/s/{point['token']}?lang=en"
    fields = _open(citizen, url)
    new_token = _reissue(app, client, auth, point["id"])
    r = _send(citizen, url, fields)
    html = r.get_data(as_text=True)
    assert r.status_code == 410 and "replaced by a new poster" in html and '<html lang="en">' in html
    assert new_token not in html and 'action="/c/04465/health"' in html
    assert re.search(r'name="overall" value="4" checked', html)
    assert _send(citizen, "/c/04465/health", hidden_fields(html)).status_code == 303
    [stored] = _stored(app)
    assert stored.service_point_id is None


def test_the_retired_poster_page_says_what_happened(app, client, auth, users, point):
    with app.app_context():
        db.session.get(ServicePoint, point["id"]).active = False
        db.session.commit()
    alone = client.get(f"/s/{point['token']}?lang=en").get_data(as_text=True)
    assert "taken out of use" in alone and "replaced" not in alone and 'href="/c/04465/health"' in alone
    sibling = _add_point(app, name="Trạm Y tế bản Phìn")
    html = client.get(f"/s/{point['token']}?lang=en").get_data(as_text=True)
    assert "taken out of use" in html and "replaced" not in html  # another station replaced nothing
    assert f"/s/{sibling['token']}" in html and "Trạm Y tế bản Phìn" in html and 'href="/c/04465/health"' in html
    with app.app_context():
        db.session.get(ServicePoint, point["id"]).active = True
        db.session.commit()
    old = point["token"]
    new_token = _reissue(app, client, auth, point["id"])
    vi = client.get(f"/s/{old}?lang=vi").get_data(as_text=True)
    assert "áp phích mới" in vi and new_token not in vi and f"/s/{sibling['token']}" not in vi


def test_a_retired_poster_without_a_current_one_sends_to_the_commune_survey(app, client, auth, users, point):
    app.config["POSTER_GRACE_HOURS"] = 0
    citizen = app.test_client()
    fields = _open(citizen, f"/s/{point['token']}")
    _retire(app, client, auth, point["id"])
    html = _send(citizen, f"/s/{point['token']}", fields).get_data(as_text=True)
    assert 'action="/c/04465/health"' in html
    assert _send(citizen, "/c/04465/health", hidden_fields(html)).status_code == 303
    [stored] = _stored(app)
    assert (stored.commune_code, stored.service_point_id) == ("04465", None)


def test_answers_sent_to_a_retired_poster_without_a_form_state_are_kept(app, client, point):
    with app.app_context():
        db.session.get(ServicePoint, point["id"]).active = False
        db.session.commit()
    r = client.post(f"/s/{point['token']}", data={**ANSWERS, "comment": "Không có JavaScript", "send": "1"})
    html = r.get_data(as_text=True)
    assert r.status_code == 410 and "Không có JavaScript</textarea>" in html and count(app) == 0


def test_an_old_link_takes_only_the_forms_opened_from_it(app, client, auth, users, point):
    """A re-issued link stays closed to everyone else: a form from another poster is 404 there."""
    other = _add_point(app, name="Trạm khác")
    citizen = app.test_client()
    old_url = f"/s/{point['token']}"
    foreign = _open(citizen, f"/s/{other['token']}")
    _reissue(app, client, auth, point["id"])
    assert citizen.get(old_url).status_code == 404
    assert _send(citizen, old_url, foreign).status_code == 404
    assert count(app) == 0


# --- A form state belongs to one survey, commune and service point -------------------------------


def test_a_state_of_one_survey_posted_to_another_is_refused_with_the_answers_kept(app, client):
    fields = _open(client, "/c/04465/health")
    answers = {**ANSWERS, "comment": "Trạm y tế"}
    r = _send(client, "/c/04465/land", fields, answers)
    html = r.get_data(as_text=True)
    assert r.status_code == 409 and count(app) == 0
    assert "khảo sát hoặc điểm dịch vụ khác" in html and 'action="/c/04465/health"' in html
    assert re.search(r'name="overall" value="4" checked', html) and "Trạm y tế</textarea>" in html
    assert _send(client, "/c/04465/health", hidden_fields(html), answers).status_code == 303
    [stored] = _stored(app)
    assert (stored.survey, stored.survey_version) == ("health", HEALTH.version)


def test_the_wrong_survey_message_follows_the_language(app, client):
    fields = _open(client, "/c/04465/health?lang=en")
    html = _send(client, "/c/04465/primary-school", fields).get_data(as_text=True)
    assert "another survey" in html and '<html lang="en">' in html


@pytest.mark.parametrize("where", ["other_point", "other_commune", "commune_route", "retired_point"])
def test_a_state_posted_to_another_place_is_refused(app, client, point, where):
    fields = _open(client, f"/s/{point['token']}")
    if where == "other_point":
        url = f"/s/{_add_point(app)['token']}"
    elif where == "other_commune":
        url = f"/s/{_add_point(app, commune='02647')['token']}"
    elif where == "retired_point":
        app.config["POSTER_GRACE_HOURS"] = 0
        retired = _add_point(app, area="school", name="Trường cũ")
        with app.app_context():
            db.session.get(ServicePoint, retired["id"]).active = False
            db.session.commit()
        url = f"/s/{retired['token']}"
    else:
        url = "/c/04465/health"
    r = _send(client, url, fields)
    assert r.status_code == 409 and count(app) == 0
    assert f'action="/s/{point["token"]}"' in r.get_data(as_text=True)


def test_a_state_that_names_no_survey_is_refused(app, client):
    """A state signed before states named their survey is not trusted to say which survey."""
    from itsdangerous import URLSafeSerializer

    fields = _open(client, "/c/04465/land")
    legacy = URLSafeSerializer(app.config["SECRET_KEY"], salt="survey-form-state").dumps(
        {"id": new_id(), "v": HEALTH.version, "t": utcnow().isoformat(), "m": None}
    )
    r = _send(client, "/c/04465/land", {**fields, "state": legacy})
    assert r.status_code == 400 and count(app) == 0


def test_paper_entry_refuses_a_state_of_another_survey(app, client, auth, users):
    health, school = _add_point(app), _add_point(app, area="school", name="Trường Tiểu học")
    _officer(app, auth)
    fields = _open(client, f"/officer/points/{health['id']}/paper")
    survey = catalog().for_area("school")
    url = f"/officer/points/{school['id']}/paper"
    r = _send(client, url, fields, valid_answers(survey), **paper_date())
    assert r.status_code == 400 and count(app) == 0
    again = hidden_fields(r.get_data(as_text=True))
    assert _state(app, again).survey == survey.slug
    assert _send(client, url, again, valid_answers(survey), **paper_date()).status_code == 303
    [stored] = _stored(app)
    assert (stored.survey, stored.service_point_id) == (survey.slug, school["id"])


def test_paper_entry_still_stores_once(app, client, auth, users):
    point = _add_point(app)
    _officer(app, auth)
    url = f"/officer/points/{point['id']}/paper"
    fields = _open(client, url)
    assert _send(client, url, fields, valid_answers(HEALTH), **paper_date()).status_code == 303
    assert _send(client, url, fields, valid_answers(HEALTH), **paper_date()).status_code == 303
    assert count(app, mode="paper") == 1


# --- Text: one spelling for the same text, on every channel --------------------------------------


@pytest.mark.parametrize(
    "sent, stored",
    [
        ("Dòng một\r\nDòng hai", "Dòng một\nDòng hai"),  # Chromium without JavaScript
        ("Dòng một\rDòng hai", "Dòng một\nDòng hai"),
        ("Cột\tmột\n", "Cột\tmột"),
        (DECOMPOSED, VIETNAMESE),
    ],
)
def test_web_comment_is_normalised_before_checks_and_storage(app, client, sent, stored):
    fields = _open(client, "/c/04465/health")
    r = _send(client, "/c/04465/health", fields, {**ANSWERS, "comment": sent})
    assert r.status_code == 303, r.get_data(as_text=True)
    assert _comment(app) == stored


def test_decomposed_text_is_counted_in_letters(app, client):
    assert len(DECOMPOSED) == 578 and len(VIETNAMESE) == 450
    fields = _open(client, "/c/04465/health")
    r = _send(client, "/c/04465/health", fields, {**ANSWERS, "comment": DECOMPOSED + "x" * 51})
    assert r.status_code == 422 and "bạn đã viết 501" in r.get_data(as_text=True)


@pytest.mark.parametrize("char", ["\x07", "\x00", "\x1b", "\x7f", "\x85", "\x0b", "\x1f"])
def test_control_characters_are_refused_naming_the_question(app, client, char):
    fields = _open(client, "/c/04465/health")
    r = _send(client, "/c/04465/health", fields, {**ANSWERS, "comment": f"Chờ{char} lâu"})
    html = unescape(r.get_data(as_text=True))
    box = re.search(r'<fieldset class="card err[^"]*" id="q-comment".*?</fieldset>', html, re.S)
    assert r.status_code == 422 and box and count(app) == 0
    assert "Bạn muốn góp ý gì thêm?" in box.group(0) and f"U+{ord(char):04X}" in box.group(0)
    assert "ký tự điều khiển" in box.group(0)


def test_the_control_character_message_follows_the_language(app, client):
    fields = _open(client, "/c/04465/health?lang=en")
    html = unescape(_send(client, "/c/04465/health", fields, {**ANSWERS, "comment": "a\x07b"}).get_data(as_text=True))
    assert "Your answer to “Anything else to tell us?" in html and "control character (U+0007)" in html


def test_paper_entry_normalises_text_and_refuses_control_characters(app, client, auth, users):
    point = _add_point(app)
    _officer(app, auth)
    url = f"/officer/points/{point['id']}/paper"
    fields = _open(client, url)
    bad = _send(client, url, fields, {**valid_answers(HEALTH), "comment": "a\x07b"}, **paper_date())
    assert bad.status_code == 422 and "U+0007" in bad.get_data(as_text=True)
    ok = _send(
        client, url, fields, {**valid_answers(HEALTH), "comment": DECOMPOSED.replace(", ", ",\r\n")}, **paper_date()
    )
    assert ok.status_code == 303
    assert _comment(app) == VIETNAMESE.replace(", ", ",\n")


def _api_body(comment: str, response_id: str | None = None) -> dict:
    from .test_api import body

    return body(id=response_id or new_id(), answers={**valid_answers(HEALTH), "comment": comment})


def test_api_normalises_text_and_a_retry_in_another_spelling_is_the_same_response(app, client):
    data = _api_body(DECOMPOSED.replace(", ", ",\r\n"))
    first = client.post("/api/v1/responses", json=data)
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["answers"]["comment"] == VIETNAMESE.replace(", ", ",\n")
    assert client.post("/api/v1/responses", json=data).status_code == 200  # the same retry
    composed = {**data, "answers": {**data["answers"], "comment": VIETNAMESE.replace(", ", ",\n")}}
    assert client.post("/api/v1/responses", json=composed).status_code == 200  # the same text
    changed = {**data, "answers": {**data["answers"], "comment": "Khác"}}
    assert client.post("/api/v1/responses", json=changed).status_code == 409
    assert count(app) == 1 and _comment(app) == VIETNAMESE.replace(", ", ",\n")


@pytest.mark.parametrize("lang, message", [("vi", "ký tự điều khiển"), ("en", "control character")])
def test_api_refuses_control_characters_naming_the_question(app, client, lang, message):
    data = {**_api_body("a\x07b"), "lang": lang}
    r = client.post("/api/v1/responses", json=data)
    assert r.status_code == 422
    [error] = r.get_json()["errors"]
    assert error["field"] == "answers.comment" and message in error["message"] and "U+0007" in error["message"]
    assert count(app) == 0


# --- Staff text inputs ---------------------------------------------------------------------------


def test_service_point_names_are_normalised(app, client, auth, users):
    _officer(app, auth)
    token = csrf_token(client, f"/officer/c/{OWN_COMMUNE}")
    name = unicodedata.normalize("NFD", "  Trạm Y tế\r\n  Khao   Mang ")
    r = client.post(
        f"/officer/c/{OWN_COMMUNE}/points", data={"csrf_token": token, "name": name, "service_area": "health"}
    )
    assert r.status_code == 302
    with app.app_context():
        point = db.session.execute(sa.select(ServicePoint)).scalar_one()
        assert point.name == "Trạm Y tế Khao Mang"
        point_id = point.id
    r = client.post(
        f"/officer/points/{point_id}", data={"csrf_token": token, "name": unicodedata.normalize("NFD", "Trạm mới")}
    )
    assert r.status_code == 302
    with app.app_context():
        assert db.session.get(ServicePoint, point_id).name == "Trạm mới"


def test_service_point_names_with_control_characters_are_refused(app, client, auth, users):
    _officer(app, auth)
    token = csrf_token(client, f"/officer/c/{OWN_COMMUNE}")
    client.post(
        f"/officer/c/{OWN_COMMUNE}/points", data={"csrf_token": token, "name": "Trạm\x07", "service_area": "health"}
    )
    assert count(app, ServicePoint) == 0


# --- An answered page: no silent drop of new answers -------------------------------------------


def test_an_answered_page_offers_no_working_form_for_its_response(app, client, point):
    url = f"/s/{point['token']}"
    assert _send(client, url, _open(client, url)).status_code == 303
    html = client.get(url).get_data(as_text=True)
    assert 'id="sent"' in html and 'name="new_response"' in html
    assert 'id="survey"' not in html and 'name="state"' not in html and 'name="overall"' not in html


def test_changed_answers_sent_with_a_stored_id_are_kept_and_stored_as_a_new_response(app, client, point):
    url = f"/s/{point['token']}"
    fields = _open(client, url)
    assert _send(client, url, fields).status_code == 303
    changed = {**ANSWERS, "overall": "2", "comment": "Chờ lâu"}
    r = _send(client, url, fields, changed)  # the old page, kept by the browser, sent with new answers
    html = unescape(r.get_data(as_text=True))
    assert r.status_code == 409 and "chưa được lưu" in html and count(app) == 1
    assert "Chờ lâu" in html and 'name="overall" value="2" checked' in html
    again = hidden_fields(html)
    assert _state(app, again).response_id != _state(app, fields).response_id
    assert _send(client, url, again, changed).status_code == 303
    with app.app_context():
        overall = db.session.scalars(sa.select(Answer.value).where(Answer.question_id == "overall")).all()
    assert count(app) == 2 and sorted(overall) == ["2", "4"]


def test_the_not_saved_message_follows_the_language(app, client, point):
    url = f"/s/{point['token']}"
    fields = _open(client, url + "?lang=en")
    assert _send(client, url, fields).status_code == 303
    html = _send(client, url, fields, {**ANSWERS, "overall": "1"}).get_data(as_text=True)
    assert "not saved yet" in html


def test_an_identical_resend_is_acknowledged_once(app, client, point):
    url = f"/s/{point['token']}"
    fields = _open(client, url)
    answers = {**ANSWERS, "comment": "Tốt"}
    assert _send(client, url, fields, answers).status_code == 303
    assert _send(client, url, fields, answers).status_code == 303
    assert count(app) == 1


def test_paper_entry_with_changed_answers_for_a_stored_id_is_not_dropped(app, client, auth, users):
    point = _add_point(app)
    _officer(app, auth)
    url = f"/officer/points/{point['id']}/paper"
    fields = _open(client, url)
    assert _send(client, url, fields, valid_answers(HEALTH), **paper_date()).status_code == 303
    r = _send(client, url, fields, {**valid_answers(HEALTH), "comment": "Khác"}, **paper_date())
    assert r.status_code == 409 and count(app, mode="paper") == 1
    assert (
        _send(
            client,
            url,
            hidden_fields(r.get_data(as_text=True)),
            {**valid_answers(HEALTH), "comment": "Khác"},
            **paper_date(),
        ).status_code
        == 303
    )
    assert count(app, mode="paper") == 2


@pytest.mark.parametrize("char", ["\u202e", "\u2028", "\ufeff", "\uffff", "\u200b"])
def test_invisible_format_characters_are_refused_on_the_web(app, client, char):
    fields = _open(client, "/c/04465/health")
    r = _send(client, "/c/04465/health", fields, {**ANSWERS, "comment": f"Chờ{char} lâu"})
    assert r.status_code == 422 and f"U+{ord(char):04X}" in r.get_data(as_text=True) and count(app) == 0


def test_a_comment_of_zero_width_spaces_is_no_comment(app, client):
    fields = _open(client, "/c/04465/health")
    r = _send(client, "/c/04465/health", fields, {**ANSWERS, "comment": "\u200b\u200b"})
    assert r.status_code == 422 and "U+200B" in r.get_data(as_text=True) and count(app) == 0


def test_service_point_names_with_bidi_controls_are_refused(app, client, auth, users):
    _officer(app, auth)
    token = csrf_token(client, f"/officer/c/{OWN_COMMUNE}")
    client.post(
        f"/officer/c/{OWN_COMMUNE}/points",
        data={"csrf_token": token, "name": "Trạm\u202eabc", "service_area": "health"},
    )
    assert count(app, ServicePoint) == 0
