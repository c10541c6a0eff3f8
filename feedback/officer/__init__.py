"""Officer and admin pages: dashboard, service points, posters, paper entry, users, audit log."""

from flask import Blueprint
from flask_login import login_required

bp = Blueprint("officer", __name__, url_prefix="/officer")


@bp.before_request
@login_required
def require_login() -> None:
    """Every officer page needs a logged-in staff member."""


from . import api_clients, views  # noqa: E402,F401
