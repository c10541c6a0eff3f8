"""Check a set of raw answers against a survey version and score them; no web code here."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .model import Question, Survey

__all__ = ["Problem", "check_answers", "forbidden_character", "normalise_text", "scored_rows"]


@dataclass(frozen=True)
class Problem:
    """What is wrong with one answer: ``code`` names the rule, ``params`` fill the message."""

    question: str
    code: str
    params: dict[str, Any] = field(default_factory=dict)


def normalise_text(text: str) -> str:
    """One spelling for the same text: line breaks as LF (CR LF and lone CR become LF), then NFC.

    Browsers send a textarea's line breaks as CR LF, and phones may send Vietnamese decomposed
    (NFD: a base letter and its marks apart); both are the same text, and must be checked,
    counted and stored as the same text. Idempotent: normalising twice changes nothing more.
    """
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))


# Categories no stored text may hold: controls (Cc), invisible format characters (Cf: bidi
# overrides that reverse what follows on an officer's screen, zero-width characters, the BOM),
# line and paragraph separators (Zl, Zp), surrogates (Cs) and private use (Co).
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co"})


def _noncharacter(c: str) -> bool:
    """Unicode's 66 noncharacters: U+FDD0..U+FDEF and the last two code points of every plane."""
    point = ord(c)
    return 0xFDD0 <= point <= 0xFDEF or point & 0xFFFE == 0xFFFE


def forbidden_character(text: str) -> str | None:
    """The first character no text may hold (a control character other than LF and tab, an
    invisible format character, a line or paragraph separator, half of a surrogate pair, a
    private-use character or a noncharacter), as ``U+XXXX``; else None. Survey answers and
    staff text (feedback/forms.py) both use this one rule."""
    for c in text:
        if (unicodedata.category(c) in FORBIDDEN_CATEGORIES and c not in "\n\t") or _noncharacter(c):
            return f"U+{ord(c):04X}"
    return None


def _normalised(value: Any) -> Any:
    """An answer with every string in it normalised (multiple choice comes as a list)."""
    if isinstance(value, str):
        return normalise_text(value)
    if isinstance(value, list):
        return [normalise_text(v) if isinstance(v, str) else v for v in value]
    return value


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or (isinstance(value, str) and not value.strip())


def _one(q: Question, value: Any) -> tuple[Any, Problem | None]:
    """Normalise one non-blank answer, or say what is wrong with it."""
    for text in value if isinstance(value, list) else [value]:
        char = forbidden_character(text) if isinstance(text, str) else None
        if char:
            return None, Problem(q.id, "control_character", {"char": char, "label": q.label})
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
        assert q.min is not None and q.max is not None  # the loader gives every integer question both
        if not q.min <= number <= q.max:
            return None, Problem(q.id, "out_of_range", {"min": q.min, "max": q.max})
        return number, None
    if q.type == "text":
        if not isinstance(value, str):
            return None, Problem(q.id, "wrong_type")
        text = value.strip()  # already normalised: the length counts letters, not code points of marks
        if len(text) > q.max_length:
            return None, Problem(q.id, "too_long", {"max": q.max_length, "length": len(text)})
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
    range, missing required answers, answers to questions that do not apply and control
    characters are problems. Every text is normalised (``normalise_text``) before any check,
    so every channel (web form, paper entry, API) checks, counts and stores the same text.
    """
    problems = [Problem(str(k), "unknown_question") for k in raw if survey.question(str(k)) is None]
    clean: dict[str, Any] = {}
    for q in survey.questions:
        value = _normalised(raw.get(q.id))
        applies = q.relevant is None or q.relevant.holds(clean)
        if _blank(value):
            if q.required and applies:
                problems.append(Problem(q.id, "required"))
            continue
        if not applies:
            assert q.relevant is not None  # only a condition can make a question not apply
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
            rows.append(
                {
                    "question_id": q.id,
                    "position": position,
                    "value": str(value),
                    "subdimension": q.subdimension,
                    "score": q.score_of(str(value)) if q.scored else None,
                }
            )
    return rows
