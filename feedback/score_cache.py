"""Score tables computed once per (period, structure, province, options, method, data version), kept in the database.

Every transaction that changes what scores are computed from (a response stored, quality
flags changed, margins imported, communes loaded, demo seeded) bumps the data version of its
scope, the province code, in the same transaction (:func:`bump_data_version`). A cached entry
is fresh only while its scope's version is the one it was computed at; an entry of an older
version is kept (one per inputs key, the newest) so pages can show it at once while a
background job (``feedback/jobs/scores.py``) recomputes it: stale-while-revalidate.

Ordering: the version is read *before* the data, so an entry can only carry a version older
than its data (recomputed needlessly once), never a version that looks newer than its data.
Payloads are a zip of Parquet tables and JSON, never pickle: a database compromise must not
become code execution in the web process.

pandas and pyarrow are imported inside the functions that need them (``import wsgi`` stays light).
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from .extensions import db
from .models import Commune, DataVersion, PopulationMargin, Response, ScoreCache, utcnow

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "METHOD_VERSION",
    "ScoreTables",
    "bump_data_version",
    "bump_commune_data_versions",
    "cached_score_tables",
    "scope_responses",
    "data_version",
    "score_tables",
    "stats",
    "PG_BUMP_FOR_INSERTED",
    "SQLITE_BUMP_FOR_COMMUNE",
]

#: Raise when the scoring method changes in a way the source fingerprint of ``analysis`` misses
#: (e.g. a change in ``feedback/exports`` that alters the score tables).
METHOD_VERSION = 1
#: The scope label of the national view (all provinces): its version is the sum of all scopes'.
NATIONAL = "all"
#: Counters for tests and benchmarks: tables computed (cache misses) and served from the cache.
stats = {"computed": 0, "hits": 0}

# Raw-driver submission paths (feedback/responses.py) bump in their own single statement.
#: PostgreSQL: a CTE to append to the response insert, whose CTE ``r`` returns ``commune_code``.
PG_BUMP_FOR_INSERTED = """, v AS (
    INSERT INTO data_version (scope, version)
    SELECT c.province_code, 1 FROM r JOIN commune c ON c.code = r.commune_code
    ON CONFLICT (scope) DO UPDATE SET version = data_version.version + 1
)"""
#: SQLite: run on the inserting connection before its commit, with the commune code as parameter.
SQLITE_BUMP_FOR_COMMUNE = (
    "INSERT INTO data_version (scope, version) SELECT province_code, 1 FROM commune WHERE code = ? "
    "ON CONFLICT (scope) DO UPDATE SET version = data_version.version + 1"
)


def _upsert(session_or_conn: Any, rows: sa.Select | None = None, *, scope: str | None = None) -> None:
    """INSERT … ON CONFLICT DO UPDATE SET version = version + 1 (one short row lock)."""
    # A session (or Flask-SQLAlchemy's scoped one) answers get_bind(); a connection is its own bind.
    bind = session_or_conn.get_bind() if hasattr(session_or_conn, "get_bind") else session_or_conn
    dialect = bind.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the app runs on SQLite and PostgreSQL only
        raise ValueError(f"no upsert for database {dialect!r}")
    stmt = insert(DataVersion)
    stmt = stmt.from_select(["scope", "version"], rows) if rows is not None else stmt.values(scope=scope, version=1)
    stmt = stmt.on_conflict_do_update(index_elements=["scope"], set_={"version": DataVersion.version + 1})
    session_or_conn.execute(stmt)


def bump_data_version(session: Session | sa.Connection, scope: str) -> None:
    """Move ``scope``'s data version on (inside the caller's transaction; not committed)."""
    _upsert(session, scope=scope)


def bump_commune_data_versions(session: Session | sa.Connection, commune_codes: Iterable[str]) -> None:
    """Bump the data version of every province holding one of ``commune_codes`` (not committed)."""
    codes = sorted(set(commune_codes))
    if codes:
        _upsert(
            session,
            sa.select(Commune.province_code, sa.literal(1))
            .where(Commune.code.in_(codes))
            .group_by(Commune.province_code),
        )


def data_version(session: Session | sa.Connection, scope: str | None) -> int:
    """The current data version of a province (``None``: the nation, the sum over all provinces)."""
    if scope is None:
        return int(session.execute(sa.select(sa.func.coalesce(sa.func.sum(DataVersion.version), 0))).scalar_one())
    return int(session.execute(sa.select(DataVersion.version).where(DataVersion.scope == scope)).scalar() or 0)


@event.listens_for(Session, "after_flush")
def _bump_after_flush(session: Session, flush_context: Any) -> None:
    """Any ORM change to responses, margins or communes bumps their provinces in the same transaction."""
    communes: set[str] = set()
    provinces: set[str] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, (Response, PopulationMargin)) and obj.commune_code:
            communes.add(obj.commune_code)
        elif isinstance(obj, Commune) and obj.province_code:
            provinces.add(obj.province_code)
    conn = session.connection() if communes or provinces else None
    if communes:
        bump_commune_data_versions(conn, communes)
    for scope in sorted(provinces):
        bump_data_version(conn, scope)


@dataclass(frozen=True)
class ScoreTables:
    """The score tables of one period, as the analyst pages and the scores API use them.

    ``communes``: commune × code scores (``feedback.exports.commune_scores``);
    ``province``: its province roll-up; ``province_published``: the roll-up as published, of
    the published commune cells with its own small cells suppressed (what public exports and
    scorecards show); ``respondents``: responses that count (unflagged).
    """

    communes: pd.DataFrame
    province: pd.DataFrame
    province_published: pd.DataFrame
    respondents: int
    #: When the entry was stored (naive UTC); None for tables not read from or stored in the cache.
    computed_at: datetime | None = None
    #: True when read from an entry of an older data version (newer responses are not counted yet).
    stale: bool = False


_TABLES = ("communes", "province", "province_published")
#: ``ScoreTables.communes.attrs`` key: {commune code: responses that count}.
COMMUNE_RESPONDENTS = "respondents_by_commune"


@lru_cache(maxsize=1)
def _method_fingerprint() -> str:
    """SHA-256 of the ``analysis`` package's sources: a deployed change of method is a new key."""
    digest = hashlib.sha256(str(METHOD_VERSION).encode())
    for path in sorted((Path(__file__).resolve().parent.parent / "analysis").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _official_file() -> list[Any]:
    """The official scores file the roll-up reads: path, size and modification time."""
    from flask import current_app, has_app_context

    default = Path(__file__).resolve().parent / "data" / "papi_official_lao_cai.csv"
    path = Path(current_app.config.get("PAPI_OFFICIAL_CSV", default)) if has_app_context() else default
    try:
        stat = path.stat()
    except OSError:
        return [str(path), None, None]
    return [str(path), stat.st_size, stat.st_mtime_ns]


def cache_key(
    date_from: date | None, date_to: date | None, *, structure: str, province_code: str | None, include_flagged: bool
) -> str:
    """``<scope>:<hash>`` (64 characters at most); the scope prefix lets stale entries be removed by scope."""
    inputs = [
        _method_fingerprint(),
        _TABLES,
        date_from.isoformat() if date_from else None,
        date_to.isoformat() if date_to else None,
        structure,
        province_code,
        bool(include_flagged),
        _official_file(),
    ]
    digest = hashlib.sha256(json.dumps(inputs).encode()).hexdigest()
    prefix = f"{province_code or NATIONAL}:"
    return prefix + digest[: 64 - len(prefix)]


def _encode(tables: ScoreTables) -> bytes:
    """A zip of one Parquet file per table and ``meta.json`` (each table's ``attrs``, the counts)."""
    out = io.BytesIO()
    meta: dict[str, Any] = {"respondents": tables.respondents, "attrs": {}}
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in _TABLES:
            frame = getattr(tables, name).copy()
            meta["attrs"][name] = frame.attrs
            frame.attrs = {}
            buffer = io.BytesIO()
            frame.to_parquet(buffer, engine="pyarrow", index=False, compression="zstd")
            archive.writestr(f"{name}.parquet", buffer.getvalue())
        archive.writestr("meta.json", json.dumps(meta, default=_json_default))
    return out.getvalue()


def _json_default(value: Any) -> Any:
    """numpy scalars in ``attrs`` as plain numbers."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} in a score table's attrs cannot be cached")


def _decode(payload: bytes) -> ScoreTables:
    import pandas as pd

    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        meta = json.loads(archive.read("meta.json"))
        frames = {}
        for name in _TABLES:
            frame = pd.read_parquet(io.BytesIO(archive.read(f"{name}.parquet")), engine="pyarrow")
            frame.attrs = meta["attrs"][name]
            frames[name] = frame
    return ScoreTables(respondents=int(meta["respondents"]), **frames)


def _compute(
    date_from: date | None, date_to: date | None, *, structure: str, province_code: str | None, include_flagged: bool
) -> ScoreTables:
    """Read the period and score it: the work the cache saves."""
    from .bridge import load_analysis_input
    from .exports import commune_scores, province_scores, suppress_small_cells

    stats["computed"] += 1
    data = load_analysis_input(date_from, date_to, province_code=province_code, include_flagged=include_flagged)
    table = commune_scores(data, structure=structure)
    # Responses that count, per commune (what a commune's public results page says it rests on).
    counted = data.respondents if include_flagged else data.respondents[~data.respondents["flagged"]]
    table.attrs[COMMUNE_RESPONDENTS] = {str(code): int(n) for code, n in counted["commune"].value_counts().items() if n}
    return ScoreTables(
        communes=table,
        province=province_scores(table, data, province_code=province_code),
        # A public roll-up rests on the published cells only (see build_score_export).
        province_published=suppress_small_cells(
            province_scores(suppress_small_cells(table), data, province_code=province_code)
        ),
        respondents=len(data.respondents) - data.flagged,
    )


def score_tables(
    date_from: date | None = None,
    date_to: date | None = None,
    *,
    structure: str = "current",
    province_code: str | None = "15",
    include_flagged: bool = False,
) -> ScoreTables:
    """The score tables of a period, from the cache when the province's data has not changed since.

    On a miss the tables are computed (in the caller: seconds to tens of seconds at scale) and
    stored, replacing the key's older entry (see :func:`_store`). Two workers computing the same
    entry at once both succeed (an upsert; the newer data version wins).
    """
    options = dict(structure=structure, province_code=province_code, include_flagged=include_flagged)
    key = cache_key(date_from, date_to, **options)
    version, tables = _read(key, province_code, stale_ok=False)  # the version before the data: see above
    if tables is not None:
        return tables
    tables = _compute(date_from, date_to, **options)
    created = utcnow()
    _store(key, version, _encode(tables), province_code, created=created)
    return replace(tables, computed_at=created)


def cached_score_tables(
    date_from: date | None = None,
    date_to: date | None = None,
    *,
    structure: str = "current",
    province_code: str | None = "15",
    include_flagged: bool = False,
) -> ScoreTables | None:
    """The newest cached tables of these inputs, even of an older data version (then ``stale``
    is True); None when there is none. Never computes: the caller decides whether to compute
    now (:func:`score_tables`) or in the background."""
    key = cache_key(
        date_from, date_to, structure=structure, province_code=province_code, include_flagged=include_flagged
    )
    return _read(key, province_code, stale_ok=True)[1]


def scope_responses(date_from: date | None, date_to: date | None, province_code: str | None) -> int:
    """Responses (flagged ones too) submitted in the period in the province (None: all): one
    ``count(*)``, to judge whether the scores can be computed inside a web request."""
    from .times import day_clause

    query = (
        sa.select(sa.func.count()).select_from(Response).where(day_clause(Response.submitted_at, date_from, date_to))
    )
    if province_code is not None:
        query = query.join(Commune, Commune.code == Response.commune_code).where(Commune.province_code == province_code)
    with db.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def _read(key: str, province_code: str | None, *, stale_ok: bool) -> tuple[int, ScoreTables | None]:
    """(the scope's current data version, the key's entry if it is of that version, or of an
    older one with ``stale_ok``; None if there is none or it cannot be decoded). Counts a hit."""
    with db.engine.connect() as conn:
        version = data_version(conn, province_code)
        row = conn.execute(
            sa.select(ScoreCache.data_version, ScoreCache.created_at).where(ScoreCache.key == key)
        ).first()
        # An entry "newer" than the data (a restore took the version back) is never served.
        if row is None or row.data_version > version or (row.data_version < version and not stale_ok):
            return version, None
        memo_key = (str(db.engine.url), key, row.data_version, row.created_at)
        with _memo_lock:
            tables = _memo.get(memo_key)
            if tables is not None:
                _memo.move_to_end(memo_key)
        if tables is None:
            payload = conn.execute(
                sa.select(ScoreCache.payload).where(ScoreCache.key == key, ScoreCache.data_version == row.data_version)
            ).scalar()
    if tables is None:
        if payload is None:  # replaced meanwhile
            return version, None
        try:
            tables = _decode(payload)
        except (KeyError, ValueError, OSError, zipfile.BadZipFile):  # not ours, or damaged: recompute
            return version, None
        _remember(memo_key, tables)
    stats["hits"] += 1
    return version, replace(_copied(tables), computed_at=row.created_at, stale=row.data_version < version)


#: This process's last decoded entries, by (database, key, data version, entry's creation time):
#: a warm page then costs two small queries, not a payload decode. The creation time tells a
#: recomputed entry (e.g. after a database restore took the version back) from the one decoded.
_memo: OrderedDict[tuple, ScoreTables] = OrderedDict()
MEMO_ENTRIES = 8
_memo_lock = threading.Lock()


def _remember(memo_key: tuple, tables: ScoreTables) -> None:
    with _memo_lock:  # background refresh jobs run in threads of the web process
        _memo[memo_key] = tables
        while len(_memo) > MEMO_ENTRIES:
            _memo.popitem(last=False)


def _copied(tables: ScoreTables) -> ScoreTables:
    """Shallow copies (pandas copy-on-write), so a caller's changes never reach the remembered tables."""
    return replace(tables, **{name: getattr(tables, name).copy(deep=False) for name in _TABLES})


#: How long an older-version entry of *other* inputs is kept once its scope moved on (a period
#: nobody looked at since is then recomputed when next asked for, instead of kept for ever).
STALE_KEEP = timedelta(days=1)


def _store(
    key: str, version: int, payload: bytes, province_code: str | None, *, created: datetime | None = None
) -> None:
    """Upsert the entry computed from data at ``version`` (never over an entry of a newer one).

    One entry per inputs key, the newest: the key's older entry is replaced here, and until
    then is what pages show (stale-while-revalidate). The entry is stored even when the data
    moved on during the computation: it is still the newest for its key, so a busy province's
    pages trail by one computation at most. Other keys of the scope whose entries are older
    than this version and were stored more than ``STALE_KEEP`` ago are removed.
    """
    created = created or utcnow()
    with db.engine.begin() as conn:
        dialect = conn.dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = insert(ScoreCache).values(key=key, data_version=version, payload=payload, created_at=created)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["key"],
                set_={
                    "data_version": stmt.excluded.data_version,
                    "payload": stmt.excluded.payload,
                    "created_at": stmt.excluded.created_at,
                },
                where=ScoreCache.data_version <= stmt.excluded.data_version,
            )
        )
        prefix = key.split(":", 1)[0] + ":"
        conn.execute(
            sa.delete(ScoreCache).where(
                ScoreCache.key.startswith(prefix, autoescape=True),
                ScoreCache.key != key,
                ScoreCache.data_version < version,
                ScoreCache.created_at < created - STALE_KEEP,
            )
        )
