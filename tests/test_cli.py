"""Command-line tools: load-units, seed-demo, survey-links, and migrations matching the models."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from feedback.extensions import db
from feedback.models import Commune, Response, ServicePoint, include_in_dialect
from surveys import catalog

from .conftest import BASE_URL, count


def test_load_units_is_idempotent(app, runner):
    result = runner.invoke(args=["load-units"])
    assert result.exit_code == 0 and "0 units added, 0 updated" in result.output
    assert count(app, Commune, province_code="15") == 99
    with app.app_context():
        khao_mang = db.session.get(Commune, "04465")
        assert (khao_mang.name, khao_mang.province_name) == ("Xã Khao Mang", "Lào Cai")


def test_load_units_repairs_a_changed_name(app, runner):
    with app.app_context():
        db.session.get(Commune, "04465").name = "wrong"
        db.session.commit()
    result = runner.invoke(args=["load-units", "--province", "15"])
    assert "0 units added, 1 updated" in result.output
    with app.app_context():
        assert db.session.get(Commune, "04465").name == "Xã Khao Mang"


def test_load_units_rejects_unknown_province(runner):
    result = runner.invoke(args=["load-units", "--province", "99"])
    assert result.exit_code != 0 and "unknown province code" in result.output


def test_seed_demo_is_deterministic_and_idempotent(app, runner):
    first = runner.invoke(args=["seed-demo", "--responses", "150", "--seed", "7"])
    assert first.exit_code == 0, first.output
    assert "495 service points created, 150 responses stored" in first.output
    with app.app_context():
        ids = set(db.session.execute(sa.select(Response.id)).scalars())
        # Plausible variation: several communes and every survey appear.
        communes = db.session.scalar(sa.select(sa.func.count(sa.distinct(Response.commune_code))))
        surveys = set(db.session.execute(sa.select(Response.survey).distinct()).scalars())
    assert communes > 30 and surveys == {s.slug for s in catalog().all_current()}
    again = runner.invoke(args=["seed-demo", "--responses", "150", "--seed", "7"])
    assert "0 service points created, 0 responses stored" in again.output
    other = runner.invoke(args=["seed-demo", "--responses", "10", "--seed", "8"])
    assert "10 responses stored" in other.output
    with app.app_context():
        assert ids <= set(db.session.execute(sa.select(Response.id)).scalars())
    assert count(app) == 160


def test_survey_links_format(app, runner):
    runner.invoke(args=["seed-demo", "--responses", "0"])
    result = runner.invoke(args=["survey-links", "--commune", "04465"])
    lines = result.output.strip().splitlines()
    assert len(lines) == 5
    with app.app_context():
        points = {p.id: p for p in db.session.execute(sa.select(ServicePoint)).scalars()}
    for line in lines:
        code, point_id, area, slug, link = line.split("\t")
        point = points[int(point_id)]
        assert (code, area) == ("04465", point.service_area)
        assert slug == catalog().for_area(area).slug
        assert link == f"{BASE_URL}/s/{point.token}"


def test_migrations_match_models(app):
    """The schema is created only through migrations, so they must describe the models exactly."""
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include_in_dialect(conn.dialect.name)})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_demo_users_once(runner):
    first = runner.invoke(args=["create-demo-users"])
    assert first.exit_code == 0 and first.output.count("created") == 3
    assert runner.invoke(args=["create-demo-users"]).output == ""
