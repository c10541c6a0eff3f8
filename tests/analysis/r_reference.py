"""The R oracle: R's ``survey`` and ``metafor`` run on the same data as ``analysis/``.

Each call writes its inputs as CSV to a temporary directory, runs ONE ``Rscript`` process on
``tests/analysis/r/reference.R`` and reads R's CSV output back; numbers travel as
``%.17g`` text, so results can be compared at 1e-10. R starts in about a second: batch many
communes into one :func:`survey_reference` call.

R (``r-base-core``, ``r-cran-survey``, ``r-cran-metafor``) is installed by ``make r``. Every
call first runs :func:`require_r`: without R the calling test is skipped locally and
FAILS under CI (environment variable ``CI`` set). Tests that use R carry the ``r`` marker.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

__all__ = [
    "RAKING_VARIABLES",
    "CATEGORIES",
    "RError",
    "changes_reference",
    "metafor_reference",
    "rates_reference",
    "r_missing",
    "require_r",
    "survey_reference",
]

SCRIPT = Path(__file__).resolve().parent / "r" / "reference.R"
#: Raking variables in raking order, and their categories in order (ties go to the earlier).
RAKING_VARIABLES = ("sex", "age_band", "ethnic_group")
CATEGORIES = {
    "sex": ("female", "male"),
    "age_band": ("18-29", "30-44", "45-59", "60+"),
    "ethnic_group": ("kinh", "hmong", "tay", "dao", "giay", "nung", "thai", "other"),
}
DEFAULT_TIMEOUT = 300.0


class RError(RuntimeError):
    """R stopped with an error; the message is R's."""


