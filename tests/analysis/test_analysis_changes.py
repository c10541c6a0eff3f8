"""``analysis.changes``: supported changes between two periods, held against R on random data,
and each edge case on its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from analysis import supported_changes
from tests.analysis.r_reference import changes_reference

ROOT = Path(__file__).resolve().parents[2]
NAN = float("nan")


@pytest.mark.r
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_z_tests_and_adjusted_p_values_match_r(seed):
    """Random dimension scores of many communes (eight each, some missing in a period), with
    changes large and small: difference, SE, z, p and the Holm and Bonferroni adjustments per
    commune as R's ``pnorm`` and ``p.adjust`` give them."""
    rng = np.random.default_rng(seed)
    communes = 60
    family = np.repeat([f"{10000 + c:05d}" for c in range(communes)], 8)
    size = len(family)
    previous = rng.uniform(2, 8, size)
    shift = rng.normal(0, 1.0, size) * (rng.random(size) < 0.4)
    estimate = previous + shift + rng.normal(0, 0.2, size)
    mse, previous_mse = rng.uniform(0.01, 0.5, size) ** 2, rng.uniform(0.01, 0.5, size) ** 2
    estimate[rng.random(size) < 0.08] = np.nan  # suppressed or model-only this period
    previous[rng.random(size) < 0.08] = np.nan
    estimate[family == "10003"] = np.nan  # a commune with nothing to test
    previous_mse[5] = 0.0  # one period exact: still tested
    mse[7] = previous_mse[7] = 0.0  # nothing uncertain: no test
    ours = {
        adjust: supported_changes(
            estimate, mse=mse, previous=previous, previous_mse=previous_mse, family=family, adjust=adjust
        )
        for adjust in ("holm", "bonferroni", "none")
    }
    r = changes_reference(estimate, mse, previous, previous_mse, family)
    holm = ours["holm"]
    np.testing.assert_allclose(holm.difference, r["difference"], rtol=0, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(holm.z, r["z"], rtol=1e-12, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(holm.p_value, r["p"], rtol=1e-10, atol=1e-15, equal_nan=True)
    np.testing.assert_allclose(holm.p_adjusted, r["holm"], rtol=1e-10, atol=1e-15, equal_nan=True)
    np.testing.assert_allclose(ours["bonferroni"].p_adjusted, r["bonferroni"], rtol=1e-10, atol=1e-15, equal_nan=True)
    np.testing.assert_allclose(ours["none"].p_adjusted, r["p"], rtol=1e-10, atol=1e-15, equal_nan=True)
    tested = np.isfinite(r["p"].to_numpy())
    np.testing.assert_allclose(holm.se[tested], r["se"][tested], rtol=1e-12)
    assert (holm.significant == (np.nan_to_num(r["holm"].to_numpy(), nan=1) < 0.05)).all()
    assert 0 < holm.significant.sum() < ours["none"].significant.sum()  # the adjustment matters here


def test_a_hand_checked_change():
    """5.0 ± 0.2 now, 4.0 ± 0.2 before: Δ = 1, SE = √0.08 = 0.28284, z = 3.5355, p = 0.000407."""
    tests = supported_changes([5.0], mse=[0.04], previous=[4.0], previous_mse=[0.04])
    assert tests.difference[0] == pytest.approx(1.0)
    assert tests.se[0] == pytest.approx(0.2828427125)
    assert tests.z[0] == pytest.approx(3.5355339059)
    assert tests.p_value[0] == pytest.approx(4.0695e-4, rel=1e-4)
    assert tests.significant.tolist() == [True] and tests.direction.tolist() == [1]


def test_holm_by_hand():
    """p = 0.01, 0.04, 0.03 in one family of three: Holm gives 0.03, 0.06, 0.06."""
    z = [2.5758293035489, 2.0537489106318, 2.1700903775846]  # two-sided p 0.01, 0.04, 0.03
    tests = supported_changes(z, mse=[0.5, 0.5, 0.5], previous=[0, 0, 0], previous_mse=[0.5, 0.5, 0.5])
    np.testing.assert_allclose(tests.p_value, [0.01, 0.04, 0.03], rtol=1e-9)
    np.testing.assert_allclose(tests.p_adjusted, [0.03, 0.06, 0.06], rtol=1e-9)
    assert tests.significant.tolist() == [True, False, False]
    unadjusted = supported_changes(z, mse=[0.5] * 3, previous=[0] * 3, previous_mse=[0.5] * 3, adjust="none")
    assert unadjusted.significant.tolist() == [True, True, True]


def test_families_are_adjusted_apart():
    """The same p-values in two families give the same adjusted values as each family alone."""
    z = [3.0, 2.2, -2.4, 0.3]
    alone = supported_changes(z, mse=[0.5] * 4, previous=[0] * 4, previous_mse=[0.5] * 4)
    both = supported_changes(
        z + z, mse=[0.5] * 8, previous=[0] * 8, previous_mse=[0.5] * 8, family=["b"] * 4 + ["a"] * 4
    )
    np.testing.assert_allclose(both.p_adjusted, np.r_[alone.p_adjusted, alone.p_adjusted])
    assert both.direction.tolist() == alone.direction.tolist() * 2


def test_a_fall_is_minus_one():
    tests = supported_changes([3.0], mse=[0.01], previous=[5.0], previous_mse=[0.01])
    assert tests.direction.tolist() == [-1] and tests.difference[0] == pytest.approx(-2.0)


def test_missing_estimates_are_not_tested_and_not_counted_in_the_family():
    """A NaN on either side: no test, and Holm's m counts only the tests made."""
    tests = supported_changes(
        [3.0, NAN, 4.0], mse=[0.5, 0.5, 0.5], previous=[0.0, 1.0, NAN], previous_mse=[0.5, 0.5, 0.5]
    )
    assert np.isnan(tests.p_value[1:]).all() and np.isnan(tests.z[1:]).all() and np.isnan(tests.se[1:]).all()
    assert tests.p_adjusted[0] == pytest.approx(tests.p_value[0])  # a family of one
    assert tests.significant.tolist() == [True, False, False] and tests.direction.tolist() == [1, 0, 0]


def test_no_uncertainty_means_no_test():
    tests = supported_changes([5.0, 5.0], mse=[0.0, 0.0], previous=[4.0, 5.0], previous_mse=[0.0, 0.0])
    assert np.isnan(tests.p_value).all() and not tests.significant.any()


def test_no_change_is_p_one():
    tests = supported_changes([4.0], mse=[0.1], previous=[4.0], previous_mse=[0.1])
    assert tests.p_value[0] == pytest.approx(1.0) and tests.direction.tolist() == [0]


def test_empty_input():
    tests = supported_changes([], mse=[], previous=[], previous_mse=[])
    assert tests.difference.shape == (0,) and tests.significant.shape == (0,)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mse": [0.1, 0.1]}, "same length"),
        ({"mse": [-0.1]}, "cannot be negative"),
        ({"alpha": 0}, "alpha must be between 0 and 1"),
        ({"alpha": 1.5}, "alpha must be between 0 and 1"),
        ({"adjust": "fdr"}, "adjust must be one of holm, bonferroni, none"),
        ({"family": ["a", "b"]}, "one label per estimate"),
        ({"mse": ["x"]}, "mse must be numbers"),
        ({"mse": [[0.1]]}, "one-dimensional"),
    ],
)
def test_bad_input_is_refused_with_a_message(kwargs, message):
    args = {"mse": [0.1], "previous": [1.0], "previous_mse": [0.1], **kwargs}
    with pytest.raises(ValueError, match=message):
        supported_changes([2.0], **args)


def test_the_module_does_not_load_the_web_stack():
    code = (
        "import analysis.changes, sys; "
        "assert not {'flask', 'sqlalchemy', 'feedback'} & set(sys.modules), sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
