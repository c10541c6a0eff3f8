"""Officer pages: commune isolation on every route, service points, paper entry, dashboard, admin."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from html import unescape

import pytest
import sqlalchemy as sa

from feedback.extensions import db
from feedback.models import Answer, AuditEvent, CommuneAction, Response, ServicePoint, User, utcnow
from surveys import catalog

from .conftest import OTHER_COMMUNE, OWN_COMMUNE, count, csrf_token, hidden_fields
from .helpers import paper_date, valid_answers


def _add_point(app, commune: str, area: str = "health", name: str = "Trạm Y tế") -> dict:
    with app.app_context():
        point = ServicePoint(commune_code=commune, service_area=area, name=name)
        db.session.add(point)
        db.session.commit()
        return {"id": point.id, "token": point.token, "name": point.name}


def _add_response(
    app,
    commune: str,
    point_id: int | None,
    *,
    age: timedelta = timedelta(0),
    comment: str | None = None,
    survey: str = "health",
) -> str:
    """Store a response received ``age`` ago (directly, to control its time)."""
    rid = uuid.uuid4()
    moment = utcnow() - age
    with app.app_context():
        version = catalog().current(survey).version
        db.session.add(
            Response(
                id=rid,
                survey=survey,
                survey_version=version,
                commune_code=commune,
                service_point_id=point_id,
                lang="vi",
                mode="web",
                started_at=moment,
                submitted_at=moment,
                received_at=moment,
                content_hash="test",
            )
        )
        db.session.flush()
        if comment:
            text_q = next(q.id for q in catalog().current(survey).questions if q.type == "text")
            db.session.add(Answer(response_id=rid, question_id=text_q, position=0, value=comment))
        db.session.commit()
    return str(rid)


@pytest.fixture
def other(app, users):
    """Another commune's service point and response, which the Khao Mang officer must never reach."""
    point = _add_point(app, OTHER_COMMUNE, name="Trạm Y tế phường Lào Cai")
    response = _add_response(app, OTHER_COMMUNE, point["id"], comment="Bí mật của phường khác")
    with app.app_context():
        action = CommuneAction(
            commune_code=OTHER_COMMUNE, title_vi="Việc của phường khác", text_vi="Bí mật", done_on=utcnow().date()
        )
        db.session.add(action)
        db.session.commit()
        action_id = action.id
    return {"point": point, "response": response, "admin_id": users["admin"]["id"], "action": action_id}


