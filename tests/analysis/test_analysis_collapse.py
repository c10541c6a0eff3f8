"""Tests for the merging of sparse raking categories."""

import pytest

from analysis import collapse_categories


@pytest.mark.parametrize(
    ("counts", "group", "collapsed"),
    [
        # 2 (fewest) joins its smaller neighbour 9; then 3 joins 10 (its only neighbour).
        ([3, 10, 2, 9], (0, 0, 1, 1), True),
        # Tie of neighbours (4 and 4): the earlier one, giving 5, 4, 20; then the 4 joins
        # its smaller neighbour, the 5.
        ([4, 1, 4, 20], (0, 0, 0, 1), True),
        # Fewest on a tie (0 and 0): the earliest first; empty categories merge too.
        ([0, 12, 9, 0], (0, 0, 1, 1), True),
        # Nothing sparse.
        ([5, 6, 7, 8], (0, 1, 2, 3), False),
        # Everything collapses into one group: not raked.
        ([1, 1, 1, 1], (0, 0, 0, 0), True),
    ],
)
def test_age_band_merges_with_neighbours(counts, group, collapsed):
    result = collapse_categories("age_band", counts, [100] * 4)
    assert result.group == group and result.collapsed == collapsed
    assert result.raked == (len(set(group)) > 1)


def test_ethnic_group_pools_sparse_categories():
    # hmong 3 and giay 4 pool to 7 >= 5, standing alone; the empty ones join that pool.
    result = collapse_categories("ethnic_group", [30, 3, 12, 0, 4, 0, 0, 0], [1] * 8)
    assert result.group == (0, 1, 2, 1, 1, 1, 1, 1) and result.collapsed
    # The pool (1 + 2 = 3) is still sparse: it joins the largest category (tay 20,
    # ahead of kinh 20? no: kinh comes first on a tie).
    result = collapse_categories("ethnic_group", [20, 1, 20, 0, 2, 0, 0, 0], [1] * 8)
    assert result.group == (0, 0, 1, 0, 0, 0, 0, 0) and result.n_groups == 2


def test_merging_empty_zero_population_categories_is_not_a_collapse():
    # dao..other have nobody and population 0: pooling them changes no weight.
    result = collapse_categories("ethnic_group", [30, 10, 8, 0, 0, 0, 0, 0], [50, 20, 10, 0, 0, 0, 0, 0])
    assert result.n_groups == 3 and not result.collapsed and result.raked


def test_sex_is_all_or_nothing():
    assert collapse_categories("sex", [10, 5], [1, 1]).raked
    result = collapse_categories("sex", [10, 4], [1, 1])
    assert not result.raked and result.group == (0, 1)


def test_bad_input():
    with pytest.raises(ValueError):
        collapse_categories("sex", [1, 2], [1])
    with pytest.raises(ValueError):
        collapse_categories("sex", [1, 2], [1, 1], min_cell=0)
