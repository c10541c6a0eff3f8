"""Issue 12 in a real Chromium: one filling stores one response, kept answers are never lost,
and text typed with JavaScript off arrives whole."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from feedback.extensions import db
from feedback.models import Answer, Response, ServicePoint

from ..conftest import count
from .conftest import CHROMIUM, CHROMIUM_ARGS, DEADLINE_MS
from .test_phone import _answer_health, choose


def _landing_to_survey(page, live_server, *, touch=True):
    """Landing page → commune and service → the survey page (the poster's, via /start)."""
    page.goto(live_server + "/")
    page.select_option("#commune", "04465")
    label = page.locator("label", has_text="y tế").first
    label.tap() if touch else label.click()
    with page.expect_navigation():
        button = page.locator("button[type=submit]")
        button.tap() if touch else button.click()


def _switch_to_english(page, *, touch=True):
    with page.expect_navigation():
        button = page.locator(".lang")
        button.tap() if touch else button.click()
    assert page.locator("html").get_attribute("lang") == "en"


def test_back_after_language_switch_and_submit_stores_once(app, live_server, phone, point):
    page = phone
    _landing_to_survey(page, live_server)
    _switch_to_english(page)
    _answer_health(page, used="no")
    page.locator("button[name=send]").tap()
    page.wait_for_url("**/thanks/04465")
    assert count(app) == 1
    page.go_back()
    # Either the page as it was left (sent again: the same response) or the page as the server
    # now serves it (answered: only "answer again" is offered); never a second response.
    page.wait_for_selector("#sent, button[name=send]")
    if page.locator("button[name=send]").count():
        page.locator("button[name=send]").tap()
        page.wait_for_url("**/thanks/04465")
    else:
        assert page.locator("input[name=state]").count() == 0
    assert count(app) == 1


def test_back_after_language_switch_and_submit_stores_once_without_javascript(
    app, live_server, phone_without_js, point
):
    page = phone_without_js
    _landing_to_survey(page, live_server, touch=False)
    _switch_to_english(page, touch=False)
    choose(page, "used_service", "no", touch=False)
    choose(page, "overall", "4", touch=False)
    page.locator("button[name=send]").click()
    page.wait_for_url("**/thanks/04465")
    # Back twice, past the language switch's POST page (which Chromium will not show again
    # without asking to resend it) to the survey page as first opened.
    cdp = page.context.new_cdp_session(page)
    history = cdp.send("Page.getNavigationHistory")
    entry = history["entries"][history["currentIndex"] - 2]
    assert entry["url"].endswith(f"/s/{point['token']}?via=landing")  # opened from the landing page
    with page.expect_navigation():
        cdp.send("Page.navigateToHistoryEntry", {"entryId": entry["id"]})
    page.wait_for_selector("#sent")  # the page says the answers arrived already
    assert page.locator("button[name=send]").count() == 0 and page.locator("input[name=state]").count() == 0
    assert count(app) == 1


@pytest.mark.parametrize("how", ["language_link", "reload", "back_forward", "landing_again"])
def test_the_same_filling_keeps_its_response_id(app, live_server, phone, point, how):
    """Every way back to the page shows the filling begun there: sending twice stores once."""
    page = phone
    url = f"{live_server}/s/{point['token']}"
    page.goto(url)
    state = page.locator("input[name=state]").get_attribute("value")
    if how == "language_link":
        page.goto(url + "?lang=en")
    elif how == "reload":
        page.reload()
    elif how == "back_forward":
        page.goto(live_server + "/privacy")
        page.go_back()
        page.wait_for_selector("button[name=send]")
    else:
        _landing_to_survey(page, live_server)
    assert page.locator("input[name=state]").get_attribute("value") == state
    _answer_health(page, used="no")
    page.locator("button[name=send]").tap()
    page.wait_for_url("**/thanks/04465")
    page.goto(url)
    # Answered: the page says so and offers no form for that response id again.
    assert page.locator("#sent").is_visible() and page.locator("input[name=state]").count() == 0
    assert count(app) == 1


@pytest.fixture(scope="module")
def bfcache_browser(browser):
    """A Chromium with its back/forward cache on, as on phones (Playwright turns it off)."""
    chromium = browser.browser_type.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, ignore_default_args=["--disable-back-forward-cache"]
    )
    yield chromium
    chromium.close()


@pytest.fixture(params=[True, False], ids=["js", "no_js"])
def bfcache_phone(bfcache_browser, request):
    context = bfcache_browser.new_context(
        viewport={"width": 360, "height": 640}, has_touch=True, is_mobile=True, java_script_enabled=request.param
    )
    # Whether the last Back showed the page from the cache (a restored page fires pageshow again).
    context.add_init_script("addEventListener('pageshow', e => { window.restored = e.persisted })")
    context.js = request.param
    context.set_default_timeout(DEADLINE_MS)
    page = context.new_page()
    yield page
    context.close()


