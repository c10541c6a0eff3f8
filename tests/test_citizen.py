"""Citizen pages: landing, survey by poster and by commune, errors with answers kept, once-only."""

from __future__ import annotations

import gzip
import re
from html import unescape

import pytest

from feedback.extensions import db
from feedback.models import Answer, Response, ServicePoint
from surveys import catalog

from .conftest import count, hidden_fields
from .helpers import module_in_page, valid_answers

SURVEYS = [s.slug for s in catalog().all_current()]


def _post(client, url, answers, fields=None, **extra):
    page = client.get(url)
    fields = fields or hidden_fields(page.get_data(as_text=True))
    return client.post(url, data={**fields, **answers, "send": "1", **extra}), fields


def test_landing_lists_every_commune_and_survey(client):
    html = client.get("/").get_data(as_text=True)
    assert len(re.findall(r'<option value="\d{5}">', html)) == 99
    for slug in SURVEYS:
        assert f'value="{slug}"' in html
    assert 'lang="vi"' in html


def test_start_goes_to_service_point_or_commune_survey(client, point):
    r = client.get("/start?commune=04465&survey=health")
    assert r.status_code == 302 and r.location.endswith(f"/s/{point['token']}?via=landing")
    r = client.get("/start?commune=04465&survey=land")
    assert r.status_code == 302 and r.location.endswith("/c/04465/land")
    r = client.get("/start?commune=99999&survey=land")
    assert "missing=1" in r.location


