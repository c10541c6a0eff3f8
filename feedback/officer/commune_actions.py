"""Officer and admin pages for "you said, we did": list, record and edit a commune's actions;
admins hide an entry and show it again. Thin views over ``feedback.actions``."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, lazy_gettext
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from analysis.structures import DIMENSIONS
from surveys import normalise_text

from ..actions import (
    TEXT_MAX,
    TITLE_MAX,
    ActionFields,
    answers_label,
    change_action,
    commune_actions,
    create_action,
    dimension_label,
    done_on_problem,
    set_hidden,
)
from ..auth import commune_or_404, editor_required, role_required
from ..extensions import csrf, db
from ..forms import clean_line, no_control_characters
from ..models import CommuneAction, ServicePoint, utcnow
from ..places import sorted_by_name
from ..times import local_day
from . import bp
from .forms import ActionForm

_REQUIRED = lazy_gettext("Please fill in this field.")
_TOO_LONG = lazy_gettext("Please keep this to at most %(max)d characters.")


def _text_filter(value):
    return normalise_text(value) if isinstance(value, str) else value


def _done_on_rule(form: FlaskForm, field: DateField) -> None:
    """WTForms validator: the day is not in the future and plausibly recent (``done_on_problem``)."""
    if field.data is not None and (problem := done_on_problem(field.data)) is not None:
        raise ValidationError(problem)


class CommuneActionForm(FlaskForm):
    """What the commune did: title and text in Vietnamese (English optional), the day, and what it answers."""

    title_vi = StringField(
        lazy_gettext("Title (Vietnamese)"),
        filters=[clean_line],
        validators=[DataRequired(message=_REQUIRED), Length(max=TITLE_MAX, message=_TOO_LONG), no_control_characters],
    )
    text_vi = TextAreaField(
        lazy_gettext("What was done (Vietnamese)"),
        filters=[_text_filter],
        validators=[DataRequired(message=_REQUIRED), Length(max=TEXT_MAX, message=_TOO_LONG), no_control_characters],
    )
    title_en = StringField(
        lazy_gettext("Title (English, optional)"),
        filters=[clean_line],
        validators=[Optional(), Length(max=TITLE_MAX, message=_TOO_LONG), no_control_characters],
    )
    text_en = TextAreaField(
        lazy_gettext("What was done (English, optional)"),
        filters=[_text_filter],
        validators=[Optional(), Length(max=TEXT_MAX, message=_TOO_LONG), no_control_characters],
    )
    done_on = DateField(
        lazy_gettext("Done on"),
        invalid_value_message=lazy_gettext("Please give the date as day, month and year."),
        validators=[InputRequired(message=_REQUIRED), _done_on_rule],
    )
    answers = SelectField(
        lazy_gettext("What it answers"),
        choices=[],
        default="",
        invalid_choice_message=lazy_gettext("Please choose what the action answers from the list."),
    )

    def fields_entered(self) -> ActionFields:
        """The entry as the service takes it."""
        kind, _sep, value = (self.answers.data or "").partition(":")
        return ActionFields(
            title_vi=self.title_vi.data or "",
            text_vi=self.text_vi.data or "",
            done_on=self.done_on.data,
            title_en=self.title_en.data or None,
            text_en=self.text_en.data or None,
            service_point_id=int(value) if kind == "point" else None,
            dimension=value if kind == "dimension" else None,
        )


def _answer_value(action: CommuneAction | None) -> str:
    if action is not None and action.service_point_id is not None:
        return f"point:{action.service_point_id}"
    if action is not None and action.dimension:
        return f"dimension:{action.dimension}"
    return ""


def _action_form(commune_code: str, action: CommuneAction | None = None) -> CommuneActionForm:
    """The form with its choices: the commune's service points in use (and the entry's own,
    though retired since), the eight PAPI areas, or neither."""
    form = CommuneActionForm(obj=action)
    lang = str(get_locale())
    points = sorted_by_name(db.session.scalars(db.select(ServicePoint).filter_by(commune_code=commune_code)))
    keep = action.service_point_id if action is not None else None
    points_group, areas_group = str(_("Service points")), str(_("PAPI areas"))
    form.answers.choices = [
        SelectChoice("", _("Neither: the commune as a whole")),
        *(
            SelectChoice(f"point:{p.id}", p.name if p.active else f"{p.name} ({_('retired')})", optgroup=points_group)
            for p in points
            if p.active or p.id == keep
        ),
        *(SelectChoice(f"dimension:{d}", dimension_label(d, lang), optgroup=areas_group) for d in DIMENSIONS),
    ]
    if request.method == "GET":
        form.answers.data = _answer_value(action) if action is not None else _preselected(request.args.get("point"))
    return form


def _preselected(point_id: str | None) -> str:
    """``?point=`` from a service point's page, as the form's choice ("" if it is not a number)."""
    return f"point:{int(point_id)}" if point_id and point_id.isascii() and point_id.isdigit() else ""


def _action_or_404(action_id: int) -> CommuneAction:
    """The entry if it belongs to one of the current user's communes (and province), else 404."""
    action = db.get_or_404(CommuneAction, action_id)
    commune_or_404(action.commune_code)
    return action


