"""Command-line tools (``flask --app wsgi …``), each a thin wrapper over a plain function."""

from __future__ import annotations

import os
import sys
import tempfile
from contextlib import contextmanager

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from surveys import catalog

from .extensions import db
from .models import ServicePoint


@click.command("load-units")
@click.option("--province", default=None, help="Official province code (default: DEFAULT_PROVINCE, 15 = Lào Cai).")
@click.option("--all", "every", is_flag=True, help="Every province and centrally-run city (34, 2025).")
@with_appcontext
def load_units_command(province: str | None, every: bool) -> None:
    """Load or refresh a province's communes and wards (or every province's) from vietnam-provinces."""
    from .units import load_all_units, load_units

    if every:
        if province:
            raise click.BadParameter("give --province or --all, not both", param_hint="--all")
        inserted, updated = load_all_units()
        click.echo(f"every province: {inserted} units added, {updated} updated")
    else:
        code = province or current_app.config["DEFAULT_PROVINCE"]
        try:
            inserted, updated = load_units(code)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--province") from exc
        click.echo(f"province {code}: {inserted} units added, {updated} updated")
    _warn_national_accounts()


def _warn_national_accounts() -> None:
    """Accounts without a province see every province: harmless with one province loaded,
    a widening of access once a second one is (README, "Staff of a province or the nation")."""
    from .auth import loaded_provinces, national_accounts

    if len(loaded_provinces()) > 1 and (emails := national_accounts()):
        click.echo(
            f"note: {len(emails)} admin/analyst account(s) have no province and see every province "
            f"loaded: {', '.join(emails)}. Give each its province on /officer/users/<id> unless it is "
            "meant to be national.",
            err=True,
        )


@click.command("seed-demo")
@click.option(
    "--responses",
    type=click.IntRange(min=0),
    default=None,
    help="About this many responses in all, shared out like the default design "
    "(default: the design itself, about 20,000 for Lào Cai).",
)
@click.option(
    "--per-commune",
    type=click.IntRange(min=0),
    default=200,
    show_default=True,
    help="Responses in the year for a commune of median population; others in proportion to population.",
)
@click.option(
    "--per-commune-min",
    type=click.IntRange(min=0),
    default=60,
    show_default=True,
    help="Fewest responses a commune gets.",
)
@click.option(
    "--per-commune-max",
    type=click.IntRange(min=0),
    default=400,
    show_default=True,
    help="Most responses a commune gets.",
)
@click.option(
    "--commune",
    "communes",
    multiple=True,
    help="Responses for this commune only (official code, repeatable); service points are made for all.",
)
@click.option("--seed", default=170, show_default=True, help="Random seed; the same seed gives the same data.")
@with_appcontext
def seed_demo_command(
    responses: int | None,
    per_commune: int,
    per_commune_min: int,
    per_commune_max: int,
    communes: tuple[str, ...],
    seed: int,
) -> None:
    """Service points for every commune and a year of synthetic responses, in proportion to population.

    Responses fall in the 365 days up to now, in opening hours (Viet Nam time). Populations come
    from docs/demo_margins_lao_cai.csv (the sum of each commune's sex margins).
    """
    import numpy as np

    from .demo import DAYS, seed_demo

    try:
        points, stored, planned = seed_demo(
            responses=responses,
            seed=seed,
            per_commune=per_commune,
            per_commune_range=(per_commune_min, per_commune_max),
            communes=communes,
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{points} service points created, {stored} responses stored")
    if len(planned):
        click.echo(
            f"{planned.sum()} responses in {len(planned)} communes over {DAYS} days; per commune: "
            f"min {planned.min()}, median {int(np.median(planned))}, max {planned.max()}"
        )


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
        click.echo(
            "\t".join([point.commune_code, str(point.id), point.service_area, survey.slug, f"{base}/s/{point.token}"])
        )


@click.command("lock-surveys")
@with_appcontext
def lock_surveys_command() -> None:
    """Record the digest of every new survey version in surveys/versions.lock."""
    from surveys.loader import write_lock

    lock = write_lock(catalog())
    click.echo(f"{len(lock)} survey versions locked")


@click.command("create-user")
@with_appcontext
@click.option("--email", required=True, help="Log-in e-mail address.")
@click.option(
    "--role", required=True, type=click.Choice(["admin", "officer", "analyst"]), help="What the account may do."
)
@click.option("--commune", "communes", multiple=True, help="Official commune code an officer looks after (repeatable).")
@click.option(
    "--province", default=None, help="Province code an admin or analyst works for (omitted: national, every province)."
)
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="The password (asked for when not given, so it stays out of the shell history).",
)
def create_user_command(email: str, role: str, communes: tuple[str, ...], province: str | None, password: str) -> None:
    """Create a staff account (admin, officer or analyst), of one province or national."""
    from . import audit
    from .auth import create_user

    try:
        user = create_user(email, role, password, communes, province_code=province)
    except ValueError as exc:
        db.session.rollback()
        raise _user_error(exc) from exc
    audit.record(
        "user_created",
        target=user.email,
        detail={"role": role, "communes": sorted(communes), "province": user.province_code, "via": "cli"},
    )
    db.session.commit()
    scope = f"province {user.province_code}" if user.province_code else "every province"
    click.echo(
        f"{role} {user.email} created" + (f" for {', '.join(sorted(communes))}" if communes else "") + f" ({scope})"
    )


