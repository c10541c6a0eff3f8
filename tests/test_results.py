"""The public commune results page (issue #15, section 2): figures from the latest published
period only, small cells never shown, supported changes only, the province's settings, the
thank-you page's link, and the page's weight."""

from __future__ import annotations

import re
from datetime import date, datetime
from html import unescape

import numpy as np
import pytest
import sqlalchemy as sa

from feedback.extensions import db
from feedback.models import AuditEvent, Commune, CommuneAction, ProvinceSetting, PublishedPeriod, User
from feedback.published import publish_period, snapshot_tables
from tests.test_bridge import OWN, add_response

from .conftest import OTHER_COMMUNE, csrf_token

PROVINCE = "15"
Q2 = (date(2025, 4, 1), date(2025, 6, 30))
Q3 = (date(2025, 7, 1), date(2025, 9, 30))
SMALL = "02686"  # Xã A Mú Sung: 3 respondents, every cell too small to publish
#: Share of favourable answers per commune: Khao Mang improves from Q2 to Q3, the others stay.
BEFORE = {OWN: 0.15, "02647": 0.7, "02674": 0.6, "02680": 0.4, "02683": 0.5}
AFTER = {OWN: 0.9, "02647": 0.7, "02674": 0.6, "02680": 0.4, "02683": 0.5, SMALL: 0.5}


def seed_quarter(app, places: dict[str, float], month: int, *, n: int = 20, seed: int = 3) -> None:
    """``n`` respondents per commune (3 in SMALL) answering every sub-dimension in ``month`` of 2025."""
    from analysis import get_structure

    rng = np.random.default_rng(seed + month)
    subs = get_structure("current").subdimensions
    with app.app_context():
        for commune, favourable in places.items():
            for i in range(3 if commune == SMALL else n):
                add_response(
                    commune,
                    datetime(2025, month, 1 + i % 28, 3),
                    [(f"q{s}", "x", s, float(rng.random() < favourable)) for s in subs],
                    person=(("female", "male")[i % 2], "30-44", "kinh"),
                )
        db.session.commit()


@pytest.fixture
def two_quarters(app):
    """Q2 and Q3 2025 published; Khao Mang's answers much better in Q3."""
    seed_quarter(app, BEFORE, 5)
    seed_quarter(app, AFTER, 8)
    with app.app_context():
        publish_period(*Q2, province_code=PROVINCE)
        q3 = publish_period(*Q3, province_code=PROVINCE)
        db.session.commit()
        return q3.id


def text_of(response) -> str:
    return unescape(response.get_data(as_text=True))


def results(app, code: str = OWN, lang: str = "vi"):
    from feedback.results import commune_results

    with app.app_context():
        return commune_results(db.session.get(Commune, code), lang=lang)


# --- The page and its figures ---------------------------------------------------------------


def test_nothing_published_yet_is_a_plain_message_not_an_error(client):
    r = client.get(f"/results/{OWN}")
    assert r.status_code == 200
    assert "Chưa có kết quả nào được công bố cho xã này." in text_of(r)
    assert "Xã Khao Mang" in text_of(r)


@pytest.mark.parametrize("path", ["/results/99999", "/results/abc", "/results/"])
def test_an_unknown_commune_is_404(client, path):
    assert client.get(path).status_code == 404


def test_a_province_with_public_pages_off_answers_404(app, client, two_quarters):
    with app.app_context():
        db.session.add(ProvinceSetting(province_code=PROVINCE, public_results=False))
        db.session.commit()
    assert client.get(f"/results/{OWN}").status_code == 404
    assert client.get(f"/results/{OWN}?lang=en").status_code == 404


def test_the_page_shows_the_snapshots_small_area_scores_against_the_province(app, client, two_quarters):
    page = client.get(f"/results/{OWN}")
    assert page.status_code == 200 and "no-store" not in page.headers.get("Cache-Control", "")
    html = text_of(page)
    with app.app_context():
        tables = snapshot_tables(db.session.get(PublishedPeriod, two_quarters))
    own = tables.communes[(tables.communes["commune_code"] == OWN) & (tables.communes["level"] == "dimension")]
    province = tables.province_published.set_index("code")
    for row in own.itertuples():
        vi = lambda v: f"{v:.1f}".replace(".", ",")  # noqa: E731 - Vietnamese decimal comma
        assert f'{vi(row.score_eb)}<span class="ci">{vi(row.ci_low_eb)}–{vi(row.ci_high_eb)}</span>' in html
        assert f'<td class="n">{vi(province.loc[row.code, "score"])}</td>' in html
    assert "01/07/2025 – 30/09/2025" in html
    assert "Dựa trên câu trả lời của 20 người." in html
    assert "không phải điểm PAPI chính thức" in html
    # The chart has a dot and an interval per dimension, and a text alternative.
    assert len(re.findall(r'<circle class="pt"', html)) == 8 and 'role="img" aria-labelledby="chart-label"' in html


