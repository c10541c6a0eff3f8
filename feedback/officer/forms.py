"""Officer and admin forms (Flask-WTF, so every POST carries a CSRF token)."""

from __future__ import annotations

from functools import lru_cache

from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from surveys import Survey

from ..auth import MIN_PASSWORD_LENGTH
from ..forms import SurveyFormBase, clean_line, no_control_characters, survey_form_class
from ..models import ROLES

#: What the stored roles are called on the pages.
ROLE_LABELS = {
    "admin": lazy_gettext("administrator"),
    "officer": lazy_gettext("commune officer"),
    "analyst": lazy_gettext("analyst"),
}


def _stripped(value):
    return value.strip() if isinstance(value, str) else value


@lru_cache(maxsize=64)
def paper_form_class(survey: Survey) -> type[SurveyFormBase]:
    """A survey's form with the interview date of a paper form, as typed (day, month, year);
    ``feedback.paper.read_interview_date`` reads it."""
    fields = {
        name: StringField(name, filters=[_stripped]) for name in ("interview_day", "interview_month", "interview_year")
    }
    base = survey_form_class(survey)
    return type(f"Paper{base.__name__}", (base,), fields)


class ServicePointForm(FlaskForm):
    """A new service point: its name and service area."""

    name = StringField(
        lazy_gettext("Name"), filters=[clean_line], validators=[DataRequired(), Length(max=200), no_control_characters]
    )
    service_area = SelectField(lazy_gettext("Service"), choices=[])


class RenameForm(FlaskForm):
    """A service point's new name."""

    name = StringField(
        lazy_gettext("Name"), filters=[clean_line], validators=[DataRequired(), Length(max=200), no_control_characters]
    )


class ActionForm(FlaskForm):
    """A button that changes something (retire, re-issue): only the CSRF token."""


class UserForm(FlaskForm):
    """Create or change a staff account."""

    email = EmailField(lazy_gettext("E-mail"), validators=[DataRequired(), Length(max=254)])
    role = SelectField(lazy_gettext("Role"), choices=[SelectChoice(r, ROLE_LABELS[r]) for r in ROLES])
    communes = SelectMultipleField(lazy_gettext("Communes (officers)"), choices=[])
    # Choices are set per request: a national admin's provinces, a province admin's own only.
    province = SelectField(lazy_gettext("Province (admins and analysts; none: national)"), choices=[], default="")
    password = PasswordField(
        lazy_gettext("Password"), validators=[Optional(), Length(min=MIN_PASSWORD_LENGTH, max=200)]
    )
    active = BooleanField(lazy_gettext("Active"), default=True)
