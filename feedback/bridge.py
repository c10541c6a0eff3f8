"""The one bridge from the database to ``analysis``: set-based reads into its DataFrames."""

from __future__ import annotations

import contextvars
import csv
import io
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import aliased

from surveys import RESPONDENT_IDS

from .extensions import db
from .models import Answer, Commune, PopulationMargin, Response
from .times import day_bounds, day_clause
from .units import WARD

__all__ = [
    "LOCAL_OFFSET",
    "COUNTED_FLAGS",
    "AnalysisInput",
    "communes_frame",
    "low_quality",
    "load_analysis_input",
    "margins_frame",
    "one_snapshot",
    "period_bounds",
    "period_clause",
    "respondents_frame",
    "response_export_frames",
    "response_keys",
    "scores_frame",
]

LOCAL_OFFSET = timedelta(hours=7)  # periods are Viet Nam calendar days; times are stored in UTC
# Flags about a response's times, not its answers: the answers still count in scores (the
# untrusted time was replaced by the receive time; docs/quality.md, "Times and clocks").
COUNTED_FLAGS = ("clock",)
CHUNK_ROWS = 500_000  # databases other than SQLite and PostgreSQL: rows fetched per round trip
CHUNK_RESPONSES = 250_000  # SQLite: responses per delimited-text chunk
SQLITE_COMMUNE_INDEX_MAX = 8  # SQLite: up to this many communes are looked up in their index
PG_CHUNK_PAGES = 131_072  # PostgreSQL: pages (8 KiB) of the root table per aggregated chunk
PG_SPLIT_PAGES = 4_096  # PostgreSQL: tables larger than this are read in two halves at once
# Per read query: JIT compiling costs ~1 s per query and saves nothing here; nested loops are
# what PostgreSQL picks on misestimating the quality filter (see _read_postgres_bulk).
_PG_SETTINGS = ("SET LOCAL jit = off", "SET LOCAL enable_nestloop = off", "SET LOCAL work_mem = '128MB'")
# PostgreSQL keys responses by a 64-bit hash of their UUID (``uuid_hash_extended``): an integer
# computed without reading text, joining respondents and answers without a join in Python.
# Two ids of one read sharing a hash (odds ~n²/2⁶⁵: 3·10⁻⁸ at a million) is detected, and the
# read is repeated with exact text keys (``_exact_keys``).
_EXACT_KEYS: contextvars.ContextVar[bool] = contextvars.ContextVar("exact_keys", default=False)
# Inside ``one_snapshot``: SQLite's connection holding the read transaction, or PostgreSQL's
# exported snapshot id.
_SNAPSHOT: contextvars.ContextVar[sa.Connection | str | None] = contextvars.ContextVar("snapshot", default=None)


def period_bounds(date_from: date | None, date_to: date | None) -> tuple[datetime | None, datetime | None]:
    """Naive-UTC [start, end) of the Viet Nam days ``date_from``..``date_to`` (both inclusive)."""
    return day_bounds(date_from, date_to)


def period_clause(
    date_from: date | None = None, date_to: date | None = None, commune_codes: list[str] | None = None
) -> sa.ColumnElement[bool]:
    """WHERE clause on ``response``: submitted within the Viet Nam days, in the communes given.

    ``submitted_at`` decides the period: the server's receive time, or a client's time that
    the clock rule found plausible (feedback/times.py), never a time nobody can vouch for.
    """
    clauses = [day_clause(Response.submitted_at, date_from, date_to)]
    if commune_codes is not None:
        commune = Response.commune_code
        if len(commune_codes) > SQLITE_COMMUNE_INDEX_MAX and _sqlite():
            # SQLite, knowing no statistics, would look up each commune in the commune index
            # inside every range of responses (a whole province: 13 s instead of 2.7 s for the
            # respondents of 1 M responses); unary + keeps it to the range, filtering as it reads.
            commune = sa.literal_column("+response.commune_code", sa.String)
        clauses.append(commune.in_(sorted(commune_codes)))
    return sa.and_(*clauses)


def low_quality() -> sa.ColumnElement[bool]:
    """WHERE clause on ``response``: it carries a quality flag that leaves it out of scores.

    Every flag does but those in ``COUNTED_FLAGS``. The database computes the column from
    ``flags`` on every write (migration 0008_read_speed), so its planner knows how many pass.
    """
    return Response.low_quality


