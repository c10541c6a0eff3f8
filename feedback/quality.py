"""Response-quality flags: too fast, straight-lined, bursts from one device or network, honeypot.

Flagged responses are stored like any other, shown to analysts, and left out of scores by
default. The rules and their numbers are explained in docs/quality.md.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from surveys import Survey

from .devices import keyed_hash
from .extensions import db
from .models import Response
from .score_cache import bump_commune_data_versions

# "clock": a client time was implausible and the receive time stored instead (feedback/times.py);
# unlike the others it does not leave the response out of scores (bridge.COUNTED_FLAGS).
FLAGS = ("too_fast", "straight_lined", "burst", "honeypot", "clock")


def client_hashes(remote_addr: str | None, *, device_id: str | None, day: date | None = None) -> tuple[str, str | None]:
    """Hashes of the network (the address) and of the device (its random cookie) for one day.

    Keyed with the day's random pepper (``feedback.devices``; default: today in Viet Nam),
    which is destroyed after the day's burst window, so a stored hash can then no longer be
    tied to an address or cookie by anyone, and one day's hashes never link to another's.
    ``device_id`` is the browser's device cookie; None (no cookie) gives no device hash, and
    only the network signal counts. A client without cookies that is one device by nature
    (an API client) passes its address as ``device_id``.
    """
    network = keyed_hash("network", remote_addr or "", day=day)
    device = keyed_hash("device", device_id, day=day) if device_id else None
    return network, device


def answer_flags(
    survey: Survey,
    clean: dict[str, Any],
    *,
    started_at: datetime | None,
    submitted_at: datetime,
    honeypot: bool = False,
) -> list[str]:
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
        (q.option_values.index(clean[q.id]), len(q.options)) for q in main if q.options and q.type != "multiple"
    ]
    if len(positions) >= config["QUALITY_STRAIGHT_MIN_ANSWERS"] and (
        all(i == 0 for i, _ in positions) or all(i == n - 1 for i, n in positions)
    ):
        flags.append("straight_lined")
    if honeypot:
        flags.append("honeypot")
    return flags


def _place(*, commune_code: str, survey: str, service_point_id: int | None) -> sa.ColumnElement[bool]:
    """Responses to one place: the service point, or a commune's survey without one."""
    if service_point_id is not None:
        return Response.service_point_id == service_point_id
    return sa.and_(
        Response.service_point_id.is_(None), Response.commune_code == commune_code, Response.survey == survey
    )


def is_burst(
    *,
    network_hash: str,
    device_hash: str | None,
    commune_code: str,
    survey: str,
    service_point_id: int | None,
    now: datetime,
) -> bool:
    """Too many responses to one place from one device (or one network) in a short time.

    Without a device hash (no device cookie) only the network count applies.
    """
    config = current_app.config
    since = now - timedelta(minutes=config["QUALITY_BURST_MINUTES"])
    place = _place(commune_code=commune_code, survey=survey, service_point_id=service_point_id)
    recent = sa.select(sa.func.count()).select_from(Response).where(place, Response.received_at >= since)
    if device_hash is not None:
        by_device = db.session.scalar(recent.where(Response.device_hash == device_hash))
        if by_device >= config["QUALITY_BURST_DEVICE"]:
            return True
    by_network = db.session.scalar(recent.where(Response.network_hash == network_hash))
    return by_network >= config["QUALITY_BURST_NETWORK"]


def flag_burst_members(
    *,
    response_id: Any,
    network_hash: str | None,
    device_hash: str | None,
    commune_code: str,
    survey: str,
    service_point_id: int | None,
    now: datetime,
) -> int:
    """Flag ``burst`` on the earlier members of the burst a stored response completes.

    The first responses of a flood pass the thresholds before the burst shows; left unflagged,
    the opening ones of every flood would still count. Members are the responses to the same
    place in the window from the same device, once the device is over its threshold (web and
    anonymous API alike), and the anonymous API responses from the same network, once the
    network is over its own (so that random device cookies do not hide a flood; web responses
    on a busy network are left alone). Returns how many were flagged now.
    """
    config = current_app.config
    since = now - timedelta(minutes=config["QUALITY_BURST_MINUTES"])
    place = _place(commune_code=commune_code, survey=survey, service_point_id=service_point_id)
    recent = sa.and_(place, Response.received_at >= since, Response.id != response_id)
    flags = sa.func.coalesce(Response.flags, "")
    by_device = Response.device_hash == device_hash if device_hash is not None else sa.false()
    anonymous_by_network = sa.and_(
        Response.network_hash == network_hash, Response.mode == "api", Response.api_client_id.is_(None)
    )
    unflagged = sa.and_(recent, sa.not_(flags.contains("burst")))
    # Once a flood's opening responses are flagged, every later one finds nothing left to flag:
    # one read, and no write transaction, per response of a flood.
    if (
        db.session.scalar(sa.select(Response.id).where(unflagged, sa.or_(by_device, anonymous_by_network)).limit(1))
        is None
    ):
        return 0

    def over(signal: sa.ColumnElement[bool], threshold: int) -> bool:
        # The response itself is stored already: "at least the threshold before it".
        return db.session.scalar(sa.select(sa.func.count()).where(recent, signal)) >= threshold

    members = []
    if device_hash is not None and over(by_device, config["QUALITY_BURST_DEVICE"]):
        members.append(by_device)
    if network_hash is not None and over(Response.network_hash == network_hash, config["QUALITY_BURST_NETWORK"]):
        members.append(anonymous_by_network)
    if not members:
        return 0
    result = db.session.execute(
        sa.update(Response)
        .where(unflagged, sa.or_(*members))
        .values(flags=sa.case((flags == "", "burst"), else_=flags + ";burst"))
        .execution_options(synchronize_session=False)
    )
    if result.rowcount:
        bump_commune_data_versions(db.session, [commune_code])  # flagged responses leave the scores
    db.session.commit()
    return result.rowcount
