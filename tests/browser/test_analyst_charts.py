"""Analyst and officer charts and tabs on a 360 × 640 phone and at desktop size: named dimension
tabs that fit the screen, round axis ticks whose labels lie inside the chart, flags in Vietnamese."""

from __future__ import annotations

import math

import pytest

from feedback.extensions import db
from feedback.models import Response

from ..conftest import OWN_COMMUNE, PASSWORD
from .conftest import screenshot, screenshot_path

#: Every <text> of every chart: its text, the box it is drawn in and the chart's viewBox (user units).
SVG_TEXTS = """() => [...document.querySelectorAll('svg.intervals, svg.chart')].map(svg => {
    const vb = svg.viewBox.baseVal;
    return {cls: svg.getAttribute('class'), width: vb.width, height: vb.height,
            texts: [...svg.querySelectorAll('text')].map(t => {
                const b = t.getBBox();
                return {text: t.textContent, x: b.x, y: b.y, right: b.x + b.width, bottom: b.y + b.height,
                        tick: t.parentNode === svg};
            })};
})"""


def _log_in(page, base, email):
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)


def _assert_round(labels: list[str]) -> None:
    """Evenly spaced by 1, 2 or 5 × a power of ten, each a multiple of that step."""
    values = [float(x) for x in labels]
    assert len(values) >= 2, labels
    step = values[1] - values[0]
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(math.isclose(mantissa, m) for m in (1, 2, 5)), labels
    for a, b in zip(values, values[1:], strict=False):
        assert math.isclose(b - a, step, rel_tol=1e-6), labels
    assert all(math.isclose(v / step, round(v / step), abs_tol=1e-6) for v in values), labels


def _check_charts(page, *, least: int = 1) -> int:
    """Every chart's tick labels are round; every text of it lies inside its viewBox. Returns the charts seen."""
    charts = page.evaluate(SVG_TEXTS)
    assert len(charts) >= least
    for chart in charts:
        ticks = [t["text"] for t in chart["texts"] if t["tick"]]
        _assert_round(ticks)
        for t in chart["texts"]:
            assert t["x"] >= -0.5 and t["right"] <= chart["width"] + 0.5, (chart["cls"], t)
            assert t["y"] >= -0.5 and t["bottom"] <= chart["height"] + 0.5, (chart["cls"], t)
    return len(charts)


def _wider_than(page, width: int) -> list[str]:
    return page.evaluate(f"""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > {width} + 0.5 && !e.closest('.scroll'))
        .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).slice(0, 8)""")


@pytest.fixture
def busiest(app, runner):
    """A province of demo responses; the commune with the most of them."""
    result = runner.invoke(args=["seed-demo", "--responses", "1500", "--seed", "3"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        return db.session.execute(
            db.select(Response.commune_code).group_by(Response.commune_code).order_by(db.func.count().desc()).limit(1)
        ).scalar_one()


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_analyst_tabs_are_named_and_chart_ticks_round_and_inside(request, live_server, users, busiest, size):
    page = request.getfixturevalue(size)
    width = page.viewport_size["width"]
    _log_in(page, live_server, users["analyst"]["email"])
    for code in ("total", "6", "6.1", "2"):
        page.goto(f"{live_server}/analyst/?code={code}&lang=vi")
        tabs = page.locator("nav.tabs").first.locator("a")
        texts = tabs.all_inner_texts()
        assert texts[1].startswith("1") and "Tham gia của người dân ở cấp cơ sở" in texts[1], texts
        assert "Quản trị điện tử" in texts[8], texts
        for i in range(tabs.count()):  # every tab on the screen, none cut off at the side
            box = tabs.nth(i).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, (texts[i], box)
        if "." in code or code != "total":
            sub = page.locator("nav.tabs").nth(1).locator("a").all_inner_texts()
            assert sub and all(len(t) > 4 for t in sub), sub  # "6.1 Tiếp cận …", not "6.1"
        assert _wider_than(page, width) == []
        _check_charts(page)
        if code in ("total", "6.1"):  # the tabs and the chart as the reader sees them, to look at
            screenshot(page, f"analyst-province-{code}-{size}")
            page.locator("nav.tabs").first.screenshot(path=screenshot_path(f"analyst-tabs-{code}-{size}"))
            page.locator("figure.chart").screenshot(path=screenshot_path(f"analyst-chart-{code}-{size}"))
    page.goto(f"{live_server}/analyst/?code=6&lang=en")
    assert "Public Service Delivery" in page.locator("nav.tabs a[aria-current]").first.inner_text()
    page.goto(f"{live_server}/analyst/c/{busiest}?lang=vi")
    _check_charts(page)
    assert _wider_than(page, width) == []
    page.locator("figure.chart").screenshot(path=screenshot_path(f"scorecard-chart-{size}"))


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_officer_daily_chart_has_round_ticks_inside(request, live_server, users, busiest, size):
    page = request.getfixturevalue(size)
    _log_in(page, live_server, users["officer"]["email"])
    page.goto(f"{live_server}/officer/c/{OWN_COMMUNE}?lang=vi")
    assert _check_charts(page) == 1
    page.locator("svg.chart").screenshot(path=screenshot_path(f"officer-chart-{size}"))


def test_flags_read_in_vietnamese_on_a_phone(live_server, phone, users, busiest):
    """The flag cells and legend show names, not the exports' English codes (those stay in <code>)."""
    _log_in(phone, live_server, users["analyst"]["email"])
    phone.goto(f"{live_server}/analyst/?code=6.1&lang=vi")
    cells = phone.locator("td.flags abbr")
    assert cells.count() > 0
    codes = {"empty", "unweighted", "collapsed", "not_raked", "trimmed", "unreliable", "synthetic", "suppressed"}
    for text in cells.all_inner_texts()[:50]:
        assert not {word.strip(":,") for word in text.split()} & codes, text
    legend = phone.locator("ul.flag-legend li b").all_inner_texts()
    assert legend and not set(legend) & codes
