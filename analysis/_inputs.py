"""Validation and integer encoding of the input tables (private to the package)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
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
    "subvalue_blocks",
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
    Per kept answer, grouped by sub-dimension (answers of sub-dimension s, in their input
    order, are rows ``bounds[s]:bounds[s + 1]``): ``respondent`` (row of the respondents
    table) and ``score``.
    """

    structure: Structure
    communes: tuple[str, ...]
    response_ids: pd.Series
    commune: npt.NDArray[np.intp]
    categories: dict[str, npt.NDArray[np.int8]]
    respondent: npt.NDArray[np.signedinteger]
    bounds: npt.NDArray[np.intp]
    score: npt.NDArray[np.float64]
    excluded: int

    @property
    def subdimension(self) -> npt.NDArray[np.intp]:
        """Each kept answer's sub-dimension (position in ``structure.subdimensions``)."""
        return np.repeat(np.arange(len(self.bounds) - 1), np.diff(self.bounds))


#: Answers handled per chunk while encoding (bounds the temporaries at national scale).
CHUNK = 1 << 20


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
        raise ValueError(f"{where}: commune codes must be 5-digit strings such as '02647'; got {bad[:5]}")


def _codes(values: pd.Series) -> tuple[npt.NDArray[np.intp], pd.Index]:
    """Factorize, reusing a categorical's codes when the column already is one."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return np.asarray(values.cat.codes, dtype=np.intp), pd.Index(values.cat.categories)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return np.asarray(codes, dtype=np.intp), pd.Index(uniques)


def _category_codes(respondents: pd.DataFrame, variable: str) -> npt.NDArray[np.int8]:
    levels = CATEGORIES[variable]
    if variable not in respondents.columns:
        return np.full(len(respondents), -1, dtype=np.int8)
    codes, uniques = _codes(respondents[variable])
    known = pd.Index(levels).get_indexer(uniques)
    unknown = [u for u, k in zip(uniques, known, strict=True) if k < 0 and not pd.isna(u)]
    if unknown:
        raise ValueError(f"respondents.{variable} has value(s) {unknown[:5]}; allowed: {', '.join(levels)} or missing")
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
        flagged_rows = flagged.to_numpy(dtype=bool)
        if not include_flagged:
            keep_respondent = ~flagged_rows
            n_excluded += int(flagged_rows.sum())

    # Map each answer to its respondent's row; categoricals skip hashing every string.
    answer_ids = scores["response_id"]
    small = np.int32 if len(respondents) < 2**31 - 1 else np.intp
    id_codes: npt.NDArray[np.integer]
    if isinstance(answer_ids.dtype, pd.CategoricalDtype):
        id_codes = answer_ids.cat.codes.to_numpy()  # its own small integer type, no copy
        id_uniques = answer_ids.cat.categories
    else:
        # Factorizing first hashes each distinct id once and never builds one Python
        # string per answer (get_indexer on 10 M Arrow strings: 0.8 GB, seconds).
        id_codes, id_uniques = pd.factorize(answer_ids, use_na_sentinel=True)
    lookup: npt.NDArray[np.integer] = np.append(index.get_indexer(id_uniques), -1).astype(small)
    if id_codes.dtype.itemsize > lookup.dtype.itemsize:  # int64 codes: keep the smaller rows
        id_codes, lookup = lookup[id_codes], np.arange(len(index) + 1, dtype=small)
        lookup[-1] = -1

    def respondent_of(lo: int, hi: int) -> npt.NDArray[np.integer]:
        return lookup[id_codes[lo:hi]]

    column = scores["score"]
    if column.dtype == np.float64:
        value = column.to_numpy()  # a view: NaN already marks a missing score
    else:
        value = column.to_numpy(dtype=float, na_value=np.nan)

    subdimensions = scores["subdimension"]
    if isinstance(subdimensions.dtype, pd.CategoricalDtype):  # its small codes, no copy
        sub_codes = subdimensions.cat.codes.to_numpy()
        sub_uniques = pd.Index(subdimensions.cat.categories)
    else:
        sub_codes, sub_uniques = _codes(subdimensions)
    # Codes valid in another structure only (e.g. 5.2 under "current") get -1: dropped.
    position = pd.Index(structure.subdimensions).get_indexer(sub_uniques.astype(str))
    sub_of_code = np.append(position, -1).astype(np.int8)  # code -1 (missing) -> -1
    n_sub = len(structure.subdimensions)
    missing_sub = bool((sub_codes < 0).any())
    if sub_codes.dtype.itemsize > 1:  # factorized int64 codes: one byte per answer instead
        sub_codes, sub_of_code = sub_of_code[sub_codes], np.arange(-1, n_sub, dtype=np.int8)
        sub_of_code = np.roll(sub_of_code, -1)  # code c -> c, code -1 -> -1

    def chunk(lo: int, hi: int) -> tuple[npt.NDArray[np.integer], npt.NDArray[np.int8], npt.NDArray[np.bool_]]:
        """(respondent, sub-dimension, kept) of answers lo:hi."""
        resp = respondent_of(lo, hi)
        sub = sub_of_code[sub_codes[lo:hi]]
        kept = ~np.isnan(value[lo:hi]) & (sub >= 0)
        kept &= keep_respondent[resp]  # an unknown (-1) respondent is reported below
        return resp, sub, kept

    # First pass: checks, and how many kept answers each sub-dimension has.
    n_answers = len(value)
    n_unknown = 0
    per_sub = np.zeros(n_sub, dtype=np.intp)
    low, high = np.inf, -np.inf
    for lo in range(0, n_answers, CHUNK):
        hi = min(lo + CHUNK, n_answers)
        resp, sub, kept = chunk(lo, hi)
        n_unknown += int((resp < 0).sum())
        part = value[lo:hi]
        if not np.isnan(part).all():
            low, high = min(low, float(np.nanmin(part))), max(high, float(np.nanmax(part)))
        per_sub += np.bincount(sub[kept], minlength=n_sub)
    if n_unknown:
        unknown = np.concatenate(
            [respondent_of(lo, min(lo + CHUNK, n_answers)) < 0 for lo in range(0, n_answers, CHUNK)]
        )
        examples = answer_ids[unknown].astype(str).unique()[:3].tolist()
        raise ValueError(
            f"{n_unknown} scored answer(s) belong to response_id(s) missing from respondents, e.g. {examples}"
        )
    if low < 0 or high > 1:
        raise ValueError("scores.score must lie in [0, 1] (missing answers as NaN)")
    if missing_sub:
        raise ValueError("scores.subdimension has missing values")
    unknown_subs = sorted(set(map(str, sub_uniques)) - _ALL_SUBDIMENSIONS)
    if unknown_subs:
        raise ValueError(
            f"scores.subdimension has code(s) {unknown_subs[:5]} that are not PAPI "
            "sub-dimensions (expected codes like '6.1')"
        )

    # Second pass: the kept answers grouped by sub-dimension (a stable counting sort, one
    # chunk at a time, so no index array as long as the answers is ever built).
    bounds = np.concatenate([[0], np.cumsum(per_sub)]).astype(np.intp)
    respondent: npt.NDArray[np.signedinteger] = np.empty(int(bounds[-1]), dtype=small)
    score = np.empty(int(bounds[-1]))
    cursor = bounds[:-1].copy()
    for lo in range(0, n_answers, CHUNK):
        hi = min(lo + CHUNK, n_answers)
        resp, sub, kept = chunk(lo, hi)
        sub = sub[kept]
        order = np.argsort(sub.view(np.uint8), kind="stable")  # radix sort: linear
        resp, part = resp[kept][order], value[lo:hi][kept][order]
        counts = np.bincount(sub, minlength=n_sub)
        start = 0
        for s in np.flatnonzero(counts):
            end = start + counts[s]
            respondent[cursor[s] : cursor[s] + counts[s]] = resp[start:end]
            score[cursor[s] : cursor[s] + counts[s]] = part[start:end]
            cursor[s] += counts[s]
            start = end
    return Prepared(
        structure=structure,
        communes=commune_list,
        response_ids=ids,
        commune=commune.astype(np.intp, copy=False),
        categories={v: _category_codes(respondents, v) for v in RAKING_VARIABLES},
        respondent=respondent,
        bounds=bounds,
        score=score,
        excluded=n_excluded,
    )


def respondent_subvalues(
    prepared: Prepared,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    """Mean of each respondent's items per sub-dimension.

    Returns (respondent, sub-dimension, value) arrays sorted by sub-dimension, then
    respondent (the blocks of :func:`subvalue_blocks`, joined).
    """
    blocks = list(subvalue_blocks(prepared))
    if not blocks:
        return np.empty(0, np.intp), np.empty(0, np.intp), np.empty(0)
    return (
        np.concatenate([who for _, who, _ in blocks]).astype(np.intp),
        np.concatenate([np.full(len(who), s, dtype=np.intp) for s, who, _ in blocks]),
        np.concatenate([value for _, _, value in blocks]),
    )


def subvalue_blocks(
    prepared: Prepared,
) -> Iterator[tuple[int, npt.NDArray[np.integer], npt.NDArray[np.float64]]]:
    r"""Per sub-dimension s with answers: ``(s, respondents, values)``, respondents ascending.

    A respondent's value is the mean of their scored items of s,
    :math:`y_{is} = \sum_j x_{ijs} / n_{is}`, the items summed in input order. One
    sub-dimension at a time, so the (respondent × sub-dimension) table is never held whole.

    Notes
    -----
    When a sub-dimension's answers come grouped by respondent in ascending order (as
    when answers are read in response order), ``bincount`` runs over the run numbers,
    :math:`O(a_s)` for :math:`a_s` answers; otherwise over all R respondents,
    :math:`O(a_s + R)`. Both add each respondent's items one by one in input order, so
    they give the same values.
    """
    n_resp = len(prepared.commune)
    bounds = prepared.bounds
    for s in range(len(bounds) - 1):
        lo, hi = bounds[s], bounds[s + 1]
        if lo == hi:
            continue
        r = prepared.respondent[lo:hi]
        x = prepared.score[lo:hi]
        if np.all(r[1:] >= r[:-1]):
            new = np.empty(len(r), dtype=bool)
            new[0] = True
            np.not_equal(r[1:], r[:-1], out=new[1:])
            run = np.cumsum(new) - 1  # each answer's run (respondent) number
            count = np.bincount(run)
            total = np.bincount(run, weights=x)  # in input order, as below
            yield s, r[new], total / count
        else:
            count = np.bincount(r, minlength=n_resp)
            total = np.bincount(r, weights=x, minlength=n_resp)
            who = np.flatnonzero(count)
            yield s, who, total[who] / count[who]