# Every officer route, aimed at the other commune's data. (method, rule endpoint, url template)
FOREIGN_ROUTES = [
    ("GET", "officer.commune", "/officer/c/{commune}"),
    ("POST", "officer.create_point", "/officer/c/{commune}/points"),
    ("GET", "officer.point", "/officer/points/{point}"),
    ("POST", "officer.point", "/officer/points/{point}"),
    ("GET", "officer.retire_point", "/officer/points/{point}/retire"),
    ("POST", "officer.retire_point", "/officer/points/{point}/retire"),
    ("POST", "officer.reactivate_point", "/officer/points/{point}/reactivate"),
    ("POST", "officer.reissue_token", "/officer/points/{point}/reissue"),
    ("GET", "officer.point_poster", "/officer/points/{point}/poster.pdf"),
    ("GET", "officer.point_poster", "/officer/points/{point}/poster.pdf?size=a6"),
    ("GET", "officer.commune_posters", "/officer/c/{commune}/posters.pdf"),
    ("GET", "officer.province_posters", "/officer/posters.pdf"),
    ("GET", "officer.paper_entry", "/officer/points/{point}/paper"),
    ("POST", "officer.paper_entry", "/officer/points/{point}/paper"),
    ("GET", "officer.paper_saved", "/officer/points/{point}/paper/saved/{response}"),
    ("GET", "officer.response", "/officer/responses/{response}"),
    ("GET", "officer.blank_form", "/officer/points/{point}/paper-form"),
    ("GET", "officer.users", "/officer/users"),
    ("POST", "officer.users", "/officer/users"),
    ("GET", "officer.edit_user", "/officer/users/{admin}"),
    ("POST", "officer.edit_user", "/officer/users/{admin}"),
    ("GET", "officer.audit_log", "/officer/audit"),
    ("GET", "officer.api_clients", "/officer/api-clients"),
    ("POST", "officer.api_clients", "/officer/api-clients"),
    ("POST", "officer.revoke_client", "/officer/api-clients/1/revoke"),
    ("GET", "officer.public_settings_page", "/officer/settings"),
    ("POST", "officer.public_settings_page", "/officer/settings"),
    ("GET", "officer.commune_actions_page", "/officer/c/{commune}/actions"),
    ("GET", "officer.new_action", "/officer/c/{commune}/actions/new"),
    ("POST", "officer.new_action", "/officer/c/{commune}/actions/new"),
    ("GET", "officer.edit_action", "/officer/actions/{action}"),
    ("POST", "officer.edit_action", "/officer/actions/{action}"),
    ("POST", "officer.hide_action", "/officer/actions/{action}/hide"),
    ("POST", "officer.unhide_action", "/officer/actions/{action}/unhide"),
    # Analyst routes: an officer reads only their own communes' scorecards, nothing province-wide.
    ("GET", "analyst.scorecard", "/analyst/c/{commune}"),
    ("GET", "analyst.province", "/analyst/"),
    ("GET", "analyst.export_scores", "/analyst/export/scores.csv"),
    ("GET", "analyst.export_scores", "/analyst/export/scores.xlsx?public=1"),
    ("GET", "analyst.export_responses", "/analyst/export/responses.csv"),
    ("GET", "analyst.exports", "/analyst/exports"),
    ("POST", "analyst.start_export", "/analyst/exports"),
    ("GET", "analyst.export_job", "/analyst/exports/0123456789abcdef0123456789abcdef"),
    ("GET", "analyst.export_job_json", "/analyst/exports/0123456789abcdef0123456789abcdef.json"),
    ("GET", "analyst.export_download", "/analyst/exports/0123456789abcdef0123456789abcdef/download"),
    ("GET", "analyst.export_codebook", "/analyst/exports/codebook.csv"),
    ("GET", "analyst.published", "/analyst/published"),
    ("POST", "analyst.publish", "/analyst/published"),
    ("GET", "api.scores", "/api/v1/scores"),
]
# Routes without another commune's data in them: checked separately below.
OPEN_ROUTES = {"officer.index", "officer.blank_form"}


def test_sweep_covers_every_officer_route(app):
    rules = {
        (method, rule.endpoint)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith(("officer.", "analyst.")) or rule.endpoint == "api.scores"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    covered = {(method, endpoint) for method, endpoint, _ in FOREIGN_ROUTES}
    assert rules - covered <= {("GET", e) for e in OPEN_ROUTES}, "a new officer or analyst route needs an access test"


@pytest.mark.parametrize("method,endpoint,template", FOREIGN_ROUTES, ids=[f"{m} {t}" for m, _, t in FOREIGN_ROUTES])
def test_officer_cannot_reach_another_commune(app, client, auth, other, method, endpoint, template):
    auth.login("officer@khaomang.test")
    url = template.format(
        commune=OTHER_COMMUNE,
        point=other["point"]["id"],
        response=other["response"],
        admin=other["admin_id"],
        action=other["action"],
    )
    own_point = _add_point(app, OWN_COMMUNE)
    data = {}
    if method == "POST":
        # A valid token and plausible fields, so only the access check can refuse.
        data = {
            "csrf_token": csrf_token(client, f"/officer/points/{own_point['id']}"),
            "name": "Đổi tên",
            "service_area": "health",
            "email": "x@y.test",
            "role": "admin",
            "password": "long enough pw",
            "communes": [OTHER_COMMUNE],
            "active": "y",
            "title_vi": "Đổi",
            "text_vi": "Đổi",
            "done_on": utcnow().date().isoformat(),
            "answers": "",
            **hidden_fields(client.get(f"/officer/points/{own_point['id']}/paper").get_data(as_text=True)),
            **valid_answers(catalog().current("health")),
            **paper_date(),
        }
    r = client.open(url, method=method, data=data)
    assert r.status_code in (403, 404), r.status_code
    body = r.get_data()
    assert b"Ph\xc6\xb0\xe1\xbb\x9dng L\xc3\xa0o Cai" not in body and b"%PDF" not in body
    with app.app_context():
        point = db.session.get(ServicePoint, other["point"]["id"])
        assert (point.name, point.active, point.token) == (other["point"]["name"], True, other["point"]["token"])
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ServicePoint)) == 2
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 4
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == 1
        action = db.session.get(CommuneAction, other["action"])
        assert (action.title_vi, action.hidden) == ("Việc của phường khác", False)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CommuneAction)) == 1


