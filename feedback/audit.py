"""The audit log: who changed users and service points, printed posters, entered paper forms."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flask import has_request_context
from flask_babel import lazy_gettext
from flask_login import current_user

from .extensions import db
from .models import AuditEvent, User

ACTIONS = (
    "login",
    "login_failed",
    "logout",
    "user_created",
    "user_changed",
    "point_created",
    "point_renamed",
    "point_retired",
    "point_reactivated",
    "token_reissued",
    "posters_printed",
    "paper_entered",
    "data_exported",
    "api_client_created",
    "api_client_revoked",
    "period_published",
    "public_settings_changed",
    "action_created",
    "action_changed",
    "action_hidden",
    "action_unhidden",
    "digests_sent",
)

#: What each action is called on the audit page (the stored codes stay English, for queries).
ACTION_LABELS = {
    "login": lazy_gettext("Logged in"),
    "login_failed": lazy_gettext("Failed log-in"),
    "logout": lazy_gettext("Logged out"),
    "user_created": lazy_gettext("Account created"),
    "user_changed": lazy_gettext("Account changed"),
    "point_created": lazy_gettext("Service point created"),
    "point_renamed": lazy_gettext("Service point renamed"),
    "point_retired": lazy_gettext("Service point retired"),
    "point_reactivated": lazy_gettext("Service point back in use"),
    "token_reissued": lazy_gettext("New poster link"),
    "posters_printed": lazy_gettext("Posters printed"),
    "paper_entered": lazy_gettext("Paper form typed in"),
    "data_exported": lazy_gettext("Data exported"),
    "api_client_created": lazy_gettext("API client registered"),
    "api_client_revoked": lazy_gettext("API client revoked"),
    "period_published": lazy_gettext("Period published"),
    "public_settings_changed": lazy_gettext("Public results settings changed"),
    "digests_sent": lazy_gettext("Weekly digests sent"),
    "action_created": lazy_gettext("Action reported (you said, we did)"),
    "action_changed": lazy_gettext("Reported action changed"),
    "action_hidden": lazy_gettext("Reported action hidden"),
    "action_unhidden": lazy_gettext("Reported action shown again"),
}

#: Names of the keys found in events' details; a key not listed is shown as stored.
DETAIL_LABELS = {
    "role": lazy_gettext("role"),
    "communes": lazy_gettext("communes"),
    "active": lazy_gettext("active"),
    "before": lazy_gettext("before"),
    "after": lazy_gettext("after"),
    "password_changed": lazy_gettext("password changed"),
    "via": lazy_gettext("through"),
    "delayed": lazy_gettext("next try delayed (s)"),
    "size": lazy_gettext("size"),
    "pages": lazy_gettext("pages"),
    "from": lazy_gettext("from"),
    "to": lazy_gettext("to"),
    "service_area": lazy_gettext("service"),
    "old_token": lazy_gettext("old poster link"),
    "level": lazy_gettext("level"),
    "structure": lazy_gettext("structure"),
    "excluded_low_quality": lazy_gettext("low-quality responses left out"),
    "public": lazy_gettext("public"),
    "min_public_n": lazy_gettext("smallest public count"),
    "proxy": lazy_gettext("kind"),
    "format": lazy_gettext("format"),
    "kind": lazy_gettext("kind"),
    "rows": lazy_gettext("rows"),
    "survey": lazy_gettext("survey"),
    "mode": lazy_gettext("channel"),
    "province": lazy_gettext("province"),
    "include_flagged": lazy_gettext("low-quality responses included"),
    "revision": lazy_gettext("revision"),
    "note": lazy_gettext("note"),
    "respondents": lazy_gettext("responses"),
    "checksum": lazy_gettext("checksum"),
    "public_results": lazy_gettext("public results pages"),
    "public_ranking": lazy_gettext("public ranking"),
    "week": lazy_gettext("week"),
    "sent": lazy_gettext("sent"),
    "failed": lazy_gettext("refused by the mail server"),
    "unconfirmed": lazy_gettext("unconfirmed"),
    "title_vi": lazy_gettext("title (Vietnamese)"),
    "text_vi": lazy_gettext("text (Vietnamese)"),
    "title_en": lazy_gettext("title (English)"),
    "text_en": lazy_gettext("text (English)"),
    "done_on": lazy_gettext("done on"),
    "service_point_id": lazy_gettext("service point (number)"),
    "dimension": lazy_gettext("PAPI area"),
}

#: What the stored targets' first words ("service point 12: …") say in the reader's language.
TARGET_KINDS = {
    "service point": lazy_gettext("service point"),
    "commune": lazy_gettext("commune"),
    "province": lazy_gettext("province"),
    "response": lazy_gettext("response"),
    "published period": lazy_gettext("published period"),
    "action": lazy_gettext("reported action"),
}

#: Actions that only a web request makes, by someone not (yet) logged in.
_WEB_ONLY = frozenset({"login_failed"})


def record(
    action: str,
    *,
    target: str = "",
    commune_code: str | None = None,
    detail: dict[str, Any] | None = None,
    actor: User | None = None,
) -> AuditEvent:
    """Add an audit event to the session; the caller's commit stores it with the change itself.

    ``actor`` defaults to the logged-in user; outside a request (CLI) it is None.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    if actor is None and has_request_context():
        if current_user.is_authenticated:
            actor = current_user._get_current_object()
        elif action not in _WEB_ONLY:  # e.g. an API client's request: not the command line
            detail = {**(detail or {}), "via": "web"}
    event = AuditEvent(
        action=action,
        target=target[:120],
        commune_code=commune_code,
        detail=json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail else "",
        user_id=actor.id if actor is not None else None,
    )
    db.session.add(event)
    return event


