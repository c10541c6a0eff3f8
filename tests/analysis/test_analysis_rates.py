"""``analysis.rates``: rates above the rest of their family, held against R's ``fisher.test`` and
``p.adjust`` on random data, and each edge case on its own."""

from __future__ import annotations

import numpy as np
import pytest

from analysis import rates_above_rest
from tests.analysis.r_reference import rates_reference


@pytest.mark.r
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fisher_tests_and_bh_match_r(seed):
    """Random provinces of service points, a few with a raised rate, some without answers, one
    province of a single point: rates, one-sided Fisher p-values and Benjamini–Hochberg per
    province as R gives them."""
    rng = np.random.default_rng(seed)
    family = np.repeat(["10", "15", "20", "31"], [40, 60, 25, 1])
    answers = rng.integers(0, 60, len(family))
    answers[rng.random(len(family)) < 0.1] = 0
    base = np.where(family == "15", 0.05, 0.12)
    raised = rng.random(len(family)) < 0.1
    reports = rng.binomial(answers, np.where(raised, base * 4, base))
    ours = rates_above_rest(reports, answers=answers, family=family)
    raw = rates_above_rest(reports, answers=answers, family=family, adjust="none")
    r = rates_reference(reports, answers, family)
    np.testing.assert_allclose(ours.rate, r["rate"], rtol=1e-14, equal_nan=True)
    np.testing.assert_allclose(ours.rest_rate, r["rest_rate"], rtol=1e-14, equal_nan=True)
    np.testing.assert_allclose(ours.p_value, r["p"], rtol=1e-9, atol=1e-300, equal_nan=True)
    np.testing.assert_allclose(ours.p_adjusted, r["bh"], rtol=1e-9, atol=1e-300, equal_nan=True)
    np.testing.assert_allclose(raw.p_adjusted, r["p"], rtol=1e-9, atol=1e-300, equal_nan=True)
    assert np.isnan(ours.p_value[family == "31"]).all()  # alone in its province: nothing to compare with
    assert 0 < ours.significant.sum() < raw.significant.sum()  # the adjustment matters here


def test_a_hand_checked_table():
    """3 of 4 against 2 of 20: p = (C(5,3)·C(19,1) + C(5,4)) / C(24,4) = 195/10626."""
    tests = rates_above_rest([3, 2], answers=[4, 20], adjust="none")
    assert tests.p_value[0] == pytest.approx(195 / 10626, rel=1e-12)
    assert tests.rate.tolist() == [0.75, 0.1]
    assert tests.rest_rate.tolist() == [0.1, 0.75]
    assert tests.p_value[1] > 0.99  # 2 of 20 is below 3 of 4: nothing to warn of
    assert tests.significant.tolist() == [True, False]


def test_bh_by_hand():
    """Raw p-values p1 < p2 < p3 in one family: BH gives min over j ≥ i of 3·p(j)/j."""
    raw = rates_above_rest([3, 2, 4, 0], answers=[4, 5, 12, 40], adjust="none").p_value
    tested = rates_above_rest([3, 2, 4, 0], answers=[4, 5, 12, 40]).p_adjusted
    order = np.argsort(raw)
    m = len(raw)
    expected = np.minimum.accumulate((raw[order] * m / np.arange(1, m + 1))[::-1])[::-1]
    np.testing.assert_allclose(tested[order], np.minimum(expected, 1), rtol=1e-12)


def test_families_are_compared_and_adjusted_apart():
    """A unit is compared with its own family only: the same counts in another family change nothing."""
    alone = rates_above_rest([5, 1, 1], answers=[10, 20, 20])
    both = rates_above_rest([5, 1, 1, 0, 9], answers=[10, 20, 20, 30, 10], family=["a", "a", "a", "b", "b"])
    np.testing.assert_allclose(both.p_adjusted[:3], alone.p_adjusted, rtol=1e-12)
    assert both.significant[4] and not both.significant[3]


@pytest.mark.parametrize(
    ("reports", "answers", "tested"),
    [
        ([0, 0], [0, 10], [False, False]),  # no answers at the first; the second has no one else to compare with
        ([0, 0], [10, 10], [True, True]),  # nobody reported anything: p = 1
        ([10, 0], [10, 10], [True, True]),  # all against none
        ([4], [9], [False]),  # one unit alone
        ([], [], []),  # nothing at all
    ],
)
def test_edge_cases(reports, answers, tested):
    tests = rates_above_rest(reports, answers=answers)
    assert np.isfinite(tests.p_value).tolist() == tested
    assert not tests.significant[~np.asarray(tested, dtype=bool)].any()
    if reports == [0, 0] and tested == [True, True]:
        assert tests.p_value.tolist() == [1.0, 1.0] and not tests.significant.any()
    if reports == [10, 0]:
        assert tests.p_value[0] == pytest.approx(1 / 184756)  # 1 / C(20, 10)
        assert tests.significant.tolist() == [True, False]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reports": [3], "answers": [2]}, "more reports than answers"),
        ({"reports": [-1], "answers": [2]}, "whole numbers"),
        ({"reports": [1.5], "answers": [2]}, "whole numbers"),
        ({"reports": [float("nan")], "answers": [2]}, "whole numbers"),
        ({"reports": [1, 2], "answers": [2]}, "same length"),
        ({"reports": [[1]], "answers": [[2]]}, "one-dimensional"),
        ({"reports": [1], "answers": [2], "family": ["a", "b"]}, "one label per unit"),
        ({"reports": [1], "answers": [2], "alpha": 1.0}, "alpha"),
        ({"reports": [1], "answers": [2], "adjust": "holm"}, "adjust must be one of"),
    ],
)
def test_bad_input_is_named(kwargs, message):
    reports = kwargs.pop("reports")
    with pytest.raises(ValueError, match=message):
        rates_above_rest(reports, **kwargs)
