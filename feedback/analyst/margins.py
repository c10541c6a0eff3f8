"""Population margins (sex, age band, ethnic group per commune): CSV validation and upsert."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from surveys import RESPONDENT_IDS, catalog

from ..extensions import db
from ..models import Commune, PopulationMargin

__all__ = ["MARGIN_COLUMNS", "MarginRow", "margin_categories", "parse_margins", "import_margins"]

MARGIN_COLUMNS = ("commune_code", "variable", "category", "population")
MAX_REPORTED_ERRORS = 20


@dataclass(frozen=True)
class MarginRow:
    """One validated line of a margins file."""

    line: int
    commune_code: str
    variable: str
    category: str
    population: int


def margin_categories() -> dict[str, tuple[str, ...]]:
    """Allowed categories per raking variable, as the surveys' respondent block defines them."""
    allowed: dict[str, tuple[str, ...]] = {}
    for survey in catalog().all_current():
        for qid in RESPONDENT_IDS:
            question = survey.question(qid)
            if question is not None and qid not in allowed:
                allowed[qid] = question.option_values
    return allowed


def parse_margins(lines: Iterable[str], known_communes: set[str]) -> list[MarginRow]:
    """Validate CSV text; raise ValueError listing each bad line by its number (header = line 1)."""
    reader = csv.DictReader(lines)
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in MARGIN_COLUMNS if c not in header]
    if missing:
        raise ValueError(
            f"line 1: the header lacks column(s) {', '.join(missing)}; expected {', '.join(MARGIN_COLUMNS)}"
        )
    reader.fieldnames = header
    allowed = margin_categories()
    rows: list[MarginRow] = []
    errors: list[str] = []
    seen: dict[tuple[str, str, str], int] = {}
    for raw in reader:
        line = reader.line_num
        values = {c: (raw.get(c) or "").strip() for c in MARGIN_COLUMNS}
        code, variable, category = values["commune_code"], values["variable"], values["category"]
        problems = []
        if code.isdigit() and len(code) < 5:
            code = code.zfill(5)  # spreadsheets drop leading zeros
        if code not in known_communes:
            problems.append(f"unknown commune code {values['commune_code']!r} (load-units first?)")
        if variable not in allowed:
            problems.append(f"variable {variable!r} is not one of {', '.join(RESPONDENT_IDS)}")
        elif category not in allowed[variable]:
            problems.append(f"category {category!r} is not a {variable} category ({', '.join(allowed[variable])})")
        text = values["population"].replace(" ", "")
        try:
            population = int(float(text)) if text and float(text).is_integer() else None
        except ValueError:
            population = None
        if population is None or population < 0:
            problems.append(f"population {values['population']!r} is not a whole number ≥ 0")
        key = (code, variable, category)
        if not problems and key in seen:
            problems.append(f"repeats line {seen[key]} ({code}, {variable}, {category})")
        if problems:
            errors.append(f"line {line}: " + "; ".join(problems))
            continue
        seen[key] = line
        rows.append(MarginRow(line, code, variable, category, population))
    if errors:
        more = len(errors) - MAX_REPORTED_ERRORS
        raise ValueError("\n".join(errors[:MAX_REPORTED_ERRORS] + ([f"… and {more} more"] if more > 0 else [])))
    return rows


def import_margins(text: str) -> tuple[int, int, int]:
    """Upsert margins from CSV text (not committed); returns (inserted, updated, unchanged)."""
    known = set(db.session.scalars(sa.select(Commune.code)))
    rows = parse_margins(io.StringIO(text.lstrip("\ufeff")), known)
    existing = {
        (m.commune_code, m.variable, m.category): m
        for m in db.session.scalars(
            sa.select(PopulationMargin).where(PopulationMargin.commune_code.in_(sorted({r.commune_code for r in rows})))
        )
    }
    inserted = updated = unchanged = 0
    for row in rows:
        current = existing.get((row.commune_code, row.variable, row.category))
        if current is None:
            db.session.add(
                PopulationMargin(
                    commune_code=row.commune_code,
                    variable=row.variable,
                    category=row.category,
                    population=row.population,
                )
            )
            inserted += 1
        elif current.population != row.population:
            current.population = row.population
            updated += 1
        else:
            unchanged += 1
    db.session.flush()
    return inserted, updated, unchanged
