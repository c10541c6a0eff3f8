"""Analyst pages and the scores API: who may see what, charts, suppression, downloads."""

from __future__ import annotations

import io

import openpyxl
import sqlalchemy as sa

from feedback.extensions import db
from feedback.models import AuditEvent
from tests.conftest import OTHER_COMMUNE, OWN_COMMUNE
from tests.test_bridge import seed


def test_anonymous_is_sent_to_login_or_gets_401(app, client):
    assert client.get("/analyst/").status_code == 302
    assert "/login" in client.get(f"/analyst/c/{OWN_COMMUNE}").headers["Location"]
    response = client.get("/api/v1/scores")
    assert response.status_code == 401 and response.is_json
    assert response.get_json()["errors"][0]["message"]


def test_officer_sees_only_own_scorecard(app, client, auth, users):
    seed(app)
    auth.login(users["officer"]["email"])
    own = client.get(f"/analyst/c/{OWN_COMMUNE}")
    assert own.status_code == 200 and b"<svg" in own.data and b"@media print" in own.data
    assert client.get(f"/analyst/c/{OTHER_COMMUNE}").status_code == 404
    assert client.get("/analyst/").status_code == 403
    assert client.get("/analyst/export/scores.csv").status_code == 403
    api = client.get("/api/v1/scores")
    assert api.status_code == 403 and api.is_json


def test_analyst_sees_every_scorecard_and_the_ranking(app, client, auth, users):
    seed(app)
    auth.login(users["analyst"]["email"])
    for code in (OWN_COMMUNE, OTHER_COMMUNE):
        assert client.get(f"/analyst/c/{code}").status_code == 200
    assert client.get("/analyst/?code=6").status_code == 200  # 6.3 and 6.4 are not asked: no sums
    page = client.get("/analyst/?code=6.1")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<svg" in html and "Xã Khao Mang" in html
    assert client.get("/analyst/?code=9").status_code == 404


def test_scorecard_hides_small_cells(app, client, auth, users):
    seed(app, own=8, other=3)
    auth.login(users["analyst"]["email"])
    html = client.get(f"/analyst/c/{OTHER_COMMUNE}?lang=en").get_data(as_text=True)
    assert "Fewer than 5 respondents: hidden" in html and "are hidden" in html
    html = client.get(f"/analyst/c/{OWN_COMMUNE}?lang=en").get_data(as_text=True)
    assert "Fewer than 5 respondents: hidden" not in html


def test_scores_api_returns_the_export_rows(app, client, auth, users):
    seed(app)
    auth.login(users["analyst"]["email"])
    document = client.get("/api/v1/scores?from=2025-08-01&to=2025-08-31").get_json()
    assert document["meta"]["from"] == "2025-08-01" and document["meta"]["excluded_low_quality"] == 1
    assert len(document["rows"]) == 99 * 37
    row = next(r for r in document["rows"] if r["commune_code"] == OWN_COMMUNE and r["code"] == "6.1")
    assert row["n"] == 8 and row["commune_name"] == "Xã Khao Mang"
    province = client.get("/api/v1/scores?level=province").get_json()
    assert {r["code"] for r in province["rows"]} >= {"total", "6", "6.1"}
    assert "target_2019" in province["rows"][0]
    bad = client.get("/api/v1/scores?from=1/8/2025")
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.get_json()["errors"][0]["message"]
    assert client.get("/api/v1/scores?level=district").status_code == 400
    early = client.get("/api/v1/scores?from=0001-01-01")  # found by schemathesis: was a 500
    assert early.status_code == 400 and "2000-01-01" in early.get_json()["errors"][0]["message"]
    blank = client.get("/api/v1/scores?to=%0C")  # found by schemathesis: was taken as no date
    assert blank.status_code == 400 and "YYYY-MM-DD" in blank.get_json()["errors"][0]["message"]
    assert client.get("/api/v1/scores?from=&to=").status_code == 200  # an empty field is no limit


def test_admin_downloads_are_audited(app, client, auth, users):
    seed(app)
    auth.login(users["admin"]["email"])
    xlsx = client.get("/analyst/export/scores.xlsx?level=province")
    assert xlsx.status_code == 200 and "attachment" in xlsx.headers["Content-Disposition"]
    assert openpyxl.load_workbook(io.BytesIO(xlsx.data)).sheetnames == ["scores", "README"]
    responses = client.get("/analyst/export/responses.xlsx")
    assert openpyxl.load_workbook(io.BytesIO(responses.data)).sheetnames == ["responses", "codebook", "README"]
    assert client.get("/analyst/export/responses.csv").status_code == 404
    with app.app_context():
        targets = db.session.scalars(sa.select(AuditEvent.target).where(AuditEvent.action == "data_exported")).all()
    assert sorted(targets) == ["responses xlsx", "scores province xlsx"]


def test_ranking_draws_a_commune_with_one_respondent(app, client, auth, users):
    """One respondent: a score but no interval (SE needs two); the page must still draw."""
    from .test_api import body

    assert client.post("/api/v1/responses", json=body()).status_code == 201
    auth.login(users["analyst"]["email"])
    for code in ("6.1", "6", "total"):
        r = client.get(f"/analyst/?code={code}")
        assert r.status_code == 200, code


def test_flags_are_explained_in_the_readers_language(app, client, auth, users):
    """Cells show the exports' codes, explained on hover and in a legend under the table."""
    seed(app, own=8, other=3)  # far fewer than the 30 effective respondents a rank needs
    auth.login(users["analyst"]["email"])
    vi = client.get(f"/analyst/c/{OWN_COMMUNE}?lang=vi").get_data(as_text=True)
    assert '<abbr title="Cỡ mẫu hiệu dụng &lt; 30: không xếp hạng">insufficient</abbr>' in vi
    assert "<b>insufficient</b> – Cỡ mẫu hiệu dụng &lt; 30: không xếp hạng" in vi
    en = client.get("/analyst/?code=total&lang=en").get_data(as_text=True)
    assert '<abbr title="Effective n &lt; 30: not ranked or grouped">insufficient</abbr>' in en
    assert "<b>insufficient</b> – Effective n &lt; 30: not ranked or grouped" in en
    assert "<b>capped</b>" not in en  # the legend explains only the flags shown
