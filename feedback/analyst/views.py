"""Analyst views: thin wrappers over the ranking, scorecard and export services."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale, lazy_gettext
from flask_login import current_user
from markupsafe import Markup

from analysis import DIMENSION_NAMES, SUBDIMENSION_NAMES, get_structure

from ..actions import action_text, answers_label, visible_actions
from ..auth import chosen_province, commune_or_404, loaded_provinces, role_required, staff_province
from . import bp
from .service import CODES, Period, PeriodError, ScoresPending, commune_scorecard, parse_period, province_ranking

ANALYST_ROLES = ("analyst", "admin")
SCORECARD_ACTIONS = 10  # the newest "you said, we did" entries a scorecard lists
GROUP_NAMES = {
    "highest": lazy_gettext("highest"),
    "high-average": lazy_gettext("high-average"),
    "low-average": lazy_gettext("low-average"),
    "lowest": lazy_gettext("lowest"),
}


def _lang() -> str:
    return "vi" if str(get_locale()) == "vi" else "en"


@bp.app_template_filter("flag_codes")
def flag_codes(flags: str | None) -> Markup:
    """``"empty;unreliable:n_eff"`` as the flags' short names in the reader's language, each
    explained on hover (the exports' code kept in ``data-flag``, and beside it in the legend)."""
    return _flag_codes(flags or "", _lang())


@lru_cache(maxsize=1024)
def _flag_codes(flags: str, lang: str) -> Markup:
    # A ranking repeats a few flag strings on every row: each is built once per process and language.
    from ..exports import flag_meaning, flag_name  # the exports load scipy and pandas: with the first page

    return Markup(", ").join(
        Markup('<abbr title="{}" data-flag="{}">{}</abbr>').format(
            flag_meaning(code, lang), code, flag_name(code, lang)
        )
        for code in flags.split(";")
        if code
    )


@bp.app_template_filter("flag_name")
def flag_name_filter(flag: str) -> str:
    """A flag code's short name in the reader's language (``collapsed`` → ``gộp nhóm``)."""
    from ..exports import flag_name

    if flag == "synthetic:k/K":  # the legend's stand-in for every count
        return flag_name("synthetic", _lang()) + ": k/K"
    return flag_name(flag, _lang())


def _group_names() -> dict[str, Markup]:
    """GROUP_NAMES translated once for the page (a lazy string is translated again on every row)."""
    return {group: Markup(name) for group, name in GROUP_NAMES.items()}


def _legend_code(flag: str) -> str:
    """One legend entry for every ``synthetic:k/K`` (the count differs from row to row)."""
    return "synthetic:k/K" if flag.startswith("synthetic:") else flag


@bp.app_template_filter("flag_legend")
def flag_legend(flag_cells: Iterable[str | None]) -> list[tuple[str, str]]:
    """(code, meaning) of every flag in these cells, in the exports' order, for a legend under a table."""
    from ..exports import flag_meaning

    shown = {_legend_code(code) for flags in flag_cells for code in (flags or "").split(";") if code}
    return [(code, flag_meaning(code, _lang())) for code in sorted(shown, key=_flag_order)]


def _flag_order(flag: str) -> tuple[int, int, str]:
    """Sort key: base codes as in FLAG_MEANINGS, each followed by its suffixes in FLAG_SUFFIX_MEANINGS order."""
    from ..exports import FLAG_MEANINGS, FLAG_SUFFIX_MEANINGS

    base, _, suffix = flag.partition(":")
    bases, suffixes = list(FLAG_MEANINGS), list(FLAG_SUFFIX_MEANINGS.get(base, {}))
    return (
        bases.index(base) if base in bases else len(bases),
        -1 if not suffix else suffixes.index(suffix) if suffix in suffixes else len(suffixes),
        flag,
    )


def _province() -> str:
    """The province of the page: the user's own; a national user's choice (``?province=``,
    remembered in the session for the next pages and downloads; default DEFAULT_PROVINCE)."""
    requested = request.args.get("province")
    province_code = chosen_province(current_user, requested or session.get("province"))
    if requested:
        session["province"] = province_code
    return province_code


def _province_choices() -> list[tuple[str, str]]:
    """A national user's province selector (empty for staff of one province)."""
    return loaded_provinces() if staff_province(current_user) is None else []


def _period_or_default() -> Period:
    """The page's period; a bad one is reported on the page, which shows all responses."""
    try:
        return parse_period(request.args)
    except PeriodError as exc:
        flash(str(exc), "error")
        return Period()


#: Seconds between the reloads of the "scores are being computed" page.
PENDING_REFRESH_SECONDS = 5


@bp.errorhandler(ScoresPending)
def scores_pending(exc: ScoresPending):
    """Scores too big to compute in a request are computed by a job: a page that reloads itself."""
    return render_template("analyst/scores_pending.html", refresh=PENDING_REFRESH_SECONDS)


@bp.get("/")
@role_required(*ANALYST_ROLES)
def province():
    """Communes ranked on one dimension (or overall) with their 95% intervals."""
    from ..exports import RESPONSE_FORMATS, SCORE_FORMATS

    code = request.args.get("code", "total")
    structure = get_structure("current")
    if code not in CODES and code not in structure.subdimensions:
        abort(404)
    period = _period_or_default()
    province_code = _province()
    ranking = province_ranking(period, code, province_code=province_code)
    dimension = code.split(".")[0]
    return render_template(
        "analyst/province.html",
        ranking=ranking,
        period=period,
        codes=CODES,
        subcodes=structure[dimension] if dimension in structure else (),
        dimension=dimension,
        names={**DIMENSION_NAMES, **SUBDIMENSION_NAMES},
        group_names=_group_names(),
        score_formats=SCORE_FORMATS,
        response_formats=RESPONSE_FORMATS,
        province_code=province_code,
        provinces=_province_choices(),
    )


@bp.get("/c/<code>")
def scorecard(code: str):
    """A commune's scorecard: officers see their own communes, analysts and admins all."""
    commune = commune_or_404(code)
    period = _period_or_default()
    card = commune_scorecard(commune.code, period, province_code=commune.province_code)
    # What the commune reported doing, as the public sees it (the scorecard is printed and shared).
    actions = [(a, action_text(a, _lang())) for a in visible_actions(commune.code, limit=SCORECARD_ACTIONS)]
    return render_template(
        "analyst/scorecard.html",
        commune=commune,
        card=card,
        period=period,
        sub_names=SUBDIMENSION_NAMES,
        group_names=_group_names(),
        is_analyst=current_user.role in ANALYST_ROLES,
        actions=actions,
        answers=answers_label,
    )


@bp.get("/export/scores.<fmt>")
@role_required(*ANALYST_ROLES)
def export_scores(fmt: str):
    """Old download link (files are built by jobs now): to the export page, period kept."""
    return redirect(url_for("analyst.exports", kind="scores", fmt=fmt, **request.args.to_dict()))


@bp.get("/export/responses.<fmt>")
@role_required(*ANALYST_ROLES)
def export_responses(fmt: str):
    """Old download link (files are built by jobs now): to the export page, period kept."""
    return redirect(url_for("analyst.exports", kind="responses", fmt=fmt, **request.args.to_dict()))
