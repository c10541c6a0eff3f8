"""Validation and integer encoding of the input tables (private to the package)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from analysis.structures import STRUCTURES, Structure

__all__ = [
    "CATEGORIES",
    "RAKING_VARIABLES",
    "Prepared",
    "check_commune_codes",
    "prepare",
    "respondent_subvalues",
]

RAKING_VARIABLES: tuple[str, ...] = ("sex", "age_band", "ethnic_group")

#: Categories of the respondent block in survey order (used to break ties).
CATEGORIES: dict[str, tuple[str, ...]] = {
    "sex": ("female", "male"),
    "age_band": ("18-29", "30-44", "45-59", "60+"),
    "ethnic_group": ("kinh", "hmong", "tay", "dao", "giay", "nung", "thai", "other"),
}

_COMMUNE_CODE = re.compile(r"\d{5}")
_ALL_SUBDIMENSIONS = frozenset(s for st in STRUCTURES.values() for s in st.subdimensions)


@dataclass(frozen=True)
class Prepared:
    """Inputs reduced to integer codes.

    ``communes`` lists commune codes (sorted); per respondent ``commune`` indexes it and
    ``categories[v]`` holds the category code of raking variable v (-1 when missing).
    Per kept answer: ``respondent`` (row of the respondents table), ``subdimension``
    (position in ``structure.subdimensions``) and ``score``.
    """

    structure: Structure
    communes: tuple[str, ...]
    response_ids: pd.Series
    commune: npt.NDArray[np.intp]
    categories: dict[str, npt.NDArray[np.int8]]
    respondent: npt.NDArray[np.intp]
    subdimension: npt.NDArray[np.intp]
    score: npt.NDArray[np.float64]
    excluded: int


def _require(frame: object, name: str, columns: Iterable[str]) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {', '.join(missing)}")
    return frame


def check_commune_codes(codes: Iterable[object], where: str) -> None:
    """Raise ValueError unless every code is a 5-digit string."""
    bad = [c for c in codes if not (isinstance(c, str) and _COMMUNE_CODE.fullmatch(c))]
    if bad:
        raise ValueError(
            f"{where}: commune codes must be 5-digit strings such as '02647'; got {bad[:5]}"
        )


def _codes(values: pd.Series) -> tuple[npt.NDArray[np.intp], pd.Index]:
    """Factorize, reusing a categorical's codes when the column already is one."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(dtype=np.intp), pd.Index(values.cat.categories)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes.astype(np.intp, copy=False), pd.Index(uniques)


def _category_codes(respondents: pd.DataFrame, variable: str) -> npt.NDArray[np.int8]:
    levels = CATEGORIES[variable]
    if variable not in respondents.columns:
        return np.full(len(respondents), -1, dtype=np.int8)
    codes, uniques = _codes(respondents[variable])
    known = pd.Index(levels).get_indexer(uniques)
    unknown = [u for u, k in zip(uniques, known, strict=True) if k < 0 and not pd.isna(u)]
    if unknown:
        raise ValueError(
            f"respondents.{variable} has value(s) {unknown[:5]}; "
            f"allowed: {', '.join(levels)} or missing"
        )
    mapped = np.append(known, -1)[codes]  # code -1 (missing) picks the appended -1
    return mapped.astype(np.int8)


