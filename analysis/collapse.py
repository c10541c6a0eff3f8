"""Sparse raking categories merged before raking, by fixed deterministic rules."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Collapse", "collapse_categories"]

#: Ordered variables merge with a neighbour; the others pool their sparse categories.
ORDERED: frozenset[str] = frozenset({"age_band"})
#: Variables that are not raked on at all when a category is sparse.
ALL_OR_NOTHING: frozenset[str] = frozenset({"sex"})


@dataclass(frozen=True)
class Collapse:
    """How one variable's categories are merged in one commune.

    Attributes
    ----------
    group
        For each original category, the index of its merged group (0 … n_groups − 1, in
        category order of the group's first member).
    n_groups
        Number of merged groups.
    raked
        Whether the variable is raked on (False when one group is left, or for ``sex``
        when a category is sparse).
    collapsed
        Whether a merge joined two groups that both had respondents or population.
    """

    group: tuple[int, ...]
    n_groups: int
    raked: bool
    collapsed: bool


def collapse_categories(
    variable: str,
    counts: npt.ArrayLike,
    population: npt.ArrayLike,
    *,
    min_cell: int = 5,
) -> Collapse:
    r"""Merge the sparse categories of one raking variable in one commune.

    Parameters
    ----------
    variable
        ``"sex"``, ``"age_band"`` (ordered) or ``"ethnic_group"``.
    counts
        Respondents per category (after imputing missing values), in category order.
    population
        Population margin per category, same order (only used to tell whether a merge
        changes anything).
    min_cell
        Smallest number of respondents a category must have to stand alone (>= 1).

    Returns
    -------
    Collapse

    Notes
    -----
    * ``age_band`` (ordered): while more than one group remains and some group has fewer
      than ``min_cell`` respondents, the group with the fewest (earliest on a tie) is
      merged into its neighbour with fewer respondents (the earlier one on a tie; the
      only one at either end).
    * ``ethnic_group``: every category with fewer than ``min_cell`` respondents joins one
      pooled group; if the pooled group itself has fewer than ``min_cell``, it joins the
      largest remaining category (earliest on a tie).
    * ``sex``: not raked on if any category has fewer than ``min_cell`` respondents.
    * A variable left with one group is not raked on.

    A merge is reported as ``collapsed`` only when both sides had respondents or
    population: joining an empty category with population 0 changes no weight.

    Examples
    --------
    >>> collapse_categories("age_band", [3, 10, 2, 9], [30, 100, 20, 90]).group
    (0, 0, 1, 1)
    >>> c = collapse_categories("ethnic_group", [40, 3, 1, 0, 0, 0, 0, 0], [400, 30] + [10] * 6)
    >>> c.group, c.n_groups
    ((0, 0, 0, 0, 0, 0, 0, 0), 1)
    """
    n = np.asarray(counts, dtype=float)
    pop = np.asarray(population, dtype=float)
    if n.shape != pop.shape or n.ndim != 1 or n.size == 0:
        raise ValueError("counts and population must be 1-D arrays of the same length")
    if min_cell < 1:
        raise ValueError(f"min_cell must be at least 1, got {min_cell!r}")
    k = n.size
    if variable in ALL_OR_NOTHING:
        raked = bool(k > 1 and n.min() >= min_cell)
        return Collapse(tuple(range(k)), k, raked, False)
    # Groups as lists of original categories, with respondent counts and a "non-void" mark.
    members = [[c] for c in range(k)]
    size = [float(x) for x in n]
    solid = [bool(x > 0 or p > 0) for x, p in zip(n, pop, strict=True)]
    collapsed = False

    def merge(src: int, dst: int) -> None:
        nonlocal collapsed
        collapsed |= solid[src] and solid[dst]
        members[dst].extend(members[src])
        size[dst] += size[src]
        solid[dst] = solid[dst] or solid[src]
        del members[src], size[src], solid[src]

    if variable in ORDERED:
        while len(members) > 1 and min(size) < min_cell:
            j = int(np.argmin(size))
            if j == 0:
                target = 1
            elif j == len(members) - 1:
                target = j - 1
            else:
                target = j - 1 if size[j - 1] <= size[j + 1] else j + 1
            merge(j, target)
    else:
        sparse = [i for i in range(len(members)) if size[i] < min_cell]
        if sparse:
            head = sparse[0]
            for i in reversed(sparse[1:]):
                merge(i, head)
            if size[head] < min_cell and len(members) > 1:
                others = [i for i in range(len(members)) if i != head]
                largest = max(others, key=lambda i: (size[i], -i))
                merge(head, largest)
    group = [0] * k
    order = sorted(range(len(members)), key=lambda i: min(members[i]))
    for new, old in enumerate(order):
        for c in members[old]:
            group[c] = new
    n_groups = len(members)
    return Collapse(tuple(group), n_groups, n_groups > 1, collapsed)
