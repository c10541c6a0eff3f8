"""JSON API v1: catalog, idempotent submission and its error codes."""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedback.extensions import db
from feedback.models import Response, ServicePoint
from surveys import catalog

from .conftest import count, new_id
from .helpers import valid_answers

VIETNAM = timezone(timedelta(hours=7))


def body(*, seconds: float = 70, **changes) -> dict:
    """A valid body submitted now (server clock, Viet Nam time), started ``seconds`` before."""
    survey = catalog().current("health")
    now = datetime.now(VIETNAM).replace(microsecond=0)
    data = {
        "id": new_id(),
        "survey": "health",
        "version": survey.version,
        "commune": "04465",
        "service_point": None,
        "answers": valid_answers(survey),
        "started_at": (now - timedelta(seconds=seconds)).isoformat(),
        "submitted_at": now.isoformat(),
        "lang": "vi",
    }
    data.update(changes)
    return data


def post_from(client, address: str, data: dict, **kwargs):
    """POST a response as the client at ``address`` would."""
    return client.post("/api/v1/responses", json=data, environ_base={"REMOTE_ADDR": address}, **kwargs)


def stored_flags(app, ids: list[str] | None = None) -> list[str]:
    """The flags of the responses with these ids, in their order (default: of all, sorted).

    Receive times are whole seconds, so they cannot tell which of two responses came first.
    """
    with app.app_context():
        flags = {str(rid): f or "" for rid, f in db.session.execute(sa.select(Response.id, Response.flags))}
    return [flags[rid] for rid in ids] if ids is not None else sorted(flags.values())


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
    sent = datetime.fromisoformat(b["submitted_at"]).astimezone(UTC)
    assert datetime.fromisoformat(stored["submitted_at"]) == sent
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


@pytest.mark.parametrize(
    "changes, field",
    [
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
    ],
)
def test_invalid_content_is_422_and_stores_nothing(app, client, changes, field):
    r = client.post("/api/v1/responses", json=body(**changes))
    assert r.status_code == 422, r.get_json()
    errors = r.get_json()["errors"]
    assert field in [e["field"] for e in errors] and all(e["message"] for e in errors)
    assert count(app) == 0


def test_missing_fields_are_named(client):
    r = client.post("/api/v1/responses", json={})
    assert r.status_code == 422
    assert {"id", "survey", "version", "commune", "answers", "submitted_at"} <= {
        e["field"] for e in r.get_json()["errors"]
    }


def test_messages_follow_lang(client):
    r = client.post("/api/v1/responses", json=body(lang="en", answers={"used_service": "no"}))
    assert r.get_json()["errors"][0]["message"] == "Please answer this question."
    r = client.post("/api/v1/responses", json=body(lang="vi", answers={"used_service": "no"}))
    assert r.get_json()["errors"][0]["message"] == "Vui lòng trả lời câu hỏi này."


def test_service_point_must_match_commune_and_area(client, point):
    other = client.post("/api/v1/responses", json=body(commune="04456", service_point=point["id"]))
    assert other.status_code == 422
    land = client.post(
        "/api/v1/responses",
        json=body(
            survey="land",
            version=catalog().current("land").version,
            answers=valid_answers(catalog().current("land")),
            service_point=point["id"],
        ),
    )
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


def test_the_scores_schema_lists_the_export_contract_columns(client):
    """The API's score row is the score export's contract: the same columns, in order."""
    from feedback.api.openapi import SCORE_ROW
    from feedback.exports import CONTRACT_COLUMNS

    assert SCORE_ROW["required"] == list(SCORE_ROW["properties"]) == list(CONTRACT_COLUMNS)
    row = client.get("/api/v1/openapi.json").get_json()["paths"]["/api/v1/scores"]["get"]["responses"]["200"]
    served = row["content"]["application/json"]["schema"]["properties"]["rows"]["items"]
    assert served["required"] == list(CONTRACT_COLUMNS) and set(served["properties"]) == set(CONTRACT_COLUMNS)


# ---- issue 12: the API cannot be stuffed, and never breaks on text ---------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/json",
        "application/jsonx",
        "application/json-patch+json",
        "application/vnd.api+json",
        None,
    ],
)
def test_body_must_be_application_json(app, client, content_type):
    """A web page can make its visitors' browsers send text/plain or a form without a CORS
    preflight; only application/json forces one, so nothing else is accepted."""
    data = json.dumps(body()).encode()
    headers = {"Content-Type": content_type} if content_type else {}
    r = client.post("/api/v1/responses", data=data, headers=headers)
    assert r.status_code == 415, r.get_data(as_text=True)
    assert r.is_json and r.get_json()["errors"][0]["message"]
    assert count(app) == 0


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"]
)
def test_json_media_type_with_parameters_is_accepted(client, content_type):
    r = client.post("/api/v1/responses", data=json.dumps(body()), headers={"Content-Type": content_type})
    assert r.status_code == 201, r.get_json()


