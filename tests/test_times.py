"""Times never lie: Viet Nam days at their boundaries on both databases, whole seconds, and the
clock rule that decides which client time the server trusts (docs/quality.md, "Times and clocks")."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa
from itsdangerous import URLSafeSerializer

from feedback.bridge import respondents_frame
from feedback.demo import seed_demo
from feedback.extensions import db
from feedback.models import Response, utcnow
from feedback.officer.queries import counts_by, daily_counts
from feedback.responses import Submission, store
from feedback.times import day_start, trusted_times
from surveys import catalog

from .conftest import count, hidden_fields
from .helpers import paper_date, valid_answers

MAY_1, MAY_2 = date(2025, 5, 1), date(2025, 5, 2)
MIDNIGHT_MAY_2 = datetime(2025, 5, 1, 17)  # 2 May 2025, 00:00 in Viet Nam, as naive UTC
SQLALCHEMY_FORM = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}")  # how SQLite holds a time


def _stored_directly(app, submitted: datetime, n: int = 1) -> list[str]:
    """Store ``n`` health responses through the submission path's own insert, at ``submitted``."""
    survey = catalog().current("health")
    ids = []
    with app.app_context():
        for _ in range(n):
            sub = Submission(
                id=uuid.uuid4(),
                survey=survey,
                commune_code="04465",
                service_point_id=None,
                answers=valid_answers(survey),
                lang="vi",
                mode="api",
                started_at=None,
                submitted_at=submitted,
            )
            stored, created = store(sub)
            assert created
            ids.append(str(stored.id))
    return ids


def _exported_days(runner, tmp_path, *args: str) -> list[str]:
    out = tmp_path / "responses.csv"
    result = runner.invoke(args=["export-responses", "-o", str(out), *args])
    assert result.exit_code == 0, result.output
    return pd.read_csv(out, dtype=str, encoding="utf-8-sig")["submitted_date"].tolist()


# ---- the issue's example: three responses at local midnight, filtered by day --------------------


def test_issue_example_three_responses_of_2_may_are_exported_under_2_may(app, runner, tmp_path):
    _stored_directly(app, MIDNIGHT_MAY_2, n=3)
    assert _exported_days(runner, tmp_path, "--from", "2025-05-02", "--to", "2025-05-02") == ["2025-05-02"] * 3
    assert _exported_days(runner, tmp_path, "--from", "2025-05-01", "--to", "2025-05-01") == []
    with app.app_context():
        assert len(respondents_frame(MAY_2, MAY_2)) == 3 and len(respondents_frame(MAY_1, MAY_1)) == 0


def test_api_date_without_time_is_that_viet_nam_day(app, client, runner, tmp_path):
    """``submitted_at: "YYYY-MM-DD"`` (today, a plausible time) lands on that day, through the API."""
    today = (utcnow() + timedelta(hours=7)).date()
    survey = catalog().current("health")
    for _ in range(3):
        r = client.post(
            "/api/v1/responses",
            json={
                "id": str(uuid.uuid4()),
                "survey": "health",
                "version": survey.version,
                "commune": "04465",
                "answers": valid_answers(survey),
                "submitted_at": today.isoformat(),
                "lang": "vi",
            },
        )
        assert r.status_code == 201, r.get_json()
    day, yesterday = today.isoformat(), (today - timedelta(days=1)).isoformat()
    # Flags do not matter here (anonymous API responses without a start time are flagged too_fast).
    assert _exported_days(runner, tmp_path, "--from", day, "--to", day, "--include-flagged") == [day] * 3
    assert _exported_days(runner, tmp_path, "--from", yesterday, "--to", yesterday, "--include-flagged") == []


# ---- every time on a day boundary, with and without fractions, on every insert path -----------


def _stored_by_orm(app, submitted: datetime) -> str:
    """Store one response through the ORM (as seeding, tests and tools do), keeping any fraction."""
    rid = uuid.uuid4()
    with app.app_context():
        db.session.add(
            Response(
                id=rid,
                survey="health",
                survey_version=1,
                commune_code="04465",
                lang="vi",
                mode="web",
                started_at=None,
                submitted_at=submitted,
                received_at=utcnow(),
                content_hash="0" * 64,
            )
        )
        db.session.commit()
    return str(rid)


