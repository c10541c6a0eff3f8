"""The demo data (`flask seed-demo`): a year of responses, in proportion to commune population."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from datetime import datetime, time, timedelta

import numpy as np
import pytest
import sqlalchemy as sa

from feedback.demo import COMMENTS, DEMO_MARGINS, planned_counts, read_population, seed_demo
from feedback.extensions import db
from feedback.models import Answer, Response, utcnow
from feedback.responses import Submission, store
from feedback.score_cache import data_version
from feedback.times import local_day
from surveys import catalog, check_answers

from .conftest import count

# Small numbers so that the tests are quick: the median-sized commune gets 10, all between 4 and 16.
SMALL = ["--per-commune", "10", "--per-commune-min", "4", "--per-commune-max", "16", "--seed", "5"]


def _populations() -> dict[str, float]:
    return {code: sum(m["sex"].values()) for code, m in read_population().items()}


def _three_communes() -> list[str]:
    """The smallest and the largest commune, and one whose share is not clipped."""
    people = _populations()
    median = float(np.median(list(people.values())))
    by_size = sorted(people, key=people.get)
    middle = next(c for c in by_size if 6 <= 10 * people[c] / median <= 14 and people[c] != median)
    return [by_size[0], middle, by_size[-1]]


def _seed(runner, communes, *extra):
    args = ["seed-demo", *SMALL, *extra]
    for code in communes:
        args += ["--commune", code]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    return result.output


def _per_commune(app) -> dict[str, int]:
    with app.app_context():
        return dict(
            db.session.execute(sa.select(Response.commune_code, sa.func.count()).group_by(Response.commune_code)).all()
        )


def test_counts_follow_population_within_the_range(app, runner):
    small, middle, large = communes = _three_communes()
    output = _seed(runner, communes)
    people = _populations()
    median = float(np.median(list(people.values())))
    stored = _per_commune(app)
    assert stored == {small: 4, middle: round(10 * people[middle] / median), large: 16}
    assert 10 * people[small] / median < 4 < 16 < 10 * people[large] / median  # both really clipped
    assert f"{sum(stored.values())} responses stored" in output
    assert f"{sum(stored.values())} responses in 3 communes over 365 days" in output


def test_default_design_for_the_province():
    """99 communes, 60–400 each, the median commune 200: about 20,000 responses a year."""
    people = _populations()
    counts = planned_counts(sorted(people), read_population())
    assert len(counts) == 99 and counts.min() >= 60 and counts.max() <= 400 and np.median(counts) == 200
    assert 15_000 < counts.sum() < 25_000
    # --responses N keeps the same shares, scaled to N in all.
    assert planned_counts(sorted(people), read_population(), total=150).sum() == 150
    scaled = planned_counts(sorted(people), read_population(), total=5000)
    assert scaled.sum() == 5000 and np.abs(scaled - counts * 5000 / counts.sum()).max() < 1
    assert DEMO_MARGINS.is_file()


def test_a_year_up_to_now_and_nothing_in_the_future(app, runner):
    _seed(runner, _three_communes())
    now = utcnow()
    with app.app_context():
        rows = db.session.execute(
            sa.select(Response.channel, Response.started_at, Response.submitted_at, Response.received_at)
        ).all()
    assert rows
    for channel, started, submitted, received in rows:
        assert now - timedelta(days=365) < submitted <= received < now
        # Opening hours in Viet Nam time (UTC+7), on a local day no later than today there; a paper
        # form is dated by its interview day (its start) and has no start time of its own.
        local = submitted + timedelta(hours=7)
        assert local.date() <= (now + timedelta(hours=7)).date()
        if channel == "paper":
            assert started is None and local.time() == time(0) and received - submitted < timedelta(days=7)
        else:
            assert started < submitted and 7 <= local.hour <= 17


def test_realistic_channels_each_stored_as_its_path_stores_it(app, runner):
    """Issue 14: demo responses arrive by poster, landing page, paper and API, in plausible shares."""
    _seed(runner, _three_communes(), "--per-commune", "200", "--per-commune-min", "150", "--per-commune-max", "250")
    with app.app_context():
        rows = db.session.execute(
            sa.select(Response.channel, Response.mode, Response.service_point_id, Response.lang)
        ).all()
    channels = Counter(channel for channel, *_ in rows)
    assert set(channels) == {"poster", "landing", "paper", "api"}
    assert channels["poster"] > channels["paper"] > channels["api"] and channels["landing"] > channels["api"]
    modes = {channel: mode for channel, mode, *_ in rows}
    assert modes == {"poster": "web", "landing": "web", "paper": "paper", "api": "api"}
    assert all(point is not None for *_, point, _ in rows)  # every commune has its service points
    assert {lang for channel, _, _, lang in rows if channel == "paper"} == {"vi"}  # the printed form


def test_nothing_in_the_future_in_either_time_zone_view(app):
    """Issue 14: 'last response at 01:02 tomorrow'. Seeded at a late Viet Nam hour (23:59, 16:59
    UTC) and at an early one (07:00:01, 00:00:01 UTC), no time is after the seed's now, read
    as UTC or as Viet Nam time, nor in a database session that runs on Viet Nam time."""
    code = _three_communes()[-1]
    for now in (datetime(2026, 3, 2, 16, 59, 0), datetime(2026, 3, 3, 0, 0, 1)):
        with app.app_context():
            db.session.execute(sa.delete(Answer))
            db.session.execute(sa.delete(Response))
            db.session.commit()
            seed_demo(seed=4, per_commune=200, communes=[code], now=now)
            if db.engine.dialect.name == "postgresql":
                db.session.execute(sa.text("SET TIME ZONE 'Asia/Ho_Chi_Minh'"))
            latest = db.session.execute(
                sa.select(sa.func.max(Response.submitted_at), sa.func.max(Response.received_at))
            ).one()
            db.session.rollback()
        assert all(t is not None and t < now for t in latest), (now, latest)
        assert all(local_day(t) <= local_day(now) for t in latest)


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 3, 2, 0, 30),
        datetime(2026, 3, 2, 16, 59),
        datetime(2026, 3, 2, 0, 0, 1),
        datetime(2026, 3, 2, 10, 29, 59, 999_999),
    ],
)
def test_whatever_the_hour_nothing_lands_later_today(app, now):
    """At 07:30 in Viet Nam (00:30 UTC) almost all of today's opening hours are still to come; at
    23:59 (16:59 UTC) none is; at 07:00:01 all are; at 17:29:59.999999 (a fraction of a second
    before the last opening second) a response may fall in the same second, never after it."""
    code = _three_communes()[-1]
    with app.app_context():
        _, stored, planned = seed_demo(seed=9, per_commune=200, communes=[code], now=now)
        times = db.session.execute(sa.select(Response.submitted_at)).scalars().all()
    assert stored == planned.sum() == len(times) == 400
    assert all(now - timedelta(days=365) < t < now for t in times)
    # Spread over the year: no day (Viet Nam time) has more than a handful.
    per_day = Counter((t + timedelta(hours=7)).date() for t in times)
    assert max(per_day.values()) <= 8 and len(per_day) > 200


def test_same_seed_same_responses(app, runner):
    communes = _three_communes()
    first = _seed(runner, communes[:1])
    with app.app_context():
        ids = set(db.session.execute(sa.select(Response.id)).scalars())
    assert "495 service points created, 4 responses stored" in first
    # Again: nothing new. With a second commune: only its responses, the first commune's unchanged.
    assert "0 service points created, 0 responses stored" in _seed(runner, communes[:1])
    both = _seed(runner, communes[:2])
    assert f"{_per_commune(app)[communes[1]]} responses stored" in both
    with app.app_context():
        assert ids <= set(db.session.execute(sa.select(Response.id)).scalars())
    assert count(app) == 4 + _per_commune(app)[communes[1]]
    # Another seed: other responses.
    assert "4 responses stored" in _seed(runner, communes[:1], "--seed", "6")


def test_answers_are_valid(app, runner):
    _seed(runner, _three_communes(), "--per-commune", "40", "--per-commune-max", "60")
    with app.app_context():
        responses = {r.id: r for r in db.session.execute(sa.select(Response)).scalars()}
        answers = (
            db.session.execute(sa.select(Answer).order_by(Answer.response_id, Answer.question_id, Answer.position))
            .scalars()
            .all()
        )
    raw: dict = defaultdict(dict)
    for a in answers:
        survey = catalog().get(responses[a.response_id].survey, responses[a.response_id].survey_version)
        q = survey.question(a.question_id)
        if q.type == "multiple":
            raw[a.response_id].setdefault(a.question_id, []).append(a.value)
        else:
            raw[a.response_id][a.question_id] = a.value
        assert a.subdimension == q.subdimension
        assert a.score == (q.score_of(a.value) if q.scored else None)
    assert set(raw) == set(responses)
    for rid, response in responses.items():
        survey = catalog().get(response.survey, response.survey_version)
        clean, problems = check_answers(survey, raw[rid])
        assert problems == [] and clean
        assert response.module in (survey.modules or (None,))
    # Every survey appears, with respondents of several groups.
    assert {r.survey for r in responses.values()} == {s.slug for s in catalog().all_current()}
    groups = Counter(values["ethnic_group"] for values in raw.values() if "ethnic_group" in values)
    assert len(groups) >= 3


def test_unknown_commune_is_refused(runner):
    result = runner.invoke(args=["seed-demo", "--commune", "99999"])
    assert result.exit_code != 0 and "unknown commune code(s): 99999" in result.output


def test_comments_belong_to_the_survey_they_are_written_for(app, runner):
    """Issue 14: no medicine comment at the cultural house: each comment is one of its survey's area."""
    _seed(runner, _three_communes(), "--per-commune", "200", "--per-commune-min", "150", "--per-commune-max", "250")
    with app.app_context():
        rows = db.session.execute(
            sa.select(Response.survey, Response.survey_version, Answer.value)
            .join(Answer, Answer.response_id == Response.id)
            .where(Answer.question_id == "comment")
        ).all()
    areas = Counter()
    for slug, version, value in rows:
        area = catalog().get(slug, version).service_area
        assert value in COMMENTS[area], (slug, value)
        areas[area] += 1
    assert set(areas) == set(COMMENTS)  # every area has comments, each its own
    assert len({value for _, _, value in rows}) > len(COMMENTS)