def _sqlite() -> bool:
    return db.engine.dialect.name == "sqlite"


def _postgres() -> bool:
    return db.engine.dialect.name == "postgresql"


def _response_key() -> sa.ColumnElement:
    """The integer key joining answers to respondents: SQLite's rowid, PostgreSQL's UUID hash.

    An integer key spares creating and hashing millions of 32-character strings (one per
    scored answer). Other databases (and PostgreSQL inside :func:`_exact_keys`) read the id
    as text, never as ``uuid.UUID`` objects.
    """
    if _sqlite():
        return sa.literal_column("response.rowid", sa.Integer).label("response_id")
    if _postgres() and not _EXACT_KEYS.get():
        return sa.func.uuid_hash_extended(Response.id, 0, type_=sa.BigInteger).label("response_id")
    return sa.cast(Response.id, sa.String).label("response_id")


@contextmanager
def _exact_keys() -> Iterator[None]:
    """Inside this block, PostgreSQL keys responses by their id as text (hash collision fallback)."""
    token = _EXACT_KEYS.set(True)
    try:
        yield
    finally:
        _EXACT_KEYS.reset(token)


@contextmanager
def one_snapshot() -> Iterator[None]:
    """Inside this block, every read of this module sees the database as it was at one moment.

    A period's respondents and their scored answers (or a response export's responses, answers
    and count of excluded ones) are separate reads; a response flagged or stored between two of
    them would be counted by one and not the other (a burst flag landing mid-read left the
    "excluded" count at 0 while the scores left the responses out). SQLite: one connection
    holds a read transaction (WAL: writers carry on) and serves every read inside. PostgreSQL:
    a REPEATABLE READ transaction exports its snapshot, which every read's connection imports.
    Nested blocks share the outer one. Read only: nothing written inside is committed.
    """
    if _SNAPSHOT.get() is not None or not (_sqlite() or _postgres()):
        yield
        return
    with db.engine.connect() as holder:
        shared: sa.Connection | str
        if _sqlite():
            holder.exec_driver_sql("BEGIN")
            holder.exec_driver_sql("SELECT 1 FROM response LIMIT 1").all()  # the snapshot starts here
            shared = holder
        else:
            holder = holder.execution_options(isolation_level="REPEATABLE READ")
            shared = str(holder.scalar(sa.text("SELECT pg_export_snapshot()")))
        token = _SNAPSHOT.set(shared)
        try:
            yield
        finally:
            _SNAPSHOT.reset(token)
            holder.rollback()


@contextmanager
def _connection(*, repeatable: bool = False) -> Iterator[sa.Connection]:
    """A connection for one read: inside :func:`one_snapshot`, SQLite's shared one or a
    PostgreSQL connection in the shared snapshot; otherwise a new one (REPEATABLE READ when
    ``repeatable``, for reads spread over several queries)."""
    shared = _SNAPSHOT.get()
    if isinstance(shared, sa.Connection):
        yield shared
        return
    with db.engine.connect() as conn:
        if isinstance(shared, str) or repeatable:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        if isinstance(shared, str):
            conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{shared}'")
        yield conn


def _read(query: sa.Select, *, dtypes: dict[str, object] | None = None) -> pd.DataFrame:
    """Run a Core select into a DataFrame; text columns become the given (categorical) dtypes."""
    dtypes = dtypes or {}
    columns = [c.name for c in query.selected_columns]
    if _sqlite():
        frame = _read_sqlite_bulk(query, columns, dtypes)
    elif _postgres():
        frame = _read_postgres_bulk(query, columns, dtypes)
    else:
        frame = _read_rows(query, columns, dtypes)
    for name, dtype in dtypes.items():
        if frame[name].dtype != dtype:
            frame[name] = _astype(frame[name], dtype)
    return frame


