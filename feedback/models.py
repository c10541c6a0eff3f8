"""Database models: communes, service points, responses and their answers."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db

SERVICE_AREAS = ("health", "school", "one_stop", "land", "commune_office")
MODES = ("web", "paper", "api")
# How a response arrived: a poster's QR code (or link), the landing page, a typed-in paper form,
# an API client. ``mode`` says which form took the answers (web, paper, api); a web form is a
# poster's or the landing page's (docs/quality.md).
CHANNELS = ("poster", "landing", "paper", "api")


def channel_of(mode: str, *, via: str | None = None, service_point_id: int | None = None) -> str:
    """The channel of a response: paper and API are their own; a web form's is where it was opened
    (``via``, kept in its signed state), else, for a form state made before channels were kept,
    the poster if it names a service point and the landing page if not (migration 0009_channel)."""
    if mode in ("paper", "api"):
        return mode
    if via in ("poster", "landing"):
        return via
    return "poster" if service_point_id is not None else "landing"


def _default_channel(context) -> str:
    """A response inserted without a channel (by the ORM) gets the one its mode and service point say."""
    values = context.get_current_parameters()
    return channel_of(values["mode"], service_point_id=values.get("service_point_id"))


def utcnow() -> datetime:
    """Naive UTC now: both SQLite and PostgreSQL columns hold naive UTC times."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_token() -> str:
    """An unguessable poster token (about 71 random bits, URL-safe, 12 characters).

    It neither starts nor ends with ``-`` or ``_``: printed under the QR code, a link ending in
    a hyphen reads as a word broken at the line's end (PDF readers drop it too), and people
    typing it leave it out.
    """
    while True:
        token = secrets.token_urlsafe(9)
        if token[0] not in "-_" and token[-1] not in "-_":
            return token


class Commune(db.Model):
    """A commune, ward or special zone with its official code (two-tier structure, 2025)."""

    code: Mapped[str] = mapped_column(sa.String(5), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    division_type: Mapped[str] = mapped_column(sa.String(20))
    codename: Mapped[str] = mapped_column(sa.String(120))
    province_code: Mapped[str] = mapped_column(sa.String(2), index=True)
    province_name: Mapped[str] = mapped_column(sa.String(120))

    service_points: Mapped[list[ServicePoint]] = relationship(back_populates="commune")


class ServicePoint(db.Model):
    """A place where citizens receive a service and where a poster hangs."""

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_code: Mapped[str] = mapped_column(sa.ForeignKey("commune.code"), index=True)
    service_area: Mapped[str] = mapped_column(sa.String(20))
    name: Mapped[str] = mapped_column(sa.String(200))
    token: Mapped[str] = mapped_column(sa.String(32), unique=True, default=new_token)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]

    commune: Mapped[Commune] = relationship(back_populates="service_points")

    __table_args__ = (sa.CheckConstraint(sa.column("service_area").in_(SERVICE_AREAS), name="service_area"),)