def test_open_routes_show_only_own_communes(app, client, auth, other):
    auth.login("officer@khaomang.test")
    html = client.get("/officer/", follow_redirects=True).get_data(as_text=True)
    assert "Xã Khao Mang" in html and "Phường Lào Cai" not in html and "Bí mật" not in html
    blank = client.get("/officer/surveys/health/paper-form").get_data(as_text=True)
    assert "Phường Lào Cai" not in blank


def test_officer_with_two_communes_sees_both_but_no_third(app, client, auth, users, other):
    with app.app_context():
        from feedback.models import Commune

        officer = db.session.get(User, users["officer"]["id"])
        officer.communes = [db.session.get(Commune, OWN_COMMUNE), db.session.get(Commune, OTHER_COMMUNE)]
        db.session.commit()
    auth.login("officer@khaomang.test")
    html = client.get("/officer/").get_data(as_text=True)
    assert "Xã Khao Mang" in html and "Phường Lào Cai" in html and "Phường Cam Đường" not in html
    assert client.get("/officer/c/02674").status_code == 404


def test_admin_and_analyst_see_every_commune_but_analyst_changes_nothing(app, client, auth, other):
    auth.login("analyst@laocai.test")
    html = client.get("/officer/").get_data(as_text=True)
    assert len(re.findall(r'href="/officer/c/\d{5}"', html)) == 99
    assert client.get(f"/officer/c/{OTHER_COMMUNE}").status_code == 200
    # No page shows a single web response, to anyone (tests/test_anonymity.py).
    assert client.get(f"/officer/responses/{other['response']}").status_code == 404
    token = csrf_token(client, f"/officer/points/{other['point']['id']}")
    for url in (f"/officer/c/{OTHER_COMMUNE}/points", f"/officer/points/{other['point']['id']}/retire"):
        assert client.post(url, data={"csrf_token": token, "name": "x", "service_area": "health"}).status_code == 403
    assert client.get(f"/officer/points/{other['point']['id']}/paper").status_code == 403
    assert client.get("/officer/users").status_code == 403
    auth.logout()
    auth.login("admin@laocai.test")
    assert client.get(f"/officer/c/{OTHER_COMMUNE}").status_code == 200
    assert client.get("/officer/users").status_code == 200


def test_service_point_create_rename_retire_reissue(app, client, auth, users):
    auth.login("officer@khaomang.test")
    token = csrf_token(client, f"/officer/c/{OWN_COMMUNE}")
    r = client.post(
        f"/officer/c/{OWN_COMMUNE}/points",
        data={"csrf_token": token, "name": "Trường Tiểu học Khao Mang", "service_area": "school"},
    )
    assert r.status_code == 302
    with app.app_context():
        point = db.session.execute(sa.select(ServicePoint)).scalar_one()
        point_id, first_token = point.id, point.token
        assert (point.commune_code, point.service_area) == (OWN_COMMUNE, "school")
    assert client.get(f"/s/{first_token}").status_code == 200

    r = client.post(f"/officer/points/{point_id}", data={"csrf_token": token, "name": "Trường TH số 1 Khao Mang"})
    assert r.status_code == 302
    assert "Trường TH số 1 Khao Mang" in client.get(f"/s/{first_token}").get_data(as_text=True)

    r = client.post(f"/officer/points/{point_id}/reissue", data={"csrf_token": token})
    assert r.status_code == 302
    with app.app_context():
        second_token = db.session.get(ServicePoint, point_id).token
    assert second_token != first_token
    assert client.get(f"/s/{first_token}").status_code == 404  # the old poster no longer counts
    assert client.get(f"/s/{second_token}").status_code == 200

    _add_response(app, OWN_COMMUNE, point_id, survey="primary-school")
    r = client.post(f"/officer/points/{point_id}/retire", data={"csrf_token": token})
    assert r.status_code == 302
    retired = client.get(f"/s/{second_token}")
    assert retired.status_code == 410 and f"/c/{OWN_COMMUNE}/primary-school" in retired.get_data(as_text=True)
    assert count(app, Response, service_point_id=point_id) == 1  # history stays
    assert "retired" in client.get(f"/officer/points/{point_id}?lang=en").get_data(as_text=True)
    actions = _actions(app)
    assert actions == ["point_created", "point_renamed", "token_reissued", "point_retired"]


