"""Outgoing e-mail over SMTP, set by the ``MAIL_*`` settings (README); off while ``MAIL_SERVER`` is unset.

The standard library's ``smtplib`` and ``email`` do the work: they are maintained with Python
itself, speak STARTTLS and AUTH, and build MIME messages; the only sender is a command run
by a timer, which needs no Flask extension around them (and so no extra dependency).
"""

from __future__ import annotations

import smtplib
import ssl
from urllib.parse import urlsplit

from flask import current_app

__all__ = ["MAIL_TIMEOUT", "MailSettingsError", "close_smtp", "mail_enabled", "message_domain", "open_smtp", "sender"]

#: Seconds to wait for the mail server at each step before giving up.
MAIL_TIMEOUT = 30


class MailSettingsError(ValueError):
    """E-mail is on (``MAIL_SERVER`` set) but another setting it needs is missing or wrong."""


def mail_enabled() -> bool:
    """Whether e-mail is on: ``MAIL_SERVER`` is set."""
    return bool(current_app.config.get("MAIL_SERVER"))


def sender() -> str:
    """The From address (``MAIL_DEFAULT_SENDER``); required once e-mail is on."""
    value = current_app.config.get("MAIL_DEFAULT_SENDER")
    if not value or not isinstance(value, str):
        raise MailSettingsError(
            "set FLASK_MAIL_DEFAULT_SENDER (the From address, e.g. "
            "'Phản hồi công dân <noreply@example.vn>') to send e-mail"
        )
    return value


def message_domain() -> str:
    """The domain of Message-IDs: the host of ``BASE_URL`` (no DNS look-up of this machine's name)."""
    return urlsplit(current_app.config["BASE_URL"]).hostname or "localhost"


def open_smtp() -> smtplib.SMTP:
    """A connection to ``MAIL_SERVER``:``MAIL_PORT``, upgraded with STARTTLS when ``MAIL_USE_TLS``
    and logged in when ``MAIL_USERNAME`` is set. Raises ``OSError`` or ``smtplib.SMTPException``."""
    config = current_app.config
    try:
        port = int(config.get("MAIL_PORT") or 25)
    except (TypeError, ValueError):
        raise MailSettingsError(f"FLASK_MAIL_PORT must be a port number, not {config.get('MAIL_PORT')!r}") from None
    server = smtplib.SMTP(str(config["MAIL_SERVER"]), port, timeout=MAIL_TIMEOUT)
    try:
        if config.get("MAIL_USE_TLS"):
            server.starttls(context=ssl.create_default_context())
        if config.get("MAIL_USERNAME"):
            server.login(str(config["MAIL_USERNAME"]), str(config.get("MAIL_PASSWORD") or ""))
    except BaseException:
        server.close()
        raise
    return server


def close_smtp(server: smtplib.SMTP | None) -> None:
    """Say QUIT politely; a server that has gone away is simply closed."""
    if server is None:
        return
    try:
        server.quit()
    except (smtplib.SMTPException, OSError):
        server.close()
