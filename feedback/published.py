"""Published periods (issue #15): frozen snapshots of a period's score tables for one province.

An analyst publishes a period (a quarter by default); its score tables, as the analyst pages
compute them (``feedback.score_cache``), are frozen in a :class:`~feedback.models.PublishedPeriod`
row with the method version, the data cut-off time and a SHA-256 checksum. Responses that
arrive later never change it. Publishing the same period again is a new revision, which needs
a note saying what changed and why; every revision stays readable. Public pages and published
exports read snapshots only, never live data.

pandas and pyarrow are imported by the score cache's functions, only when a snapshot is made or read.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import click
import sqlalchemy as sa
from flask.cli import with_appcontext
from sqlalchemy.exc import IntegrityError

from . import audit
from .extensions import db
from .models import PublishedPeriod
from .score_cache import (
    COMMUNE_RESPONDENTS,
    METHOD_VERSION,
    ScoreTables,
    _compute,
    _decode,
    _encode,
    _method_fingerprint,
    cached_score_tables,
)
from .times import local_day, now_seconds

if TYPE_CHECKING:
    from .exports import ScoreExport

__all__ = [
    "PublishRefused",
    "check_period",
    "SnapshotDamaged",
    "latest_published",
    "previous_published",
    "publish_period",
    "published_export",
    "published_periods",
    "snapshot_tables",
    "tables_export",
]

STRUCTURES = ("current", "2018")


class SnapshotDamaged(ValueError):
    """A snapshot's payload no longer matches the checksum taken when it was published."""


class PublishRefused(ValueError):
    """A period that cannot be published; ``code`` says why (for a message in the user's language):
    ``ends_before_start``, ``not_over`` (it ends today or later: its answers are not all in),
    ``empty`` (no response counts in it), ``note_needed`` (a revision without a note) or
    ``published_meanwhile`` (someone else published it at the same moment)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def method_version() -> str:
    """``<METHOD_VERSION>:<first 12 hex digits of the analysis sources' SHA-256>``."""
    return f"{METHOD_VERSION}:{_method_fingerprint()[:12]}"


def check_period(date_from: date, date_to: date, *, today: date) -> None:
    """Raise :class:`PublishRefused` unless ``date_from``–``date_to`` can be published on ``today``
    (Viet Nam days): it must not end before it starts, and must have ended (its last day before today)."""
    if date_to < date_from:
        raise PublishRefused("ends_before_start", "the period ends before it starts")
    if date_to >= today:
        raise PublishRefused(
            "not_over", f"the period has not ended yet: publish it from {date_to + timedelta(days=1)} on"
        )


def publish_period(
    date_from: date,
    date_to: date,
    *,
    province_code: str,
    structure: str = "current",
    note: str = "",
    user_id: int | None = None,
) -> PublishedPeriod:
    """Freeze the score tables of ``date_from``–``date_to`` (Viet Nam days, both included).

    The first publication of a period is revision 1; publishing it again makes revision n + 1,
    which must carry a ``note`` (what changed and why). The cut-off is taken before the data
    is read: every response received by then is in the snapshot. Audited as
    ``period_published``. The caller commits.

    Raises
    ------
    PublishRefused
        A period that ends before it starts or has not ended yet (its last day is today or
        later, Viet Nam time: public pages would show a part of it as the whole), one in which
        no response counts, a revision without a note, or another publication of the same
        period committed meanwhile (try again).
    ValueError
        An unknown structure.
    """
    if structure not in STRUCTURES:
        raise ValueError(f"unknown structure {structure!r}; use one of {', '.join(STRUCTURES)}")
    cutoff = now_seconds()
    check_period(date_from, date_to, today=local_day(cutoff))
    note = (note or "").strip()
    last = db.session.scalar(
        sa.select(sa.func.max(PublishedPeriod.revision)).where(
            PublishedPeriod.province_code == province_code,
            PublishedPeriod.date_from == date_from,
            PublishedPeriod.date_to == date_to,
            PublishedPeriod.structure == structure,
        )
    )
    if last and not note:
        raise PublishRefused(
            "note_needed", "this period was published before: a new revision needs a note saying what changed and why"
        )
    options: dict[str, Any] = dict(structure=structure, province_code=province_code, include_flagged=False)
    # The cache's tables when they are of the current data, else computed here (never stored
    # in the cache: that write goes through its own connection, which a pending write of this
    # session would block on SQLite).
    tables = cached_score_tables(date_from, date_to, **options)
    if tables is None or tables.stale or COMMUNE_RESPONDENTS not in tables.communes.attrs:
        tables = _compute(date_from, date_to, **options)
    if tables.respondents == 0:
        raise PublishRefused("empty", "no response counts in this period: there is nothing to publish")
    payload = _encode(tables)
    snapshot = PublishedPeriod(
        province_code=province_code,
        date_from=date_from,
        date_to=date_to,
        structure=structure,
        revision=(last or 0) + 1,
        note=note,
        method_version=method_version(),
        cutoff_at=cutoff,
        respondents=tables.respondents,
        checksum=hashlib.sha256(payload).hexdigest(),
        payload=payload,
        published_by=user_id,
    )
    try:
        with db.session.begin_nested():
            db.session.add(snapshot)
    except IntegrityError as exc:
        raise PublishRefused(
            "published_meanwhile", "this period was published by someone else just now: try again"
        ) from exc
    audit.record(
        "period_published",
        target=f"published period {snapshot.id}",
        detail={
            "from": date_from.isoformat(),
            "to": date_to.isoformat(),
            "revision": snapshot.revision,
            "structure": structure,
            "province": province_code,
            "respondents": snapshot.respondents,
            "checksum": snapshot.checksum,
            **({"note": note} if note else {}),
        },
    )
    return snapshot


