"""The officers' and analysts' side at desktop size: log in, dashboard, poster, paper entry, export."""

from __future__ import annotations

import pypdfium2

from feedback.extensions import db
from feedback.models import Response

from ..conftest import PASSWORD, count
from ..helpers import paper_date
from .conftest import assert_accessible, screenshot, screenshot_path


def _log_in(page, base, email):
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.keyboard.press("Enter")  # keyboard only, as a keyboard user would
    page.wait_for_url(lambda url: "/login" not in url)


def _type_today(page) -> None:
    """Type today's Viet Nam date into the paper-entry form's interview date."""
    for name, value in paper_date().items():
        page.fill(f"input[name={name}]", value)


def _some_responses(runner, n=400):
    result = runner.invoke(args=["seed-demo", "--responses", str(n), "--seed", "3"])
    assert result.exit_code == 0, result.output


def test_officer_dashboard_poster_and_paper_entry(app, runner, live_server, desktop, users):
    _some_responses(runner)
    page = desktop
    _log_in(page, live_server, users["officer"]["email"])
    page.goto(f"{live_server}/officer/c/04465")
    assert "Khao Mang" in page.locator("h1").inner_text()
    assert page.locator("svg").count() >= 1  # the daily-count chart
    assert_accessible(page)
    screenshot(page, "officer-dashboard")

    # Open the health station, download its poster and keep a picture of it.
    page.locator("a[href*='/officer/points/']", has_text="Trạm Y tế").click()  # points are listed by name
    href = page.locator("a[href$='/poster.pdf']").first.get_attribute("href")
    poster = page.request.get(live_server + href)  # with the officer's session, as the browser would
    assert poster.ok and poster.headers["content-type"] == "application/pdf"
    pdf = pypdfium2.PdfDocument(poster.body())
    pdf[0].render(scale=0.6).to_pil().save(screenshot_path("poster-a4"))
    assert len(pdf) == 1

    # Type in a paper form.
    before = count(app)
    page.locator("a[href$='/paper']").first.click()
    page.wait_for_selector("#q-used_service")
    page.locator("#q-used_service label:has(input[value='no'])").click()
    page.locator("#q-overall label:has(input[value='3'])").click()
    _type_today(page)
    assert_accessible(page)
    page.locator("button[name=send]").click()
    page.wait_for_url("**/paper/saved/**")  # a confirmation, with the next form's button
    assert count(app) == before + 1
    with app.app_context():
        newest = db.session.execute(
            db.select(Response).where(  # demo paper forms have no typist
                Response.mode == "paper", Response.entered_by.is_not(None)
            )
        ).scalar_one()
        assert newest.entered_by == users["officer"]["id"]


def test_analyst_pages_and_export_download(app, runner, live_server, desktop, users):
    _some_responses(runner, 6000)
    page = desktop
    _log_in(page, live_server, users["analyst"]["email"])
    page.goto(f"{live_server}/analyst/")
    assert_accessible(page)
    screenshot(page, "analyst-province")
    with app.app_context():  # the scorecard of the commune with the most responses
        busiest = db.session.execute(
            db.select(Response.commune_code).group_by(Response.commune_code).order_by(db.func.count().desc()).limit(1)
        ).scalar_one()
    page.goto(f"{live_server}/analyst/c/{busiest}")
    assert_accessible(page)
    screenshot(page, "commune-scorecard")
    page.goto(f"{live_server}/analyst/")
    form = page.locator("form.export-form")  # exports run as background jobs (tests/browser/test_exports.py)
    form.locator("input[name=kind][value=scores]").check()
    form.locator("select[name=fmt]").select_option("csv")
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/analyst/exports/*")
    link = page.locator("a[href$='/download']")
    link.wait_for()  # the page polls and shows the link once the file is ready
    with page.expect_download() as download:
        link.click()
    with open(download.value.path(), encoding="utf-8-sig") as f:
        header = f.readline()
    assert header.startswith("commune_code,commune_name,level,code,n,n_eff,p,se,score,ci_low,ci_high,se_p,p_eb")
    assert "rank,rank_low,rank_high,flags" in header


def test_login_page_is_accessible(live_server, desktop):
    desktop.goto(f"{live_server}/login")
    assert_accessible(desktop)


def test_officer_pages_work_with_the_keyboard_alone(runner, live_server, desktop, users):
    _some_responses(runner, 0)  # service points for every commune
    page = desktop
    page.goto(f"{live_server}/login")
    page.keyboard.press("Tab")
    for _ in range(10):  # tab until the e-mail field has focus
        if page.evaluate("document.activeElement.name") == "email":
            break
        page.keyboard.press("Tab")
    page.keyboard.type(users["officer"]["email"])
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)
    page.goto(f"{live_server}/officer/c/04465")
    visited = []
    for _ in range(40):  # tab to the first service point and open it with Enter
        page.keyboard.press("Tab")
        href = page.evaluate("document.activeElement.getAttribute('href')") or ""
        visited.append(href or page.evaluate("document.activeElement.tagName"))
        if "/officer/points/" in href:
            break
    assert "/officer/points/" in visited[-1], visited
    focused = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert focused != "none", "the focused link must show a focus ring"
    page.keyboard.press("Enter")
    page.wait_for_url("**/officer/points/**")


def test_paper_entry_keeps_answers_offline_and_resends_once(app, runner, live_server, desktop, users):
    _some_responses(runner, 0)
    page = desktop
    _log_in(page, live_server, users["officer"]["email"])
    with app.app_context():
        from feedback.models import ServicePoint

        point = db.session.execute(
            db.select(ServicePoint).filter_by(commune_code="04465", service_area="health")
        ).scalar_one()
    page.goto(f"{live_server}/officer/points/{point.id}/paper")
    page.locator("#q-used_service label:has(input[value='no'])").click()
    page.locator("#q-overall label:has(input[value='2'])").click()
    _type_today(page)
    page.context.set_offline(True)
    page.locator("button[name=send]").click()
    page.wait_for_selector("#kept:not([hidden])")
    assert count(app, mode="paper") == 0
    page.context.set_offline(False)  # back online: resent by itself with the same response id
    page.wait_for_url("**/paper/saved/**")
    assert count(app, mode="paper") == 1
