"""What the columns and flags of the score export mean: README sheet, Stata labels, analyst pages."""

from __future__ import annotations

import re
from datetime import date

from analysis.estimates import (
    NCHS_MAX_RELATIVE_WIDTH,
    NCHS_MAX_WIDTH,
    NCHS_MIN_DF,
    NCHS_MIN_N_EFF,
    NCHS_REVIEW_WIDTH,
)

__all__ = [
    "COLUMN_LABELS",
    "FLAG_MEANINGS",
    "FLAG_NAMES",
    "FLAG_SUFFIX_MEANINGS",
    "FLAG_SUFFIX_NAMES",
    "FLAG_SUFFIX_TEMPLATES",
    "METHOD_SUMMARY",
    "READING_NOTES",
    "REFERENCES",
    "flag_meaning",
    "flag_name",
    "period_text",
]

#: (Vietnamese, English) label of each column. The English label is the Stata variable label,
#: so it stays within Stata's 80 characters.
COLUMN_LABELS: dict[str, tuple[str, str]] = {
    "commune_code": ("Mã xã/phường (chính thức)", "Official commune/ward code"),
    "commune_name": ("Tên xã/phường", "Commune/ward name"),
    "level": ("Cấp: subdimension, dimension hoặc aggregate", "Level: subdimension, dimension or aggregate"),
    "code": (
        "Mã PAPI: 6.1 (nội dung thành phần), 6 (lĩnh vực), total",
        "PAPI code: 6.1 (sub-dimension), 6 (dimension), total",
    ),
    "n": ("Số người trả lời có giá trị (nội dung thành phần)", "Respondents with a value (sub-dimensions)"),
    "n_eff": ("Cỡ mẫu hiệu dụng Kish (Σw)²/Σw²", "Kish effective sample size (Σw)²/Σw²"),
    "p": ("Ước lượng trực tiếp có trọng số, thang 0–1", "Direct weighted estimate, 0–1 scale"),
    "se": ("Sai số chuẩn của điểm trực tiếp (thang PAPI)", "Standard error of the direct score (PAPI scale)"),
    "score": (
        "Điểm trực tiếp thang PAPI: 1/k + 9p/k; lĩnh vực 1–10; tổng 8–80",
        "Direct PAPI-scale score: 1/k + 9p/k; dimension 1–10; total 8–80",
    ),
    "ci_low": (
        "Cận dưới KTC 95% của điểm trực tiếp (Korn–Graubard cho nội dung thành phần)",
        "Direct score, 95% CI low (Korn–Graubard for sub-dimensions)",
    ),
    "ci_high": (
        "Cận trên KTC 95% của điểm trực tiếp (Korn–Graubard cho nội dung thành phần)",
        "Direct score, 95% CI high (Korn–Graubard for sub-dimensions)",
    ),
    "se_p": ("Sai số chuẩn của p, thang 0–1", "Standard error of p, 0–1 scale"),
    "p_eb": (
        "Ước lượng cho địa bàn nhỏ (Bayes thực nghiệm, Fay–Herriot), thang 0–1",
        "Small-area (empirical Bayes, Fay–Herriot) estimate, 0–1 scale",
    ),
    "mse_eb": (
        "Sai số bình phương trung bình của p_eb (Datta–Lahiri), thang 0–1",
        "Mean squared error of p_eb (Datta–Lahiri), 0–1 scale",
    ),
    "score_eb": (
        "Điểm Bayes thực nghiệm thang PAPI (dùng để xếp hạng)",
        "Empirical-Bayes score, PAPI scale (used for ranks)",
    ),
    "se_eb": (
        "Căn bậc hai MSE của điểm Bayes thực nghiệm (thang PAPI)",
        "Root mean squared error of score_eb (PAPI scale)",
    ),
    "ci_low_eb": ("Cận dưới khoảng 95% của điểm Bayes thực nghiệm", "Empirical-Bayes score, 95% interval low"),
    "ci_high_eb": ("Cận trên khoảng 95% của điểm Bayes thực nghiệm", "Empirical-Bayes score, 95% interval high"),
    "group": (
        "Nhóm theo điểm Bayes thực nghiệm: highest, high-average, low-average, lowest",
        "Group by empirical-Bayes score: highest, high-average, low-average, lowest",
    ),
    "rank": (
        "Thứ hạng theo điểm Bayes thực nghiệm (1 = tốt nhất) trong cùng cấp và mã",
        "Rank by empirical-Bayes score (1 = best) within level and code",
    ),
    "rank_low": (
        "Cận dưới khoảng 95% của thứ hạng (thứ hạng tốt nhất có thể)",
        "95% rank interval: best plausible rank",
    ),
    "rank_high": (
        "Cận trên khoảng 95% của thứ hạng (thứ hạng kém nhất có thể)",
        "95% rank interval: worst plausible rank",
    ),
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
    "incomplete": (
        "Thiếu ước lượng trực tiếp của ít nhất một phần, nên không có tổng trực tiếp",
        "A part has no direct estimate, so there is no direct sum",
    ),
    "one_respondent": (
        "Chỉ một người trả lời: không có sai số chuẩn hay khoảng tin cậy",
        "One respondent: no standard error or interval",
    ),
    "unweighted": ("Không có số liệu dân số: trọng số bằng nhau", "No population margins: equal weights"),
    "collapsed": (
        "Nhóm có dưới 5 người trả lời được gộp với nhóm khác trước khi cân chỉnh",
        "Categories with fewer than 5 respondents merged before raking",
    ),
    "not_raked": (
        "Có số liệu dân số nhưng không cân chỉnh theo biến này (không ai trả lời, quá ít người "
        "mỗi nhóm, hoặc phép cân chỉnh không hội tụ)",
        "Margins loaded but not raked on this variable (nobody answered it, too few respondents "
        "per category, or raking did not converge)",
    ),
    "trimmed": (
        "Trọng số vượt 5 lần trung bình bị cắt, phần dư chia cho người khác",
        "Weights above 5 × the mean trimmed and the excess shared out",
    ),
    "unreliable": (
        "Không đáng tin cậy theo Chuẩn trình bày tỷ lệ của NCHS 2017 (Parker và cộng sự): thận trọng khi dùng",
        "Unreliable by the NCHS 2017 Data Presentation Standards for Proportions (Parker et al.): use with care",
    ),
    "synthetic": (
        "Không ai trong xã trả lời: ước lượng chỉ từ mô hình (các xã khác)",
        "Nobody in this commune answered: estimate from the model only (other communes)",
    ),
    "suppressed": (
        "Dưới 5 người trả lời: ẩn số liệu (bản công khai)",
        "Fewer than 5 respondents: hidden (public output)",
    ),
    "weighted_by_n": (
        "Tỉnh: các xã được gộp theo số người trả lời, không theo dân số (thiếu số liệu dân số)",
        "Province: communes weighted by respondents, not population (margins missing)",
    ),
}
#: (Vietnamese, English) meaning of a flag with a suffix after ":", ``{detail}`` standing for
#: the suffix's meaning in :data:`FLAG_SUFFIX_MEANINGS` (``synthetic:k/K`` fills ``{k}``, ``{total}``).
FLAG_SUFFIX_TEMPLATES: dict[str, tuple[str, str]] = {
    "collapsed": (
        "Biến {detail}: các nhóm có dưới 5 người trả lời được gộp với nhóm khác trước khi cân chỉnh",
        "Categories of {detail} with fewer than 5 respondents merged before raking",
    ),
    "not_raked": (
        "Không cân chỉnh theo {detail}: có số liệu dân số nhưng không ai trả lời, quá ít người mỗi "
        "nhóm, hoặc phép cân chỉnh không hội tụ",
        "Not raked on {detail}: margins loaded, but nobody answered it, too few respondents per "
        "category, or raking did not converge",
    ),
    "unreliable": ("Không đáng tin cậy (chuẩn NCHS 2017): {detail}", "Unreliable (NCHS 2017 standard): {detail}"),
    "synthetic": (
        "{k} trong {total} nội dung thành phần là ước lượng chỉ từ mô hình",
        "{k} of its {total} sub-dimensions are estimated from the model only",
    ),
}
_VARIABLES = {
    "sex": ("giới tính", "sex"),
    "age_band": ("nhóm tuổi", "age band"),
    "ethnic_group": ("dân tộc", "ethnic group"),
}


