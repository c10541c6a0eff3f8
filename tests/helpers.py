"""Answer sets that tests submit: one valid answer per applicable question."""

from __future__ import annotations

from surveys import Survey


def valid_answers(survey: Survey, *, respondent: bool = True) -> dict:
    """Answer every applicable question with a valid value (first option, ``yes``, 4 …)."""
    answers: dict = {}
    for q in survey.questions:
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