def latest_events(page: int, *, per_page: int = 50, action: str | None = None, province_code: str | None = None):
    """One page of audit events, newest first; with ``province_code``, only the province's:
    events about its communes, or done by its staff (``feedback.auth.in_province``)."""
    query = db.select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if action:
        query = query.where(AuditEvent.action == action)
    if province_code is not None:
        from .auth import in_province
        from .models import Commune

        query = query.where(
            sa.or_(
                AuditEvent.commune_code.in_(sa.select(Commune.code).where(Commune.province_code == province_code)),
                AuditEvent.user_id.in_(sa.select(User.id).where(in_province(province_code))),
            )
        )
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


def actor_label(event: AuditEvent) -> str:
    """Who did it: the account's e-mail, "web visitor" for an anonymous web request, else "command line"."""
    if event.user is not None:
        return event.user.email
    if event.action in _WEB_ONLY or _details(event.detail).get("via") == "web":
        return str(lazy_gettext("web visitor (not logged in)"))
    return str(lazy_gettext("command line"))


def target_label(target: str) -> str:
    """The stored target with its kind ("service point", "commune" …) in the reader's language."""
    for kind, label in TARGET_KINDS.items():
        if target.startswith(kind + " "):
            return f"{label}{target[len(kind) :]}"
    return target


def _details(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _value_text(value: Any) -> str:
    if value is True:
        return str(lazy_gettext("yes"))
    if value is False:
        return str(lazy_gettext("no"))
    if value is None:
        return "–"
    if isinstance(value, dict):
        return "; ".join(f"{label}: {text}" for label, text in describe(value))
    if isinstance(value, list):
        return ", ".join(_value_text(v) for v in value)
    return str(value)


def describe(detail: str | dict[str, Any]) -> list[tuple[str, str]]:
    """An event's details as (label, value) pairs in the reader's language, in stored key order.

    ``detail`` is the stored JSON text (or its object); text that is not a JSON object is shown
    as one unnamed value.
    """
    if isinstance(detail, str):
        parsed = _details(detail)
        if not parsed and detail.strip() not in ("", "{}"):
            return [("", detail)]
        detail = parsed
    return [(str(DETAIL_LABELS.get(key, key)), _value_text(value)) for key, value in detail.items()]