@pytest.mark.parametrize("slug", SURVEYS)
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_every_survey_renders_and_stores_once(app, client, slug, lang):
    survey = catalog().current(slug)
    url = f"/c/04465/{slug}?lang={lang}"
    page = client.get(url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'<html lang="{lang}">' in html
    text = unescape(html)
    module = module_in_page(survey, html)
    assert (module is None) == (not survey.modules)
    for q in survey.shown(module):
        assert q.label.get(lang) in text
    fields = hidden_fields(html)
    r = client.post(url, data={**fields, **valid_answers(survey, module=module), "send": "1"})
    assert r.status_code == 303 and "/thanks/04465" in r.location
    # A double tap, a retry and a back-and-resubmit carry the same signed state: still one response.
    again = client.post(url, data={**fields, **valid_answers(survey, module=module), "send": "1"})
    assert again.status_code == 303
    assert count(app, survey=slug) == 1
    with app.app_context():
        response = db.session.execute(db.select(Response)).scalar_one()
        assert (response.survey_version, response.lang, response.mode) == (survey.version, lang, "web")
        assert response.started_at <= response.submitted_at
        scored = [a for a in response.answers if a.subdimension]
        assert scored and all(0 <= a.score <= 1 for a in scored if a.score is not None)


def test_poster_link_names_commune_and_point(app, client, point):
    survey = catalog().current("health")
    r, _ = _post(client, f"/s/{point['token']}", valid_answers(survey))
    assert r.status_code == 303
    with app.app_context():
        response = db.session.execute(db.select(Response)).scalar_one()
        assert (response.commune_code, response.service_point_id) == ("04465", point["id"])


def test_unknown_token_is_404(client):
    assert client.get("/s/not-a-token").status_code == 404


def test_retired_poster_points_to_current_survey(app, client, point):
    with app.app_context():
        old = db.session.get(ServicePoint, point["id"])
        old.active = False
        new = ServicePoint(commune_code="04465", service_area="health", name="Trạm Y tế mới")
        db.session.add(new)
        db.session.commit()
        new_token = new.token
    r = client.get(f"/s/{point['token']}")
    assert r.status_code == 410
    assert f"/s/{new_token}" in r.get_data(as_text=True)


def test_errors_are_shown_beside_questions_in_vietnamese_with_answers_kept(app, client):
    r, _ = _post(client, "/c/04465/health", {"used_service": "yes", "staff_respect": "no", "comment": "Chờ lâu"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    errors = re.search(r'<fieldset class="card err[^"]*" id="q-overall".*?</fieldset>', html, re.S).group(0)
    assert "Vui lòng trả lời câu hỏi này." in errors
    assert re.search(r'name="used_service" value="yes" checked', html)
    assert re.search(r'name="staff_respect" value="no" checked', html)
    assert "Chờ lâu</textarea>" in html
    assert count(app) == 0


def test_errors_in_english_after_switch(app, client):
    url = "/c/04465/health"
    fields = hidden_fields(client.get(url).get_data(as_text=True))
    switched = client.post(url, data={**fields, "used_service": "no", "switch_lang": "en"})
    html = switched.get_data(as_text=True)
    assert switched.status_code == 200 and '<html lang="en">' in html
    assert re.search(r'name="used_service" value="no" checked', html)
    r = client.post(url, data={**fields, "used_service": "no", "overall": "9", "send": "1"})
    assert "Please give a whole number from 1 to 5." in r.get_data(as_text=True)
    assert count(app) == 0


@pytest.mark.parametrize(
    "answers, question, message",
    [
        ({"used_service": "no", "overall": "3", "staff_respect": "yes"}, "staff_respect", "không áp dụng"),
        ({"used_service": "maybe", "overall": "3"}, "used_service", "Vui lòng chọn một trong các lựa chọn"),
        ({"used_service": "no", "overall": "3", "comment": "x" * 501}, "comment", "dưới 500 ký tự"),
        ({"used_service": "no", "overall": "0"}, "overall", "từ 1 đến 5"),
    ],
)
def test_each_problem_gets_its_message(app, client, answers, question, message):
    r, _ = _post(client, "/c/04465/health", answers)
    html = r.get_data(as_text=True)
    box = re.search(rf'<fieldset class="card err[^"]*" id="q-{question}".*?</fieldset>', html, re.S)
    assert r.status_code == 422 and box and message in box.group(0)
    assert count(app) == 0


def test_not_relevant_answer_can_be_removed_without_javascript(app, client):
    r, fields = _post(client, "/c/04465/health", {"used_service": "no", "overall": "3", "staff_respect": "yes"})
    assert 'name="staff_respect" value=""' in r.get_data(as_text=True)
    ok = client.post(
        "/c/04465/health", data={**fields, "used_service": "no", "overall": "3", "staff_respect": "", "send": "1"}
    )
    assert ok.status_code == 303 and count(app) == 1


def test_expired_or_missing_csrf_keeps_answers(app, client):
    fields = hidden_fields(client.get("/c/04465/health").get_data(as_text=True))
    r = client.post(
        "/c/04465/health", data={"state": fields["state"], "used_service": "no", "overall": "5", "send": "1"}
    )
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and "câu trả lời của bạn vẫn được giữ" in html.lower()
    assert re.search(r'name="overall" value="5" checked', html)
    # The same response id survives, so resending it stores exactly one response.
    assert hidden_fields(html)["state"] == fields["state"]
    assert count(app) == 0


def test_forged_state_is_refused(app, client):
    fields = hidden_fields(client.get("/c/04465/health").get_data(as_text=True))
    r = client.post(
        "/c/04465/health", data={**fields, "state": "forged", "used_service": "no", "overall": "5", "send": "1"}
    )
    assert r.status_code == 400 and count(app) == 0


def test_scores_stored_from_survey_definition(app, client):
    _post(
        client,
        "/c/04465/health",
        {"used_service": "yes", "informal_payment": "yes", "overall": "5", "wait_time": "15-30"},
    )
    with app.app_context():
        rows = {a.question_id: (a.subdimension, a.score) for a in db.session.execute(db.select(Answer)).scalars()}
    assert rows["informal_payment"] == ("4.2", 0.0)
    assert rows["overall"] == ("6.1", 1.0)
    assert rows["wait_time"] == ("6.1", 0.67)
    assert rows["used_service"] == (None, None)


def test_privacy_notice_is_linked_from_every_page(client):
    assert 'href="/privacy"' in client.get("/").get_data(as_text=True)
    html = client.get("/privacy").get_data(as_text=True)
    assert "không lưu địa chỉ internet" in html


def test_thanks_page_explains_what_happens(client):
    html = client.get("/thanks/04465").get_data(as_text=True)
    assert "Cảm ơn" in html and "Sở Nội vụ" in html


def _chosen_commune(html: str) -> list[str]:
    return re.findall(r'<option value="(\d{5})" selected>', html)


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_answer_about_another_service_keeps_the_commune_and_language(client, lang):
    html = client.get(f"/thanks/04465?lang={lang}").get_data(as_text=True)
    link = unescape(re.search(r'<a class="btn alt" href="([^"]+)"', html)[1])
    assert "commune=04465" in link
    client.delete_cookie("session")  # the link alone carries the choice, without the session
    landing = client.get(link).get_data(as_text=True)
    assert _chosen_commune(landing) == ["04465"]
    assert f'<html lang="{lang}">' in landing


def test_a_landing_page_without_a_service_chosen_keeps_the_commune(client):
    r = client.get("/start?commune=04465")
    assert r.status_code == 302 and "missing=1" in r.location
    html = client.get(r.location).get_data(as_text=True)
    assert _chosen_commune(html) == ["04465"] and 'role="alert"' in html
    assert _chosen_commune(client.get("/?commune=99999").get_data(as_text=True)) == []


def test_largest_survey_page_is_under_30_kb_gzipped(client):
    """HTML + CSS + JS of the heaviest survey page, gzip-compressed as served over 3G."""
    with client.get("/static/survey.js") as r:
        script = r.data
    sizes = {}
    for slug in SURVEYS:
        html = client.get(f"/c/04465/{slug}").data
        assert b"http://" not in html.replace(b"http://www.w3.org", b"") and b"https://" not in html
        sizes[slug] = len(gzip.compress(html, 6)) + len(gzip.compress(script, 6))
    largest = max(sizes.values())
    print(f"largest survey page: {largest} bytes gzipped ({max(sizes, key=sizes.get)})")
    assert largest < 30 * 1024


def test_security_headers(client):
    r = client.get("/")
    csp = r.headers["Content-Security-Policy"]
    assert (
        "script-src 'self'" in csp
        and "frame-ancestors 'none'" in csp
        and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    )
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize(
    "config, message",
    [
        ({"SECRET_KEY": "dev-not-secret", "BASE_URL_SET": True}, "SECRET_KEY"),
        ({"SECRET_KEY": "0123456789abcdef" * 3 + "fedcba9876543210", "BASE_URL_SET": False}, "BASE_URL"),
    ],
)
def test_production_refuses_unsafe_config(config, message):
    from feedback import create_app

    with pytest.raises(RuntimeError, match=message):
        create_app({"ENV_NAME": "production", "SQLALCHEMY_DATABASE_URI": "sqlite://", **config})


def test_production_sets_secure_cookies():
    from feedback import create_app

    app = create_app(
        {
            "ENV_NAME": "production",
            "SECRET_KEY": "0123456789abcdef" * 3 + "fedcba9876543210",
            "BASE_URL_SET": True,
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
        }
    )
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]


def test_a_web_respondent_answers_one_module(app, client):
    survey = catalog().current("local-governance")
    html = client.get("/c/04465/local-governance").get_data(as_text=True)
    module = module_in_page(survey, html)
    other = next(q for q in survey.questions if q.module not in (None, module))
    fields = hidden_fields(html)
    r = client.post(
        "/c/04465/local-governance",
        data={**fields, **valid_answers(survey, module=module), other.id: other.options[0].value, "send": "1"},
    )
    assert r.status_code == 422 and count(app) == 0
    ok = client.post("/c/04465/local-governance", data={**fields, **valid_answers(survey, module=module), "send": "1"})
    assert ok.status_code == 303
    with app.app_context():
        assert db.session.execute(db.select(Response)).scalar_one().module == module


def test_modules_are_spread_over_respondents(app):
    """Each citizen (a browser of their own) gets a random module; one citizen keeps theirs."""
    survey = catalog().current("local-governance")
    seen = {
        module_in_page(survey, app.test_client().get("/c/04465/local-governance").get_data(as_text=True))
        for _ in range(40)
    }
    assert seen == set(survey.modules)
