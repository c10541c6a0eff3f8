"""The one bridge from the database to ``analysis``: set-based reads into its DataFrames."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta

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
    "period_bounds",
    "period_clause",
    "respondents_frame",
    "response_keys",
    "scores_frame",
]

LOCAL_OFFSET = timedelta(hours=7)  # periods are Viet Nam calendar days; times are stored in UTC
# Flags about a response's times, not its answers: the answers still count in scores (the
# untrusted time was replaced by the receive time; docs/quality.md, "Times and clocks").
COUNTED_FLAGS = ("clock",)
CHUNK_ROWS = 500_000  # rows fetched per round trip (databases other than SQLite)
CHUNK_RESPONSES = 250_000  # SQLite: responses per delimited-text chunk


def period_bounds(date_from: date | None, date_to: date | None) -> tuple[datetime | None, datetime | None]:
    """Naive-UTC [start, end) of the Viet Nam days ``date_from``..``date_to`` (both inclusive)."""
    return day_bounds(date_from, date_to)


def period_clause(date_from: date | None = None, date_to: date | None = None,
                  commune_codes: list[str] | None = None) -> sa.ColumnElement[bool]:
    """WHERE clause on ``response``: submitted within the Viet Nam days, in the communes given.

    ``submitted_at`` decides the period: the server's receive time, or a client's time that
    the clock rule found plausible (feedback/times.py), never a time nobody can vouch for.
    """
    clauses = [day_clause(Response.submitted_at, date_from, date_to)]
    if commune_codes is not None:
        clauses.append(Response.commune_code.in_(sorted(commune_codes)))
    return sa.and_(*clauses)


def low_quality() -> sa.ColumnElement[bool]:
    """WHERE clause on ``response``: it carries a quality flag that leaves it out of scores.

    Every flag does but those in ``COUNTED_FLAGS``, which are cut out of the ``;``-joined list
    (delimited on both sides so that no flag matches inside another) before testing for a rest.
    """
    rest = sa.literal(";") + sa.func.coalesce(Response.flags, "") + sa.literal(";")
    for flag in COUNTED_FLAGS:
        rest = sa.func.replace(rest, f";{flag};", ";")
    return rest.not_in([";", ";;"])


def _sqlite() -> bool:
    return db.engine.dialect.name == "sqlite"


def _response_key() -> sa.ColumnElement:
    """The key joining answers to respondents: SQLite's integer rowid, else the id as text.

    An integer key spares creating and hashing millions of 32-character strings (one per
    scored answer); on other databases the id is read as text, never as ``uuid.UUID`` objects.
    """
    if _sqlite():
        return sa.literal_column("response.rowid", sa.Integer).label("response_id")
    return sa.cast(Response.id, sa.String).label("response_id")


def _read(query: sa.Select, *, dtypes: dict[str, object] | None = None) -> pd.DataFrame:
    """Run a Core select into a DataFrame; text columns become the given (categorical) dtypes."""
    dtypes = dtypes or {}
    columns = [c.name for c in query.selected_columns]
    frame = _read_sqlite_bulk(query, columns, dtypes) if _sqlite() else _read_rows(query, columns, dtypes)
    for name, dtype in dtypes.items():
        if frame[name].dtype != dtype:
            frame[name] = frame[name].astype(dtype)
    return frame


def _read_sqlite_bulk(query: sa.Select, columns: list[str], dtypes: dict[str, object]) -> pd.DataFrame:
    """SQLite: rows come back as delimited text built inside SQLite, parsed by pandas' C reader.

    Fetching millions of rows as Python tuples costs ~1.5 µs per value on the 2-core server;
    one string per chunk and ``read_csv`` cost a tenth of that (benchmarks/export_speed.py).
    Chunks are ranges of ``response.rowid`` (every query here reads ``response``), so the text
    and its parsed strings stay small; each chunk is made categorical before the next.
    Unit (0x1f) and record (0x1e) separators cannot occur in codes, option values or numbers.
    """
    rowid = sa.literal_column("response.rowid", sa.Integer)
    with db.engine.connect() as conn:
        low, high = conn.execute(sa.select(sa.func.min(rowid), sa.func.max(rowid)).select_from(Response)).one()
        parts = []
        for start in range(low or 0, (high or -1) + 1, CHUNK_RESPONSES):
            inner = query.where(rowid.between(start, start + CHUNK_RESPONSES - 1)).subquery("q")
            fields = [sa.func.coalesce(sa.cast(inner.c[name], sa.Text), "") for name in columns]
            row = fields[0]
            for f in fields[1:]:
                row = row.op("||")(sa.literal_column("char(31)")).op("||")(f)
            text = conn.scalar(sa.select(sa.func.group_concat(row, sa.literal_column("char(30)"))))
            if text:
                parts.append(_parse(text, columns, dtypes))
                del text
    return _concat(parts, columns, dtypes)


def _parse(text: str, columns: list[str], dtypes: dict[str, object]) -> pd.DataFrame:
    # Codes such as "02647" or "6.1" stay text (parsed as str, then categorical); keys with
    # given categories are parsed as numbers or text first and then mapped.
    parse = {name: (str if t == "category" else t) for name, t in dtypes.items()
             if not isinstance(t, pd.CategoricalDtype)}
    part = pd.read_csv(io.StringIO(text), sep="\x1f", lineterminator="\x1e", header=None, names=columns,
                       dtype=parse, keep_default_na=False, na_values={c: [""] for c in columns},
                       quoting=csv.QUOTE_NONE, engine="c")
    for name, dtype in dtypes.items():
        part[name] = part[name].astype(dtype)
    return part


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
    with db.engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=CHUNK_ROWS).execute(query)
        for rows in result.partitions(CHUNK_ROWS):
            part = pd.DataFrame.from_records(rows, columns=columns)
            for name, dtype in dtypes.items():
                part[name] = part[name].astype(dtype)
            parts.append(part)
    return _concat(parts, columns, dtypes)


def respondents_frame(date_from: date | None = None, date_to: date | None = None,
                      commune_codes: list[str] | None = None) -> pd.DataFrame:
    """One row per response in the period: response_id, commune, sex, age_band, ethnic_group, flagged.

    ``flagged`` is True when the response's quality flags leave it out of scores (every flag
    but ``COUNTED_FLAGS``; see docs/quality.md); the respondent block is pivoted from its
    answers (missing when skipped).
    """
    joins = {qid: aliased(Answer, name=f"rb_{qid}") for qid in RESPONDENT_IDS}
    query = sa.select(
        _response_key(),
        Response.commune_code.label("commune"),
        *(joins[qid].value.label(qid) for qid in RESPONDENT_IDS),
        low_quality().label("flagged"),
    ).select_from(Response)
    for qid, alias in joins.items():
        query = query.outerjoin(
            alias, sa.and_(alias.response_id == Response.id, alias.question_id == qid, alias.position == 0)
        )
    query = query.where(period_clause(date_from, date_to, commune_codes))
    frame = _read(query, dtypes={"commune": "category", **{q: "category" for q in RESPONDENT_IDS}})
    frame["flagged"] = frame["flagged"].astype(bool)
    return frame


def scores_frame(date_from: date | None = None, date_to: date | None = None,
                 commune_codes: list[str] | None = None, *, include_flagged: bool = False,
                 response_ids: pd.Index | None = None) -> pd.DataFrame:
    """One row per scored answer in the period: response_id, subdimension, score (0–1).

    Answers of flagged responses are left out unless ``include_flagged``. With
    ``response_ids`` (the respondents' ids), ``response_id`` becomes a categorical over
    exactly those ids, which ``analysis`` maps without hashing each answer's id.
    """
    query = (
        sa.select(_response_key(), Answer.subdimension, Answer.score)
        .join(Response, Response.id == Answer.response_id)
        .where(Answer.score.is_not(None), Answer.subdimension.is_not(None),
               period_clause(date_from, date_to, commune_codes))
    )
    if not include_flagged:
        query = query.where(~low_quality())
    dtypes: dict[str, object] = {"subdimension": "category"}
    if response_ids is not None:
        dtypes["response_id"] = pd.CategoricalDtype(response_ids)
    frame = _read(query, dtypes=dtypes)
    frame["score"] = frame["score"].astype(float)
    return frame


def response_keys() -> dict[object, str]:
    """``response_id`` key of the frames -> the stored response id as 32 hex digits (for checks)."""
    with db.engine.connect() as conn:
        rows = conn.execute(sa.select(_response_key(), sa.cast(Response.id, sa.String))).all()
    return {key: str(uid).replace("-", "") for key, uid in rows}


def margins_frame(commune_codes: list[str] | None = None) -> pd.DataFrame:
    """Population margins: commune, variable, category, population (empty when none loaded)."""
    query = sa.select(
        PopulationMargin.commune_code.label("commune"), PopulationMargin.variable,
        PopulationMargin.category, PopulationMargin.population,
    ).order_by(PopulationMargin.commune_code, PopulationMargin.variable, PopulationMargin.category)
    if commune_codes is not None:
        query = query.where(PopulationMargin.commune_code.in_(sorted(commune_codes)))
    with db.engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query).all(), columns=["commune", "variable", "category", "population"])
    frame["population"] = frame["population"].astype(float)
    return frame


def communes_frame(province_code: str | None = None) -> pd.DataFrame:
    """Commune codes, names and division types (``xã``, ``phường`` …; of one province when given), by code."""
    query = sa.select(Commune.code.label("commune_code"), Commune.name.label("commune_name"),
                      Commune.division_type).order_by(Commune.code)
    if province_code is not None:
        query = query.where(Commune.province_code == province_code)
    with db.engine.connect() as conn:
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


def load_analysis_input(date_from: date | None = None, date_to: date | None = None, *,
                        province_code: str | None = None, commune_codes: list[str] | None = None,
                        include_flagged: bool = False) -> AnalysisInput:
    """Read the scored answers, respondent block, margins and communes of a period."""
    respondents = respondents_frame(date_from, date_to, commune_codes)
    scores = scores_frame(date_from, date_to, commune_codes, include_flagged=include_flagged,
                          response_ids=pd.Index(respondents["response_id"]))
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