def test_unsupported_media_type_speaks_the_callers_language(client):
    vi = client.post("/api/v1/responses", data="{}", content_type="text/plain", headers={"Accept-Language": "vi"})
    en = client.post("/api/v1/responses", data="{}", content_type="text/plain", headers={"Accept-Language": "en"})
    assert vi.status_code == en.status_code == 415
    assert vi.get_json()["errors"][0]["message"] != en.get_json()["errors"][0]["message"]
    assert "application/json" in en.get_json()["errors"][0]["message"]


def test_api_refuses_a_retired_service_point(app, client, point):
    with app.app_context():
        db.session.get(ServicePoint, point["id"]).active = False
        db.session.commit()
    r = client.post("/api/v1/responses", json=body(service_point=point["id"]))
    assert r.status_code == 422, r.get_json()
    assert [e["field"] for e in r.get_json()["errors"]] == ["service_point"]
    assert count(app) == 0


def test_api_refuses_a_point_retired_after_it_was_first_used(app, client, point):
    """The check is not cached: a point used once and retired afterwards is refused next time."""
    assert client.post("/api/v1/responses", json=body(service_point=point["id"])).status_code == 201
    with app.app_context():
        db.session.get(ServicePoint, point["id"]).active = False
        db.session.commit()
    r = client.post("/api/v1/responses", json=body(service_point=point["id"]))
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "service_point"
    assert count(app) == 1


LONE = "\\ud800"  # as it travels in JSON text: json.loads accepts it and gives a lone surrogate


def _raw(data: dict, **replace: str) -> bytes:
    """JSON text of ``data`` with placeholders swapped for raw JSON escapes."""
    text = json.dumps(data)
    for placeholder, raw in replace.items():
        text = text.replace(placeholder, raw)
    return text.encode()


@pytest.mark.parametrize(
    "where, field",
    [
        ({"answers": {"used_service": "no", "overall": "3", "comment": "X"}}, "answers.comment"),
        ({"answers": {"used_service": "no", "overall": "X"}}, "answers.overall"),
        ({"answers": {"used_service": "no", "overall": "3", "X": "1"}}, "answers.X"),
        ({"answers": {"used_service": "no", "overall": "3", "sex": ["X"]}}, "answers.sex"),
        ({"commune": "X"}, "commune"),
        ({"survey": "X"}, "survey"),
        ({"id": "X"}, "id"),
        ({"lang": "X"}, "lang"),
        ({"submitted_at": "X"}, "submitted_at"),
        ({"started_at": "X"}, "started_at"),
        ({"X": 1}, "X"),
        ({"extra": {"deep": [{"deeper": "X"}]}}, "extra.deep.deeper"),
    ],
)
@pytest.mark.parametrize("bad", [LONE, "\\udfff", "abc\\udc00", "\\ud83d", "\\u0000"])
def test_invalid_code_points_anywhere_are_422_naming_the_field(app, client, where, field, bad):
    raw = _raw(body(**where), X=bad)
    r = client.post("/api/v1/responses", data=raw, content_type="application/json")
    assert r.status_code == 422, r.get_data(as_text=True)
    shown = re.sub("[\ud800-\udfff\x00]", "\ufffd", json.loads(f'"{bad}"'))  # as the field is named
    assert [e["field"] for e in r.get_json()["errors"]] == [field.replace("X", shown)]
    assert all(e["message"] for e in r.get_json()["errors"])
    assert count(app) == 0


def test_a_surrogate_pair_is_one_valid_character(app, client):
    """Escaped as a pair, U+1F600 is fine: only a surrogate on its own is not a character."""
    survey = catalog().current("health")
    raw = _raw(body(answers={**valid_answers(survey), "comment": "X"}), X="C\\u00e1m \\ud83d\\ude00")
    r = client.post("/api/v1/responses", data=raw, content_type="application/json")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["answers"]["comment"] == "Cám \U0001f600"


