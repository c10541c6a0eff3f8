"""Officer and admin pages: dashboard, service points, posters, paper entry, users, audit log."""

from flask import Blueprint
from flask_login import login_required

from ..charts import daily_bars

bp = Blueprint("officer", __name__, url_prefix="/officer")
bp.add_app_template_filter(daily_bars, "daily_bars")  # the dashboards' bar chart (templates/officer/_chart.html)


@bp.before_request
@login_required
def require_login() -> None:
    """Every officer page needs a logged-in staff member."""


from . import api_clients, commune_actions, settings, views  # noqa: E402,F401
