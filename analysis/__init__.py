"""Proxy PAPI statistics by commune: weights, estimates, small-area shrinkage, comparisons."""

from analysis.compare import compare_periods, kruskal_communes, rollup_province
from analysis.estimates import MeanEstimate, estimate_mean, papi_scale, t_interval
from analysis.ranking import GROUPS, group_sizes, rank_and_group
from analysis.scoring import COLUMNS, FLAGS, commune_population, respondent_values, score_communes
from analysis.small_area import FayHerriotResult, fay_herriot
from analysis.structures import (
    DIMENSION_NAMES,
    PLAN_TARGETS,
    STRUCTURES,
    SUBDIMENSION_NAMES,
    Structure,
    get_structure,
    load_official_scores,
    plan_targets_frame,
)
from analysis.weights import RakeResult, cap_weights, kish_n_eff, rake

__all__ = [
    "COLUMNS",
    "DIMENSION_NAMES",
    "FLAGS",
    "GROUPS",
    "PLAN_TARGETS",
    "STRUCTURES",
    "SUBDIMENSION_NAMES",
    "FayHerriotResult",
    "MeanEstimate",
    "RakeResult",
    "Structure",
    "cap_weights",
    "commune_population",
    "compare_periods",
    "estimate_mean",
    "fay_herriot",
    "get_structure",
    "group_sizes",
    "kish_n_eff",
    "kruskal_communes",
    "load_official_scores",
    "papi_scale",
    "plan_targets_frame",
    "rake",
    "rank_and_group",
    "respondent_values",
    "rollup_province",
    "score_communes",
    "t_interval",
]
