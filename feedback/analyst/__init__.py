"""Analyst pages (province ranking, commune scorecards, exports) and the scores API route."""

from flask import Blueprint
from flask_login import login_required

bp = Blueprint("analyst", __name__, url_prefix="/analyst")


@bp.before_request
@login_required
def require_login() -> None:
    """Every analyst page needs a logged-in staff member; roles are checked per view."""


from . import api, export_jobs, published_views, views  # noqa: E402,F401  (routes register on bp and on the API blueprint)
