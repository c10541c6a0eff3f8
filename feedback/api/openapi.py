"""The OpenAPI 3.1 document for API v1, kept next to the routes it describes."""

from __future__ import annotations

from typing import Any

TEXT = {
    "type": "object",
    "required": ["vi", "en"],
    "properties": {"vi": {"type": "string"}, "en": {"type": "string"}},
}
ERRORS = {
    "type": "object",
    "required": ["errors"],
    "properties": {
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        }
    },
}
ANSWER_VALUE = {
    "oneOf": [
        {"type": "string", "maxLength": 2000},
        {"type": "integer"},
        {"type": "array", "items": {"type": "string"}},
        {"type": "null"},
    ]
}
RESPONSE_IN = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "survey", "version", "commune", "answers", "submitted_at", "lang"],
    "properties": {
        "id": {
            "type": "string",
            "format": "uuid",
            "description": "Chosen by the client once per questionnaire; resending it never counts twice.",
        },
        "survey": {"type": "string", "description": "Survey slug, e.g. `health`."},
        "version": {"type": "integer", "description": "The survey version the answers were given to."},
        "commune": {"type": "string", "pattern": "^[0-9]{5}$", "description": "Official commune/ward code."},
        "service_point": {"type": ["integer", "null"], "description": "Service point id, or null."},
        "answers": {
            "type": "object",
            "additionalProperties": ANSWER_VALUE,
            "description": "Question id → value (list for multiple choice).",
        },
        "started_at": {
            "type": ["string", "null"],
            "format": "date-time",
            "description": "When the questionnaire was opened; responses answered implausibly fast are "
            "flagged. An anonymous response without it is flagged too_fast (its speed "
            "cannot be shown); a registered client (a paper-entry tool) may leave it out.",
        },
        "submitted_at": {
            "type": "string",
            "format": "date-time",
            "description": "A time without offset is taken as Viet Nam time (UTC+7).",
        },
        "lang": {"type": "string", "enum": ["vi", "en"]},
        "website": {
            "type": ["string", "null"],
            "description": "Leave this out or empty. It is a honeypot, like the web form's hidden field: a "
            "response that fills it is stored flagged `honeypot` and left out of scores.",
        },
    },
}
RESPONSE_OUT = {
    "type": "object",
    "required": [
        "id",
        "survey",
        "version",
        "commune",
        "service_point",
        "answers",
        "lang",
        "mode",
        "submitted_at",
        "received_at",
    ],
    "properties": {
        **{k: v for k, v in RESPONSE_IN["properties"].items() if k != "website"},
        "mode": {"type": "string", "enum": ["web", "paper", "api"]},
        "received_at": {"type": "string", "format": "date-time"},
    },
}
QUESTION = {
    "type": "object",
    "required": ["id", "type", "required", "label", "options", "relevant", "subdimension", "score"],
    "properties": {
        "id": {"type": "string"},
        "type": {"type": "string", "enum": ["rating", "yes_no", "single", "multiple", "integer", "text"]},
        "required": {"type": "boolean"},
        "label": TEXT,
        "hint": {"oneOf": [TEXT, {"type": "null"}]},
        "options": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["value", "label"],
                "properties": {"value": {"type": "string"}, "label": TEXT},
            },
        },
        "relevant": {
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "required": ["question", "in"],
                    "properties": {
                        "question": {"type": "string"},
                        "in": {"type": "array", "items": {"type": "string"}},
                    },
                },
            ]
        },
        "subdimension": {"type": ["string", "null"], "description": "PAPI sub-dimension code such as 6.1."},
        "score": {
            "oneOf": [
                {"type": "null"},
                {"type": "object", "additionalProperties": {"type": ["number", "null"], "minimum": 0, "maximum": 1}},
            ]
        },
        "min": {"type": "integer"},
        "max": {"type": "integer"},
        "max_length": {"type": "integer"},
    },
}
SURVEY_SUMMARY = {
    "type": "object",
    "required": ["slug", "version", "service_area", "title"],
    "properties": {
        "slug": {"type": "string"},
        "version": {"type": "integer"},
        "service_area": {"type": "string", "enum": ["health", "school", "one_stop", "land", "commune_office"]},
        "title": TEXT,
    },
}
SURVEY = {
    **SURVEY_SUMMARY,
    "required": SURVEY_SUMMARY["required"] + ["questions"],
    "properties": {**SURVEY_SUMMARY["properties"], "questions": {"type": "array", "items": QUESTION}},
}


