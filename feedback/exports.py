"""Score and response exports: tables built from the bridge, and writers that return bytes."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis import (
    SUBDIMENSION_NAMES,
    commune_population,
    get_structure,
    load_official_scores,
    rollup_province,
    score_communes,
)
from analysis.estimates import (
    NCHS_MAX_RELATIVE_WIDTH,
    NCHS_MAX_WIDTH,
    NCHS_MIN_DF,
    NCHS_MIN_N_EFF,
    NCHS_REVIEW_WIDTH,
)
from surveys import catalog

from .bridge import AnalysisInput, load_analysis_input, low_quality, period_clause
from .times import VIET_NAM

__all__ = [
    "CONTRACT_COLUMNS",
    "MIN_PUBLIC_N",
    "SCORE_FORMATS",
    "RESPONSE_FORMATS",
    "ScoreExport",
    "ResponseExport",
    "build_score_export",
    "build_response_export",
    "commune_scores",
    "province_scores",
    "suppress_small_cells",
    "score_bytes",
    "response_bytes",
    "codebook_csv_path",
]

#: The columns every score export starts with, in this order (contract of issues #4 and #11:
#: the columns of #4 keep their order; those of #11 stand next to their kin).
CONTRACT_COLUMNS: tuple[str, ...] = (
    "commune_code", "commune_name", "level", "code", "n", "n_eff", "p", "se", "score", "ci_low", "ci_high",
    "se_p", "p_eb", "mse_eb", "score_eb", "se_eb", "ci_low_eb", "ci_high_eb",
    "group", "rank", "rank_low", "rank_high", "flags",
)
#: Extra columns of the province roll-up, after the contract columns.
PROVINCE_EXTRA: tuple[str, ...] = ("n_communes", "baseline_2018", "target_2019", "official", "gap_to_target")
SCORE_FORMATS = ("csv", "xlsx", "json", "dta")
RESPONSE_FORMATS = ("csv", "xlsx", "dta")
#: Public outputs blank any estimate resting on fewer respondents than this.
MIN_PUBLIC_N = 5
#: The only columns a row keeps when :func:`suppress_small_cells` hides it: what the row is
#: (identifiers), how many respondents it rests on (``n``, which says why it is hidden and
#: tells nothing of their answers), its flags, and the province's official figures, which do
#: not come from our respondents. Every other column, including any added later, is blanked.
SUPPRESSION_KEEPS = (
    "commune_code", "commune_name", "level", "code", "n", "flags",
    "n_communes", "baseline_2018", "target_2019", "official",
)
#: Flags a hidden row keeps: about the commune's weights and the row's structure. The other
#: reliability reasons depend on the hidden interval's width, so they would hint at it; any
#: flag added later is dropped too.
SUPPRESSION_KEEPS_FLAGS = (
    "empty", "incomplete", "one_respondent", "unweighted", "collapsed", "not_raked", "trimmed", "synthetic",
    "weighted_by_n", "unreliable:n_eff", "unreliable:df",
)
# Shipped copy of ../shared/data/papi_official_lao_cai.csv (sources in data/README-papi-official.md).
DEFAULT_OFFICIAL = Path(__file__).resolve().parent / "data" / "papi_official_lao_cai.csv"
PROVINCE_NAME = {"15": "Lào Cai"}

# ---- what the columns and flags mean (README sheet, Stata labels, analyst pages) -------------

#: (Vietnamese, English) label of each column. The English label is the Stata variable label,
#: so it stays within Stata's 80 characters.
COLUMN_LABELS: dict[str, tuple[str, str]] = {
    "commune_code": ("Mã xã/phường (chính thức)", "Official commune/ward code"),
    "commune_name": ("Tên xã/phường", "Commune/ward name"),
    "level": ("Cấp: subdimension, dimension hoặc aggregate", "Level: subdimension, dimension or aggregate"),
    "code": ("Mã PAPI: 6.1 (nội dung thành phần), 6 (lĩnh vực), total",
             "PAPI code: 6.1 (sub-dimension), 6 (dimension), total"),
    "n": ("Số người trả lời có giá trị (nội dung thành phần)", "Respondents with a value (sub-dimensions)"),
    "n_eff": ("Cỡ mẫu hiệu dụng Kish (Σw)²/Σw²", "Kish effective sample size (Σw)²/Σw²"),
    "p": ("Ước lượng trực tiếp có trọng số, thang 0–1", "Direct weighted estimate, 0–1 scale"),
    "se": ("Sai số chuẩn của điểm trực tiếp (thang PAPI)", "Standard error of the direct score (PAPI scale)"),
    "score": ("Điểm trực tiếp thang PAPI: 1/k + 9p/k; lĩnh vực 1–10; tổng 8–80",
              "Direct PAPI-scale score: 1/k + 9p/k; dimension 1–10; total 8–80"),
    "ci_low": ("Cận dưới KTC 95% của điểm trực tiếp (Korn–Graubard cho nội dung thành phần)",
               "Direct score, 95% CI low (Korn–Graubard for sub-dimensions)"),
    "ci_high": ("Cận trên KTC 95% của điểm trực tiếp (Korn–Graubard cho nội dung thành phần)",
                "Direct score, 95% CI high (Korn–Graubard for sub-dimensions)"),
    "se_p": ("Sai số chuẩn của p, thang 0–1", "Standard error of p, 0–1 scale"),
    "p_eb": ("Ước lượng cho địa bàn nhỏ (Bayes thực nghiệm, Fay–Herriot), thang 0–1",
             "Small-area (empirical Bayes, Fay–Herriot) estimate, 0–1 scale"),
    "mse_eb": ("Sai số bình phương trung bình của p_eb (Datta–Lahiri), thang 0–1",
               "Mean squared error of p_eb (Datta–Lahiri), 0–1 scale"),
    "score_eb": ("Điểm Bayes thực nghiệm thang PAPI (dùng để xếp hạng)",
                 "Empirical-Bayes score, PAPI scale (used for ranks)"),
    "se_eb": ("Căn bậc hai MSE của điểm Bayes thực nghiệm (thang PAPI)",
              "Root mean squared error of score_eb (PAPI scale)"),
    "ci_low_eb": ("Cận dưới khoảng 95% của điểm Bayes thực nghiệm", "Empirical-Bayes score, 95% interval low"),
    "ci_high_eb": ("Cận trên khoảng 95% của điểm Bayes thực nghiệm", "Empirical-Bayes score, 95% interval high"),
    "group": ("Nhóm theo điểm Bayes thực nghiệm: highest, high-average, low-average, lowest",
              "Group by empirical-Bayes score: highest, high-average, low-average, lowest"),
    "rank": ("Thứ hạng theo điểm Bayes thực nghiệm (1 = tốt nhất) trong cùng cấp và mã",
             "Rank by empirical-Bayes score (1 = best) within level and code"),
    "rank_low": ("Cận dưới khoảng 95% của thứ hạng (thứ hạng tốt nhất có thể)",
                 "95% rank interval: best plausible rank"),
    "rank_high": ("Cận trên khoảng 95% của thứ hạng (thứ hạng kém nhất có thể)",
                  "95% rank interval: worst plausible rank"),
    "flags": ("Cờ cảnh báo, cách nhau bởi dấu ; (xem bảng cờ)", "Warning flags, separated by ; (see the flag table)"),
    "n_communes": ("Số xã có ước lượng", "Communes with an estimate"),
    "baseline_2018": ("Giá trị chính thức 2018 (KH 170)", "Official 2018 value (plan 170)"),
    "target_2019": ("Chỉ tiêu 2019 (KH 170)", "2019 target (plan 170)"),
    "official": ("Điểm PAPI chính thức của tỉnh", "Official PAPI score of the province"),
    "gap_to_target": ("Chênh lệch so với chỉ tiêu", "Score minus target"),
}

#: (Vietnamese, English) meaning of each flag, keyed by its code before ":" (the codes of
#: ``analysis.FLAGS``, then those the exports add). On dimension and aggregate rows a flag of
#: the weights or of reliability means at least one of the parts carries it.
FLAG_MEANINGS: dict[str, tuple[str, str]] = {
    "empty": ("Không có người trả lời", "No respondents"),
    "incomplete": ("Thiếu ước lượng trực tiếp của ít nhất một phần, nên không có tổng trực tiếp",
                   "A part has no direct estimate, so there is no direct sum"),
    "one_respondent": ("Chỉ một người trả lời: không có sai số chuẩn hay khoảng tin cậy",
                       "One respondent: no standard error or interval"),
    "unweighted": ("Không có số liệu dân số: trọng số bằng nhau", "No population margins: equal weights"),
    "collapsed": ("Nhóm có dưới 5 người trả lời được gộp với nhóm khác trước khi cân chỉnh",
                  "Categories with fewer than 5 respondents merged before raking"),
    "not_raked": ("Có số liệu dân số nhưng không cân chỉnh theo biến này (không ai trả lời, quá ít người "
                  "mỗi nhóm, hoặc phép cân chỉnh không hội tụ)",
                  "Margins loaded but not raked on this variable (nobody answered it, too few respondents "
                  "per category, or raking did not converge)"),
    "trimmed": ("Trọng số vượt 5 lần trung bình bị cắt, phần dư chia cho người khác",
                "Weights above 5 × the mean trimmed and the excess shared out"),
    "unreliable": ("Không đáng tin cậy theo Chuẩn trình bày tỷ lệ của NCHS 2017 (Parker và cộng sự): "
                   "thận trọng khi dùng",
                   "Unreliable by the NCHS 2017 Data Presentation Standards for Proportions (Parker et al.): "
                   "use with care"),
    "synthetic": ("Không ai trong xã trả lời: ước lượng chỉ từ mô hình (các xã khác)",
                  "Nobody in this commune answered: estimate from the model only (other communes)"),
    "suppressed": ("Dưới 5 người trả lời: ẩn số liệu (bản công khai)", "Fewer than 5 respondents: hidden (public output)"),
    "weighted_by_n": ("Tỉnh: các xã được gộp theo số người trả lời, không theo dân số (thiếu số liệu dân số)",
                      "Province: communes weighted by respondents, not population (margins missing)"),
}
#: (Vietnamese, English) meaning of a flag with a suffix after ":", ``{detail}`` standing for
#: the suffix's meaning in :data:`FLAG_SUFFIX_MEANINGS` (``synthetic:k/K`` fills ``{k}``, ``{total}``).
FLAG_SUFFIX_TEMPLATES: dict[str, tuple[str, str]] = {
    "collapsed": ("Biến {detail}: các nhóm có dưới 5 người trả lời được gộp với nhóm khác trước khi cân chỉnh",
                  "Categories of {detail} with fewer than 5 respondents merged before raking"),
    "not_raked": ("Không cân chỉnh theo {detail}: có số liệu dân số nhưng không ai trả lời, quá ít người mỗi "
                  "nhóm, hoặc phép cân chỉnh không hội tụ",
                  "Not raked on {detail}: margins loaded, but nobody answered it, too few respondents per "
                  "category, or raking did not converge"),
    "unreliable": ("Không đáng tin cậy (chuẩn NCHS 2017): {detail}", "Unreliable (NCHS 2017 standard): {detail}"),
    "synthetic": ("{k} trong {total} nội dung thành phần là ước lượng chỉ từ mô hình",
                  "{k} of its {total} sub-dimensions are estimated from the model only"),
}
_VARIABLES = {"sex": ("giới tính", "sex"), "age_band": ("nhóm tuổi", "age band"),
              "ethnic_group": ("dân tộc", "ethnic group")}


def _vi(number: float) -> str:
    """A number as Vietnamese writes it (decimal comma)."""
    return f"{number:g}".replace(".", ",")


FLAG_SUFFIX_MEANINGS: dict[str, dict[str, tuple[str, str]]] = {
    "collapsed": _VARIABLES,
    "not_raked": _VARIABLES,
    "unreliable": {
        "n_eff": (f"cỡ mẫu hiệu dụng dưới {_vi(NCHS_MIN_N_EFF)}", f"effective sample size under {NCHS_MIN_N_EFF:g}"),
        "width": (f"khoảng tin cậy Korn–Graubard rộng từ {_vi(NCHS_MAX_WIDTH)} trở lên (thang 0–1), "
                  "hoặc không có khoảng",
                  f"Korn–Graubard interval {NCHS_MAX_WIDTH:g} wide or wider (0–1 scale), or no interval"),
        "relative_width": (f"khoảng rộng hơn {NCHS_MAX_RELATIVE_WIDTH:.0%} của p "
                           f"(độ rộng từ {_vi(NCHS_REVIEW_WIDTH)} đến {_vi(NCHS_MAX_WIDTH)})",
                           f"interval wider than {NCHS_MAX_RELATIVE_WIDTH:.0%} of p "
                           f"(width between {NCHS_REVIEW_WIDTH:g} and {NCHS_MAX_WIDTH:g})"),
        "df": (f"bậc tự do dưới {NCHS_MIN_DF}", f"degrees of freedom under {NCHS_MIN_DF}"),
    },
    "synthetic": {"k/K": ("k nội dung thành phần trong K", "k of its K sub-dimensions")},
}
SYNTHETIC_COUNT = re.compile(r"^(\d+)/(\d+)$")


def flag_meaning(flag: str, lang: str = "en") -> str:
    """What one flag (``unreliable:width``, ``synthetic:3/28`` …) means, in ``vi`` or ``en``."""
    i = 0 if lang == "vi" else 1
    base, _, suffix = flag.partition(":")
    if base not in FLAG_MEANINGS:
        return flag
    if not suffix or base not in FLAG_SUFFIX_TEMPLATES:
        return FLAG_MEANINGS[base][i]
    template = FLAG_SUFFIX_TEMPLATES[base][i]
    if base == "synthetic":
        count = SYNTHETIC_COUNT.match(suffix)
        k, total = count.groups() if count else ("k", "K")
        return template.format(k=k, total=total)
    detail = FLAG_SUFFIX_MEANINGS[base].get(suffix, (suffix, suffix))[i]
    return template.format(detail=detail)


#: References of the method, cited in the README sheet.
REFERENCES: tuple[str, ...] = (
    "Korn, E. L., Graubard, B. I. (1998). Confidence intervals for proportions with small expected number "
    "of positive counts estimated from survey data. Survey Methodology 24(2), 193–201.",
    "Parker, J. D., Talih, M., Malec, D. J., et al. (2017). National Center for Health Statistics Data "
    "Presentation Standards for Proportions. Vital and Health Statistics 2(175).",
    "Fay, R. E., Herriot, R. A. (1979). Estimates of income for small places: an application of James–Stein "
    "procedures to census data. Journal of the American Statistical Association 74(366), 269–277.",
    "Datta, G. S., Lahiri, P. (2000). A unified measure of uncertainty of estimated best linear unbiased "
    "predictors in small area estimation problems. Statistica Sinica 10(2), 613–627.",
    "Lumley, T. (2010). Complex Surveys: A Guide to Analysis Using R. Wiley; R package survey "
    "(rake, trimWeights, svymean, svyciprop).",
    "Kish, L. (1965). Survey Sampling. Wiley (effective sample size).",
)

METHOD_SUMMARY: tuple[tuple[str, str], ...] = (
    ("Điểm mô phỏng theo PAPI từ khảo sát tại điểm dịch vụ — KHÔNG phải điểm PAPI chính thức.",
     "PAPI-style proxy scores from service-point surveys — NOT official PAPI scores."),
    ("Mỗi câu trả lời được quy về 0–1 theo bảng điểm của khảo sát; giá trị của người trả lời là trung bình "
     "các câu cùng nội dung thành phần.",
     "Each answer is mapped to 0–1 by the survey's score map; a respondent's value is the mean of their items "
     "per sub-dimension."),
    ("Trọng số: mỗi xã một lần, cho mọi người trả lời trong kỳ: nhóm có dưới 5 người được gộp (collapsed), "
     "rồi cân chỉnh (raking) theo giới tính, nhóm tuổi, dân tộc khi có số liệu dân số, như rake() của gói R "
     "survey; trọng số vượt 5 lần trung bình bị cắt như trimWeights() (Lumley 2010).",
     "Weights: once per commune, over all its respondents in the period: categories with fewer than 5 "
     "respondents merged (collapsed), then raked to sex, age band and ethnic group margins when loaded, as R "
     "survey's rake(); weights above 5 × the mean trimmed as trimWeights() (Lumley 2010)."),
    ("Ước lượng trực tiếp: mỗi nội dung thành phần là một miền của mẫu có trọng số của xã; sai số chuẩn từ "
     "phần dư của phép cân chỉnh (như svymean); khoảng tin cậy 95% Korn–Graubard (svyciprop, method = \"beta\"; "
     "Korn & Graubard 1998); khi mọi câu trả lời giống nhau, dùng cỡ mẫu hiệu dụng Kish.",
     "Direct estimates: each sub-dimension is a domain of the commune's weighted sample; standard errors from "
     "the calibration residuals (as svymean); 95% Korn–Graubard intervals (svyciprop, method = \"beta\"; "
     "Korn & Graubard 1998); when all answers are alike, the Kish effective sample size is used."),
    ("Độ tin cậy: cờ unreliable theo Chuẩn trình bày tỷ lệ của NCHS (Parker và cộng sự 2017): cỡ mẫu hiệu dụng "
     "< 30, khoảng rộng ≥ 0,30, độ rộng tương đối > 130%, bậc tự do < 8.",
     "Reliability: flag unreliable by the NCHS Data Presentation Standards for Proportions (Parker et al. 2017): "
     "effective sample size < 30, interval width ≥ 0.30, relative width > 130%, degrees of freedom < 8."),
    ("Ước lượng cho địa bàn nhỏ (cột _eb): mô hình Fay–Herriot (1979) cho từng nội dung thành phần trên các xã "
     "của tỉnh, phương sai mẫu được làm trơn (gộp), ước lượng REML, có biến chỉ báo phường khi tỉnh có ít nhất "
     "2 phường và 2 xã có số liệu; MSE theo Datta & Lahiri (2000); khoảng 95% = EB ± 1,96 √MSE. Xã không ai "
     "trả lời một nội dung nhận ước lượng tổng hợp từ mô hình (cờ synthetic).",
     "Small-area estimates (_eb columns): a Fay–Herriot (1979) model per sub-dimension over the province's "
     "communes, with smoothed (pooled) sampling variances, fitted by REML, with a ward indicator when at least "
     "2 wards and 2 communes have data; MSE by Datta & Lahiri (2000); 95% interval EB ± 1.96 √MSE. A commune "
     "where nobody answered a sub-dimension gets the model's synthetic estimate (flag synthetic)."),
    ("Lĩnh vực = tổng các nội dung thành phần; tổng hợp = tổng 8 lĩnh vực (phương sai và MSE cộng lại, giả "
     "định độc lập); khoảng 95% của chúng = điểm ± 1,96 SE, cắt trong thang 1–10 hoặc 8–80.",
     "Dimension = sum of its sub-dimensions; aggregate = sum of the 8 dimensions (variances and MSEs added, "
     "independence assumed); their 95% intervals are score ± 1.96 SE, clipped to 1–10 or 8–80."),
    ("Xếp hạng và nhóm: theo điểm Bayes thực nghiệm, mọi xã có người trả lời (1 = tốt nhất, bằng điểm thì cùng "
     "hạng nhỏ hơn); khoảng thứ hạng 95% = phân vị 2,5 và 97,5 của thứ hạng qua 1.000 lần rút θ ~ N(EB, MSE) "
     "(hạt giống cố định, cùng số liệu cho cùng kết quả); 4 nhóm như PAPI.",
     "Ranks and groups: by empirical-Bayes score, every commune with responses (1 = best, ties share the "
     "smaller rank); 95% rank interval = 2.5th and 97.5th percentiles of the ranks over 1,000 draws "
     "θ ~ N(EB, MSE) (fixed seed: the same data give the same interval); four groups as in PAPI."),
    ("Cấp tỉnh: trung bình các xã theo dân số (hoặc theo số người trả lời), khoảng tin cậy chuẩn; "
     "không có cột _eb hay thứ hạng.",
     "Province level: communes averaged by population (or by respondents), normal intervals; no _eb columns "
     "or ranks."),
    ("Chi tiết: docs/methodology.md.", "Details: docs/methodology.md."),
)


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
        }


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
        hidden_dims = set(zip(out.loc[hide & (out["level"] == "subdimension"), "commune_code"],
                              parent[hide & (out["level"] == "subdimension")]))
        hide |= (out["level"] == "dimension") & pd.Series(
            [(c, d) in hidden_dims for c, d in zip(out["commune_code"], out["code"].astype(str))], index=out.index
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


def commune_scores(data: AnalysisInput, *, structure: str = "current") -> pd.DataFrame:
    """Per commune × code scores of the contract, commune names included, every commune listed."""
    table = score_communes(
        data.scores, data.respondents, margins=data.margins, structure=structure,
        include_flagged=data.include_flagged, communes=list(data.communes["commune_code"]), wards=data.wards,
    )
    names = dict(zip(data.communes["commune_code"], data.communes["commune_name"]))
    out = table.rename(columns={"commune": "commune_code"})
    out.insert(1, "commune_name", out["commune_code"].map(names).fillna(""))
    out = out[list(CONTRACT_COLUMNS) + [c for c in out.columns if c not in CONTRACT_COLUMNS]]
    out.attrs = dict(table.attrs)
    return out


def _official(structure: str) -> tuple[pd.DataFrame | None, int | None]:
    """Official Lào Cai scores, when the shared data file is reachable."""
    from flask import current_app, has_app_context

    path = Path(current_app.config.get("PAPI_OFFICIAL_CSV", DEFAULT_OFFICIAL)) if has_app_context() else DEFAULT_OFFICIAL
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
    k = [st.k(st.dimension_of(c)) if lv == "subdimension" else np.nan for lv, c in zip(roll["level"], roll["code"])]
    nothing = np.full(len(roll), np.nan)
    no_rank = pd.array([pd.NA] * len(roll), dtype="Int64")
    out = pd.DataFrame({
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
    })
    out["flags"] = out["flags"].str.strip(";")
    out.attrs = dict(table.attrs, official_year=roll.attrs.get("official_year"),
                     population_weighted=population is not None)
    return out


def build_score_export(date_from: date | None = None, date_to: date | None = None, *, level: str = "commune",
                       structure: str = "current", public: bool = False, province_code: str = "15",
                       commune_codes: list[str] | None = None) -> ScoreExport:
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
    return ScoreExport(table=table, level=level, structure=structure, date_from=date_from, date_to=date_to,
                       excluded=int(table.attrs.get("excluded", 0)), public=public)


# ---- writers --------------------------------------------------------------------------------

def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (NaN and NA as null)."""
    return json.loads(table.to_json(orient="records", double_precision=10, force_ascii=False))