def _read_sqlite_bulk(query: sa.Select, columns: list[str], dtypes: dict[str, object]) -> pd.DataFrame:
    """SQLite: rows come back as delimited text built inside SQLite, parsed by pandas' C reader.

    Fetching millions of rows as Python tuples costs ~1.5 µs per value on the 2-core server;
    one string per chunk and ``read_csv`` cost a tenth of that (benchmarks/export_speed.py).
    Chunks are ranges of ``response.rowid`` (every query here reads ``response``), so the text
    and its parsed strings stay small; each chunk is made categorical before the next.
    Unit (0x1f) and record (0x1e) separators cannot occur in codes, option values or numbers.

    One connection, in a thread of its own, builds the chunks' texts in turn while this thread
    parses the last one (SQLite runs with the GIL released), and one ``printf`` per row builds
    its text: together 9.4 s -> 7.9 s for the read of 1 M responses. Two connections building
    texts at once gain nothing (8.0 s against 4.8 s for the scored answers of 1 M responses):
    they contend inside SQLite, whose allocator takes one process-wide lock. (Apache
    Arrow's ADBC SQLite driver reads 8× faster but links a second copy of SQLite into the
    process, whose file locks would cancel the first one's: a documented way to corrupt it.)
    """
    rowid = sa.literal_column("response.rowid", sa.Integer)

    def texts() -> Generator[str | None, None, None]:
        with nullcontext(shared) if shared is not None else db_engine.connect() as conn:
            low, high = conn.execute(sa.select(sa.func.min(rowid), sa.func.max(rowid)).select_from(Response)).one()
            for start in range(low or 0, (high or -1) + 1, CHUNK_RESPONSES):
                inner = query.where(rowid.between(start, start + CHUNK_RESPONSES - 1)).subquery("q")
                # One printf per row (NULL: empty) allocates once, where a chain of || did per field.
                row = sa.func.printf("\x1f".join(["%s"] * len(columns)), *(inner.c[name] for name in columns))
                yield conn.scalar(sa.select(sa.func.group_concat(row, sa.literal_column("char(30)"))))

    db_engine = db.engine
    shared = _SNAPSHOT.get()  # resolved here: the thread below does not see this context
    in_memory = db_engine.url.database in (None, "", ":memory:")  # another thread's would be empty
    parts = []
    for text in texts() if in_memory else _ahead(texts()):
        if text:
            parts.append(_parse(text, columns, dtypes))
            del text
    return _concat(parts, columns, dtypes)


def _ahead(items: Generator[str | None, None, None]) -> Iterator[str | None]:
    """Yield ``items``, computing the next one in a thread while the caller works on this one.

    SQLite builds a chunk's text with the GIL released, so it overlaps pandas parsing the last.
    """
    done = object()
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(next, items, done)
        try:
            while (item := pending.result()) is not done:
                pending = pool.submit(next, items, done)
                yield item
        finally:  # the caller stopped early: end the generator in its thread (its connection)
            pending.cancel() or pending.exception()
            pool.submit(items.close).result()


def _parse_dtypes(dtypes: dict[str, object]) -> dict[str, object]:
    # Codes such as "02647" or "6.1" stay text (parsed as str, then categorical); keys with
    # given categories are parsed as numbers or text first and then mapped.
    return {
        name: (str if t == "category" else t) for name, t in dtypes.items() if not isinstance(t, pd.CategoricalDtype)
    }


def _astype(column: pd.Series, dtype: object) -> pd.Series:
    """``column.astype(dtype)``, except that a categorical with given categories maps values
    outside them to missing, silently: the answers of a response stored after its period's
    respondents were read (a refresh job reads while citizens submit) belong to no respondent
    and are dropped by the caller."""
    if isinstance(dtype, pd.CategoricalDtype) and dtype.categories is not None and column.dtype != dtype:
        codes = dtype.categories.get_indexer(column)
        return pd.Series(pd.Categorical.from_codes(codes, dtype=dtype), index=column.index, name=column.name)
    return column.astype(dtype)


def _convert(part: pd.DataFrame, dtypes: dict[str, object]) -> pd.DataFrame:
    for name, dtype in dtypes.items():
        part[name] = _astype(part[name], dtype)
    return part


def _parse(text: str, columns: list[str], dtypes: dict[str, object]) -> pd.DataFrame:
    part = pd.read_csv(
        io.StringIO(text),
        sep="\x1f",
        lineterminator="\x1e",
        header=None,
        names=columns,
        dtype=_parse_dtypes(dtypes),
        keep_default_na=False,
        na_values={c: [""] for c in columns},
        quoting=csv.QUOTE_NONE,
        engine="c",
    )
    return _convert(part, dtypes)


