"""Stale-while-revalidate: after new responses the pages show the last scores at once and a
background job (one per inputs) recomputes them; a big scope with nothing cached is computed
by a job while the page says so. Computations are counted with score_cache.stats, never timed."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

import pytest
import sqlalchemy as sa
from redis import Redis
from rq import Queue

from feedback import score_cache
from feedback.extensions import db
from feedback.jobs import run_job
from feedback.models import Job
from tests.conftest import OWN_COMMUNE, redis_url
from tests.test_bridge import add_response, seed
from tests.test_jobs import wait_for

REDIS_URL = redis_url(7)  # this file's Redis database (jobs held for a "worker")
STALE_EN = "newer responses are being added"
PENDING_EN = "Scores are being computed"


def computed() -> int:
    return score_cache.stats["computed"]


def refresh_jobs(app) -> list[tuple[str, str]]:
    """(id, status) of every refresh_scores job, oldest first."""
    with app.app_context():
        return [
            tuple(r)
            for r in db.session.execute(
                sa.select(Job.id, Job.status).where(Job.kind == "refresh_scores").order_by(Job.created_at)
            ).all()
        ]


def add_one(app) -> None:
    with app.app_context():
        add_response(OWN_COMMUNE, datetime(2025, 8, 3, 3), [("wait_time", "lt15", "6.1", 1.0)])
        db.session.commit()


def used(html: str) -> int:
    """The "N responses used" figure of the province page (English)."""
    return int(re.search(r"(\d+) responses used", html).group(1))


def wait_jobs_finished(app) -> None:
    wait_for(
        lambda: all(status in ("done", "failed") for _, status in refresh_jobs(app)), what="the refresh jobs to finish"
    )
    assert all(status == "done" for _, status in refresh_jobs(app)), refresh_jobs(app)


@pytest.fixture
def held_jobs(app):
    """Jobs go to an RQ queue nobody works on: the test runs them, as a worker would, when it wants."""
    name = f"swr-test-{uuid.uuid4().hex}"
    app.config.update(JOB_QUEUE="rq", REDIS_URL=REDIS_URL, JOB_RQ_QUEUE=name)
    yield
    Queue(name, connection=Redis.from_url(REDIS_URL)).delete(delete_jobs=True)


@pytest.fixture
def analyst(client, auth, users):
    auth.login(users["analyst"]["email"])
    return client


def test_after_a_new_response_pages_show_the_last_scores_and_one_job_refreshes_them(app, analyst, held_jobs):
    seed(app)
    start = computed()
    first = analyst.get("/analyst/?code=6.1&lang=en").get_data(as_text=True)
    assert computed() == start + 1 and STALE_EN not in first  # small scope, nothing cached: computed here
    assert refresh_jobs(app) == []
    add_one(app)
    # Three views (province page, another code, a scorecard: one cache entry) compute nothing
    # and share one refresh job; they show the older figures and say so.
    views = [
        analyst.get(url)
        for url in ("/analyst/?code=6.1&lang=en", "/analyst/?code=total&lang=en", f"/analyst/c/{OWN_COMMUNE}?lang=en")
    ]
    assert [r.status_code for r in views] == [200, 200, 200]
    assert computed() == start + 1
    html = views[0].get_data(as_text=True)
    assert STALE_EN in html and "(Viet Nam time) from 11 responses" in html and used(html) == used(first) == 11
    assert all(STALE_EN in r.get_data(as_text=True) for r in views)
    jobs = refresh_jobs(app)
    assert len(jobs) == 1 and jobs[0][1] == "queued"
    with app.app_context():
        run_job(jobs[0][0])  # what the worker does
    assert refresh_jobs(app) == [(jobs[0][0], "done")] and computed() == start + 2
    fresh = analyst.get("/analyst/?code=6.1&lang=en").get_data(as_text=True)
    assert STALE_EN not in fresh and used(fresh) == 12
    assert computed() == start + 2 and len(refresh_jobs(app)) == 1


def test_a_finished_refresh_lets_the_next_change_start_another(app, analyst, held_jobs):
    seed(app)
    analyst.get("/analyst/")
    for round_ in (1, 2):
        add_one(app)
        assert STALE_EN in analyst.get("/analyst/?lang=en").get_data(as_text=True)
        queued = [job_id for job_id, status in refresh_jobs(app) if status == "queued"]
        assert len(queued) == 1 and len(refresh_jobs(app)) == round_
        with app.app_context():
            run_job(queued[0])
    assert STALE_EN not in analyst.get("/analyst/?lang=en").get_data(as_text=True)


def test_a_stale_entry_is_kept_until_its_refresh_replaces_it(app, analyst, held_jobs):
    """One entry per inputs, the newest: refreshing one period keeps the other period's older entry."""
    seed(app)
    analyst.get("/analyst/")
    analyst.get("/analyst/?from=2025-08-02")
    add_one(app)
    analyst.get("/analyst/")
    analyst.get("/analyst/?from=2025-08-02")
    jobs = refresh_jobs(app)
    assert len(jobs) == 2  # one per period
    with app.app_context():
        run_job(jobs[0][0])
        versions = sorted(db.session.scalars(sa.select(score_cache.ScoreCache.data_version)).all())
        current = score_cache.data_version(db.session, "15")
    assert versions == [current - 1, current]  # two keys: one refreshed, the other still its older entry
    start = computed()
    assert STALE_EN in analyst.get("/analyst/?from=2025-08-02&lang=en").get_data(as_text=True)
    assert computed() == start


