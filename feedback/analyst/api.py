"""``GET /api/v1/scores``: the score export's rows as JSON, for analysts and admins."""

from __future__ import annotations

from flask import abort, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user

from .. import audit
from ..api import bp as api_bp
from ..auth import chosen_province
from ..extensions import db
from .service import ScoresPending, parse_period, score_export

ANALYST_ROLES = ("analyst", "admin")
#: Retry-After of the 503 answered while a job computes the scores (seconds).
RETRY_AFTER_SECONDS = 30


@api_bp.get("/scores")
def scores():
    """Scores per commune × code (``level=commune``) or the province roll-up, as in export-scores."""
    if not current_user.is_authenticated:
        return jsonify({"errors": [{"field": "", "message": _("Log in as an analyst to read scores.")}]}), 401
    if current_user.role not in ANALYST_ROLES:
        abort(403)
    level = request.args.get("level", "commune")
    structure = request.args.get("structure", "current")
    try:
        if level not in ("commune", "province"):
            raise ValueError(_("level must be commune or province"))
        if structure not in ("current", "2018"):
            raise ValueError(_("structure must be current or 2018"))
        if request.args.get("public", "0") not in ("0", "1") or len(request.args.getlist("public")) > 1:
            raise ValueError(_("public must be 0 or 1"))
        period = parse_period(request.args)
    except ValueError as exc:
        return jsonify({"errors": [{"field": "query", "message": str(exc)}]}), 400
    # The account's own province (another one is a 404); a national account chooses with ?province=.
    province_code = chosen_province(current_user, request.args.get("province"))
    from ..exports import score_records  # pandas loads with the first request that needs it

    try:
        export = score_export(
            period,
            level=level,
            structure=structure,
            public=request.args.get("public") == "1",
            province_code=province_code,
        )
    except ScoresPending:  # a big scope with nothing cached yet: a job computes it meanwhile
        message = _("The scores are being computed; try again in a minute.")
        return jsonify({"errors": [{"field": "", "message": message}]}), 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}
    audit.record("data_exported", target=f"scores {level} json (api)", detail=export.meta())
    db.session.commit()
    return jsonify(score_records(export))
