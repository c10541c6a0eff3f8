"""Paper questionnaires (feedback/paper.py): the interview date, one printed form per module with
its code, the module recorded on entry, the saved-form confirmation, a retry stored once."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta
from html import unescape

import pytest
import sqlalchemy as sa

from feedback.extensions import db
from feedback.models import Commune, Response, ServicePoint, User
from feedback.paper import entry_layout, printed_layouts, read_interview_date
from feedback.times import day_start, local_day, now_seconds
from surveys import catalog

from .conftest import OWN_COMMUNE, AuthActions, count, hidden_fields
from .helpers import paper_date, valid_answers

HEALTH = catalog().current("health")
GOVERNANCE = catalog().current("local-governance")
RELEASED = HEALTH.released
# 10:00 in Viet Nam, 100 days after the release: today there is RELEASED + 100 days.
NOW = day_start(RELEASED + timedelta(days=100)) + timedelta(hours=10)
TODAY = RELEASED + timedelta(days=100)


def _read(day: date | tuple[str, str, str], *, now: datetime = NOW, survey=HEALTH):
    parts = (str(day.day), str(day.month), str(day.year)) if isinstance(day, date) else day
    return read_interview_date(*parts, survey=survey, now=now)


def test_interview_dates_from_the_limit_to_today_are_read(app):
    with app.app_context():
        assert _read(TODAY) == (TODAY, None)
        assert _read(TODAY - timedelta(days=90)) == (TODAY - timedelta(days=90), None)
        assert _read((f" {TODAY.day:02d}", f"{TODAY.month:02d} ", str(TODAY.year))) == (TODAY, None)


@pytest.mark.parametrize(
    "parts,code,params",
    [
        (("", "", ""), "date_missing", {}),
        (("", "3", "2027"), "date_incomplete", {"part": "day"}),
        (("1", "", "2027"), "date_incomplete", {"part": "month"}),
        (("1", "3", " "), "date_incomplete", {"part": "year"}),
        (("31", "2", "2027"), "date_not_real", {}),
        (("1", "13", "2027"), "date_not_real", {}),
        (("1", "3", "27"), "date_not_real", {}),
        (("một", "3", "2027"), "date_not_real", {}),
        (("-1", "3", "2027"), "date_not_real", {}),
    ],
)
def test_unreadable_interview_dates_say_why(app, parts, code, params):
    with app.app_context():
        day, problem = _read(parts)
    assert day is None and (problem.question, problem.code, problem.params) == ("interviewed_on", code, params)


def test_interview_date_is_checked_against_the_provinces_day(app):
    """At 23:30 in Viet Nam (16:30 UTC) tomorrow is still in the future; at 01:00 (18:00 UTC
    the day before) the Viet Nam day has begun though the UTC day has not."""
    with app.app_context():
        late = day_start(TODAY) + timedelta(hours=23, minutes=30)
        assert _read(TODAY + timedelta(days=1), now=late)[1].code == "date_future"
        early = day_start(TODAY) + timedelta(hours=1)
        assert early.date() < TODAY and _read(TODAY, now=early) == (TODAY, None)


def test_too_old_and_pre_release_interview_dates_are_refused(app):
    with app.app_context():
        _, problem = _read(TODAY - timedelta(days=91))
        assert (problem.code, problem.params["earliest"]) == ("date_too_old", TODAY - timedelta(days=90))
        app.config["PAPER_MAX_AGE_DAYS"] = 365
        _, problem = _read(RELEASED - timedelta(days=1))
        assert (problem.code, problem.params["earliest"]) == ("date_before_release", RELEASED)


def test_one_printed_form_per_module_with_its_code():
    sheets = printed_layouts(GOVERNANCE, None)
    assert [s.module for s in sheets] == list(GOVERNANCE.modules)
    for sheet in sheets:
        assert sheet.code == f"local-governance-v{GOVERNANCE.version}-{sheet.module.upper()}"
        assert {q.module for q in sheet.questions} == {None, sheet.module}
    assert printed_layouts(GOVERNANCE, "zz") is None and printed_layouts(HEALTH, "a") is None
    assert [s.code for s in printed_layouts(HEALTH, None)] == [f"health-v{HEALTH.version}"]
    assert entry_layout(GOVERNANCE, None) is None and entry_layout(GOVERNANCE, "all").module == "*"
    assert entry_layout(HEALTH, None).questions == HEALTH.main_questions


# ---- the entry screen ------------------------------------------------------------------------


def _point(app, area: str = "health") -> int:
    with app.app_context():
        point = ServicePoint(commune_code=OWN_COMMUNE, service_area=area, name="Nhà văn hoá thôn")
        db.session.add(point)
        db.session.commit()
        return point.id


def _only(app) -> Response:
    with app.app_context():
        row = db.session.execute(sa.select(Response)).scalar_one()
        db.session.expunge(row)
        return row


@pytest.mark.parametrize(
    "lang,message",
    [
        ("vi", "Ngày phỏng vấn phải là hôm nay hoặc một ngày đã qua."),
        ("en", "The interview date must be today or in the past."),
    ],
)
def test_a_future_interview_date_is_refused_and_the_answers_stay(app, client, auth, users, lang, message):
    point = _point(app)
    auth.login("officer@khaomang.test")
    url = f"/officer/points/{point}/paper?lang={lang}"
    fields = hidden_fields(client.get(url).get_data(as_text=True))
    tomorrow = paper_date(local_day(now_seconds()) + timedelta(days=1))
    r = client.post(url, data={**fields, **valid_answers(HEALTH), "comment": "Giấy tờ nhanh", **tomorrow})
    assert r.status_code == 422 and count(app) == 0
    html = unescape(r.get_data(as_text=True))
    assert message in html and 'id="e-interviewed_on"' in html
    assert f'name="interview_day" value="{tomorrow["interview_day"]}"' in html
    assert f'name="interview_year" value="{tomorrow["interview_year"]}"' in html
    assert "Giấy tờ nhanh" in html and 'value="yes" checked' in html


def test_a_missing_date_is_asked_for_with_the_answers_problems(app, client, auth, users):
    point = _point(app)
    auth.login("officer@khaomang.test")
    url = f"/officer/points/{point}/paper?lang=en"
    fields = hidden_fields(client.get(url).get_data(as_text=True))
    answers = valid_answers(HEALTH)
    missing = next(q.id for q in HEALTH.questions if q.required)
    answers.pop(missing)
    r = client.post(url, data={**fields, **answers})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "Enter the interview date written on the paper form." in html
    assert f'id="e-{missing}"' in html and count(app) == 0


def test_a_retry_with_another_date_is_a_new_form_not_a_silent_change(app, client, auth, users, monkeypatch):
    """Same state, same answers, same date: stored once. Another date under that id: 409, the
    answers kept with a new id, then stored as a second form."""
    monkeypatch.setattr("feedback.responses.now_seconds", lambda: NOW)
    monkeypatch.setattr("feedback.paper.now_seconds", lambda: NOW)
    point = _point(app)
    auth.login("officer@khaomang.test")
    url = f"/officer/points/{point}/paper"
    fields = hidden_fields(client.get(url).get_data(as_text=True))
    data = {**fields, **valid_answers(HEALTH), "send": "1"}
    first = client.post(url, data={**data, **paper_date(TODAY - timedelta(days=3))})
    again = client.post(url, data={**data, **paper_date(TODAY - timedelta(days=3))})
    assert first.status_code == again.status_code == 303 and first.location == again.location and count(app) == 1
    changed = client.post(url, data={**data, **paper_date(TODAY - timedelta(days=2))})
    assert changed.status_code == 409 and count(app) == 1
    kept = hidden_fields(changed.get_data(as_text=True))
    assert kept["state"] != fields["state"]
    assert client.post(url, data={**data, **kept, **paper_date(TODAY - timedelta(days=2))}).status_code == 303
    with app.app_context():
        days = sorted(db.session.execute(sa.select(Response.submitted_at)).scalars())
    assert days == [day_start(TODAY - timedelta(days=3)), day_start(TODAY - timedelta(days=2))]


def test_a_survey_with_modules_asks_which_form_and_records_it(app, client, auth, users):
    point = _point(app, area="commune_office")
    auth.login("officer@khaomang.test")
    base = f"/officer/points/{point}/paper"
    chooser = client.get(base + "?lang=en")
    html = unescape(chooser.get_data(as_text=True))
    assert chooser.status_code == 200 and 'name="state"' not in html
    assert all(f"local-governance-v{GOVERNANCE.version}-{m.upper()}" in html for m in GOVERNANCE.modules)
    assert client.get(base + "?module=zz").status_code == 400

    page = client.get(base + "?module=b&lang=vi")
    html = unescape(page.get_data(as_text=True))
    assert all((q.label.vi in html) == (q.module in (None, "b")) for q in GOVERNANCE.questions)
    fields = hidden_fields(page.get_data(as_text=True))
    other = next(q for q in GOVERNANCE.questions if q.module == "a")
    refused = client.post(
        base + "?module=b",
        data={**fields, **valid_answers(GOVERNANCE, module="b"), other.id: other.options[0].value, **paper_date()},
    )
    assert refused.status_code == 422 and count(app) == 0
    r = client.post(base + "?module=b", data={**fields, **valid_answers(GOVERNANCE, module="b"), **paper_date()})
    assert r.status_code == 303 and _only(app).module == "b"
    saved = unescape(client.get(r.location).get_data(as_text=True))
    assert f'href="{base}?module=b"' in saved  # the next form of the same kind

    everything = client.get(base + "?module=all&lang=vi")
    fields = hidden_fields(everything.get_data(as_text=True))
    assert all(q.label.vi in unescape(everything.get_data(as_text=True)) for q in GOVERNANCE.questions)
    answers = {**valid_answers(GOVERNANCE, module="a"), **valid_answers(GOVERNANCE, module="c")}
    assert client.post(base + "?module=all", data={**fields, **answers, **paper_date()}).status_code == 303
    with app.app_context():
        assert sorted(db.session.execute(sa.select(Response.module)).scalars(), key=str) == [None, "b"]


def test_saved_confirmation_says_what_was_saved_and_offers_the_next_form(app, client, auth, users, password_hash):
    point = _point(app)
    auth.login("officer@khaomang.test")
    url = f"/officer/points/{point}/paper"
    fields = hidden_fields(client.get(url).get_data(as_text=True))
    r = client.post(url, data={**fields, **valid_answers(HEALTH), **paper_date()})
    row = _only(app)
    assert r.status_code == 303 and r.location == f"{url}/saved/{row.id}"
    html = unescape(client.get(r.location + "?lang=vi").get_data(as_text=True))
    assert "Đã lưu phiếu giấy" in html and row.id.hex[:8].upper() in html
    assert "Nhà văn hoá thôn" in html and _day_text(row) in html
    assert f'href="/officer/responses/{row.id}"' in html
    assert f'id="next-form" href="{url}"' in html and "Nhập phiếu tiếp theo" in html
    fresh = hidden_fields(client.get(url).get_data(as_text=True))
    assert fresh["state"] != fields["state"]  # the next form is a new response
    check = unescape(client.get(f"/officer/responses/{row.id}?lang=en").get_data(as_text=True))
    assert f"Interview date: <strong>{_day_text(row)}</strong>" in check

    with app.app_context():
        db.session.add(
            User(
                email="colleague@khaomang.test",
                role="officer",
                password_hash=password_hash,
                communes=[db.session.get(Commune, OWN_COMMUNE)],
            )
        )
        db.session.commit()
    for who, status in (("colleague@khaomang.test", 404), ("admin@laocai.test", 200)):
        other = app.test_client()
        AuthActions(other).login(who)
        assert other.get(r.location).status_code == status, who
    assert client.get(f"{url}/saved/{uuid.uuid4()}").status_code == 404


@pytest.mark.parametrize("survey,module", [(HEALTH, None), (GOVERNANCE, "b"), (GOVERNANCE, "all")])
def test_check_page_lists_answers_in_form_order_with_the_printed_numbers(app, client, auth, users, survey, module):
    """The typed form's check page follows the paper: main questions in order, each with the
    number printed beside it on the blank form, then the respondent block (unnumbered)."""
    point = _point(app, area=survey.service_area)
    auth.login("officer@khaomang.test")
    url = f"/officer/points/{point}/paper" + (f"?module={module}" if module else "")
    fields = hidden_fields(client.get(url).get_data(as_text=True))
    answers = valid_answers(survey, module=module if module != "all" else None)
    if module == "all":  # the all-question form: a module's answers beside another's
        answers |= valid_answers(survey, module=survey.modules[-1])
    r = client.post(url, data={**fields, **answers, **paper_date()})
    assert r.status_code == 303
    html = client.get(f"/officer/responses/{_only(app).id}?lang=vi").get_data(as_text=True)
    rows = re.findall(r'<tr data-question="([^"]+)"><td class="n">(\d*)</td>', html)
    on_paper = survey.main_questions  # an older all-question form had every main question
    if module != "all":  # as the blank form's numbered list prints them
        blank = client.get(f"/officer/surveys/{survey.slug}/paper-form" + (f"?module={module}" if module else ""))
        sheet = unescape(re.search(r'<section class="sheet".*?</section>', blank.get_data(as_text=True), re.S)[0])
        on_paper = [q for q in on_paper if f"<li><strong>{q.label.vi}</strong>" in sheet]
    numbers = {q.id: str(n) for n, q in enumerate(on_paper, start=1)}
    main = [(q.id, numbers[q.id]) for q in on_paper if q.id in answers]
    about = [(q.id, "") for q in survey.respondent_questions if q.id in answers]
    assert rows == main + about and len(main) > 1


def test_answers_as_printed_groups_values_and_keeps_unknown_questions_last(app):
    from feedback.models import Answer
    from feedback.paper import answers_as_printed

    stored = Response(
        mode="paper",
        module=None,
        answers=[
            Answer(question_id=qid, position=position, value=value)
            for qid, position, value in (
                ("ethnic_group", 0, "kinh"),
                ("old_question", 1, "y"),
                ("overall", 0, "4"),
                ("old_question", 0, "x"),
                ("wait_time", 0, "lt15"),
                ("used_service", 0, "yes"),
            )
        ],
    )
    rows = [(a.question_id, a.number, a.values) for a in answers_as_printed(stored, HEALTH)]
    assert rows == [
        ("used_service", 1, ("yes",)),
        ("wait_time", 3, ("lt15",)),
        ("overall", 8, ("4",)),
        ("ethnic_group", None, ("kinh",)),
        ("old_question", None, ("x", "y")),
    ]
    assert [a.question_id for a in answers_as_printed(stored, None)] == sorted(
        a.question_id for a in stored.answers if a.position == 0
    )


def _day_text(row: Response) -> str:
    """The interview day of a stored paper form as the pages write it (day/month/year)."""
    return local_day(row.submitted_at).strftime("%d/%m/%Y")


# ---- printed forms -------------------------------------------------------------------------


def test_blank_forms_print_each_module_with_its_code(client, auth, users):
    auth.login("officer@khaomang.test")
    html = unescape(client.get("/officer/surveys/local-governance/paper-form").get_data(as_text=True))
    assert html.count('<section class="sheet"') == len(GOVERNANCE.modules)
    one = unescape(client.get("/officer/surveys/local-governance/paper-form?module=c").get_data(as_text=True))
    assert one.count('<section class="sheet"') == 1 and f"local-governance-v{GOVERNANCE.version}-C" in one
    assert all((q.label.vi in one) == (q.module in (None, "c")) for q in GOVERNANCE.questions)
    assert "Ngày phỏng vấn" in one
    assert client.get("/officer/surveys/local-governance/paper-form?module=zz").status_code == 404
    assert client.get("/officer/surveys/health/paper-form?module=a").status_code == 404