class Response(db.Model):
    """One submitted questionnaire; its id is chosen by the form or client, once."""

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    survey: Mapped[str] = mapped_column(sa.String(40))
    survey_version: Mapped[int]
    commune_code: Mapped[str] = mapped_column(sa.ForeignKey("commune.code"))
    service_point_id: Mapped[int | None] = mapped_column(sa.ForeignKey("service_point.id"))
    lang: Mapped[str] = mapped_column(sa.String(2))
    mode: Mapped[str] = mapped_column(sa.String(10))
    channel: Mapped[str] = mapped_column(sa.String(10), default=_default_channel)
    started_at: Mapped[datetime | None]
    submitted_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # SHA-256 of the canonical submitted content: tells a retry (same) from a conflict.
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    # The rotating module a web respondent was shown, or a paper form was printed with (None: no
    # modules, or API and older all-question paper forms, which may answer any): tells "not
    # shown" from "shown and skipped".
    module: Mapped[str | None] = mapped_column(sa.String(20))
    # Quality flags (";"-joined: too_fast, straight_lined, burst, honeypot); see docs/quality.md.
    flags: Mapped[str] = mapped_column(sa.String(120), default="", server_default="")
    # Whether the flags leave it out of scores (any but "clock", bridge.COUNTED_FLAGS), computed
    # by the database from ``flags`` on every write (migration 0008_read_speed), never by hand.
    low_quality: Mapped[bool] = mapped_column(sa.Computed("flags <> '' AND flags <> 'clock'"))
    # Salted hashes that rotate daily (never a raw address): of the client's network address,
    # and of address + browser, to spot bursts from one network or one device.
    network_hash: Mapped[str | None] = mapped_column(sa.String(16))
    device_hash: Mapped[str | None] = mapped_column(sa.String(16))
    # The officer who typed in a paper form (mode "paper"); None for every other channel.
    entered_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    # The registered API client (kiosk tablet, paper-entry tool) that sent it; None otherwise.
    api_client_id: Mapped[int | None] = mapped_column(sa.ForeignKey("api_client.id"))

    answers: Mapped[list[Answer]] = relationship(
        back_populates="response", cascade="all, delete-orphan", order_by="Answer.question_id"
    )
    commune: Mapped[Commune] = relationship()
    service_point: Mapped[ServicePoint | None] = relationship()

    __table_args__ = (
        sa.Index("ix_response_commune_received", "commune_code", "received_at"),
        sa.Index("ix_response_service_point_received", "service_point_id", "received_at"),
        sa.Index("ix_response_device_received", "device_hash", "received_at"),
        sa.Index("ix_response_network_received", "network_hash", "received_at"),
        sa.CheckConstraint(sa.column("mode").in_(MODES), name="mode"),
        sa.CheckConstraint(sa.column("channel").in_(CHANNELS), name="channel"),
    )


_SCORED = "score IS NOT NULL AND subdimension IS NOT NULL"
_RESPONDENT_BLOCK = "question_id IN ('sex', 'age_band', 'ethnic_group') AND position = 0"  # surveys.RESPONDENT_IDS


class Answer(db.Model):
    """One answer value; a multiple-choice answer has one row per chosen option."""

    response_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("response.id", ondelete="CASCADE"), primary_key=True)
    question_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    position: Mapped[int] = mapped_column(primary_key=True, default=0)
    value: Mapped[str] = mapped_column(sa.Text)
    # Copied from the survey version at submission, so analysis needs no survey files.
    subdimension: Mapped[str | None] = mapped_column(sa.String(8))
    score: Mapped[float | None]

    response: Mapped[Response] = relationship(back_populates="answers")

    # The respondent block of every response, read without the other answers (bridge.respondents_frame).
    __table_args__ = (
        sa.Index(
            "ix_answer_respondent",
            "response_id",
            "question_id",
            "value",
            postgresql_where=sa.text(_RESPONDENT_BLOCK),
            sqlite_where=sa.text(_RESPONDENT_BLOCK),
        ),
        # SQLite: the scored answers of each response, read from the index alone (bridge.scores_frame
        # probes it once per response: 5× less work than reading the table's rows). PostgreSQL
        # reads the answers by ranges of pages and hash-joins (bridge._read_postgres_bulk): no use.
        sa.Index("ix_answer_scored", "response_id", "subdimension", "score", sqlite_where=sa.text(_SCORED)).ddl_if(
            dialect="sqlite"
        ),
    )


ROLES = ("admin", "officer", "analyst")

# Which communes an officer looks after; admins and analysts see every commune.
user_commune = sa.Table(
    "user_commune",
    db.metadata,
    sa.Column("user_id", sa.ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("commune_code", sa.ForeignKey("commune.code"), primary_key=True),
)


class User(db.Model):
    """A staff account: province admin, commune officer or analyst. No self-registration."""

    __tablename__ = "user_account"  # "user" is a reserved word in PostgreSQL

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(10))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # Bumped by logout, password, role or commune change and deactivation: every session
    # cookie carries the epoch it was issued under and is refused once it differs.
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")
    # Failed log-ins since the last success, and until when the next attempt must wait
    # (a progressive delay; a success resets both).
    failed_logins: Mapped[int] = mapped_column(default=0, server_default="0")
    login_delay_until: Mapped[datetime | None]
    # Admins and analysts: the province they work for (two digits), or None for the national
    # level, which sees every province. Officers are scoped by their communes instead.
    province_code: Mapped[str | None] = mapped_column(sa.String(2))

    communes: Mapped[list[Commune]] = relationship(secondary=user_commune, order_by="Commune.code")

    __table_args__ = (sa.CheckConstraint(sa.column("role").in_(ROLES), name="role"),)

    # Flask-Login's user interface.
    is_anonymous = False

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return str(self.id)

    @property
    def commune_codes(self) -> set[str] | None:
        """The communes this user may see, or None for every commune (admin, analyst)."""
        if self.role == "officer":
            return {c.code for c in self.communes}
        return None

    @property
    def can_edit(self) -> bool:
        """Admins and officers change service points and enter paper forms; analysts only read."""
        return self.role in ("admin", "officer")


