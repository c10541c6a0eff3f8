"""API v1 routes: survey catalog, response submission and the OpenAPI document."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

from flask import abort, current_app, g, jsonify, request
from flask_babel import force_locale
from flask_babel import gettext as _

from surveys import Problem, catalog

from ..api_clients import authenticate, may_submit_for
from ..extensions import limiter
from ..messages import problem_message
from ..places import commune_exists
from ..responses import Submission, check_submission, parse_time, response_json, service_point_problem, store
from . import bp
from .checks import bad_text_fields, flag_burst_members, quality_flags
from .openapi import openapi_document

# ``website`` is the honeypot: documented as "leave empty", filled only by form-fillers.
FIELDS = {
    "id",
    "survey",
    "version",
    "commune",
    "service_point",
    "answers",
    "started_at",
    "submitted_at",
    "lang",
    "website",
}
VERSION = re.compile(r"[1-9][0-9]*")  # ASCII digits only: int() would also take "１", " 1" and "1_0"
BODY_METHODS = ("POST", "PUT", "PATCH")


@bp.before_request
def check_request():
    """A body only as application/json; a bearer token, when one is sent, must be valid.

    Only ``application/json`` makes a browser ask first (a CORS preflight, which this API
    never answers), so no web page can make its visitors' browsers submit. A sent token that
    is unknown, malformed or revoked is refused, never taken as anonymous.
    """
    g.api_client = None
    if request.method in BODY_METHODS and request.mimetype != "application/json":
        return _error(
            415,
            "body",
            lambda: _("Send the body as JSON, with the header Content-Type: application/json."),
            {"Accept-Post": "application/json"},
        )
    authorization = request.headers.get("Authorization")
    if authorization is not None:
        scheme, _space, token = authorization.partition(" ")
        client = authenticate(token.strip(" ")) if scheme.lower() == "bearer" else None
        if client is None:
            return _error(
                401,
                "Authorization",
                lambda: _("This API token is not valid: it is unknown, revoked or malformed."),
                {"WWW-Authenticate": 'Bearer realm="api", error="invalid_token"'},
            )
        g.api_client = client
    return None


def _error(
    status: int,
    field: str,
    message: Callable[[], str],
    headers: dict[str, str] | None = None,
    *,
    lang: str | None = None,
):
    """A JSON error in the caller's language (``message`` is called under that locale)."""
    with force_locale(lang or _request_lang({})):
        text = message()
    return jsonify({"errors": [{"field": field, "message": text}]}), status, headers or {}


@bp.get("/surveys")
def list_surveys():
    """Every current survey, one line each."""
    return jsonify(
        [
            {"slug": s.slug, "version": s.version, "service_area": s.service_area, "title": s.title.as_dict()}
            for s in catalog().all_current()
        ]
    )


@bp.get("/surveys/<slug>")
def get_survey(slug: str):
    """The current version of a survey (or ``?version=N``), with questions and score maps."""
    versions = request.args.getlist("version")
    if versions and (len(versions) > 1 or not VERSION.fullmatch(versions[0])):
        return _error(400, "version", lambda: _("The version must be one whole number from 1 up."))
    if versions:  # a number of more digits than any version has is simply not one (404)
        survey = catalog().get(slug, int(versions[0])) if len(versions[0]) <= 9 else None
    else:
        survey = catalog().current(slug)
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
            {
                "field": p.question if envelope or p.question in FIELDS else f"answers.{p.question}",
                "message": problem_message(p),
            }
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


def _request_lang(body: Any) -> str:
    """The body's ``lang`` if it has a valid one, else the best of Accept-Language (else English)."""
    lang = body.get("lang") if isinstance(body, dict) else None
    if lang in ("vi", "en"):
        return lang
    return request.accept_languages.best_match(["vi", "en"]) or "en"


@bp.post("/responses")
@limiter.limit(lambda: current_app.config["API_SUBMIT_LIMIT"])
def create_response():
    """Store a response once: 201 new, 200 same again, 409 same id with other content.

    Attributed to the registered client whose token came with it (403 outside its communes),
    else anonymous under the web form's quality checks (feedback/api/checks.py).
    """
    body = _read_json()
    bad_text = bad_text_fields(body)
    if bad_text:  # before anything reads, compares or hashes the text
        return _reject([Problem(name, "invalid_text") for name in bad_text], _request_lang(body), envelope=True)
    if not isinstance(body, dict):
        return _reject([Problem("body", "wrong_field_type")], _request_lang(body), envelope=True)
    lang = _request_lang(body)
    submission, problems = _submission_from(body)
    if problems:
        return _reject(problems, lang, envelope=True)
    client = g.api_client
    if client is not None and not may_submit_for(client, submission.commune_code):
        return _error(403, "commune", lambda: _("This API client may not send responses for this commune."), lang=lang)
    check_submission(submission, body["answers"])
    point_problem = service_point_problem(submission)
    if point_problem:
        submission.problems.append(point_problem)
    if submission.problems:
        return _reject(submission.problems, lang)
    submission.api_client_id = client.id if client is not None else None
    submission.flags = quality_flags(submission, registered=client is not None, honeypot=bool(body.get("website")))
    stored, created = store(submission)
    if created and "burst" in submission.flags:
        flag_burst_members(submission)
    if not created and stored.content_hash != submission.content_hash():
        return _error(409, "id", lambda: _("A different response with this id was already stored."), lang=lang)
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
    if not isinstance(body.get("website"), (str, type(None))):
        problems.append(Problem("website", "wrong_field_type"))
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