def test_create_point_needs_csrf_and_valid_fields(app, client, auth, users):
    auth.login("officer@khaomang.test")
    assert (
        client.post(f"/officer/c/{OWN_COMMUNE}/points", data={"name": "x", "service_area": "health"}).status_code == 400
    )
    token = csrf_token(client, f"/officer/c/{OWN_COMMUNE}")
    client.post(f"/officer/c/{OWN_COMMUNE}/points", data={"csrf_token": token, "name": "x", "service_area": "prison"})
    client.post(f"/officer/c/{OWN_COMMUNE}/points", data={"csrf_token": token, "name": "", "service_area": "health"})
    assert count(app, ServicePoint) == 0


def _actions(app) -> list[str]:
    with app.app_context():
        return list(
            db.session.execute(
                sa.select(AuditEvent.action)
                .where(AuditEvent.action.not_in(["login", "login_failed"]))
                .order_by(AuditEvent.id)
            ).scalars()
        )


@pytest.mark.parametrize("slug", [s.slug for s in catalog().all_current()])
def test_paper_entry_stores_once_with_officer(app, client, auth, users, slug):
    survey = catalog().current(slug)
    module = survey.modules[-1] if survey.modules else None
    point = _add_point(app, OWN_COMMUNE, area=survey.service_area)
    auth.login("officer@khaomang.test")
    url = f"/officer/points/{point['id']}/paper" + (f"?module={module}" if module else "")
    page = client.get(url)
    assert page.status_code == 200
    html = unescape(page.get_data(as_text=True))
    assert all((q.label.get("vi") in html) == (q in survey.shown(module)) for q in survey.questions)
    fields = hidden_fields(page.get_data(as_text=True))
    r = client.post(url, data={**fields, **valid_answers(survey, module=module), **paper_date(), "send": "1"})
    assert r.status_code == 303
    again = client.post(url, data={**fields, **valid_answers(survey, module=module), **paper_date(), "send": "1"})
    assert again.status_code == 303 and again.location == r.location  # double submit: stored once
    with app.app_context():
        response = db.session.execute(sa.select(Response)).scalar_one()
        assert (response.mode, response.entered_by, response.service_point_id, response.survey, response.module) == (
            "paper",
            users["officer"]["id"],
            point["id"],
            slug,
            module,
        )
    assert _actions(app) == ["paper_entered"]
    assert r.location.endswith(f"/officer/points/{point['id']}/paper/saved/{response.id}")
    check = client.get(r.location)
    assert f"/officer/responses/{response.id}" in check.get_data(as_text=True)
    assert "officer@khaomang.test" in client.get(f"/officer/responses/{response.id}").get_data(as_text=True)


