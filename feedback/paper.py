"""Paper questionnaires: which printed form one is (module and code), its interview date, saving it."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app

from surveys import Problem, Question, Survey, catalog

from . import audit
from .extensions import db
from .forms import FormState
from .models import Response, ServicePoint, User
from .responses import ANY_MODULE, receive_web
from .times import local_day, now_seconds

__all__ = [
    "ALL_QUESTIONS",
    "PaperLayout",
    "printed_layouts",
    "entry_layout",
    "entry_choices",
    "interview_days",
    "read_interview_date",
    "PaperResult",
    "save_paper_form",
    "SavedPaper",
    "saved_paper_form",
    "stored_layout",
    "CheckedAnswer",
    "answers_as_printed",
]

#: ``?module=`` of the entry screen for a form printed before each module had a form of its
#: own (every question on it): stored without a module, as answerable in any (like the API's).
ALL_QUESTIONS = "all"


@dataclass(frozen=True)
class PaperLayout:
    """One printed form of a survey: the questions on it and the code printed at its top."""

    survey: Survey
    #: What the response stores: a module code, ``ANY_MODULE`` (every question), None (no modules).
    module: str | None

    @property
    def param(self) -> str | None:
        """Its ``?module=`` value in links (None: the survey has no modules)."""
        return ALL_QUESTIONS if self.module == ANY_MODULE else self.module

    @property
    def code(self) -> str:
        """The form's code, e.g. ``local-governance-v2-A``: survey, version and module."""
        code = f"{self.survey.slug}-v{self.survey.version}"
        return f"{code}-{self.module.upper()}" if self.module and self.module != ANY_MODULE else code

    @property
    def questions(self) -> tuple[Question, ...]:
        """The main questions printed on it, in order (the respondent block is on every form)."""
        shown = self.survey.questions if self.module in (None, ANY_MODULE) else self.survey.shown(self.module)
        return tuple(q for q in shown if not q.respondent)

    @property
    def numbers(self) -> dict[str, int]:
        """Question id → the number printed beside it."""
        return {q.id: i for i, q in enumerate(self.questions, start=1)}


def printed_layouts(survey: Survey, requested: str | None) -> list[PaperLayout] | None:
    """The blank forms to print: the module asked for, else one per module (each its own A4
    sheet); None for a module the survey does not have."""
    if not survey.modules:
        return [PaperLayout(survey, None)] if not requested else None
    if not requested:
        return [PaperLayout(survey, m) for m in survey.modules]
    return [PaperLayout(survey, requested)] if requested in survey.modules else None


def entry_layout(survey: Survey, requested: str | None) -> PaperLayout | None:
    """The printed form being typed in; None while the officer has still to say which module
    (a survey with modules: each module's form has other questions)."""
    if not survey.modules:
        return PaperLayout(survey, None)
    if requested == ALL_QUESTIONS:
        return PaperLayout(survey, ANY_MODULE)
    return PaperLayout(survey, requested) if requested in survey.modules else None


def entry_choices(survey: Survey) -> list[PaperLayout]:
    """What the officer may answer to "which form is it?": each module, then an older all-question form."""
    return [*(PaperLayout(survey, m) for m in survey.modules), PaperLayout(survey, ANY_MODULE)]


def interview_days(survey: Survey, *, now: datetime | None = None) -> tuple[date, date]:
    """The first and last Viet Nam day a paper form typed in ``now`` may have been answered on.

    Not after today, not more than ``PAPER_MAX_AGE_DAYS`` before it, and not before the survey
    version was released (nobody answered it earlier): docs/quality.md, "Times and clocks".
    """
    today = local_day(now or now_seconds())
    earliest = today - timedelta(days=current_app.config["PAPER_MAX_AGE_DAYS"])
    if survey.released is not None:
        earliest = max(earliest, survey.released)
    return earliest, today


def read_interview_date(
    day: str | None, month: str | None, year: str | None, *, survey: Survey, now: datetime | None = None
) -> tuple[date | None, Problem | None]:
    """The interview date typed as day, month and year (GOV.UK's date input), or its problem.

    Problems (question ``interviewed_on``): ``date_missing``; ``date_incomplete`` with the
    ``part`` left empty; ``date_not_real`` (not a calendar date, or a year not of 4 digits);
    ``date_future``; ``date_too_old`` or ``date_before_release`` with the ``earliest`` day.
    """
    parts = {"day": (day or "").strip(), "month": (month or "").strip(), "year": (year or "").strip()}
    if not any(parts.values()):
        return None, Problem("interviewed_on", "date_missing")
    for part, text in parts.items():
        if not text:
            return None, Problem("interviewed_on", "date_incomplete", {"part": part})
    if not all(re.fullmatch(r"[0-9]{1,2}", parts[p]) for p in ("day", "month")) or not re.fullmatch(
        r"[0-9]{4}", parts["year"]
    ):
        return None, Problem("interviewed_on", "date_not_real")
    try:
        answered = date(int(parts["year"]), int(parts["month"]), int(parts["day"]))
    except ValueError:
        return None, Problem("interviewed_on", "date_not_real")
    earliest, today = interview_days(survey, now=now)
    if answered > today:
        return None, Problem("interviewed_on", "date_future")
    if answered < earliest:
        released = survey.released is not None and earliest == survey.released
        return None, Problem(
            "interviewed_on",
            "date_before_release" if released else "date_too_old",
            {"earliest": earliest, "days": current_app.config["PAPER_MAX_AGE_DAYS"]},
        )
    return answered, None