def _vi(number: float) -> str:
    """A number as Vietnamese writes it (decimal comma)."""
    return f"{number:g}".replace(".", ",")


FLAG_SUFFIX_MEANINGS: dict[str, dict[str, tuple[str, str]]] = {
    "collapsed": _VARIABLES,
    "not_raked": _VARIABLES,
    "unreliable": {
        "n_eff": (f"cỡ mẫu hiệu dụng dưới {_vi(NCHS_MIN_N_EFF)}", f"effective sample size under {NCHS_MIN_N_EFF:g}"),
        "width": (
            f"khoảng tin cậy Korn–Graubard rộng từ {_vi(NCHS_MAX_WIDTH)} trở lên (thang 0–1), hoặc không có khoảng",
            f"Korn–Graubard interval {NCHS_MAX_WIDTH:g} wide or wider (0–1 scale), or no interval",
        ),
        "relative_width": (
            f"khoảng rộng hơn {NCHS_MAX_RELATIVE_WIDTH:.0%} của p "
            f"(độ rộng từ {_vi(NCHS_REVIEW_WIDTH)} đến {_vi(NCHS_MAX_WIDTH)})",
            f"interval wider than {NCHS_MAX_RELATIVE_WIDTH:.0%} of p "
            f"(width between {NCHS_REVIEW_WIDTH:g} and {NCHS_MAX_WIDTH:g})",
        ),
        "df": (f"bậc tự do dưới {NCHS_MIN_DF}", f"degrees of freedom under {NCHS_MIN_DF}"),
    },
    "synthetic": {"k/K": ("k nội dung thành phần trong K", "k of its K sub-dimensions")},
}
SYNTHETIC_COUNT = re.compile(r"^(\d+)/(\d+)$")