def test_paper_entry_shows_errors_and_keeps_answers(app, client, auth, users):
    point = _add_point(app, OWN_COMMUNE)
    auth.login("officer@khaomang.test")
    url = f"/officer/points/{point['id']}/paper?lang=en"
    fields = hidden_fields(client.get(url).get_data(as_text=True))
    answers = valid_answers(catalog().current("health"))
    missing = next(q.id for q in catalog().current("health").questions if q.required)
    answers.pop(missing)
    answers["visits"] = "9999" if "visits" in answers else answers.get("visits")
    r = client.post(url, data={**fields, **{k: v for k, v in answers.items() if v is not None}, **paper_date()})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "Please answer this question." in html and f'id="e-{missing}"' in html
    assert count(app, Response) == 0
    r = client.post(url, data={"state": "forged", "csrf_token": fields["csrf_token"]})
    assert r.status_code == 400 and count(app, Response) == 0


def test_retired_point_takes_no_paper_forms(app, client, auth, users):
    point = _add_point(app, OWN_COMMUNE)
    with app.app_context():
        db.session.get(ServicePoint, point["id"]).active = False
        db.session.commit()
    auth.login("officer@khaomang.test")
    assert client.get(f"/officer/points/{point['id']}/paper").status_code == 404
    assert client.get(f"/officer/points/{point['id']}/poster.pdf").status_code == 404


@pytest.mark.parametrize("slug", [s.slug for s in catalog().all_current()])
def test_blank_paper_form_is_vietnamese(client, auth, users, slug):
    survey = catalog().current(slug)
    auth.login("officer@khaomang.test")
    r = client.get(f"/officer/surveys/{slug}/paper-form?lang=en")  # printed in Vietnamese anyway
    assert r.status_code == 200
    html = unescape(r.get_data(as_text=True))
    assert '<html lang="vi">' in html and "@media print" in html
    assert survey.title.vi in html and all(q.label.vi in html for q in survey.questions)
    assert "Service point:" not in html and "Thank you" not in html  # chrome translated too
    assert client.get("/officer/surveys/nope/paper-form").status_code == 404


def test_dashboard_counts_chart_and_comments(app, client, auth, users):
    from feedback.officer.queries import counts_by, daily_counts, latest_comments

    point = _add_point(app, OWN_COMMUNE)
    for age, comment in [(0, "Rất tốt"), (3, None), (3, None), (20, "Phải chờ lâu"), (45, None)]:
        _add_response(app, OWN_COMMUNE, point["id"], age=timedelta(days=age, minutes=1), comment=comment)
    _add_response(app, OTHER_COMMUNE, None, comment="Không thuộc xã này")
    with app.app_context():
        counts = counts_by(Response.service_point_id, Response.survey, commune_code=OWN_COMMUNE)
        c = counts[(point["id"], "health")]
        assert (c.week, c.month, c.total) == (3, 4, 5) and c.today in (0, 1)  # "today" is local time
        daily = daily_counts(commune_code=OWN_COMMUNE)
        assert len(daily) == 30 and sum(n for _, n in daily) == 4
        comments = latest_comments(commune_code=OWN_COMMUNE)
        assert [x.text for x in comments] == ["Rất tốt", "Phải chờ lâu"]
        everyone = counts_by(Response.commune_code)
        assert everyone[(OTHER_COMMUNE,)].total == 1
    auth.login("officer@khaomang.test")
    html = client.get(f"/officer/c/{OWN_COMMUNE}").get_data(as_text=True)
    assert "Rất tốt" in html and "Phải chờ lâu" in html and "Không thuộc" not in html
    assert html.count("<rect ") == 30 and "<svg" in html and "http" not in html.split("<svg", 1)[1].split("</svg>")[0]