def _user_error(exc: ValueError) -> click.ClickException:
    """A refused account change as a command-line error, in English (messages meant for the web
    pages are translated there; here there is no request to choose a language)."""
    from flask_babel import force_locale

    with force_locale("en"):
        return click.ClickException(str(exc))


@click.command("set-password")
@with_appcontext
@click.option("--email", required=True, help="The account's log-in e-mail address.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="The new password (asked for when not given, so it stays out of the shell history).",
)
def set_password_command(email: str, password: str) -> None:
    """Give a staff account a new password; every session of the account ends."""
    from . import audit
    from .auth import find_user, set_password

    user = find_user(email)
    if user is None:
        raise click.ClickException(f"no account with e-mail {email.strip().lower()}")
    try:
        set_password(user, password)
    except ValueError as exc:
        db.session.rollback()
        raise _user_error(exc) from exc
    audit.record("user_changed", target=user.email, detail={"after": {"password_changed": True}, "via": "cli"})
    db.session.commit()
    click.echo(f"password of {user.email} changed; its sessions have ended")


@click.command("create-demo-users")
@with_appcontext
def create_demo_users_command() -> None:
    """Demo accounts (admin, analyst, officer of Xã Khao Mang) with the password in the README."""
    from .demo import DEMO_PASSWORD, create_demo_users

    for email in create_demo_users():
        click.echo(f"{email} created (password: {DEMO_PASSWORD})")


@click.command("make-posters")
@with_appcontext
@click.option("--commune", default=None, help="Every active service point of this commune (official code).")
@click.option("--province", default=None, help="Every active service point of this province (official code).")
@click.option(
    "--size", type=click.Choice(["a4", "a6"]), default="a4", show_default=True, help="A4 poster or A6 table card."
)
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True), help="The PDF file to write."
)
def make_posters_command(commune: str | None, province: str | None, size: str, output: str) -> None:
    """Write one PDF with a QR poster page per active service point."""
    from . import audit
    from .posters import poster_points, posters_pdf

    if (commune is None) == (province is None):
        raise click.UsageError("give exactly one of --commune CODE or --province CODE")
    points = poster_points(commune_code=commune, province_code=province)
    if not points:
        raise click.ClickException(
            f"no active service points in {'commune ' + commune if commune else 'province ' + province}"
        )
    data = posters_pdf(points, base_url=current_app.config["BASE_URL"], size=size)
    with open(output, "wb") as f:
        f.write(data)
    audit.record(
        "posters_printed",
        target=f"commune {commune}" if commune else f"province {province}",
        commune_code=commune,
        detail={"size": size, "pages": len(points), "via": "cli"},
    )
    db.session.commit()
    click.echo(f"{len(points)} pages ({size.upper()}) written to {output}")


@click.command("import-margins")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def import_margins_command(csv_file: str) -> None:
    """Load commune population margins (commune_code, variable, category, population) for weighting."""
    from .analyst.margins import import_margins

    with open(csv_file, encoding="utf-8") as f:
        text = f.read()
    try:
        inserted, updated, unchanged = import_margins(text)
    except ValueError as exc:
        db.session.rollback()
        raise click.ClickException(f"{csv_file}:\n{exc}") from exc
    db.session.commit()
    click.echo(f"{inserted} margins added, {updated} updated, {unchanged} unchanged")


