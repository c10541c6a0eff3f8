"""The survey catalog: every shipped definition loads, follows the rules, and never changes."""

from __future__ import annotations

import shutil
import unicodedata
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from surveys import (
    RESPONDENT_IDS,
    catalog,
    check_answers,
    forbidden_character,
    load_catalog,
    normalise_text,
    scored_rows,
)
from surveys.loader import ROOT, read_lock, read_yaml

from .helpers import valid_answers

SURVEYS = catalog().all_current()
AREAS = {"health", "school", "one_stop", "land", "commune_office"}


def test_one_survey_per_service_area():
    assert {s.service_area for s in SURVEYS} == AREAS


@pytest.mark.parametrize("survey", SURVEYS, ids=lambda s: s.slug)
def test_survey_rules(survey):
    for module in survey.modules or (None,):
        assert len([q for q in survey.shown(module) if not q.respondent]) <= 10, "one respondent sees at most 10"
    assert tuple(q.id for q in survey.respondent_questions) == RESPONDENT_IDS
    ratings = [q for q in survey.main_questions if q.type == "rating" and q.required]
    assert len(ratings) == 1, "exactly one required overall satisfaction rating"
    for q in survey.questions:
        assert q.label.vi and q.label.en
        if q.scored:
            assert any(o.score == 1 for o in q.options), f"{q.id}: favourable answer must score 1"
            if q.type == "yes_no":
                assert q.score_of("dont_know") is None


@pytest.mark.parametrize("survey", SURVEYS, ids=lambda s: s.slug)
def test_valid_answers_pass_and_score(survey):
    clean, problems = check_answers(survey, valid_answers(survey))
    assert problems == []
    rows = scored_rows(survey, clean)
    assert any(r["subdimension"] for r in rows)


def test_shipped_versions_never_change():
    """Editing a shipped version must fail here: ship the change as v<N+1> and run `flask lock-surveys`."""
    lock = read_lock()
    for s in catalog().all_versions():
        key = f"{s.slug}@{s.version}"
        assert key in lock, f"{key} is not locked: run `flask --app wsgi lock-surveys`"
        assert lock[key] == s.digest, f"{s.source} changed after it was shipped; add a new version instead"


def test_new_version_becomes_current(tmp_path):
    root = tmp_path / "surveys"
    shutil.copytree(ROOT / "definitions", root / "definitions")
    shutil.copytree(ROOT / "respondent", root / "respondent")
    raw = read_yaml(root / "definitions/health/v1.yaml")
    raw["version"] = 2
    raw["questions"][-2]["label"]["en"] = "Overall, how satisfied are you?"
    (root / "definitions/health/v2.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True))
    cat = load_catalog(root)
    assert cat.current("health").version == 2 and cat.get("health", 1) is not None
    assert cat.get("health", 1).digest != cat.get("health", 2).digest


def _broken(tmp_path: Path, mutate) -> Path:
    root = tmp_path / "surveys"
    shutil.copytree(ROOT / "respondent", root / "respondent")
    (root / "definitions/health").mkdir(parents=True)
    raw = read_yaml(ROOT / "definitions/health/v1.yaml")
    mutate(raw)
    (root / "definitions/health/v1.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True))
    return root


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda r: r["questions"][1].update(type="slider"), "question 2 (health_insurance): type must be one of"),
        (lambda r: r["questions"][1].update(subdimension="9.9"), "unknown PAPI sub-dimension"),
        (lambda r: r["questions"][1].update(score={"yes": 2}), "score must be a number in [0, 1]"),
        (lambda r: r["questions"][1].update(relevant={"question": "overall", "in": ["1"]}), "not an earlier question"),
        (
            lambda r: r["questions"][1].update(relevant={"question": "used_service", "in": ["maybe"]}),
            "are not options of used_service",
        ),
        (lambda r: r["questions"][1].update(id="used_service"), "duplicate question id"),
        (lambda r: r["questions"][1]["label"].pop("en"), "expected a text with 'vi' and 'en'"),
        (
            lambda r: r["questions"].append({"id": "sex", "type": "text", "label": {"vi": "a", "en": "b"}}),
            "reserved for the respondent block",
        ),
        (lambda r: r.update(version=3), "file must be definitions/health/v3.yaml"),
        (lambda r: r.update(service_area="market"), "service_area must be one of"),
    ],
)
def test_loader_names_file_and_question(tmp_path, mutate, message):
    with pytest.raises(ValueError, match="definitions/health/v1.yaml") as err:
        load_catalog(_broken(tmp_path, mutate))
    assert message in str(err.value)


def test_yes_no_values_stay_strings():
    q = catalog().current("health").question("informal_payment")
    assert q.score_of("yes") == 0.0 and q.score_of("no") == 1.0


