"""The public commune results page on a 360 × 640 phone, with JavaScript on and off: readable
without sideways scrolling, the chart inside its box, accessible, one light request."""

from __future__ import annotations

import gzip
from datetime import date

import pytest

from feedback.extensions import db
from feedback.models import CommuneAction, ProvinceSetting

from ..test_results import OWN, two_quarters  # noqa: F401 - the fixture
from .conftest import assert_accessible, screenshot


@pytest.fixture
def published(app, two_quarters):  # noqa: F811
    """Two published quarters, the public ranking on, and two reported actions."""
    with app.app_context():
        db.session.add(ProvinceSetting(province_code="15", public_ranking=True))
        db.session.add_all(
            [
                CommuneAction(
                    commune_code=OWN,
                    title_vi="Trạm y tế mở cửa từ 7 giờ sáng",
                    text_vi="Người dân nói phải chờ lâu; từ tháng 9 trạm mở cửa sớm hơn một giờ.",
                    title_en="The health station opens at 7 am",
                    text_en="People said they waited long; since September it opens an hour earlier.",
                    done_on=date(2025, 9, 2),
                ),
                CommuneAction(
                    commune_code=OWN,
                    title_vi="Niêm yết phí tại bộ phận một cửa",
                    text_vi="Bảng phí và thời hạn giải quyết được dán ở cửa.",
                    done_on=date(2025, 8, 20),
                ),
            ]
        )
        db.session.commit()


def _fits_the_phone(page) -> None:
    """Nothing sticks out past the 360 px screen (the page never scrolls sideways)."""
    for selector in ("h1", "svg.dims", "table", "ul.plain", "a.btn"):
        box = page.locator(selector).first.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360, (selector, box)


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_results_page_on_a_phone_with_javascript(live_server, phone, published, lang):
    requests = []
    phone.on("request", lambda request: requests.append(request.url))
    response = phone.goto(f"{live_server}/results/{OWN}?lang={lang}")
    assert response.status == 200 and phone.locator("html").get_attribute("lang") == lang
    title = "Kết quả của Xã Khao Mang" if lang == "vi" else "Results of Xã Khao Mang"
    assert phone.locator("h1").inner_text() == title
    # One request: styles inline, no script, no picture, nothing from elsewhere.
    assert [url for url in requests if not url.startswith("data:")] == [f"{live_server}/results/{OWN}?lang={lang}"]
    weight = len(gzip.compress(response.body(), 6))
    print(f"results page ({lang}): {len(response.body())} bytes, {weight} gzipped")
    assert weight < 30 * 1024
    assert phone.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    _fits_the_phone(phone)
    # Every tick label and every row's shapes lie inside the chart's box.
    svg = phone.locator("svg.dims").bounding_box()
    for text in phone.locator("svg.dims text").all():
        box = text.bounding_box()
        assert svg["x"] <= box["x"] and box["x"] + box["width"] <= svg["x"] + svg["width"] + 0.5, text.inner_html()
        assert box["y"] + box["height"] <= svg["y"] + svg["height"] + 0.5
    assert phone.locator("svg.dims circle.pt").count() == 8
    assert phone.locator("svg.dims title").first.text_content().startswith("Chart" if lang == "en" else "Biểu đồ")
    assert phone.locator("li.up").count() == 8  # the supported changes
    assert phone.locator("ul.plain li.card").count() == 2
    assert_accessible(phone)
    screenshot(phone, f"phone-results-{lang}")


def test_results_page_without_javascript(live_server, phone_without_js, published):
    page = phone_without_js
    assert page.goto(f"{live_server}/results/{OWN}").status == 200
    assert page.locator("svg.dims").is_visible() and page.locator("table tbody tr").count() == 9
    assert page.locator("li.up").first.is_visible()
    assert "Trạm y tế mở cửa từ 7 giờ sáng" in page.locator("ul.plain li.card").first.inner_text()
    _fits_the_phone(page)
    with page.expect_navigation():
        page.locator("a.lang").click()
    assert page.locator("html").get_attribute("lang") == "en"
    assert "The health station opens at 7 am" in page.locator("ul.plain li.card").first.inner_text()


def test_nothing_published_yet_on_a_phone(live_server, phone):
    assert phone.goto(f"{live_server}/results/{OWN}").status == 200
    assert "Chưa có kết quả" in phone.locator("main").inner_text()
    assert_accessible(phone)


def test_thank_you_page_leads_to_the_results(live_server, phone, published):
    phone.goto(f"{live_server}/thanks/{OWN}")
    with phone.expect_navigation():
        phone.get_by_role("link", name="Xem kết quả của xã").tap()
    assert phone.url.endswith(f"/results/{OWN}?lang=vi") and phone.locator("svg.dims").is_visible()
    assert_accessible(phone)


def test_a_long_link_in_an_action_wraps_and_its_paragraphs_stay(app, live_server, phone, two_quarters):  # noqa: F811
    """A 300-character link cannot widen the page on a phone, and the text's line breaks show."""
    link = "https://xakhaomang.laocai.gov.vn/" + "thong-bao-" * 27
    with app.app_context():
        db.session.add(
            CommuneAction(
                commune_code=OWN,
                title_vi="https://xa.test/" + "a" * 140,
                text_vi=f"Xem thông báo tại {link}\n\nĐoạn thứ hai.",
                done_on=date(2025, 9, 2),
            )
        )
        db.session.commit()
    assert phone.goto(f"{live_server}/results/{OWN}").status == 200
    assert phone.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    _fits_the_phone(phone)
    text = phone.locator("ul.plain li.card .said-text")
    box = text.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 360, box
    assert text.inner_text().endswith(f"{link}\n\nĐoạn thứ hai.")
