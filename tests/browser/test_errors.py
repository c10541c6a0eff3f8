"""A survey sent with answers missing, on a phone, with JavaScript on and off: an error summary at the
top takes focus and links to each question in error, which is marked in red (GOV.UK's pattern)."""

from __future__ import annotations

import re

import pytest

from ..conftest import count
from .conftest import assert_accessible, screenshot

SURVEY = "/c/04465/local-governance"  # the long one: the Send button is far below the summary
RED = "rgb(176, 0, 32)"


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("js", [True, False])
def test_error_summary_takes_focus_and_links_to_each_question(app, live_server, phone, phone_without_js, lang, js):
    page = phone if js else phone_without_js  # page.evaluate cannot run where JavaScript is off
    page.goto(f"{live_server}{SURVEY}?lang={lang}")
    page.locator("button[name=send]").scroll_into_view_if_needed()
    assert js is False or page.evaluate("window.scrollY") > 640  # the citizen is far down the page
    if js:
        page.locator("button[name=send]").click()
        page.wait_for_selector("#errors")
    else:
        with page.expect_navigation():
            page.locator("button[name=send]").click()
    summary = page.locator("#errors")
    assert summary.is_visible() and summary.bounding_box()["y"] < 640  # on the first screen
    assert page.title().startswith({"vi": "Lỗi: ", "en": "Error: "}[lang])
    if js:  # without JavaScript the browser starts at the top, where the summary is
        assert page.evaluate("document.activeElement && document.activeElement.id") == "errors"
    links = summary.locator("a")
    assert links.count() >= 1
    for i in range(links.count()):
        target = links.nth(i).get_attribute("href")
        assert re.fullmatch(r"#q-\w+", target)
        box = page.locator(target)
        assert "err" in box.get_attribute("class")
        if js:
            assert box.evaluate("e => getComputedStyle(e).borderLeftColor") == RED
        assert box.locator(".errmsg").is_visible()
    links.first.click()
    assert page.locator(links.first.get_attribute("href")).bounding_box()["y"] < 640
    if js:  # axe runs as page script
        assert_accessible(page)
    screenshot(page, f"phone-errors-{lang}{'' if js else '-nojs'}")
    assert count(app) == 0


def test_the_progress_count_follows_relevance_and_agrees_with_the_page(live_server, phone):
    phone_page = phone
    phone_page.goto(f"{live_server}/c/04465/health?lang=en")
    n_always = phone_page.locator("fieldset[data-main]:not(.cond)").count()
    n_all = phone_page.locator("fieldset[data-main]").count()
    assert n_always < n_all
    assert phone_page.locator("#count").inner_text() == f"0/{n_always} answered"
    phone_page.locator("#q-used_service label:has(input[value='yes'])").tap()
    shown = phone_page.locator("fieldset[data-main]:visible").count()
    assert phone_page.locator("#count").inner_text() == f"1/{shown} answered"
    phone_page.locator("#q-used_service label:has(input[value='no'])").tap()
    assert phone_page.locator("#count").inner_text() == f"1/{n_always} answered"


def test_without_javascript_the_page_states_the_range_of_questions(live_server, phone_without_js):
    phone_without_js.goto(f"{live_server}/c/04465/health?lang=en")
    n_always = phone_without_js.locator("fieldset[data-main]:not(.cond)").count()
    n_all = phone_without_js.locator("fieldset[data-main]").count()
    assert phone_without_js.locator("#count").inner_text() == (
        f"{n_always} questions, up to {n_all} depending on your answers · about 1 minute"
    )
