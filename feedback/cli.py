"""Command-line tools (``flask --app wsgi …``), each a thin wrapper over a plain function."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from .extensions import db
from .models import ServicePoint
from surveys import catalog


@click.command("load-units")
@click.option("--province", default=None, help="Official province code (default: DEFAULT_PROVINCE, 15 = Lào Cai).")
@with_appcontext
def load_units_command(province: str | None) -> None:
    """Load or refresh a province's communes and wards from vietnam-provinces."""
    from .units import load_units

    code = province or current_app.config["DEFAULT_PROVINCE"]
    try:
        inserted, updated = load_units(code)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--province") from exc
    click.echo(f"province {code}: {inserted} units added, {updated} updated")


@click.command("seed-demo")
@click.option("--responses", default=2000, show_default=True, help="Synthetic responses to generate.")
@click.option("--seed", default=170, show_default=True, help="Random seed; the same seed gives the same data.")
@with_appcontext
def seed_demo_command(responses: int, seed: int) -> None:
    """Create service points for every commune and synthetic responses."""
    from .demo import seed_demo

    try:
        points, stored = seed_demo(responses=responses, seed=seed)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{points} service points created, {stored} responses stored")


@click.command("survey-links")
@click.option("--commune", default=None, help="Only this commune (official 5-digit code).")
@with_appcontext
def survey_links_command(commune: str | None) -> None:
    """Print one line per active service point: commune, id, area, survey, link."""
    query = db.select(ServicePoint).where(ServicePoint.active).order_by(ServicePoint.commune_code, ServicePoint.id)
    if commune:
        query = query.where(ServicePoint.commune_code == commune)
    base = current_app.config["BASE_URL"]
    for point in db.session.execute(query).scalars():
        survey = catalog().for_area(point.service_area)
        click.echo("\t".join([point.commune_code, str(point.id), point.service_area, survey.slug, f"{base}/s/{point.token}"]))


@click.command("lock-surveys")
@with_appcontext
def lock_surveys_command() -> None:
    """Record the digest of every new survey version in surveys/versions.lock."""
    from surveys.loader import write_lock

    lock = write_lock(catalog())
    click.echo(f"{len(lock)} survey versions locked")


def init_app(app: Flask) -> None:
    for command in (load_units_command, seed_demo_command, survey_links_command, lock_surveys_command):
        app.cli.add_command(command)
