"""\"You said, we did\": what communes report they did in response to feedback (CommuneAction).

Officers record entries for their communes, admins hide (and show again) an entry; every change
is audited. The public sees only entries that are not hidden: on the commune's results page, on
the thank-you page of the service point an entry concerns, and on the commune scorecard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import LazyString, lazy_gettext

from analysis.structures import DIMENSION_NAMES, DIMENSIONS
from surveys import forbidden_character, normalise_text

from . import audit
from .extensions import db
from .models import CommuneAction, ServicePoint, User, utcnow
from .times import local_day

__all__ = [
    "TITLE_MAX",
    "TEXT_MAX",
    "MAX_AGE",
    "ActionFields",
    "action_text",
    "visible_actions",
    "commune_actions",
    "create_action",
    "change_action",
    "set_hidden",
    "done_on_problem",
    "dimension_label",
    "answers_label",
    "thanks_actions",
]

#: Longest title (the column's size) and text an entry may have; a text is a few sentences.
TITLE_MAX = 160
TEXT_MAX = 2000
#: How far back an entry's day may lie: it reports a recent answer to feedback, not history.
MAX_AGE = timedelta(days=366)


def visible_actions(
    commune_code: str, *, service_point_id: int | None = None, limit: int | None = None
) -> list[CommuneAction]:
    """The commune's entries that are not hidden, newest first (by the day done, then the entry);
    with ``service_point_id``, only those about that service point."""
    query = (
        sa.select(CommuneAction)
        .where(CommuneAction.commune_code == commune_code, CommuneAction.hidden.is_(False))
        .order_by(CommuneAction.done_on.desc(), CommuneAction.id.desc())
    )
    if service_point_id is not None:
        query = query.where(CommuneAction.service_point_id == service_point_id)
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.scalars(query))


def action_text(action: CommuneAction, lang: str) -> dict[str, str]:
    """The entry's ``title`` and ``text`` in ``lang``, each falling back to Vietnamese when it has
    no English, with the language each is in (``title_lang``, ``text_lang``) for the page's markup."""
    out = {"title": action.title_vi, "title_lang": "vi", "text": action.text_vi or "", "text_lang": "vi"}
    if lang == "en":
        if (action.title_en or "").strip():
            out.update(title=action.title_en or "", title_lang="en")
        if (action.text_en or "").strip():
            out.update(text=action.text_en or "", text_lang="en")
    return out


# --- Staff: record, change, hide ----------------------------------------------------------


@dataclass(frozen=True)
class ActionFields:
    """What an officer enters for an entry; ``service_point_id`` or ``dimension`` (a PAPI
    dimension code, "1" to "8") says what it answers, or neither does."""

    title_vi: str
    text_vi: str
    done_on: date
    title_en: str | None = None
    text_en: str | None = None
    service_point_id: int | None = None
    dimension: str | None = None


def commune_actions(commune_code: str) -> list[CommuneAction]:
    """Every entry of the commune, hidden ones too (for staff), newest first."""
    return list(
        db.session.scalars(
            sa.select(CommuneAction)
            .where(CommuneAction.commune_code == commune_code)
            .order_by(CommuneAction.done_on.desc(), CommuneAction.id.desc())
        )
    )


def done_on_problem(day: date, today: date | None = None) -> LazyString | None:
    """Why ``day`` cannot be an entry's day (translated when shown), or None if it can: not after
    today (a Viet Nam day) and not more than MAX_AGE before it."""
    today = today or local_day(utcnow())
    if day > today:
        return lazy_gettext("The date cannot be in the future.")
    if day < today - MAX_AGE:
        return lazy_gettext("Please give a date within the last year.")
    return None


def _checked(commune_code: str, entry: ActionFields, today: date | None, *, check_day: bool = True) -> ActionFields:
    """The entry with its text normalised (titles on one line) and empty English as None;
    ValueError (translated) if it breaks a rule."""
    title_vi, text_vi = _line(entry.title_vi), _text(entry.text_vi)
    title_en, text_en = _line(entry.title_en) or None, _text(entry.text_en) or None
    if not title_vi or not text_vi:
        raise ValueError(lazy_gettext("Please give a title and a text in Vietnamese."))
    if len(title_vi) > TITLE_MAX or len(title_en or "") > TITLE_MAX:
        raise ValueError(lazy_gettext("A title has at most %(num)d characters.", num=TITLE_MAX))
    if len(text_vi) > TEXT_MAX or len(text_en or "") > TEXT_MAX:
        raise ValueError(lazy_gettext("A text has at most %(num)d characters.", num=TEXT_MAX))
    char = next(filter(None, (forbidden_character(t or "") for t in (title_vi, text_vi, title_en, text_en))), None)
    if char:
        raise ValueError(
            lazy_gettext("Please remove the invisible control character (%(char)s) from this field.", char=char)
        )
    problem = done_on_problem(entry.done_on, today) if check_day else None
    if problem is not None:
        raise ValueError(problem)
    if entry.service_point_id is not None and entry.dimension is not None:
        raise ValueError(lazy_gettext("An entry answers a service point or an area, not both."))
    if entry.dimension is not None and entry.dimension not in DIMENSIONS:
        raise ValueError(lazy_gettext("Please choose what the action answers from the list."))
    if entry.service_point_id is not None:
        point = db.session.get(ServicePoint, entry.service_point_id)
        if point is None or point.commune_code != commune_code:
            raise ValueError(lazy_gettext("Please choose what the action answers from the list."))
    return replace(entry, title_vi=title_vi, text_vi=text_vi, title_en=title_en, text_en=text_en)