@pytest.mark.parametrize("path", ["submission", "orm"])
@pytest.mark.parametrize(
    "moment, day",
    [
        (datetime(2025, 5, 1, 16, 59, 59), MAY_1),
        (datetime(2025, 5, 1, 16, 59, 59, 999999), MAY_1),
        (MIDNIGHT_MAY_2, MAY_2),
        (datetime(2025, 5, 1, 17, 0, 0, 1), MAY_2),
        (datetime(2025, 5, 1, 17, 0, 0, 500000), MAY_2),
        (datetime(2025, 5, 2, 16, 59, 59, 999999), MAY_2),
    ],
)
def test_day_boundary_with_and_without_fractions(app, runner, tmp_path, path, moment, day):
    if path == "submission":
        _stored_directly(app, moment)
    else:
        _stored_by_orm(app, moment)
    other = MAY_1 if day == MAY_2 else MAY_2
    with app.app_context():
        assert len(respondents_frame(day, day)) == 1 and len(respondents_frame(other, other)) == 0
    assert _exported_days(runner, tmp_path, "--from", day.isoformat(), "--to", day.isoformat()) == [day.isoformat()]
    assert _exported_days(runner, tmp_path, "--from", other.isoformat(), "--to", other.isoformat()) == []


def test_officer_daily_counts_at_midnight(app):
    _stored_directly(app, MIDNIGHT_MAY_2)
    _stored_by_orm(app, MIDNIGHT_MAY_2 - timedelta(microseconds=1))
    _stored_directly(app, MIDNIGHT_MAY_2 - timedelta(seconds=1))
    with app.app_context():
        now = datetime(2025, 5, 2, 3)  # 10:00 on 2 May in Viet Nam
        daily = dict(daily_counts(commune_code="04465", now=now))
        counts = counts_by(Response.commune_code, commune_code="04465", now=now)[("04465",)]
    assert daily[MAY_2] == 1 and daily[MAY_1] == 2
    assert counts.today == 1 and counts.week == counts.total == 3


def test_sqlite_keeps_one_text_form_for_every_time(app, client, point):
    """Every insert path writes SQLAlchemy's form (``YYYY-MM-DD HH:MM:SS.ffffff``); response
    times are whole seconds on both databases."""
    survey = catalog().current("health")
    r = client.post(
        "/api/v1/responses",
        json={
            "id": str(uuid.uuid4()),
            "survey": "health",
            "version": survey.version,
            "commune": "04465",
            "answers": valid_answers(survey),
            "started_at": _iso(utcnow() - timedelta(minutes=3, microseconds=1)),
            "submitted_at": _iso(utcnow() - timedelta(microseconds=123)),
            "lang": "vi",
        },
    )
    assert r.status_code == 201
    _web(app, client, point, started=utcnow() - timedelta(minutes=2))
    _stored_directly(app, datetime(2025, 5, 1, 17, 0, 0, 250000))
    _stored_by_orm(app, datetime(2025, 5, 1, 17))
    with app.app_context():
        seed_demo(seed=3, per_commune=2, per_commune_range=(1, 3), communes=["04465"], days=3)
        times = db.session.execute(
            sa.select(Response.started_at, Response.submitted_at, Response.received_at, Response.content_hash)
        ).all()
        if db.engine.dialect.name == "sqlite":
            texts = db.session.execute(sa.text("SELECT started_at, submitted_at, received_at FROM response")).all()
            stored = [t for row in texts for t in row if t is not None]
            assert stored and all(SQLALCHEMY_FORM.fullmatch(t) for t in stored), stored
    for *moments, content_hash in times:
        if content_hash != "0" * 64:  # not the ORM row: a response time, at whole seconds
            assert all(m is None or m.microsecond == 0 for m in moments), moments


def test_rows_stored_without_a_fraction_still_fall_on_their_day(app):
    """Rows written before the fix hold ``…17:00:00``: day filters still put them on 2 May."""
    rid = _stored_by_orm(app, MIDNIGHT_MAY_2)
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("only SQLite keeps times as text")
        db.session.execute(sa.text("UPDATE response SET submitted_at = '2025-05-01 17:00:00'"))
        db.session.commit()
        frame = respondents_frame(MAY_2, MAY_2)
        assert len(frame) == 1 and len(respondents_frame(MAY_1, MAY_1)) == 0
        assert db.session.get(Response, uuid.UUID(rid)).submitted_at == MIDNIGHT_MAY_2


# ---- the clock rule --------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    """A naive-UTC time as the API takes it."""
    return moment.isoformat() + "Z"


def _post(client, **times):
    survey = catalog().current("health")
    body = {
        "id": str(uuid.uuid4()),
        "survey": "health",
        "version": survey.version,
        "commune": "04465",
        "answers": valid_answers(survey),
        "lang": "vi",
        **times,
    }
    return body, client.post("/api/v1/responses", json=body)


def _row(app, rid: str) -> Response:
    with app.app_context():
        row = db.session.get(Response, uuid.UUID(rid))
        db.session.expunge(row)
        return row