def test_english_is_kept_like_on_other_citizen_pages(client, two_quarters):
    html = text_of(client.get(f"/results/{OWN}?lang=en"))
    assert '<html lang="en">' in html and "Results of Xã Khao Mang" in html
    assert "Transparency in Local Decision-making" in html
    html = text_of(client.get(f"/results/{OWN}"))  # the choice stays for the session
    assert '<html lang="en">' in html


def test_suppressed_cells_are_shown_nowhere(app, client, two_quarters):
    """Xã A Mú Sung has 3 respondents: every score, interval and rank of it is hidden, also in
    the chart's shapes and titles; the count of respondents (kept by suppression) is shown."""
    with app.app_context():
        tables = snapshot_tables(db.session.get(PublishedPeriod, two_quarters))
    hidden = tables.communes[tables.communes["commune_code"] == SMALL]
    found = results(app, SMALL)
    assert found.respondents == 3
    assert all(d.score is None and d.low is None and d.missing == "suppressed" for d in found.dimensions)
    assert found.aggregate.score is None and found.changes == []
    html = text_of(client.get(f"/results/{SMALL}"))
    assert "<svg" not in html and html.count('<span class="ci">quá ít câu trả lời</span>') == 8
    province = text_of(client.get(f"/results/{OWN}"))  # what the page shows of the province: the same
    table = html[html.index("<tbody>") : html.index("</tbody>")]
    commune_cells = re.findall(r'<th scope="row">[^<]*</th>\s*<td class="n">(.*?)</td>', table)
    assert len(commune_cells) == 9 and all(re.search(r"\d", cell) is None for cell in commune_cells)
    assert html.count("Hạng") == province.count("Hạng") == 0
    assert not hidden[["score_eb", "ci_low_eb", "ci_high_eb", "rank"]].isna().all().all()  # there was something to hide


def test_supported_changes_only(app, client, two_quarters):
    """Khao Mang's answers went from 15% to 90% favourable: every dimension improved; a commune
    whose answers stayed alike shows no change."""
    improved = results(app, OWN)
    assert improved.previous is not None and improved.compared == 8
    assert [c.code for c in improved.improved] == list("12345678") and improved.fell == []
    assert all(c.p_adjusted < 0.05 and c.after > c.before for c in improved.changes)
    html = text_of(client.get(f"/results/{OWN}"))
    assert "01/04/2025 – 30/06/2025" in html and html.count("▲ Tốt hơn:") == 8
    # A ward with the same share of favourable answers in both quarters. (A commune's small-area
    # estimate also leans on the other communes' mean, which Khao Mang moved: see analysis.changes.)
    steady = results(app, "02647")
    assert steady.compared == 8 and steady.changes == []
    html = text_of(client.get("/results/02647"))
    assert "▲" not in html and "▼" not in html
    assert "Không có thay đổi nào trong 8 lĩnh vực được so sánh đủ lớn để chắc chắn không phải do ngẫu nhiên." in html


def test_the_first_published_period_has_nothing_to_compare_with(app, client):
    seed_quarter(app, AFTER, 8)
    with app.app_context():
        publish_period(*Q3, province_code=PROVINCE)
        db.session.commit()
    found = results(app, OWN)
    assert found.previous is None and found.changes == []
    assert "chưa có gì để so sánh" in text_of(client.get(f"/results/{OWN}"))


def test_a_commune_without_answers_gets_no_scores_of_its_own(app, client, two_quarters):
    found = results(app, "02701")  # Xã Y Tý: nobody answered
    assert found.snapshot is not None and found.respondents == 0
    html = text_of(client.get("/results/02701"))
    assert "không có kết quả riêng" in html and "<circle" not in html


def test_a_revision_shows_its_number_and_note(app, client, two_quarters):
    seed_quarter(app, {OWN: 0.9}, 9, n=4)
    with app.app_context():
        publish_period(*Q3, province_code=PROVINCE, note="Phiếu giấy đến muộn của xã Khao Mang đã được nhập.")
        db.session.commit()
    html = text_of(client.get(f"/results/{OWN}"))
    assert "bản sửa đổi 2" in html and "Phiếu giấy đến muộn của xã Khao Mang đã được nhập." in html
    assert "câu trả lời của 24 người" in html  # the new revision's figures