def score_records(export: ScoreExport) -> dict[str, Any]:
    """The JSON document of a score export: ``meta`` and ``rows``."""
    return {"meta": export.meta(), "rows": _records(export.table)}


def _csv(table: pd.DataFrame) -> bytes:
    # UTF-8 with a byte-order mark, so Excel shows Vietnamese names correctly.
    return table.to_csv(index=False, lineterminator="\n").encode("utf-8-sig")


def _readme_rows(export: ScoreExport) -> list[list[Any]]:
    meta = export.meta()
    rows: list[list[Any]] = [
        ["Điểm mô phỏng PAPI (PAPI-style proxy) — không phải điểm PAPI chính thức",
         "PAPI-style proxy, not official PAPI scores"],
        [],
        ["Thời kỳ / Period", f"{meta['from'] or '…'} – {meta['to'] or '…'} (ngày nộp, giờ Việt Nam / submission date, Viet Nam time)"],
        ["Cấp / Level", export.level],
        ["Cấu trúc PAPI / PAPI structure", export.structure],
        ["Phiếu chất lượng thấp bị loại / Low-quality responses excluded", export.excluded],
    ]
    if export.public:
        rows.append(["Bản công khai / Public output",
                     f"ẩn ô dưới {MIN_PUBLIC_N} người trả lời / cells on fewer than {MIN_PUBLIC_N} respondents hidden"])
    rows += [[], ["Phương pháp", "Method"], *[list(r) for r in METHOD_SUMMARY], [],
             ["Cột / Column", "Ý nghĩa", "Meaning"]]
    rows += [[c, *COLUMN_LABELS[c]] for c in export.table.columns if c in COLUMN_LABELS]
    rows += [[], ["Cờ / Flag", "Ý nghĩa", "Meaning"]]
    for base, meaning in FLAG_MEANINGS.items():
        rows.append([base, *meaning])
        for suffix in FLAG_SUFFIX_MEANINGS.get(base, {}):
            code = f"{base}:{suffix}"
            rows.append([code, flag_meaning(code, "vi"), flag_meaning(code, "en")])
    rows += [["", "Ở dòng lĩnh vực và tổng hợp, cờ về trọng số hay độ tin cậy nghĩa là ít nhất một phần mang cờ đó.",
              "On dimension and aggregate rows, a weighting or reliability flag means at least one part has it."]]
    rows += [[], ["Tài liệu tham khảo / References"], *[[r] for r in REFERENCES]]
    return rows


