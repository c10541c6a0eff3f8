"""Survey definitions as data, their loader and the answer checks that every channel shares."""

from .answers import Problem, check_answers, forbidden_character, normalise_text, scored_rows
from .loader import Catalog, catalog, load_catalog, load_survey
from .model import RESPONDENT_IDS, Question, Survey

__all__ = [
    "Catalog",
    "Problem",
    "Question",
    "Survey",
    "RESPONDENT_IDS",
    "catalog",
    "check_answers",
    "forbidden_character",
    "load_catalog",
    "load_survey",
    "normalise_text",
    "scored_rows",
]