def test_admin_manages_users_and_reads_audit_log(app, client, auth, users):
    auth.login("admin@laocai.test")
    token = csrf_token(client, "/officer/users")
    r = client.post(
        "/officer/users",
        data={
            "csrf_token": token,
            "email": "New@KhaoMang.test",
            "role": "officer",
            "communes": [OWN_COMMUNE],
            "password": "long enough pw",
            "active": "y",
        },
    )
    assert r.status_code == 302
    with app.app_context():
        new = db.session.execute(sa.select(User).filter_by(email="new@khaomang.test")).scalar_one()
        new_id = new.id
        assert new.commune_codes == {OWN_COMMUNE}
    # An officer without a commune is refused; so is a duplicate e-mail.
    client.post(
        "/officer/users",
        data={"csrf_token": token, "email": "x@y.test", "role": "officer", "password": "long enough pw"},
    )
    client.post(
        "/officer/users",
        data={"csrf_token": token, "email": "new@khaomang.test", "role": "admin", "password": "long enough pw"},
    )
    assert count(app, User) == 5
    r = client.post(
        f"/officer/users/{new_id}",
        data={"csrf_token": token, "email": "new@khaomang.test", "role": "analyst", "active": "y"},
    )
    assert r.status_code == 302
    with app.app_context():
        assert db.session.get(User, new_id).role == "analyst"
    # Admins cannot lock themselves out.
    client.post(
        f"/officer/users/{users['admin']['id']}",
        data={"csrf_token": token, "email": "admin@laocai.test", "role": "officer", "communes": [OWN_COMMUNE]},
    )
    with app.app_context():
        assert db.session.get(User, users["admin"]["id"]).role == "admin"
    html = client.get("/officer/audit?lang=en").get_data(as_text=True)
    assert ">Account created</td>" in html and ">Account changed</td>" in html and "admin@laocai.test" in html
    changed = client.get("/officer/audit?action=user_changed&lang=en").get_data(as_text=True)
    assert ">Account changed</td>" in changed and ">Account created</td>" not in changed
    auth.logout()
    auth.login("new@khaomang.test", "long enough pw")
    assert client.get("/officer/audit").status_code == 403


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_officer_pages_render_in_both_languages(app, client, auth, users, lang):
    point = _add_point(app, OWN_COMMUNE)
    auth.login("admin@laocai.test")
    for url in (
        "/officer/",
        f"/officer/c/{OWN_COMMUNE}",
        f"/officer/points/{point['id']}",
        f"/officer/points/{point['id']}/paper",
        "/officer/users",
        "/officer/audit",
    ):
        r = client.get(f"{url}?lang={lang}")
        assert r.status_code == 200 and f'<html lang="{lang}">' in r.get_data(as_text=True), url


# Numbers in URLs beyond what the database can hold are 404, never 500 (both databases).

HUGE = "99999999999999999999"


def test_huge_page_number_of_the_audit_log_is_not_a_500(app, client, auth, users):
    assert auth.login("admin@laocai.test").status_code == 302
    for page in (HUGE, "-" + HUGE, str(2**63)):
        assert client.get(f"/officer/audit?page={page}").status_code in (200, 404)


def test_every_int_route_refuses_a_number_beyond_the_database(app, client, auth, users):
    assert auth.login("admin@laocai.test").status_code == 302
    tried = 0
    for rule in app.url_map.iter_rules():
        ints = [name for name, conv in rule._converters.items() if type(conv).__name__.endswith("IntegerConverter")]
        if not ints or "GET" not in rule.methods:
            continue
        url = re.sub(r"<(?:(\w+):)?(\w+)>", lambda m, ints=ints: HUGE if m.group(2) in ints else OWN_COMMUNE, rule.rule)
        tried += 1
        assert client.get(url).status_code == 404, url
    assert tried >= 1


# --- Retiring asks first and can be undone; the audit log speaks the reader's language ------------


