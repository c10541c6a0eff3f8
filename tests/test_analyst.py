"""Analyst pages and the scores API: who may see what, charts, suppression, downloads."""

from __future__ import annotations

import html
import io
import re
from datetime import datetime

import openpyxl
import pytest
import sqlalchemy as sa

from feedback.extensions import db
from feedback.models import AuditEvent
from tests.conftest import OTHER_COMMUNE, OWN_COMMUNE
from tests.test_bridge import add_response, seed, seed_every_subdimension


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
    from tests.test_jobs import export_file  # downloads are background jobs (tests/test_jobs.py)

    xlsx = export_file(client, kind="scores", fmt="xlsx", level="province")
    assert xlsx.status_code == 200 and "attachment" in xlsx.headers["Content-Disposition"]
    assert openpyxl.load_workbook(io.BytesIO(xlsx.data)).sheetnames == ["scores", "README"]
    responses = export_file(client, kind="responses", fmt="xlsx")
    assert openpyxl.load_workbook(io.BytesIO(responses.data)).sheetnames == ["responses", "codebook", "README"]
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
    """Cells show the flags' names in the reader's language, explained on hover and in a legend
    under the table that also gives the exports' code."""
    seed(app, own=8, other=3)  # far fewer than the 30 effective respondents NCHS asks for
    auth.login(users["analyst"]["email"])
    vi = client.get(f"/analyst/c/{OWN_COMMUNE}?lang=vi").get_data(as_text=True)
    meaning_vi = "Không đáng tin cậy (chuẩn NCHS 2017): cỡ mẫu hiệu dụng dưới 30"
    name_vi = "không đáng tin cậy: cỡ mẫu hiệu dụng nhỏ"
    assert f'<abbr title="{meaning_vi}" data-flag="unreliable:n_eff">{name_vi}</abbr>' in vi
    assert f"<li><b>{name_vi}</b> (<code>unreliable:n_eff</code>) – {meaning_vi}</li>" in vi
    assert (
        "<li><b>không có trọng số</b> (<code>unweighted</code>) – Không có số liệu dân số: trọng số bằng nhau</li>"
    ) in vi
    en = client.get("/analyst/?code=6.1&lang=en").get_data(as_text=True)
    meaning_en = "Unreliable (NCHS 2017 standard): degrees of freedom under 8"
    assert f'<abbr title="{meaning_en}" data-flag="unreliable:df">unreliable: few degrees of freedom</abbr>' in en
    assert f"<li><b>unreliable: few degrees of freedom</b> (<code>unreliable:df</code>) – {meaning_en}</li>" in en
    assert "<code>trimmed</code>" not in en  # the legend explains only the flags shown
    assert "insufficient" not in en and "too few respondents to rank" not in en


@pytest.mark.parametrize(
    "flag",
    [
        "empty",
        "incomplete",
        "one_respondent",
        "unweighted",
        "collapsed:sex",
        "collapsed:age_band",
        "not_raked:ethnic_group",
        "trimmed",
        "unreliable:n_eff",
        "unreliable:width",
        "unreliable:relative_width",
        "unreliable:df",
        "synthetic",
        "synthetic:3/28",
        "suppressed",
        "weighted_by_n",
    ],
)
def test_every_flag_code_is_shown_translated_in_vietnamese(app, flag):
    """No flag code reaches a Vietnamese page as an English word: its cell and legend show its name."""
    from feedback.analyst.views import flag_codes
    from feedback.exports import FLAG_NAMES, flag_name

    assert set(FLAG_NAMES) >= {flag.partition(":")[0]}
    with app.test_request_context("/?lang=vi"):
        app.preprocess_request()
        cell = str(flag_codes(flag))
        legend = app.jinja_env.from_string('{% include "analyst/_flag_legend.html" %}').render(flag_cells=[flag])
    name = flag_name(flag, "vi")
    assert name != flag and name != flag_name(flag, "en")
    visible = re.sub(r"<code>[^<]*</code>|<[^>]+>", "", cell + legend)  # text a reader sees (codes in <code>)
    assert name in visible
    assert flag.partition(":")[0] not in visible, visible


