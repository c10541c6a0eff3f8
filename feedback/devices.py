"""Who sent a survey, without knowing who: a random device cookie and daily hash peppers.

A browser is recognised by a first-party cookie holding a random code (set when a survey page
is served), not by its address or User-Agent: phones of one make share a User-Agent and a
commune's Wi-Fi shares an address. The address stays the network signal, against floods.

Both are stored only as keyed hashes. The key of a Viet Nam calendar day is a random pepper
kept in the ``hash_pepper`` table and destroyed once that day's burst window has passed
(``QUALITY_BURST_MINUTES`` after the day ends): from then on nobody, not even whoever holds
the secret key and a copy of the database, can tie a stored hash to an address or a cookie.
See docs/quality.md.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import date, datetime, timedelta

import click
import sqlalchemy as sa
from flask import after_this_request, current_app, request
from flask.cli import with_appcontext
from sqlalchemy.dialects import postgresql, sqlite

from .extensions import db
from .models import HashPepper, utcnow

__all__ = [
    "DEVICE_COOKIE",
    "device_id",
    "remember_device",
    "local_day",
    "day_key",
    "purge_peppers",
    "keyed_hash",
]

#: The device cookie's name; its value is 128 random bits, URL-safe (22 characters).
DEVICE_COOKIE = "device"
DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{22}")
#: Long-lived, within the 400 days browsers allow.
DEVICE_COOKIE_DAYS = 365
VIETNAM_OFFSET = timedelta(hours=7)  # Asia/Ho_Chi_Minh: UTC+7, no daylight saving time


def device_id() -> str | None:
    """The device code this browser sent, or None (cookies off, first visit, or a forged value)."""
    value = request.cookies.get(DEVICE_COOKIE, "")
    return value if DEVICE_ID.fullmatch(value) else None


def remember_device() -> None:
    """Give a browser without a device code one, on the response to this request.

    HttpOnly (no script reads it), SameSite=Lax (not sent by other sites' forms), Secure when
    the site is served over https; it holds nothing but a random code.
    """
    if device_id() is not None:
        return
    secure = request.is_secure or current_app.config["BASE_URL"].startswith("https://")

    @after_this_request
    def set_cookie(response):
        response.set_cookie(
            DEVICE_COOKIE,
            secrets.token_urlsafe(16),
            max_age=DEVICE_COOKIE_DAYS * 86400,
            httponly=True,
            samesite="Lax",
            secure=secure,
        )
        return response


def local_day(moment: datetime | None = None) -> date:
    """The Viet Nam calendar day of a naive UTC time (default: now)."""
    return ((moment or utcnow()) + VIETNAM_OFFSET).date()


def _expired_before(now: datetime) -> date:
    """Peppers of days before this one are past their burst window and must be gone."""
    return local_day(now - timedelta(minutes=current_app.config["QUALITY_BURST_MINUTES"]))


def day_key(day: date | None = None) -> bytes:
    """The hashing key of a Viet Nam day: its random pepper, bound to the secret key.

    Read from (or created in) the database once per process and day. Creating it is
    race-safe: two workers inserting the same day's pepper at once both end up with the one
    that was stored. Each process, once a day after the burst window has passed, also deletes
    the expired peppers (one small DELETE; ``flask purge-peppers`` does it for an idle site).
    """
    now = utcnow()
    day = day or local_day(now)
    state = current_app.extensions.setdefault("hash_peppers", {"keys": {}, "purged_before": None})
    expired_before = _expired_before(now)
    if state["purged_before"] != expired_before:
        purge_peppers(now)
        state["purged_before"] = expired_before
        state["keys"] = {d: k for d, k in state["keys"].items() if d >= expired_before}
    if day not in state["keys"]:
        if day < expired_before:
            raise ValueError(f"the pepper of {day} has been destroyed")
        pepper = _stored_pepper(day)
        secret = current_app.config["SECRET_KEY"]
        secret = secret if isinstance(secret, bytes) else secret.encode()
        state["keys"][day] = hmac.new(secret, bytes.fromhex(pepper), hashlib.sha256).digest()
    return state["keys"][day]


def _stored_pepper(day: date) -> str:
    """The day's pepper from the database, inserted first if there is none yet."""
    select = sa.select(HashPepper.pepper).where(HashPepper.day == day)
    with db.engine.begin() as conn:  # its own transaction: never commits the caller's session
        pepper = conn.scalar(select)
        if pepper is not None:
            return pepper
        insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(HashPepper)
        conn.execute(insert.values(day=day, pepper=secrets.token_hex(32)).on_conflict_do_nothing())
        # The one stored, ours or a concurrent worker's (READ COMMITTED: this sees its commit).
        return conn.scalar(select)


def purge_peppers(now: datetime | None = None) -> int:
    """Delete the peppers whose day's burst window has passed; returns how many."""
    with db.engine.begin() as conn:
        return conn.execute(sa.delete(HashPepper).where(HashPepper.day < _expired_before(now or utcnow()))).rowcount


def keyed_hash(purpose: str, value: str, *, day: date | None = None) -> str:
    """A 16-character keyed hash of ``value`` under the day's key, separate for each purpose."""
    message = f"{purpose}|{value}".encode("utf-8", "surrogatepass")
    return hmac.new(day_key(day), message, hashlib.sha256).hexdigest()[:16]


@click.command("purge-peppers")
@with_appcontext
def purge_peppers_command() -> None:
    """Destroy the hash peppers of days whose burst window has passed (run daily, e.g. at 00:30)."""
    click.echo(f"{purge_peppers()} expired hash peppers destroyed")
