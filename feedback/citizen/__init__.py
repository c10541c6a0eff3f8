"""Citizen pages: landing, survey by poster link or by commune, thank-you."""

from flask import Blueprint

bp = Blueprint("citizen", __name__)

from . import views  # noqa: E402,F401
