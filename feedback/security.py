"""Security headers on every response, and the checks production must pass before it serves."""

from __future__ import annotations

from flask import Flask, Response

from .config import DEV_SECRET_KEY

# No inline script anywhere; inline <style> is allowed because survey pages inline their CSS
# to save a round trip on 3G.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


def set_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # Poster links carry tokens: never leak a URL to another site.
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def check_production(app: Flask) -> None:
    """Production (``FLASK_ENV_NAME=production``) needs a real secret key and BASE_URL."""
    if app.config.get("ENV_NAME") != "production":
        return
    if app.config["SECRET_KEY"] in (None, "", DEV_SECRET_KEY):
        raise RuntimeError("SECRET_KEY must be set in production (it is the development key)")
    if not app.config.get("BASE_URL_SET"):
        raise RuntimeError("BASE_URL must be set in production: the public address of the site")
    app.config.update(SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True)


def init_app(app: Flask) -> None:
    check_production(app)
    app.after_request(set_headers)
