"""Small-cell suppression of public score tables: nothing hidden can be recovered."""

from __future__ import annotations

import pandas as pd

__all__ = ["MIN_PUBLIC_N", "SUPPRESSION_KEEPS", "SUPPRESSION_KEEPS_FLAGS", "suppress_small_cells"]

#: Public outputs blank any estimate resting on fewer respondents than this.
MIN_PUBLIC_N = 5
#: The only columns a row keeps when :func:`suppress_small_cells` hides it: what the row is
#: (identifiers), how many respondents it rests on (``n``, which says why it is hidden and
#: tells nothing of their answers), its flags, and the province's official figures, which do
#: not come from our respondents. Every other column, including any added later, is blanked.
SUPPRESSION_KEEPS = (
    "commune_code",
    "commune_name",
    "level",
    "code",
    "n",
    "flags",
    "n_communes",
    "baseline_2018",
    "target_2019",
    "official",
)
#: Flags a hidden row keeps: about the commune's weights and the row's structure. The other
#: reliability reasons depend on the hidden interval's width, so they would hint at it; any
#: flag added later is dropped too.
SUPPRESSION_KEEPS_FLAGS = (
    "empty",
    "incomplete",
    "one_respondent",
    "unweighted",
    "collapsed",
    "not_raked",
    "trimmed",
    "synthetic",
    "weighted_by_n",
    "unreliable:n_eff",
    "unreliable:df",
)
# Shipped copy of ../shared/data/papi_official_lao_cai.csv (sources in data/README-papi-official.md).


def suppress_small_cells(table: pd.DataFrame, *, min_n: int = MIN_PUBLIC_N) -> pd.DataFrame:
    """Blank every estimate resting on fewer than ``min_n`` respondents, for public outputs.

    A sub-dimension row with n < ``min_n`` keeps only the columns of
    :data:`SUPPRESSION_KEEPS` (``n`` stays) and the flags of :data:`SUPPRESSION_KEEPS_FLAGS`,
    and gains the flag ``suppressed``: every other column is blanked, so a column added to the
    table later can never leak a hidden value. A dimension with a suppressed sub-dimension, and the aggregate of a
    commune with a suppressed dimension, are suppressed too: otherwise the hidden value
    could be recovered by subtraction. Rows of a roll-up (``n`` only) follow their own n.
    """
    out = table.copy()
    n = pd.to_numeric(out["n"], errors="coerce").fillna(0)
    # n = 0 has no estimate to hide. (A commune's dimension and aggregate rows carry no n;
    # a roll-up's carry the largest n of their parts.)
    hide = (n > 0) & (n < min_n)
    if "commune_code" in out.columns:
        parent = out["code"].astype(str).str.split(".").str[0]
        hidden_dims = set(
            zip(
                out.loc[hide & (out["level"] == "subdimension"), "commune_code"],
                parent[hide & (out["level"] == "subdimension")],
                strict=False,
            )
        )
        hide |= (out["level"] == "dimension") & pd.Series(
            [(c, d) in hidden_dims for c, d in zip(out["commune_code"], out["code"].astype(str), strict=False)],
            index=out.index,
        )
        communes_hidden = set(out.loc[hide, "commune_code"])
        hide |= (out["level"] == "aggregate") & out["commune_code"].isin(communes_hidden)
    for column in out.columns:
        if column not in SUPPRESSION_KEEPS:
            out[column] = _blanked(out[column], hide)
    out.loc[hide, "flags"] = [
        ";".join([f for f in (flags or "").split(";") if _kept_flag(f)] + ["suppressed"])
        for flags in out.loc[hide, "flags"]
    ]
    out.attrs = dict(table.attrs, suppressed=int(hide.sum()), min_public_n=min_n)
    return out


def _kept_flag(flag: str) -> bool:
    """Whether a hidden row may keep this flag (itself, or its code before ":", is listed)."""
    base = flag.partition(":")[0]
    return flag in SUPPRESSION_KEEPS_FLAGS or (base != "unreliable" and base in SUPPRESSION_KEEPS_FLAGS)


def _blanked(column: pd.Series, hide: pd.Series) -> pd.Series:
    """The column with the hidden rows missing, in a type that can hold a missing value."""
    if not hide.any():
        return column
    if pd.api.types.is_float_dtype(column.dtype):
        return column.mask(hide)
    if pd.api.types.is_integer_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
        nullable = column.astype("Int64" if pd.api.types.is_integer_dtype(column.dtype) else "boolean")
        return nullable.mask(hide)
    return column.astype(object).mask(hide, None)