def _raw_shape(app, response_id) -> tuple:
    """The Python types (and text lengths) the driver returns for one stored response row and
    its answers: what a reader of the database sees, on SQLite text forms included."""
    columns = "id, survey_version, service_point_id, started_at, submitted_at, received_at, content_hash, flags"
    with app.app_context():
        conn = db.session.connection()
        key = (
            conn.scalar(sa.select(sa.cast(Response.id, sa.String)).where(Response.id == response_id))
            if conn.dialect.name == "sqlite"
            else response_id
        )
        row = conn.exec_driver_sql(
            f"SELECT {columns} FROM response WHERE id = {'?' if conn.dialect.name == 'sqlite' else '%s'}", (key,)
        ).one()
        answers = conn.exec_driver_sql(
            f"SELECT response_id, position, value, subdimension, score FROM answer WHERE response_id = "
            f"{'?' if conn.dialect.name == 'sqlite' else '%s'} AND subdimension IS NOT NULL AND score IS NOT NULL",
            (key,),
        ).all()
    shape = lambda v: (type(v).__name__, len(v) if isinstance(v, str) and v and not v.isalpha() else None)  # noqa: E731
    return tuple(map(shape, row)), {tuple(map(shape, a[:2])) + (type(a[4]).__name__,) for a in answers}


