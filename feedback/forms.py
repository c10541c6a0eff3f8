"""WTForms classes built at run time from survey definitions, their signed state, text filters."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, URLSafeSerializer
from wtforms import Field, HiddenField, RadioField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from surveys import Survey, catalog, forbidden_character, normalise_text

from .models import channel_of
from .times import now_seconds


class SurveyFormBase(FlaskForm):
    """Hidden state common to every survey form: a signed response id, version and start time."""

    state = HiddenField()
    # Honeypot: hidden from people, filled by naive bots; a filled one flags the response.
    website = StringField()

    # The survey (and version) the form class was built for; set by ``survey_form_class``.
    survey_slug: str = ""
    survey_version: int = 0

    def answers(self, survey: Survey) -> dict[str, Any]:
        """The raw answers as posted, question id → value (list for multiple choice)."""
        return {q.id: self[q.id].data for q in survey.questions}

    def validate_state(self, field: Field) -> None:
        """Refuse a state signed for another survey or version: its response would be stored
        under the wrong survey. A fresh state for this form takes its place, so that the answers,
        kept on screen, can be sent again."""
        state = read_state(field.data)
        if state is not None and (state.survey, state.version) != (self.survey_slug, self.survey_version):
            field.data = new_state(catalog().get(self.survey_slug, self.survey_version))
            raise ValidationError(lazy_gettext("This form belongs to another survey."))


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
    fields.update(survey_slug=survey.slug, survey_version=survey.version)
    return type(f"{survey.slug.title().replace('-', '')}V{survey.version}Form", (SurveyFormBase,), fields)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="survey-form-state")


def token_digest(token: str) -> str:
    """A short fingerprint of a poster token, to tell which poster link a form was opened from."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class FormState:
    """What a rendered survey form carries, signed: the response id, the survey and version it
    belongs to, when the filling began, the module shown, and where it was opened (commune,
    service point and poster link, and whether by the poster or the landing page; none of them
    for a paper-entry form)."""

    response_id: uuid.UUID
    survey: str
    version: int
    started_at: datetime
    module: str | None
    commune_code: str | None = None
    point_id: int | None = None
    poster: str | None = None  # token_digest() of the poster link
    # "poster" or "landing" (the landing page led to the poster's or the commune's page); None in
    # a state made before channels were kept: ``channel`` then goes by the service point.
    via: str | None = None

    def dumps(self) -> str:
        """The state signed, for the form's hidden field."""
        return _serializer().dumps(
            {
                "id": str(self.response_id),
                "s": self.survey,
                "v": self.version,
                "t": self.started_at.isoformat(),
                "m": self.module,
                "c": self.commune_code,
                "p": self.point_id,
                "k": self.poster,
                "w": self.via,
            }
        )

    @property
    def channel(self) -> str:
        """How the form reached the citizen: "poster" or "landing" (a web form's channel)."""
        return channel_of("web", via=self.via, service_point_id=self.point_id)

    def opened_from(self, token: str) -> bool:
        """Whether the form was opened from this poster link."""
        return self.poster is not None and secrets.compare_digest(self.poster, token_digest(token))


def new_state(
    survey: Survey,
    *,
    commune_code: str | None = None,
    point_id: int | None = None,
    token: str | None = None,
    via: str | None = None,
    keep: FormState | None = None,
) -> str:
    """A signed state for a form of ``survey``: a new response id, started now, a random module.

    ``via`` says whether a web form was opened from a poster or the landing page. With ``keep``,
    the same filling moves to another page: its response id, start, channel and module (if this
    survey has it) stay, so however often it is sent, it is stored once and counted where it began.
    """
    module = keep.module if keep and keep.module in survey.modules else None
    if module is None and survey.modules:
        module = secrets.choice(survey.modules)
    return FormState(
        response_id=keep.response_id if keep else uuid.uuid4(),
        survey=survey.slug,
        version=survey.version,
        started_at=keep.started_at if keep else now_seconds(),
        module=module,
        commune_code=commune_code,
        point_id=point_id,
        poster=token_digest(token) if token else None,
        via=keep.channel if keep else via,
    ).dumps()


def fresh_state(state: FormState) -> str:
    """The same filling (survey, place, start, module) as a new response with a new id: for
    answers sent under an id that was stored already with other answers."""
    return replace(state, response_id=uuid.uuid4()).dumps()


def read_state(token: str | None) -> FormState | None:
    """The state posted back with a form, or None if it was forged, mangled or names no survey."""
    try:
        data = _serializer().loads(token or "")
        point = data.get("p")
        return FormState(
            uuid.UUID(data["id"]),
            str(data["s"]),
            int(data["v"]),
            datetime.fromisoformat(data["t"]),
            data.get("m"),
            data.get("c"),
            int(point) if point is not None else None,
            data.get("k"),
            data.get("w") if data.get("w") in ("poster", "landing") else None,
        )
    except (BadSignature, KeyError, TypeError, ValueError, AttributeError):
        return None


def clean_line(value: Any) -> Any:
    """WTForms filter for a one-line staff text (a name): normalised as answers are, every run of
    white space (line breaks and tabs too) one space, no space at either end."""
    if not isinstance(value, str):
        return value
    return re.sub(r"\s+", " ", normalise_text(value)).strip()


def no_control_characters(form: FlaskForm, field: Field) -> None:
    """WTForms validator: refuse the control characters that no stored text may hold."""
    char = forbidden_character(field.data) if isinstance(field.data, str) else None
    if char:
        raise ValidationError(
            lazy_gettext("Please remove the invisible control character (%(char)s) from this field.", char=char)
        )
