"""Citizen pages: landing, survey by poster link or by commune, thank-you, public commune results."""

from flask import Blueprint

bp = Blueprint("citizen", __name__)

from . import results, views  # noqa: E402,F401