def test_modules_rotate_in_the_web_form(tmp_path):
    """A survey with modules: each web respondent sees the core and exactly one module."""
    root = tmp_path / "surveys"
    shutil.copytree(ROOT / "respondent", root / "respondent")
    (root / "definitions/health").mkdir(parents=True)
    raw = read_yaml(ROOT / "definitions/health/v1.yaml")
    raw["questions"][6]["module"] = "a"  # fees_posted
    raw["questions"][8]["module"] = "b"  # comment
    (root / "definitions/health/v1.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True))
    survey = load_catalog(root).current("health")
    assert survey.modules == ("a", "b")
    shown = {q.id for q in survey.shown("a")}
    assert "fees_posted" in shown and "comment" not in shown and "overall" in shown


@pytest.mark.parametrize(
    "change, message",
    [
        ({"module": "a", "required": True}, "cannot be required"),
        ({"module": "A b"}, "module must be a short lower-case name"),
    ],
)
def test_module_rules(tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        load_catalog(_broken(tmp_path, lambda r: r["questions"][7].update(change)))


# --- Text normalisation (issue 12): properties of the one spelling every channel stores ---------

# Any code point (lone surrogates too), with line breaks, tabs, combining marks and Vietnamese
# letters in both spellings drawn often.
PIECES = st.sampled_from(["\r\n", "\r", "\n", "\t", " ", "e", "ê", "ệ", "e\u0302\u0323", "\u0323", "\u0302", "Đ", "x"])
TEXTS = st.lists(PIECES | st.characters(exclude_categories=()), max_size=40).map("".join)


@given(TEXTS)
def test_normalise_text_is_idempotent_nfc_and_without_cr(text):
    once = normalise_text(text)
    assert normalise_text(once) == once
    assert unicodedata.is_normalized("NFC", once)
    assert "\r" not in once
    # Every line break stays one line break: CR LF, CR and LF each count once.
    assert once.count("\n") == text.count("\n") + text.count("\r") - text.count("\r\n")


@given(TEXTS)
def test_a_text_answer_is_checked_and_stored_as_its_normal_spelling(text):
    survey = catalog().current("health")
    normal = normalise_text(text)
    clean, problems = check_answers(survey, {"used_service": "no", "overall": "3", "comment": text})
    codes = [p.code for p in problems if p.question == "comment"]
    if not normal.strip():
        assert "comment" not in clean and codes == []
    elif forbidden_character(normal):
        assert codes == ["control_character"]
    elif len(normal.strip()) > 500:
        assert codes == ["too_long"]
    else:
        assert codes == [] and clean["comment"] == normal.strip()
    # Any spelling of the same text gives the same result.
    assert check_answers(survey, {"used_service": "no", "overall": "3", "comment": normal}) == (clean, problems)


@given(st.integers(0, 1000), st.sampled_from(["NFC", "NFD"]))
def test_length_is_counted_after_normalisation(letters, form):
    survey = catalog().current("health")
    text = unicodedata.normalize(form, "ệ" * letters)  # three code points each in NFD
    clean, problems = check_answers(survey, {"used_service": "no", "overall": "3", "comment": text})
    if letters == 0:
        assert "comment" not in clean and problems == []
    elif letters <= 500:
        assert problems == [] and clean["comment"] == "ệ" * letters
    else:
        assert [(p.code, p.params["length"]) for p in problems] == [("too_long", letters)]


@given(st.characters(categories=["Cc", "Cs"]).filter(lambda c: c not in "\n\t\r"), TEXTS)
def test_control_characters_are_refused_anywhere_in_an_answer(char, text):
    survey = catalog().current("health")
    _, problems = check_answers(survey, {"used_service": "no", "overall": "3", "comment": f"a{char}{text}"})
    [problem] = [p for p in problems if p.question == "comment"]
    assert problem.code == "control_character" and problem.params["char"] == f"U+{ord(char):04X}"
    assert problem.params["label"] == survey.question("comment").label


@pytest.mark.parametrize("question, value", [("used_service", "no\x07"), ("overall", "3\x00"), ("sex", ["female\x1b"])])
def test_control_characters_are_named_in_every_kind_of_answer(question, value):
    survey = catalog().current("health")
    answers = {"used_service": "no", "overall": "3", question: value}
    _, problems = check_answers(survey, answers)
    assert [(p.question, p.code) for p in problems] == [(question, "control_character")]


# ---- invisible and bidi format characters are not text ---------------------------------------


@pytest.mark.parametrize(
    "char",
    [
        "\u202e",
        "\u202d",
        "\u2066",
        "\u200b",
        "\u200d",
        "\u2060",
        "\ufeff",
        "\u00ad",  # Cf
        "\u2028",
        "\u2029",  # Zl, Zp
        "\ue000",
        "\U000f0000",  # Co (private use)
        "\ud800",  # Cs
        "\ufdd0",
        "\ufdef",
        "\ufffe",
        "\uffff",
        "\U0001fffe",
        "\U0010ffff",  # noncharacters
    ],
)
def test_format_and_noncharacters_are_forbidden(char):
    assert forbidden_character(f"Chờ{char}lâu") == f"U+{ord(char):04X}"


@pytest.mark.parametrize("text", ["Chờ lâu\n\tquá", "Xin chào 👍🏽", "家", "\u0301e"])
def test_ordinary_text_is_allowed(text):
    assert forbidden_character(text) is None


def test_a_comment_of_zero_width_spaces_is_refused_naming_the_code_point():
    survey = catalog().current("health")
    _, problems = check_answers(survey, {**valid_answers(survey), "comment": "\u200b\u200b"})
    assert [(p.question, p.code, p.params["char"]) for p in problems] == [("comment", "control_character", "U+200B")]


def test_a_comment_of_white_space_only_is_no_answer():
    survey = catalog().current("health")
    answers, problems = check_answers(survey, {**valid_answers(survey), "comment": " \n\t\u3000 "})
    assert problems == [] and "comment" not in answers
