"""The survey catalog's types: surveys, questions, options and relevance conditions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any

__all__ = ["Text", "Option", "Condition", "Question", "Survey", "QUESTION_TYPES", "RESPONDENT_IDS"]

QUESTION_TYPES = ("rating", "yes_no", "single", "multiple", "integer", "text")
CHOICE_TYPES = ("rating", "yes_no", "single", "multiple")
RESPONDENT_IDS = ("sex", "age_band", "ethnic_group")


@dataclass(frozen=True)
class Text:
    """A text in Vietnamese and English."""

    vi: str
    en: str

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.vi

    def as_dict(self) -> dict[str, str]:
        return {"vi": self.vi, "en": self.en}


@dataclass(frozen=True)
class Option:
    value: str
    label: Text
    score: float | None = None


@dataclass(frozen=True)
class Condition:
    """Relevant when the answer to ``question`` is (or, for multiple choice, includes) one of ``values``."""

    question: str
    values: tuple[str, ...]

    def holds(self, answers: dict[str, Any]) -> bool:
        given = answers.get(self.question)
        if given is None:
            return False
        chosen = given if isinstance(given, list) else [given]
        return any(str(v) in self.values for v in chosen)

    def as_dict(self) -> dict[str, Any]:
        return {"question": self.question, "in": list(self.values)}


@dataclass(frozen=True)
class Question:
    id: str
    type: str
    label: Text
    required: bool = False
    hint: Text | None = None
    options: tuple[Option, ...] = ()
    min: int | None = None
    max: int | None = None
    max_length: int = 500
    relevant: Condition | None = None
    subdimension: str | None = None
    respondent: bool = False
    # Matrix sampling: a question in a module is shown to the web respondents given that module.
    module: str | None = None

    @property
    def scored(self) -> bool:
        return self.subdimension is not None

    @cached_property  # checked for every answer of every submission
    def option_values(self) -> tuple[str, ...]:
        return tuple(o.value for o in self.options)

    def score_of(self, value: str) -> float | None:
        for o in self.options:
            if o.value == value:
                return o.score
        return None

    def as_dict(self) -> dict[str, Any]:
        """The question as the API publishes it."""
        data: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "required": self.required,
            "label": self.label.as_dict(),
            "hint": self.hint.as_dict() if self.hint else None,
            "options": [{"value": o.value, "label": o.label.as_dict()} for o in self.options],
            "relevant": self.relevant.as_dict() if self.relevant else None,
            "subdimension": self.subdimension,
            "module": self.module,
            "score": ({o.value: o.score for o in self.options} if self.scored else None),
        }
        if self.type == "integer":
            data["min"], data["max"] = self.min, self.max
        if self.type == "text":
            data["max_length"] = self.max_length
        return data


@dataclass(frozen=True)
class Survey:
    slug: str
    version: int
    service_area: str
    title: Text
    intro: Text
    questions: tuple[Question, ...]
    source: str = ""
    digest: str = ""
    # The Viet Nam day this version shipped (surveys/releases.yaml): no one answered it earlier.
    released: date | None = None
    _by_id: dict[str, Question] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_id.update({q.id: q for q in self.questions})

    def question(self, qid: str) -> Question | None:
        return self._by_id.get(qid)

    @property
    def main_questions(self) -> tuple[Question, ...]:
        return tuple(q for q in self.questions if not q.respondent)

    @property
    def modules(self) -> tuple[str, ...]:
        """The rotating modules, in order of first appearance (empty: everyone sees everything)."""
        return tuple(dict.fromkeys(q.module for q in self.questions if q.module))

    def shown(self, module: str | None) -> tuple[Question, ...]:
        """The questions a web respondent given ``module`` sees: the core and that module."""
        return tuple(q for q in self.questions if q.module is None or q.module == module)

    @property
    def respondent_questions(self) -> tuple[Question, ...]:
        return tuple(q for q in self.questions if q.respondent)

    def as_dict(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "version": self.version,
            "service_area": self.service_area,
            "title": self.title.as_dict(),
            "questions": [q.as_dict() for q in self.questions],
        }