#: (Vietnamese, English) short name of each flag, shown on the analyst pages in place of the
#: code (the code stays in the legend, to match the exports, whose cells keep the codes).
FLAG_NAMES: dict[str, tuple[str, str]] = {
    "empty": ("không có người trả lời", "no respondents"),
    "incomplete": ("thiếu một phần", "part missing"),
    "one_respondent": ("một người trả lời", "one respondent"),
    "unweighted": ("không có trọng số", "unweighted"),
    "collapsed": ("gộp nhóm", "categories merged"),
    "not_raked": ("không cân chỉnh", "not raked"),
    "trimmed": ("cắt trọng số", "weights trimmed"),
    "unreliable": ("không đáng tin cậy", "unreliable"),
    "synthetic": ("chỉ từ mô hình", "model only"),
    "suppressed": ("ẩn", "hidden"),
    "weighted_by_n": ("gộp theo số người trả lời", "weighted by respondents"),
}
#: Short names of the suffixes whose meaning (FLAG_SUFFIX_MEANINGS) is a sentence.
FLAG_SUFFIX_NAMES: dict[str, dict[str, tuple[str, str]]] = {
    "unreliable": {
        "n_eff": ("cỡ mẫu hiệu dụng nhỏ", "small effective sample"),
        "width": ("khoảng quá rộng", "wide interval"),
        "relative_width": ("khoảng rộng so với p", "wide relative to p"),
        "df": ("ít bậc tự do", "few degrees of freedom"),
    },
}


