"""The score export: commune (or province) score tables, their README, and their files."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from analysis import commune_population, get_structure, load_official_scores, rollup_province, score_communes

from ..bridge import AnalysisInput, load_analysis_input
from .labels import (
    COLUMN_LABELS,
    FLAG_MEANINGS,
    FLAG_SUFFIX_MEANINGS,
    METHOD_SUMMARY,
    READING_NOTES,
    REFERENCES,
    flag_meaning,
    period_text,
)
from .suppression import MIN_PUBLIC_N, suppress_small_cells
from .writers import Progress, write_csv, write_dta, write_json, write_parquet, write_xlsx

__all__ = [
    "CONTRACT_COLUMNS",
    "PROVINCE_EXTRA",
    "SCORE_FORMATS",
    "ScoreExport",
    "build_score_export",
    "commune_scores",
    "province_scores",
    "score_bytes",
    "score_records",
    "write_score_export",
]

SCORE_FORMATS = ("csv", "xlsx", "json", "dta", "parquet")

#: The columns every score export starts with, in this order (contract of issues #4 and #11:
#: the columns of #4 keep their order; those of #11 stand next to their kin).
CONTRACT_COLUMNS: tuple[str, ...] = (
    "commune_code",
    "commune_name",
    "level",
    "code",
    "n",
    "n_eff",
    "p",
    "se",
    "score",
    "ci_low",
    "ci_high",
    "se_p",
    "p_eb",
    "mse_eb",
    "score_eb",
    "se_eb",
    "ci_low_eb",
    "ci_high_eb",
    "group",
    "rank",
    "rank_low",
    "rank_high",
    "flags",
)
#: Extra columns of the province roll-up, after the contract columns.
PROVINCE_EXTRA: tuple[str, ...] = ("n_communes", "baseline_2018", "target_2019", "official", "gap_to_target")
DEFAULT_OFFICIAL = Path(__file__).resolve().parent.parent / "data" / "papi_official_lao_cai.csv"
PROVINCE_NAME = {"15": "Lào Cai"}


@dataclass(frozen=True)
class ScoreExport:
    """A score table with what its README needs: period, structure, level, exclusions."""

    table: pd.DataFrame
    level: str
    structure: str
    date_from: date | None
    date_to: date | None
    excluded: int
    public: bool = False
    #: A published period's snapshot (``feedback.published.describe``): id, revision, note,
    #: cut-off, method version, checksum. None for live data.
    published: dict[str, Any] | None = None

    def meta(self) -> dict[str, Any]:
        """What the table is, for the JSON envelope and the README sheet."""
        return {
            "proxy": "PAPI-style proxy, not official PAPI scores",
            "level": self.level,
            "structure": self.structure,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "excluded_low_quality": self.excluded,
            "public": self.public,
            "min_public_n": MIN_PUBLIC_N if self.public else None,
            **({"published": self.published} if self.published else {}),
        }


def commune_scores(data: AnalysisInput, *, structure: str = "current") -> pd.DataFrame:
    """Per commune × code scores of the contract, commune names included, every commune listed."""
    table = score_communes(
        data.scores,
        data.respondents,
        margins=data.margins,
        structure=structure,
        include_flagged=data.include_flagged,
        communes=list(data.communes["commune_code"]),
        wards=data.wards,
    )
    names = dict(zip(data.communes["commune_code"], data.communes["commune_name"], strict=False))
    out = table.rename(columns={"commune": "commune_code"})
    out.insert(1, "commune_name", out["commune_code"].map(names).fillna(""))
    out = out[list(CONTRACT_COLUMNS) + [c for c in out.columns if c not in CONTRACT_COLUMNS]]
    out.attrs = dict(table.attrs)
    return out


def _official(structure: str) -> tuple[pd.DataFrame | None, int | None]:
    """Official Lào Cai scores, when the shared data file is reachable."""
    from flask import current_app, has_app_context

    path = (
        Path(current_app.config.get("PAPI_OFFICIAL_CSV", DEFAULT_OFFICIAL)) if has_app_context() else DEFAULT_OFFICIAL
    )
    if not path.exists():
        return None, None
    official = load_official_scores(path)
    # The plan's baseline is 2018, in the 2018 structure; otherwise the latest year.
    year = 2018 if structure == "2018" and (official["year"] == 2018).any() else None
    return official, year


def province_scores(table: pd.DataFrame, data: AnalysisInput, *, province_code: str = "15") -> pd.DataFrame:
    """The province roll-up of commune scores beside plan 170 targets and official PAPI values.

    Communes are weighted by population when every commune with data has margins, else by n.
    """
    sub = table.rename(columns={"commune_code": "commune"})
    population = None
    if data.margins is not None:
        totals = commune_population(data.margins)
        with_data = set(sub.loc[sub["p"].notna(), "commune"])
        if with_data <= set(totals.index):
            population = totals
    st = get_structure(table.attrs.get("structure", "current"))
    official, year = _official(st.name)
    roll = rollup_province(sub, population=population, official=official, official_year=year)
    # The roll-up's SE is on the PAPI scale; a sub-dimension's score is 1/k + 9p/k.
    k = [
        st.k(st.dimension_of(c)) if lv == "subdimension" else np.nan
        for lv, c in zip(roll["level"], roll["code"], strict=False)
    ]
    nothing = np.full(len(roll), np.nan)
    no_rank = pd.array([pd.NA] * len(roll), dtype="Int64")
    out = pd.DataFrame(
        {
            "commune_code": province_code,
            "commune_name": PROVINCE_NAME.get(province_code, province_code),
            "level": roll["level"],
            "code": roll["code"],
            "n": roll["n"].astype("Int64"),
            "n_eff": np.nan,
            "p": roll["p"],
            "se": roll["se"],
            "score": roll["score"],
            "ci_low": roll["ci_low"],
            "ci_high": roll["ci_high"],
            "se_p": roll["se"].to_numpy(dtype=float) * np.array(k, dtype=float) / 9.0,
            **{c: nothing for c in ("p_eb", "mse_eb", "score_eb", "se_eb", "ci_low_eb", "ci_high_eb")},
            "group": "",
            **{c: no_rank for c in ("rank", "rank_low", "rank_high")},
            "flags": np.where(roll["score"].isna(), np.where(roll["n"] == 0, "empty", "incomplete"), "")
            + np.where(population is None, ";weighted_by_n", ""),
            **{c: roll[c] for c in PROVINCE_EXTRA},
        }
    )
    out["flags"] = out["flags"].str.strip(";")
    out.attrs = dict(
        table.attrs, official_year=roll.attrs.get("official_year"), population_weighted=population is not None
    )
    return out


def build_score_export(
    date_from: date | None = None,
    date_to: date | None = None,
    *,
    level: str = "commune",
    structure: str = "current",
    public: bool = False,
    province_code: str = "15",
    commune_codes: list[str] | None = None,
) -> ScoreExport:
    """Read the period, score it, optionally roll it up and suppress small cells."""
    if level not in ("commune", "province"):
        raise ValueError(f"level must be commune or province, not {level!r}")
    get_structure(structure)
    data = load_analysis_input(date_from, date_to, province_code=province_code, commune_codes=commune_codes)
    table = commune_scores(data, structure=structure)
    if level == "province":
        # A public roll-up rests on the published cells only: with a hidden commune cell in
        # it, the province value minus the published ones would give the hidden one back.
        table = province_scores(suppress_small_cells(table) if public else table, data, province_code=province_code)
    if public:
        table = suppress_small_cells(table)
    return ScoreExport(
        table=table,
        level=level,
        structure=structure,
        date_from=date_from,
        date_to=date_to,
        excluded=int(table.attrs.get("excluded", 0)),
        public=public,
    )


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (NaN and NA as null)."""
    return json.loads(table.to_json(orient="records", double_precision=10, force_ascii=False))


