"""The audit log: who changed users and service points, printed posters, entered paper forms."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flask import has_request_context
from flask_login import current_user

from .extensions import db
from .models import AuditEvent, User

ACTIONS = (
    "login", "login_failed", "logout", "user_created", "user_changed", "point_created", "point_renamed",
    "point_retired", "token_reissued", "posters_printed", "paper_entered", "data_exported",
    "api_client_created", "api_client_revoked",
)


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
    if actor is None and has_request_context() and current_user.is_authenticated:
        actor = current_user._get_current_object()
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

        query = query.where(sa.or_(
            AuditEvent.commune_code.in_(sa.select(Commune.code).where(Commune.province_code == province_code)),
            AuditEvent.user_id.in_(sa.select(User.id).where(in_province(province_code))),
        ))
    return db.paginate(query, page=page, per_page=per_page, error_out=False)
