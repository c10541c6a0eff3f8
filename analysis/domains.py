"""Domain means of a raked design and their linearisation variance with calibration residuals."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from analysis._inputs import RAKING_VARIABLES
from analysis.design import CommuneDesigns

__all__ = ["DomainEstimates", "estimate_domain_blocks", "estimate_domains"]

#: Backfitting passes over the raking margins, as R's ``svyrecvar`` runs for a raked design.
RESIDUAL_PASSES = 10


@dataclass(frozen=True)
class DomainEstimates:
    """Per commune × sub-dimension (arrays of shape (communes, sub-dimensions)).

    ``n`` respondents with a value, ``n_eff`` Kish effective n of their weights, ``p`` the
    weighted mean, ``variance`` its design-based variance (NaN when the commune's design
    has one respondent), ``within`` the weighted within-domain variance
    Σw(y − p)²/Σw, ``rows`` the commune design's size.
    """

    n: npt.NDArray[np.float64]
    n_eff: npt.NDArray[np.float64]
    p: npt.NDArray[np.float64]
    variance: npt.NDArray[np.float64]
    within: npt.NDArray[np.float64]
    rows: npt.NDArray[np.float64]


def estimate_domains(
    designs: CommuneDesigns,
    respondent: npt.NDArray[np.intp],
    subdimension: npt.NDArray[np.intp],
    value: npt.NDArray[np.float64],
    *,
    n_subdimensions: int,
) -> DomainEstimates:
    r"""Weighted domain means and their variance under each commune's raked design.

    Parameters
    ----------
    designs
        The communes' weighted designs (:func:`analysis.design.build_designs`).
    respondent, subdimension, value
        One row per respondent × sub-dimension with a value y in [0, 1].
    n_subdimensions
        Number of sub-dimensions (columns of the result).

    Returns
    -------
    DomainEstimates

    Notes
    -----
    For commune c with design respondents i = 1…N, weights :math:`w_i`, and domain
    :math:`D_s` (respondents with a value for s): :math:`\hat p = \sum_{D_s} w_i y_i /
    \sum_{D_s} w_i`. The estimating function :math:`u_i = w_i (y_i - \hat p)/\sum_{D_s}
    w` is 0 outside the domain. For a raked design it is replaced by its residual
    against the raking margins, computed as R's ``survey`` does: ten backfitting passes
    over the margins, each setting :math:`u \leftarrow u - w^{(v)} \cdot
    \overline{(u / w^{(v)})}_{g_v}` (the mean over the respondents of the same margin
    category :math:`g_v`), with :math:`w^{(v)}` the weights right after the last raking
    step on v. Then :math:`\widehat V(\hat p) = \frac{N}{N-1}\sum_i (z_i - \bar z)^2`,
    the with-replacement one-stage variance over all N respondents of the commune
    (Lumley 2010, §2.2 and §7.4; Deville & Särndal 1992). Without raking z = u.

    Everything is computed on cells (respondents sharing a commune and merged raking
    categories, hence weights): within a cell the residual is u plus a cell constant.
    """
    respondent = np.asarray(respondent)
    subdimension = np.asarray(subdimension, dtype=np.intp)
    value = np.asarray(value, dtype=float)
    order = np.argsort(subdimension, kind="stable")  # each domain's values keep their order
    bounds = np.searchsorted(subdimension[order], np.arange(n_subdimensions + 1))
    blocks = (
        (s, respondent[order[bounds[s] : bounds[s + 1]]], value[order[bounds[s] : bounds[s + 1]]])
        for s in range(n_subdimensions)
        if bounds[s + 1] > bounds[s]
    )
    return estimate_domain_blocks(designs, blocks, n_subdimensions=n_subdimensions)


def estimate_domain_blocks(
    designs: CommuneDesigns,
    blocks: Iterable[tuple[int, npt.NDArray[np.integer], npt.NDArray[np.float64]]],
    *,
    n_subdimensions: int,
) -> DomainEstimates:
    """:func:`estimate_domains` from one block per sub-dimension, consumed one at a time.

    Parameters
    ----------
    designs
        The communes' weighted designs.
    blocks
        ``(s, respondents, values)`` per sub-dimension s (each at most once), as
        :func:`analysis._inputs.subvalue_blocks` yields them; the values of a cell are
        summed in the order given.
    n_subdimensions
        Number of sub-dimensions.

    Returns
    -------
    DomainEstimates
        As :func:`estimate_domains`. Only per-(sub-dimension, cell) sums are kept, so
        memory is :math:`O(S \times \text{cells})` however many respondents there are.
    """
    n_cells = len(designs.count)
    n_communes = designs.n_communes
    span = n_subdimensions * n_cells
    # Per (sub-dimension, cell), rows in sub-dimension-major order: values, their sum and
    # the sum of squares about the cell mean.
    count = np.zeros(span)
    total = np.zeros(span)
    squares = np.zeros(span)
    for s, who, value in blocks:
        cell = designs.cell_of[who]
        if (cell < 0).any():
            raise ValueError("a scored answer belongs to a respondent outside every design")
        part = slice(s * n_cells, (s + 1) * n_cells)
        n_s = np.bincount(cell, minlength=n_cells)
        total[part] = np.bincount(cell, weights=value, minlength=n_cells)
        mean_s = np.divide(total[part], n_s, out=np.zeros(n_cells), where=n_s > 0)
        squares[part] = np.bincount(cell, weights=np.square(value - mean_s[cell]), minlength=n_cells)
        count[part] = n_s
    cell_mean = np.divide(total, count, out=np.zeros(span), where=count > 0)

    cell_of_row = np.tile(np.arange(n_cells), n_subdimensions)
    sub_of_row = np.repeat(np.arange(n_subdimensions), n_cells)
    w = designs.weight[cell_of_row]
    domain = designs.commune[cell_of_row] * n_subdimensions + sub_of_row
    n_domains = n_communes * n_subdimensions
    n = np.bincount(domain, weights=count, minlength=n_domains).astype(float, copy=False)  # float: weighted
    w_total = np.bincount(domain, weights=count * w, minlength=n_domains)
    wy = np.bincount(domain, weights=w * total, minlength=n_domains)
    w_squares = np.bincount(domain, weights=count * w**2, minlength=n_domains)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, wy / w_total, np.nan)
        n_eff = np.where(n > 0, w_total**2 / w_squares, 0.0)
    p_row = np.nan_to_num(p[domain])
    spread = squares + count * np.square(cell_mean - p_row)  # Σ_cell (y − p)², no cancellation
    scale = np.divide(w, w_total[domain], out=np.zeros_like(w), where=w_total[domain] > 0)
    t0 = scale * (total - count * p_row)  # Σ_cell u
    q0 = scale**2 * spread  # Σ_cell u²
    within = np.divide(
        np.bincount(domain, weights=w * spread, minlength=n_domains),
        w_total,
        out=np.full(n_domains, np.nan),
        where=n > 0,
    )

    members = designs.count[cell_of_row]
    shift = _residual_shift(designs, t0, n_subdimensions)
    sum_z = np.bincount(domain, weights=t0 + members * shift, minlength=n_domains)
    sum_z2 = np.bincount(domain, weights=q0 + 2 * shift * t0 + members * shift**2, minlength=n_domains)
    size = np.repeat(designs.size, n_subdimensions)
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = np.where(
            (size > 1) & (n > 0),
            size / (size - 1) * np.maximum(sum_z2 - sum_z**2 / size, 0.0),
            np.nan,
        )
    shape = (n_communes, n_subdimensions)
    return DomainEstimates(
        n=n.reshape(shape),
        n_eff=n_eff.reshape(shape),
        p=p.reshape(shape),
        variance=variance.reshape(shape),
        within=within.reshape(shape),
        rows=np.broadcast_to(designs.size[:, None], shape).copy(),
    )


def _residual_shift(
    designs: CommuneDesigns,
    t0: npt.NDArray[np.float64],
    n_subdimensions: int,
) -> npt.NDArray[np.float64]:
    """Per (sub-dimension, cell) constant added to u by the backfitting passes.

    ``t0`` is Σ u per (sub-dimension, cell), sub-dimension-major, length S × cells; so
    is the result. Each pass works on (S, cells) arrays: cells of communes not raked on a
    variable fall in a spare stratum whose mean is held at 0 (their shift is unchanged,
    as if they were left out), and every stratum sums its cells in the same order as a
    per-row loop would, so the result does not depend on this layout.
    """
    n_cells = len(designs.count)
    shape = (n_subdimensions, n_cells)
    t0 = t0.reshape(shape)
    members = designs.count
    shift = np.zeros(shape)
    margins = []
    for v in RAKING_VARIABLES:
        used = designs.raked_on[v][designs.commune]  # per cell
        if not used.any():
            continue
        n_strata = int(designs.margin[v].max()) + 2  # the last one is the spare
        stratum = np.where(used, designs.margin[v], n_strata - 1)
        key = (np.arange(n_subdimensions)[:, None] * n_strata + stratum).ravel()
        psw = np.where(used, designs.step_weight[v], 1.0)
        size = np.bincount(key, weights=np.broadcast_to(members, shape).ravel(), minlength=n_subdimensions * n_strata)
        size.reshape(n_subdimensions, n_strata)[:, -1] = 0.0  # spare: mean 0
        margins.append((key, psw, size))
    if not margins:
        return shift.ravel()
    ratio = np.empty(shape)
    for _ in range(RESIDUAL_PASSES):
        for key, psw, size in margins:
            np.multiply(members, shift, out=ratio)
            ratio += t0
            ratio /= psw
            sums = np.bincount(key, weights=ratio.ravel(), minlength=len(size))
            mean = np.divide(sums, size, out=np.zeros_like(sums), where=size > 0)
            shift -= psw * mean[key].reshape(shape)
    return shift.ravel()