def test_retiring_asks_for_confirmation_and_can_be_undone(app, client, auth, users):
    point = _add_point(app, OWN_COMMUNE, name="Trạm Y tế Khao Mang")
    auth.login("officer@khaomang.test")
    page = client.get(f"/officer/points/{point['id']}?lang=en").get_data(as_text=True)
    assert f'href="/officer/points/{point["id"]}/retire"' in page  # a link to a question, not a one-click form
    assert f'action="/officer/points/{point["id"]}/retire"' not in page
    confirm = client.get(f"/officer/points/{point['id']}/retire?lang=vi")
    html = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "Trạm Y tế Khao Mang" in html and "Yes, retire it" not in html
    assert f'action="/officer/points/{point["id"]}/retire"' in html and f'href="/officer/points/{point["id"]}"' in html
    with app.app_context():
        assert db.session.get(ServicePoint, point["id"]).active  # looking at the question changes nothing
    token = hidden_fields(html)["csrf_token"]
    assert client.post(f"/officer/points/{point['id']}/retire", data={"csrf_token": token}).status_code == 302
    assert client.get(f"/s/{point['token']}").status_code == 410
    retired = client.get(f"/officer/points/{point['id']}?lang=en").get_data(as_text=True)
    assert (
        f'action="/officer/points/{point["id"]}/reactivate"' in retired
        and "Put this service point back in use" in retired
    )
    assert client.post(f"/officer/points/{point['id']}/reactivate", data={}).status_code == 400  # CSRF
    assert client.post(f"/officer/points/{point['id']}/reactivate", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        again = db.session.get(ServicePoint, point["id"])
        assert again.active and again.retired_at is None and again.token == point["token"]
    assert client.get(f"/s/{point['token']}").status_code == 200  # the old posters work again
    assert _actions(app) == ["point_retired", "point_reactivated"]


def test_only_editors_of_the_commune_retire_or_reactivate(app, client, auth, users, other):
    auth.login("officer@khaomang.test")
    token = csrf_token(client, f"/officer/c/{OWN_COMMUNE}")
    for url in (f"/officer/points/{other['point']['id']}/retire", f"/officer/points/{other['point']['id']}/reactivate"):
        assert client.post(url, data={"csrf_token": token}).status_code in (403, 404)
    assert client.get(f"/officer/points/{other['point']['id']}/retire").status_code in (403, 404)
    with app.app_context():
        assert db.session.get(ServicePoint, other["point"]["id"]).active


def test_audit_log_names_actions_and_details_in_the_readers_language(app, client, auth, users):
    auth.login("nobody@laocai.test", "wrong password")  # a failed web log-in, not the command line
    point = _add_point(app, OWN_COMMUNE)
    auth.login("admin@laocai.test")
    token = csrf_token(client, f"/officer/points/{point['id']}")
    client.post(f"/officer/points/{point['id']}/retire", data={"csrf_token": token})
    client.get(f"/officer/points/{point['id']}/poster.pdf")  # retired: 404, nothing printed
    client.post(f"/officer/points/{point['id']}/reactivate", data={"csrf_token": token})
    client.get(f"/officer/points/{point['id']}/poster.pdf?size=a6")
    vi = client.get("/officer/audit?lang=vi").get_data(as_text=True)
    rows = re.findall(r"<tr><td>.*?</tr>", vi, flags=re.S)
    text = " ".join(re.sub(r"<[^>]+>", " ", unescape(r)) for r in rows)
    for code in ("login_failed", "point_retired", "point_reactivated", "posters_printed", "size", "pages"):
        assert re.search(rf"\b{code}\b", text) is None, code
    assert "Đăng nhập không thành công" in text and "khách trên web" in text and "dòng lệnh" not in text
    assert "a6" in text
    en = client.get("/officer/audit?lang=en").get_data(as_text=True)
    assert "Failed log-in" in en and "web visitor (not logged in)" in en and "Service point back in use" in en
    assert "pages: 1; size: a6" in en and f"service point {point['id']}: " in en
    assert f"điểm phục vụ {point['id']}: " in vi
    assert '<option value="login_failed">' in en  # the filter still sends the stored code
    assert "Failed log-in" in client.get("/officer/audit?action=login_failed&lang=en").get_data(as_text=True)


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_staff_get_a_staff_message_for_pages_they_cannot_see(app, client, auth, users, other, lang):
    auth.login("officer@khaomang.test")
    citizen_text = {"vi": "quét mã trên áp phích", "en": "scanned a poster"}[lang]
    for url in (
        f"/officer/c/{OTHER_COMMUNE}",
        f"/officer/points/{other['point']['id']}",
        "/officer/no-such-page",
        f"/analyst/c/{OTHER_COMMUNE}",
    ):
        r = client.get(f"{url}?lang={lang}")
        html = r.get_data(as_text=True)
        assert r.status_code in (403, 404) and citizen_text not in html, url
        assert 'href="/officer/"' in html, url
    assert "scanned a poster" in client.get("/s/no-such-token?lang=en").get_data(as_text=True)