@bp.get("/c/<code>/actions")
def commune_actions_page(code: str):
    """A commune's "you said, we did" entries, hidden ones marked (staff who see the commune)."""
    commune = commune_or_404(code)
    return render_template(
        "officer/actions.html",
        commune=commune,
        actions=commune_actions(commune.code),
        answers=answers_label,
        button=ActionForm(),
    )


@bp.route("/c/<code>/actions/new", methods=["GET", "POST"])
def new_action(code: str):
    """Record what the commune did (officers of the commune, admins)."""
    commune = commune_or_404(code)
    editor_required()
    form = _action_form(commune.code)
    if request.method == "POST":
        if not form.validate():
            return _render_form(commune, form, None, _invalid_status(form))
        try:
            create_action(commune.code, form.fields_entered(), user=current_user)
        except ValueError as exc:
            return _render_form(commune, form, None, 422, str(exc))
        db.session.commit()
        flash(_("Action recorded. It shows on the commune's public page."))
        return redirect(url_for(".commune_actions_page", code=commune.code), code=303)
    return _render_form(commune, form, None)


@bp.route("/actions/<int:action_id>", methods=["GET", "POST"])
def edit_action(action_id: int):
    """Correct an entry (officers of the commune, admins); a hidden entry stays hidden."""
    action = _action_or_404(action_id)
    editor_required()
    form = _action_form(action.commune_code, action)
    if request.method == "POST":
        if not form.validate():
            return _render_form(action.commune, form, action, _invalid_status(form))
        try:
            changed = change_action(action, form.fields_entered(), user=current_user)
        except ValueError as exc:
            return _render_form(action.commune, form, action, 422, str(exc))
        db.session.commit()
        flash(_("Changes saved.") if changed else _("Nothing changed."))
        return redirect(url_for(".commune_actions_page", code=action.commune_code), code=303)
    return _render_form(action.commune, form, action)


# The two forms check their CSRF token themselves (FlaskForm.validate), as survey forms do: an
# expired token then shows the form again with what was typed, not an error page.
csrf.exempt(new_action)
csrf.exempt(edit_action)


def _invalid_status(form: CommuneActionForm) -> int:
    """400 for an expired or missing CSRF token, 422 for fields that break a rule."""
    return 400 if "csrf_token" in form.errors else 422


def _render_form(
    commune, form: CommuneActionForm, action: CommuneAction | None, status: int = 200, problem: str | None = None
):
    if "csrf_token" in form.errors:
        problem = _("This form has expired. What you typed is kept: please press Save again.")
    field_errors = [(form[name], errors) for name, errors in form.errors.items() if name != "csrf_token"]
    return render_template(
        "officer/action_form.html",
        commune=commune,
        form=form,
        action=action,
        problem=problem,
        field_errors=field_errors,
        today=local_day(utcnow()),
        title_max=TITLE_MAX,
        text_max=TEXT_MAX,
    ), status


@bp.post("/actions/<int:action_id>/hide")
@role_required("admin")
def hide_action(action_id: int):
    """Hide an entry from every public page; it is kept, and staff see it marked (admins)."""
    return _set_hidden(action_id, True)


@bp.post("/actions/<int:action_id>/unhide")
@role_required("admin")
def unhide_action(action_id: int):
    """Show a hidden entry on the public pages again (admins)."""
    return _set_hidden(action_id, False)


def _set_hidden(action_id: int, hidden: bool):
    action = _action_or_404(action_id)
    if not ActionForm().validate():
        abort(400)  # the global CSRF check refuses first; this is its backstop
    if set_hidden(action, hidden, user=current_user):
        db.session.commit()
        flash(
            _("The action is hidden from the public pages.")
            if hidden
            else _("The action is shown on the public pages again.")
        )
    return redirect(url_for(".commune_actions_page", code=action.commune_code), code=303)
