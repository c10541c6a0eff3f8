"""API v1 routes: survey catalog, response submission and the OpenAPI document."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from flask import abort, current_app, jsonify, request
from flask_babel import force_locale
from flask_babel import gettext as _

from surveys import Problem, catalog

from ..extensions import limiter
from ..messages import problem_message
from ..places import commune_exists
from ..quality import answer_flags
from ..responses import Submission, check_submission, parse_time, response_json, service_point_problem, store
from . import bp
from .openapi import openapi_document

FIELDS = {"id", "survey", "version", "commune", "service_point", "answers", "started_at", "submitted_at", "lang"}


@bp.get("/surveys")
def list_surveys():
    """Every current survey, one line each."""
    return jsonify([
        {"slug": s.slug, "version": s.version, "service_area": s.service_area, "title": s.title.as_dict()}
        for s in catalog().all_current()
    ])


@bp.get("/surveys/<slug>")
def get_survey(slug: str):
    """The current version of a survey (or ``?version=N``), with questions and score maps."""
    version = request.args.get("version", type=int)
    survey = catalog().get(slug, version) if version else catalog().current(slug)
    if survey is None:
        abort(404)
    return jsonify(survey.as_dict())


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3 description of this API."""
    return jsonify(openapi_document())


def _reject(problems: list[Problem], lang: str, *, envelope: bool = False):
    """422 listing each problem; answer problems are named ``answers.<question id>``."""
    with force_locale(lang):
        errors = [
            {"field": p.question if envelope or p.question in FIELDS else f"answers.{p.question}",
             "message": problem_message(p)}
            for p in problems
        ]
    return jsonify({"errors": errors}), 422


def _read_json() -> Any:
    """The request body as JSON, or a 400 for anything that is not JSON text."""
    raw = request.get_data(cache=True)  # raises 413 past MAX_CONTENT_LENGTH

    def no_constants(name: str) -> Any:
        raise ValueError(name)

    try:
        return json.loads(raw, parse_constant=no_constants)
    except (ValueError, UnicodeDecodeError, RecursionError):
        abort(400, description=_("The body is not valid JSON."))


def _request_lang(body: dict[str, Any]) -> str:
    lang = body.get("lang")
    if lang in ("vi", "en"):
        return lang
    return request.accept_languages.best_match(["vi", "en"]) or "en"


@bp.post("/responses")
@limiter.limit(lambda: current_app.config["API_SUBMIT_LIMIT"])
def create_response():
    """Store a response once: 201 new, 200 same again, 409 same id with other content."""
    body = _read_json()
    if not isinstance(body, dict):
        return _reject([Problem("body", "wrong_field_type")], "en", envelope=True)
    lang = _request_lang(body)
    submission, problems = _submission_from(body)
    if problems:
        return _reject(problems, lang, envelope=True)
    check_submission(submission, body["answers"])
    point_problem = service_point_problem(submission)
    if point_problem:
        submission.problems.append(point_problem)
    if submission.problems:
        return _reject(submission.problems, lang)
    submission.flags = answer_flags(submission.survey, submission.answers,
                                    started_at=submission.started_at, submitted_at=submission.submitted_at)
    stored, created = store(submission)
    if not created and stored.content_hash != submission.content_hash():
        return jsonify({"errors": [{"field": "id", "message": "A different response with this id was already stored."}]}), 409
    return jsonify(response_json(submission, stored)), 201 if created else 200


def _submission_from(body: dict[str, Any]) -> tuple[Submission | None, list[Problem]]:
    """Check the envelope fields (everything but the answers) and build a Submission."""
    problems = [Problem(str(k)[:60], "unknown_field") for k in body if k not in FIELDS]
    for name in ("id", "survey", "version", "commune", "answers", "submitted_at"):
        if name not in body:
            problems.append(Problem(name, "missing"))
    if problems:
        return None, problems
    try:
        response_id = uuid.UUID(body["id"]) if isinstance(body["id"], str) else None
    except ValueError:
        response_id = None
    if response_id is None:
        problems.append(Problem("id", "bad_uuid"))
    slug, version = body["survey"], body["version"]
    survey = None
    if not isinstance(slug, str) or catalog().current(slug) is None:
        problems.append(Problem("survey", "unknown_survey"))
    elif not isinstance(version, int) or isinstance(version, bool) or catalog().get(slug, version) is None:
        problems.append(Problem("version", "unknown_version"))
    else:
        survey = catalog().get(slug, version)
    commune = body["commune"]
    if not isinstance(commune, str) or not re.fullmatch(r"\d{5}", commune) or not commune_exists(commune):
        problems.append(Problem("commune", "unknown_commune"))
    point = body.get("service_point")
    if point is not None and (not isinstance(point, int) or isinstance(point, bool)):
        problems.append(Problem("service_point", "wrong_field_type"))
    elif point is not None and not 1 <= point < 2**31:
        problems.append(Problem("service_point", "unknown_service_point"))
    if not isinstance(body["answers"], dict):
        problems.append(Problem("answers", "wrong_field_type"))
    submitted_at = parse_time(body["submitted_at"])
    if submitted_at is None:
        problems.append(Problem("submitted_at", "bad_time"))
    started_at = None
    if body.get("started_at") is not None:
        started_at = parse_time(body["started_at"])
        if started_at is None:
            problems.append(Problem("started_at", "bad_time"))
    if body.get("lang") not in ("vi", "en"):
        problems.append(Problem("lang", "bad_lang"))
    if problems:
        return None, problems
    return Submission(
        id=response_id,
        survey=survey,
        commune_code=commune,
        service_point_id=point,
        answers={},
        lang=body["lang"],
        mode="api",
        started_at=started_at,
        submitted_at=submitted_at,
    ), []
