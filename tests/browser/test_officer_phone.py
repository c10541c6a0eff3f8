"""The officers' and admins' pages on a 360 × 640 phone: nothing wider than the screen, retiring
a service point asks first and can be undone, the audit log reads in the officer's language."""

from __future__ import annotations

import pytest

from feedback.extensions import db
from feedback.models import ServicePoint

from ..conftest import OWN_COMMUNE, PASSWORD
from .conftest import assert_accessible, screenshot


def _log_in(page, base, email):
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)


def _wider_than_the_screen(page) -> list[str]:
    """Elements whose right edge passes the phone's 360 px (the page would scroll sideways)."""
    return page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > 360.5)
        .map(e => e.tagName + (e.className ? '.' + e.className : '') + (e.id ? '#' + e.id : '')
              + ' ' + Math.round(e.getBoundingClientRect().right)).slice(0, 8)""")


@pytest.fixture
def points(app, runner):
    result = runner.invoke(args=["seed-demo", "--responses", "300", "--seed", "5"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        return [p.id for p in db.session.execute(db.select(ServicePoint).filter_by(commune_code=OWN_COMMUNE)).scalars()]


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_officer_and_admin_pages_fit_a_phone(live_server, phone, users, points, lang):
    _log_in(phone, live_server, "admin@laocai.test")
    for path in (
        "/officer/",
        f"/officer/c/{OWN_COMMUNE}",
        f"/officer/points/{points[0]}",
        "/officer/audit",
        "/officer/users",
        "/officer/api-clients",
    ):
        assert phone.goto(f"{live_server}{path}?lang={lang}").status == 200, path
        assert not _wider_than_the_screen(phone), path
        assert phone.evaluate("document.documentElement.scrollWidth") <= 360, path
        if path == "/officer/":
            assert {"vi": "(quản trị viên)", "en": "(administrator)"}[lang] in phone.content()  # not "(admin)"
    phone.goto(f"{live_server}/officer/c/{OWN_COMMUNE}?lang={lang}")
    assert_accessible(phone)
    screenshot(phone, f"officer-commune-phone-{lang}")


def test_retiring_asks_first_and_can_be_undone_on_a_phone(app, live_server, phone, users, points):
    _log_in(phone, live_server, "officer@khaomang.test")
    point = points[0]
    phone.goto(f"{live_server}/officer/points/{point}?lang=en")
    phone.get_by_role("link", name="Retire this service point…").click()
    phone.wait_for_url(f"**/officer/points/{point}/retire*")
    assert phone.get_by_role("heading", level=1).inner_text().startswith("Retire “")
    assert_accessible(phone)
    phone.get_by_role("link", name="Cancel").click()
    phone.wait_for_url(f"**/officer/points/{point}")
    with app.app_context():
        assert db.session.get(ServicePoint, point).active
    phone.get_by_role("link", name="Retire this service point…").click()
    phone.get_by_role("button", name="Yes, retire it").click()
    phone.get_by_role("button", name="Put this service point back in use").wait_for()
    with app.app_context():
        assert not db.session.get(ServicePoint, point).active
    phone.get_by_role("button", name="Put this service point back in use").click()
    phone.get_by_role("link", name="Retire this service point…").wait_for()
    with app.app_context():
        assert db.session.get(ServicePoint, point).active