def test_issue_example_2019_is_kept_at_its_receive_time_and_flagged(app, client):
    body, r = _post(client, submitted_at="2019-03-01")
    assert r.status_code == 201, r.get_json()
    data = r.get_json()
    row = _row(app, body["id"])
    assert "clock" in row.flags.split(";") and row.submitted_at == row.received_at
    assert data["submitted_at"] == data["received_at"]
    assert row.received_at >= utcnow().replace(microsecond=0) - timedelta(minutes=5)


def test_issue_example_phone_23_hours_ahead_stays_today(app, client):
    before = utcnow().replace(microsecond=0)
    body, r = _post(
        client,
        started_at=_iso(utcnow() + timedelta(hours=22, minutes=58)),
        submitted_at=_iso(utcnow() + timedelta(hours=23)),
    )
    assert r.status_code == 201, r.get_json()
    row = _row(app, body["id"])
    assert "clock" in row.flags.split(";") and row.submitted_at == row.received_at >= before
    # The clock was 23 h fast at both ends: the two minutes spent answering are kept.
    assert timedelta(seconds=119) <= row.submitted_at - row.started_at <= timedelta(seconds=121)


def _ago(**delta) -> str:
    return _iso(utcnow() - timedelta(**delta))


def _ahead(**delta) -> str:
    return _iso(utcnow() + timedelta(**delta))


@pytest.mark.parametrize(
    "times",
    [
        {"submitted_at": "1970-01-01T00:00:00Z"},  # a phone whose clock was reset
        {"submitted_at": "2000-01-01T07:00:00+07:00"},
        {"submitted_at": "2999-01-01T00:00:00Z"},
        {"submitted_at": "0001-01-01T00:00:00+00:01"},  # no UTC equivalent in Python
        {"submitted_at": "9999-12-31T23:59:59-01:00"},
        {"submitted_at": "ahead:10"},  # beyond the 5 minutes a clock may be fast
        {"submitted_at": "ago:8d"},  # older than the 7-day offline keep
        {"started_at": "ago:2m", "submitted_at": "ago:3m"},  # submitted before it was started
        {"started_at": "1970-01-01T00:00:00Z", "submitted_at": "ago:1m"},  # a bad start alone
    ],
)
def test_implausible_times_are_replaced_and_flagged(app, client, times):
    times = {k: _relative(v) for k, v in times.items()}
    body, r = _post(client, **times)
    assert r.status_code == 201, r.get_json()
    row = _row(app, body["id"])
    assert "clock" in row.flags.split(";")
    assert row.received_at - timedelta(minutes=5) <= row.submitted_at <= row.received_at
    assert row.started_at is None or row.started_at <= row.submitted_at


def _relative(value: str) -> str:
    if value.startswith("ahead:"):
        return _ahead(minutes=int(value[6:]))
    if value == "ago:8d":
        return _ago(days=8)
    if value.startswith("ago:"):
        return _ago(minutes=int(value[4:-1]))
    return value


@pytest.mark.parametrize(
    "started, submitted",
    [
        (None, {"hours": 1}),
        ({"minutes": 3}, {"minutes": 1}),
        ({"days": 2, "minutes": 3}, {"days": 2}),  # answered offline two days ago, sent now
    ],
)
def test_plausible_times_are_kept(app, client, started, submitted):
    times = {"submitted_at": _ago(**submitted)}
    if started:
        times["started_at"] = _ago(**started)
    body, r = _post(client, **times)
    assert r.status_code == 201
    row = _row(app, body["id"])
    assert "clock" not in row.flags.split(";") and row.submitted_at.isoformat() == times["submitted_at"][:19]
    assert row.submitted_at < row.received_at - timedelta(seconds=30)


def test_a_clock_a_little_fast_is_not_flagged_and_never_stored_in_the_future(app, client):
    body, r = _post(client, started_at=_ahead(minutes=1), submitted_at=_ahead(minutes=3))
    assert r.status_code == 201
    row = _row(app, body["id"])
    assert "clock" not in row.flags.split(";") and row.submitted_at == row.received_at
    assert timedelta(seconds=119) <= row.submitted_at - row.started_at <= timedelta(seconds=121)


def test_not_before_the_survey_version_existed(app, client):
    """With an offline keep of years, the version's release day is what bounds the past."""
    app.config["OFFLINE_KEEP_DAYS"] = 3650
    released = catalog().current("health").released
    assert released is not None
    before, r = _post(client, submitted_at=_iso(day_start(released) - timedelta(seconds=1)))
    on, r2 = _post(client, submitted_at=_iso(day_start(released)))
    assert r.status_code == r2.status_code == 201
    assert "clock" in _row(app, before["id"]).flags.split(";")
    assert "clock" not in _row(app, on["id"]).flags.split(";")
    assert _row(app, on["id"]).submitted_at == day_start(released)


