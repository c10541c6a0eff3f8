"""``send-digests``: the week's digest e-mailed to every active staff account, at most once.

Each (account, week) is claimed by inserting its :class:`~feedback.models.DigestSent` row in a
transaction of its own, committed *before* the message goes to the mail server; ``sent_at`` is
set once the server has accepted it. A second run (or one running at the same time) finds the
row, or fails to insert it, and sends nothing: no double e-mails.

When the server refuses a message (an SMTP error reply), the claim is deleted: nothing was
delivered, and the next run sends it. When the outcome is unknown (the connection broke while
the message was being handed over, or the process died), the claim stays without ``sent_at``
and is *not* retried: a digest may then be lost, never sent twice (at most once; the next
week's comes anyway). Such claims are counted as "unconfirmed" by every later run.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

import click
import sqlalchemy as sa
from flask import current_app, render_template
from flask.cli import with_appcontext
from flask_babel import force_locale
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy.exc import IntegrityError

from .. import audit
from ..extensions import db
from ..mail import MailSettingsError, close_smtp, mail_enabled, message_domain, open_smtp, sender
from ..models import DigestSent, User, utcnow
from .build import TEMPLATE_HELPERS, Digest, build_digest, last_week, scope_of, week_of

__all__ = ["SendReport", "compose", "digest_links", "render_digest", "send_digests", "send_digests_command"]

LANGUAGES = ("vi", "en")  # a staff account has no language of its own: Vietnamese first, English below


@dataclass
class SendReport:
    """What a run did: ``sent`` now, ``already`` sent (or claimed) by an earlier run, ``skipped``
    (nothing to report: an officer without communes), ``failed`` (refused by the server: retried
    next run), ``unconfirmed`` (claimed, outcome unknown: not retried), ``would_send`` (dry run)."""

    week: date
    sent: int = 0
    already: int = 0
    skipped: int = 0
    failed: int = 0
    unconfirmed: int = 0
    would_send: int = 0
    #: The mail server could not be reached (or refused the log-in): the run stopped there.
    unreachable: bool = False
    error: str = ""


def digest_links(digest: Digest, user: User | None = None) -> dict[str, Any]:
    """Absolute links (``BASE_URL``) for an e-mail: the dashboard and each service point's page."""
    base = current_app.config["BASE_URL"]
    adapter = current_app.url_map.bind("localhost")

    def link(endpoint: str, **values: Any) -> str:
        return base + adapter.build(endpoint, values)

    if digest.scope.communes and len(digest.scope.communes) == 1:
        dashboard = link("officer.commune", code=digest.scope.communes[0])
    elif digest.scope.provinces and not digest.scope.national:
        dashboard = link("officer.index", province=digest.scope.provinces[0])
    else:
        dashboard = link("officer.index")
    return {"dashboard": dashboard, "point": lambda point_id: link("officer.point", point_id=point_id)}


def render_digest(digest: Digest, template: str, lang: str, **extra: Any) -> str:
    """One language's part of the e-mail (``template`` is ``email/_digest.txt`` or ``.html``)."""
    with force_locale(lang):
        return render_template(template, digest=digest, lang=lang, **TEMPLATE_HELPERS, **extra)


def subject(digest: Digest) -> str:
    """Both languages' subject: "Bản tin tuần 24/11–30/11/2025 · Weekly digest, 24/11–30/11/2025"."""
    week = f"{digest.week:%d/%m}–{digest.week_end:%d/%m/%Y}"
    parts = []
    for lang in LANGUAGES:
        with force_locale(lang):
            parts.append(_("Weekly digest, %(week)s", week=week))
    return " · ".join(parts)


def compose(user: User, digest: Digest, *, from_address: str, now: datetime | None = None) -> EmailMessage:
    """The digest e-mail to ``user``: plain text and simple HTML, each Vietnamese then English."""
    links = digest_links(digest, user)
    texts = [render_digest(digest, "email/_digest.txt", lang, links=links) for lang in LANGUAGES]
    bodies = [Markup(render_digest(digest, "email/_digest.html", lang, links=links)) for lang in LANGUAGES]
    message = EmailMessage()
    message["Subject"] = subject(digest)
    message["From"] = from_address
    message["To"] = user.email
    message["Date"] = format_datetime((now or utcnow()).replace(tzinfo=UTC))
    message["Message-ID"] = make_msgid("digest", domain=message_domain())
    # RFC 3834: an automatic message; out-of-office replies should not answer it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(("\n\n" + "-" * 40 + "\n\n").join(text.strip() for text in texts) + "\n")
    with force_locale(LANGUAGES[0]):
        html = render_template("email/digest.html", bodies=bodies, title=message["Subject"])
    message.add_alternative(html, subtype="html")
    return message


