"""The score cache: computed once per data version, invalidated by every change the scores rest on."""

from __future__ import annotations

import threading
import uuid
from datetime import date, datetime, timedelta

import pandas as pd
import sqlalchemy as sa

from feedback import bridge, score_cache
from feedback.demo import seed_demo
from feedback.extensions import db
from feedback.models import DataVersion, Response, ScoreCache, utcnow
from feedback.quality import flag_burst_members
from feedback.score_cache import (
    bump_data_version,
    cache_key,
    data_version,
    score_tables,
)
from tests.conftest import OTHER_COMMUNE, OWN_COMMUNE
from tests.test_api import body
from tests.test_bridge import add_response, seed
from tests.test_exports import MARGINS


def wait_refreshed(app) -> None:
    """Wait until no score refresh job is queued or running (the embedded runner's threads)."""
    from feedback.models import Job
    from tests.test_jobs import wait_for

    def idle():
        with app.app_context():
            return not db.session.scalar(
                sa.select(sa.func.count())
                .select_from(Job)
                .where(Job.kind == "refresh_scores", Job.status.in_(("queued", "running")))
            )

    wait_for(idle, what="the score refresh jobs")


def computed() -> int:
    return score_cache.stats["computed"]


def version(app, scope: str | None = "15") -> int:
    with app.app_context():
        return data_version(db.session, scope)


def entries(app) -> list[tuple[str, int]]:
    with app.app_context():
        return db.session.execute(sa.select(ScoreCache.key, ScoreCache.data_version)).all()


def test_pages_and_api_compute_once_until_the_data_changes(app, client, auth, users):
    seed(app)
    auth.login(users["analyst"]["email"])
    start = computed()
    assert client.get("/analyst/?code=6.1").status_code == 200
    assert computed() == start + 1
    # The other codes, the scorecards and the API read the same cached tables.
    for url in (
        "/analyst/?code=6.1",
        "/analyst/?code=total",
        f"/analyst/c/{OWN_COMMUNE}",
        f"/analyst/c/{OTHER_COMMUNE}",
        "/api/v1/scores",
        "/api/v1/scores?level=province&public=1",
    ):
        assert client.get(url).status_code == 200, url
    assert computed() == start + 1
    # A response sent through the API moves the province's version: the next page is served
    # from the older entry at once and a background job recomputes it (tests/test_score_refresh.py).
    before = version(app)
    assert client.post("/api/v1/responses", json=body()).status_code == 201
    assert version(app) == before + 1
    assert client.get("/analyst/?code=6.1").status_code == 200
    wait_refreshed(app)
    assert computed() == start + 2
    assert client.get(f"/analyst/c/{OWN_COMMUNE}").status_code == 200
    assert computed() == start + 2


def test_cached_tables_equal_computed_ones(app):
    seed(app)
    with app.app_context():
        fresh = score_tables(date(2025, 8, 1), None)
        cached = score_tables(date(2025, 8, 1), None)
    assert score_cache.stats["hits"] > 0
    for name in ("communes", "province", "province_published"):
        pd.testing.assert_frame_equal(getattr(cached, name), getattr(fresh, name))
        assert getattr(cached, name).attrs == getattr(fresh, name).attrs
    assert cached.respondents == fresh.respondents == 11


def test_payload_is_parquet_in_a_zip_not_pickle(app):
    seed(app)
    with app.app_context():
        score_tables()
        payload = db.session.execute(sa.select(ScoreCache.payload)).scalar_one()
    assert payload[:2] == b"PK"  # zip; pickle would start with b"\x80"
    assert b"PAR1" in payload and b"meta.json" in payload


def test_periods_structures_and_options_are_separate_entries(app, client, auth, users):
    seed(app)
    auth.login(users["analyst"]["email"])
    start = computed()
    urls = [
        "/api/v1/scores",
        "/api/v1/scores?structure=2018",
        "/api/v1/scores?from=2025-08-01",
        "/api/v1/scores?from=2025-08-01&to=2025-08-05",
    ]
    for url in urls:
        assert client.get(url).status_code == 200
    assert computed() == start + 4
    assert len(entries(app)) == 4
    one = client.get("/api/v1/scores?from=2025-08-01&to=2025-08-05").get_json()
    every = client.get("/api/v1/scores").get_json()
    assert computed() == start + 4
    n = {
        d["meta"]["from"]: next(r["n"] for r in d["rows"] if r["commune_code"] == OWN_COMMUNE and r["code"] == "6.1")
        for d in (one, every)
    }
    assert n == {"2025-08-01": 5, None: 8}  # days 1–5 only: a period is its own entry
    with app.app_context():
        keys = {
            cache_key(None, None, structure=s, province_code=p, include_flagged=f)
            for s in ("current", "2018")
            for p in ("15", None)
            for f in (False, True)
        }
    assert len(keys) == 8 and all(len(k) <= 64 for k in keys)


