"""What the API checks besides the answers: readable text, who is sending, and quality flags.

Anonymous clients get the web form's checks (docs/quality.md, "The API"): speed, straight
lines, a honeypot field and the burst flag, with the client's address standing for its device
(a device cookie proves nothing when a script sends it). Registered clients (feedback/api_clients.py) are
attributed instead and skip the burst flag.
"""

from __future__ import annotations

import re
from typing import Any

from flask import request

from .. import quality
from ..quality import answer_flags, client_hashes, is_burst
from ..responses import Submission

__all__ = ["BAD_TEXT", "bad_text_fields", "flag_burst_members", "quality_flags", "shown"]

# Not text: a lone surrogate (UTF-16 half of a pair, which JSON's \u escapes can spell and
# json.loads accepts, but no UTF-8 text holds) and NUL (which PostgreSQL text cannot store).
BAD_TEXT = re.compile("[\ud800-\udfff\x00]")
FIELD_NAME_LENGTH = 60


def shown(text: str) -> str:
    """A key as an error may name it: bad code points replaced, cut to a sensible length."""
    return BAD_TEXT.sub("\ufffd", text)[:FIELD_NAME_LENGTH]


def bad_text_fields(body: Any) -> list[str]:
    """The fields of a JSON document holding a string, key or value, that is not valid text.

    Fields are named by their keys joined with dots (``commune``, ``answers.q3``,
    ``extra.a.b``); list items count as their list; a bad key names itself and hides its
    value. A document that is itself a bad string is ``body``. In document order, once each.
    """
    found: list[str] = []
    stack: list[tuple[str | None, Any]] = [(None, body)]  # depth-first without recursion: any depth
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if BAD_TEXT.search(value):
                found.append("body" if path is None else path)
        elif isinstance(value, list):
            stack.extend((path, item) for item in reversed(value))
        elif isinstance(value, dict):
            for key, item in reversed(list(value.items())):
                name = shown(key) if path is None else f"{path}.{shown(key)}"
                if BAD_TEXT.search(key):
                    found.append(name)
                else:
                    stack.append((name, item))
    return list(dict.fromkeys(found))


def quality_flags(sub: Submission, *, registered: bool, honeypot: bool) -> list[str]:
    """The quality flags of an API submission; sets its network and device hashes if anonymous.

    Everyone: ``too_fast``, ``straight_lined`` and ``honeypot`` (the ``website`` field filled).
    Anonymous clients also: ``too_fast`` without a start time (its speed cannot be shown, and
    the web form always has one), and ``burst``, with the address as the device.
    """
    # Speed is the time the client measured: a clock that is wrong by the same amount at start
    # and submit (and so replaced by the receive time, feedback/times.py) still measures it.
    started_at, submitted_at = sub.sent_times or (sub.started_at, sub.submitted_at)
    flags = answer_flags(sub.survey, sub.answers, started_at=started_at, submitted_at=submitted_at, honeypot=honeypot)
    if registered:
        return flags
    if started_at is None and "too_fast" not in flags:
        flags.append("too_fast")
    address = request.remote_addr or ""
    # The address is the device: a device cookie the server issued to a browser proves nothing
    # when a script sends it (it can send a fresh random one with every POST).
    sub.network_hash, sub.device_hash = client_hashes(address, device_id=address)
    if is_burst(
        network_hash=sub.network_hash,
        device_hash=sub.device_hash,
        commune_code=sub.commune_code,
        survey=sub.survey.slug,
        service_point_id=sub.service_point_id,
        now=sub.received_at,
    ):
        flags.append("burst")
    return flags


def flag_burst_members(sub: Submission) -> int:
    """Flag the earlier members of the burst this stored response completes (quality.py)."""
    return quality.flag_burst_members(
        response_id=sub.id,
        network_hash=sub.network_hash,
        device_hash=sub.device_hash,
        commune_code=sub.commune_code,
        survey=sub.survey.slug,
        service_point_id=sub.service_point_id,
        now=sub.received_at,
    )