NUMBER = {"type": ["number", "null"]}
INTEGER = {"type": ["integer", "null"]}
#: One row of the score export (``export-scores``); the province roll-up adds the columns of
#: ``PROVINCE_EXTRA``. Estimates are null where they do not exist or are hidden.
_SCORE_COLUMNS: dict[str, Any] = {
    "commune_code": {
        "type": "string",
        "description": "Official commune/ward code (province code on roll-up rows).",
    },
    "commune_name": {"type": "string"},
    "level": {"type": "string", "enum": ["subdimension", "dimension", "aggregate"]},
    "code": {"type": "string", "description": "PAPI code: `6.1`, `6` or `total`."},
    "n": {**INTEGER, "description": "Respondents with a value (sub-dimensions)."},
    "n_eff": {**NUMBER, "description": "Kish effective sample size."},
    "p": {**NUMBER, "description": "Direct weighted estimate, 0–1 scale."},
    "se": {**NUMBER, "description": "Standard error of the direct score, PAPI scale."},
    "score": {**NUMBER, "description": "Direct PAPI-scale score."},
    "ci_low": {**NUMBER, "description": "Direct score, 95% interval (Korn–Graubard for sub-dimensions)."},
    "ci_high": NUMBER,
    "se_p": {**NUMBER, "description": "Standard error of p, 0–1 scale."},
    "p_eb": {**NUMBER, "description": "Small-area (empirical Bayes, Fay–Herriot) estimate, 0–1 scale."},
    "mse_eb": {**NUMBER, "description": "Mean squared error of p_eb (Datta–Lahiri), 0–1 scale."},
    "score_eb": {**NUMBER, "description": "Empirical-Bayes score, PAPI scale; ranks and groups use it."},
    "se_eb": {**NUMBER, "description": "Root mean squared error of score_eb, PAPI scale."},
    "ci_low_eb": {**NUMBER, "description": "Empirical-Bayes score, 95% interval."},
    "ci_high_eb": NUMBER,
    "group": {"type": ["string", "null"], "enum": ["highest", "high-average", "low-average", "lowest", "", None]},
    "rank": {**INTEGER, "description": "Rank by score_eb within level and code, 1 = best."},
    "rank_low": {**INTEGER, "description": "95% rank interval, best end."},
    "rank_high": {**INTEGER, "description": "95% rank interval, worst end."},
    "flags": {
        "type": "string",
        "description": "Flags separated by `;`, a code optionally followed by `:` and "
        "a detail (`unreliable:width`, `synthetic:3/28`); see the XLSX "
        "README sheet.",
    },
}
SCORE_ROW = {"type": "object", "required": list(_SCORE_COLUMNS), "properties": _SCORE_COLUMNS}

# Empty means "no bound", as an HTML date field sends it.
OPTIONAL_DATE = {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "maxLength": 0}]}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


# Every /api/v1 route checks a bearer token that is sent, and refuses one that is not valid.
BAD_TOKEN = {
    **_json(ERRORS, "A bearer token was sent and is unknown, malformed or revoked (never taken as anonymous)"),
    "headers": {
        "WWW-Authenticate": {"description": '`Bearer realm="api", error="invalid_token"`', "schema": {"type": "string"}}
    },
}


