"""Officer views: thin wrappers over the access checks, queries, posters and response service."""

from __future__ import annotations

import uuid

from flask import Response as HttpResponse
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from surveys import Problem, catalog

from .. import audit
from ..auth import (
    change_account,
    check_password,
    chosen_province,
    commune_or_404,
    communes_by_code,
    create_user,
    editor_required,
    end_sessions,
    find_user,
    in_province,
    keep_this_session,
    loaded_provinces,
    normalize_email,
    point_or_404,
    role_required,
    set_password,
    staff_province,
    user_or_404,
)
from ..channels import channel_label
from ..extensions import db
from ..forms import fresh_state, new_state, read_state
from ..messages import messages_by_question, problem_message
from ..models import CHANNELS, SERVICE_AREAS, Response, ServicePoint, User, new_token, utcnow
from ..paper import (
    answers_as_printed,
    entry_choices,
    entry_layout,
    interview_days,
    printed_layouts,
    save_paper_form,
    saved_paper_form,
)
from ..places import province_communes, sorted_by_name
from ..posters import SIZES, poster_link, poster_points, posters_pdf
from ..times import local_day
from . import bp
from .forms import ROLE_LABELS, ActionForm, RenameForm, ServicePointForm, UserForm, paper_form_class
from .queries import LOCAL_OFFSET, counts_by, daily_counts, latest_comments


def _visible_codes() -> list[str] | None:
    codes = current_user.commune_codes
    return None if codes is None else sorted(codes)


def _province(requested: str | None = None) -> str:
    """The province shown: a scoped user's own, a national admin's ``?province=`` or the default."""
    return chosen_province(current_user, requested or request.args.get("province"))


def _area_choices() -> list[SelectChoice]:
    lang = str(get_locale())
    return [SelectChoice(area, catalog().for_area(area).title.get(lang)) for area in SERVICE_AREAS]


def _pdf(data: bytes, filename: str) -> HttpResponse:
    return HttpResponse(
        data, mimetype="application/pdf", headers={"Content-Disposition": f'inline; filename="{filename}"'}
    )


def _size() -> str:
    size = request.args.get("size", "a4")
    if size not in SIZES:
        abort(404)
    return size


def _digest_panel(*, communes: tuple[str, ...] = (), provinces: tuple[str, ...] = ()) -> dict:
    """The "This week" panel's context: the digest of the week that ended last (as e-mailed)."""
    from ..digests.build import TEMPLATE_HELPERS, Scope, build_digest, last_week  # it imports .queries

    return {"digest": build_digest(Scope(communes=communes, provinces=provinces), last_week()), **TEMPLATE_HELPERS}


@bp.get("/")
def index():
    """The communes this user sees, with response counts; one commune goes straight to it."""
    codes = _visible_codes()
    if codes is not None and len(codes) == 1:
        return redirect(url_for(".commune", code=codes[0]))
    if codes is None:
        communes = province_communes(_province())
        codes = [c.code for c in communes]  # the province's, not the nation's
    else:  # an officer's communes, in each of their provinces' order
        provinces = sorted({c.province_code for c in current_user.communes})
        communes = [c for p in provinces for c in province_communes(p) if c.code in codes]
    counts = counts_by(Response.commune_code, commune_codes=codes)
    scope = {"communes": tuple(codes)} if current_user.role == "officer" else {"provinces": (_province(),)}
    return render_template(
        "officer/index.html",
        communes=communes,
        counts=counts,
        **_digest_panel(**scope),
        channels=counts_by(Response.channel, commune_codes=codes),
        daily=daily_counts(commune_codes=codes),
        comments=latest_comments(commune_codes=codes),
        names={c.code: c.name for c in communes},
    )


