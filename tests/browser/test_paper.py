"""Paper questionnaires in a real browser: every blank form prints on one A4 sheet (one per
module, its code on it), and the entry screen on a 360 × 640 phone with the interview date, with
and without JavaScript: an error keeps the answers, the confirmation's button gives an empty form."""

from __future__ import annotations

from datetime import timedelta

import pypdfium2
import pytest

from feedback.extensions import db
from feedback.models import Response, ServicePoint
from feedback.times import local_day, now_seconds
from surveys import catalog

from ..conftest import OWN_COMMUNE, PASSWORD, count
from ..helpers import paper_date
from .conftest import assert_accessible, screenshot

FORMS = [(s.slug, m) for s in catalog().all_current() for m in (s.modules or (None,))]


def _log_in(page, base, email="officer@khaomang.test"):
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)


def _pdf_pages(page) -> list[str]:
    """The page printed to an A4 PDF by Chromium: the text of each PDF page."""
    document = pypdfium2.PdfDocument(page.pdf(format="A4"))
    return [document[i].get_textpage().get_text_range() for i in range(len(document))]


@pytest.mark.parametrize("slug,module", FORMS, ids=[f"{s}-{m or 'all'}" for s, m in FORMS])
def test_every_blank_form_prints_on_one_a4_sheet_with_its_code(live_server, desktop, users, slug, module):
    survey = catalog().current(slug)
    _log_in(desktop, live_server)
    desktop.goto(f"{live_server}/officer/surveys/{slug}/paper-form" + (f"?module={module}" if module else ""))
    pages = _pdf_pages(desktop)
    code = f"{slug}-v{survey.version}" + (f"-{module.upper()}" if module else "")
    assert len(pages) == 1, f"{code} prints on {len(pages)} pages"
    assert code in pages[0].replace("\r", "").replace("\n", "")


def test_all_module_forms_print_one_sheet_each(live_server, desktop, users):
    survey = catalog().current("local-governance")
    _log_in(desktop, live_server)
    desktop.goto(f"{live_server}/officer/surveys/local-governance/paper-form")
    pages = [text.replace("\r", "").replace("\n", "") for text in _pdf_pages(desktop)]
    assert [f"-{m.upper()}" in text for m, text in zip(survey.modules, pages, strict=True)] == [True] * len(pages)


@pytest.fixture
def health_point(app, users) -> int:
    with app.app_context():
        point = ServicePoint(commune_code=OWN_COMMUNE, service_area="health", name="Trạm Y tế Khao Mang")
        db.session.add(point)
        db.session.commit()
        return point.id


def _fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_paper_entry_with_its_date_on_a_phone(request, app, live_server, health_point, js):
    page = request.getfixturevalue("phone" if js else "phone_without_js")
    _log_in(page, live_server)
    url = f"{live_server}/officer/points/{health_point}/paper"
    page.goto(url + "?lang=vi")
    _fits(page)
    page.locator("#q-used_service label:has(input[value='yes'])").click()
    page.locator("#q-overall label:has(input[value='4'])").click()
    page.fill("textarea[name=comment]", "Chờ lâu")
    tomorrow = paper_date(local_day(now_seconds()) + timedelta(days=1))
    for name, value in tomorrow.items():
        page.fill(f"input[name={name}]", value)
    page.locator("button[name=send]").click()

    error = page.locator("#e-interviewed_on")
    error.wait_for()
    assert "hôm nay hoặc một ngày đã qua" in error.inner_text() and count(app) == 0
    assert page.locator("#q-used_service input[value='yes']").is_checked()
    assert page.locator("#q-overall input[value='4']").is_checked()
    assert page.input_value("textarea[name=comment]") == "Chờ lâu"
    assert page.input_value("input[name=interview_day]") == tomorrow["interview_day"]
    _fits(page)
    if js:  # axe runs as page script, which this page may not run
        assert_accessible(page)
    screenshot(page, f"paper-date-error-phone{'' if js else '-nojs'}")

    for name, value in paper_date().items():
        page.fill(f"input[name={name}]", value)
    page.locator("button[name=send]").click()
    page.wait_for_url("**/paper/saved/**")
    panel = page.locator("#saved")
    assert "Đã lưu phiếu giấy" in panel.inner_text() and count(app) == 1
    with app.app_context():
        stored = db.session.execute(db.select(Response)).scalar_one()
    assert stored.id.hex[:8].upper() in panel.inner_text()
    assert local_day(now_seconds()).strftime("%d/%m/%Y") == page.locator("#saved-date").inner_text()
    _fits(page)
    if js:  # axe runs as page script, which this page may not run
        assert_accessible(page)
    screenshot(page, f"paper-saved-phone{'' if js else '-nojs'}")

    page.get_by_role("link", name="Nhập phiếu tiếp theo").click()
    page.wait_for_url(lambda u: u.rstrip("/").endswith("/paper"))
    page.locator("#q-used_service").wait_for()
    assert page.locator("#survey input:checked").count() == 0
    assert page.input_value("textarea[name=comment]") == ""
    assert [page.input_value(f"input[name={n}]") for n in paper_date()] == ["", "", ""]
    assert page.locator("#errors").count() == 0 and count(app) == 1