SAFE_TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=4)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | SAFE_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(SAFE_TEXT, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def poisoned_bodies(draw) -> tuple[dict, str]:
    """A body with one string, key or value, anywhere, holding a bad code point; and that field's name."""
    text = draw(SAFE_TEXT)
    at = draw(st.integers(0, len(text)))
    bad = text[:at] + draw(st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff", "\x00"])) + text[at:]
    name = re.sub("[\ud800-\udfff\x00]", "\ufffd", bad)
    data = body()
    wrap = draw(st.sampled_from([lambda v: v, lambda v: [v], lambda v: [1, {"x": 2}, [v]]]))  # lists are transparent
    where = draw(st.sampled_from(["value", "key", "answer", "answer key", "nested"]))
    if where == "value":
        field = draw(st.sampled_from(sorted(data)))
        data[field] = wrap(bad)
    elif where == "key":
        data[bad], field = draw(JSON_VALUES), name
    elif where == "answer":
        qid = draw(st.sampled_from(sorted(data["answers"])))
        data["answers"][qid], field = wrap(bad), f"answers.{qid}"
    elif where == "answer key":
        data["answers"][bad], field = draw(JSON_VALUES), f"answers.{name}"
    else:
        keys = draw(st.lists(SAFE_TEXT, min_size=1, max_size=4))
        value = wrap(bad)
        for key in reversed(keys[1:]):
            value = {
                key: value,
                **draw(st.dictionaries(SAFE_TEXT.filter(lambda k, key=key: k != key), JSON_VALUES, max_size=2)),
            }
        data[keys[0]], field = value, ".".join(keys)
    return data, field


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=poisoned_bodies())
def test_a_bad_code_point_anywhere_is_422_naming_its_field(app, client, case):
    """Property: whatever the body, one lone surrogate or NUL in any string, key or value, at
    any depth, gives 422 naming exactly its field; never a 500, never a stored response."""
    data, field = case
    raw = json.dumps(data, ensure_ascii=True).encode()  # \u escapes, as a client would send them
    r = client.post("/api/v1/responses", data=raw, content_type="application/json")
    assert r.status_code == 422, r.get_data(as_text=True)
    assert [e["field"] for e in r.get_json()["errors"]] == [field]
    assert count(app) == 0


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/surveys/%ED%A0%80",
        "/api/v1/surveys/%00",
        "/api/v1/surveys/health%ED%A0%80",
    ],
)
def test_bad_text_in_the_path_is_404(client, url):
    r = client.get(url)
    assert r.status_code == 404 and r.get_json()["errors"]


@pytest.mark.parametrize("version", ["%ED%A0%80", "%00", "abc", "0", "-1", "1.0", "1_0", " 1", "%EF%BC%91", ""])
def test_a_version_that_is_not_a_positive_number_is_400(client, version):
    r = client.get(f"/api/v1/surveys/health?version={version}")
    assert r.status_code == 400, r.get_data(as_text=True)
    assert r.get_json()["errors"][0]["field"] == "version"


def test_a_version_that_does_not_exist_is_404_and_one_that_does_is_served(client):
    assert client.get("/api/v1/surveys/health?version=999").status_code == 404
    r = client.get("/api/v1/surveys/health?version=1")
    assert r.status_code == 200 and r.get_json()["version"] == 1


@pytest.mark.parametrize("query", ["from=%ED%A0%80", "to=%00", "level=%ED%A0%80", "structure=%00", "public=%ED%A0%80"])
def test_bad_text_in_score_queries_is_400(client, auth, users, query):
    assert auth.login(users["analyst"]["email"]).status_code == 302
    r = client.get(f"/api/v1/scores?{query}")
    assert r.status_code == 400 and r.get_json()["errors"]


# The same checks as the web form, for anonymous clients.


def _stuffing_answers() -> dict:
    """The worst answers on 6.1, in a pattern that is not straight-lined."""
    return {
        "used_service": "yes",
        "health_insurance": "no",
        "wait_time": "gt60",
        "staff_respect": "no",
        "medicine_available": "no",
        "informal_payment": "yes",
        "fees_posted": "no",
        "overall": "1",
    }


def _genuine_answers(i: int) -> dict:
    """Mostly good answers on 6.1, varied from one citizen to the next."""
    return {
        "used_service": "yes",
        "health_insurance": ["yes", "no"][i % 2],
        "wait_time": ["lt15", "15-30"][i % 2],
        "staff_respect": "yes",
        "medicine_available": ["yes", "yes", "no"][i % 3],
        "informal_payment": "no",
        "fees_posted": ["yes", "dont_know"][i % 2],
        "overall": ["4", "5", "3"][i % 3],
        "sex": ["female", "male"][i % 2],
        "age_band": ["30-44", "45-59"][i % 2],
    }


def _genuine_responses(client) -> list[str]:
    """Twelve citizens, each on their own phone and network: stored unflagged; their ids."""
    ids = []
    for i in range(12):
        r = post_from(client, f"203.0.113.{i + 1}", body(answers=_genuine_answers(i)))
        assert r.status_code == 201, r.get_json()
        ids.append(r.get_json()["id"])
    return ids


def _score_61(app, commune: str = "04465") -> tuple[float, int]:
    """The commune's 6.1 score and respondent count, through the export's scoring path."""
    from feedback.exports import build_score_export

    with app.app_context():
        table = build_score_export(commune_codes=[commune]).table
    row = table[(table["commune_code"] == commune) & (table["code"] == "6.1")].iloc[0]
    return float(row["score"]), int(row["n"])


