"""\"You said, we did\" on a 360 × 640 phone: an officer records an action (with and without
JavaScript), and the citizen who then answers about that service point sees it on the thank-you page."""

from __future__ import annotations

from datetime import timedelta

import pytest

from feedback.actions import ActionFields, create_action
from feedback.extensions import db
from feedback.models import CommuneAction, utcnow
from feedback.times import local_day

from ..conftest import OWN_COMMUNE, PASSWORD
from .conftest import assert_accessible, screenshot
from .test_phone import _answer_health


def _log_in(page, base, email):
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)


def _check(page, js: bool) -> None:
    """Nothing wider than the phone, and axe clean; only where JavaScript runs (page.evaluate
    cannot run where it is off, and the page is the same)."""
    if js:
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        assert_accessible(page)


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_officer_records_an_action_on_a_phone(app, browser, live_server, users, point, js):
    from .conftest import new_page

    page = new_page(
        browser, viewport={"width": 360, "height": 640}, has_touch=True, is_mobile=True, java_script_enabled=js
    )
    try:
        _log_in(page, live_server, "officer@khaomang.test")
        page.goto(f"{live_server}/officer/points/{point['id']}")
        page.get_by_role("link", name="Ghi việc đã làm ở điểm này").click()
        page.wait_for_url(f"**/officer/c/{OWN_COMMUNE}/actions/new?point={point['id']}")
        assert page.locator("#answers option[selected]").get_attribute("value") == f"point:{point['id']}"
        _check(page, js)
        # Sent without a date: refused, with what was typed still there.
        page.get_by_label("Tiêu đề (tiếng Việt)").fill("Mở cửa từ 7 giờ sáng")
        page.get_by_label("Đã làm gì (tiếng Việt)").fill("Trạm y tế mở cửa sớm hơn một giờ,\nkể cả thứ Bảy.")
        page.get_by_role("button", name="Lưu").click()
        page.get_by_role("alert").wait_for()
        assert "Ngày thực hiện" in page.get_by_role("alert").inner_text()
        assert page.get_by_label("Tiêu đề (tiếng Việt)").get_attribute("value") == "Mở cửa từ 7 giờ sáng"
        _check(page, js)
        if js:
            screenshot(page, "officer-action-form-phone-vi")
        page.get_by_label("Ngày thực hiện").fill((local_day(utcnow()) - timedelta(days=2)).isoformat())
        page.get_by_role("button", name="Lưu").click()
        page.wait_for_url(f"**/officer/c/{OWN_COMMUNE}/actions")
        assert "Mở cửa từ 7 giờ sáng" in page.locator("ul.actions").inner_text()
        _check(page, js)
    finally:
        page.context.close()
    with app.app_context():
        action = db.session.execute(db.select(CommuneAction)).scalar_one()
        assert action.service_point_id == point["id"]
        assert action.text_vi == "Trạm y tế mở cửa sớm hơn một giờ,\nkể cả thứ Bảy."


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_thank_you_page_shows_what_the_service_point_changed(app, live_server, phone, point, lang):
    with app.app_context():
        create_action(
            OWN_COMMUNE,
            ActionFields(
                title_vi="Mở cửa từ 7 giờ sáng",
                text_vi="Trạm y tế mở cửa sớm hơn một giờ.",
                title_en="Open from 7 a.m.",
                done_on=local_day(utcnow()) - timedelta(days=5),
                service_point_id=point["id"],
            ),
            user=None,
        )
        db.session.commit()
    page = phone
    page.goto(f"{live_server}/s/{point['token']}?lang={lang}")
    _answer_health(page)
    page.locator("button[name=send]").tap()
    page.wait_for_url("**/thanks/04465")
    section = page.locator("section.did")
    heading = {"vi": "Trạm Y tế Khao Mang đã thay đổi gì", "en": "What Trạm Y tế Khao Mang changed"}[lang]
    assert heading in section.get_by_role("heading").inner_text()
    title = {"vi": "Mở cửa từ 7 giờ sáng", "en": "Open from 7 a.m."}[lang]
    assert title in section.inner_text()
    if lang == "en":  # no English text: the Vietnamese one, marked as Vietnamese for screen readers
        assert section.locator("span[lang=vi]").inner_text() == "Trạm y tế mở cửa sớm hơn một giờ."
    _check(page, True)
    screenshot(page, f"phone-thanks-action-{lang}")