def _pg_tables(query: sa.Select) -> list[sa.Table]:
    """The tables of the query's one FROM join tree, its root first (never null-extended); [] if not one tree."""
    froms = query.get_final_froms()
    if len(froms) != 1:
        return []
    tables: list[sa.Table] = []

    def walk(node) -> None:
        if isinstance(node, sa.Join):
            walk(node.left)
            walk(node.right)
        elif isinstance(node, sa.Table):
            tables.append(node)
        elif isinstance(node, sa.Alias) and isinstance(node.element, sa.Table):
            tables.append(node.element)
        else:
            tables.append(None)

    walk(froms[0])
    # The root is named in the chunks' ctid ranges: a plain table, not an alias.
    root = froms[0]
    while isinstance(root, sa.Join):
        root = root.left
    return [] if None in tables or not isinstance(root, sa.Table) else tables


def _pg_aggregates(inner: sa.Subquery, columns: list[str]) -> tuple[list[sa.ColumnElement], list[str], list[str]]:
    """One aggregate per binary column (64-bit integers, floats, booleans), one for all text ones."""
    aggregates, kinds, text = [], [], []
    empty = sa.literal_column("''::bytea")
    for name in columns:
        column = inner.c[name]
        if isinstance(column.type, sa.Boolean):
            kinds.append("bool")
            value = sa.case((column, sa.literal_column("'\\x01'::bytea")), else_=sa.literal_column("'\\x00'::bytea"))
        elif isinstance(column.type, sa.BigInteger):
            kinds.append("int8")
            value = sa.func.int8send(column)
        elif isinstance(column.type, sa.Float):
            kinds.append("float8")
            value = sa.func.float8send(sa.func.coalesce(column, sa.literal_column("'NaN'::float8")))
        else:
            text.append(name)
            continue
        aggregates.append(sa.func.string_agg(value, empty, type_=sa.LargeBinary))
    if text:
        # A leading constant field keeps a row whose text is all missing from being a blank line.
        row = sa.func.concat_ws(
            sa.func.chr(31), ".", *(sa.func.coalesce(sa.cast(inner.c[n], sa.Text), "") for n in text)
        )
        aggregates.append(sa.func.string_agg(row, sa.func.chr(30), type_=sa.Text))
    return aggregates, kinds, text


_PG_ARRAYS = {"int8": (">i8", "int64"), "float8": (">f8", "float64"), "bool": ("u1", "bool")}


def _pg_part(
    values: tuple, columns: list[str], kinds: list[str], text: list[str], dtypes: dict[str, object]
) -> pd.DataFrame | None:
    """One chunk's aggregates (big-endian binary arrays, delimited text) -> DataFrame."""
    if values[0] is None:  # no rows in this chunk
        return None
    data = {}
    binary = [c for c in columns if c not in text]
    for name, kind, raw in zip(binary, kinds, values, strict=False):
        wire, dtype = _PG_ARRAYS[kind]
        data[name] = np.frombuffer(raw, dtype=wire).astype(dtype)
    if text:
        parsed = _parse(values[-1], ["_"] + text, {n: t for n, t in dtypes.items() if n in text})
        for name in text:
            data[name] = parsed[name]
    if len({len(v) for v in data.values()}) > 1:  # a NULL integer would shift its column (never expected)
        raise RuntimeError(f"PostgreSQL read: columns of unequal length {[len(v) for v in data.values()]}")
    part = pd.DataFrame({name: data[name] for name in columns})
    return _convert(part, {n: t for n, t in dtypes.items() if n not in text})