_DATE = click.DateTime(formats=["%Y-%m-%d"])


def _day(value):
    return value.date() if value is not None else None


SCORE_FORMAT_CHOICES = ("csv", "xlsx", "json", "dta", "parquet")  # feedback.exports.SCORE_FORMATS (pandas-free here)
RESPONSE_FORMAT_CHOICES = ("csv", "xlsx", "dta", "parquet")  # feedback.exports.RESPONSE_FORMATS


@contextmanager
def _terminal_progress(label: str):
    """A ``progress(rows_done, rows_total)`` callback drawing a bar on stderr when stderr is a
    terminal; None otherwise (a log file or a pipe gets only the summary line)."""
    if not sys.stderr.isatty():
        yield None
        return
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = click.progressbar(
                length=max(total, 1), label=label, file=sys.stderr, show_pos=True, show_percent=True
            )
            bar.__enter__()
        bar.length = max(total, 1)
        if done > bar.pos:
            bar.update(done - bar.pos)

    try:
        yield progress
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


@contextmanager
def _replacing(output: str):
    """A binary file that becomes ``output`` only once written whole (no half file on failure)."""
    if output == "-":
        raise click.ClickException("exports are written to a file: give -o FILE (standard output is not supported)")
    folder = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(folder):
        raise click.ClickException(f"no such folder: {folder}")
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".export-", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            yield out
        os.replace(temporary, output)
    except BaseException:
        os.unlink(temporary)
        raise


@click.command("export-scores")
@with_appcontext
@click.option("--from", "date_from", type=_DATE, default=None, help="First submission day (Viet Nam), YYYY-MM-DD.")
@click.option("--to", "date_to", type=_DATE, default=None, help="Last submission day (Viet Nam), YYYY-MM-DD.")
@click.option(
    "--level",
    type=click.Choice(["commune", "province"]),
    default="commune",
    show_default=True,
    help="One row per commune × code, or the province roll-up against plan 170 targets.",
)
@click.option(
    "--structure",
    type=click.Choice(["current", "2018"]),
    default="current",
    show_default=True,
    help="PAPI structure: current (2021+) or 2018 (the plan's baseline).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(SCORE_FORMAT_CHOICES),
    default=None,
    help="File format (default: from the file name, else csv).",
)
@click.option("--public", is_flag=True, help="Hide estimates resting on fewer than 5 respondents (for publication).")
@click.option(
    "--published",
    default=None,
    is_flag=False,
    flag_value="latest",
    metavar="[ID]",
    help="Export a published period's frozen snapshot (`publish-period`): the given id, or the "
    "latest without one; its own period and structure, whatever arrived since.",
)
@click.option(
    "-o",
    "--output",
    default=None,
    type=click.Path(writable=True),
    help="The file (or folder) to write; default: a name saying what the file holds, e.g. "
    "papi-proxy-scores_internal_lao-cai_commune_all.csv, in the current folder.",
)
def export_scores_command(date_from, date_to, level, structure, fmt, public, published, output) -> None:
    """Write PAPI-style proxy scores per commune (or the province roll-up) to a file."""
    from . import audit
    from .jobs.exports import write_scores

    province_code = current_app.config["DEFAULT_PROVINCE"]
    period = _period_params(date_from, date_to)
    if published is not None:
        if date_from or date_to:
            raise click.UsageError("--published exports a snapshot with its own period: leave out --from and --to")
        snapshot = _published_snapshot(published, province_code, structure)
        published, structure = snapshot.id, snapshot.structure
        period = {"from": snapshot.date_from.isoformat(), "to": snapshot.date_to.isoformat()}
    fmt = fmt or (_format_of(output, SCORE_FORMAT_CHOICES) if output and not os.path.isdir(output) else "csv")
    output = _output_path(
        output,
        {
            "kind": "scores",
            "fmt": fmt,
            "level": level,
            "structure": structure,
            "public": public,
            "province_code": province_code,
            "published": published,
            **period,
        },
    )
    try:
        with _terminal_progress("rows") as progress, _replacing(output) as out:
            meta = write_scores(
                out,
                fmt,
                date_from=_day(date_from),
                date_to=_day(date_to),
                level=level,
                structure=structure,
                public=public,
                province_code=province_code,
                progress=progress,
                published=published,
            )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    audit.record(
        "data_exported",
        target=f"scores {level} {fmt}",
        detail={**{k: v for k, v in meta.items() if k != "rows"}, "via": "cli"},
    )
    db.session.commit()
    click.echo(f"{meta['rows']} rows written to {output} ({meta['excluded']} low-quality responses excluded)")


