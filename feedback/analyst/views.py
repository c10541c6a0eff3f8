"""Analyst views: thin wrappers over the ranking, scorecard and export services."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Response as HttpResponse
from flask import abort, current_app, flash, make_response, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user
from markupsafe import Markup

from analysis import DIMENSION_NAMES, SUBDIMENSION_NAMES, get_structure

from .. import audit
from ..auth import commune_or_404, role_required
from ..exports import (
    FLAG_MEANINGS, FLAG_SUFFIX_MEANINGS, RESPONSE_FORMATS, SCORE_FORMATS, build_response_export, build_score_export,
    flag_meaning, response_bytes, score_bytes,
)
from ..extensions import db
from . import bp
from .service import CODES, Period, commune_scorecard, parse_period, province_ranking

ANALYST_ROLES = ("analyst", "admin")
GROUP_NAMES = {
    "highest": lazy_gettext("highest"),
    "high-average": lazy_gettext("high-average"),
    "low-average": lazy_gettext("low-average"),
    "lowest": lazy_gettext("lowest"),
}
MIMETYPES = {
    "csv": "text/csv",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "dta": "application/x-stata-dta",
}


def _lang() -> str:
    return "vi" if str(get_locale()) == "vi" else "en"


@bp.app_template_filter("flag_codes")
def flag_codes(flags: str | None) -> Markup:
    """``"empty;unreliable:n_eff"`` as the exports' codes, each explained on hover in the reader's language."""
    return Markup(", ").join(Markup('<abbr title="{}">{}</abbr>').format(flag_meaning(code, _lang()), code)
                             for code in (flags or "").split(";") if code)


def _legend_code(flag: str) -> str:
    """One legend entry for every ``synthetic:k/K`` (the count differs from row to row)."""
    return "synthetic:k/K" if flag.startswith("synthetic:") else flag


@bp.app_template_filter("flag_legend")
def flag_legend(flag_cells: Iterable[str | None]) -> list[tuple[str, str]]:
    """(code, meaning) of every flag in these cells, in the exports' order, for a legend under a table."""
    shown = {_legend_code(code) for flags in flag_cells for code in (flags or "").split(";") if code}
    return [(code, flag_meaning(code, _lang())) for code in sorted(shown, key=_flag_order)]


def _flag_order(flag: str) -> tuple[int, int, str]:
    """Sort key: base codes as in FLAG_MEANINGS, each followed by its suffixes in FLAG_SUFFIX_MEANINGS order."""
    base, _, suffix = flag.partition(":")
    bases, suffixes = list(FLAG_MEANINGS), list(FLAG_SUFFIX_MEANINGS.get(base, {}))
    return (bases.index(base) if base in bases else len(bases),
            -1 if not suffix else suffixes.index(suffix) if suffix in suffixes else len(suffixes), flag)


PERIOD_MESSAGE = lazy_gettext("Dates must look like 2025-07-01, with the first not after the last.")


def _period_or_default() -> Period:
    """The page's period; a bad one is reported on the page, which shows all responses."""
    try:
        return parse_period(request.args)
    except ValueError:
        flash(str(PERIOD_MESSAGE), "error")
        return Period()


def _period_or_400() -> Period:
    """A download's period; a bad one is a 400, never a file of another period."""
    try:
        return parse_period(request.args)
    except ValueError:
        abort(make_response(render_template("errors/error.html", code=400, message=PERIOD_MESSAGE), 400))


def _download(data: bytes, fmt: str, name: str) -> HttpResponse:
    return HttpResponse(data, mimetype=MIMETYPES[fmt],
                        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'})


@bp.get("/")
@role_required(*ANALYST_ROLES)
def province():
    """Communes ranked on one dimension (or overall) with their 95% intervals."""
    code = request.args.get("code", "total")
    structure = get_structure("current")
    if code not in CODES and code not in structure.subdimensions:
        abort(404)
    period = _period_or_default()
    ranking = province_ranking(period, code, province_code=current_app.config["DEFAULT_PROVINCE"])
    dimension = code.split(".")[0]
    return render_template("analyst/province.html", ranking=ranking, period=period, codes=CODES,
                           subcodes=structure[dimension] if dimension in structure else (), dimension=dimension,
                           names={**DIMENSION_NAMES, **SUBDIMENSION_NAMES}, group_names=GROUP_NAMES, score_formats=SCORE_FORMATS, response_formats=RESPONSE_FORMATS)


@bp.get("/c/<code>")
def scorecard(code: str):
    """A commune's scorecard: officers see their own communes, analysts and admins all."""
    commune = commune_or_404(code)
    period = _period_or_default()
    card = commune_scorecard(commune.code, period, province_code=current_app.config["DEFAULT_PROVINCE"])
    return render_template("analyst/scorecard.html", commune=commune, card=card, period=period,
                           sub_names=SUBDIMENSION_NAMES, group_names=GROUP_NAMES, is_analyst=current_user.role in ANALYST_ROLES)


@bp.get("/export/scores.<fmt>")
@role_required(*ANALYST_ROLES)
def export_scores(fmt: str):
    """Download the scores of a period (commune or province level) in CSV, XLSX, JSON or Stata."""
    level = request.args.get("level", "commune")
    if fmt not in SCORE_FORMATS or level not in ("commune", "province"):
        abort(404)
    period = _period_or_400()
    export = build_score_export(period.date_from, period.date_to, level=level,
                                public=request.args.get("public") == "1",
                                province_code=current_app.config["DEFAULT_PROVINCE"])
    audit.record("data_exported", target=f"scores {level} {fmt}", detail=export.meta())
    db.session.commit()
    return _download(score_bytes(export, fmt), fmt, f"papi-proxy-{level}")


@bp.get("/export/responses.<fmt>")
@role_required(*ANALYST_ROLES)
def export_responses(fmt: str):
    """Download anonymised responses with their codebook (XLSX sheet, Stata labels)."""
    if fmt not in RESPONSE_FORMATS or fmt == "csv":  # CSV needs a second file: the command line writes it
        abort(404)
    period = _period_or_400()
    export = build_response_export(period.date_from, period.date_to)
    audit.record("data_exported", target=f"responses {fmt}",
                 detail={**{k: v for k, v in period.args().items()}, "rows": len(export.responses)})
    db.session.commit()
    return _download(response_bytes(export, fmt)[""], fmt, "responses")