def test_a_big_scope_with_nothing_cached_is_computed_by_a_job_while_the_page_refreshes(app, analyst):
    app.config["SCORES_INLINE_MAX_RESPONSES"] = 0  # every scope is "big"
    seed(app)
    start = computed()
    r = analyst.get("/analyst/?code=6.1&lang=en")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and PENDING_EN in html and 'http-equiv="refresh"' in html
    vi = analyst.get("/analyst/?code=6.1&lang=vi").get_data(as_text=True)
    assert 'http-equiv="refresh"' in vi and PENDING_EN not in vi  # Vietnamese first, translated
    wait_jobs_finished(app)  # the embedded runner computed it
    assert len(refresh_jobs(app)) == 1 and computed() == start + 1
    page = analyst.get("/analyst/?code=6.1&lang=en").get_data(as_text=True)
    assert PENDING_EN not in page and STALE_EN not in page and used(page) == 11
    card = analyst.get(f"/analyst/c/{OWN_COMMUNE}?lang=en")
    assert card.status_code == 200 and PENDING_EN not in card.get_data(as_text=True)
    assert computed() == start + 1


def test_the_scorecard_of_a_big_scope_waits_for_the_job_too(app, analyst, held_jobs):
    app.config["SCORES_INLINE_MAX_RESPONSES"] = 0
    seed(app)
    start = computed()
    html = analyst.get(f"/analyst/c/{OWN_COMMUNE}?lang=en").get_data(as_text=True)
    assert PENDING_EN in html and 'http-equiv="refresh"' in html and computed() == start
    analyst.get(f"/analyst/c/{OWN_COMMUNE}?lang=en")
    ((job_id, status),) = refresh_jobs(app)
    with app.app_context():
        run_job(job_id)
    html = analyst.get(f"/analyst/c/{OWN_COMMUNE}?lang=en").get_data(as_text=True)
    assert PENDING_EN not in html and computed() == start + 1


def test_the_api_answers_503_with_retry_after_then_the_scores(app, analyst):
    app.config["SCORES_INLINE_MAX_RESPONSES"] = 0
    seed(app)
    r = analyst.get("/api/v1/scores")
    assert r.status_code == 503 and int(r.headers["Retry-After"]) > 0
    assert r.is_json and r.get_json()["errors"][0]["message"]
    wait_jobs_finished(app)
    r = analyst.get("/api/v1/scores")
    assert r.status_code == 200 and r.is_json and len(r.get_json()) > 0
    assert len(refresh_jobs(app)) == 1


def test_a_small_scope_with_nothing_cached_is_computed_in_the_request(app, analyst):
    seed(app)
    start = computed()
    r = analyst.get("/api/v1/scores")
    assert r.status_code == 200 and computed() == start + 1 and refresh_jobs(app) == []
