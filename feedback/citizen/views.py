"""Citizen views: thin wrappers over the survey catalog and the response service."""

from __future__ import annotations

from flask import abort, current_app, redirect, render_template, request, url_for
from flask_babel import get_locale

from surveys import Problem, Survey, catalog

from flask_limiter.util import get_remote_address

from ..extensions import db, limiter
from ..forms import new_state, read_state, survey_form_class
from ..messages import messages_by_question, problem_message
from ..models import Commune, ServicePoint, utcnow
from ..quality import client_hashes
from ..places import active_point, province_communes
from ..responses import receive_web
from . import bp


@bp.get("/")
def index():
    """Landing page: choose commune and service when there is no poster to scan."""
    province = current_app.config["DEFAULT_PROVINCE"]
    return render_template(
        "citizen/index.html",
        communes=province_communes(province),
        surveys=catalog().all_current(),
        error=request.args.get("missing") == "1",
    )


@bp.get("/start")
def start():
    """Send the landing page's choice to the commune's service point for that service."""
    commune = db.session.get(Commune, request.args.get("commune", ""))
    survey = catalog().current(request.args.get("survey", ""))
    if commune is None or survey is None:
        return redirect(url_for(".index", missing=1))
    point = active_point(commune.code, survey.service_area)
    if point is not None:
        return redirect(url_for(".poster", token=point.token))
    return redirect(url_for(".commune_survey", code=commune.code, slug=survey.slug))


def _submit_key() -> str:
    """Limit per client address *and* survey link, so one busy network never blocks all posters."""
    network, _ = client_hashes(get_remote_address(), "", day=utcnow().date())
    return f"{network}|{request.path}"


def _submit_limit() -> str:
    return current_app.config["SUBMIT_LIMIT"]


@bp.route("/s/<token>", methods=["GET", "POST"])
@limiter.limit(_submit_limit, methods=["POST"], key_func=_submit_key)
def poster(token: str):
    """The survey behind a poster's QR code."""
    point = db.session.execute(db.select(ServicePoint).filter_by(token=token)).scalar_one_or_none()
    if point is None:
        abort(404)
    if not point.active:
        survey = catalog().for_area(point.service_area)
        current = active_point(point.commune_code, point.service_area)
        return render_template("citizen/retired.html", point=point, survey=survey, current=current), 410
    return survey_page(catalog().for_area(point.service_area), point.commune, point)


@bp.route("/c/<code>/<slug>", methods=["GET", "POST"])
@limiter.limit(_submit_limit, methods=["POST"], key_func=_submit_key)
def commune_survey(code: str, slug: str):
    """A survey for a commune without a particular service point (landing-page route)."""
    commune = db.get_or_404(Commune, code)
    survey = catalog().current(slug)
    if survey is None:
        abort(404)
    return survey_page(survey, commune, None)


@bp.get("/privacy")
def privacy():
    """The privacy notice shown to citizens."""
    return render_template("citizen/privacy.html")


@bp.get("/thanks/<code>")
def thanks(code: str):
    """Thank-you page that says what happens with the answers."""
    commune = db.get_or_404(Commune, code)
    return render_template("citizen/thanks.html", commune=commune, again=request.args.get("again") == "1")


def survey_page(survey: Survey, commune: Commune, point: ServicePoint | None):
    """Render a survey; on POST check and store it, or show the errors with answers kept."""
    lang = str(get_locale())
    if request.method == "GET":
        form = survey_form_class(survey)(formdata=None)
        form.state.data = new_state(survey)
        return _render(survey, form, commune, point, {})
    state = read_state(request.form.get("state"))
    if state is not None:
        survey = catalog().get(survey.slug, state.version) or survey
    form = survey_form_class(survey)()
    if "switch_lang" in request.form:
        return _render(survey, form, commune, point, {})
    if state is None or not form.validate():
        if state is None:
            form.state.data = new_state(survey)
        return _render(survey, form, commune, point, {"_form": [problem_message(Problem("", "form_expired"))]}, 400)
    _, problems = receive_web(
        survey, form.answers(survey), response_id=state.response_id, started_at=state.started_at,
        commune_code=commune.code, service_point_id=point.id if point else None, lang=lang,
        module=state.module,
        client=client_hashes(request.remote_addr, request.user_agent.string, day=utcnow().date()),
        honeypot=bool(form.website.data),
    )
    if problems:
        errors = messages_by_question(problems)
        return _render(survey, form, commune, point, errors, 422)
    return redirect(url_for(".thanks", code=commune.code), code=303)


def _render(survey, form, commune, point, errors, status=200):
    state = read_state(form.state.data)
    questions = survey.shown(state.module if state else None)
    main = [q for q in questions if not q.respondent]
    return render_template(
        "citizen/survey.html", survey=survey, form=form, commune=commune, point=point, errors=errors,
        main_questions=main, respondent_questions=[q for q in questions if q.respondent],
        numbers={q.id: i for i, q in enumerate(main, start=1)},
    ), status