def _back(page) -> None:
    """Browser Back; a page restored from the cache fires no load event, so wait for its form."""
    page.go_back(wait_until="commit")
    page.wait_for_selector("button[name=send]")


def test_a_page_restored_from_the_back_forward_cache_keeps_its_response_id(app, live_server, bfcache_phone, point):
    page, js = bfcache_phone, bfcache_phone.context.js
    url = f"{live_server}/s/{point['token']}"
    page.goto(url)
    choose(page, "used_service", "no", touch=False)
    choose(page, "overall", "4", touch=False)
    page.locator("footer a[href='/privacy']").click()
    page.wait_for_url("**/privacy")
    _back(page)
    if js:  # proof that this test is about the cache: the page came back as it was left
        assert page.evaluate("window.restored") is True
    assert page.locator("#q-overall input[value='4']").is_checked()
    page.locator("button[name=send]").click()
    page.wait_for_url("**/thanks/04465")
    page.goto(url)
    assert page.locator("#sent").is_visible() and page.locator("input[name=state]").count() == 0
    assert count(app) == 1


def test_answering_again_on_purpose_makes_a_new_response(app, live_server, phone, point):
    page = phone
    url = f"{live_server}/s/{point['token']}"
    page.goto(url)
    _answer_health(page, used="no")
    page.locator("button[name=send]").tap()
    page.wait_for_url("**/thanks/04465")
    page.goto(url)
    with page.expect_navigation():
        page.locator("#sent button").tap()
    assert page.locator("#sent").count() == 0
    _answer_health(page, used="no")
    page.locator("button[name=send]").tap()
    page.wait_for_url("**/thanks/04465")
    assert count(app) == 2


def test_comment_with_line_breaks_without_javascript_is_stored_with_lf(app, live_server, phone_without_js, point):
    page = phone_without_js
    page.goto(f"{live_server}/s/{point['token']}")
    choose(page, "used_service", "no", touch=False)
    choose(page, "overall", "4", touch=False)
    page.locator("#f-comment").fill("Dòng một\nDòng hai\nDòng ba")
    page.locator("button[name=send]").click()
    page.wait_for_url("**/thanks/04465")
    with app.app_context():
        value = db.session.scalar(sa.select(Answer.value).where(Answer.question_id == "comment"))
    assert value == "Dòng một\nDòng hai\nDòng ba"


def test_retired_poster_keeps_the_answers_and_offers_the_current_survey(app, live_server, phone, point):
    """Past the grace period the answers stay on screen and go to the commune's current poster."""
    app.config["POSTER_GRACE_HOURS"] = 0
    page = phone
    page.goto(f"{live_server}/s/{point['token']}")
    _answer_health(page, used="no")
    page.locator("#f-comment").fill("Giữ lại")
    with app.app_context():
        old = db.session.get(ServicePoint, point["id"])
        old.active = False
        new = ServicePoint(commune_code="04465", service_area="health", name="Trạm Y tế mới")
        db.session.add(new)
        db.session.commit()
        new_token = new.token
    page.locator("button[name=send]").tap()
    page.wait_for_selector("#moved")
    assert page.locator("#q-overall input[value='4']").is_checked()
    assert page.locator("#f-comment").input_value() == "Giữ lại"
    assert count(app) == 0
    page.locator("button[name=send]").tap()
    page.wait_for_url("**/thanks/04465")
    with app.app_context():
        stored = db.session.execute(sa.select(Response)).scalar_one()
        assert stored.service_point_id != point["id"]
        assert db.session.get(ServicePoint, stored.service_point_id).token == new_token


def test_a_refusal_without_the_form_erases_nothing(app, live_server, phone, point):
    """A 4xx page that does not show the answers again (here 413) leaves them on screen and kept."""
    page = phone
    page.goto(f"{live_server}/s/{point['token']}")
    _answer_health(page, used="no")
    page.locator("#f-comment").evaluate("el => { el.value = 'x'.repeat(70000) }")  # past MAX_CONTENT_LENGTH
    page.locator("button[name=send]").tap()
    page.wait_for_selector("#kept:not([hidden])")
    assert "không gửi được" in page.locator("#kept").inner_text().lower()
    assert page.locator("#q-overall input[value='4']").is_checked()
    assert page.evaluate("Object.keys(localStorage).some(k => k.startsWith('pending:'))")
    assert count(app) == 0
