"""Human messages, in the user's language, for the problems the answer checks report."""

from __future__ import annotations

from flask_babel import get_locale
from flask_babel import gettext as _

from surveys import Problem


def problem_message(problem: Problem) -> str:
    """The translated message for one problem (the active locale decides the language)."""
    p = problem.params
    messages = {
        "required": lambda: _("Please answer this question."),
        "invalid_choice": lambda: _("Please choose one of the options shown."),
        "out_of_range": lambda: _("Please give a whole number from %(min)s to %(max)s.", min=p["min"], max=p["max"]),
        "not_integer": lambda: _("Please write a whole number, for example 2."),
        "too_long": lambda: _(
            "Please keep this under %(max)s characters (you wrote %(length)s).", max=p["max"], length=p["length"]
        ),
        "wrong_type": lambda: _("This answer is not in a form we can read."),
        "unknown_question": lambda: _("This question is not part of the survey."),
        "not_relevant": lambda: _("This question does not apply after your earlier answer. Please remove this answer."),
        "unknown_service_point": lambda: _("This service point does not exist in this commune."),
        "wrong_service_area": lambda: _("This service point does not offer this survey's service."),
        "unknown_commune": lambda: _("Unknown commune code."),
        "unknown_survey": lambda: _("Unknown survey."),
        "unknown_version": lambda: _("This survey version does not exist."),
        "bad_uuid": lambda: _("Must be a UUID."),
        "bad_time": lambda: _("Must be a date and time in ISO 8601 form."),
        "bad_lang": lambda: _("Must be 'vi' or 'en'."),
        "missing": lambda: _("This field is required."),
        "wrong_field_type": lambda: _("This field has the wrong type."),
        "unknown_field": lambda: _("Unknown field."),
        "invalid_text": lambda: _(
            "This text holds a character that is not valid text (a lone UTF-16 surrogate or NUL). Nothing was stored."
        ),
        "retired_service_point": lambda: _(
            "This service point has been retired. Send the response with the "
            "commune's current service point, or without one."
        ),
        "form_expired": lambda: _("This form has expired. Your answers are kept: please submit again."),
        "control_character": lambda: _(
            "Your answer to “%(question)s” contains an invisible control character (%(char)s) that cannot be "
            "stored. Please remove it; line breaks and tabs are fine.",
            question=p["label"].get(str(get_locale())),
            char=p["char"],
        ),
        "wrong_survey": lambda: _(
            "These answers were given in the form of another survey or service point, so they were not "
            "stored here. They are kept below: please check them and send them again."
        ),
        "poster_retired": lambda: _(
            "The poster you answered has been taken out of use, so your answers could not be sent with it. "
            "Nothing was lost: your answers are kept below in the commune's current survey. Please check "
            "them and send them."
        ),
        "poster_replaced": lambda: _(
            "The poster you answered has been replaced by a new poster, so your answers could not be sent "
            "with the old one. Nothing was lost: your answers are kept below in the commune's current "
            "survey. Please check them and send them."
        ),
        "sent_changed": lambda: _(
            "These answers were not saved yet, because this form had already been sent with other "
            "answers. Your answers are kept below: press Send to save them as a new, separate response."
        ),
        "date_missing": lambda: _("Enter the interview date written on the paper form."),
        "date_incomplete": lambda: {
            "day": lambda: _("The interview date must include a day."),
            "month": lambda: _("The interview date must include a month."),
            "year": lambda: _("The interview date must include a year."),
        }[p["part"]](),
        "date_not_real": lambda: _(
            "The interview date must be a real date, with a 4-digit year, for example 27 11 2026."
        ),
        "date_future": lambda: _("The interview date must be today or in the past."),
        "date_too_old": lambda: _(
            "The interview date must be on or after %(date)s: forms answered more than %(days)s days ago "
            "cannot be typed in any more.",
            date=p["earliest"].strftime("%d/%m/%Y"),
            days=p["days"],
        ),
        "date_before_release": lambda: _(
            "The interview date must be on or after %(date)s, the day this questionnaire came into use.",
            date=p["earliest"].strftime("%d/%m/%Y"),
        ),
        "already_sent": lambda: _(
            "Your answers from this page have already been received. Thank you! Sending again changes nothing."
        ),
    }
    return messages.get(problem.code, lambda: _("This answer is not valid."))()


def messages_by_question(problems: list[Problem]) -> dict[str, list[str]]:
    """The translated messages grouped by question id, for showing beside each question."""
    grouped: dict[str, list[str]] = {}
    for p in problems:
        grouped.setdefault(p.question, []).append(problem_message(p))
    return grouped


def translate_wtforms() -> None:
    """Before each request: WTForms' built-in messages ("This field is required.", the length
    messages…) come from our catalogue, as WTForms ships no Vietnamese. Flask-WTF looks for the
    translations on the request first (flask_wtf.i18n)."""
    from flask import request
    from flask_babel import get_translations

    request.wtforms_translations = get_translations()


def _wtforms_messages() -> None:  # pragma: no cover - never called: marks WTForms' texts for extraction
    from flask_babel import ngettext

    _("This field is required.")
    _("Field must be between %(min)d and %(max)d characters long.")
    ngettext("Field must be at least %(min)d character long.", "Field must be at least %(min)d characters long.", 1)
    ngettext("Field cannot be longer than %(max)d character.", "Field cannot be longer than %(max)d characters.", 1)
    _("Not a valid choice.")
    _("Invalid email address.")