def test_flag_legend_explains_prefixed_codes_once(app):
    from feedback.analyst.views import flag_legend

    with app.test_request_context("/?lang=en"):
        legend = dict(
            flag_legend(
                [
                    "synthetic:3/28;unreliable:width",
                    "collapsed:age_band;synthetic:1/28",
                    "empty;synthetic",
                    "unreliable:n_eff;collapsed:sex",
                ]
            )
        )
    assert list(legend) == [
        "empty",
        "collapsed:sex",
        "collapsed:age_band",
        "unreliable:n_eff",
        "unreliable:width",
        "synthetic",
        "synthetic:k/K",
    ]  # the exports' order
    assert legend["synthetic:k/K"] == "k of its K sub-dimensions are estimated from the model only"
    assert legend["collapsed:age_band"].startswith("Categories of age band with fewer than 5")
    with app.test_request_context("/?lang=vi"):
        assert dict(flag_legend(["not_raked:ethnic_group"]))["not_raked:ethnic_group"].startswith(
            "Không cân chỉnh theo dân tộc"
        )


RANK_CELL = re.compile(
    r'<td class="n nw">(\d+)(?:<span class="muted">/(\d+)</span>)?<br>'
    r'<span class="ci" title="[^"]+">\((\d+)–(\d+)\)</span></td>'
)


def test_province_page_ranks_every_commune_with_data_with_rank_intervals(app, client, auth, users):
    seed_every_subdimension(app)
    auth.login(users["analyst"]["email"])
    for code in ("total", "1", "5", "8", "8.3"):
        html = client.get(f"/analyst/?code={code}&lang=en").get_data(as_text=True)
        ranks = [tuple(int(x) for x in (m[0], m[2], m[3])) for m in RANK_CELL.findall(html)]
        assert len(ranks) == 5 and min(r for r, _, _ in ranks) == 1, code  # the five communes that answered
        assert all(low <= rank <= high for rank, low, high in ranks), code
        assert "5 communes ranked." in html
        assert html.count("<svg") == 1 and html.count('class="pt"') == 5  # the chart draws the same five
    vi = client.get("/analyst/?code=total&lang=vi").get_data(as_text=True)
    assert "khoảng thứ hạng 95%" in vi and "Ước lượng cho địa bàn nhỏ" in vi and "Ước lượng trực tiếp" in vi


def test_the_official_score_is_shown_with_its_year_from_the_data_file(app, client, auth, users, tmp_path):
    """The official PAPI figure is of another year than plan 170's targets: the page says which,
    and the year is the data file's latest, not one written into the template."""
    official = tmp_path / "official.csv"
    official.write_text(
        "year,code,level,score\n2021,total,aggregate,40.15\n2021,6,dimension,4.50\n"
        "2022,total,aggregate,40.40\n2022,6,dimension,4.61\n",
        encoding="utf-8",
    )
    app.config["PAPI_OFFICIAL_CSV"] = str(official)
    seed_every_subdimension(app)
    auth.login(users["analyst"]["email"])
    en = client.get("/analyst/?code=total&lang=en").get_data(as_text=True)
    assert "Official PAPI score of the province in 2022: 40.40." in en
    assert "Official PAPI score of the province in 2022: 4.61." in client.get("/analyst/?code=6&lang=en").get_data(
        as_text=True
    )
    assert "Điểm PAPI chính thức của tỉnh năm 2022: 40.40." in client.get("/analyst/?code=total&lang=vi").get_data(
        as_text=True
    )


def test_scorecard_shows_both_estimates_and_the_rank_out_of_all(app, client, auth, users):
    seed_every_subdimension(app)
    auth.login(users["analyst"]["email"])
    html = client.get(f"/analyst/c/{OWN_COMMUNE}?lang=en").get_data(as_text=True)
    ranks = RANK_CELL.findall(html)
    assert len(ranks) == 8 + 1 + 28  # dimensions, aggregate and sub-dimensions, each ranked
    assert all(m[1] == "5" for m in ranks)  # out of the five communes with answers
    assert "Small-area estimate" in html and "Direct estimate" in html