@bp.get("/c/<code>")
def commune(code: str):
    """A commune's dashboard: counts per service point and survey, daily chart, comments."""
    commune = commune_or_404(code)
    points = sorted_by_name(db.session.execute(db.select(ServicePoint).filter_by(commune_code=code)).scalars())
    points.sort(key=lambda p: not p.active)  # stable: active points first, each group by name
    form = ServicePointForm()
    form.service_area.choices = _area_choices()
    return render_template(
        "officer/commune.html",
        commune=commune,
        points=points,
        form=form,
        action=ActionForm(),
        **_digest_panel(communes=(code,)),
        counts=counts_by(Response.service_point_id, Response.survey, commune_code=code),
        channels=counts_by(Response.channel, commune_code=code),
        daily=daily_counts(commune_code=code),
        comments=latest_comments(commune_code=code),
        surveys={s.slug: s for s in catalog().all_current()},
        point_names={p.id: p.name for p in points},
    )


@bp.post("/c/<code>/points")
def create_point(code: str):
    """Add a service point to a commune."""
    commune = commune_or_404(code)
    editor_required()
    form = ServicePointForm()
    form.service_area.choices = _area_choices()
    if not form.validate():
        flash(_("Please give the service point a name and a service."), "error")
        return redirect(url_for(".commune", code=code))
    point = ServicePoint(
        commune_code=commune.code, service_area=form.service_area.data, name=form.name.data.strip(), token=new_token()
    )
    db.session.add(point)
    db.session.flush()
    audit.record(
        "point_created",
        target=f"service point {point.id}: {point.name}",
        commune_code=code,
        detail={"service_area": point.service_area},
    )
    db.session.commit()
    flash(_("Service point “%(name)s” created. Print its poster below.", name=point.name))
    return redirect(url_for(".point", point_id=point.id))


@bp.route("/points/<int:point_id>", methods=["GET", "POST"])
def point(point_id: int):
    """A service point: rename it, retire it, re-issue its token, print its poster."""
    point = point_or_404(point_id)
    form = RenameForm(obj=point)
    if request.method == "POST":
        editor_required()
        if form.validate() and point.active:
            old = point.name
            point.name = form.name.data.strip()
            audit.record(
                "point_renamed",
                target=f"service point {point.id}: {point.name}",
                commune_code=point.commune_code,
                detail={"from": old, "to": point.name},
            )
            db.session.commit()
            flash(_("Service point renamed."))
            return redirect(url_for(".point", point_id=point.id))
    point_counts = counts_by(Response.service_point_id, commune_code=point.commune_code).get((point.id,))
    channels = {
        (channel,): c
        for (point_id, channel), c in counts_by(
            Response.service_point_id, Response.channel, commune_code=point.commune_code
        ).items()
        if point_id == point.id
    }
    return render_template(
        "officer/point.html",
        point=point,
        form=form,
        action=ActionForm(),
        counts=point_counts,
        channels=channels,
        link=poster_link(current_app.config["BASE_URL"], point.token),
        survey=catalog().for_area(point.service_area),
    )


@bp.route("/points/<int:point_id>/retire", methods=["GET", "POST"])
def retire_point(point_id: int):
    """Retire a service point after a confirmation page: its poster shows the "no longer in use"
    page; history stays, and it can be re-activated."""
    point = point_or_404(point_id)
    editor_required()
    form = ActionForm()
    if request.method == "GET" or not point.active:
        if not point.active:
            return redirect(url_for(".point", point_id=point.id))
        return render_template(
            "officer/retire.html",
            point=point,
            action=form,
            link=poster_link(current_app.config["BASE_URL"], point.token),
        )
    if form.validate():
        point.active = False
        point.retired_at = utcnow()
        audit.record("point_retired", target=f"service point {point.id}: {point.name}", commune_code=point.commune_code)
        db.session.commit()
        flash(_("Service point retired. Its answers are kept. You can re-activate it below."))
    return redirect(url_for(".point", point_id=point.id))


@bp.post("/points/<int:point_id>/reactivate")
def reactivate_point(point_id: int):
    """Put a retired service point back in use: its poster link works again."""
    point = point_or_404(point_id)
    editor_required()
    if ActionForm().validate() and not point.active:
        point.active = True
        point.retired_at = None
        audit.record(
            "point_reactivated", target=f"service point {point.id}: {point.name}", commune_code=point.commune_code
        )
        db.session.commit()
        flash(_("Service point back in use: its posters work again."))
    return redirect(url_for(".point", point_id=point.id))