def test_stale_entries_are_replaced_not_accumulated(app, client, auth, users, monkeypatch):
    seed(app)
    auth.login(users["analyst"]["email"])
    whole = cache_key(None, None, structure="current", province_code="15", include_flagged=False)
    for _ in range(3):
        client.get("/api/v1/scores")
        client.get("/api/v1/scores?from=2025-08-02")
        wait_refreshed(app)
        with app.app_context():
            add_response(OWN_COMMUNE, datetime(2025, 8, 3, 3), [("wait_time", "lt15", "6.1", 1.0)])
            db.session.commit()
    client.get("/api/v1/scores")
    wait_refreshed(app)
    # One entry per inputs, the newest: the period read last is current, the other one's older
    # entry is kept (to be shown while it is refreshed) for STALE_KEEP.
    assert sorted(v for _, v in entries(app)) == [version(app) - 1, version(app)]
    assert dict(entries(app))[whole] == version(app)
    monkeypatch.setattr(score_cache, "STALE_KEEP", timedelta(0))
    with app.app_context():
        add_response(OWN_COMMUNE, datetime(2025, 8, 3, 3), [("wait_time", "lt15", "6.1", 1.0)])
        db.session.commit()
    client.get("/api/v1/scores")
    wait_refreshed(app)
    assert entries(app) == [(whole, version(app))]  # the other period's, older than STALE_KEEP: gone


def test_a_flag_change_invalidates(app):
    app.config["QUALITY_BURST_DEVICE"] = 2
    with app.app_context():
        now = utcnow().replace(microsecond=0) - timedelta(minutes=1)
        for _ in range(3):
            rid = add_response(OWN_COMMUNE, now, [("wait_time", "lt15", "6.1", 1.0)])
            db.session.flush()
            db.session.get(Response, uuid.UUID(rid)).device_hash = "d" * 16
        db.session.commit()
        start = computed()
        score_tables()
        before = data_version(db.session, "15")
        flagged = flag_burst_members(
            response_id=uuid.uuid4(),
            network_hash=None,
            device_hash="d" * 16,
            commune_code=OWN_COMMUNE,
            survey="health",
            service_point_id=None,
            now=now + timedelta(seconds=30),
        )
        assert flagged == 3
        assert data_version(db.session, "15") == before + 1
        tables = score_tables()
    assert computed() == start + 2
    assert tables.respondents == 0  # all three flagged now


def test_margins_import_invalidates(app, runner, tmp_path):
    seed(app)
    with app.app_context():
        score_tables()
    start, before = computed(), version(app)
    path = tmp_path / "margins.csv"
    path.write_text(MARGINS, encoding="utf-8")
    assert runner.invoke(args=["import-margins", str(path)]).exit_code == 0
    assert version(app) == before + 1
    assert runner.invoke(args=["import-margins", str(path)]).exit_code == 0  # unchanged: no bump
    assert version(app) == before + 1
    with app.app_context():
        score_tables()
        score_tables()
    assert computed() == start + 1


def test_web_submission_and_demo_seeding_bump(app, client):
    from tests.test_quality import CALM, _submit

    before = version(app)
    _submit(app, client, CALM)
    assert version(app) == before + 1
    with app.app_context():
        seed_demo(seed=3, per_commune=5, per_commune_range=(5, 5), communes=[OWN_COMMUNE])
    assert version(app) == before + 2


def test_national_version_is_the_sum_of_the_provinces(app):
    with app.app_context():
        bump_data_version(db.session, "15")
        bump_data_version(db.session, "15")
        bump_data_version(db.session, "01")
        db.session.commit()
        assert data_version(db.session, "15") == 2 and data_version(db.session, "01") == 1
        assert data_version(db.session, None) == 3 and data_version(db.session, "99") == 0


def test_data_arriving_during_a_computation_is_never_hidden(app, monkeypatch):
    """The version is read before the data: a response stored mid-computation makes the entry stale."""
    seed(app)
    real = bridge.load_analysis_input

    def arriving_meanwhile(*args, **kwargs):
        add_response(OWN_COMMUNE, datetime(2025, 8, 4, 3), [("wait_time", "lt15", "6.1", 1.0)])
        db.session.commit()
        return real(*args, **kwargs)

    with app.app_context():
        monkeypatch.setattr(bridge, "load_analysis_input", arriving_meanwhile)
        first = score_tables()
        monkeypatch.setattr(bridge, "load_analysis_input", real)
        start = computed()
        second = score_tables()
    assert computed() == start + 1  # the entry was stale: recomputed, not served
    assert second.respondents == first.respondents == 12


def test_two_workers_computing_one_entry_both_succeed(app):
    seed(app)
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def worker():
        try:
            with app.app_context():
                barrier.wait(timeout=120)
                score_tables()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert len(entries(app)) == 1


def test_an_older_computation_never_overwrites_a_newer_entry(app):
    seed(app)
    with app.app_context():
        key = cache_key(None, None, structure="current", province_code="15", include_flagged=False)
        score_tables()
        newer = db.session.execute(sa.select(ScoreCache.payload)).scalar_one()
        score_cache._store(key, data_version(db.session, "15") - 1, b"older", "15")
        assert db.session.execute(sa.select(ScoreCache.payload)).scalar_one() == newer
        assert db.session.get(DataVersion, "15").version >= 1


def test_a_version_taken_back_by_a_restore_is_not_served_from_memory(app):
    """After a restore the version may repeat with other data; the worker's memory must not answer."""
    seed(app)
    with app.app_context():
        first = score_tables()
        score_tables()  # decoded and remembered in this process
        restored_version = data_version(db.session, "15")
        add_response(OWN_COMMUNE, datetime(2025, 8, 4, 3), [("wait_time", "lt15", "6.1", 1.0)])
        db.session.commit()
        score_tables()
        # As a restore would leave it: the old version number, other data, no entry for it yet.
        db.session.execute(sa.delete(ScoreCache))
        db.session.execute(sa.update(DataVersion).values(version=restored_version))
        db.session.commit()
        score_tables()
        again = score_tables()
    assert again.respondents == first.respondents + 1
