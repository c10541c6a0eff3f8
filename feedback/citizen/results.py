"""The public results page of a commune: no log-in, read from the latest published period."""

from __future__ import annotations

from flask import abort, render_template
from flask_babel import get_locale

from ..extensions import db
from ..models import Commune
from ..results import commune_results, period_text, public_settings, score_text, signed_text
from . import bp


@bp.get("/results/<code>")
def results(code: str):
    """A commune's published scores, supported changes and reported actions; 404 when its
    province has switched public pages off."""
    commune = db.get_or_404(Commune, code)
    if not public_settings(commune.province_code).public_results:
        abort(404)
    from ..exports.suppression import MIN_PUBLIC_N  # pandas loads with the first page that needs it

    lang = str(get_locale())
    return render_template(
        "citizen/results.html",
        results=commune_results(commune, lang=lang),
        period_text=period_text,
        score=lambda v: score_text(v, lang),
        signed=lambda v: signed_text(v, lang),
        min_public_n=MIN_PUBLIC_N,
    )
