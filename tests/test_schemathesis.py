"""Schemathesis against the app's own /api/v1/openapi.json, in process (WSGI).

Every generated request — schema-valid, schema-invalid and malformed — must get an answer that
the OpenAPI document describes (status code, content type, headers, body schema), and never a
5xx. Runs on the suite's database: SQLite, or PostgreSQL when ``TEST_DATABASE_URL`` is set.
"""

from __future__ import annotations

import json
import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from feedback import create_app
from feedback.extensions import db
from surveys import catalog

from .conftest import BASE_URL, AuthActions, _config
from .helpers import valid_answers

# A body can match the JSON schema and still be refused with 422: the commune must exist in the
# database and the answers must fit the survey's questions and relevance conditions, which no
# JSON schema can say. 409 is the documented answer to a reused id with other content, 404 to a
# survey slug or version that does not exist. A body that breaks the schema by being too long
# may be refused for its size first: 413 (documented) is a rejection too.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {"expected-statuses": ["2xx", "404", "409", "422"]},
            "negative_data_rejection": {
                "expected-statuses": [
                    "400",
                    "401",
                    "403",
                    "404",
                    "405",
                    "406",
                    "409",
                    "413",
                    "415",
                    "422",
                    "428",
                    "429",
                    "5xx",
                ]
            },
        },
    }
)


def _document_app():
    """An app used only to serve the OpenAPI document (that route touches no database)."""
    return create_app(
        {"TESTING": True, "SECRET_KEY": "test-secret", "BASE_URL": BASE_URL, "SQLALCHEMY_DATABASE_URI": "sqlite://"}
    )


# The document is read from the app itself, exactly as clients read it.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", _document_app(), config=CONFIG)

# Every check runs (the JSON error handler keeps Werkzeug's ``Allow`` header on 405).
EXCLUDED: list = []


@pytest.fixture
def app(app, database_url):
    """Like the suite's app (whose fixture has emptied the tables), with rate limits off.

    Hundreds of generated requests from one address would otherwise soon get nothing but 429s
    (documented, but then the validation behind the limit would go unexplored).
    """
    unlimited = create_app({**_config(database_url), "RATELIMIT_ENABLED": False})
    yield unlimited
    with unlimited.app_context():
        db.session.remove()
        db.engine.dispose()


@schema.parametrize()
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_conforms_to_its_openapi_document(case, app, analyst_session):
    # ``app`` is the suite's app on the test database; the examples share it.
    excluded = EXCLUDED
    if case.operation.path == "/api/v1/scores":
        # Explore the endpoint as a logged-in analyst. Schemathesis takes any cookie it did not
        # make for "generated, likely invalid" auth, so its ignored-auth check is left out here;
        # tests/test_analyst.py checks 401 without a session and 403 for officers. "from after
        # to" is a documented 400 that OpenAPI cannot express, so schema-valid requests may be
        # refused there.
        case.cookies = {**(case.cookies or {}), "session": analyst_session}
        excluded = [*EXCLUDED, schemathesis.checks.ignored_auth, schemathesis.checks.positive_data_acceptance]
    case.call_and_validate(app=app, excluded_checks=excluded)


@pytest.fixture
def analyst_session(app, users) -> str:
    """The session cookie of a logged-in analyst (the scores endpoint is for analysts)."""
    client = app.test_client()
    assert AuthActions(client).login(users["analyst"]["email"]).status_code == 302
    return client.get_cookie("session").value


def test_stored_response_matches_the_documented_schema(app):
    """A valid submission (201), its retry (200) and a changed body (409) all match the document."""
    survey = catalog().current("health")
    body = {
        "id": str(uuid.uuid4()),
        "survey": survey.slug,
        "version": survey.version,
        "commune": "04465",
        "service_point": None,
        "answers": valid_answers(survey),
        "lang": "vi",
        "started_at": "2025-09-01T08:00:00+07:00",
        "submitted_at": "2025-09-01T08:01:10+07:00",
    }
    operation = schema["/api/v1/responses"]["POST"]
    for expected, sent in ((201, body), (200, body), (409, {**body, "lang": "en"})):
        response = operation.Case(body=sent, media_type="application/json").call_and_validate(
            app=app, excluded_checks=EXCLUDED
        )
        assert response.status_code == expected, response.text


@pytest.fixture
def kiosk_token(app) -> str:
    """The token of a registered client that may send for every commune of the province."""
    from feedback.api_clients import create_api_client

    with app.app_context():
        _, token = create_api_client("schemathesis-kiosk")
        db.session.commit()
    return token


@schema.include(operation_id="createResponse").parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_registered_client_submissions_conform(case, app, kiosk_token):
    """The same exploration of the submission endpoint as a registered client, with its token."""
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {kiosk_token}"}
    case.call_and_validate(app=app, excluded_checks=[*EXCLUDED, schemathesis.checks.ignored_auth])


def test_refusals_match_the_documented_schema(app, kiosk_token):
    """401 (bad token), 403 (outside the client's communes) and 415 (not JSON) as documented."""
    from feedback.api_clients import create_api_client

    with app.app_context():
        _, own_only = create_api_client("schemathesis-khao-mang", ["04465"])
        db.session.commit()
    survey = catalog().current("health")
    body = {
        "id": str(uuid.uuid4()),
        "survey": survey.slug,
        "version": survey.version,
        "commune": "02647",
        "service_point": None,
        "answers": valid_answers(survey),
        "lang": "vi",
        "started_at": "2025-09-01T08:00:00+07:00",
        "submitted_at": "2025-09-01T08:01:10+07:00",
    }
    operation = schema["/api/v1/responses"]["POST"]
    for expected, token in ((401, "not-a-token"), (403, own_only)):
        case = operation.Case(body=body, media_type="application/json", headers={"Authorization": f"Bearer {token}"})
        response = case.call_and_validate(app=app, excluded_checks=[*EXCLUDED, schemathesis.checks.ignored_auth])
        assert response.status_code == expected, response.text
    with app.test_client() as client:
        refused = client.post("/api/v1/responses", data=json.dumps(body), content_type="text/plain")
    assert refused.status_code == 415
    operation.validate_response(refused)