def test_rank_only_when_the_province_makes_it_public(app, client, two_quarters):
    assert "Hạng trong tỉnh" not in text_of(client.get(f"/results/{OWN}"))
    assert all(d.rank is None for d in results(app).dimensions)
    with app.app_context():
        db.session.add(ProvinceSetting(province_code=PROVINCE, public_ranking=True))
        db.session.commit()
    found = results(app)
    assert found.aggregate.rank is not None and found.aggregate.ranked == 6
    html = text_of(client.get(f"/results/{OWN}"))
    assert f"Hạng trong tỉnh: {found.aggregate.rank} trên 6 xã" in html


# --- "You said, we did" ---------------------------------------------------------------------


def add_action(app, commune: str = OWN, **fields) -> int:
    with app.app_context():
        action = CommuneAction(
            commune_code=commune,
            **{"title_vi": "Tiêu đề", "text_vi": "Nội dung", "done_on": date(2025, 9, 1), **fields},
        )
        db.session.add(action)
        db.session.commit()
        return action.id


def test_visible_actions_newest_first_without_hidden_or_other_communes(app, point):
    from feedback.actions import visible_actions

    older = add_action(app, title_vi="Cũ", done_on=date(2025, 8, 1))
    newer = add_action(app, title_vi="Mới", done_on=date(2025, 9, 15), service_point_id=point["id"])
    same_day = add_action(app, title_vi="Cùng ngày, sau", done_on=date(2025, 9, 15))
    add_action(app, title_vi="Ẩn", hidden=True)
    add_action(app, OTHER_COMMUNE, title_vi="Xã khác")
    with app.app_context():
        assert [a.id for a in visible_actions(OWN)] == [same_day, newer, older]
        assert [a.id for a in visible_actions(OWN, limit=2)] == [same_day, newer]
        assert [a.id for a in visible_actions(OWN, service_point_id=point["id"])] == [newer]


def test_actions_on_the_page_in_the_readers_language(app, client, two_quarters):
    add_action(
        app,
        title_vi="Trạm y tế mở cửa sớm hơn",
        text_vi="Từ tháng 9 mở cửa lúc 7 giờ.",
        title_en="The health station opens earlier",
        text_en="From September it opens at 7.",
        done_on=date(2025, 9, 2),
    )
    add_action(app, title_vi="Niêm yết phí tại bộ phận một cửa", text_vi="Bảng phí mới.", done_on=date(2025, 9, 20))
    add_action(app, title_vi="Bị ẩn", hidden=True)
    html = text_of(client.get(f"/results/{OWN}"))
    assert html.index("Niêm yết phí") < html.index("Trạm y tế mở cửa sớm hơn") and "Bị ẩn" not in html
    assert "20/09/2025" in html
    html = text_of(client.get(f"/results/{OWN}?lang=en"))
    assert "The health station opens earlier" in html and "From September it opens at 7." in html
    # No English: the Vietnamese, marked as such for screen readers.
    assert '<strong lang="vi">Niêm yết phí tại bộ phận một cửa</strong>' in html


def test_actions_show_before_anything_is_published(app, client):
    add_action(app, title_vi="Sửa đường vào trường")
    html = text_of(client.get(f"/results/{OWN}"))
    assert "Sửa đường vào trường" in html and "Chưa có kết quả nào" in html


# --- Where the page is linked from ---------------------------------------------------------


def test_thank_you_page_links_to_the_results_while_public_pages_are_on(app, client):
    html = text_of(client.get(f"/thanks/{OWN}"))
    assert f'href="/results/{OWN}?lang=vi"' in html and "Xem kết quả của xã" in html
    assert "See your commune's results" in text_of(client.get(f"/thanks/{OWN}?lang=en"))
    with app.app_context():
        db.session.add(ProvinceSetting(province_code=PROVINCE, public_results=False))
        db.session.commit()
    assert "/results/" not in text_of(client.get(f"/thanks/{OWN}"))


# --- The province's settings ---------------------------------------------------------------


def settings_post(client, url: str, **fields):
    token = csrf_token(client, url)
    return client.post(url, data={"csrf_token": token, **{k: "y" for k, on in fields.items() if on}})