def _read_postgres_bulk(query: sa.Select, columns: list[str], dtypes: dict[str, object]) -> pd.DataFrame:
    """PostgreSQL: each chunk of rows comes back as one row of aggregates, read on two connections.

    PostgreSQL sends one message per row, whether fetched or copied (``COPY … TO STDOUT``
    through psycopg 3 cost ~3 µs of Python per row: 28 s for 8 M scored answers), so the rows
    of a chunk are joined server-side by ``string_agg``: 64-bit integer keys, floats and
    booleans as big-endian binary arrays (``int8send``/``float8send``; NULL floats as NaN)
    that numpy reads without parsing, text columns as one delimited text parsed by pandas'
    C reader (:func:`_parse`). Chunks are ranges of pages (``ctid``) of the table at the root of
    the FROM clause, :data:`PG_CHUNK_PAGES` each and at least two for tables over
    :data:`PG_SPLIT_PAGES`, read by two connections at once (two cores) in one exported
    snapshot, so the chunks see the same data. Each query turns off JIT (a second of compiling
    per query) and nested loops: PostgreSQL guesses that 0.5% of responses pass the quality
    filter and would probe an index once per response instead of hash joining. Measured at 1 M
    responses (8 M scored answers) against the former 64 ``string_agg`` text buckets, in the
    same minutes on the 2-core machine: ``load_analysis_input`` 37–40 s -> 18.5–21 s while
    other work loaded it; the scored answers alone ~4 s when it was quiet.
    """
    tables = _pg_tables(query)
    shared = _SNAPSHOT.get()
    with _connection(repeatable=True) as leader:
        size = sa.text("SELECT pg_relation_size(CAST(:t AS regclass)) / current_setting('block_size')::int")
        sizes = [int(leader.scalar(size, {"t": t.fullname}) or 0) for t in tables]
        # Chunks of the root table hash the other tables once per chunk: worth it only when the
        # root is the largest (scored answers); otherwise one query with parallel workers.
        table, pages = (tables[0], sizes[0]) if tables and sizes[0] >= max(sizes) else (None, 0)
        chunks = max(1, -(-pages // PG_CHUNK_PAGES))
        if pages > PG_SPLIT_PAGES:
            chunks = max(2, chunks)
        bounds = [pages * i // chunks for i in range(chunks)] + [None]
        if chunks == 1:
            statements = [query]
        else:
            ctid = sa.literal_column(f"{table.name}.ctid")
            statements = []
            for start, end in zip(bounds, bounds[1:], strict=False):
                clauses = [ctid >= sa.literal_column(f"'({start},0)'::tid")] if start else []
                if end is not None:
                    clauses.append(ctid < sa.literal_column(f"'({end},0)'::tid"))
                statements.append(query.where(*clauses) if clauses else query)
        selects = []
        for statement in statements:
            inner = statement.subquery("q")
            aggregates, kinds, text = _pg_aggregates(inner, columns)
            selects.append(sa.select(*aggregates))

        def run(conn, lane: list[sa.Select]) -> list[pd.DataFrame]:
            for setting in _PG_SETTINGS:
                conn.exec_driver_sql(setting)
            if len(selects) > 1:  # two connections busy already: no parallel workers on top
                conn.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")
            parts = []
            for select in lane:
                part = _pg_part(tuple(conn.execute(select).one()), columns, kinds, text, dtypes)
                if part is not None:
                    parts.append(part)
            return parts

        if len(selects) == 1:
            parts = run(leader, selects)
        else:
            snapshot = shared if isinstance(shared, str) else leader.scalar(sa.text("SELECT pg_export_snapshot()"))

            def second_lane() -> list[pd.DataFrame]:
                with db_engine.connect() as conn:
                    conn = conn.execution_options(isolation_level="REPEATABLE READ")
                    conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
                    return run(conn, selects[1::2])

            db_engine = db.engine
            with ThreadPoolExecutor(1) as pool:
                other = pool.submit(second_lane)
                first = run(leader, selects[0::2])
                second = other.result()
            parts = first + second
    return _concat(parts, columns, dtypes)


def _concat(parts: list[pd.DataFrame], columns: list[str], dtypes: dict[str, object]) -> pd.DataFrame:
    """Concatenate chunks, unifying the categories of columns made categorical per chunk."""
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    if len(parts) == 1:
        return parts[0]
    for name, dtype in dtypes.items():
        if dtype == "category":
            union = pd.api.types.union_categoricals([p[name] for p in parts])
            for p in parts:
                p[name] = p[name].cat.set_categories(union.categories)
    return pd.concat(parts, ignore_index=True)


def _read_rows(query: sa.Select, columns: list[str], dtypes: dict[str, object]) -> pd.DataFrame:
    """Other databases: stream rows in chunks, converting each chunk before fetching the next."""
    parts = []
    with _connection() as conn:
        result = conn.execution_options(stream_results=True, yield_per=CHUNK_ROWS).execute(query)
        for rows in result.partitions(CHUNK_ROWS):
            parts.append(_convert(pd.DataFrame.from_records(rows, columns=columns), dtypes))
    return _concat(parts, columns, dtypes)


def respondents_frame(
    date_from: date | None = None, date_to: date | None = None, commune_codes: list[str] | None = None
) -> pd.DataFrame:
    """One row per response in the period: response_id, commune, sex, age_band, ethnic_group, flagged.

    ``flagged`` is True when the response's quality flags leave it out of scores (every flag
    but ``COUNTED_FLAGS``; see docs/quality.md); the respondent block is pivoted from its
    answers (missing when skipped).
    """
    if _postgres():
        # One pass over the partial index of the respondent block (ix_answer_respondent), in
        # response order, instead of three joins that each read the answers.
        block = (
            sa.select(
                Answer.response_id,
                *(sa.func.max(Answer.value).filter(Answer.question_id == qid).label(qid) for qid in RESPONDENT_IDS),
            )
            .where(
                Answer.question_id.in_([sa.literal_column(f"'{qid}'") for qid in RESPONDENT_IDS]), Answer.position == 0
            )
            .group_by(Answer.response_id)
            .subquery("rb")
        )
        values = [block.c[qid] for qid in RESPONDENT_IDS]
        joins = [(block, block.c.response_id == Response.id)]
    else:  # SQLite reads by ranges of responses: three index probes per response
        aliases = {qid: aliased(Answer, name=f"rb_{qid}") for qid in RESPONDENT_IDS}
        values = [aliases[qid].value.label(qid) for qid in RESPONDENT_IDS]
        joins = [
            (alias, sa.and_(alias.response_id == Response.id, alias.question_id == qid, alias.position == 0))
            for qid, alias in aliases.items()
        ]
    query = sa.select(
        _response_key(),
        Response.commune_code.label("commune"),
        *values,
        low_quality().label("flagged"),
    ).select_from(Response)
    for target, on in joins:
        query = query.outerjoin(target, on)
    query = query.where(period_clause(date_from, date_to, commune_codes))
    frame = _read(query, dtypes={"commune": "category", **{q: "category" for q in RESPONDENT_IDS}})
    frame["flagged"] = frame["flagged"].astype(bool)
    return frame


def scores_frame(
    date_from: date | None = None,
    date_to: date | None = None,
    commune_codes: list[str] | None = None,
    *,
    include_flagged: bool = False,
    response_ids: pd.Index | None = None,
) -> pd.DataFrame:
    """The scored answers of the period: response_id, subdimension, score (0–1).

    On SQLite, one row per respondent and sub-dimension: ``score`` is the mean of the
    respondent's scored answers in it, computed by SQLite as it reads each range of
    responses. That is the value ``analysis`` gives a respondent from their answers
    (``analysis._inputs.subvalue_blocks``), so the row stands for them with the same result,
    and at 1 M responses the text SQLite builds and pandas parses holds 4.9 M rows instead of
    7.9 M. On PostgreSQL, whose chunks are page ranges of ``answer`` (a respondent's answers
    may straddle two, and two partial means would not weigh their answers), and on other
    databases, one row per scored answer.

    Answers of flagged responses are left out unless ``include_flagged``. With
    ``response_ids`` (the respondents' ids), ``response_id`` becomes a categorical over
    exactly those ids, which ``analysis`` maps without hashing each answer's id.
    """
    key = _response_key()
    score = Answer.score
    if _sqlite():  # chunks are ranges of responses: a respondent's answers are all in one
        score = sa.func.avg(Answer.score, type_=sa.Float).label("score")
    query = (
        sa.select(key, Answer.subdimension, score)
        .join(Response, Response.id == Answer.response_id)
        .where(
            Answer.score.is_not(None),
            Answer.subdimension.is_not(None),
            period_clause(date_from, date_to, commune_codes),
        )
    )
    if _sqlite():
        query = query.group_by(key.element, Answer.subdimension)
    # A stored column since 0008_read_speed, so PostgreSQL estimates it (it guessed that 0.5% of
    # responses passed the former text test and probed an index once per response).
    if not include_flagged:
        query = query.where(~low_quality())
    dtypes: dict[str, object] = {"subdimension": "category"}
    if response_ids is not None:
        dtypes["response_id"] = pd.CategoricalDtype(response_ids)
    frame = _read(query, dtypes=dtypes)
    if response_ids is not None:  # answers of responses stored after the respondents were read
        frame = frame[frame["response_id"].notna()].reset_index(drop=True)
    frame["score"] = frame["score"].astype(float)
    return frame


@one_snapshot()
def response_export_frames(
    date_from: date | None = None,
    date_to: date | None = None,
    *,
    question_ids: list[str],
    include_flagged: bool = False,
    commune_codes: list[str] | None = None,
    on_head: Callable[[int], None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Responses of a period and their answers, set-wise, for the anonymised response export.

    Returns ``(head, answers, excluded)``:

    - ``head``: one row per response kept: ``response_id`` (integer or text key, never
      exported), ``survey``, ``survey_version``, ``commune_code``, ``commune_name``, ``mode``,
      ``channel``, ``module`` (``""``: no module, every question shown), ``lang`` (categoricals),
      ``submitted_at`` (naive UTC ``datetime64``), ``flags``.
    - ``answers``: one row per stored value of the questions ``question_ids``: ``response_id``
      (categorical over ``head``'s keys, so its codes are row numbers of ``head``),
      ``question_id`` (categorical over ``question_ids``, in that order), ``position`` (int),
      ``value`` (categorical text).
    - ``excluded``: low-quality responses left out (0 with ``include_flagged``).

    Responses with a quality flag other than ``COUNTED_FLAGS`` are left out unless
    ``include_flagged``. ``on_head(rows)``, when given, is called once the responses are read
    (before their answers), so that a job can show its row count early. Every read sees the
    database as it was at one moment (:func:`one_snapshot`).
    """
    clause = period_clause(date_from, date_to, commune_codes)
    flagged = low_quality()
    head_query = (
        sa.select(
            _response_key(),
            Response.survey,
            Response.survey_version,
            Response.commune_code,
            Commune.name.label("commune_name"),
            Response.mode,
            Response.channel,
            Response.module,
            Response.lang,
            Response.submitted_at,
            Response.flags,
        )
        .join(Commune, Commune.code == Response.commune_code)
        .where(clause)
    )
    # SQLite would probe its (response_id, question_id) index once per listed question and
    # response (3× slower, measured); a unary plus makes it read each response's answers once.
    question = sa.literal_column("+answer.question_id", sa.String) if _sqlite() else Answer.question_id
    answer_query = (
        sa.select(_response_key(), Answer.question_id, Answer.position, Answer.value)
        .join(Response, Response.id == Answer.response_id)
        .where(clause, question.in_(question_ids))
    )
    if not include_flagged:
        head_query = head_query.where(~flagged)
        answer_query = answer_query.where(~flagged)
    text = ("survey", "commune_code", "commune_name", "mode", "channel", "module", "lang", "flags")
    head = _read(head_query, dtypes={**{c: "category" for c in text}, "submitted_at": str})
    if not _EXACT_KEYS.get() and not head["response_id"].is_unique:  # a 64-bit hash shared: exact keys
        with _exact_keys():
            return response_export_frames(
                date_from,
                date_to,
                question_ids=question_ids,
                include_flagged=include_flagged,
                commune_codes=commune_codes,
                on_head=on_head,
            )
    head["submitted_at"] = pd.to_datetime(head["submitted_at"], format="ISO8601")
    head["survey_version"] = head["survey_version"].astype("int64")
    for column in ("module", "flags"):  # none: the empty string, as the export writes it
        head[column] = head[column].cat.add_categories([""]).fillna("") if len(head) else head[column]
    if on_head is not None:
        on_head(len(head))
    answers = _read(
        answer_query,
        dtypes={
            "response_id": pd.CategoricalDtype(pd.Index(head["response_id"])),
            "question_id": pd.CategoricalDtype(question_ids),
            "value": "category",
        },
    )
    answers = answers[answers["response_id"].notna()].reset_index(drop=True)  # stored after ``head`` was read
    answers["position"] = answers["position"].astype("int64")
    excluded = 0
    if not include_flagged:
        with _connection() as conn:
            excluded = int(conn.scalar(sa.select(sa.func.count()).select_from(Response).where(clause, flagged)) or 0)
    return head, answers, excluded


def response_keys() -> dict[object, str]:
    """``response_id`` key of the frames -> the stored response id as 32 hex digits (for checks)."""
    with _connection() as conn:
        rows = conn.execute(sa.select(_response_key(), sa.cast(Response.id, sa.String))).all()
    return {key: str(uid).replace("-", "") for key, uid in rows}


def margins_frame(commune_codes: list[str] | None = None) -> pd.DataFrame:
    """Population margins: commune, variable, category, population (empty when none loaded)."""
    query = sa.select(
        PopulationMargin.commune_code.label("commune"),
        PopulationMargin.variable,
        PopulationMargin.category,
        PopulationMargin.population,
    ).order_by(PopulationMargin.commune_code, PopulationMargin.variable, PopulationMargin.category)
    if commune_codes is not None:
        query = query.where(PopulationMargin.commune_code.in_(sorted(commune_codes)))
    with _connection() as conn:
        frame = pd.DataFrame(conn.execute(query).all(), columns=["commune", "variable", "category", "population"])
    frame["population"] = frame["population"].astype(float)
    return frame


def communes_frame(province_code: str | None = None) -> pd.DataFrame:
    """Commune codes, names and division types (``xã``, ``phường`` …; of one province when given), by code."""
    query = sa.select(
        Commune.code.label("commune_code"), Commune.name.label("commune_name"), Commune.division_type
    ).order_by(Commune.code)
    if province_code is not None:
        query = query.where(Commune.province_code == province_code)
    with _connection() as conn:
        return pd.DataFrame(conn.execute(query).all(), columns=["commune_code", "commune_name", "division_type"])


@dataclass(frozen=True)
class AnalysisInput:
    """Everything ``analysis.score_communes`` needs for one period, read in a few queries."""

    scores: pd.DataFrame
    respondents: pd.DataFrame
    margins: pd.DataFrame | None
    communes: pd.DataFrame
    date_from: date | None = None
    date_to: date | None = None
    include_flagged: bool = False

    @property
    def wards(self) -> list[str]:
        """Codes of the wards (phường) among the communes: a covariate of the small-area model."""
        return self.communes.loc[self.communes["division_type"] == WARD, "commune_code"].tolist()

    @property
    def flagged(self) -> int:
        """Low-quality responses in the period (left out of the scores unless included)."""
        return int(self.respondents["flagged"].sum())


@one_snapshot()
def load_analysis_input(
    date_from: date | None = None,
    date_to: date | None = None,
    *,
    province_code: str | None = None,
    commune_codes: list[str] | None = None,
    include_flagged: bool = False,
) -> AnalysisInput:
    """Read the scored answers, respondent block, margins and communes of a period, all as the
    database was at one moment (:func:`one_snapshot`)."""
    if province_code is not None and commune_codes is None:
        # A province's scores rest on its own communes only: no other province's responses in
        # its table, its small-area model or its roll-up (feedback.auth.staff_province).
        commune_codes = communes_frame(province_code)["commune_code"].tolist()
    respondents = respondents_frame(date_from, date_to, commune_codes)
    if not _EXACT_KEYS.get() and not respondents["response_id"].is_unique:  # a 64-bit hash shared: exact keys
        with _exact_keys():
            return load_analysis_input(
                date_from,
                date_to,
                province_code=province_code,
                commune_codes=commune_codes,
                include_flagged=include_flagged,
            )
    scores = scores_frame(
        date_from,
        date_to,
        commune_codes,
        include_flagged=include_flagged,
        response_ids=pd.Index(respondents["response_id"]),
    )
    communes = communes_frame(province_code)
    if commune_codes is not None:
        communes = communes[communes["commune_code"].isin(commune_codes)].reset_index(drop=True)
    margins = margins_frame(commune_codes)
    return AnalysisInput(
        scores=scores,
        respondents=respondents,
        margins=margins if len(margins) else None,
        communes=communes,
        date_from=date_from,
        date_to=date_to,
        include_flagged=include_flagged,
    )
