"""The weekly digest: its figures, the dashboard panel, and ``send-digests`` through a real local
SMTP server (aiosmtpd) whose received messages are read back with the standard ``email`` package."""

from __future__ import annotations

import email
import email.policy
import re
import socket
import uuid
from contextlib import closing
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from feedback.digests import Scope, build_digest, last_week, week_of
from feedback.extensions import db
from feedback.models import Answer, AuditEvent, DigestSent, Response, ServicePoint, User
from feedback.times import day_start
from surveys import catalog

from .conftest import BASE_URL, OTHER_COMMUNE, OWN_COMMUNE

WEEK = date(2025, 11, 24)  # a Monday
PORTS = range(5760, 5770)  # this test file's ports


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts, or refuses them all with ``refuse``."""

    def __init__(self, refuse: str | None = None):
        self.messages: list[email.message.EmailMessage] = []
        self.refuse = refuse

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        if self.refuse:
            return self.refuse
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    for port in PORTS:
        with closing(socket.socket()) as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError(f"no free port in {PORTS}")


@pytest.fixture
def smtp(app):
    """Start a real SMTP server on this file's ports and point the app's mail settings at it."""
    servers = []

    def start(refuse: str | None = None) -> Inbox:
        inbox = Inbox(refuse)
        controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
        controller.start()  # returns once the server answers
        servers.append(controller)
        app.config.update(
            MAIL_SERVER="127.0.0.1",
            MAIL_PORT=controller.port,
            MAIL_DEFAULT_SENDER="Phản hồi công dân <digest@poster.test>",
        )
        return inbox

    yield start
    for controller in servers:
        controller.stop()


def _point(app, commune: str, name: str, *, created_days_before: int = 200, active: bool = True) -> int:
    with app.app_context():
        point = ServicePoint(
            commune_code=commune,
            service_area="one_stop",
            name=name,
            active=active,
            created_at=day_start(WEEK) - timedelta(days=created_days_before),
        )
        db.session.add(point)
        db.session.commit()
        return point.id


def _response(
    app, commune: str, point_id: int | None, at: datetime, *, comment: str | None = None, payment: str | None = None
) -> None:
    """A response submitted and received at ``at`` (naive UTC), with a comment or an informal-payment answer."""
    rid = uuid.uuid4()
    survey = catalog().current("one-stop")
    with app.app_context():
        db.session.add(
            Response(
                id=rid,
                survey=survey.slug,
                survey_version=survey.version,
                commune_code=commune,
                service_point_id=point_id,
                lang="vi",
                mode="web",
                started_at=at,
                submitted_at=at,
                received_at=at,
                content_hash="test",
            )
        )
        db.session.flush()
        if comment:
            db.session.add(Answer(response_id=rid, question_id="comment", value=comment))
        if payment:
            db.session.add(
                Answer(
                    response_id=rid,
                    question_id="informal_payment",
                    value=payment,
                    subdimension="4.1",
                    score=0.0 if payment == "yes" else 1.0,
                )
            )
        db.session.commit()


def _in_week(days: float, week: date = WEEK) -> datetime:
    return day_start(week) + timedelta(days=days, hours=3)


@pytest.fixture
def week_data(app, users):
    """Khao Mang: a busy point with comments and many informal-payment reports, a point silent for
    20 days, a new point and a retired one; Phường Lào Cai: responses, few reports."""
    busy = _point(app, OWN_COMMUNE, "Bộ phận một cửa Khao Mang")
    silent = _point(app, OWN_COMMUNE, "Trạm Y tế Khao Mang")
    _point(app, OWN_COMMUNE, "Điểm mới", created_days_before=3)  # too new to be silent
    _point(app, OWN_COMMUNE, "Điểm cũ", active=False)  # retired: not silent
    other = _point(app, OTHER_COMMUNE, "Bộ phận một cửa phường Lào Cai")
    for day in range(6):
        _response(app, OWN_COMMUNE, busy, _in_week(day), payment="yes")
    _response(app, OWN_COMMUNE, busy, _in_week(1), comment="Cán bộ nhiệt tình", payment="no")
    _response(app, OWN_COMMUNE, busy, _in_week(2), comment="Phải chờ lâu", payment="no")
    for week_back in range(1, 5):  # 8 responses in the 4 weeks before: a mean of 2
        for _ in range(2):
            _response(app, OWN_COMMUNE, busy, _in_week(1, WEEK - timedelta(days=7 * week_back)))
    _response(app, OWN_COMMUNE, silent, _in_week(-35))  # 41 days before the week's end
    for i in range(40):
        _response(app, OTHER_COMMUNE, other, _in_week(i % 7), payment="yes" if i == 0 else "no")
    _response(app, OWN_COMMUNE, busy, _in_week(9), comment="Tuần sau")  # after the week: not counted
    return {"busy": busy, "silent": silent, "other": other}


def test_the_digest_week_is_the_last_monday_to_sunday_that_ended_in_viet_nam():
    # Monday 24/11 at 00:30 in Viet Nam is Sunday 23/11 17:30 UTC: the week 17–23/11 has just ended.
    assert last_week(datetime(2025, 11, 23, 17, 30)) == date(2025, 11, 17)
    assert last_week(datetime(2025, 11, 23, 16, 59)) == date(2025, 11, 10)  # still Sunday there
    assert last_week(datetime(2025, 11, 30, 12, 0)) == date(2025, 11, 17)
    assert week_of(date(2025, 11, 30)) == week_of(date(2025, 11, 24)) == WEEK


def test_digest_figures_of_an_officers_commune(app, week_data):
    with app.app_context():
        digest = build_digest(Scope(communes=(OWN_COMMUNE,)), WEEK)
    assert [(u.code, u.week, u.previous_mean) for u in digest.units] == [(OWN_COMMUNE, 8, 2.0)]
    assert [p.id for p in digest.silent] == [week_data["silent"]] and digest.silent_total == 1
    assert digest.silent[0].last_response == WEEK - timedelta(days=35)
    assert digest.comment_total == 2
    # Anonymous as on the dashboards: day only, and alphabetical within a day.
    assert [(c.text, c.day) for c in digest.comments] == [
        ("Phải chờ lâu", WEEK + timedelta(days=2)),
        ("Cán bộ nhiệt tình", WEEK + timedelta(days=1)),
    ]
    assert not hasattr(digest.comments[0], "response_id")
    # 6 of 8 against 1 of 40 in the rest of the province: a warning for Khao Mang's point only.
    [warning] = digest.warnings
    assert (warning.id, warning.reports, warning.answers) == (week_data["busy"], 6, 8)
    assert warning.province_rate == pytest.approx(1 / 40)
    assert digest.changes is None  # nothing published: the section is left out


def test_an_analyst_gets_the_province_view(app, week_data):
    with app.app_context():
        digest = build_digest(Scope(provinces=("15",)), WEEK)
    assert [(u.code, u.week) for u in digest.units] == [("15", 48)]
    assert digest.comment_total == 2 and [w.id for w in digest.warnings] == [week_data["busy"]]
    with app.app_context():
        other = build_digest(Scope(communes=(OTHER_COMMUNE,)), WEEK)
    assert other.warnings == [] and other.silent == [] and other.comment_total == 0


def test_a_week_must_start_on_a_monday(app):
    with app.app_context(), pytest.raises(ValueError, match="Monday"):
        build_digest(Scope(communes=(OWN_COMMUNE,)), WEEK + timedelta(days=1))


def _parts(message) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return text, html


def test_send_digests_sends_each_account_one_email_in_both_languages(app, runner, users, week_data, smtp):
    inbox = smtp()
    with app.app_context():
        inactive = User(email="old@laocai.test", role="analyst", password_hash="x", active=False)
        db.session.add(inactive)
        db.session.commit()
    result = runner.invoke(args=["send-digests", "--week", "2025-11-27"])  # a Thursday: its week
    assert result.exit_code == 0, result.output
    assert "4 sent" in result.output
    recipients = sorted(m["To"] for m in inbox.messages)
    assert recipients == sorted(u["email"] for u in users.values())  # the inactive account gets none
    officer = next(m for m in inbox.messages if m["To"] == "officer@khaomang.test")
    assert officer["Subject"] == "Bản tin tuần 24/11–30/11/2025 · Weekly digest, 24/11–30/11/2025"
    assert officer["From"] == "Phản hồi công dân <digest@poster.test>" and officer["Auto-Submitted"] == "auto-generated"
    text, html = _parts(officer)
    vietnamese, english = text.split("-" * 40)
    assert "Phản hồi trong tuần: 8 (trung bình 4 tuần trước: 2)" in vietnamese
    assert "Responses this week: 8 (mean of the 4 weeks before: 2)" in english
    for part in (vietnamese, english):
        assert "Trạm Y tế Khao Mang" in part and "Phải chờ lâu" in part and "Tuần sau" not in part
        assert f"{BASE_URL}/officer/points/{week_data['silent']}" in part
        assert "Bộ phận một cửa Khao Mang" in part  # the informal-payment warning
        assert "phường Lào Cai" not in part  # another commune's point
    assert "Điểm thanh toán không chính thức" not in text
    assert "Thanh toán không chính thức" in vietnamese and "Informal payments" in english
    assert "6 / 8" not in text and "6 of 8 people" in english and "6 trong 8 người" in vietnamese
    assert f"{BASE_URL}/officer/c/{OWN_COMMUNE}" in text
    # HTML: both languages, phone-readable, no outside files; every link goes to BASE_URL.
    assert html.index('lang="vi"') < html.index('lang="en"')
    assert 'name="viewport"' in html and "<img" not in html and "<link" not in html and "<script" not in html
    assert set(re.findall(r'(?:href|src)="(https?://[^/"]+)', html)) == {BASE_URL}
    analyst = next(m for m in inbox.messages if m["To"] == "analyst@laocai.test")
    analyst_text = _parts(analyst)[0]  # a national account: the nation's figures (one province loaded here)
    assert "Responses this week: 48" in analyst_text and "Every province" in analyst_text

    again = runner.invoke(args=["send-digests", "--week", "2025-11-24"])
    assert again.exit_code == 0, again.output
    assert "0 sent, 4 skipped (sent before)" in again.output
    assert len(inbox.messages) == 4
    with app.app_context():
        rows = db.session.scalars(sa.select(DigestSent)).all()
        assert len(rows) == 4 and all(r.week == WEEK and r.sent_at is not None for r in rows)
        events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "digests_sent")).all()
        assert len(events) == 1 and '"sent": 4' in events[0].detail


def test_a_refusing_server_marks_nothing_sent_and_the_next_run_sends(app, runner, users, week_data, smtp):
    smtp(refuse="451 4.3.0 Try again later")
    result = runner.invoke(args=["send-digests", "--week", "2025-11-24"])
    assert result.exit_code == 1
    assert "0 sent" in result.output and "4 refused by the server" in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(DigestSent)) == 0
    inbox = smtp()
    retry = runner.invoke(args=["send-digests", "--week", "2025-11-24"])
    assert retry.exit_code == 0, retry.output
    assert "4 sent" in retry.output and len(inbox.messages) == 4


def test_an_unreachable_server_claims_nothing(app, runner, users, week_data):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=_free_port(), MAIL_DEFAULT_SENDER="digest@poster.test")
    result = runner.invoke(args=["send-digests", "--week", "2025-11-24"])
    assert result.exit_code == 1 and "Cannot reach the mail server" in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(DigestSent)) == 0


def test_email_is_off_by_default(app, runner, users, week_data):
    assert not app.config["MAIL_SERVER"]
    result = runner.invoke(args=["send-digests"])
    assert result.exit_code == 0 and "E-mail is off" in result.output
    dry = runner.invoke(args=["send-digests", "--dry-run", "--week", "2025-11-24"])
    assert dry.exit_code == 0 and "4 digests would be sent" in dry.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(DigestSent)) == 0


def test_mail_on_without_a_sender_says_so(app, runner, users):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=_free_port())
    result = runner.invoke(args=["send-digests"])
    assert result.exit_code == 1 and "FLASK_MAIL_DEFAULT_SENDER" in result.output


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_dashboard_shows_the_digest_panel(app, client, auth, users, lang):
    week = last_week()
    busy = _point(app, OWN_COMMUNE, "Bộ phận một cửa Khao Mang")
    silent = _point(app, OWN_COMMUNE, "Trạm Y tế Khao Mang")
    for day in range(3):
        _response(app, OWN_COMMUNE, busy, _in_week(day, week), comment=f"Góp ý {day}")
    auth.login("officer@khaomang.test")
    html = client.get(f"/officer/c/{OWN_COMMUNE}?lang={lang}").get_data(as_text=True)
    # The panel shows the last week that has ended (the one e-mailed), said so, with its dates.
    heading = {"vi": "Bản tin tuần trước", "en": "Last week's digest"}[lang]
    assert heading in html and f"{week:%d/%m}–" in html
    panel = html.split('id="digest-title"', 1)[1].split("</section>", 1)[0]
    responses = {"vi": "Phản hồi: 3", "en": "Responses: 3"}[lang]
    assert f"<h3>{responses}</h3>" in panel
    assert f'/officer/points/{silent}"' in panel and "Trạm Y tế Khao Mang" in panel
    assert {"vi": "Góp ý mới: 3", "en": "New comments: 3"}[lang] in panel
    auth.logout()
    auth.login("analyst@laocai.test")
    html = client.get(f"/officer/?lang={lang}").get_data(as_text=True)
    assert heading in html and responses in html
