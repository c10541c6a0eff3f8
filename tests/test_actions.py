"""\"You said, we did\" (feedback/actions.py, feedback/officer/commune_actions.py): the service's rules,
officers' and admins' pages with their scope, hiding, audit, and where entries show."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from html import unescape

import pytest
import sqlalchemy as sa

from feedback.actions import (
    MAX_AGE,
    ActionFields,
    change_action,
    commune_actions,
    create_action,
    set_hidden,
    thanks_actions,
    visible_actions,
)
from feedback.extensions import db
from feedback.models import AuditEvent, CommuneAction, ServicePoint, User, utcnow
from feedback.times import local_day
from surveys import catalog

from .conftest import OTHER_COMMUNE, OWN_COMMUNE, csrf_token, hidden_fields
from .helpers import valid_answers

INJECTION = '<script>alert("x")</script><b>bold</b>'


def _today() -> date:
    return local_day(utcnow())


def _point(commune: str = OWN_COMMUNE, name: str = "Trạm Y tế Khao Mang", area: str = "health") -> int:
    point = ServicePoint(commune_code=commune, service_area=area, name=name)
    db.session.add(point)
    db.session.commit()
    return point.id


def _entry(**changes) -> ActionFields:
    values = dict(title_vi="Mở cửa từ 7 giờ sáng", text_vi="Trạm y tế mở cửa sớm hơn một giờ.", done_on=_today())
    return ActionFields(**{**values, **changes})


def _events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).filter_by(action=action).order_by(AuditEvent.id)))


# --- The service ------------------------------------------------------------------------------


def test_create_stores_the_entry_normalised_and_audits_it(app):
    with app.app_context():
        point = _point()
        action = create_action(
            OWN_COMMUNE,
            _entry(
                title_vi="  Mở cửa\n sớm  ",
                text_vi="Dòng một\r\nDòng hai ",
                title_en="  ",
                text_en="",
                service_point_id=point,
            ),
            user=None,
        )
        db.session.commit()
        stored = db.session.get(CommuneAction, action.id)
        assert (stored.title_vi, stored.text_vi, stored.title_en, stored.text_en) == (
            "Mở cửa sớm",
            "Dòng một\nDòng hai",
            None,
            None,
        )
        assert (stored.service_point_id, stored.dimension, stored.hidden) == (point, None, False)
        [event] = _events("action_created")
        assert event.commune_code == OWN_COMMUNE and event.target == f"action {action.id}: Mở cửa sớm"
        detail = json.loads(event.detail)
        assert detail["service_point_id"] == point and detail["done_on"] == _today().isoformat()


@pytest.mark.parametrize(
    "change,message",
    [
        ({"title_vi": "  "}, "Please give a title and a text in Vietnamese."),
        ({"text_vi": ""}, "Please give a title and a text in Vietnamese."),
        ({"title_vi": "x" * 161}, "A title has at most 160 characters."),
        ({"text_en": "x" * 2001}, "A text has at most 2000 characters."),
        ({"title_vi": "Mở\u202ecửa"}, "Please remove the invisible control character (U+202E) from this field."),
        ({"done_on": "tomorrow"}, "The date cannot be in the future."),
        ({"done_on": "too old"}, "Please give a date within the last year."),
        ({"dimension": "9"}, "Please choose what the action answers from the list."),
        ({"dimension": "3", "service_point_id": "own"}, "An entry answers a service point or an area, not both."),
        ({"service_point_id": "other"}, "Please choose what the action answers from the list."),
    ],
)
def test_create_refuses_an_entry_that_breaks_a_rule(app, change, message):
    with app.app_context():
        points = {"own": _point(), "other": _point(OTHER_COMMUNE)}
        days = {"tomorrow": _today() + timedelta(days=1), "too old": _today() - MAX_AGE - timedelta(days=1)}
        change = {
            k: points.get(v, days.get(v, v)) if isinstance(v, str) and k in ("done_on", "service_point_id") else v
            for k, v in change.items()
        }
        with app.test_request_context("/?lang=en"):
            with pytest.raises(ValueError) as raised:
                create_action(OWN_COMMUNE, _entry(**change), user=None)
            assert str(raised.value) == message
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CommuneAction)) == 0
        assert not _events("action_created")


def test_the_oldest_and_newest_days_allowed(app):
    with app.app_context():
        create_action(OWN_COMMUNE, _entry(done_on=_today()), user=None)
        create_action(OWN_COMMUNE, _entry(done_on=_today() - MAX_AGE), user=None)
        db.session.commit()
        assert len(commune_actions(OWN_COMMUNE)) == 2


def test_change_audits_only_what_changed_and_keeps_an_old_day(app):
    with app.app_context():
        action = create_action(OWN_COMMUNE, _entry(done_on=_today() - timedelta(days=10)), user=None)
        db.session.commit()
        assert not change_action(action, _entry(done_on=_today() - timedelta(days=10)))
        assert not _events("action_changed")
        # An entry whose day has grown older than MAX_AGE can still get a corrected text.
        later = _today() + MAX_AGE
        assert change_action(
            action, _entry(done_on=_today() - timedelta(days=10), text_vi="Sửa lại.", dimension="6"), today=later
        )
        db.session.commit()
        [event] = _events("action_changed")
        assert json.loads(event.detail) == {
            "before": {"text_vi": "Trạm y tế mở cửa sớm hơn một giờ.", "dimension": None},
            "after": {"text_vi": "Sửa lại.", "dimension": "6"},
        }
        with pytest.raises(ValueError):  # a new day is checked, though
            change_action(action, _entry(done_on=_today() + timedelta(days=2)))


def test_hidden_entries_are_kept_for_staff_and_left_out_for_the_public(app):
    with app.app_context():
        point = _point()
        create_action(
            OWN_COMMUNE, _entry(title_vi="Cũ", done_on=_today() - timedelta(days=3), service_point_id=point), user=None
        )
        new = create_action(OWN_COMMUNE, _entry(title_vi="Mới", service_point_id=point), user=None)
        create_action(OTHER_COMMUNE, _entry(title_vi="Phường khác"), user=None)
        db.session.commit()
        assert [a.title_vi for a in visible_actions(OWN_COMMUNE)] == ["Mới", "Cũ"]
        assert set_hidden(new, True) and not set_hidden(new, True)
        db.session.commit()
        assert [a.title_vi for a in visible_actions(OWN_COMMUNE)] == ["Cũ"]
        assert [(a.title_vi, a.hidden) for a in commune_actions(OWN_COMMUNE)] == [("Mới", True), ("Cũ", False)]
        assert [a["title"] for a in thanks_actions(OWN_COMMUNE, point, "vi")[1]] == ["Cũ"]
        assert set_hidden(new, False)
        db.session.commit()
        assert [
            e.action
            for e in db.session.scalars(
                sa.select(AuditEvent)
                .where(AuditEvent.action.in_(("action_hidden", "action_unhidden")))
                .order_by(AuditEvent.id)
            )
        ] == ["action_hidden", "action_unhidden"]
        assert [a.title_vi for a in visible_actions(OWN_COMMUNE)] == ["Mới", "Cũ"]


def test_thanks_actions_only_for_a_point_of_the_commune(app):
    with app.app_context():
        own, other = _point(), _point(OTHER_COMMUNE)
        create_action(OWN_COMMUNE, _entry(title_vi="Của xã", service_point_id=own), user=None)
        create_action(OTHER_COMMUNE, _entry(title_vi="Của phường", service_point_id=other), user=None)
        create_action(OWN_COMMUNE, _entry(title_vi="Cả xã"), user=None)  # no service point: not on thank-you pages
        db.session.commit()
        point, actions = thanks_actions(OWN_COMMUNE, own, "en")
        assert point.id == own and [(a["title"], a["title_lang"]) for a in actions] == [("Của xã", "vi")]
        for wrong in (other, None, "1", True, 10**9):
            assert thanks_actions(OWN_COMMUNE, wrong, "vi") == (None, [])


# --- The pages ----------------------------------------------------------------------------------


def _form(client, url: str, **fields) -> dict:
    data = {
        "csrf_token": csrf_token(client, url),
        "title_vi": "Thêm ghế chờ",
        "text_vi": "Trạm có thêm 10 ghế.",
        "done_on": _today().isoformat(),
        "answers": "",
    }
    return {**data, **fields}


@pytest.fixture
def own_point(app):
    with app.app_context():
        return _point()


@pytest.fixture
def foreign_action(app, users):
    """An entry of Phường Lào Cai, which the Khao Mang officer must never reach."""
    with app.app_context():
        action = create_action(OTHER_COMMUNE, _entry(title_vi="Bí mật của phường"), user=None)
        db.session.commit()
        return action.id


def test_officer_records_an_action_and_sees_it_listed(app, client, auth, users, own_point):
    auth.login("officer@khaomang.test")
    url = f"/officer/c/{OWN_COMMUNE}/actions/new?point={own_point}"
    page = client.get(url).get_data(as_text=True)
    assert f'<option selected value="point:{own_point}">Trạm Y tế Khao Mang</option>' in page
    assert "3. Trách nhiệm giải trình với người dân" in page
    r = client.post(url, data=_form(client, url, answers=f"point:{own_point}", title_en="More chairs"))
    assert r.status_code == 303 and r.location.endswith(f"/officer/c/{OWN_COMMUNE}/actions")
    html = client.get(r.location).get_data(as_text=True)
    assert "Thêm ghế chờ" in html and "More chairs" in html and "Trạm Y tế Khao Mang" in html
    with app.app_context():
        action = db.session.execute(sa.select(CommuneAction)).scalar_one()
        assert (action.commune_code, action.service_point_id, action.created_by) == (
            OWN_COMMUNE,
            own_point,
            users["officer"]["id"],
        )
        [event] = _events("action_created")
        assert event.user_id == users["officer"]["id"]


@pytest.mark.parametrize(
    "lang,fields,message",
    [
        ("vi", {"title_vi": ""}, "Vui lòng điền vào ô này."),
        ("en", {"title_vi": ""}, "Please fill in this field."),
        ("en", {"done_on": ""}, "Please fill in this field."),
        ("en", {"done_on": "31/02/2025"}, "Please give the date as day, month and year."),
        ("en", {"done_on": "tomorrow"}, "The date cannot be in the future."),
        ("vi", {"done_on": "tomorrow"}, "Ngày không được ở tương lai."),
        ("en", {"answers": "point:foreign"}, "Please choose what the action answers from the list."),
        ("en", {"answers": "dimension:9"}, "Please choose what the action answers from the list."),
        ("en", {"text_vi": "x" * 2001}, "Please keep this to at most 2000 characters."),
        ("en", {"text_en": "a\x00b"}, "Please remove the invisible control character (U+0000) from this field."),
    ],
)
def test_a_refused_form_keeps_what_was_typed_and_says_why(app, client, auth, users, lang, fields, message):
    with app.app_context():
        foreign = _point(OTHER_COMMUNE)
    fields = {
        k: {"tomorrow": (_today() + timedelta(days=1)).isoformat(), "point:foreign": f"point:{foreign}"}.get(v, v)
        for k, v in fields.items()
    }
    auth.login("officer@khaomang.test")
    url = f"/officer/c/{OWN_COMMUNE}/actions/new?lang={lang}"
    typed = {"title_vi": "Sửa mái <nhà> văn hoá", "text_vi": "Mái đã được sửa & sơn lại.", "title_en": "Roof fixed"}
    r = client.post(url, data=_form(client, url, **{**typed, **fields}))
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert message in unescape(html)
    for name, value in typed.items():
        if name not in fields:
            assert value in unescape(html), name
    assert "Sửa mái &lt;nhà&gt; văn hoá" in html or "title_vi" in fields
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CommuneAction)) == 0


def test_an_expired_form_is_shown_again_with_the_text(app, client, auth, users):
    auth.login("officer@khaomang.test")
    url = f"/officer/c/{OWN_COMMUNE}/actions/new?lang=en"
    r = client.post(url, data=_form(client, url, csrf_token="forged", title_vi="Giữ lại chữ này"))
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert "This form has expired" in html and "Giữ lại chữ này" in html
    token = hidden_fields(html)["csrf_token"]
    assert client.post(url, data=_form(client, url, csrf_token=token)).status_code == 303


def test_officer_edits_an_entry_and_the_change_is_audited(app, client, auth, users, own_point):
    with app.app_context():
        action_id = create_action(OWN_COMMUNE, _entry(), user=None).id
        db.session.commit()
    auth.login("officer@khaomang.test")
    url = f"/officer/actions/{action_id}"
    page = client.get(url).get_data(as_text=True)
    assert "Mở cửa từ 7 giờ sáng" in page
    r = client.post(
        url, data=_form(client, url, title_vi="Mở cửa từ 6 giờ 30", text_vi="Sớm hơn.", answers="dimension:6")
    )
    assert r.status_code == 303
    with app.app_context():
        action = db.session.get(CommuneAction, action_id)
        assert (action.title_vi, action.dimension, action.service_point_id) == ("Mở cửa từ 6 giờ 30", "6", None)
        [event] = _events("action_changed")
        assert json.loads(event.detail)["after"]["title_vi"] == "Mở cửa từ 6 giờ 30"
    audit = client.get("/officer/audit?lang=en")  # an officer has no audit log
    assert audit.status_code == 403


FOREIGN = [
    ("GET", "/officer/c/{commune}/actions"),
    ("GET", "/officer/c/{commune}/actions/new"),
    ("POST", "/officer/c/{commune}/actions/new"),
    ("GET", "/officer/actions/{action}"),
    ("POST", "/officer/actions/{action}"),
    ("POST", "/officer/actions/{action}/hide"),
    ("POST", "/officer/actions/{action}/unhide"),
]


@pytest.mark.parametrize("method,template", FOREIGN)
def test_another_communes_entries_are_out_of_reach(app, client, auth, users, foreign_action, method, template):
    auth.login("officer@khaomang.test")
    url = template.format(commune=OTHER_COMMUNE, action=foreign_action)
    data = _form(client, f"/officer/c/{OWN_COMMUNE}/actions/new", title_vi="Đổi") if method == "POST" else None
    r = client.open(url, method=method, data=data)
    assert r.status_code in ((403, 404) if url.endswith("hide") else (404,)), r.status_code
    assert "Bí mật của phường" not in r.get_data(as_text=True)
    with app.app_context():
        action = db.session.get(CommuneAction, foreign_action)
        assert (action.title_vi, action.hidden) == ("Bí mật của phường", False)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CommuneAction)) == 1


def test_a_province_admin_reaches_only_their_province(app, client, auth, users, foreign_action):
    with app.app_context():
        admin = db.session.get(User, users["admin"]["id"])
        admin.province_code = "02"  # Hà Giang's admin: Lào Cai's communes are not theirs
        db.session.commit()
    auth.login("admin@laocai.test")
    assert client.get(f"/officer/c/{OTHER_COMMUNE}/actions").status_code == 404
    token = csrf_token(client, "/officer/audit")
    assert client.post(f"/officer/actions/{foreign_action}/hide", data={"csrf_token": token}).status_code == 404


def test_analyst_reads_but_cannot_record_edit_or_hide(app, client, auth, users, foreign_action):
    auth.login("analyst@laocai.test")
    html = client.get(f"/officer/c/{OTHER_COMMUNE}/actions").get_data(as_text=True)
    assert "Bí mật của phường" in html and "/actions/new" not in html and "/hide" not in html
    url = f"/officer/c/{OTHER_COMMUNE}/actions/new"
    assert client.get(url).status_code == 403
    token = csrf_token(client, f"/officer/c/{OTHER_COMMUNE}/actions")
    assert (
        client.post(url, data={**_form(client, f"/officer/c/{OTHER_COMMUNE}/actions"), "csrf_token": token}).status_code
        == 403
    )
    edit = client.post(f"/officer/actions/{foreign_action}", data={"csrf_token": token, "title_vi": "x"})
    assert edit.status_code == 403
    assert client.post(f"/officer/actions/{foreign_action}/hide", data={"csrf_token": token}).status_code == 403
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CommuneAction)) == 1
        assert not db.session.get(CommuneAction, foreign_action).hidden


def test_officer_cannot_hide(app, client, auth, users, own_point):
    with app.app_context():
        action_id = create_action(OWN_COMMUNE, _entry(), user=None).id
        db.session.commit()
    auth.login("officer@khaomang.test")
    token = csrf_token(client, f"/officer/c/{OWN_COMMUNE}/actions")
    assert client.post(f"/officer/actions/{action_id}/hide", data={"csrf_token": token}).status_code == 403
    assert "/hide" not in client.get(f"/officer/c/{OWN_COMMUNE}/actions").get_data(as_text=True)


def _answer_at_poster(client, token: str):
    survey = catalog().current("health")
    url = f"/s/{token}"
    fields = hidden_fields(client.get(url).get_data(as_text=True))
    return client.post(url, data={**fields, **valid_answers(survey), "send": "1"})


def test_admin_hides_an_entry_and_it_leaves_the_thank_you_page(app, client, auth, users, own_point):
    with app.app_context():
        token = db.session.get(ServicePoint, own_point).token
        action_id = create_action(
            OWN_COMMUNE, _entry(title_vi="Có thêm ghế chờ", service_point_id=own_point), user=None
        ).id
        db.session.commit()
    citizen = app.test_client()
    r = _answer_at_poster(citizen, token)
    # Nothing about the place in the address: the (signed) session carries it.
    assert r.status_code == 303 and r.location.endswith(f"/thanks/{OWN_COMMUNE}")
    thanks = citizen.get(r.location).get_data(as_text=True)
    assert "Có thêm ghế chờ" in thanks and "Trạm Y tế Khao Mang" in thanks

    auth.login("admin@laocai.test")
    token_csrf = csrf_token(client, f"/officer/c/{OWN_COMMUNE}/actions")
    assert client.post(f"/officer/actions/{action_id}/hide", data={"csrf_token": token_csrf}).status_code == 303
    listing = client.get(f"/officer/c/{OWN_COMMUNE}/actions?lang=en").get_data(as_text=True)
    assert "Có thêm ghế chờ" in listing and ">hidden</span>" in listing and "Show again" in listing
    assert "Có thêm ghế chờ" not in citizen.get(r.location).get_data(as_text=True)
    assert "Có thêm ghế chờ" not in citizen.get(f"/results/{OWN_COMMUNE}").get_data(as_text=True)
    assert "Có thêm ghế chờ" not in client.get(f"/analyst/c/{OWN_COMMUNE}").get_data(as_text=True)

    assert client.post(f"/officer/actions/{action_id}/unhide", data={"csrf_token": token_csrf}).status_code == 303
    assert "Có thêm ghế chờ" in citizen.get(r.location).get_data(as_text=True)
    audit = client.get("/officer/audit?lang=en").get_data(as_text=True)
    assert "Reported action hidden" in audit and "Reported action shown again" in audit
    assert f"reported action {action_id}: Có thêm ghế chờ" in unescape(audit)
    with app.app_context():
        assert [e.user_id for e in _events("action_hidden") + _events("action_unhidden")] == [users["admin"]["id"]] * 2


def test_the_thank_you_page_shows_only_the_point_answered_about(app, client, own_point):
    with app.app_context():
        school = _point(area="school", name="Trường Tiểu học")
        create_action(OWN_COMMUNE, _entry(title_vi="Về trạm y tế", service_point_id=own_point), user=None)
        create_action(OWN_COMMUNE, _entry(title_vi="Về trường học", service_point_id=school), user=None)
        db.session.commit()
    # A commune survey without a service point: no entries.
    survey = catalog().current("health")
    url = f"/c/{OWN_COMMUNE}/health"
    fields = hidden_fields(client.get(url).get_data(as_text=True))
    r = client.post(url, data={**fields, **valid_answers(survey), "send": "1"})
    html = client.get(r.location).get_data(as_text=True)
    assert "Về trạm y tế" not in html and "Về trường học" not in html
    # Nor does a bare visit of the page, in a fresh browser.
    assert "Về trạm y tế" not in app.test_client().get(f"/thanks/{OWN_COMMUNE}").get_data(as_text=True)


def test_titles_and_texts_are_escaped_everywhere(app, client, auth, users, own_point):
    with app.app_context():
        token = db.session.get(ServicePoint, own_point).token
        create_action(
            OWN_COMMUNE,
            _entry(
                title_vi=INJECTION, text_vi=INJECTION, title_en=INJECTION, text_en=INJECTION, service_point_id=own_point
            ),
            user=None,
        )
        db.session.commit()
    citizen = app.test_client()
    pages = [citizen.get(_answer_at_poster(citizen, token).location), citizen.get(f"/results/{OWN_COMMUNE}?lang=en")]
    auth.login("admin@laocai.test")
    pages += [
        client.get(f"/officer/c/{OWN_COMMUNE}/actions"),
        client.get(f"/analyst/c/{OWN_COMMUNE}"),
        client.get("/officer/audit"),
    ]
    for page in pages:
        html = page.get_data(as_text=True)
        assert "<script>alert" not in html and "<b>bold" not in html, page.request.path
    assert "&lt;script&gt;" in pages[0].get_data(as_text=True)


LONG_WORD = "https://example.test/" + "x" * 130  # a link with no place to break
TWO_PARAGRAPHS = "Dòng đầu.\n\nDòng sau <b>không</b> đậm."


def test_every_page_with_entries_wraps_long_words_and_keeps_line_breaks(app, client, auth, users, own_point):
    """One rule for every page that shows an entry: the item wraps anywhere (a 300-character link
    cannot widen a phone page) and the text keeps its line breaks, escaped, never marked safe."""
    with app.app_context():
        token = db.session.get(ServicePoint, own_point).token
        create_action(
            OWN_COMMUNE,
            _entry(
                title_vi=LONG_WORD,
                text_vi=TWO_PARAGRAPHS,
                title_en=LONG_WORD,
                text_en=TWO_PARAGRAPHS,
                service_point_id=own_point,
            ),
            user=None,
        )
        db.session.commit()
    citizen = app.test_client()
    pages = {
        "thanks": citizen.get(_answer_at_poster(citizen, token).location),
        "results": citizen.get(f"/results/{OWN_COMMUNE}"),
    }
    auth.login("admin@laocai.test")
    pages |= {
        "officer": client.get(f"/officer/c/{OWN_COMMUNE}/actions"),
        "scorecard": client.get(f"/analyst/c/{OWN_COMMUNE}"),
    }
    for name, page in pages.items():
        html = page.get_data(as_text=True)
        assert ".said{overflow-wrap:anywhere}" in html and ".said-text{white-space:pre-line}" in html, name
        item = re.findall(r'<li class="([^"]*)"', html[: html.index(LONG_WORD)])[-1]
        assert "said" in item.split(), name
        assert '<span class="said-text">Dòng đầu.\n\nDòng sau &lt;b&gt;không&lt;/b&gt; đậm.</span>' in html, name


def test_scorecard_lists_visible_entries(app, client, auth, users):
    with app.app_context():
        create_action(OWN_COMMUNE, _entry(title_vi="Niêm yết thủ tục", dimension="5"), user=None)
        hidden = create_action(OWN_COMMUNE, _entry(title_vi="Bản nháp"), user=None)
        set_hidden(hidden, True)
        db.session.commit()
    auth.login("officer@khaomang.test")
    html = client.get(f"/analyst/c/{OWN_COMMUNE}").get_data(as_text=True)
    assert "Niêm yết thủ tục" in html and "5. Thủ tục hành chính công" in html and "Bản nháp" not in html
    assert f'href="/officer/c/{OWN_COMMUNE}/actions"' in html


def test_commune_and_point_pages_link_to_the_entries(app, client, auth, users, own_point):
    auth.login("officer@khaomang.test")
    assert f'href="/officer/c/{OWN_COMMUNE}/actions"' in client.get(f"/officer/c/{OWN_COMMUNE}").get_data(as_text=True)
    page = unescape(client.get(f"/officer/points/{own_point}").get_data(as_text=True))
    assert f"/officer/c/{OWN_COMMUNE}/actions/new?point={own_point}" in page