class AuditEvent(db.Model):
    """Who did what to users, service points, posters, paper forms and exports, and when."""

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # None: done from the command line (or by an anonymous login attempt).
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    action: Mapped[str] = mapped_column(sa.String(40))
    target: Mapped[str] = mapped_column(sa.String(120), default="")
    commune_code: Mapped[str | None] = mapped_column(sa.String(5), index=True)
    detail: Mapped[str] = mapped_column(sa.Text, default="")

    user: Mapped[User | None] = relationship()


class PopulationMargin(db.Model):
    """A commune's population in one category of a raking variable (sex, age band, ethnic group)."""

    commune_code: Mapped[str] = mapped_column(sa.ForeignKey("commune.code"), primary_key=True)
    variable: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    category: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    population: Mapped[int]

    __table_args__ = (
        sa.CheckConstraint(sa.column("variable").in_(("sex", "age_band", "ethnic_group")), name="variable"),
        sa.CheckConstraint(sa.column("population") >= 0, name="population"),
    )


# Which communes a registered API client may submit for.
api_client_commune = sa.Table(
    "api_client_commune",
    db.metadata,
    sa.Column("api_client_id", sa.ForeignKey("api_client.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("commune_code", sa.ForeignKey("commune.code"), primary_key=True),
)


class ApiClient(db.Model):
    """A registered API client (a kiosk tablet, a paper-entry tool): its responses are
    attributed to it. Only a SHA-256 hash of its bearer token is stored; the token is shown once."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    communes: Mapped[list[Commune]] = relationship(secondary=api_client_commune, order_by="Commune.code")


class HashPepper(db.Model):
    """A random pepper for one day's network and device hashes (see feedback/quality.py).

    Destroyed once that day's burst window has passed, so a stored hash can no longer be
    tied to an address by anyone, including whoever holds the secret key."""

    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    pepper: Mapped[str] = mapped_column(sa.String(64))


JOB_STATES = ("queued", "running", "done", "failed")


class Job(db.Model):
    """A background job (an export, later a digest run): its parameters, progress and result.

    The state lives in the database, so any web host can show a job's progress and serve its
    file, whichever worker ran it (web hosts keep nothing on disk).
    """

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)  # 128 random bits, hex
    kind: Mapped[str] = mapped_column(sa.String(40))  # e.g. "export_scores", "export_responses"
    params: Mapped[str] = mapped_column(sa.Text, default="{}")  # JSON
    status: Mapped[str] = mapped_column(sa.String(10), default="queued", index=True)
    rows_done: Mapped[int] = mapped_column(default=0)
    rows_total: Mapped[int | None]
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # When the finished file is removed (None until it is finished).
    expires_at: Mapped[datetime | None] = mapped_column(index=True)
    file_name: Mapped[str | None] = mapped_column(sa.String(200))
    mimetype: Mapped[str | None] = mapped_column(sa.String(120))
    size_bytes: Mapped[int | None] = mapped_column(sa.BigInteger)
    error: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (sa.CheckConstraint(sa.column("status").in_(JOB_STATES), name="status"),)


class JobFileChunk(db.Model):
    """The finished file of a job, in pieces of about a megabyte (streamed to the download)."""

    __tablename__ = "job_file_chunk"

    job_id: Mapped[str] = mapped_column(sa.ForeignKey("job.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True)
    data: Mapped[bytes] = mapped_column(sa.LargeBinary)


class DataVersion(db.Model):
    """A counter bumped in every transaction that changes what scores are computed from
    (responses stored or flagged, margins imported), per scope (a province code)."""

    __tablename__ = "data_version"

    scope: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    version: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class ScoreCache(db.Model):
    """Computed score tables for one (period, structure, scope, options) at one data version."""

    __tablename__ = "score_cache"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)  # SHA-256 hex of the inputs
    data_version: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    payload: Mapped[bytes] = mapped_column(sa.LargeBinary)


class ProvinceSetting(db.Model):
    """What a province shows the public (issue #15); a province without a row uses the defaults."""

    __tablename__ = "province_setting"

    province_code: Mapped[str] = mapped_column(sa.String(2), primary_key=True)
    # The public commune results pages (/results/<code>); off: they are a 404.
    public_results: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    # Whether a commune's rank among the province's communes is shown on its public page.
    public_ranking: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PublishedPeriod(db.Model):
    """A frozen snapshot of a period's score tables for one province: what public pages and
    published exports read, so the numbers people see never move under them.

    A revision of the same period is a new row (``revision`` + 1) with a note of what changed
    and why; older revisions stay readable. ``payload`` is the tables encoded as the score
    cache encodes them (a zip of Parquet files, ``feedback.score_cache``); ``checksum`` is its
    SHA-256, checked on every read.
    """

    __tablename__ = "published_period"

    id: Mapped[int] = mapped_column(primary_key=True)
    province_code: Mapped[str] = mapped_column(sa.String(2))
    date_from: Mapped[date] = mapped_column(sa.Date)
    date_to: Mapped[date] = mapped_column(sa.Date)
    structure: Mapped[str] = mapped_column(sa.String(10), default="current")
    revision: Mapped[int] = mapped_column(default=1)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    # The analysis method (analysis.METHOD_VERSION and a fingerprint of its sources).
    method_version: Mapped[str] = mapped_column(sa.String(80))
    # Responses received up to this moment (naive UTC) are in the snapshot; later ones are not.
    cutoff_at: Mapped[datetime]
    respondents: Mapped[int]
    checksum: Mapped[str] = mapped_column(sa.String(64))
    payload: Mapped[bytes] = mapped_column(sa.LargeBinary)
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    # None: published from the command line.
    published_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"))

    __table_args__ = (
        sa.UniqueConstraint(
            "province_code", "date_from", "date_to", "structure", "revision", name="uq_published_period_revision"
        ),
        sa.Index("ix_published_period_province", "province_code", "date_to"),
    )


class CommuneAction(db.Model):
    """ "You said, we did": what a commune did in response to feedback, shown to the public."""

    __tablename__ = "commune_action"

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_code: Mapped[str] = mapped_column(sa.ForeignKey("commune.code"), index=True)
    # What it answers: a service point, or a PAPI dimension code ("1" to "8" as in
    # analysis.structures.DIMENSIONS), or neither.
    service_point_id: Mapped[int | None] = mapped_column(sa.ForeignKey("service_point.id"))
    dimension: Mapped[str | None] = mapped_column(sa.String(10))
    title_vi: Mapped[str] = mapped_column(sa.String(160))
    text_vi: Mapped[str] = mapped_column(sa.Text, default="")
    title_en: Mapped[str | None] = mapped_column(sa.String(160))
    text_en: Mapped[str | None] = mapped_column(sa.Text)
    done_on: Mapped[date] = mapped_column(sa.Date)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Hidden by an admin: kept (and audited) but shown nowhere public.
    hidden: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    commune: Mapped[Commune] = relationship()
    service_point: Mapped[ServicePoint | None] = relationship()


class DigestSent(db.Model):
    """One weekly digest claimed for one account: ``send-digests`` run twice sends it once."""

    __tablename__ = "digest_sent"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    week: Mapped[date] = mapped_column(sa.Date, primary_key=True)  # the Monday the digest's week starts
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # None while the message is being handed to the mail server (or if that failed).
    sent_at: Mapped[datetime | None]


def include_in_dialect(dialect_name: str):
    """An alembic ``include_object`` hook that leaves out what only another database gets
    (``Index(...).ddl_if(dialect=...)``), so autogenerate and the schema test compare like with like."""

    def include(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
        rule = getattr(obj, "_ddl_if", None)
        return rule is None or rule.dialect is None or rule.dialect == dialect_name

    return include