def flag_name(flag: str, lang: str = "en") -> str:
    """The short name of one flag in ``vi`` or ``en`` (``collapsed:sex`` → ``gộp nhóm: giới tính``);
    an unknown code is returned as it is."""
    i = 0 if lang == "vi" else 1
    base, _, suffix = flag.partition(":")
    if base not in FLAG_NAMES:
        return flag
    name = FLAG_NAMES[base][i]
    if not suffix:
        return name
    if base == "synthetic":
        return f"{name}: {suffix}"
    names = FLAG_SUFFIX_NAMES.get(base) or FLAG_SUFFIX_MEANINGS.get(base, {})
    return f"{name}: {names.get(suffix, (suffix, suffix))[i]}"


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


def period_text(date_from: date | None, date_to: date | None) -> tuple[str, str]:
    """(Vietnamese, English) description of a period of submission days, open ends said in words."""
    if date_from and date_to:
        return f"{date_from.isoformat()} – {date_to.isoformat()}", f"{date_from.isoformat()} – {date_to.isoformat()}"
    if date_from:
        return f"từ {date_from.isoformat()} trở đi", f"from {date_from.isoformat()} on"
    if date_to:
        return f"đến hết {date_to.isoformat()}", f"up to {date_to.isoformat()}"
    return "tất cả phiếu trả lời", "all responses"


