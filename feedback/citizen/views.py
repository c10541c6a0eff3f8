"""Citizen views: thin wrappers over the survey catalog and the response service."""

from __future__ import annotations

from datetime import timedelta

from flask import abort, current_app, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_limiter.util import get_remote_address

from surveys import Problem, Survey, catalog

from ..actions import thanks_actions
from ..devices import device_id, keyed_hash, remember_device
from ..extensions import db, limiter
from ..forms import FormState, fresh_state, new_state, read_state, survey_form_class
from ..messages import messages_by_question, problem_message
from ..models import Commune, Response, ServicePoint, utcnow
from ..places import active_point, province_communes
from ..quality import client_hashes
from ..responses import receive_web
from ..results import public_settings
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
        chosen=request.args.get("commune", ""),  # kept from the thank-you page or a form sent half-filled
    )


@bp.get("/start")
def start():
    """Send the landing page's choice to the commune's service point for that service."""
    commune = db.session.get(Commune, request.args.get("commune", ""))
    survey = catalog().current(request.args.get("survey", ""))
    if commune is None or survey is None:
        return redirect(url_for(".index", missing=1, commune=commune.code if commune else None))
    point = active_point(commune.code, survey.service_area)
    if point is not None:  # marked, so that the response counts as the landing page's, not a scan
        return redirect(url_for(".poster", token=point.token, via="landing"))
    return redirect(url_for(".commune_survey", code=commune.code, slug=survey.slug))


def _submit_key() -> str:
    """Limit per client address *and* survey link, so one busy network never blocks all posters.

    The address is hashed with the day's pepper (destroyed after the day), never kept as is.
    """
    return f"{keyed_hash('limit', get_remote_address() or '')}|{request.path}"


def _submit_limit() -> str:
    return current_app.config["SUBMIT_LIMIT"]


@bp.route("/s/<token>", methods=["GET", "POST"])
@limiter.limit(_submit_limit, methods=["POST"], key_func=_submit_key)
def poster(token: str):
    """The survey behind a poster's QR code.

    A form opened while the poster was in use is still accepted for ``POSTER_GRACE_HOURS`` after
    it was opened, though the poster was retired or its link re-issued meanwhile; later its
    answers are offered, on screen, to the commune's current survey.
    """
    point = db.session.execute(db.select(ServicePoint).filter_by(token=token)).scalar_one_or_none()
    state = read_state(request.form.get("state")) if request.method == "POST" else None
    if point is None and state is not None and state.point_id is not None and state.opened_from(token):
        point = db.session.get(ServicePoint, state.point_id)  # the poster's link was re-issued since
    if point is None:
        abort(404)
    gone = "poster_retired" if not point.active else "poster_replaced" if point.token != token else None
    if gone is None or (state is not None and state.point_id == point.id and _in_grace(state)):
        return survey_page(catalog().for_area(point.service_area), point.commune, point)
    # A retired point may have a sibling of the same service in use; a re-issued link never
    # leads to the point's new link (it was re-issued because the old one was misused).
    other = active_point(point.commune_code, point.service_area) if gone == "poster_retired" else None
    if request.method == "GET":
        survey = catalog().for_area(point.service_area)
        return render_template("citizen/retired.html", point=point, survey=survey, other=other, gone=gone), 410
    current = (catalog().for_area(point.service_area), point.commune, other)
    if state is not None and state.point_id != point.id:  # a form of another page sent here
        return _send_elsewhere(state, _home(state) or current, "wrong_survey", 409)
    return _send_elsewhere(state, current, gone, 410)


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
    """Thank-you page that says what happens with the answers, and what the service point just
    answered about (kept in the signed session by ``_thanks``) changed after feedback."""
    commune = db.get_or_404(Commune, code)
    point, actions = thanks_actions(commune.code, session.get(THANKS_POINT), str(get_locale()))
    return render_template(
        "citizen/thanks.html",
        commune=commune,
        again=request.args.get("again") == "1",
        public_results=public_settings(commune.province_code).public_results,
        point=point,
        actions=actions,
    )


# The session key naming the service point of the latest response, for its thank-you page. The
# session is signed, so it cannot be changed to show another place; and unlike the address, it
# leaves no trace in the browser's history of which service someone answered about.
THANKS_POINT = "thanks_point"


def _thanks(commune_code: str, point_id: int | None):
    """Redirect to the commune's thank-you page, remembering which service point was answered about."""
    if point_id is None:
        session.pop(THANKS_POINT, None)
    else:
        session[THANKS_POINT] = point_id
    return redirect(url_for(".thanks", code=commune_code), code=303)


def survey_page(survey: Survey, commune: Commune, point: ServicePoint | None):
    """Render a survey; on POST check and store it, or show the errors with answers kept."""
    lang = str(get_locale())
    remember_device()
    if request.method == "GET":
        form = survey_form_class(survey)(formdata=None)
        form.state.data, sent = _filling(survey, commune, point)
        return _render(survey, form, commune, point, {}, sent=sent)
    if "new_response" in request.form:
        _forget_filling()
        return redirect(request.full_path.rstrip("?"), code=303)  # ?via=landing stays
    state = read_state(request.form.get("state"))
    if state is not None and not _opened_here(state, survey, commune, point):
        return _send_elsewhere(state, _home(state) or (survey, commune, point), "wrong_survey", 409)
    if state is not None:
        survey = catalog().get(survey.slug, state.version) or survey
    form = survey_form_class(survey)()
    if state is None:
        form.state.data, _ = _filling(survey, commune, point)
    if "switch_lang" in request.form:
        return _render(survey, form, commune, point, {}, sent=state is not None and _stored(state))
    if state is None or not form.validate():
        return _render(survey, form, commune, point, {"_form": [problem_message(Problem("", "form_expired"))]}, 400)
    _, problems = receive_web(
        survey,
        form.answers(survey),
        response_id=state.response_id,
        started_at=state.started_at,
        commune_code=commune.code,
        service_point_id=point.id if point else None,
        lang=lang,
        module=state.module,
        via=state.via,
        client=client_hashes(request.remote_addr, device_id=device_id()),
        honeypot=bool(form.website.data),
    )
    if any(p.code == "sent_changed" for p in problems):  # kept, under a new id, never dropped
        form.state.data = fresh_state(state)
        _keep_filling(request.path, form.state.data)
        return _render(survey, form, commune, point, {}, 409, moved=problem_message(problems[0]))
    if problems:
        errors = messages_by_question(problems)
        return _render(survey, form, commune, point, errors, 422)
    return _thanks(commune.code, point.id if point else None)