def send_digests(week: date, *, dry_run: bool = False) -> SendReport:
    """E-mail ``week``'s digest to every active staff account that has not had it (see the module's
    docstring for the claims); audited as ``digests_sent`` unless nothing was attempted."""
    report = SendReport(week=week)
    users = list(db.session.scalars(sa.select(User).where(User.active).order_by(User.id)))
    claimed = dict(
        db.session.execute(sa.select(DigestSent.user_id, DigestSent.sent_at).where(DigestSent.week == week)).all()
    )
    cache: dict[Any, Any] = {}
    server: smtplib.SMTP | None = None
    # A dry run builds every message (so it shows what would fail) without needing mail settings.
    from_address = current_app.config.get("MAIL_DEFAULT_SENDER") or "dry-run@localhost" if dry_run else sender()
    try:
        for user in users:
            if user.id in claimed:
                if claimed[user.id] is None:
                    report.unconfirmed += 1
                else:
                    report.already += 1
                continue
            scope = scope_of(user)
            if scope is None:
                report.skipped += 1
                continue
            message = compose(user, build_digest(scope, week, cache=cache), from_address=from_address)
            if dry_run:
                report.would_send += 1
                continue
            try:
                server = _ready(server)
            except (smtplib.SMTPException, OSError) as exc:
                report.unreachable = True  # nothing claimed for this account or the ones after it
                report.error = _reason(exc)
                break
            if not _claim(user.id, week):
                report.already += 1
                continue
            try:
                server.send_message(message)
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException) as exc:
                _release(user.id, week)  # refused: nothing delivered, the next run tries again
                report.failed += 1
                report.error = _reason(exc)
                continue
            except (smtplib.SMTPException, OSError) as exc:
                report.unconfirmed += 1  # maybe delivered: kept claimed, never sent twice
                report.error = _reason(exc)
                server = None
                break
            _mark_sent(user.id, week)
            report.sent += 1
    finally:
        close_smtp(server)
        if not dry_run and (report.sent or report.failed or report.unconfirmed):
            db.session.rollback()
            audit.record(
                "digests_sent",
                target=f"week {week.isoformat()}",
                detail={
                    "week": week.isoformat(),
                    "sent": report.sent,
                    "failed": report.failed,
                    "unconfirmed": report.unconfirmed,
                },
            )
            db.session.commit()
    return report


def _ready(server: smtplib.SMTP | None) -> smtplib.SMTP:
    """The open connection, checked with NOOP before a claim is taken; a new one if it has gone."""
    if server is not None:
        try:
            if server.noop()[0] == 250:
                return server
        except (smtplib.SMTPException, OSError):
            pass
        close_smtp(server)
    return open_smtp()


def _claim(user_id: int, week: date) -> bool:
    """Insert and commit the account's claim on the week; False if another run holds it."""
    db.session.add(DigestSent(user_id=user_id, week=week, claimed_at=utcnow()))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


def _release(user_id: int, week: date) -> None:
    db.session.execute(
        sa.delete(DigestSent).where(
            DigestSent.user_id == user_id, DigestSent.week == week, DigestSent.sent_at.is_(None)
        )
    )
    db.session.commit()


def _mark_sent(user_id: int, week: date) -> None:
    db.session.execute(
        sa.update(DigestSent).where(DigestSent.user_id == user_id, DigestSent.week == week).values(sent_at=utcnow())
    )
    db.session.commit()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{exc.smtp_code} {text}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{rcpt}: {code}" for rcpt, (code, _msg) in exc.recipients.items())
    return f"{type(exc).__name__}: {exc}"


@click.command("send-digests")
@with_appcontext
@click.option(
    "--week",
    "week_day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Any day of the week (Monday–Sunday, Viet Nam) to send; default: the week that ended last.",
)
@click.option("--dry-run", is_flag=True, help="Build every digest and say how many would go; send and claim nothing.")
def send_digests_command(week_day: datetime | None, dry_run: bool) -> None:
    """E-mail the week's digest to every active staff account, once (safe to run twice)."""
    week = week_of(week_day.date()) if week_day else last_week()
    span = f"{week:%Y-%m-%d} – {week + timedelta(days=6):%Y-%m-%d}"
    if not mail_enabled() and not dry_run:
        click.echo(
            f"E-mail is off (FLASK_MAIL_SERVER is not set): no digests sent for {span}. "
            "Dashboards show the digest all the same."
        )
        return
    try:
        if not dry_run:
            sender()
        report = send_digests(week, dry_run=dry_run)
    except MailSettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    if dry_run:
        click.echo(
            f"Week {span}: {report.would_send} digests would be sent; {report.already} sent before, "
            f"{report.skipped} skipped (nothing to report). Dry run: nothing sent."
        )
        return
    click.echo(
        f"Week {span}: {report.sent} sent, {report.already} skipped (sent before), "
        f"{report.skipped} skipped (nothing to report), {report.failed} refused by the server "
        f"(retried next run), {report.unconfirmed} unconfirmed (not retried)."
    )
    if report.unreachable:
        click.echo(
            f"Cannot reach the mail server ({report.error}): the digests not sent stay unclaimed; run again later.",
            err=True,
        )
    elif report.error:
        click.echo(f"Last error from the mail server: {report.error}", err=True)
    if report.failed or report.unreachable or (report.unconfirmed and report.error):
        raise SystemExit(1)