def prepare(
    scores: pd.DataFrame,
    respondents: pd.DataFrame,
    *,
    structure: Structure,
    excluded: int | None = None,
    include_flagged: bool = False,
    communes: Iterable[str] | None = None,
) -> Prepared:
    """Validate the inputs and encode them as integer arrays."""
    _require(scores, "scores", ("response_id", "subdimension", "score"))
    _require(respondents, "respondents", ("response_id", "commune"))
    if excluded is not None and (int(excluded) != excluded or excluded < 0):
        raise ValueError(f"excluded must be a non-negative count, got {excluded!r}")
    ids = respondents["response_id"]
    if ids.isna().any():
        raise ValueError("respondents.response_id has missing values")
    index = pd.Index(ids)  # its hash table serves both checks and the lookup below
    if not index.is_unique:
        dup = ids[ids.duplicated()].iloc[:3].tolist()
        raise ValueError(f"respondents.response_id must be unique; repeated: {dup}")

    commune_codes, commune_uniques = _codes(respondents["commune"])
    if (commune_codes < 0).any():
        raise ValueError("respondents.commune has missing values")
    check_commune_codes(commune_uniques, "respondents.commune")
    extra = list(communes) if communes is not None else []
    check_commune_codes(extra, "communes")
    commune_list = tuple(sorted(set(commune_uniques) | set(extra)))
    commune = pd.Index(commune_list).get_indexer(commune_uniques)[commune_codes]

    n_excluded = int(excluded or 0)
    keep_respondent = np.ones(len(respondents), dtype=bool)
    if "flagged" in respondents.columns:
        flagged = respondents["flagged"]
        if flagged.isna().any():
            raise ValueError("respondents.flagged must be True or False, not missing")
        flagged = flagged.to_numpy(dtype=bool)
        if not include_flagged:
            keep_respondent = ~flagged
            n_excluded += int(flagged.sum())

    # Map each answer to its respondent's row; categoricals skip hashing every string.
    answer_ids = scores["response_id"]
    if isinstance(answer_ids.dtype, pd.CategoricalDtype):
        lookup = np.append(index.get_indexer(answer_ids.cat.categories), -1)
        respondent = lookup[answer_ids.cat.codes.to_numpy(dtype=np.intp)]
    else:
        respondent = index.get_indexer(answer_ids)
    unknown = respondent < 0
    if unknown.any():
        examples = answer_ids[unknown].astype(str).unique()[:3].tolist()
        raise ValueError(
            f"{int(unknown.sum())} scored answer(s) belong to response_id(s) missing from "
            f"respondents, e.g. {examples}"
        )

    value = scores["score"].to_numpy(dtype=float, na_value=np.nan)
    answered = ~np.isnan(value)
    if answered.any() and (value[answered].min() < 0 or value[answered].max() > 1):
        raise ValueError("scores.score must lie in [0, 1] (missing answers as NaN)")

    sub_codes, sub_uniques = _codes(scores["subdimension"])
    if (sub_codes < 0).any():
        raise ValueError("scores.subdimension has missing values")
    unknown_subs = sorted(set(map(str, sub_uniques)) - _ALL_SUBDIMENSIONS)
    if unknown_subs:
        raise ValueError(
            f"scores.subdimension has code(s) {unknown_subs[:5]} that are not PAPI "
            "sub-dimensions (expected codes like '6.1')"
        )
    # Codes valid in another structure only (e.g. 5.2 under "current") get -1: dropped.
    position = pd.Index(structure.subdimensions).get_indexer(sub_uniques.astype(str))
    subdimension = position[sub_codes]

    keep = answered & (subdimension >= 0) & keep_respondent[respondent]
    return Prepared(
        structure=structure,
        communes=commune_list,
        response_ids=ids,
        commune=commune.astype(np.intp, copy=False),
        categories={v: _category_codes(respondents, v) for v in RAKING_VARIABLES},
        respondent=respondent[keep].astype(np.intp, copy=False),
        subdimension=subdimension[keep].astype(np.intp, copy=False),
        score=value[keep],
        excluded=n_excluded,
    )


def respondent_subvalues(
    prepared: Prepared,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    """Mean of each respondent's items per sub-dimension.

    Returns (respondent, sub-dimension, value) arrays sorted by sub-dimension, then
    respondent. Sorting by the small sub-dimension code and counting per respondent
    with ``bincount`` avoids a hash group-by over millions of answers.
    """
    n_resp = len(prepared.commune)
    n_sub = len(prepared.structure.subdimensions)
    # A stable sort of a uint8 array is a radix sort: linear time.
    order = np.argsort(prepared.subdimension.astype(np.uint8), kind="stable")
    bounds = np.concatenate(
        [[0], np.cumsum(np.bincount(prepared.subdimension, minlength=n_sub))]
    )
    resp_sorted = prepared.respondent[order]
    score_sorted = prepared.score[order]
    del order
    out_resp, out_sub, out_value = [], [], []
    for s in range(n_sub):
        lo, hi = bounds[s], bounds[s + 1]
        if lo == hi:
            continue
        r = resp_sorted[lo:hi]
        count = np.bincount(r, minlength=n_resp)
        total = np.bincount(r, weights=score_sorted[lo:hi], minlength=n_resp)
        who = np.flatnonzero(count)
        out_resp.append(who)
        out_sub.append(np.full(len(who), s, dtype=np.intp))
        out_value.append(total[who] / count[who])
    if not out_resp:
        return np.empty(0, np.intp), np.empty(0, np.intp), np.empty(0)
    return np.concatenate(out_resp), np.concatenate(out_sub), np.concatenate(out_value)