def test_synthetic_estimates_are_marked(app, client, auth, users):
    """A commune that answered 6.1 but not 4.2 still gets a (model-only) 4.2 estimate and rank."""
    seed(app, own=8, other=3)
    with app.app_context():
        add_response("02680", datetime(2025, 8, 3, 3), [("wait_time", "lt15", "6.1", 1.0)])
        db.session.commit()
    auth.login(users["analyst"]["email"])
    html = client.get("/analyst/?code=4.2&lang=en").get_data(as_text=True)
    assert html.count('<tr class="synthetic">') == 1 and '<span class="model">model only</span>' in html
    assert '<g class="model">' in html
    assert "<li><b>model only</b> (<code>synthetic</code>) – Nobody in this commune answered" in html
    card = client.get("/analyst/c/02680?lang=vi").get_data(as_text=True)
    assert '<span class="model">chỉ từ mô hình</span>' in card


def test_staff_navigation_reaches_the_scores(app, client, auth, users):
    """Analysts find the ranking from every staff page; officers their commune's scorecard."""
    from tests.conftest import AuthActions

    auth.login(users["analyst"]["email"])
    assert 'href="/analyst/"' in client.get("/officer/").get_data(as_text=True)
    officer = app.test_client()
    AuthActions(officer).login(users["officer"]["email"])
    page = officer.get("/officer/", follow_redirects=True).get_data(as_text=True)
    assert 'href="/analyst/c/04465"' in page and 'href="/analyst/"' not in page


BAD_PERIODS = [
    ("from=2026-13-01", "“From” must be a day written YYYY-MM-DD, such as 2025-07-01, not “2026-13-01”."),
    ("from=garbage", "“From” must be a day written YYYY-MM-DD, such as 2025-07-01, not “garbage”."),
    ("to=1/8/2025", "“To” must be a day written YYYY-MM-DD, such as 2025-07-01, not “1/8/2025”."),
    ("from=2026-12-01&to=2025-01-01", "The first day (2026-12-01) is after the last (2025-01-01)."),
    # Found by a user's walk: these said the dates were malformed or reversed, which they were not.
    ("from=1999-01-01&to=1999-12-31", "“From” must be a day from 2000-01-01 to 2999-12-31, not 1999-01-01."),
    ("from=2990-01-01&to=2999-12-31", "The period starts after today ({today}), so it holds no responses yet."),
]


@pytest.mark.parametrize("query,message", BAD_PERIODS, ids=[q for q, _ in BAD_PERIODS])
@pytest.mark.parametrize("kind,fmt", [("scores", "csv"), ("responses", "xlsx")])
def test_a_download_with_a_bad_period_is_400_not_a_file_of_all_responses(
    client, auth, users, kind, fmt, query, message
):
    # Found by a tester: these returned the whole-period file, as if no period had been asked.
    from feedback.models import utcnow
    from feedback.times import local_day
    from tests.test_jobs import start_export

    auth.login(users["analyst"]["email"])
    fields = dict(pair.split("=") for pair in query.split("&"))
    expected = html.escape(message.format(today=local_day(utcnow()).isoformat()), quote=False)
    client.get("/analyst/exports?lang=en")
    r = start_export(client, kind=kind, fmt=fmt, **fields)
    assert r.status_code == 400 and r.mimetype == "text/html"
    assert expected in r.get_data(as_text=True)
    # The same rule in the API, and in the reader's language.
    api = client.get(f"/api/v1/scores?{query}&lang=en")
    assert api.status_code == 400 and html.escape(api.get_json()["errors"][0]["message"], quote=False) == expected
    client.get("/analyst/exports?lang=vi")
    vi = start_export(client, kind=kind, fmt=fmt, **fields)
    assert vi.status_code == 400 and 'role="alert"' in vi.get_data(as_text=True)
    assert expected not in vi.get_data(as_text=True)
