"""Registered API clients (kiosk tablets, paper-entry tools): issue, list, revoke, recognise.

A client's bearer token is ``secrets.token_urlsafe(32)``, shown once when it is issued; only its
SHA-256 is stored, so a copy of the database gives no working token. How a province sets up a
kiosk is in docs/kiosk.md.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from . import audit
from .extensions import db
from .models import ApiClient, Commune, User, utcnow

__all__ = [
    "LAST_USED_EVERY",
    "authenticate",
    "create_api_client",
    "find_api_client",
    "list_api_clients",
    "may_submit_for",
    "revoke_api_client",
    "token_hash",
]

# last_used_at is written at most this often per client, so a busy kiosk does not turn every
# submission into a second write.
LAST_USED_EVERY = timedelta(minutes=5)
# What a token can look like: URL-safe base64 (token_urlsafe gives 43 characters). Anything
# else is refused before it is hashed or looked up.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{20,200}")
NAME_LENGTH = 80


def token_hash(token: str) -> str:
    """The stored form of a token: its SHA-256 in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def clean_name(name: str) -> str:
    """A client name in NFC without surrounding space; raises ValueError for control or format
    characters (a line break or tab would break list-api-clients' one-line-per-client output)."""
    name = unicodedata.normalize("NFC", name).strip()
    if any(unicodedata.category(ch)[0] == "C" for ch in name):
        raise ValueError("the name must not contain control or format characters (line breaks, tabs…)")
    return name


def find_api_client(name: str) -> ApiClient | None:
    """The client of this name, compared case-insensitively (casefold) in NFC: ``Kiosk1`` and
    ``kiosk1`` are one name. Client lists are short, so the comparison runs in Python."""
    wanted = clean_name(name).casefold()
    return next((c for c in db.session.scalars(sa.select(ApiClient)) if c.name.casefold() == wanted), None)


def create_api_client(
    name: str, commune_codes: list[str] | tuple[str, ...] = (), *, created_by: User | None = None
) -> tuple[ApiClient, str]:
    """Register a client and return it with its token (the only time the token exists in clear).

    No commune listed means every commune of the province (``DEFAULT_PROVINCE``). The client
    and its audit event are added to the session; the caller commits. Raises ``ValueError``
    for an empty, too long or taken name, or an unknown commune code.
    """
    name = clean_name(name)
    if not name or len(name) > NAME_LENGTH:
        raise ValueError(f"the name must be 1 to {NAME_LENGTH} characters")
    if find_api_client(name) is not None:
        raise ValueError(f"an API client named {name!r} exists already (names stay taken after revocation)")
    codes = sorted(set(commune_codes))
    communes = db.session.scalars(sa.select(Commune).where(Commune.code.in_(codes))).all() if codes else []
    unknown = sorted(set(codes) - {c.code for c in communes})
    if unknown:
        raise ValueError(f"unknown commune code: {', '.join(unknown)}")
    token = secrets.token_urlsafe(32)
    client = ApiClient(
        name=name,
        token_hash=token_hash(token),
        communes=communes,
        created_by=created_by.id if created_by is not None else None,
    )
    db.session.add(client)
    audit.record(
        "api_client_created",
        target=name,
        actor=created_by,
        detail={"communes": codes or f"every commune of province {current_app.config['DEFAULT_PROVINCE']}"},
    )
    return client, token


def revoke_api_client(name: str, *, revoked_by: User | None = None) -> ApiClient:
    """End a client's token for good, audited; the caller commits.

    Raises ``ValueError`` for an unknown name or a client revoked already.
    """
    client = find_api_client(name)
    if client is None:
        raise ValueError(f"no API client named {name!r}")
    if client.revoked_at is not None:
        raise ValueError(f"API client {name!r} was already revoked on {client.revoked_at:%Y-%m-%d %H:%M} UTC")
    client.revoked_at = utcnow()
    audit.record("api_client_revoked", target=client.name, actor=revoked_by)
    return client


def list_api_clients() -> list[ApiClient]:
    """Every registered client, active or revoked, by name."""
    return list(db.session.scalars(sa.select(ApiClient).order_by(ApiClient.name)))


def authenticate(token: str) -> ApiClient | None:
    """The active client holding this token, or None (unknown, malformed or revoked).

    The lookup goes by the hash, which tells an attacker nothing about any token's characters;
    the hashes are then compared in constant time all the same. Marks the client as used
    (written at most every ``LAST_USED_EVERY``).
    """
    if not TOKEN_PATTERN.fullmatch(token):
        return None
    digest = token_hash(token)
    client = db.session.execute(sa.select(ApiClient).where(ApiClient.token_hash == digest)).scalar_one_or_none()
    if client is None or not hmac.compare_digest(client.token_hash, digest) or client.revoked_at is not None:
        return None
    now = utcnow()
    if client.last_used_at is None or client.last_used_at < now - LAST_USED_EVERY:
        # Only if no other request did it meanwhile: one short write, never a lost update.
        db.session.execute(
            sa.update(ApiClient)
            .where(
                ApiClient.id == client.id,
                sa.or_(ApiClient.last_used_at.is_(None), ApiClient.last_used_at < now - LAST_USED_EVERY),
            )
            .values(last_used_at=now)
        )
        db.session.commit()
    return client


def may_submit_for(client: ApiClient, commune_code: str) -> bool:
    """Whether a client may send responses for a commune: its own list, or the whole province."""
    if client.communes:
        return any(c.code == commune_code for c in client.communes)
    commune = db.session.get(Commune, commune_code)
    return commune is not None and commune.province_code == current_app.config["DEFAULT_PROVINCE"]
