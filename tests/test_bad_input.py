"""Property-based: no request, however malformed, gets a 5xx or leaves anything half-stored."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedback.models import Answer

from .conftest import count, hidden_fields

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=10,
)
answer_values = st.one_of(
    json_value,
    st.sampled_from(["yes", "no", "dont_know", "1", "5", "6", "", "lt15", "15-30"]),
    st.lists(st.sampled_from(["yes", "a", "1"]), max_size=3),
)
question_ids = st.sampled_from(
    [
        "used_service",
        "health_insurance",
        "wait_time",
        "informal_payment",
        "overall",
        "comment",
        "sex",
        "age_band",
        "ethnic_group",
        "bogus",
        "",
    ]
)
bodies = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.uuids().map(str), json_value),
        "survey": st.one_of(st.sampled_from(["health", "land", "one-stop"]), json_value),
        "version": st.one_of(st.just(1), json_value),
        "commune": st.one_of(st.sampled_from(["04465", "04456", "00000"]), json_value),
        "service_point": st.one_of(st.none(), json_value),
        "answers": st.one_of(st.dictionaries(question_ids, answer_values, max_size=8), json_value),
        "started_at": st.one_of(st.just("2026-11-20T08:00:00+07:00"), json_value),
        "submitted_at": st.one_of(
            st.just("2026-11-20T08:01:00+07:00"), st.datetimes().map(lambda d: d.isoformat()), json_value
        ),
        "lang": st.one_of(st.sampled_from(["vi", "en"]), json_value),
    },
).flatmap(
    lambda d: st.one_of(
        st.just(d), st.dictionaries(st.text(max_size=8), json_value, max_size=2).map(lambda x: {**d, **x})
    )
)


@SETTINGS
@given(body=bodies)
def test_api_never_5xx_and_never_half_stores(app, client, body):
    before = count(app), count(app, Answer)
    r = client.post("/api/v1/responses", data=json.dumps(body), content_type="application/json")
    assert r.status_code in (200, 201, 409, 422), r.get_data(as_text=True)
    assert "errors" in r.get_json() or r.status_code in (200, 201)
    if r.status_code >= 400:
        assert (count(app), count(app, Answer)) == before


@SETTINGS
@given(raw=st.binary(max_size=300))
def test_api_survives_arbitrary_bytes(app, client, raw):
    r = client.post("/api/v1/responses", data=raw, content_type="application/json")
    assert r.status_code < 500


@SETTINGS
@given(
    fields=st.dictionaries(
        question_ids, st.one_of(st.text(max_size=40), st.lists(st.text(max_size=5), max_size=3)), max_size=8
    ),
    keep_state=st.booleans(),
)
def test_survey_form_never_5xx(app, client, fields, keep_state):
    hidden = hidden_fields(client.get("/c/04465/health").get_data(as_text=True)) if keep_state else {}
    before = count(app), count(app, Answer)
    r = client.post("/c/04465/health", data={**hidden, **fields, "send": "1"})
    assert r.status_code in (303, 400, 422)
    if r.status_code != 303:
        assert (count(app), count(app, Answer)) == before
