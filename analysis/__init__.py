"""Proxy PAPI statistics by commune: weights, estimates, small-area estimates, comparisons."""

from analysis.collapse import Collapse, collapse_categories
from analysis.compare import compare_periods, kruskal_communes, rollup_province
from analysis.estimates import korn_graubard_interval, nchs_reasons, papi_scale
from analysis.ranking import GROUPS, group_sizes, rank_and_group, rank_intervals
from analysis.scoring import (
    COLUMNS,
    FLAGS,
    commune_population,
    design_weights,
    respondent_values,
    score_communes,
)
from analysis.small_area import FayHerriotResult, fay_herriot, smoothed_variances
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
from analysis.weights import RakeResult, kish_n_eff, rake, trim_weights

__all__ = [
    "COLUMNS",
    "DIMENSION_NAMES",
    "FLAGS",
    "GROUPS",
    "PLAN_TARGETS",
    "STRUCTURES",
    "SUBDIMENSION_NAMES",
    "Collapse",
    "FayHerriotResult",
    "RakeResult",
    "Structure",
    "collapse_categories",
    "commune_population",
    "compare_periods",
    "design_weights",
    "fay_herriot",
    "get_structure",
    "group_sizes",
    "kish_n_eff",
    "korn_graubard_interval",
    "kruskal_communes",
    "load_official_scores",
    "nchs_reasons",
    "papi_scale",
    "plan_targets_frame",
    "rake",
    "rank_and_group",
    "rank_intervals",
    "respondent_values",
    "rollup_province",
    "score_communes",
    "smoothed_variances",
    "trim_weights",
]