def test_every_shipped_version_has_a_release_day():
    for survey in catalog().all_versions():
        assert survey.released is not None, f"{survey.slug}@{survey.version}: add it to surveys/releases.yaml"


@pytest.mark.parametrize("value", ["yesterday", "2025-02-30", "", "2025-05-02T25:00", "02/05/2025", 20250502])
def test_malformed_times_are_still_422(app, client, value):
    _, r = _post(client, submitted_at=value)
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "submitted_at"
    _, r = _post(client, submitted_at=_ago(minutes=1), started_at=value)
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "started_at"
    assert count(app) == 0


def test_a_retry_of_a_replaced_time_is_the_same_response(app, client):
    body, first = _post(client, submitted_at="2019-03-01T08:00:00+07:00")
    again = client.post("/api/v1/responses", json=body)
    assert first.status_code == 201 and again.status_code == 200
    assert again.get_json() == first.get_json()
    assert client.post("/api/v1/responses", json={**body, "lang": "en"}).status_code == 409
    assert count(app) == 1


def test_trusted_times_rule():
    received = datetime(2025, 5, 3, 3, 0, 0)
    rule = {
        "received_at": received + timedelta(microseconds=700),
        "released": MAY_2,
        "skew": timedelta(minutes=5),
        "keep": timedelta(days=7),
    }
    kept = trusted_times(**rule, started_at=datetime(2025, 5, 1, 17), submitted_at=datetime(2025, 5, 1, 17, 2, 0, 9))
    assert (kept.started_at, kept.submitted_at, kept.received_at, kept.clock) == (
        datetime(2025, 5, 1, 17),
        datetime(2025, 5, 1, 17, 2),
        received,
        False,
    )
    early = trusted_times(**rule, started_at=datetime(2025, 5, 1, 16, 59, 59), submitted_at=datetime(2025, 5, 1, 17, 2))
    assert early.started_at is None and early.submitted_at == datetime(2025, 5, 1, 17, 2) and early.clock
    server = trusted_times(**rule)
    assert server.submitted_at == received and server.started_at is None and not server.clock
    stale = trusted_times(**{**rule, "released": None}, started_at=received - timedelta(days=7, seconds=1))
    assert stale.started_at is None and stale.submitted_at == received and stale.clock
    fast = trusted_times(**rule, submitted_at=received + timedelta(minutes=5))
    assert fast.submitted_at == received and not fast.clock
    too_fast = trusted_times(**rule, submitted_at=received + timedelta(minutes=5, seconds=1))
    assert too_fast.submitted_at == received and too_fast.clock
    # A clock a year slow at both ends: the time spent answering (90 s) is kept.
    slow = trusted_times(**rule, started_at=datetime(2024, 5, 3, 2, 58, 30), submitted_at=datetime(2024, 5, 3, 3))
    assert (slow.started_at, slow.submitted_at, slow.clock) == (received - timedelta(seconds=90), received, True)
    # Times that disagree (submitted before started): the submit time is replaced, a plausible start stays.
    crossed = trusted_times(
        **rule, started_at=received - timedelta(minutes=2), submitted_at=received - timedelta(minutes=3)
    )
    assert (crossed.started_at, crossed.submitted_at, crossed.clock) == (
        received - timedelta(minutes=2),
        received,
        True,
    )


# ---- the web form and paper entry: the start time in the signed state -----------------------


def _restarted(app, state: str, started: datetime) -> str:
    """The page's signed form state, signed again as if the form had been opened at ``started``."""
    serializer = URLSafeSerializer(app.config["SECRET_KEY"], salt="survey-form-state")
    return serializer.dumps({**serializer.loads(state), "t": started.isoformat()})


def _web(app, client, point, *, started: datetime) -> Response:
    url = f"/s/{point['token']}"
    fields = hidden_fields(client.get(url).get_data(as_text=True))
    fields["state"] = _restarted(app, fields["state"], started)
    survey = catalog().current("health")
    r = client.post(url, data={**fields, **valid_answers(survey), "send": "1"})
    assert r.status_code == 303, r.get_data(as_text=True)
    with app.app_context():
        row = db.session.execute(sa.select(Response).order_by(Response.received_at.desc())).scalars().first()
        db.session.expunge(row)
        return row


def test_web_form_state_older_than_the_keep_is_flagged(app, client, point):
    row = _web(app, client, point, started=utcnow() - timedelta(days=8))
    assert row.flags == "clock" and row.started_at is None and row.submitted_at == row.received_at


