"""Human messages, in the user's language, for the problems the answer checks report."""

from __future__ import annotations

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
        "too_long": lambda: _("Please keep this under %(max)s characters (you wrote %(length)s).", max=p["max"], length=p["length"]),
        "wrong_type": lambda: _("This answer is not in a form we can read."),
        "unknown_question": lambda: _("This question is not part of the survey."),
        "not_relevant": lambda: _("This question does not apply after your earlier answer. Please remove this answer."),
        "future_time": lambda: _("This time is in the future."),
        "started_after_submitted": lambda: _("The start time is after the submit time."),
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
        "form_expired": lambda: _("This form has expired. Your answers are kept: please submit again."),
    }
    return messages.get(problem.code, lambda: _("This answer is not valid."))()


def messages_by_question(problems: list[Problem]) -> dict[str, list[str]]:
    """The translated messages grouped by question id, for showing beside each question."""
    grouped: dict[str, list[str]] = {}
    for p in problems:
        grouped.setdefault(p.question, []).append(problem_message(p))
    return grouped
