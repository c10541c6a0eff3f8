"""Published periods on the analyst side: list the snapshots, publish a period or a revision,
export a snapshot. The snapshots themselves are made and read by ``feedback.published``."""

from __future__ import annotations

from datetime import date, timedelta

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..auth import chosen_province, role_required
from ..extensions import db
from ..published import PublishRefused, check_period, latest_published, publish_period, published_periods
from ..times import local_day, now_seconds
from . import bp
from .export_jobs import ANALYST_ROLES
from .service import Period, PeriodError, ScoresPending, _score_tables, parse_period

NOTE_MAX = 2000


def last_quarter(today: date) -> tuple[date, date]:
    """The last calendar quarter that has ended by ``today`` (Viet Nam days)."""
    start_month = 3 * ((today.month - 1) // 3) + 1
    this_quarter = date(today.year, start_month, 1)
    end = this_quarter - timedelta(days=1)
    return date(end.year, end.month - 2, 1), end


def _page(province_code: str, values: dict, *, error: str | None = None, status: int = 200):
    snapshots = published_periods(province_code)
    latest = latest_published(province_code)
    return render_template(
        "analyst/published.html",
        snapshots=snapshots,
        latest=latest,
        values=values,
        error=error,
        province_code=province_code,
        formats=_formats(),
    ), status


def _formats() -> tuple[str, ...]:
    from ..exports import SCORE_FORMATS

    return tuple(SCORE_FORMATS)


@bp.get("/published")
@role_required(*ANALYST_ROLES)
def published():
    """The province's published periods (every revision), and the form to publish one."""
    province_code = chosen_province(current_user, request.args.get("province"))
    start, end = last_quarter(local_day(now_seconds()))
    return _page(province_code, {"from": start.isoformat(), "to": end.isoformat(), "note": ""})


@bp.post("/published")
@role_required(*ANALYST_ROLES)
def publish():
    """Freeze a period's scores (a new revision when it was published before: a note is needed)."""
    province_code = chosen_province(current_user, request.form.get("province"))
    values = {k: request.form.get(k, "") for k in ("from", "to", "note")}
    try:
        period = parse_period(request.form)
    except PeriodError as exc:
        return _page(province_code, values, error=str(exc), status=400)
    if period.date_from is None or period.date_to is None:
        return _page(
            province_code, values, error=_("Please give the first and the last day of the period."), status=400
        )
    note = values["note"].strip()
    if len(note) > NOTE_MAX:
        return _page(
            province_code, values, error=_("The note is too long (at most %(n)s characters).", n=NOTE_MAX), status=400
        )
    try:
        check_period(period.date_from, period.date_to, today=local_day(now_seconds()))
    except PublishRefused as exc:
        return _page(province_code, values, error=_refusal(exc.code, period), status=409)
    if not _scores_ready(period, province_code):
        return _page(
            province_code,
            values,
            status=409,
            error=_("The scores of this period are being computed. Please publish again in a few minutes."),
        )
    try:
        snapshot = publish_period(
            period.date_from, period.date_to, province_code=province_code, note=note, user_id=current_user.id
        )
    except PublishRefused as exc:
        return _page(province_code, values, error=_refusal(exc.code, period), status=409)
    db.session.commit()
    flash(
        _(
            "Published %(period)s, revision %(n)s.",
            period=f"{snapshot.date_from} – {snapshot.date_to}",
            n=snapshot.revision,
        )
    )
    return redirect(url_for("analyst.published", province=province_code), 303)


def _refusal(code: str, period: Period) -> str:
    """Why a period cannot be published, in the reader's language."""
    if code == "not_over":
        return _(
            "This period has not ended yet, so its answers are not all in. It can be published from %(day)s on.",
            day=(period.date_to + timedelta(days=1)).isoformat(),
        )
    if code == "empty":
        return _("No response counts in this period, so there is nothing to publish.")
    if code == "note_needed":
        return _("This period was published before: a new revision needs a note saying what changed and why.")
    if code == "ends_before_start":
        return _(
            "The first day (%(first)s) is after the last (%(last)s).",
            first=period.date_from.isoformat(),
            last=period.date_to.isoformat(),
        )
    return _("Someone else published this period just now. Please try again.")


def _scores_ready(period: Period, province_code: str) -> bool:
    """Whether publishing can compute or read the period's scores within this request: a small
    scope (under ``SCORES_INLINE_MAX_RESPONSES``) always; a larger one once its cached scores
    are current (otherwise their computation is started in the background)."""
    from flask import current_app

    from ..score_cache import scope_responses

    if (
        scope_responses(period.date_from, period.date_to, province_code)
        < current_app.config["SCORES_INLINE_MAX_RESPONSES"]
    ):
        return True
    try:
        return not _score_tables(period, province_code).stale
    except ScoresPending:
        return False