def column_labels(table: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """(Vietnamese, English) label of each column of ``table``; the official PAPI score names its
    year (``attrs["official_year"]``, the latest in the official data file), never plan 170's."""
    labels = {c: COLUMN_LABELS[c] for c in table.columns}
    year = table.attrs.get("official_year")
    if "official" in labels and year is not None:
        vi, en = labels["official"]
        labels["official"] = (f"{vi}, năm {int(year)}", f"{en}, {int(year)}")
    return labels


def score_records(export: ScoreExport) -> dict[str, Any]:
    """The JSON document of a score export: ``meta`` and ``rows``."""
    period_vi, period_en = period_text(export.date_from, export.date_to)
    meta = {
        **export.meta(),
        "period": period_en,
        "period_vi": period_vi,
        "column_labels": {c: {"vi": vi, "en": en} for c, (vi, en) in column_labels(export.table).items()},
    }
    return {"meta": meta, "rows": _records(export.table)}


def _readme_rows(export: ScoreExport) -> list[list[Any]]:
    rows: list[list[Any]] = [
        [
            "Điểm mô phỏng PAPI (PAPI-style proxy) — không phải điểm PAPI chính thức",
            "PAPI-style proxy, not official PAPI scores",
        ],
        [],
        [
            "Thời kỳ / Period",
            "{} / {} (ngày nộp, giờ Việt Nam / submission date, Viet Nam time)".format(
                *period_text(export.date_from, export.date_to)
            ),
        ],
        ["Cấp / Level", export.level],
        ["Cấu trúc PAPI / PAPI structure", export.structure],
        ["Phiếu chất lượng thấp bị loại / Low-quality responses excluded", export.excluded],
    ]
    if export.published:
        snap = export.published
        rows += [
            [
                "Bản đã công bố / Published snapshot",
                f"số {snap['id']}, lần sửa {snap['revision']} / no. {snap['id']}, revision {snap['revision']}",
            ],
            ["Công bố lúc / Published at (UTC)", snap["published_at"]],
            ["Dữ liệu nhận đến / Data received up to (UTC)", snap["cutoff_at"]],
            ["Phiên bản phương pháp / Method version", snap["method_version"]],
            ["Mã kiểm tra SHA-256 / SHA-256 checksum", snap["checksum_sha256"]],
        ]
        if snap.get("note"):
            rows.append(["Thay đổi / What changed", snap["note"]])
    if export.public:
        rows.append(
            [
                "Bản công khai / Public output",
                f"ẩn ô dưới {MIN_PUBLIC_N} người trả lời / cells on fewer than {MIN_PUBLIC_N} respondents hidden",
            ]
        )
    rows += [[], ["Đọc tệp", "Reading the file"], *[list(r) for r in READING_NOTES]]
    rows += [
        [],
        ["Phương pháp", "Method"],
        *[list(r) for r in METHOD_SUMMARY],
        [],
        ["Cột / Column", "Ý nghĩa", "Meaning"],
    ]
    rows += [[c, *labels] for c, labels in column_labels(export.table).items()]
    rows += [[], ["Cờ / Flag", "Ý nghĩa", "Meaning"]]
    for base, meaning in FLAG_MEANINGS.items():
        rows.append([base, *meaning])
        for suffix in FLAG_SUFFIX_MEANINGS.get(base, {}):
            code = f"{base}:{suffix}"
            rows.append([code, flag_meaning(code, "vi"), flag_meaning(code, "en")])
    rows += [
        [
            "",
            "Ở dòng lĩnh vực và tổng hợp, cờ về trọng số hay độ tin cậy nghĩa là ít nhất một phần mang cờ đó.",
            "On dimension and aggregate rows, a weighting or reliability flag means at least one part has it.",
        ]
    ]
    rows += [[], ["Tài liệu tham khảo / References"], *[[r] for r in REFERENCES]]
    return rows


def write_score_file(export: ScoreExport, out: BinaryIO, fmt: str, *, progress: Progress = None) -> None:
    """Write a built score export to ``out`` in ``fmt`` (one of :data:`SCORE_FORMATS`).

    Raises
    ------
    ValueError
        For an unknown format.
    """
    table = export.table
    if fmt == "csv":
        write_csv(table, out, progress=progress)
    elif fmt == "json":
        write_json(score_records(export), out, rows=len(table), progress=progress)
    elif fmt == "xlsx":
        write_xlsx([("scores", table), ("README", _readme_rows(export))], out, progress=progress)
    elif fmt == "dta":
        labels = {c: en for c, (_, en) in column_labels(table).items()}
        title = f"PAPI-style proxy scores (not official), {period_text(export.date_from, export.date_to)[1]}"
        write_dta(table, out, labels=labels, title=title, progress=progress)
    elif fmt == "parquet":
        meta = {f"feedback.{k}": json.dumps(v, ensure_ascii=False) for k, v in export.meta().items()}
        meta["feedback.period"] = json.dumps(period_text(export.date_from, export.date_to)[1])
        meta["feedback.column_labels"] = json.dumps({c: COLUMN_LABELS[c] for c in table.columns}, ensure_ascii=False)
        write_parquet(table, out, progress=progress, metadata=meta)
    else:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(SCORE_FORMATS)}")


def score_bytes(export: ScoreExport, fmt: str) -> bytes:
    """The score export in ``fmt`` (csv, xlsx, json, dta or parquet) as bytes."""
    buffer = io.BytesIO()
    write_score_file(export, buffer, fmt)
    return buffer.getvalue()


def write_score_export(
    out: BinaryIO,
    fmt: str,
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    level: str = "commune",
    structure: str = "current",
    public: bool = False,
    province_code: str = "15",
    progress: Progress = None,
) -> dict[str, Any]:
    """Read, score and write the score export of a period to ``out``; what the job runner and CLI call.

    ``progress(rows_done, rows_total)`` counts table rows written, last with done == total.
    Returns the export's meta (:meth:`ScoreExport.meta`) plus ``rows``.

    Raises
    ------
    ValueError
        For an unknown format, level or structure, or a period that ends before it starts.
    """
    if fmt not in SCORE_FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(SCORE_FORMATS)}")
    export = build_score_export(
        date_from, date_to, level=level, structure=structure, public=public, province_code=province_code
    )
    write_score_file(export, out, fmt, progress=progress)
    return {**export.meta(), "rows": len(export.table)}
