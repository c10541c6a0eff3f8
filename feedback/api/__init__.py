"""JSON API v1 for kiosks, offline clients, paper-entry tools and outside checks."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from . import views  # noqa: E402,F401  (routes register on bp)