@bp.post("/points/<int:point_id>/reissue")
def reissue_token(point_id: int):
    """Give a service point a new poster token; the old poster's link stops working."""
    point = point_or_404(point_id)
    editor_required()
    if ActionForm().validate() and point.active:
        old = point.token
        point.token = new_token()
        audit.record(
            "token_reissued",
            target=f"service point {point.id}: {point.name}",
            commune_code=point.commune_code,
            detail={"old_token": old},
        )
        db.session.commit()
        flash(_("New poster link made. Print the new poster and take down the old one."))
    return redirect(url_for(".point", point_id=point.id))


@bp.get("/points/<int:point_id>/poster.pdf")
def point_poster(point_id: int):
    """One service point's poster (A4) or table card (A6) as PDF."""
    point = point_or_404(point_id)
    if not point.active:
        abort(404)
    size = _size()
    data = posters_pdf([point], base_url=current_app.config["BASE_URL"], size=size)
    audit.record(
        "posters_printed",
        target=f"service point {point.id}: {point.name}",
        commune_code=point.commune_code,
        detail={"size": size, "pages": 1},
    )
    db.session.commit()
    return _pdf(data, f"poster-{point.commune_code}-{point.id}-{size}.pdf")


@bp.get("/c/<code>/posters.pdf")
def commune_posters(code: str):
    """Every active service point's poster of a commune in one PDF."""
    commune = commune_or_404(code)
    size = _size()
    points = poster_points(commune_code=commune.code)
    if not points:
        abort(404)
    data = posters_pdf(points, base_url=current_app.config["BASE_URL"], size=size)
    audit.record(
        "posters_printed",
        target=f"commune {commune.code}",
        commune_code=commune.code,
        detail={"size": size, "pages": len(points)},
    )
    db.session.commit()
    return _pdf(data, f"posters-{commune.code}-{size}.pdf")


@bp.get("/posters.pdf")
@role_required("admin")
def province_posters():
    """Every active service point's poster of the province in one PDF (admins)."""
    province = _province()
    size = _size()
    points = poster_points(province_code=province)
    if not points:
        abort(404)
    data = posters_pdf(points, base_url=current_app.config["BASE_URL"], size=size)
    audit.record("posters_printed", target=f"province {province}", detail={"size": size, "pages": len(points)})
    db.session.commit()
    return _pdf(data, f"posters-province-{province}-{size}.pdf")


@bp.route("/points/<int:point_id>/paper", methods=["GET", "POST"])
def paper_entry(point_id: int):
    """Type in a paper questionnaire answered at this service point (``?module=`` its printed form)."""
    point = point_or_404(point_id)
    editor_required()
    if not point.active:
        abort(404)
    survey = catalog().for_area(point.service_area)
    state = read_state(request.form.get("state")) if request.method == "POST" else None
    if state is not None:
        survey = catalog().get(survey.slug, state.version) or survey
    layout = entry_layout(survey, request.args.get("module"))
    if layout is None:  # which printed form it is decides the questions: ask first
        error = request.method == "POST" or "module" in request.args
        return render_template(
            "officer/paper_module.html", point=point, survey=survey, choices=entry_choices(survey), error=error
        ), 400 if error else 200
    if request.method == "GET":
        form = paper_form_class(survey)(formdata=None)
        # The response id is fixed now, when the blank form opens: a double submit stores one.
        form.state.data = new_state(survey)
        return _render_paper(layout, form, point, {})
    form = paper_form_class(survey)()
    if state is None or not form.validate():
        if state is None:
            form.state.data = new_state(survey)
        return _render_paper(layout, form, point, {"_form": [problem_message(Problem("", "form_expired"))]}, 400)
    result = save_paper_form(
        layout,
        form.answers(survey),
        (form.interview_day.data, form.interview_month.data, form.interview_year.data),
        state=state,
        point=point,
        user=current_user,
    )
    if result.problems:
        if result.changed:  # this form's id is stored with other answers: these are kept, under a new id
            form.state.data = fresh_state(state)
        return _render_paper(layout, form, point, messages_by_question(result.problems), 409 if result.changed else 422)
    return redirect(url_for(".paper_saved", point_id=point.id, response_id=result.response_id), code=303)


