"""Proxy PAPI statistics by commune: weights, estimates, small-area estimates, comparisons."""

import importlib
from typing import TYPE_CHECKING, Any

#: Where each public name lives. Submodules load on first use (PEP 562), so importing
#: ``analysis`` for its names and structures does not load scipy.
_SUBMODULE_OF = {
    **dict.fromkeys(("ADJUSTMENTS", "ChangeTests", "supported_changes"), "changes"),
    **dict.fromkeys(("Collapse", "collapse_categories"), "collapse"),
    **dict.fromkeys(("compare_periods", "kruskal_communes", "rollup_province"), "compare"),
    **dict.fromkeys(("korn_graubard_interval", "nchs_reasons", "papi_scale"), "estimates"),
    **dict.fromkeys(("GROUPS", "group_sizes", "rank_and_group", "rank_intervals"), "ranking"),
    **dict.fromkeys(("RATE_ADJUSTMENTS", "RateTests", "rates_above_rest"), "rates"),
    **dict.fromkeys(
        ("COLUMNS", "FLAGS", "commune_population", "design_weights", "respondent_values", "score_communes"), "scoring"
    ),
    **dict.fromkeys(("FayHerriotResult", "fay_herriot", "smoothed_variances"), "small_area"),
    **dict.fromkeys(
        (
            "DIMENSION_NAMES",
            "PLAN_TARGETS",
            "STRUCTURES",
            "SUBDIMENSION_NAMES",
            "Structure",
            "get_structure",
            "load_official_scores",
            "plan_targets_frame",
        ),
        "structures",
    ),
    **dict.fromkeys(("RakeResult", "kish_n_eff", "rake", "trim_weights"), "weights"),
}


def __getattr__(name: str) -> Any:
    """Load the submodule defining ``name`` on first access (PEP 562)."""
    if name in set(_SUBMODULE_OF.values()):
        return importlib.import_module(f"analysis.{name}")  # sets the attribute itself
    if name not in _SUBMODULE_OF:
        raise AttributeError(f"module 'analysis' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"analysis.{_SUBMODULE_OF[name]}"), name)
    globals()[name] = value  # later accesses skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SUBMODULE_OF))


if TYPE_CHECKING:  # static checkers see the names as before
    from analysis.changes import ADJUSTMENTS, ChangeTests, supported_changes
    from analysis.collapse import Collapse, collapse_categories
    from analysis.compare import compare_periods, kruskal_communes, rollup_province
    from analysis.estimates import korn_graubard_interval, nchs_reasons, papi_scale
    from analysis.ranking import GROUPS, group_sizes, rank_and_group, rank_intervals
    from analysis.rates import RATE_ADJUSTMENTS, RateTests, rates_above_rest
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
    "ADJUSTMENTS",
    "COLUMNS",
    "DIMENSION_NAMES",
    "FLAGS",
    "GROUPS",
    "PLAN_TARGETS",
    "RATE_ADJUSTMENTS",
    "STRUCTURES",
    "SUBDIMENSION_NAMES",
    "ChangeTests",
    "Collapse",
    "FayHerriotResult",
    "RakeResult",
    "RateTests",
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
    "rates_above_rest",
    "respondent_values",
    "rollup_province",
    "score_communes",
    "smoothed_variances",
    "supported_changes",
    "trim_weights",
]