def openapi_document() -> dict[str, Any]:
    """OpenAPI 3.1 document for every /api/v1 route."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Lào Cai citizen feedback API",
            "version": "1.0.0",
            "description": "Surveys and anonymous responses behind commune-level proxy PAPI scores.",
        },
        "components": {
            "securitySchemes": {
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "session",
                    "description": "The session cookie set by POST /login.",
                },
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The token of a registered API client (a kiosk tablet, a paper-entry "
                    "tool), issued once by `flask create-api-client` (docs/kiosk.md). "
                    "Optional: without it a response is anonymous.",
                },
            },
        },
        "paths": {
            "/api/v1/surveys": {
                "get": {
                    "operationId": "listSurveys",
                    "summary": "Current version of every survey",
                    "responses": {
                        "200": _json({"type": "array", "items": SURVEY_SUMMARY}, "Survey list"),
                        "401": BAD_TOKEN,
                    },
                }
            },
            "/api/v1/surveys/{slug}": {
                "get": {
                    "operationId": "getSurvey",
                    "summary": "One survey with questions, relevance conditions and score maps",
                    "parameters": [
                        {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}},
                        {
                            "name": "version",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "minimum": 1},
                        },
                    ],
                    "responses": {
                        "200": _json(SURVEY, "The survey"),
                        "400": _json(ERRORS, "`version` is not one whole number from 1 up"),
                        "401": BAD_TOKEN,
                        "404": _json(ERRORS, "No such survey or version"),
                    },
                }
            },
            "/api/v1/responses": {
                "post": {
                    "operationId": "createResponse",
                    "summary": "Submit a response; idempotent on its id",
                    "description": "Anonymous, or attributed to a registered client by its bearer token. Only "
                    "`application/json` is accepted. Anonymous responses get the web form's "
                    "quality checks (speed, straight lines, honeypot, bursts from one address or "
                    "device); registered clients skip the burst check. Flagged responses are "
                    "stored (and answered 201) but left out of scores. Every string, key or value, "
                    "must be valid text: a lone UTF-16 surrogate or NUL is refused with 422 naming "
                    "its field.",
                    "security": [{}, {"bearer": []}],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": RESPONSE_IN}}},
                    "responses": {
                        "201": _json(RESPONSE_OUT, "Stored"),
                        "200": _json(RESPONSE_OUT, "Already stored with the same content (a retry)"),
                        "400": _json(ERRORS, "The body is not JSON"),
                        "401": BAD_TOKEN,
                        "403": _json(ERRORS, "The registered client may not send responses for this commune"),
                        "409": _json(ERRORS, "A different response with this id is stored"),
                        "413": _json(ERRORS, "The body is too large"),
                        "415": {
                            **_json(ERRORS, "The body was not sent as `application/json`"),
                            "headers": {
                                "Accept-Post": {"description": "`application/json`", "schema": {"type": "string"}}
                            },
                        },
                        "422": _json(ERRORS, "Invalid content; nothing stored"),
                        "429": _json(
                            ERRORS,
                            "Too many submissions from this address in a short time; nothing stored, "
                            "resend the same body later",
                        ),
                        "503": {
                            **_json(
                                ERRORS,
                                "The database is unavailable for a moment; nothing stored, "
                                "resend the same body later (the id keeps it from counting twice)",
                            ),
                            "headers": {
                                "Retry-After": {
                                    "description": "Seconds to wait before resending",
                                    "schema": {"type": "integer"},
                                }
                            },
                        },
                    },
                }
            },
            "/api/v1/scores": {
                "get": {
                    "operationId": "getScores",
                    "security": [{"session": []}],
                    "summary": "PAPI-style proxy scores per commune (analysts and admins, logged in)",
                    "description": "The rows of `flask export-scores` as JSON. "
                    "Needs an analyst or admin session cookie.",
                    "parameters": [
                        {
                            "name": "from",
                            "in": "query",
                            "required": False,
                            "schema": OPTIONAL_DATE,
                            "description": "First submission day (Viet Nam), YYYY-MM-DD from 2000-01-01 to "
                            "2999-12-31 and not after today; empty or absent: no limit. A 400 names the rule broken.",
                        },
                        {
                            "name": "to",
                            "in": "query",
                            "required": False,
                            "schema": OPTIONAL_DATE,
                            "description": "Last submission day (Viet Nam), YYYY-MM-DD, not before `from`; "
                            "empty or absent: no limit.",
                        },
                        {
                            "name": "level",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "enum": ["commune", "province"]},
                        },
                        {
                            "name": "structure",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "enum": ["current", "2018"]},
                        },
                        {
                            "name": "public",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "enum": ["0", "1"]},
                        },
                        {
                            "name": "province",
                            "in": "query",
                            "required": False,
                            "description": "Two-digit province code: a national account's choice (empty or absent: the "
                            "app's province); an account of one province gets 404 for another, anyone "
                            "gets 404 for a code with no communes loaded.",
                            "schema": {"type": "string"},
                        },
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["rows"],
                                "properties": {
                                    "meta": {"type": "object"},
                                    "rows": {"type": "array", "items": SCORE_ROW},
                                },
                            },
                            "Scores",
                        ),
                        "400": _json(ERRORS, "A bad date or option, or `from` after `to`"),
                        "401": _json(ERRORS, "Not logged in, or a bearer token was sent that is not valid"),
                        "403": _json(ERRORS, "Logged in without the analyst or admin role"),
                        "404": _json(
                            ERRORS, "A `province` other than the account's own, or one with no communes loaded"
                        ),
                        "503": _json(
                            ERRORS,
                            "Nothing cached yet for a large scope: a job computes it; try again "
                            "after `Retry-After` seconds",
                        ),
                    },
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "responses": {"200": _json({"type": "object"}, "OpenAPI document"), "401": BAD_TOKEN},
                }
            },
        },
    }