@functools.cache
def r_missing() -> str | None:
    """Why R cannot serve as the reference here, or None when ``Rscript`` loads both packages."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return "Rscript is not installed (run `make r`: Debian's r-base-core, r-cran-survey, r-cran-metafor)"
    try:
        done = subprocess.run(
            [rscript, "-e", "suppressMessages({library(survey); library(metafor)})"],
            capture_output=True,
            text=True,
            timeout=120,  # a last resort: R starts slowly on a busy machine
        )
    except subprocess.TimeoutExpired:
        return "Rscript did not load survey and metafor within 120 s"
    if done.returncode != 0:
        return f"R cannot load survey and metafor (run `make r`): {done.stderr.strip()[-500:]}"
    return None


def require_r() -> None:
    """The one skip/fail rule for tests that need R: skip locally, fail under CI."""
    reason = r_missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"R reference tests cannot be skipped in CI: {reason}")
        pytest.skip(reason)


def _run(args: Sequence[str], workdir: Path, timeout: float) -> subprocess.CompletedProcess:
    require_r()
    try:
        return subprocess.run(
            [shutil.which("Rscript") or "Rscript", "--vanilla", str(SCRIPT), *args],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise RError(f"Rscript took more than {timeout} s") from exc


def _check(done: subprocess.CompletedProcess) -> None:
    if done.returncode != 0:
        raise RError(f"Rscript exited with status {done.returncode}: {done.stderr.strip()[-2000:]}")


# ---------------------------------------------------------------------------------------
# survey


def _validate_survey_inputs(respondents: pd.DataFrame, values: pd.DataFrame, margins: pd.DataFrame) -> None:
    for frame, name, columns in (
        (respondents, "respondents", ["response_id", "commune", *RAKING_VARIABLES]),
        (values, "values", ["response_id", "subdimension", "value"]),
        (margins, "margins", ["commune", "variable", "category", "population"]),
    ):
        missing = set(columns) - set(frame.columns)
        if missing:
            raise ValueError(f"{name} lacks columns {sorted(missing)}")
    if respondents["response_id"].duplicated().any():
        raise ValueError("respondents: response_id is not unique")
    for var, cats in CATEGORIES.items():
        bad = set(respondents[var].dropna()) - set(cats)
        if bad:
            raise ValueError(f"respondents.{var}: unknown categories {sorted(bad)}")
        bad = set(margins.loc[margins["variable"] == var, "category"]) - set(cats)
        if bad:
            raise ValueError(f"margins for {var}: unknown categories {sorted(bad)}")
    bad = set(margins["variable"]) - set(RAKING_VARIABLES)
    if bad:
        raise ValueError(f"margins: unknown variables {sorted(bad)}")
    if margins["population"].isna().any() or (margins["population"] < 0).any():
        raise ValueError("margins: population must be a number >= 0")
    if values["value"].isna().any() or ((values["value"] < 0) | (values["value"] > 1)).any():
        raise ValueError("values: value must be in [0, 1]")
    if values.duplicated(["response_id", "subdimension"]).any():
        raise ValueError("values: more than one value per respondent and sub-dimension")
    if values["subdimension"].astype(str).str.contains('[",\n]').any():
        raise ValueError("values: sub-dimension names must not hold quotes, commas or newlines")


def survey_reference(
    respondents: pd.DataFrame,
    values: pd.DataFrame,
    margins: pd.DataFrame,
    *,
    min_cell: int = 5,
    cap: float = 5.0,
    timeout: float = DEFAULT_TIMEOUT,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """R's raking, trimming and domain estimates, commune by commune, in one R process.

    Parameters
    ----------
    respondents
        ``response_id`` (str), ``commune`` (str), ``sex``, ``age_band``, ``ethnic_group``
        (categories of :data:`CATEGORIES`, or NA). All of them are raked.
    values
        ``response_id``, ``subdimension`` (str), ``value`` in [0, 1]: one row per
        respondent and sub-dimension they have a value for (the domain). Rows of response
        ids not in ``respondents`` are ignored.
    margins
        ``commune``, ``variable``, ``category``, ``population`` >= 0. A category missing
        from a variable's margins has population 0.
    min_cell, cap
        Fewest respondents per raking cell (>= 1); weights above ``cap`` × mean are trimmed.

    Returns
    -------
    weights
        One row per respondent, ordered by commune then input order: ``response_id``,
        ``commune``, ``weight`` (final, after trimming; 1.0 in a commune that is not
        raked), ``raked_weight`` (before trimming), ``sex_cell``, ``age_band_cell``,
        ``ethnic_group_cell`` (the respondent's raking cell after imputation and merging,
        e.g. ``"18-29+30-44"``: the merged categories that have respondents or population,
        joined by ``+`` in category order; NA for a variable not raked on), and per commune
        (repeated on each of its rows) ``flags`` and ``r_error``.
        ``flags`` is ``;``-joined, in this order, each group in variable order sex,
        age_band, ethnic_group: ``collapsed:<var>`` (a merge joined two groups that both
        had respondents or population, and the variable is still raked on),
        ``not_raked:<var>``, ``trimmed``,
        ``unweighted``; ``""`` when none. ``r_error`` is R's error message for a commune
        R could not finish (e.g. ``trimWeights(strict = TRUE)`` out of C stack, or
        ``postStratify`` refusing a cell with respondents and population 0); ``""``
        otherwise. In such a commune ``weight`` is NA (``raked_weight`` too if raking
        failed) but ``flags`` holds what was found before the error.
    estimates
        One row per commune and sub-dimension with at least one value: ``commune``,
        ``subdimension``, ``n`` (domain size), ``n_eff`` (Kish, domain's final weights),
        ``p`` and ``se`` (``svymean(~y, design, na.rm = TRUE)``), ``ci_low``, ``ci_high``
        (``svyciprop(method = "beta")``; NA where R gives NaN), ``r_error`` (as in
        ``weights``; when set, every number but ``n`` is NA). In a commune of one
        respondent (``svydesign`` refuses one PSU) ``p`` is the value, ``n_eff`` 1 and
        ``se``, ``ci_low``, ``ci_high`` are NA.
    """
    if min_cell < 1:
        raise ValueError("min_cell must be >= 1")
    _validate_survey_inputs(respondents, values, margins)
    with tempfile.TemporaryDirectory(prefix="r-reference-") as tmp:
        work = Path(tmp)
        resp = respondents[["response_id", "commune", *RAKING_VARIABLES]].astype("object")
        resp.to_csv(work / "respondents.csv", index=False)
        values[["response_id", "subdimension", "value"]].assign(value=values["value"].astype(float)).to_csv(
            work / "values.csv", index=False
        )
        margins[["commune", "variable", "category", "population"]].assign(
            population=margins["population"].astype(float)
        ).to_csv(work / "margins.csv", index=False)
        done = _run(["survey", str(work), repr(int(min_cell)), repr(float(cap))], work, timeout)
        _check(done)
        text = {
            c: str
            for c in (
                "response_id",
                "commune",
                "subdimension",
                "flags",
                "r_error",
                "sex_cell",
                "age_band_cell",
                "ethnic_group_cell",
            )
        }
        weights = pd.read_csv(work / "weights.csv", dtype=text, keep_default_na=False, na_values=[""])
        estimates = pd.read_csv(work / "estimates.csv", dtype=text, keep_default_na=False, na_values=[""])
    for frame in (weights, estimates):
        for col in ("flags", "r_error"):
            if col in frame:
                frame[col] = frame[col].fillna("")
        for col in frame.columns:
            if col not in text:
                frame[col] = frame[col].astype(float)
    estimates["n"] = estimates["n"].astype(int)
    return weights, estimates


# ---------------------------------------------------------------------------------------
# metafor


def metafor_reference(yi, vi, X=None, *, timeout: float = DEFAULT_TIMEOUT) -> dict:
    """``metafor::rma(yi, vi, mods = X, method = "REML", control = list(threshold = 1e-12,
    maxiter = 10000))`` and ``blup()`` of it.

    ``X`` holds the moderators only, one row per area (array of shape (k,) or (k, m), or a
    DataFrame); rma adds the intercept. Returns ``tau2`` (float), ``beta`` (array, intercept
    first), ``vb`` (vcov of beta, (m+1) × (m+1)), ``pred`` and ``se`` (``blup()``, one per
    area), ``beta_names`` (R's names) and ``warnings`` (R's warning messages, list of str).
    Raises :class:`RError` with R's message when rma or blup stops.
    """
    yi = np.asarray(yi, dtype=float)
    vi = np.asarray(vi, dtype=float)
    if yi.ndim != 1 or yi.shape != vi.shape:
        raise ValueError("yi and vi must be 1-d arrays of the same length")
    frame = pd.DataFrame({"yi": yi, "vi": vi})
    if X is not None:
        mods = np.asarray(X, dtype=float)
        if mods.ndim == 1:
            mods = mods[:, None]
        if mods.shape[0] != len(yi):
            raise ValueError("X must have one row per area")
        names = list(X.columns) if isinstance(X, pd.DataFrame) else [f"x{j + 1}" for j in range(mods.shape[1])]
        for j, name in enumerate(names):
            frame[f"mod_{j + 1}_{name}"] = mods[:, j]
    with tempfile.TemporaryDirectory(prefix="r-reference-") as tmp:
        work = Path(tmp)
        frame.to_csv(work / "meta.csv", index=False)
        done = _run(["metafor", str(work)], work, timeout)
        if done.returncode == 3 and (work / "error.txt").exists():
            raise RError((work / "error.txt").read_text().strip())
        _check(done)
        tau2 = float(pd.read_csv(work / "metafor_tau2.csv")["tau2"].iloc[0])
        beta = pd.read_csv(work / "metafor_beta.csv", dtype={"name": str})
        vb = pd.read_csv(work / "metafor_vb.csv").to_numpy(dtype=float)
        blup = pd.read_csv(work / "metafor_blup.csv")
        warnings = [w for w in (work / "metafor_warnings.txt").read_text().splitlines() if w]
    return {
        "tau2": tau2,
        "beta": beta["beta"].to_numpy(dtype=float),
        "beta_names": list(beta["name"]),
        "vb": vb,
        "pred": blup["pred"].to_numpy(dtype=float),
        "se": blup["se"].to_numpy(dtype=float),
        "warnings": warnings,
    }


# ---------------------------------------------------------------------------------------
# changes between periods


def changes_reference(
    estimate, mse, previous, previous_mse, family, *, timeout: float = DEFAULT_TIMEOUT
) -> pd.DataFrame:
    """R's z tests of change and ``p.adjust`` (holm, bonferroni) within each ``family``.

    Arrays of one length (NaN for a missing estimate). Returns ``difference``, ``se``,
    ``z``, ``p``, ``holm`` and ``bonferroni`` (NaN where R gives NA), one row per element.
    """
    frame = pd.DataFrame(
        {
            "estimate": estimate,
            "mse": mse,
            "previous": previous,
            "previous_mse": previous_mse,
            "family": [str(f) for f in family],
        }
    )
    with tempfile.TemporaryDirectory(prefix="r-reference-") as tmp:
        work = Path(tmp)
        frame.to_csv(work / "changes.csv", index=False, float_format="%.17g")
        done = _run(["changes", str(work)], work, timeout)
        _check(done)
        out = pd.read_csv(work / "changes_out.csv", keep_default_na=False, na_values=[""])
    return out.astype(float)


# ---------------------------------------------------------------------------------------
# rates above the rest of their family


def rates_reference(reports, answers, family, *, timeout: float = DEFAULT_TIMEOUT) -> pd.DataFrame:
    """R's one-sided ``fisher.test`` of each unit against the rest of its ``family``, and
    ``p.adjust(method = "BH")`` within each family.

    Arrays of counts of one length. Returns ``rate``, ``rest_rate``, ``p`` and ``bh`` (NaN where
    R gives NA: a unit without answers, or alone in its family), one row per unit.
    """
    frame = pd.DataFrame(
        {
            "reports": np.asarray(reports, dtype=np.int64),
            "answers": np.asarray(answers, dtype=np.int64),
            "family": [str(f) for f in family],
        }
    )
    with tempfile.TemporaryDirectory(prefix="r-reference-") as tmp:
        work = Path(tmp)
        frame.to_csv(work / "rates.csv", index=False)
        done = _run(["rates", str(work)], work, timeout)
        _check(done)
        out = pd.read_csv(work / "rates_out.csv", keep_default_na=False, na_values=[""])
    return out.astype(float)