def test_forty_posts_from_one_address_do_not_move_a_communes_score(app, client):
    """The issue's example: 40 anonymous POSTs from one address in a few seconds, each with a
    plausible start time, were stored unflagged and moved 6.1. Now every one of them is
    flagged burst (the first ones too, once the burst shows), and the score stays."""
    genuine = _genuine_responses(client)
    before = _score_61(app)
    stuffed = []
    for i in range(40):
        r = post_from(
            client,
            "198.51.100.7",
            body(answers=_stuffing_answers(), seconds=95),
            headers={"User-Agent": f"Mozilla/5.0 stuffer {i}"},
        )
        assert r.status_code == 201, r.get_json()
        stuffed.append(r.get_json()["id"])
    assert stored_flags(app, genuine) == [""] * 12
    assert all("burst" in f.split(";") for f in stored_flags(app, stuffed)), stored_flags(app, stuffed)
    assert _score_61(app) == before


def test_random_device_cookies_do_not_hide_a_flood(app, client):
    """A fresh device cookie with every POST makes each look like a new device; the network
    signal still sees the flood, and flags every anonymous API response of it."""
    genuine = _genuine_responses(client)
    before = _score_61(app)
    stuffed = []
    for _ in range(40):
        client.set_cookie("device", secrets.token_urlsafe(16))
        r = post_from(client, "198.51.100.7", body(answers=_stuffing_answers()))
        assert r.status_code == 201, r.get_json()
        stuffed.append(r.get_json()["id"])
    assert stored_flags(app, genuine) == [""] * 12
    assert all("burst" in f.split(";") for f in stored_flags(app, stuffed)), stored_flags(app, stuffed)
    assert _score_61(app) == before


def test_a_device_cookie_does_not_make_an_api_client_a_new_device(app, client):
    """Found by a tester: 19 POSTs from one address, each with a fresh random device cookie,
    were stored unflagged (under the network threshold). The API cannot tell a cookie the site
    issued from one a script made up, so an anonymous client's address is its device."""
    ids = []
    for _ in range(19):
        client.set_cookie("device", secrets.token_urlsafe(16))
        r = post_from(client, "198.51.100.30", body())
        assert r.status_code == 201
        ids.append(r.get_json()["id"])
    assert stored_flags(app, ids) == ["burst"] * 19


def test_one_address_is_one_device_whatever_its_user_agent(app, client):
    """Without the first-party device cookie an anonymous client's address stands for its
    device, so the device threshold (3 before it) applies; the burst flags all four."""
    for i in range(4):
        assert post_from(client, "198.51.100.8", body(), headers={"User-Agent": f"ua-{i}"}).status_code == 201
    assert stored_flags(app) == ["burst"] * 4


def test_three_from_one_address_are_not_a_burst(app, client):
    for _ in range(3):
        assert post_from(client, "198.51.100.9", body()).status_code == 201
    assert stored_flags(app) == [""] * 3


def test_many_addresses_are_not_a_burst(app, client):
    for i in range(8):
        assert post_from(client, f"192.0.2.{i + 1}", body()).status_code == 201
    assert stored_flags(app) == [""] * 8


def test_anonymous_submission_without_a_start_time_is_flagged_too_fast(app, client):
    """Its speed cannot be shown (the web form always has one), so it counts as too fast."""
    b = body()
    del b["started_at"]
    assert client.post("/api/v1/responses", json=b).status_code == 201
    b = body(started_at=None)
    assert client.post("/api/v1/responses", json=b).status_code == 201
    assert stored_flags(app) == ["too_fast", "too_fast"]


def test_anonymous_submission_too_fast_or_straight_lined_is_flagged(app, client):
    assert client.post("/api/v1/responses", json=body(seconds=3)).status_code == 201
    straight = {
        "used_service": "yes",
        "health_insurance": "yes",
        "wait_time": "lt15",
        "staff_respect": "yes",
        "medicine_available": "yes",
        "informal_payment": "yes",
        "fees_posted": "yes",
        "overall": "1",
    }
    r = post_from(client, "192.0.2.50", body(answers=straight))
    assert r.status_code == 201
    assert stored_flags(app) == sorted(["too_fast", "straight_lined"])


@pytest.mark.parametrize("website, flagged", [("http://spam.example", True), ("x", True), ("", False), (None, False)])
def test_the_website_field_is_the_apis_honeypot(app, client, website, flagged):
    """``website`` is documented as "leave empty"; a client that fills every field it is shown
    (as generated form-fillers do) is flagged, as the web form's hidden field does."""
    r = client.post("/api/v1/responses", json=body(website=website))
    assert r.status_code == 201, r.get_json()
    assert stored_flags(app) == (["honeypot"] if flagged else [""])
    assert "website" not in r.get_json()


def test_honeypot_must_be_text(app, client):
    r = client.post("/api/v1/responses", json=body(website=1))
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "website"
