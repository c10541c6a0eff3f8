"""The citizen's side in a real phone-sized Chromium: poster link to thank-you page."""

from __future__ import annotations

import pytest

from ..conftest import count
from .conftest import assert_accessible, screenshot


def choose(page, question: str, value: str, *, touch: bool = True):
    """Tap the option (its whole label, as a thumb would) with this value."""
    option = page.locator(f"#q-{question} label:has(input[value='{value}'])")
    option.tap() if touch else option.click()


def _answer_health(page, *, used="yes"):
    """Tap through the health survey the way a citizen does."""
    choose(page, "used_service", used)
    if used == "yes":
        choose(page, "staff_respect", "yes")
        choose(page, "informal_payment", "no")
    choose(page, "overall", "4")


def test_poster_link_to_thank_you_in_vietnamese(app, live_server, phone, point):
    page = phone
    page.goto(f"{live_server}/s/{point['token']}")
    assert page.locator("html").get_attribute("lang") == "vi"
    assert page.locator("h1").inner_text().startswith("Khảo sát")
    # Relevance: the follow-up questions appear only after "Có".
    assert not page.locator("#q-staff_respect").is_visible()
    choose(page, "used_service", "yes")
    assert page.locator("#q-staff_respect").is_visible()
    choose(page, "used_service", "no")
    assert not page.locator("#q-staff_respect").is_visible()
    _answer_health(page)
    assert "đã trả lời" in page.locator("#count").inner_text()
    assert_accessible(page)
    screenshot(page, "phone-survey-vi")
    page.locator("button[name=send]").tap()
    page.wait_for_url("**/thanks/04465")
    assert "Cảm ơn" in page.locator("h1").inner_text()
    assert_accessible(page)
    screenshot(page, "phone-thanks-vi")
    assert count(app) == 1


def test_english_switch_keeps_answers_and_validation_errors_show_beside_questions(app, live_server, phone, point):
    page = phone
    page.goto(f"{live_server}/s/{point['token']}")
    choose(page, "used_service", "no")
    with page.expect_navigation():
        page.locator("button.lang").tap()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("#q-used_service input[value=no]").is_checked()
    # Submit without the required overall rating.
    page.locator("button[name=send]").tap()
    page.wait_for_selector("#q-overall.err")
    assert "Please answer this question." in page.locator("#q-overall .errmsg").inner_text()
    assert page.locator("#q-used_service input[value=no]").is_checked()
    assert_accessible(page)
    choose(page, "overall", "5")
    screenshot(page, "phone-survey-en")
    page.locator("button[name=send]").tap()
    page.wait_for_url("**/thanks/04465")
    assert "Thank you" in page.locator("h1").inner_text()
    assert count(app) == 1


def test_double_tap_stores_one_response(app, live_server, phone, point):
    page = phone
    page.goto(f"{live_server}/s/{point['token']}")
    _answer_health(page, used="no")
    page.locator("button[name=send]").dblclick()
    page.wait_for_url("**/thanks/04465")
    assert count(app) == 1


def test_works_without_javascript(app, live_server, phone_without_js, point):
    page = phone_without_js
    page.goto(f"{live_server}/s/{point['token']}")
    # Relevance still works, by CSS :has().
    assert not page.locator("#q-staff_respect").is_visible()
    choose(page, "used_service", "yes", touch=False)
    assert page.locator("#q-staff_respect").is_visible()
    choose(page, "staff_respect", "yes", touch=False)
    page.locator("button[name=send]").click()
    page.wait_for_selector("#q-overall.err")
    assert page.locator("#q-staff_respect input[value=yes]").is_checked()
    choose(page, "overall", "3", touch=False)
    page.locator("button[name=send]").click()
    page.wait_for_url("**/thanks/04465")
    assert count(app) == 1


