"""The export progress page in Chromium: with JavaScript it polls and moves the bar, without it
the page refreshes itself; either way the download link appears when the file is ready."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from feedback.extensions import db
from feedback.jobs.store import ProgressWriter, finish
from feedback.models import Job

from .conftest import assert_accessible, new_page, screenshot
from .test_desktop import PASSWORD, _log_in


@pytest.fixture
def desktop_without_js(browser):
    page = new_page(browser, viewport={"width": 1280, "height": 900}, java_script_enabled=False)
    yield page
    page.context.close()


def _running_job(app, user_id: int) -> str:
    """A response export that a worker has claimed (no runner will touch it: the test moves it)."""
    job_id = "feed" * 8
    with app.app_context():
        db.session.add(
            Job(id=job_id, kind="export_responses", params='{"fmt": "csv"}', status="running", user_id=user_id)
        )
        db.session.commit()
    return job_id


def _advance(app, job_id: str, done: int, total: int) -> None:
    with app.app_context():
        ProgressWriter(job_id)(done, total)


def _finish(app, job_id: str, tmp_path) -> None:
    path = tmp_path / "file.csv"
    path.write_bytes(b"export_id\n1\n")
    with app.app_context(), open(path, "rb") as out:
        assert finish(job_id, out, file_name="responses.csv", mimetype="text/csv", rows=1)


@pytest.mark.parametrize("javascript", [True, False], ids=["with-js", "without-js"])
def test_the_progress_page_follows_the_job_to_its_download(app, live_server, users, tmp_path, request, javascript):
    page = request.getfixturevalue("desktop" if javascript else "desktop_without_js")
    _log_in(page, live_server, users["analyst"]["email"])
    job_id = _running_job(app, users["analyst"]["id"])
    page.goto(f"{live_server}/analyst/exports/{job_id}")
    assert page.locator("progress").count() == 1
    _advance(app, job_id, 250, 1000)
    # JavaScript moves the bar in place; without it, the page reloads itself (meta refresh).
    expect(page.locator("progress")).to_have_attribute("value", "250")
    assert "250" in page.locator("[data-rows-done]").inner_text()
    if javascript:
        assert_accessible(page)
        screenshot(page, "export-progress")
    _finish(app, job_id, tmp_path)
    link = page.locator(f"a[href$='/analyst/exports/{job_id}/download']")
    link.wait_for()
    assert page.locator("a[href$='/analyst/exports/codebook.csv']").count() == 1
    if javascript:
        with page.expect_download() as download:
            link.click()
        with open(download.value.path(), "rb") as f:
            assert f.read() == b"export_id\n1\n"


def test_the_export_page_is_accessible(app, live_server, desktop, users):
    _log_in(desktop, live_server, users["analyst"]["email"])
    desktop.goto(f"{live_server}/analyst/exports")
    assert_accessible(desktop)
    desktop.locator("form.export-form input[name=kind][value=responses]").check()
    desktop.locator("form.export-form select[name=fmt]").select_option("json")  # scores only
    desktop.locator("form.export-form button[type=submit]").click()
    assert desktop.locator("[role=alert]").count() == 1
    assert_accessible(desktop)


def test_a_progress_page_whose_session_ends_leads_to_the_log_in_and_back(app, live_server, desktop, users):
    """The script polling the job's status gets a 401 once the session is gone (not the log-in
    page as if it were JSON, retried for ever) and reloads: the page asks to log in again."""
    _log_in(desktop, live_server, users["analyst"]["email"])
    job_id = _running_job(app, users["analyst"]["id"])
    desktop.goto(f"{live_server}/analyst/exports/{job_id}")
    assert desktop.locator("progress").count() == 1
    desktop.context.clear_cookies()  # the session expired, or ended elsewhere
    expect(desktop).to_have_url(re.compile(r"/login\?next=.*exports"))
    desktop.fill("input[name=email]", users["analyst"]["email"])
    desktop.fill("input[name=password]", PASSWORD)
    desktop.keyboard.press("Enter")
    expect(desktop).to_have_url(f"{live_server}/analyst/exports/{job_id}")


def test_on_a_phone_the_exports_list_shows_each_file_link_and_the_form_one_choice_a_line(
    app, live_server, phone, users, tmp_path
):
    """Found by a user's walk at 360 px: the list's file column sat past the screen's edge, and
    each radio button stood at the end of the previous choice's line."""
    _log_in(phone, live_server, users["analyst"]["email"])
    job_id = _running_job(app, users["analyst"]["id"])
    _finish(app, job_id, tmp_path)
    phone.goto(f"{live_server}/analyst/exports")
    link = phone.locator(f"a[href$='/analyst/exports/{job_id}/download']")
    box = link.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360  # nothing wider than the screen
    radios = phone.locator(".export-form input[type=radio]")
    lefts = {round(radios.nth(i).bounding_box()["x"]) for i in range(radios.count())}
    assert len(lefts) == 1  # every choice starts its own line, at the same left edge
    phone.locator("table.exports").scroll_into_view_if_needed()
    screenshot(phone, "analyst-exports-phone")