def _xlsx(sheets: list[tuple[str, pd.DataFrame | list[list[Any]]]]) -> bytes:
    """A workbook with one sheet per (title, table or rows)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for title, content in sheets:
        sheet = book.create_sheet(title)
        if isinstance(content, pd.DataFrame):
            sheet.append(list(content.columns))
            for cell in sheet[1]:
                cell.font = Font(bold=True)
            for row in content.itertuples(index=False):
                sheet.append([_cell(v) for v in row])
            sheet.freeze_panes = "A2"
        else:
            for row in content:
                sheet.append([_cell(v) for v in row])
            sheet["A1"].font = Font(bold=True)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _dta(table: pd.DataFrame, *, labels: dict[str, str], value_labels: dict | None = None, title: str = "") -> bytes:
    """Stata 14+ (.dta 118, Unicode) with variable labels (≤ 80 characters)."""
    frame = table.copy()
    dates = {}
    for column in frame.columns:
        dtype = frame[column].dtype
        if pd.api.types.is_datetime64_any_dtype(dtype):
            dates[column] = "td"
        elif pd.api.types.is_bool_dtype(dtype):
            frame[column] = frame[column].astype("int8")
        elif dtype == object or isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype):
            frame[column] = frame[column].astype(object).where(frame[column].notna(), "").astype(str).astype(object)
    buffer = io.BytesIO()
    frame.to_stata(
        buffer, write_index=False, version=118, data_label=title[:80], convert_dates=dates or None,
        variable_labels={c: text[:80] for c, text in labels.items() if c in frame.columns},
        value_labels=value_labels,
    )
    return buffer.getvalue()


def score_bytes(export: ScoreExport, fmt: str) -> bytes:
    """The score export in ``fmt`` (csv, xlsx, json or dta)."""
    table = export.table
    if fmt == "csv":
        return _csv(table)
    if fmt == "json":
        return json.dumps(score_records(export), ensure_ascii=False, indent=1).encode("utf-8")
    if fmt == "xlsx":
        return _xlsx([("scores", table), ("README", _readme_rows(export))])
    if fmt == "dta":
        labels = {c: f"{COLUMN_LABELS[c][1]}" for c in table.columns if c in COLUMN_LABELS}
        return _dta(table, labels=labels, title="PAPI-style proxy scores (not official)")
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(SCORE_FORMATS)}")


# ---- anonymised responses ---------------------------------------------------------------------

@dataclass(frozen=True)
class ResponseExport:
    """Anonymised responses (one row per response) and their codebook."""

    responses: pd.DataFrame
    codebook: pd.DataFrame
    value_labels: dict[str, dict[int, str]]
    variable_labels: dict[str, str]
    excluded: int


#: Columns describing each response, before the question columns.
RESPONSE_COLUMNS = ("export_id", "survey", "survey_version", "service_area", "commune_code", "commune_name",
                    "mode", "lang", "submitted_date", "flags")
RESPONSE_LABELS = {
    "export_id": "Row number in this export (not stored anywhere)",
    "survey": "Survey",
    "survey_version": "Survey version",
    "service_area": "Service area",
    "commune_code": "Official commune/ward code",
    "commune_name": "Commune/ward name",
    "mode": "Channel: web, paper or api",
    "lang": "Language the form was answered in",
    "submitted_date": "Submission date (Viet Nam)",
    "flags": "Quality flags (;-separated)",
}


def _question_columns() -> list[str]:
    """Question ids of every survey version, in survey order, free text left out."""
    seen: dict[str, None] = {}
    for survey in sorted(catalog().all_versions(), key=lambda s: (s.slug, s.version)):
        for q in survey.questions:
            if q.type != "text":
                seen.setdefault(q.id, None)
    return list(seen)


def codebook_frame() -> pd.DataFrame:
    """One row per survey version × question: labels, type, value labels, sub-dimension, score map."""
    rows = []
    for survey in sorted(catalog().all_versions(), key=lambda s: (s.slug, s.version)):
        for q in survey.questions:
            exported = q.type != "text"
            rows.append({
                "survey": survey.slug,
                "survey_version": survey.version,
                "question_id": q.id,
                "column": q.id if exported else "",
                "type": q.type,
                "respondent_block": q.respondent,
                "label_vi": q.label.vi,
                "label_en": q.label.en,
                "value_labels": "; ".join(f"{o.value} = {o.label.vi} / {o.label.en}" for o in q.options),
                "subdimension": q.subdimension or "",
                "subdimension_name": SUBDIMENSION_NAMES[q.subdimension].en if q.subdimension in SUBDIMENSION_NAMES else "",
                "score_map": "; ".join(f"{o.value} = {o.score:g}" for o in q.options if o.score is not None)
                if q.scored else "",
                "note": "" if exported else "free text: not exported (may identify people)",
            })
    return pd.DataFrame(rows)


def _stata_coding(columns: list[str]) -> tuple[dict[str, list[str]], dict[str, dict[int, str]], dict[str, str]]:
    """Per question column: option values in order (code 1, 2, …), their labels and a variable label."""
    order: dict[str, list[str]] = {}
    labels: dict[str, dict[int, str]] = {}
    variable: dict[str, str] = {}
    texts: dict[str, set[str]] = {}
    for survey in sorted(catalog().all_versions(), key=lambda s: (s.slug, s.version)):
        for q in survey.questions:
            if q.id not in columns:
                continue
            texts.setdefault(q.id, set()).add(q.label.en)
            variable.setdefault(q.id, q.label.en)
            if not q.options or q.type == "multiple":
                continue
            values = order.setdefault(q.id, [])
            for o in q.options:
                if o.value not in values:
                    values.append(o.value)
                    labels.setdefault(q.id, {})[len(values)] = f"{o.value}: {o.label.vi} / {o.label.en}"[:320]
    for qid, seen in texts.items():
        if len(seen) > 1:
            variable[qid] = f"{qid} (wording differs by survey: see codebook)"
    return order, labels, variable


def build_response_export(date_from: date | None = None, date_to: date | None = None, *,
                          include_flagged: bool = False, commune_codes: list[str] | None = None,
                          seed: int | None = None) -> ResponseExport:
    """Anonymised responses of a period: no stored ids, hashes, times of day or free text.

    ``export_id`` numbers rows 1…N after a random shuffle within each day and commune: the
    stored response id is chosen on the citizen's device (offline clients keep it), so
    exporting it could link a row back to a phone or a client log, and a stable id would
    let two exports be joined. A per-export number only lets analysts cite rows.
    """
    import sqlalchemy as sa

    from .extensions import db
    from .models import Answer, Commune, Response

    clause = period_clause(date_from, date_to, commune_codes)
    flagged_clause = low_quality()  # a "clock" flag alone keeps a response in (docs/quality.md)
    response_query = (
        sa.select(sa.cast(Response.id, sa.String).label("key"), Response.survey, Response.survey_version,
                  Response.commune_code, Commune.name.label("commune_name"), Response.mode, Response.lang,
                  Response.submitted_at, Response.flags)
        .join(Commune, Commune.code == Response.commune_code)
        .where(clause)
    )
    if not include_flagged:
        response_query = response_query.where(~flagged_clause)
    columns = _question_columns()
    answer_query = (
        sa.select(sa.cast(Answer.response_id, sa.String).label("key"), Answer.question_id, Answer.position, Answer.value)
        .join(Response, Response.id == Answer.response_id)
        .where(clause, Answer.question_id.in_(columns))
    )
    if not include_flagged:
        answer_query = answer_query.where(~flagged_clause)
    with db.engine.connect() as conn:
        excluded = 0 if include_flagged else int(conn.scalar(
            sa.select(sa.func.count()).select_from(Response).where(clause, flagged_clause)) or 0)
        head = pd.DataFrame(conn.execute(response_query).all(),
                            columns=["key", "survey", "survey_version", "commune_code", "commune_name", "mode",
                                     "lang", "submitted_at", "flags"])
        answers = pd.DataFrame(conn.execute(answer_query).all(), columns=["key", "question_id", "position", "value"])

    answers = answers.sort_values(["key", "question_id", "position"], kind="stable")
    wide = (answers.groupby(["key", "question_id"], sort=False)["value"].agg(";".join)
            .unstack("question_id").reindex(columns=columns))
    head["submitted_date"] = pd.to_datetime(head["submitted_at"]).dt.tz_localize("UTC").dt.tz_convert(VIET_NAM).dt.date
    areas = {s.slug: s.service_area for s in catalog().all_versions()}
    head["service_area"] = head["survey"].map(areas)
    rng = np.random.default_rng(seed)
    head["_shuffle"] = rng.permutation(len(head))
    head = head.sort_values(["submitted_date", "commune_code", "_shuffle"], ignore_index=True)
    head["export_id"] = np.arange(1, len(head) + 1)
    out = head.join(wide, on="key")
    out = out[list(RESPONSE_COLUMNS) + columns].reset_index(drop=True)
    for column in columns:
        out[column] = out[column].astype(object).where(out[column].notna(), None)
    order, value_labels, variable = _stata_coding(columns)
    variable_labels = {**RESPONSE_LABELS, **variable}
    return ResponseExport(responses=out, codebook=codebook_frame(), value_labels=value_labels,
                          variable_labels=variable_labels, excluded=excluded)


def _stata_responses(export: ResponseExport) -> tuple[pd.DataFrame, dict[str, dict[int, str]]]:
    """Choice answers as labelled integer codes (1, 2, … in option order), others as text."""
    order, labels, _ = _stata_coding(list(export.responses.columns))
    frame = export.responses.copy()
    frame["submitted_date"] = pd.to_datetime(frame["submitted_date"])
    for column, values in order.items():
        coded = frame[column].map({v: i + 1 for i, v in enumerate(values)})
        frame[column] = coded.astype("float64")
    return frame, {c: labels[c] for c in order if c in labels}


def response_bytes(export: ResponseExport, fmt: str) -> dict[str, bytes]:
    """The response export in ``fmt``: file suffix -> bytes (CSV adds ``.codebook.csv``)."""
    if fmt == "csv":
        return {"": _csv(export.responses), ".codebook.csv": _csv(export.codebook)}
    if fmt == "xlsx":
        readme = [["Phiếu trả lời ẩn danh — chỉ dành cho chuyên viên phân tích",
                   "Anonymised responses — for analysts only, not for publication"],
                  ["Phiếu chất lượng thấp bị loại / Low-quality responses excluded", export.excluded],
                  ["export_id", RESPONSE_LABELS["export_id"]]]
        return {"": _xlsx([("responses", export.responses), ("codebook", export.codebook), ("README", readme)])}
    if fmt == "dta":
        frame, value_labels = _stata_responses(export)
        return {"": _dta(frame, labels=export.variable_labels, value_labels=value_labels,
                         title="Anonymised citizen feedback responses")}
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(RESPONSE_FORMATS)}")


def codebook_csv_path(path: str | Path) -> Path:
    """Where the codebook of a CSV export goes: ``<name>.codebook.csv`` next to it."""
    path = Path(path)
    return path.with_name(path.stem + ".codebook.csv")
