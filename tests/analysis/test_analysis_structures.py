"""Tests for PAPI structures, names, plan targets and the official scores loader."""

from pathlib import Path

import pytest

from analysis import (
    DIMENSION_NAMES,
    PLAN_TARGETS,
    STRUCTURES,
    SUBDIMENSION_NAMES,
    get_structure,
    load_official_scores,
    plan_targets_frame,
)

OFFICIAL = Path(__file__).resolve().parents[2] / "feedback" / "data" / "papi_official_lao_cai.csv"


def test_structures():
    assert STRUCTURES["2018"]["5"] == ("5.1", "5.2", "5.3", "5.4")
    assert STRUCTURES["2018"]["8"] == ("8.1", "8.2")
    assert STRUCTURES["current"]["5"] == ("5.1", "5.3", "5.4")
    assert STRUCTURES["current"]["8"] == ("8.1", "8.2", "8.3")
    assert len(STRUCTURES["2018"].subdimensions) == 28
    assert len(STRUCTURES["current"].subdimensions) == 28
    assert STRUCTURES["current"].k("7") == 3
    assert STRUCTURES["current"].dimension_of("6.4") == "6"
    with pytest.raises(ValueError):
        STRUCTURES["current"].dimension_of("5.2")
    with pytest.raises(ValueError, match="unknown PAPI structure"):
        get_structure("1999")


def test_names_cover_every_code():
    codes = {s for st in STRUCTURES.values() for s in st.subdimensions}
    assert codes == set(SUBDIMENSION_NAMES)
    assert DIMENSION_NAMES["6"].vi == "Cung ứng dịch vụ công"


def test_plan_targets():
    assert PLAN_TARGETS["6"].target_2019 == 7.22
    frame = plan_targets_frame()
    # The eight 2019 targets add up to the aggregate target 46.96.
    dims = frame[frame["level"] == "dimension"]
    assert dims["target_2019"].sum() == pytest.approx(46.96)
    assert dims["baseline_2018"].sum() == pytest.approx(44.37)


def test_load_official_rejects_bad_file(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("year,code,score\n2018,1,5.4\n")
    with pytest.raises(ValueError, match="lacks column"):
        load_official_scores(path)


def test_load_official_lao_cai():
    official = load_official_scores(OFFICIAL)
    assert official["code"].map(type).eq(str).all()
    total_2018 = official.query("year == 2018 and code == 'total'")["score"].item()
    assert total_2018 == 44.37
    # Each dimension equals the sum of its sub-dimensions in its year's structure.
    y2018 = official[official["year"] == 2018].set_index("code")["score"]
    for dim, subs in STRUCTURES["2018"].items():
        assert y2018[list(subs)].sum() == pytest.approx(y2018[dim], abs=0.011)
