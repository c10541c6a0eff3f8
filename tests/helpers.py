"""Answer sets that tests submit: one valid answer per applicable question."""

from __future__ import annotations

from surveys import Survey


def valid_answers(survey: Survey, *, respondent: bool = True, module: str | None = None) -> dict:
    """Answer every applicable question with a valid value (first option, ``yes``, 4 …).

    With rotating modules only the core and ``module`` (default: the first) are answered, as
    a web respondent given that module would.
    """
    answers: dict = {}
    module = module or (survey.modules[0] if survey.modules else None)
    for q in survey.shown(module):
        if q.respondent and not respondent:
            continue
        if q.relevant is not None and not q.relevant.holds(answers):
            continue
        if q.type == "rating":
            answers[q.id] = "4"
        elif q.type == "yes_no":
            answers[q.id] = "yes"
        elif q.type == "single":
            answers[q.id] = q.options[0].value
        elif q.type == "multiple":
            answers[q.id] = [q.options[0].value]
        elif q.type == "integer":
            answers[q.id] = q.min
        else:
            answers[q.id] = "Nhân viên nhiệt tình"
    return answers


def module_in_page(survey: Survey, html: str) -> str | None:
    """Which rotating module a rendered survey page shows (None for a survey without modules)."""
    shown = [m for m in survey.modules if any(f'id="q-{q.id}"' in html for q in survey.questions if q.module == m)]
    assert len(shown) <= 1, f"a page shows one module, this one shows {shown}"
    return shown[0] if shown else None


def paper_date(day=None) -> dict[str, str]:
    """The interview-date fields of the paper-entry form for ``day`` (default: today in Viet Nam)."""
    from feedback.times import local_day, now_seconds

    day = day or local_day(now_seconds())
    return {"interview_day": str(day.day), "interview_month": str(day.month), "interview_year": str(day.year)}