def snapshot_tables(snapshot: PublishedPeriod) -> ScoreTables:
    """The snapshot's score tables, after checking its checksum.

    Raises
    ------
    SnapshotDamaged
        When the stored payload's SHA-256 differs from the one taken at publication.
    """
    if hashlib.sha256(snapshot.payload).hexdigest() != snapshot.checksum:
        raise SnapshotDamaged(f"published period {snapshot.id}: its data no longer matches its checksum")
    return _decode(snapshot.payload)


def _newest_first(query: sa.Select) -> sa.Select:
    return query.order_by(
        PublishedPeriod.date_to.desc(), PublishedPeriod.date_from.desc(), PublishedPeriod.revision.desc()
    )


def published_periods(province_code: str | None, *, structure: str | None = None) -> list[PublishedPeriod]:
    """Every snapshot (all revisions) of a province (None: every province), newest period first."""
    query = sa.select(PublishedPeriod)
    if province_code is not None:
        query = query.where(PublishedPeriod.province_code == province_code)
    if structure is not None:
        query = query.where(PublishedPeriod.structure == structure)
    return list(db.session.scalars(_newest_first(query)))


def latest_published(province_code: str, *, structure: str = "current") -> PublishedPeriod | None:
    """The latest revision of the province's most recent published period, or None."""
    query = sa.select(PublishedPeriod).where(
        PublishedPeriod.province_code == province_code, PublishedPeriod.structure == structure
    )
    return db.session.scalars(_newest_first(query).limit(1)).first()


def previous_published(snapshot: PublishedPeriod) -> PublishedPeriod | None:
    """The latest revision of the most recent period of the same province and structure that
    ended before ``snapshot``'s period began (what "improved" or "fell" compares with), or None."""
    query = sa.select(PublishedPeriod).where(
        PublishedPeriod.province_code == snapshot.province_code,
        PublishedPeriod.structure == snapshot.structure,
        PublishedPeriod.date_to < snapshot.date_from,
    )
    return db.session.scalars(_newest_first(query).limit(1)).first()


def tables_export(
    tables: ScoreTables,
    date_from: date | None,
    date_to: date | None,
    *,
    level: str = "commune",
    structure: str = "current",
    public: bool = False,
    published: dict[str, Any] | None = None,
) -> ScoreExport:
    """A :class:`~feedback.exports.ScoreExport` of computed (or snapshot) score tables.

    ``level`` is ``commune`` (public: small cells suppressed) or ``province`` (public: the roll-up
    of the published cells). Raises ValueError for another level.
    """
    from .exports import ScoreExport, suppress_small_cells

    if level == "commune":
        table = suppress_small_cells(tables.communes) if public else tables.communes
    elif level == "province":
        table = tables.province_published if public else tables.province
    else:
        raise ValueError(f"level must be commune or province, not {level!r}")
    return ScoreExport(
        table=table,
        level=level,
        structure=structure,
        date_from=date_from,
        date_to=date_to,
        excluded=int(table.attrs.get("excluded", 0)),
        public=public,
        published=published,
    )


def published_export(snapshot: PublishedPeriod, *, level: str = "commune", public: bool = False) -> ScoreExport:
    """The score export of a snapshot, with what identifies it (id, revision, cut-off, checksum)."""
    return tables_export(
        snapshot_tables(snapshot),
        snapshot.date_from,
        snapshot.date_to,
        level=level,
        structure=snapshot.structure,
        public=public,
        published=describe(snapshot),
    )


def describe(snapshot: PublishedPeriod) -> dict[str, Any]:
    """What identifies a snapshot, for README sheets, JSON envelopes and pages."""
    return {
        "id": snapshot.id,
        "revision": snapshot.revision,
        "note": snapshot.note,
        "published_at": snapshot.published_at.isoformat(timespec="seconds") + "Z",
        "cutoff_at": snapshot.cutoff_at.isoformat(timespec="seconds") + "Z",
        "method_version": snapshot.method_version,
        "checksum_sha256": snapshot.checksum,
    }


@click.command("publish-period")
@with_appcontext
@click.option(
    "--from",
    "date_from",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    required=True,
    help="First submission day (Viet Nam), YYYY-MM-DD.",
)
@click.option(
    "--to",
    "date_to",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    required=True,
    help="Last submission day (Viet Nam), YYYY-MM-DD.",
)
@click.option("--note", default="", help="What changed and why (required for a new revision of a published period).")
@click.option(
    "--structure",
    type=click.Choice(STRUCTURES),
    default="current",
    show_default=True,
    help="PAPI structure of the scores.",
)
@click.option(
    "--province", "province_code", default=None, help="Province code (default: the installation's DEFAULT_PROVINCE)."
)
def publish_period_command(date_from, date_to, note, structure, province_code) -> None:
    """Freeze a period's commune scores as a published snapshot; prints its id as the last line."""
    from flask import current_app

    province_code = province_code or current_app.config["DEFAULT_PROVINCE"]
    try:
        snapshot = publish_period(
            date_from.date(), date_to.date(), province_code=province_code, structure=structure, note=note
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(
        f"Published {snapshot.date_from}–{snapshot.date_to} for province {province_code}, "
        f"revision {snapshot.revision}: {snapshot.respondents} responses, checksum {snapshot.checksum}"
    )
    click.echo(snapshot.id)