def _render_paper(layout, form, point, errors, status=200):
    return render_template(
        "officer/paper.html",
        survey=layout.survey,
        layout=layout,
        form=form,
        point=point,
        errors=errors,
        numbers=layout.numbers,
        earliest=interview_days(layout.survey)[0],
    ), status


@bp.get("/points/<int:point_id>/paper/saved/<uuid:response_id>")
def paper_saved(point_id: int, response_id: uuid.UUID):
    """The confirmation that a typed-in paper form was saved, with a button for the next one."""
    point = point_or_404(point_id)
    saved = saved_paper_form(response_id, point=point, user=current_user)
    if saved is None:
        abort(404)
    return render_template("officer/paper_saved.html", point=point, saved=saved)


@bp.get("/responses/<uuid:response_id>")
def response(response_id: uuid.UUID):
    """A typed-in paper form with its answers, for the officer who typed it (and admins) to check.

    Web and API responses have no page: their answers with the respondent block, service point
    and time could identify who gave them (docs/quality.md).
    """
    stored = db.get_or_404(Response, response_id)
    commune_or_404(stored.commune_code)
    if stored.mode != "paper" or (current_user.role != "admin" and stored.entered_by != current_user.id):
        abort(404)
    survey = catalog().get(stored.survey, stored.survey_version)
    entered_by = db.session.get(User, stored.entered_by) if stored.entered_by else None
    return render_template(
        "officer/response.html",
        response=stored,
        survey=survey,
        entered_by=entered_by,
        answers=answers_as_printed(stored, survey),
    )


@bp.get("/surveys/<slug>/paper-form")
@bp.get("/points/<int:point_id>/paper-form")
def blank_form(slug: str | None = None, point_id: int | None = None):
    """Printable blank questionnaires in Vietnamese, for citizens without a smartphone: one A4
    sheet per rotating module (``?module=`` one of them), each with its code printed on it."""
    point = point_or_404(point_id) if point_id is not None else None
    survey = catalog().for_area(point.service_area) if point else catalog().current(slug or "")
    layouts = printed_layouts(survey, request.args.get("module")) if survey else None
    if layouts is None:
        abort(404)
    with force_locale("vi"):
        return render_template("officer/blank_form.html", survey=survey, point=point, lang="vi", layouts=layouts)


@bp.route("/users", methods=["GET", "POST"])
@role_required("admin")
def users():
    """List staff accounts and create one (admins)."""
    form = _user_form()
    if form.validate_on_submit():
        try:
            if not form.password.data:
                raise ValueError(_("Please give a password for the new account."))
            user = create_user(
                form.email.data,
                form.role.data,
                form.password.data,
                form.communes.data,
                province_code=form.province.data or None,
            )
        except ValueError as exc:
            flash(str(exc), "error")
        else:
            audit.record(
                "user_created",
                target=user.email,
                detail={"role": user.role, "communes": [c.code for c in user.communes], "province": user.province_code},
            )
            db.session.commit()
            flash(_("Account %(email)s created.", email=user.email))
            return redirect(url_for(".users"))
    query = db.select(User).order_by(User.role, User.email)
    if (own := staff_province(current_user)) is not None:
        query = query.where(in_province(own))
    accounts = db.session.execute(query).scalars().all()
    return render_template("officer/users.html", form=form, accounts=accounts)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@role_required("admin")