@click.command("export-responses")
@with_appcontext
@click.option("--from", "date_from", type=_DATE, default=None, help="First submission day (Viet Nam), YYYY-MM-DD.")
@click.option("--to", "date_to", type=_DATE, default=None, help="Last submission day (Viet Nam), YYYY-MM-DD.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(RESPONSE_FORMAT_CHOICES),
    default=None,
    help="File format (default: from the file name, else csv).",
)
@click.option("--include-flagged", is_flag=True, help="Keep responses flagged as low quality.")
@click.option(
    "-o",
    "--output",
    default=None,
    type=click.Path(writable=True),
    help="The file (or folder) to write; default: a name saying what the file holds, e.g. "
    "responses_all-provinces_all.csv, in the current folder.",
)
def export_responses_command(date_from, date_to, fmt, include_flagged, output) -> None:
    """Write anonymised responses (one row per response) with a codebook, for analysts."""
    from . import audit
    from .exports import CODEBOOK_FORMATS, codebook_csv_path
    from .jobs.exports import write_codebook, write_responses
    from .jobs.registry import JobFailed

    fmt = fmt or (_format_of(output, RESPONSE_FORMAT_CHOICES) if output and not os.path.isdir(output) else "csv")
    output = _output_path(
        output,
        {"kind": "responses", "fmt": fmt, "include_flagged": include_flagged, **_period_params(date_from, date_to)},
    )
    try:
        with _terminal_progress("responses") as progress, _replacing(output) as out:
            meta = write_responses(
                out,
                fmt,
                date_from=_day(date_from),
                date_to=_day(date_to),
                include_flagged=include_flagged,
                progress=progress,
            )
    except (ValueError, JobFailed) as exc:  # JobFailed: too many rows for XLSX
        raise click.ClickException(getattr(exc, "detail", None) or str(exc)) from exc
    written = [output]
    if fmt in CODEBOOK_FORMATS:
        with _replacing(str(codebook_csv_path(output))) as out:
            write_codebook(out)
        written.append(str(codebook_csv_path(output)))
    audit.record(
        "data_exported",
        target=f"responses {fmt}",
        detail={
            "from": _day(date_from) and _day(date_from).isoformat(),
            "to": _day(date_to) and _day(date_to).isoformat(),
            "rows": meta["rows"],
            "include_flagged": include_flagged,
            "via": "cli",
        },
    )
    db.session.commit()
    click.echo(
        f"{meta['rows']} responses written to {' and '.join(written)} "
        f"({meta['excluded']} low-quality responses excluded)"
    )


def _published_snapshot(which: str, province_code: str, structure: str):
    """The snapshot ``--published`` names: an id, or ``latest`` (of the province and structure)."""
    from .models import PublishedPeriod
    from .published import latest_published

    if which == "latest":
        snapshot = latest_published(province_code, structure=structure)
        if snapshot is None:
            raise click.ClickException(
                f"nothing has been published for province {province_code} yet (flask --app wsgi publish-period)"
            )
        return snapshot
    if not which.isdigit() or (snapshot := db.session.get(PublishedPeriod, int(which))) is None:
        raise click.ClickException(f"there is no published period {which}")
    return snapshot


def _period_params(date_from, date_to) -> dict[str, str]:
    """The export's period as the jobs' ``from``/``to`` parameters (ISO days; absent when open)."""
    return {end: value.date().isoformat() for end, value in (("from", date_from), ("to", date_to)) if value}


def _output_path(output: str | None, params: dict) -> str:
    """``output`` as given; for none or a folder, the export's descriptive name (in the folder)."""
    from .jobs.exports import export_file_name

    if output is None:
        return export_file_name(params)
    if os.path.isdir(output):
        return os.path.join(output, export_file_name(params))
    return output


