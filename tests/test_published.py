"""Published periods (issue #15): frozen snapshots that late responses never change, revisions
that keep the old one readable, and the ``publish-period`` contract."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest
import sqlalchemy as sa

from feedback.extensions import db
from feedback.models import AuditEvent, PublishedPeriod
from feedback.published import (
    SnapshotDamaged,
    latest_published,
    previous_published,
    publish_period,
    published_export,
    snapshot_tables,
)
from feedback.score_cache import score_tables
from tests.test_bridge import OWN, add_response, seed_every_subdimension

PROVINCE = "15"
Q3 = (date(2025, 7, 1), date(2025, 9, 30))


def _own_aggregate(frame: pd.DataFrame) -> float:
    return float(frame.loc[(frame["commune_code"] == OWN) & (frame["level"] == "aggregate"), "score"].iloc[0])


def _late_responses(app, n: int = 10) -> None:
    """Responses inside Q3 that are received after the period was published, all unfavourable."""
    from analysis import get_structure

    subs = get_structure("current").subdimensions
    with app.app_context():
        for i in range(n):
            add_response(
                OWN,
                datetime(2025, 9, 1 + i, 3),
                [(f"q{s}", "x", s, 0.0) for s in subs],
                person=("male", "30-44", "kinh"),
            )
        db.session.commit()


def test_publish_period_prints_the_id_last_and_late_responses_do_not_change_the_snapshot(app, runner):
    seed_every_subdimension(app)
    result = runner.invoke(args=["publish-period", "--from", "2025-07-01", "--to", "2025-09-30"])
    assert result.exit_code == 0, result.output
    snapshot_id = int(result.output.strip().splitlines()[-1])
    with app.app_context():
        snapshot = db.session.get(PublishedPeriod, snapshot_id)
        before = snapshot_tables(snapshot)
        checksum = snapshot.checksum
        assert snapshot.revision == 1 and snapshot.respondents == before.respondents > 0
        assert snapshot.cutoff_at <= snapshot.published_at
        event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "period_published")).one()
        assert event.target == f"published period {snapshot_id}"
    _late_responses(app)
    with app.app_context():
        live = score_tables(*Q3, province_code=PROVINCE)
        snapshot = db.session.get(PublishedPeriod, snapshot_id)
        after = snapshot_tables(snapshot)
        assert snapshot.checksum == checksum
        pd.testing.assert_frame_equal(after.communes, before.communes)
        assert after.respondents == before.respondents
        # The live scores moved; the published ones did not.
        assert live.respondents == before.respondents + 10
        assert _own_aggregate(live.communes) < _own_aggregate(after.communes)


def test_a_revision_needs_a_note_and_keeps_the_old_snapshot_readable(app, runner):
    seed_every_subdimension(app)
    with app.app_context():
        first = publish_period(*Q3, province_code=PROVINCE)
        db.session.commit()
        first_id, first_tables = first.id, snapshot_tables(first)
    _late_responses(app)
    with app.app_context():
        with pytest.raises(ValueError, match="note"):
            publish_period(*Q3, province_code=PROVINCE)
    result = runner.invoke(args=["publish-period", "--from", "2025-07-01", "--to", "2025-09-30"])
    assert result.exit_code != 0 and "note" in result.output
    result = runner.invoke(
        args=[
            "publish-period",
            "--from",
            "2025-07-01",
            "--to",
            "2025-09-30",
            "--note",
            "Ten late paper forms from Khao Mang were typed in.",
        ]
    )
    assert result.exit_code == 0, result.output
    second_id = int(result.output.strip().splitlines()[-1])
    with app.app_context():
        second = db.session.get(PublishedPeriod, second_id)
        assert second.revision == 2 and second.note.startswith("Ten late")
        assert latest_published(PROVINCE).id == second_id
        old = db.session.get(PublishedPeriod, first_id)
        pd.testing.assert_frame_equal(snapshot_tables(old).communes, first_tables.communes)
        assert second.respondents == old.respondents + 10
        export = published_export(old)
        assert export.meta()["published"]["revision"] == 1
        assert export.meta()["published"]["checksum_sha256"] == old.checksum


def test_a_damaged_snapshot_is_refused_not_shown(app):
    seed_every_subdimension(app)
    with app.app_context():
        snapshot = publish_period(*Q3, province_code=PROVINCE)
        db.session.commit()
        db.session.execute(
            sa.update(PublishedPeriod)
            .where(PublishedPeriod.id == snapshot.id)
            .values(payload=snapshot.payload[:-1] + bytes([snapshot.payload[-1] ^ 1]))
        )
        db.session.commit()
        db.session.expire_all()
        with pytest.raises(SnapshotDamaged):
            snapshot_tables(db.session.get(PublishedPeriod, snapshot.id))


def test_previous_published_is_the_latest_revision_of_the_period_before(app):
    seed_every_subdimension(app)
    with app.app_context():
        q2 = publish_period(date(2025, 7, 1), date(2025, 8, 6), province_code=PROVINCE)
        q2b = publish_period(date(2025, 7, 1), date(2025, 8, 6), province_code=PROVINCE, note="margins fixed")
        q3 = publish_period(date(2025, 8, 7), date(2025, 9, 30), province_code=PROVINCE)
        db.session.commit()
        assert previous_published(q3).id == q2b.id != q2.id
        assert previous_published(q2) is None
        assert latest_published(PROVINCE).id == q3.id
        assert latest_published("01") is None


def test_publishing_checks_the_period(app, runner):
    result = runner.invoke(args=["publish-period", "--from", "2025-09-30", "--to", "2025-07-01"])
    assert result.exit_code != 0 and "ends before it starts" in result.output
    result = runner.invoke(args=["publish-period", "--from", "2025-07-01"])
    assert result.exit_code != 0 and "--to" in result.output


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json", "dta", "parquet"])
def test_export_scores_published_exports_the_snapshot_in_every_format(app, runner, tmp_path, fmt):
    seed_every_subdimension(app)
    first = runner.invoke(args=["publish-period", "--from", "2025-07-01", "--to", "2025-09-30"])
    first_id = int(first.output.strip().splitlines()[-1])
    _late_responses(app)
    runner.invoke(args=["publish-period", "--from", "2025-07-01", "--to", "2025-09-30", "--note", "late forms"])
    live = runner.invoke(
        args=[
            "export-scores",
            "--from",
            "2025-07-01",
            "--to",
            "2025-09-30",
            "--format",
            "csv",
            "-o",
            str(tmp_path / "live.csv"),
        ]
    )
    assert live.exit_code == 0, live.output
    old = runner.invoke(args=["export-scores", "--published", str(first_id), "--format", fmt, "-o", str(tmp_path)])
    assert old.exit_code == 0, old.output
    latest = runner.invoke(args=["export-scores", "--published", "--format", fmt, "-o", str(tmp_path)])
    assert latest.exit_code == 0, latest.output
    names = sorted(p.name for p in tmp_path.iterdir() if p.name != "live.csv")
    assert len(names) == 2 and all("2025-07-01_2025-09-30" in n and "published-" in n for n in names), names
    with app.app_context():
        snapshot = db.session.get(PublishedPeriod, first_id)
        expected = snapshot_tables(snapshot).communes
    old_file = tmp_path / [n for n in names if f"published-{first_id}." in n][0]
    if fmt == "csv":
        frame = pd.read_csv(old_file, dtype={"commune_code": str})
        live_frame = pd.read_csv(tmp_path / "live.csv", dtype={"commune_code": str})
        assert _own_aggregate(frame) == pytest.approx(_own_aggregate(expected))
        assert _own_aggregate(live_frame) < _own_aggregate(frame)
    elif fmt == "xlsx":
        readme = pd.read_excel(old_file, sheet_name="README", header=None).astype(str).to_string()
        assert snapshot.checksum in readme
    elif fmt == "json":
        import json

        body = json.loads(old_file.read_text())
        assert body["meta"]["published"]["id"] == first_id
        assert body["meta"]["published"]["revision"] == 1


def test_export_scores_published_says_what_is_wrong(app, runner, tmp_path):
    result = runner.invoke(args=["export-scores", "--published", "-o", str(tmp_path)])
    assert result.exit_code != 0 and "nothing has been published" in result.output
    result = runner.invoke(args=["export-scores", "--published", "99999", "-o", str(tmp_path)])
    assert result.exit_code != 0 and "no published period 99999" in result.output
    result = runner.invoke(args=["export-scores", "--published", "--from", "2025-07-01", "-o", str(tmp_path)])
    assert result.exit_code != 0 and "--from" in result.output


# --- The analyst's page: publish, revise, export a snapshot ---------------------------------

from tests.conftest import csrf_token  # noqa: E402
from tests.test_jobs import poll_until_finished, start_export  # noqa: E402


def _publish(client, **fields):
    token = csrf_token(client, "/analyst/published")
    return client.post("/analyst/published", data={"csrf_token": token, **fields})


def test_an_analyst_publishes_revises_and_exports_a_period(app, client, auth, users):
    seed_every_subdimension(app)
    auth.login(users["analyst"]["email"])
    page = client.get("/analyst/published")
    assert page.status_code == 200
    r = _publish(client, **{"from": "2025-07-01", "to": "2025-09-30", "note": ""})
    assert r.status_code == 303, r.get_data(as_text=True)
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "2025-07-01 – 2025-09-30" in page
    # Again without a note: refused in the reader's language, the dates kept on screen.
    r = _publish(client, **{"from": "2025-07-01", "to": "2025-09-30", "note": "  "})
    body = r.get_data(as_text=True)
    assert r.status_code == 409 and "lần sửa mới cần ghi chú" in body and 'value="2025-07-01"' in body
    r = _publish(client, **{"from": "2025-09-30", "to": "2025-07-01"})
    assert r.status_code == 400
    _late_responses(app)
    r = _publish(client, **{"from": "2025-07-01", "to": "2025-09-30", "note": "Phiếu giấy nhập muộn"})
    assert r.status_code == 303
    with app.app_context():
        first, second = sorted(db.session.scalars(sa.select(PublishedPeriod)), key=lambda s: s.revision)
        assert (first.revision, second.revision) == (1, 2) and first.published_by == users["analyst"]["id"]
        events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "period_published")).all()
        assert {e.user_id for e in events} == {users["analyst"]["id"]} and len(events) == 2
        expected = snapshot_tables(first).communes
    r = start_export(client, kind="scores", fmt="json", published=str(first.id))
    final = poll_until_finished(client, r.headers["Location"])[-1]
    assert final["status"] == "done"
    download = client.get(final["download_url"])
    assert f"published-{first.id}" in download.headers["Content-Disposition"]
    document = download.get_json() or __import__("json").loads(download.get_data())
    assert document["meta"]["published"]["revision"] == 1
    rows = pd.DataFrame(document["rows"])
    assert len(rows) == len(expected)
    assert _own_aggregate(rows) == pytest.approx(_own_aggregate(expected))


def test_a_snapshot_of_another_province_cannot_be_exported(app, client, auth, users):
    with app.app_context():
        other = PublishedPeriod(
            province_code="01",
            date_from=date(2025, 7, 1),
            date_to=date(2025, 9, 30),
            structure="current",
            revision=1,
            note="",
            method_version="x",
            cutoff_at=datetime(2025, 10, 1),
            respondents=0,
            checksum="0" * 64,
            payload=b"",
        )
        db.session.add(other)
        db.session.commit()
        other_id = other.id
    auth.login(users["analyst"]["email"])
    r = start_export(client, kind="scores", fmt="csv", published=str(other_id))
    assert r.status_code == 400
    assert (
        client.post(
            "/analyst/published",
            data={
                "csrf_token": csrf_token(client, "/analyst/published"),
                "from": "2025-07-01",
                "to": "2025-09-30",
                "province": "01",
            },
        ).status_code
        == 404
    )


def test_officers_cannot_publish(app, client, auth, users):
    auth.login(users["officer"]["email"])
    assert client.get("/analyst/published").status_code in (403, 404)


def test_a_large_period_is_published_once_its_scores_are_computed(app, client, auth, users):
    """Over SCORES_INLINE_MAX_RESPONSES no request computes scores: publishing waits for the
    background computation, saying so, and the typed note stays on screen."""
    seed_every_subdimension(app)
    app.config["SCORES_INLINE_MAX_RESPONSES"] = 1
    auth.login(users["analyst"]["email"])
    r = _publish(client, **{"from": "2025-07-01", "to": "2025-09-30", "note": "quý 3"})
    body = r.get_data(as_text=True)
    assert r.status_code == 409 and "đang được tính" in body and "quý 3" in body
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PublishedPeriod)) == 0
        score_tables(*Q3, province_code=PROVINCE)  # what the background job does
    r = _publish(client, **{"from": "2025-07-01", "to": "2025-09-30", "note": "quý 3"})
    assert r.status_code == 303


def test_a_period_is_published_only_once_it_is_over_and_has_answers(app, client, runner, auth, users):
    """Publishing the current month (or a later one) would show part of a period as the whole on
    every commune's public page; an empty period would replace real results with nothing."""
    from feedback.times import local_day, now_seconds

    seed_every_subdimension(app)
    today = local_day(now_seconds())
    result = runner.invoke(
        args=["publish-period", "--from", today.replace(day=1).isoformat(), "--to", today.isoformat()]
    )
    assert result.exit_code != 0 and "has not ended yet" in result.output
    result = runner.invoke(args=["publish-period", "--from", "2024-01-01", "--to", "2024-03-31"])
    assert result.exit_code != 0 and "nothing to publish" in result.output
    auth.login(users["analyst"]["email"])
    r = _publish(client, **{"from": today.isoformat(), "to": (today + pd.Timedelta(days=30)).isoformat()})
    assert r.status_code == 409 and "chưa kết thúc" in r.get_data(as_text=True)
    r = _publish(client, **{"from": "2024-01-01", "to": "2024-03-31"})
    assert r.status_code == 409 and "không có gì để công bố" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PublishedPeriod)) == 0
