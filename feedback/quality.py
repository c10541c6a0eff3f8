"""Response-quality flags: too fast, straight-lined, bursts from one device or network, honeypot.

Flagged responses are stored like any other, shown to analysts, and left out of scores by
default. The rules and their numbers are explained in docs/quality.md.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from surveys import Survey

from .extensions import db
from .models import Response

FLAGS = ("too_fast", "straight_lined", "burst", "honeypot")


def client_hashes(remote_addr: str | None, user_agent: str | None, *, day: date) -> tuple[str, str]:
    """Hashes of the network (address) and the device (address + browser) for today only.

    Keyed with the secret key and the date, so they cannot be reversed to an address by
    trying all addresses without the key, and cannot link one day's responses to another's.
    """
    key = f"{current_app.config['SECRET_KEY']}|{day.isoformat()}".encode()
    addr = (remote_addr or "").encode()

    def digest(text: bytes) -> str:
        return hmac.new(key, text, hashlib.sha256).hexdigest()[:16]

    return digest(addr), digest(addr + b"|" + (user_agent or "").encode())


def answer_flags(survey: Survey, clean: dict[str, Any], *, started_at: datetime | None,
                 submitted_at: datetime, honeypot: bool = False) -> list[str]:
    """Flags that follow from one response alone."""
    config = current_app.config
    flags = []
    main = [q for q in survey.main_questions if q.id in clean]
    if started_at is not None:
        seconds = (submitted_at - started_at).total_seconds()
        if seconds < config["QUALITY_SECONDS_PER_ANSWER"] * len(main):
            flags.append("too_fast")
    # Straight-lining: every choice answered at the same position (all first, or all last).
    positions = [
        (q.option_values.index(clean[q.id]), len(q.options))
        for q in main if q.options and q.type != "multiple"
    ]
    if len(positions) >= config["QUALITY_STRAIGHT_MIN_ANSWERS"] and (
        all(i == 0 for i, _ in positions) or all(i == n - 1 for i, n in positions)
    ):
        flags.append("straight_lined")
    if honeypot:
        flags.append("honeypot")
    return flags


def is_burst(*, network_hash: str, device_hash: str, commune_code: str, survey: str,
             service_point_id: int | None, now: datetime) -> bool:
    """Too many responses to one place from one device (or one network) in a short time."""
    config = current_app.config
    since = now - timedelta(minutes=config["QUALITY_BURST_MINUTES"])
    place = (Response.service_point_id == service_point_id) if service_point_id is not None else sa.and_(
        Response.service_point_id.is_(None), Response.commune_code == commune_code, Response.survey == survey)
    recent = sa.select(sa.func.count()).select_from(Response).where(place, Response.received_at >= since)
    by_device = db.session.scalar(recent.where(Response.device_hash == device_hash))
    if by_device >= config["QUALITY_BURST_DEVICE"]:
        return True
    by_network = db.session.scalar(recent.where(Response.network_hash == network_hash))
    return by_network >= config["QUALITY_BURST_NETWORK"]