@dataclass(frozen=True)
class PaperResult:
    """What became of a typed-in form: its stored id, or the problems to show beside it."""

    response_id: uuid.UUID | None
    problems: list[Problem]

    @property
    def changed(self) -> bool:
        """Its id was stored already with other answers (or another date): keep them under a new id."""
        return any(p.code == "sent_changed" for p in self.problems)


def save_paper_form(
    layout: PaperLayout,
    raw_answers: dict,
    date_parts: tuple[str | None, str | None, str | None],
    *,
    state: FormState,
    point: ServicePoint,
    user: User,
) -> PaperResult:
    """Check and store a typed-in paper form once (its id was fixed when the screen opened),
    dated by its interview day and recorded with its module; audit the first save."""
    answered, date_problem = read_interview_date(*date_parts, survey=layout.survey)
    is_new = db.session.get(Response, state.response_id) is None
    stored_id, problems = receive_web(
        layout.survey,
        raw_answers,
        response_id=state.response_id,
        started_at=None,
        commune_code=point.commune_code,
        service_point_id=point.id,
        lang="vi",
        mode="paper",
        entered_by=user.id,
        module=layout.module,
        interviewed_on=answered,
        earlier_problems=[date_problem] if date_problem else [],
    )
    if problems:
        return PaperResult(None, problems)
    if is_new:
        audit.record(
            "paper_entered",
            target=f"response {stored_id}",
            commune_code=point.commune_code,
            detail={"service_point": point.id, "survey": layout.survey.slug},
        )
        db.session.commit()
    return PaperResult(stored_id, [])


@dataclass(frozen=True)
class SavedPaper:
    """A saved paper form as its confirmation shows it."""

    id: uuid.UUID
    layout: PaperLayout
    interviewed_on: date
    typed_at: datetime
    answered: int

    @property
    def reference(self) -> str:
        """A short reference to write on the paper form: the first 8 characters of its id."""
        return self.id.hex[:8].upper()


def saved_paper_form(response_id: uuid.UUID, *, point: ServicePoint, user: User) -> SavedPaper | None:
    """A paper form typed in at ``point``, if ``user`` may see it (who typed it, or an admin)."""
    stored = db.session.get(Response, response_id)
    if (
        stored is None
        or stored.mode != "paper"
        or stored.service_point_id != point.id
        or (user.role != "admin" and stored.entered_by != user.id)
    ):
        return None
    survey = catalog().get(stored.survey, stored.survey_version)
    if survey is None:
        return None
    return SavedPaper(
        id=stored.id,
        layout=stored_layout(stored, survey),
        interviewed_on=local_day(stored.submitted_at),
        typed_at=stored.received_at,
        answered=len({a.question_id for a in stored.answers}),
    )


def stored_layout(stored: Response, survey: Survey) -> PaperLayout:
    """The printed form a stored paper response was typed in from: its module's, else the
    all-question form (a survey with modules) or the survey's only form."""
    return PaperLayout(survey, stored.module or (ANY_MODULE if survey.modules else None))


@dataclass(frozen=True)
class CheckedAnswer:
    """One answered question of a typed-in paper form, as its check page lists it."""

    question_id: str
    #: None: not a question of the survey version the form was stored under.
    question: Question | None
    #: The number printed beside it on the form; None for the (unnumbered) respondent block.
    number: int | None
    #: Its values in position order (several for a multiple-choice answer).
    values: tuple[str, ...]


def answers_as_printed(stored: Response, survey: Survey | None) -> list[CheckedAnswer]:
    """A typed-in paper form's answers in the order of the paper, so an officer can check them
    line by line: main questions with their printed numbers, then the respondent block, then
    any question the survey version does not know (by id)."""
    values: dict[str, list[str]] = {}
    for a in sorted(stored.answers, key=lambda a: a.position):
        values.setdefault(a.question_id, []).append(a.value)
    if survey is None:
        return [CheckedAnswer(qid, None, None, tuple(v)) for qid, v in sorted(values.items())]
    numbers = stored_layout(stored, survey).numbers
    place = {q.id: (int(q.respondent), i) for i, q in enumerate(survey.questions)}  # main first, then "about you"
    ranked = sorted(values, key=lambda qid: (*place.get(qid, (2, 0)), qid))
    return [CheckedAnswer(qid, survey.question(qid), numbers.get(qid), tuple(values[qid])) for qid in ranked]
