"""Check a set of raw answers against a survey version and score them; no web code here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from .model import Question, Survey

__all__ = ["Problem", "check_answers", "scored_rows"]


@dataclass(frozen=True)
class Problem:
    """What is wrong with one answer: ``code`` names the rule, ``params`` fill the message."""

    question: str
    code: str
    params: dict[str, Any] = field(default_factory=dict)


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or (isinstance(value, str) and not value.strip())


def _one(q: Question, value: Any) -> tuple[Any, Problem | None]:
    """Normalise one non-blank answer, or say what is wrong with it."""
    if q.type == "multiple":
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in items):
            return None, Problem(q.id, "wrong_type")
        bad = [v for v in items if v not in q.option_values]
        if bad:
            return None, Problem(q.id, "invalid_choice")
        # Keep the survey's option order and drop repeats.
        return [v for v in q.option_values if v in items], None
    if isinstance(value, (list, dict)) or isinstance(value, bool):
        return None, Problem(q.id, "wrong_type")
    if q.type == "integer":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        text = str(value).strip()
        if not (text.lstrip("-").isdigit() and text.isascii() and len(text) <= 12):
            return None, Problem(q.id, "not_integer")
        number = int(text)
        if not q.min <= number <= q.max:
            return None, Problem(q.id, "out_of_range", {"min": q.min, "max": q.max})
        return number, None
    if q.type == "text":
        if not isinstance(value, str):
            return None, Problem(q.id, "wrong_type")
        text = value.strip()
        if len(text) > q.max_length:
            return None, Problem(q.id, "too_long", {"max": q.max_length, "length": len(text)})
        if any(ord(c) < 32 and c not in "\n\t" for c in text):
            return None, Problem(q.id, "wrong_type")
        return text, None
    # rating, yes_no, single: one option value (ratings may come as numbers from the API)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, (str, int)):
        return None, Problem(q.id, "wrong_type")
    text = str(value)
    if text not in q.option_values:
        if q.type == "rating":
            return None, Problem(q.id, "out_of_range", {"min": 1, "max": 5})
        return None, Problem(q.id, "invalid_choice")
    return text, None


def check_answers(survey: Survey, raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """Validate ``raw`` answers (question id → value or list) in question order.

    Returns the clean answers (blank ones left out) and the problems; the answers are only
    to be stored when there are no problems. Unknown question ids, wrong types, values out of
    range, missing required answers and answers to questions that do not apply are problems.
    """
    problems = [Problem(str(k), "unknown_question") for k in raw if survey.question(str(k)) is None]
    clean: dict[str, Any] = {}
    for q in survey.questions:
        value = raw.get(q.id)
        applies = q.relevant is None or q.relevant.holds(clean)
        if _blank(value):
            if q.required and applies:
                problems.append(Problem(q.id, "required"))
            continue
        if not applies:
            problems.append(Problem(q.id, "not_relevant", {"question": q.relevant.question}))
            continue
        normal, problem = _one(q, value)
        if problem:
            problems.append(problem)
        else:
            clean[q.id] = normal
    return clean, problems


def scored_rows(survey: Survey, clean: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per stored answer value: question_id, position, value, subdimension, score."""
    rows = []
    for q in survey.questions:
        if q.id not in clean:
            continue
        values = clean[q.id] if isinstance(clean[q.id], list) else [clean[q.id]]
        for position, value in enumerate(values):
            rows.append({
                "question_id": q.id,
                "position": position,
                "value": str(value),
                "subdimension": q.subdimension,
                "score": q.score_of(str(value)) if q.scored else None,
            })
    return rows