#: (Vietnamese, English) notes on reading the files, in every README sheet (commune codes first:
#: a spreadsheet or pandas that reads them as numbers drops the leading zero of 02647).
READING_NOTES: tuple[tuple[str, str], ...] = (
    (
        "Mã xã/phường (commune_code) là chuỗi ký tự 5 chữ số, có số 0 ở đầu (ví dụ 02647): hãy đọc dưới dạng văn "
        'bản, không phải số — pandas: pd.read_csv(..., dtype={"commune_code": str}) (hoặc dtype=str); '
        "Excel: nhập cột dưới dạng Text; Stata và Parquet đã lưu dạng chuỗi.",
        "Commune codes (commune_code) are 5-character text with leading zeros (e.g. 02647): read them as text, "
        'not numbers — pandas: pd.read_csv(..., dtype={"commune_code": str}) (or dtype=str); Excel: import '
        "the column as Text; Stata and Parquet already store them as strings.",
    ),
)


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
    (
        "Điểm mô phỏng theo PAPI từ khảo sát tại điểm dịch vụ — KHÔNG phải điểm PAPI chính thức.",
        "PAPI-style proxy scores from service-point surveys — NOT official PAPI scores.",
    ),
    (
        "Mỗi câu trả lời được quy về 0–1 theo bảng điểm của khảo sát; giá trị của người trả lời là trung bình "
        "các câu cùng nội dung thành phần.",
        "Each answer is mapped to 0–1 by the survey's score map; a respondent's value is the mean of their items "
        "per sub-dimension.",
    ),
    (
        "Trọng số: mỗi xã một lần, cho mọi người trả lời trong kỳ: nhóm có dưới 5 người được gộp (collapsed), "
        "rồi cân chỉnh (raking) theo giới tính, nhóm tuổi, dân tộc khi có số liệu dân số, như rake() của gói R "
        "survey; trọng số vượt 5 lần trung bình bị cắt như trimWeights() (Lumley 2010).",
        "Weights: once per commune, over all its respondents in the period: categories with fewer than 5 "
        "respondents merged (collapsed), then raked to sex, age band and ethnic group margins when loaded, as R "
        "survey's rake(); weights above 5 × the mean trimmed as trimWeights() (Lumley 2010).",
    ),
    (
        "Ước lượng trực tiếp: mỗi nội dung thành phần là một miền của mẫu có trọng số của xã; sai số chuẩn từ "
        'phần dư của phép cân chỉnh (như svymean); khoảng tin cậy 95% Korn–Graubard (svyciprop, method = "beta"; '
        "Korn & Graubard 1998); khi mọi câu trả lời giống nhau, dùng cỡ mẫu hiệu dụng Kish.",
        "Direct estimates: each sub-dimension is a domain of the commune's weighted sample; standard errors from "
        'the calibration residuals (as svymean); 95% Korn–Graubard intervals (svyciprop, method = "beta"; '
        "Korn & Graubard 1998); when all answers are alike, the Kish effective sample size is used.",
    ),
    (
        "Độ tin cậy: cờ unreliable theo Chuẩn trình bày tỷ lệ của NCHS (Parker và cộng sự 2017): cỡ mẫu hiệu dụng "
        "< 30, khoảng rộng ≥ 0,30, độ rộng tương đối > 130%, bậc tự do < 8.",
        "Reliability: flag unreliable by the NCHS Data Presentation Standards for Proportions (Parker et al. 2017): "
        "effective sample size < 30, interval width ≥ 0.30, relative width > 130%, degrees of freedom < 8.",
    ),
    (
        "Ước lượng cho địa bàn nhỏ (cột _eb): mô hình Fay–Herriot (1979) cho từng nội dung thành phần trên các xã "
        "của tỉnh, phương sai mẫu được làm trơn (gộp), ước lượng REML, có biến chỉ báo phường khi tỉnh có ít nhất "
        "2 phường và 2 xã có số liệu; MSE theo Datta & Lahiri (2000); khoảng 95% = EB ± 1,96 √MSE. Xã không ai "
        "trả lời một nội dung nhận ước lượng tổng hợp từ mô hình (cờ synthetic).",
        "Small-area estimates (_eb columns): a Fay–Herriot (1979) model per sub-dimension over the province's "
        "communes, with smoothed (pooled) sampling variances, fitted by REML, with a ward indicator when at least "
        "2 wards and 2 communes have data; MSE by Datta & Lahiri (2000); 95% interval EB ± 1.96 √MSE. A commune "
        "where nobody answered a sub-dimension gets the model's synthetic estimate (flag synthetic).",
    ),
    (
        "Lĩnh vực = tổng các nội dung thành phần; tổng hợp = tổng 8 lĩnh vực (phương sai và MSE cộng lại, giả "
        "định độc lập); khoảng 95% của chúng = điểm ± 1,96 SE, cắt trong thang 1–10 hoặc 8–80.",
        "Dimension = sum of its sub-dimensions; aggregate = sum of the 8 dimensions (variances and MSEs added, "
        "independence assumed); their 95% intervals are score ± 1.96 SE, clipped to 1–10 or 8–80.",
    ),
    (
        "Xếp hạng và nhóm: theo điểm Bayes thực nghiệm, mọi xã có người trả lời (1 = tốt nhất, bằng điểm thì cùng "
        "hạng nhỏ hơn); khoảng thứ hạng 95% = phân vị 2,5 và 97,5 của thứ hạng qua 1.000 lần rút θ ~ N(EB, MSE) "
        "(hạt giống cố định, cùng số liệu cho cùng kết quả); 4 nhóm như PAPI.",
        "Ranks and groups: by empirical-Bayes score, every commune with responses (1 = best, ties share the "
        "smaller rank); 95% rank interval = 2.5th and 97.5th percentiles of the ranks over 1,000 draws "
        "θ ~ N(EB, MSE) (fixed seed: the same data give the same interval); four groups as in PAPI.",
    ),
    (
        "Cấp tỉnh: trung bình các xã theo dân số (hoặc theo số người trả lời), khoảng tin cậy chuẩn; "
        "không có cột _eb hay thứ hạng.",
        "Province level: communes averaged by population (or by respondents), normal intervals; no _eb columns "
        "or ranks.",
    ),
    ("Chi tiết: docs/methodology.md.", "Details: docs/methodology.md."),
)
