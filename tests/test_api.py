"""JSON API v1: catalog, idempotent submission and its error codes."""

from __future__ import annotations

import json

import pytest

from surveys import catalog

from .conftest import count, new_id
from .helpers import valid_answers


def body(**changes) -> dict:
    survey = catalog().current("health")
    data = {
        "id": new_id(), "survey": "health", "version": survey.version, "commune": "04465",
        "service_point": None, "answers": valid_answers(survey), "started_at": "2026-11-20T08:00:00+07:00",
        "submitted_at": "2026-11-20T08:01:10+07:00", "lang": "vi",
    }
    data.update(changes)
    return data


def test_list_surveys(client):
    data = client.get("/api/v1/surveys").get_json()
    assert {s["slug"] for s in data} == {s.slug for s in catalog().all_current()}
    assert all(set(s) == {"slug", "version", "service_area", "title"} and set(s["title"]) == {"vi", "en"} for s in data)


@pytest.mark.parametrize("slug", [s.slug for s in catalog().all_current()])
def test_get_survey_contract(client, slug):
    data = client.get(f"/api/v1/surveys/{slug}").get_json()
    assert data["slug"] == slug and data["version"] >= 1
    for q in data["questions"]:
        assert {"id", "type", "required", "label", "options", "relevant", "subdimension", "score"} <= set(q)
        if q["type"] == "rating":
            assert [o["value"] for o in q["options"]] == ["1", "2", "3", "4", "5"]
        if q["subdimension"] is not None:
            assert set(q["score"]) == {o["value"] for o in q["options"]}
            assert all(v is None or 0 <= v <= 1 for v in q["score"].values())
        else:
            assert q["score"] is None
    ids = [q["id"] for q in data["questions"]]
    assert ids[-3:] == ["sex", "age_band", "ethnic_group"]


def test_unknown_survey_is_404_json(client):
    r = client.get("/api/v1/surveys/nope")
    assert r.status_code == 404 and "errors" in r.get_json()


def test_create_then_retry_then_conflict(app, client, point):
    b = body(service_point=point["id"])
    first = client.post("/api/v1/responses", json=b)
    assert first.status_code == 201, first.get_json()
    stored = first.get_json()
    assert stored["id"] == b["id"] and stored["mode"] == "api" and stored["service_point"] == point["id"]
    assert stored["submitted_at"].startswith("2026-11-20T01:01:10")
    again = client.post("/api/v1/responses", json=b)
    assert again.status_code == 200 and again.get_json() == stored
    changed = client.post("/api/v1/responses", json={**b, "answers": {**b["answers"], "overall": "1"}})
    assert changed.status_code == 409
    assert count(app) == 1


def test_multiple_choice_and_numbers_round_trip(client):
    survey = catalog().current("health")
    b = body(answers={**valid_answers(survey), "overall": 5})
    r = client.post("/api/v1/responses", json=b)
    assert r.status_code == 201 and r.get_json()["answers"]["overall"] == "5"
    assert client.post("/api/v1/responses", json=b).status_code == 200


@pytest.mark.parametrize("changes, field", [
    ({"id": "not-a-uuid"}, "id"),
    ({"survey": "nope"}, "survey"),
    ({"version": 999}, "version"),
    ({"version": "1"}, "version"),
    ({"commune": "4465"}, "commune"),
    ({"commune": "99999"}, "commune"),
    ({"service_point": "x"}, "service_point"),
    ({"service_point": 10**12}, "service_point"),
    ({"service_point": 2**31 - 1}, "service_point"),
    ({"submitted_at": "yesterday"}, "submitted_at"),
    ({"submitted_at": "2999-01-01T00:00:00Z"}, "submitted_at"),
    ({"started_at": "2026-11-21T00:00:00+07:00"}, "started_at"),
    ({"lang": "fr"}, "lang"),
    ({"answers": []}, "answers"),
    ({"extra": 1}, "extra"),
    ({"answers": {"bogus": "1", "used_service": "no", "overall": "3"}}, "answers.bogus"),
    ({"answers": {"used_service": "no"}}, "answers.overall"),
    ({"answers": {"used_service": "no", "overall": 6}}, "answers.overall"),
    ({"answers": {"used_service": "no", "overall": True}}, "answers.overall"),
    ({"answers": {"used_service": "no", "overall": [3]}}, "answers.overall"),
    ({"answers": {"used_service": "no", "overall": "3", "staff_respect": "yes"}}, "answers.staff_respect"),
    ({"answers": {"used_service": "no", "overall": "3", "comment": "x" * 501}}, "answers.comment"),
    ({"answers": {"used_service": "no", "overall": "3", "sex": "unknown"}}, "answers.sex"),
])
def test_invalid_content_is_422_and_stores_nothing(app, client, changes, field):
    r = client.post("/api/v1/responses", json=body(**changes))
    assert r.status_code == 422, r.get_json()
    errors = r.get_json()["errors"]
    assert field in [e["field"] for e in errors] and all(e["message"] for e in errors)
    assert count(app) == 0


def test_missing_fields_are_named(client):
    r = client.post("/api/v1/responses", json={})
    assert r.status_code == 422
    assert {"id", "survey", "version", "commune", "answers", "submitted_at"} <= {e["field"] for e in r.get_json()["errors"]}


def test_messages_follow_lang(client):
    r = client.post("/api/v1/responses", json=body(lang="en", answers={"used_service": "no"}))
    assert r.get_json()["errors"][0]["message"] == "Please answer this question."
    r = client.post("/api/v1/responses", json=body(lang="vi", answers={"used_service": "no"}))
    assert r.get_json()["errors"][0]["message"] == "Vui lòng trả lời câu hỏi này."


def test_service_point_must_match_commune_and_area(client, point):
    other = client.post("/api/v1/responses", json=body(commune="04456", service_point=point["id"]))
    assert other.status_code == 422
    land = client.post("/api/v1/responses", json=body(survey="land", version=catalog().current("land").version,
                                                      answers=valid_answers(catalog().current("land")),
                                                      service_point=point["id"]))
    assert land.status_code == 422


@pytest.mark.parametrize("raw", [b"{", b"not json", b"\xff\xfe\x00", b'{"id": NaN}', b""])
def test_malformed_json_is_400(app, client, raw):
    r = client.post("/api/v1/responses", data=raw, content_type="application/json")
    assert r.status_code == 400 and r.get_json()["errors"]
    assert count(app) == 0


@pytest.mark.parametrize("raw", [b"[]", b"3", b'"x"', b"null"])
def test_json_that_is_not_an_object_is_422(client, raw):
    assert client.post("/api/v1/responses", data=raw, content_type="application/json").status_code == 422


def test_oversized_body_is_413(app, client):
    b = body(answers={"comment": "x" * 100_000})
    r = client.post("/api/v1/responses", data=json.dumps(b), content_type="application/json")
    assert r.status_code == 413 and r.get_json()["errors"]
    assert count(app) == 0


def test_openapi_describes_the_endpoints(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    assert {"/api/v1/surveys", "/api/v1/surveys/{slug}", "/api/v1/responses"} <= set(doc["paths"])
    codes = set(doc["paths"]["/api/v1/responses"]["post"]["responses"])
    assert {"200", "201", "400", "409", "413", "422"} <= codes


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-01:00", "1999-12-31T00:00:00Z"])
def test_times_out_of_range_are_422(client, moment):
    r = client.post("/api/v1/responses", json=body(submitted_at=moment))
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "submitted_at"