def test_web_form_state_from_the_future_is_flagged(app, client, point):
    row = _web(app, client, point, started=utcnow() + timedelta(hours=2))
    assert row.flags == "clock" and row.started_at is None


def test_web_times_are_whole_seconds(app, client, point):
    row = _web(app, client, point, started=utcnow() - timedelta(minutes=4, microseconds=5))
    assert row.flags == "" and row.submitted_at == row.received_at
    assert all(t.microsecond == 0 for t in (row.started_at, row.submitted_at, row.received_at))
    assert timedelta(minutes=3) < row.submitted_at - row.started_at < timedelta(minutes=6)


def _typed_at(monkeypatch, moment: datetime) -> None:
    """The server's clock for the paper-entry path (store and date check) reads ``moment``."""
    monkeypatch.setattr("feedback.responses.now_seconds", lambda: moment)
    monkeypatch.setattr("feedback.paper.now_seconds", lambda: moment)


def test_paper_entry_counts_on_its_interview_day_not_its_typing(app, client, auth, users, point, monkeypatch):
    """A paper form typed in 10 days after it was answered (past the API's 7-day keep) lands in
    the interview's period; ``received_at`` keeps the typing time, and a form has no start time
    (its screen's opening is the typing's, however stale: no ``clock`` flag)."""
    released = catalog().current("health").released
    interviewed, typed = released + timedelta(days=30), day_start(released + timedelta(days=40)) + timedelta(hours=9)
    _typed_at(monkeypatch, typed)
    auth.login(users["officer"]["email"])
    url = f"/officer/points/{point['id']}/paper"
    fields = hidden_fields(client.get(url).get_data(as_text=True))
    fields["state"] = _restarted(app, fields["state"], utcnow() - timedelta(days=30))
    r = client.post(url, data={**fields, **valid_answers(catalog().current("health")), **paper_date(interviewed)})
    assert r.status_code == 303, r.get_data(as_text=True)
    with app.app_context():
        row = db.session.execute(sa.select(Response)).scalar_one()
        assert row.mode == "paper" and row.flags == "" and row.started_at is None
        assert (row.submitted_at, row.received_at) == (day_start(interviewed), typed)
        assert len(respondents_frame(interviewed, interviewed)) == 1
        typing_day = released + timedelta(days=40)
        assert len(respondents_frame(typing_day, typing_day)) == 0
        daily = dict(daily_counts(commune_code="04465", now=typed))
        assert (daily[interviewed], daily[typing_day]) == (1, 0)


def test_scores_api_days_at_the_boundary(app, client, auth, users):
    """``/api/v1/scores?from=&to=`` (and the analyst pages, through the same bridge) count a
    response of 00:00 on 2 May under 2 May, one of 23:59:59.9 on 1 May under 1 May."""
    _stored_directly(app, MIDNIGHT_MAY_2, n=3)
    _stored_directly(app, MIDNIGHT_MAY_2 - timedelta(microseconds=100000))
    auth.login(users["analyst"]["email"])

    def n_61(day: date) -> int:
        document = client.get(f"/api/v1/scores?from={day}&to={day}").get_json()
        return next(r["n"] for r in document["rows"] if r["commune_code"] == "04465" and r["code"] == "6.1")

    assert n_61(MAY_2) == 3 and n_61(MAY_1) == 1


# ---- web times: both from the server, never a clock flag -------------------------------------


def test_a_start_later_in_the_same_second_as_the_submit_is_not_a_clock_error(app):
    """The form state's start keeps a fraction; the server's submit time is cut to whole seconds."""
    second = datetime(2025, 5, 1, 3, 0, 0)
    with app.app_context():
        times = trusted_times(
            received_at=second, submitted_at=second, started_at=second + timedelta(microseconds=900_000)
        )
    assert not times.clock and times.started_at == times.submitted_at == second


def test_a_web_form_state_starts_at_a_whole_second(app):
    from feedback.forms import new_state, read_state

    with app.test_request_context():
        state = read_state(new_state(catalog().current("health"), commune_code="04465"))
    assert state.started_at.microsecond == 0


def test_a_web_form_sent_right_after_it_was_opened_is_not_flagged_clock(app, client):
    fields = hidden_fields(client.get("/c/04465/health").get_data(as_text=True))
    r = client.post("/c/04465/health", data={**fields, "used_service": "no", "overall": "4", "send": "1"})
    assert r.status_code == 303
    with app.app_context():
        row = db.session.execute(sa.select(Response)).scalar_one()
    assert "clock" not in row.flags.split(";") and row.started_at <= row.submitted_at