def _format_of(path: str, allowed: tuple[str, ...]) -> str:
    suffix = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    return suffix if suffix in allowed else "csv"


@click.command("create-api-client")
@with_appcontext
@click.option("--name", required=True, help="A name for the device or tool, e.g. kiosk-tram-y-te-khao-mang.")
@click.option(
    "--commune",
    "communes",
    multiple=True,
    help="Official commune code it may send responses for (repeatable; none: every commune of the province).",
)
def create_api_client_command(name: str, communes: tuple[str, ...]) -> None:
    """Register an API client (kiosk, paper-entry tool); its token is printed once, on the last line."""
    from .api_clients import create_api_client

    try:
        client, token = create_api_client(name, communes)
    except ValueError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    scope = ", ".join(sorted(set(communes))) or f"every commune of province {current_app.config['DEFAULT_PROVINCE']}"
    click.echo(f"API client {client.name} created for {scope}.")
    click.echo("Its token follows; it is shown only this once (only its hash is stored). Put it on the device now:")
    click.echo(token)


@click.command("revoke-api-client")
@with_appcontext
@click.option("--name", required=True, help="The client's name (see list-api-clients).")
def revoke_api_client_command(name: str) -> None:
    """End an API client's token for good; its requests are refused with 401 from now on."""
    from .api_clients import revoke_api_client

    try:
        revoke_api_client(name)
    except ValueError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"API client {name} revoked")


@click.command("list-api-clients")
@with_appcontext
def list_api_clients_command() -> None:
    """Print one line per API client: name, state, communes, created, last used (UTC; never a token)."""
    from .api_clients import list_api_clients

    every = f"every commune of province {current_app.config['DEFAULT_PROVINCE']}"
    for client in list_api_clients():
        state = f"revoked {client.revoked_at:%Y-%m-%d %H:%M}" if client.revoked_at else "active"
        used = f"{client.last_used_at:%Y-%m-%d %H:%M}" if client.last_used_at else "never used"
        communes = ",".join(c.code for c in client.communes) or every
        click.echo("\t".join([client.name, state, communes, f"created {client.created_at:%Y-%m-%d %H:%M}", used]))


@click.command("backup")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, writable=True),
    help="The backup file to write (SQLite: a database file; PostgreSQL: pg_dump custom format).",
)
@with_appcontext
def backup_command(output: str) -> None:
    """Write a consistent backup of the database while the app keeps serving."""
    from .backup import backup_database

    try:
        result = backup_database(current_app.config["SQLALCHEMY_DATABASE_URI"], output)
    except (ValueError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"{result.kind} backup written to {result.path} ({result.size_bytes / 1e6:.1f} MB in {result.seconds:.1f} s)"
    )


@click.command("restore")
@click.argument("backup_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--force", is_flag=True, help="Replace a database that is not empty (everything in it is dropped).")
@with_appcontext
def restore_command(backup_file: str, force: bool) -> None:
    """Restore a backup into the configured database (stop the web and worker services first)."""
    from .backup import plan_restore, restore_database

    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    db.engine.dispose()  # this command's own pooled connections must not hold the database open
    try:
        click.echo(f"About to {plan_restore(url, backup_file).describe(backup_file)}.")
        restore_database(url, backup_file, force=force)
    except (ValueError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("Restored. Next: flask db upgrade (if this code is newer than the backup), then start the services.")


def init_app(app: Flask) -> None:
    for command in (
        load_units_command,
        seed_demo_command,
        survey_links_command,
        lock_surveys_command,
        create_user_command,
        set_password_command,
        make_posters_command,
        import_margins_command,
        export_scores_command,
        export_responses_command,
        create_demo_users_command,
    ):
        app.cli.add_command(command)
    from .devices import purge_peppers_command

    app.cli.add_command(purge_peppers_command)
    for command in (create_api_client_command, revoke_api_client_command, list_api_clients_command):
        app.cli.add_command(command)
    for command in (backup_command, restore_command):
        app.cli.add_command(command)
    from .published import publish_period_command

    app.cli.add_command(publish_period_command)
    from .digests.send import send_digests_command

    app.cli.add_command(send_digests_command)