def test_admin_switches_public_pages_and_ranking_audited(app, client, auth, users, two_quarters):
    auth.login("admin@laocai.test")
    page = client.get("/officer/settings")
    assert page.status_code == 200 and "Kết quả công khai" in text_of(page)
    assert re.search(r'<input checked id="public_results" name="public_results" type="checkbox"', text_of(page))
    assert re.search(r'<input id="public_ranking" name="public_ranking" type="checkbox"', text_of(page))
    r = settings_post(client, "/officer/settings", public_results=True, public_ranking=True)
    assert r.status_code == 303
    assert "Hạng trong tỉnh" in text_of(client.get(f"/results/{OWN}"))
    settings_post(client, "/officer/settings", public_results=False, public_ranking=True)
    assert client.get(f"/results/{OWN}").status_code == 404
    settings_post(client, "/officer/settings", public_results=False, public_ranking=True)  # nothing changed
    with app.app_context():
        events = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "public_settings_changed").order_by(AuditEvent.id)
        ).all()
        assert len(events) == 2 and all(e.target == "province 15" and e.user_id == users["admin"]["id"] for e in events)
        assert '"public_ranking": {"after": true, "before": false}' in events[0].detail
        assert '"public_results": {"after": false, "before": true}' in events[1].detail
    log = text_of(client.get("/officer/audit?action=public_settings_changed"))
    assert "Đổi cài đặt kết quả công khai" in log and "trang kết quả công khai" in log


def test_settings_are_for_admins_of_the_province_only(app, client, auth, users, password_hash):
    with app.app_context():
        for email, province in (("admin15@laocai.test", "15"), ("admin01@hanoi.test", "01")):
            db.session.add(User(email=email, role="admin", province_code=province, password_hash=password_hash))
        db.session.commit()
    for email in ("officer@khaomang.test", "analyst@laocai.test"):
        auth.login(email)
        assert client.get("/officer/settings").status_code == 403
        auth.logout()
    auth.login("admin01@hanoi.test")
    assert client.get("/officer/settings?province=15").status_code == 404
    settings_post(client, "/officer/settings", public_results=False)  # its own province only
    with app.app_context():
        assert db.session.get(ProvinceSetting, "15") is None
        assert db.session.get(ProvinceSetting, "01").public_results is False
    auth.logout()
    auth.login("admin15@laocai.test")
    assert client.get("/officer/settings").status_code == 200
    assert client.get("/officer/settings?province=01").status_code == 404
    auth.logout()
    auth.login("admin@laocai.test")  # national: picks the province
    settings_post(client, "/officer/settings?province=15", public_results=True, public_ranking=True)
    with app.app_context():
        assert db.session.get(ProvinceSetting, "15").public_ranking is True


def test_anonymous_visitors_cannot_reach_the_settings(client):
    assert client.get("/officer/settings").status_code == 302


# --- Weight -----------------------------------------------------------------------------------


def test_results_page_is_under_30_kb_gzipped_like_the_survey_pages(app, client, two_quarters):
    """The heaviest case: every dimension shown, eight changes, ranks, and ten long actions."""
    from benchmarks.page_weight import transferred_gzip

    with app.app_context():
        db.session.add(ProvinceSetting(province_code=PROVINCE, public_ranking=True))
        db.session.commit()
    for i in range(10):
        add_action(
            app,
            title_vi=f"Việc số {i} " + "đã làm " * 20,
            text_vi="Nội dung chi tiết " * 40,
            title_en=f"Action {i}",
            text_en="Details " * 60,
        )
    for lang in ("vi", "en"):
        weight = transferred_gzip(client, f"/results/{OWN}?lang={lang}")
        print(f"results page ({lang}): {weight} bytes gzipped")
        assert weight < 30 * 1024
    html = text_of(client.get(f"/results/{OWN}"))
    assert "<script" not in html and "<img" not in html and '<link rel="stylesheet' not in html  # one request
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing from elsewhere


def test_without_a_small_area_model_the_page_says_not_estimated(app, client):
    """Only one commune answered: the small-area model cannot be fitted, so nothing is shown as
    the commune's small-area score, and the page says why in plain words."""
    seed_quarter(app, {OWN: 0.5}, 8)
    with app.app_context():
        publish_period(*Q3, province_code=PROVINCE)
        db.session.commit()
    found = results(app)
    assert found.respondents == 20 and all(d.score is None and d.missing == "not_estimated" for d in found.dimensions)
    html = text_of(client.get(f"/results/{OWN}"))
    assert html.count("chưa ước tính được") == 8 and "<svg" not in html