def test_offline_submit_keeps_answers_and_resends_once(app, live_server, phone, point):
    page = phone
    page.goto(f"{live_server}/s/{point['token']}")
    _answer_health(page, used="no")
    page.context.set_offline(True)
    page.locator("button[name=send]").tap()
    page.wait_for_selector("#kept:not([hidden])")
    assert "chưa được gửi" in page.locator("#kept").inner_text()
    assert count(app) == 0
    # A reload while offline is impossible, but the answers survive in localStorage too.
    assert page.evaluate("Object.keys(localStorage).some(k => k.startsWith('pending:'))")
    # Back online: the page resends by itself, with the same response id.
    page.context.set_offline(False)
    page.wait_for_url("**/thanks/04465")
    assert count(app) == 1
    assert not page.evaluate("Object.keys(localStorage).some(k => k.startsWith('pending:'))")


def test_answers_kept_on_the_phone_come_back_after_reopening(app, live_server, phone, point):
    page = phone
    url = f"{live_server}/s/{point['token']}"
    page.goto(url)
    _answer_health(page, used="no")
    page.context.set_offline(True)
    page.locator("button[name=send]").tap()
    page.wait_for_selector("#kept:not([hidden])")
    context = page.context
    page.close()  # the citizen gives up while still offline, and comes back later
    context.set_offline(False)
    page = context.new_page()
    page.goto(url)
    assert page.locator("#kept").is_visible()
    assert page.locator("#q-used_service input[value=no]").is_checked()
    page.locator("#resend").tap()
    page.wait_for_url("**/thanks/04465")
    assert count(app) == 1


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/privacy",
        "/c/04465/primary-school",
        "/c/04465/one-stop",
        "/c/04465/land",
        "/c/04465/local-governance",
        "/c/04465/health?lang=en",
    ],
)
def test_citizen_pages_are_accessible(live_server, phone, path):
    phone.goto(live_server + path)
    assert_accessible(phone)


def test_tap_targets_are_at_least_44_px(live_server, phone):
    phone.goto(f"{live_server}/c/04465/one-stop")
    phone.locator("#q-procedure label").first.tap()  # shows the conditional questions too
    targets = "label.opt, button, a.btn, a.lang, select, textarea, input[type=text]"
    small = phone.evaluate(
        """(targets) => [...document.querySelectorAll(targets)]
        .filter(el => el.offsetParent !== null && !el.closest('.hp'))
        .map(el => [el.outerHTML.slice(0, 60), el.getBoundingClientRect()])
        .filter(([, r]) => r.width < 44 || r.height < 44)""",
        targets,
    )
    assert small == []


def test_usable_at_200_percent_text(live_server, phone):
    phone.goto(f"{live_server}/c/04465/health")
    phone.add_style_tag(content="html{font-size:200%}")
    overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    assert phone.locator("button[name=send]").is_visible() or phone.locator("button[name=send]").count() == 1


def test_landing_page_picks_commune_and_service(app, live_server, phone):
    phone.goto(live_server + "/")
    phone.select_option("#commune", "04465")
    phone.locator("label", has_text="y tế").first.tap()
    phone.locator("button[type=submit]").tap()
    phone.wait_for_url("**/c/04465/health")
    assert "Xã Khao Mang" in phone.locator(".sub").first.inner_text()


@pytest.mark.parametrize("path", ["/analyst/?lang=vi", "/analyst/?code=6.1&lang=en", "/analyst/c/04465?lang=vi"])
def test_analyst_pages_fit_a_phone(app, live_server, phone, users, path):
    """Ranking and scorecard at 360 px: nothing wider than the screen but the tables, which scroll."""
    from ..test_bridge import seed_every_subdimension
    from .test_desktop import _log_in

    seed_every_subdimension(app)
    _log_in(phone, live_server, users["analyst"]["email"])
    phone.goto(live_server + path)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    assert phone.locator(".scroll table").first.is_visible()
    rank = phone.locator("td.nw .ci").first.inner_text()
    assert rank.startswith("(") and "–" in rank  # a rank interval such as (1–3)
    assert_accessible(phone)
