"""The weekly digest e-mail as a phone's mail app shows it: its HTML part at 360 px wide,
readable without sideways scrolling, in Vietnamese then English (and the README's picture)."""

from __future__ import annotations

from feedback.digests import Scope, build_digest
from feedback.digests.send import compose
from feedback.extensions import db
from feedback.models import User

from ..conftest import OWN_COMMUNE
from ..test_digests import WEEK, week_data  # noqa: F401 - the fixture
from .conftest import screenshot


def test_the_digest_email_reads_on_a_phone(app, users, week_data, phone):  # noqa: F811
    with app.app_context():
        officer = db.session.get(User, users["officer"]["id"])
        message = compose(
            officer, build_digest(Scope(communes=(OWN_COMMUNE,)), WEEK), from_address="bantin@laocai.test"
        )
        html = message.get_body(preferencelist=("html",)).get_content()
    phone.set_content(html)
    body = phone.locator("body")
    text = body.inner_text()
    # The week's figures, the silent service point, the payment warning: in both languages.
    assert "Trạm Y tế Khao Mang" in text and "Bộ phận một cửa Khao Mang" in text
    assert "Phản hồi trong tuần: 8" in text and "Open the dashboard" in text
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the e-mail is {width} px wide on a 360 px phone"
    screenshot(phone, "digest-email-phone")
