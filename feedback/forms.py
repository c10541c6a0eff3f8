"""WTForms classes built at run time from survey definitions."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from flask import current_app
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, URLSafeSerializer
from wtforms import HiddenField, RadioField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from surveys import Survey

from .models import utcnow


class SurveyFormBase(FlaskForm):
    """Hidden state common to every survey form: a signed response id, version and start time."""

    state = HiddenField()
    # Honeypot: hidden from people, filled by naive bots; a filled one flags the response.
    website = StringField()

    def answers(self, survey: Survey) -> dict[str, Any]:
        """The raw answers as posted, question id → value (list for multiple choice)."""
        return {q.id: self[q.id].data for q in survey.questions}



@lru_cache(maxsize=64)
def survey_form_class(survey: Survey) -> type[SurveyFormBase]:
    """A form class with one field per question; checks live in ``surveys.check_answers``."""
    fields: dict[str, Any] = {}
    for q in survey.questions:
        choices = [SelectChoice(o.value) for o in q.options]
        if q.type == "multiple":
            fields[q.id] = SelectMultipleField(q.id, choices=choices, validate_choice=False)
        elif q.options:
            fields[q.id] = RadioField(q.id, choices=choices, validate_choice=False)
        elif q.type == "text":
            fields[q.id] = TextAreaField(q.id)
        else:
            fields[q.id] = StringField(q.id)
    return type(f"{survey.slug.title().replace('-', '')}V{survey.version}Form", (SurveyFormBase,), fields)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="survey-form-state")


@dataclass(frozen=True)
class FormState:
    """What a rendered survey form carries, signed: response id, version, start, module."""

    response_id: uuid.UUID
    version: int
    started_at: datetime
    module: str | None


def new_state(survey: Survey) -> str:
    """A fresh signed state: new response id, this version, started now, a random module."""
    module = secrets.choice(survey.modules) if survey.modules else None
    return _serializer().dumps({"id": str(uuid.uuid4()), "v": survey.version, "t": utcnow().isoformat(), "m": module})


def read_state(token: str | None) -> FormState | None:
    """The state posted back with a form, or None if it was forged or mangled."""
    try:
        data = _serializer().loads(token or "")
        return FormState(uuid.UUID(data["id"]), int(data["v"]), datetime.fromisoformat(data["t"]), data.get("m"))
    except (BadSignature, KeyError, TypeError, ValueError):
        return None