def _line(value: str | None) -> str:
    """A title as stored: normalised like answers, every run of white space one space."""
    return re.sub(r"\s+", " ", normalise_text(value or "")).strip()


def _text(value: str | None) -> str:
    """A text as stored: normalised like answers (line breaks kept), no space at either end."""
    return normalise_text(value or "").strip()


def _target(action: CommuneAction) -> str:
    return f"action {action.id}: {action.title_vi}"


def _audited(entry: ActionFields | CommuneAction) -> dict[str, Any]:
    """The fields as the audit log keeps them (dates as ISO text)."""
    values = {f.name: getattr(entry, f.name) for f in fields(ActionFields)}
    values["done_on"] = values["done_on"].isoformat()
    return values


def create_action(
    commune_code: str, entry: ActionFields, *, user: User | None, today: date | None = None
) -> CommuneAction:
    """Add an entry to the commune (not committed), audited as ``action_created``; ValueError
    (with a message for the officer) when it breaks a rule."""
    entry = _checked(commune_code, entry, today)
    action = CommuneAction(
        commune_code=commune_code,
        created_by=user.id if user is not None else None,
        **{f.name: getattr(entry, f.name) for f in fields(entry)},
    )
    db.session.add(action)
    db.session.flush()
    audit.record(
        "action_created", target=_target(action), commune_code=commune_code, detail=_audited(entry), actor=user
    )
    return action


def change_action(
    action: CommuneAction, entry: ActionFields, *, user: User | None = None, today: date | None = None
) -> bool:
    """Apply an edit (not committed); audited as ``action_changed`` with the changed fields before
    and after. Returns whether anything changed; ValueError when the edit breaks a rule.

    An entry's day is checked against today only when it changes: an old entry can still get a
    corrected text."""
    entry = _checked(action.commune_code, entry, today, check_day=entry.done_on != action.done_on)
    before, after = _audited(action), _audited(entry)
    changed = [name for name in after if before[name] != after[name]]
    if not changed:
        return False
    for f in fields(entry):
        setattr(action, f.name, getattr(entry, f.name))
    audit.record(
        "action_changed",
        target=_target(action),
        commune_code=action.commune_code,
        detail={"before": {k: before[k] for k in changed}, "after": {k: after[k] for k in changed}},
        actor=user,
    )
    return True


def set_hidden(action: CommuneAction, hidden: bool, *, user: User | None = None) -> bool:
    """Hide an entry from every public page, or show it again (not committed); audited as
    ``action_hidden`` or ``action_unhidden``. Returns whether anything changed."""
    if action.hidden == hidden:
        return False
    action.hidden = hidden
    audit.record(
        "action_hidden" if hidden else "action_unhidden",
        target=_target(action),
        commune_code=action.commune_code,
        actor=user,
    )
    return True


def dimension_label(code: str, lang: str) -> str:
    """A PAPI dimension as the pages name it: "3. Trách nhiệm giải trình với người dân"."""
    name = DIMENSION_NAMES[code]
    return f"{code}. {name.en if lang == 'en' else name.vi}"


def answers_label(action: CommuneAction, lang: str) -> str:
    """What an entry answers, for staff pages: the service point's name, the dimension, or ""."""
    if action.service_point is not None:
        return action.service_point.name
    if action.dimension in DIMENSION_NAMES:
        return dimension_label(action.dimension, lang)
    return ""


# --- The thank-you page ---------------------------------------------------------------------


def thanks_actions(
    commune_code: str, point_id: object, lang: str, *, limit: int = 3
) -> tuple[ServicePoint | None, list[dict[str, Any]]]:
    """The service point a citizen just answered about and its visible entries, newest first, in
    ``lang``; (None, []) unless ``point_id`` names a service point of this commune."""
    if not isinstance(point_id, int) or isinstance(point_id, bool):
        return None, []
    point = db.session.get(ServicePoint, point_id)
    if point is None or point.commune_code != commune_code:
        return None, []
    return point, [
        {"done_on": a.done_on, **action_text(a, lang)}
        for a in visible_actions(commune_code, service_point_id=point.id, limit=limit)
    ]