def test_stored_like_a_web_response(app, runner):
    """Demo rows have the shape of rows the submission path stores (feedback/responses.py): the
    same driver-level types and text forms, whole-second times, the canonical content hash of
    their answers, no quality flag; and the seed moves the province's data version."""
    survey = catalog().current("health")
    with app.app_context():
        before = data_version(db.session, "15")
    _seed(runner, _three_communes()[:1], "--per-commune", "40", "--per-commune-min", "40", "--per-commune-max", "60")
    with app.app_context():
        assert data_version(db.session, "15") > before
        demo = db.session.execute(
            sa.select(Response)
            .where(Response.survey == "health", Response.channel == "poster")
            .order_by(Response.id)
            .limit(1)
        ).scalar_one()
        answers = db.session.execute(sa.select(Answer).where(Answer.response_id == demo.id)).scalars().all()
        clean: dict = {}
        for a in answers:
            if survey.question(a.question_id).type == "multiple":
                clean.setdefault(a.question_id, []).append(a.value)
            elif survey.question(a.question_id).type == "integer":
                clean[a.question_id] = int(a.value)
            else:
                clean[a.question_id] = a.value
        sub = Submission(
            id=demo.id,
            survey=survey,
            commune_code=demo.commune_code,
            service_point_id=demo.service_point_id,
            answers=clean,
            lang=demo.lang,
            mode="web",
            started_at=demo.started_at,
            submitted_at=demo.submitted_at,
        )
        assert demo.content_hash == sub.content_hash() and len(demo.content_hash) == 64
        assert demo.flags == "" and demo.mode == "web" and demo.received_at == demo.submitted_at
        assert demo.submitted_at.microsecond == demo.started_at.microsecond == 0
        web = Submission(
            id=uuid.uuid4(),
            survey=survey,
            commune_code=demo.commune_code,
            service_point_id=demo.service_point_id,
            answers=clean,
            lang="vi",
            mode="web",
            started_at=demo.started_at,
            submitted_at=demo.submitted_at,
        )
        stored, created = store(web)
        assert created
    assert _raw_shape(app, demo.id) == _raw_shape(app, web.id)
