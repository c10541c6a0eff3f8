"""Security headers on every response, and the checks production must pass before it serves."""

from __future__ import annotations

from flask import Flask, Response, current_app, request, session
from flask.helpers import get_debug_flag

from .config import DEV_SECRET_KEY

# No inline script anywhere; inline <style> is allowed because survey pages inline their CSS
# to save a round trip on 3G.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


# Pages and downloads behind the staff log-in: never kept by a browser or proxy (a shared office
# computer's back button or disk cache must not show them after log-out).
STAFF_BLUEPRINTS = ("auth", "officer", "analyst")
# A secret key shorter than this, or of fewer distinct characters, is refused in production.
MIN_SECRET_KEY_LENGTH = 32
MIN_SECRET_KEY_SYMBOLS = 8


def set_headers(response: Response) -> Response:
    """Security headers; ``Cache-Control: no-store`` on staff pages and for logged-in staff."""
    if request.blueprint in STAFF_BLUEPRINTS:
        response.headers["Cache-Control"] = "no-store"
    elif (
        request.endpoint != "static"
        and current_app.config["SESSION_COOKIE_NAME"] in request.cookies
        and session.get("_user_id") is not None
    ):
        # e.g. the scores API: whatever answers a staff session is not for caches either.
        response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # Poster links carry tokens: never leak a URL to another site.
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


# The only environment names that are not production. Any other value, whatever its spelling
# (``Production``, ``production ``, ``prod``, a typo), gets every production check: a mistyped
# name must not quietly turn them off.
NON_PRODUCTION_ENV_NAMES = ("development", "testing")


def is_production(app: Flask) -> bool:
    """Whether the production checks apply: FLASK_ENV_NAME set to anything but development/testing."""
    name = app.config.get("ENV_NAME")
    if name is None:
        return False
    return str(name).strip().lower() not in NON_PRODUCTION_ENV_NAMES


def secret_key_problem(key: object) -> str | None:
    """What makes a secret key unfit for production, or None."""
    if not key or key == DEV_SECRET_KEY:
        return "is not set (it is the development key)"
    if not isinstance(key, (str, bytes)):
        # e.g. FLASK_SECRET_KEY=1234…: Flask's from_prefixed_env reads it as a JSON number.
        return f"is not text (read as {type(key).__name__}; FLASK_ settings are parsed as JSON)"
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return f"is too short ({len(key)} characters)"
    if len(set(key)) < MIN_SECRET_KEY_SYMBOLS:
        return f"is guessable (only {len(set(key))} different characters)"
    if (key + key).find(key, 1) < len(key):
        return "is guessable (a short pattern repeated)"
    return None


def check_production(app: Flask) -> None:
    """Production (``FLASK_ENV_NAME`` other than development/testing) needs debug off, a real
    secret key and BASE_URL."""
    if not is_production(app):
        return
    if app.debug or app.config.get("DEBUG") or get_debug_flag():
        raise RuntimeError(
            "debug mode must be off in production (FLASK_DEBUG, --debug): "
            "its debugger lets anyone who reaches an error page run code on the server"
        )
    problem = secret_key_problem(app.config.get("SECRET_KEY"))
    if problem:
        raise RuntimeError(
            f"SECRET_KEY {problem}: production needs at least {MIN_SECRET_KEY_LENGTH} random bytes, "
            "e.g. python -c 'import secrets; print(secrets.token_hex(32))'"
        )
    if not app.config.get("BASE_URL_SET"):
        raise RuntimeError("BASE_URL must be set in production: the public address of the site")
    app.config.update(SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True)


def init_app(app: Flask) -> None:
    check_production(app)
    app.after_request(set_headers)