def edit_user(user_id: int):
    """Change a staff account's role, communes, password or active flag (admins)."""
    user = user_or_404(user_id)
    form = _user_form(obj=user, province=staff_province(user))
    if request.method == "GET":
        form.communes.data = [c.code for c in user.communes]
        form.province.data = user.province_code or ""
    if form.validate_on_submit():
        try:
            communes = communes_by_code(form.communes.data)
            if form.role.data == "officer" and not communes:
                raise ValueError(_("An officer needs at least one commune."))
            email = normalize_email(form.email.data)
            if form.password.data:
                check_password(form.password.data, email=email)
            other = find_user(email)
            if other is not None and other.id != user.id:
                raise ValueError(_("Another account uses this e-mail address."))
            if user.id == current_user.id and (form.role.data != "admin" or not form.active.data):
                raise ValueError(_("You cannot take away your own admin access."))
        except ValueError as exc:
            flash(str(exc), "error")
        else:
            before = {
                "role": user.role,
                "active": user.active,
                "communes": [c.code for c in user.communes],
                "province": user.province_code,
            }
            province_code = form.province.data or None
            if province_code != user.province_code:
                user.province_code = province_code
                end_sessions(user)  # a wider or narrower view is a change of access
            change_account(user, email=email, role=form.role.data, communes=communes, active=form.active.data)
            if form.password.data:
                set_password(user, form.password.data)
            if user.id == current_user.id:
                keep_this_session(user)  # an admin changing their own password stays logged in here
            after = {
                "role": user.role,
                "active": user.active,
                "communes": [c.code for c in communes],
                "province": user.province_code,
                "password_changed": bool(form.password.data),
            }
            audit.record("user_changed", target=user.email, detail={"before": before, "after": after})
            db.session.commit()
            flash(_("Account %(email)s saved.", email=user.email))
            return redirect(url_for(".users"))
    return render_template("officer/user.html", form=form, user=user)


def _user_form(*, province: str | None = None, **kwargs) -> UserForm:
    """The account form: communes of the province shown; provinces a national admin may choose,
    a province admin's own only (so every account they make or change stays in it)."""
    form = UserForm(**kwargs)
    form.communes.choices = [
        SelectChoice(c.code, f"{c.name} ({c.code})") for c in province_communes(_province(province))
    ]
    own = staff_province(current_user)
    if own is None:
        form.province.choices = [SelectChoice("", _("National (every province)"))] + [
            SelectChoice(code, f"{name} ({code})") for code, name in loaded_provinces()
        ]
    else:
        form.province.choices = [SelectChoice(own, own)]
        form.province.data = own
    return form


# The highest page number asked for (50 events a page: far beyond any real log).
PAGE_MAX = 2**31 - 1


@bp.get("/audit")
@role_required("admin")
def audit_log():
    """The audit log, newest first (admins)."""
    page = request.args.get("page", 1, type=int)
    if not 1 <= page <= PAGE_MAX:
        abort(404)  # beyond any audit log; a number the database cannot hold would be a 500
    events = audit.latest_events(
        page, action=request.args.get("action") or None, province_code=staff_province(current_user)
    )
    return render_template(
        "officer/audit.html",
        events=events,
        actions=audit.ACTION_LABELS,
        who=audit.actor_label,
        describe=audit.describe,
        target=audit.target_label,
    )


@bp.app_template_filter("role_label")
def role_label(role: str) -> str:
    """A stored role ("officer") as the pages call it, in the reader's language."""
    return str(ROLE_LABELS.get(role, role))


bp.add_app_template_filter(channel_label, "channel_label")  # "poster" → "Áp phích (QR)"


@bp.app_template_filter("localtime")
def localtime(moment) -> str:
    """A stored UTC time as Viet Nam local time, to the minute."""
    if moment is None:
        return "–"
    return (moment + LOCAL_OFFSET).strftime("%Y-%m-%d %H:%M")


@bp.app_template_filter("localdate")
def localdate(moment) -> str:
    """A stored UTC time as its Viet Nam calendar day (no time of day: it could point at a person)."""
    if moment is None:
        return "–"
    return (moment + LOCAL_OFFSET).strftime("%Y-%m-%d")


@bp.app_template_filter("paper_day")
def paper_day(moment) -> str:
    """A stored UTC time's Viet Nam day as a paper form writes it: day/month/year."""
    return local_day(moment).strftime("%d/%m/%Y")


@bp.context_processor
def survey_helpers() -> dict:
    """Survey look-ups and the order of channels that officer templates need."""
    return {"surveys_for_paper": catalog().all_current, "surveys_by_area": catalog().for_area, "all_channels": CHANNELS}