def _render(survey, form, commune, point, errors, status=200, *, sent=False, moved=None, action=None):
    state = read_state(form.state.data)
    questions = survey.shown(state.module if state else None)
    main = [q for q in questions if not q.respondent]
    return render_template(
        "citizen/survey.html",
        survey=survey,
        form=form,
        commune=commune,
        point=point,
        errors=errors,
        main_questions=main,
        respondent_questions=[q for q in questions if q.respondent],
        numbers={q.id: i for i, q in enumerate(main, start=1)},
        sent=problem_message(Problem("", "already_sent")) if sent else None,
        moved=moved,
        action=action,
    ), status


# A filling begun more than this long ago is not continued when its page is opened again.
FILLING_KEPT = timedelta(hours=24)
FILLINGS_KEPT = 3  # pages whose filling this browser's session remembers (the cookie stays small)


def _filling(survey: Survey, commune: Commune, point: ServicePoint | None) -> tuple[str, bool]:
    """This browser's filling of this page: its signed state, and whether it was stored already.

    The response id is fixed when the page is first opened and kept in the session, so that a
    reload, the language link, Back and Forward (with or without the back/forward cache) all
    show the same filling, never a new one: however often it is sent, it is stored once. A new
    filling of a poster's page opened from the landing page (``?via=landing``) counts as the
    landing page's; the commune's own page is only ever reached from the landing page.
    """
    page = request.path
    token = dict(session.get("fillings") or []).get(page)
    state = read_state(token)
    if (
        state is None
        or not _opened_here(state, survey, commune, point)
        or state.version != survey.version
        or utcnow() - state.started_at > FILLING_KEPT
    ):
        via = "landing" if point is None or request.args.get("via") == "landing" else "poster"
        token = new_state(
            survey,
            commune_code=commune.code,
            point_id=point.id if point else None,
            token=point.token if point else None,
            via=via,
        )
        _keep_filling(page, token)
        return token, False
    return token, _stored(state)


def _stored(state: FormState) -> bool:
    """Whether the response of this form state has been stored."""
    return db.session.scalar(db.select(Response.id).where(Response.id == state.response_id)) is not None


def _keep_filling(page: str, token: str) -> None:
    """Remember a page's filling, dropping the oldest beyond FILLINGS_KEPT."""
    kept = [(p, t) for p, t in session.get("fillings") or [] if p != page]
    session["fillings"] = [*kept, (page, token)][-FILLINGS_KEPT:]


def _forget_filling() -> None:
    """The citizen asked to answer again: the next visit to this page begins a new response."""
    session["fillings"] = [(p, t) for p, t in session.get("fillings") or [] if p != request.path]


def _opened_here(state: FormState, survey: Survey, commune: Commune, point: ServicePoint | None) -> bool:
    """Whether a form state was issued for this survey, commune and service point."""
    here = (survey.slug, commune.code, point.id if point else None)
    return (state.survey, state.commune_code, state.point_id) == here


def _in_grace(state: FormState) -> bool:
    """Whether a form was opened recently enough to be accepted after its poster went away."""
    return utcnow() - state.started_at <= timedelta(hours=current_app.config["POSTER_GRACE_HOURS"])


def _home(state: FormState) -> tuple[Survey, Commune, ServicePoint | None] | None:
    """Where a form state's answers can be sent now: its own page, or for a poster gone since,
    the commune's current one; None if the state names no commune (a paper-entry form)."""
    survey = catalog().get(state.survey, state.version)
    commune = db.session.get(Commune, state.commune_code) if state.commune_code else None
    if survey is None or commune is None:
        return None
    if state.point_id is None:
        return survey, commune, None
    point = db.session.get(ServicePoint, state.point_id)
    if point is None or point.commune_code != commune.code:
        return None
    if point.active and state.opened_from(point.token):
        return survey, commune, point
    return catalog().for_area(point.service_area), commune, active_point(commune.code, point.service_area)


def _send_elsewhere(
    state: FormState | None, where: tuple[Survey, Commune, ServicePoint | None], reason: str, status: int
):
    """Store nothing here; show the posted answers again as a form of ``where``'s survey that
    sends them to its page, with the same response id, and say why (``reason`` names the message)."""
    survey, commune, point = where
    if state is not None and _stored(state):
        return _thanks(state.commune_code or commune.code, state.point_id)  # it counted
    form = survey_form_class(survey)()
    if point is not None:
        action = url_for(".poster", token=point.token)
        form.state.data = new_state(survey, commune_code=commune.code, point_id=point.id, token=point.token, keep=state)
    else:
        action = url_for(".commune_survey", code=commune.code, slug=survey.slug)
        form.state.data = new_state(survey, commune_code=commune.code, keep=state)
    _keep_filling(action, form.state.data)
    return _render(survey, form, commune, point, {}, status, moved=problem_message(Problem("", reason)), action=action)
