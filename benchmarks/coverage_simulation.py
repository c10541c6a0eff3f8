"""Coverage of score_communes' intervals and ranks in simulated Lào Cai communes (issue 11).

Four quantities, each against the goal of issue 11, for binary and 5-point items:

1. Direct Korn–Graubard 95% intervals (``ci_low``..``ci_high`` of sub-dimension rows):
   coverage of the commune's true population mean, for a realised Kish n_eff near 10, 20,
   30, 60, 150 and a true mean p of 0.5, 0.8, 0.95. Goal ≥ 94% in every cell.
2. Small-area (EB) 95% intervals (``ci_low_eb``..``ci_high_eb``) in a Fay–Herriot world of
   99 communes at realistic volumes: coverage averaged over communes. Goal 93–97%.
3. RMSE of ``p_eb`` over RMSE of the direct ``p`` for commune × sub-dimension estimates
   resting on n < 30 respondents. Goal ≤ 0.8 (at least 20% lower).
4. Share of true ranks inside ``rank_low``..``rank_high``. Goal ≥ 90%.

The population. The 99 communes of docs/demo_margins_lao_cai.csv (population by sex, age band
and ethnic group; about 70% of Lào Cai's people belong to ethnic minorities). Within a commune
the 2 × 4 × 8 cells are the product of its one-way shares, and the raking margins passed to
``score_communes`` are these cells' one-way totals, so the margins are exactly the population
the truth is computed on.

Who answers. Respondents are drawn from the commune's cells with probability proportional to
population × selection odds: men, the young and Kinh people answer more often
(``SELECT_ODDS``; at province level about 41% of respondents are Kinh against 30% of the
population, 34% are aged 18–29 against 27%, 10% are 60+ against 16%). Each answer depends on
the same groups and on the respondent: its mean is π = logistic(offset + group effect +
respondent effect), with the demo's logit effects (``GROUP_EFFECT``: Kinh +0.25, Hmông −0.45,
Dao −0.25, women −0.05, 60+ +0.2, 18–29 −0.15) and a respondent effect N(0, 0.7²) shared by all
of a respondent's answers (the demo's ``RESPONDENT_SD``), so unweighted means are biased,
raking matters, and one respondent's answers to different sub-dimensions are correlated. A
binary item is 1 with probability π; a 5-point item (0, .25, .5, .75, 1) is
beta-binomial(4) / 4 with mean π and intra-class correlation ``LIKERT_RHO`` (answers spread
over the scale, not binomially tight).

Part 1 puts, for each target n_eff, one simulated commune per demo commune into a batch,
with every respondent answering six items (binary and 5-point, p = 0.5, 0.8, 0.95); the
commune's offset is solved so that its population mean (over groups and respondent effects)
is exactly p. The
number of respondents per target is chosen by a pilot run so that the mean realised Kish
n_eff (after category merging, raking and trimming) is near the target.

Parts 2–4 simulate a year of the product: each commune gets 200 × population / median
population responses, clipped to 60–400 (feedback/demo.py's rule); each response is one of the
five surveys (the local-governance survey with one of its three rotating modules), covering
the sub-dimensions of ``SURVEY_SUBDIMENSIONS``, so a commune × sub-dimension rests on 0–170
respondents (median about 15, 10th–90th percentile 7–51); 5% of answers are "don't know" and
each respondent question (sex, age band, ethnic group) is skipped by 15%, as in the demo. True
commune means θ_cs = logistic(μ + u_cs), μ = logit(p), u_cs ~ N(0, τ²) for each commune and
sub-dimension, τ = 0.6 (the demo's COMMUNE_SD), made of a commune effect shared by all
sub-dimensions, a commune × dimension effect and a commune × sub-dimension effect
(``TAU_SHARES``; ``--tau-shares 0 0 1`` makes the sub-dimensions independent). Within the
commune the groups and respondents differ as above around an offset solved so that the
population mean is θ_cs. The true dimension and aggregate scores are sums of the true
sub-dimension scores (PAPI scale), like the estimates. Every figure is computed by
``score_communes`` itself (min_n_eff=0 in part 1 so that no row is held back; defaults
otherwise).

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/coverage_simulation.py            # ~5-10 min
    PYTHONPATH=. .venv/bin/python benchmarks/coverage_simulation.py --quick    # ~1 min
    PYTHONPATH=. .venv/bin/python benchmarks/coverage_simulation.py --replicates 100 --direct-batches 50

Fixed seeds: the same arguments give the same figures.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analysis import STRUCTURES, papi_scale, score_communes  # noqa: E402
from analysis._inputs import CATEGORIES  # noqa: E402

MARGINS_CSV = ROOT / "docs" / "demo_margins_lao_cai.csv"
SEX, AGE, ETHNIC = CATEGORIES["sex"], CATEGORIES["age_band"], CATEGORIES["ethnic_group"]
N_CELLS = len(SEX) * len(AGE) * len(ETHNIC)

# Logit effect of each group on every answer (feedback/demo.py's GROUP_EFFECT).
GROUP_EFFECT = {"kinh": 0.25, "hmong": -0.45, "dao": -0.25, "female": -0.05, "60+": 0.2, "18-29": -0.15}
# Relative odds of answering a service-point survey: young, male, Kinh people over-represented,
# the groups who speak less Vietnamese least often (province sample ~45% Kinh vs 30% population,
# ~34% aged 18–29 vs 27%, ~10% aged 60+ vs 16%: the demo's service-point mix).
SELECT_ODDS = {
    "sex": {"female": 0.9, "male": 1.0},
    "age_band": {"18-29": 1.0, "30-44": 0.9, "45-59": 0.6, "60+": 0.5},
    "ethnic_group": {
        "kinh": 1.0,
        "hmong": 0.35,
        "tay": 0.6,
        "dao": 0.45,
        "giay": 0.6,
        "nung": 0.6,
        "thai": 0.6,
        "other": 0.5,
    },
}
LIKERT_RHO = 0.3  # 5-point items: beta-binomial(4) with this intra-class correlation
# A respondent's own logit effect, shared by all their answers (feedback/demo.py's RESPONDENT_SD):
# answers of one respondent are correlated, as are the errors of sub-dimensions they all answer.
RESPONDENT_SD = 0.7
_nodes, _weights = np.polynomial.hermite_e.hermegauss(20)
QUADRATURE = (_nodes, _weights / np.sqrt(2 * np.pi))

# Sub-dimensions each survey scores (current versions in surveys/definitions; 5.2 is not in
# the current structure). The local-governance survey asks one of three rotating modules.
SURVEY_SUBDIMENSIONS: tuple[tuple[str, ...], ...] = (
    ("4.2", "6.1"),  # health
    ("4.2", "6.2"),  # primary-school
    ("4.1", "5.1", "5.4", "8.1"),  # one-stop
    ("2.4", "4.1", "5.3"),  # land
    ("1.1", "1.2", "1.3", "1.4", "2.1", "2.2", "2.3"),  # local-governance, module a
    ("3.1", "3.2", "3.3", "4.3", "4.4", "6.4"),  # module b
    ("6.3", "7.1", "7.2", "7.3", "8.2", "8.3"),  # module c
)
SURVEY_SHARE = np.array([1, 1, 1, 1, 1 / 3, 1 / 3, 1 / 3]) / 5  # five surveys, three modules
PER_COMMUNE, PER_COMMUNE_RANGE = 200, (60, 400)  # responses a year (feedback/demo.py)
DONT_KNOW, SKIP_RESPONDENT_QUESTION = 0.05, 0.15
TAU = 0.6  # between-commune SD of logit(θ) for each sub-dimension (the demo's COMMUNE_SD)
# How τ² splits: a commune effect shared by all sub-dimensions, one per commune × dimension,
# one per commune × sub-dimension (the demo's 0.6 : 0.3 : 0.3 in SD), so that communes are
# better or worse overall and also good at different things.
TAU_SHARES = (4 / 6, 1 / 6, 1 / 6)

N_EFF_TARGETS = (10, 20, 30, 60, 150)
P_VALUES = (0.5, 0.8, 0.95)
ITEMS = ("binary", "5-point")
# Part 1: the six items every simulated respondent answers, one per (item type, p).
DIRECT_CODES = {
    ("binary", 0.5): "1.1",
    ("binary", 0.8): "1.2",
    ("binary", 0.95): "1.3",
    ("5-point", 0.5): "2.1",
    ("5-point", 0.8): "2.2",
    ("5-point", 0.95): "2.3",
}
# Bins of realised n_eff for parts 2–3, named by the target they are nearest to (log scale).
N_EFF_EDGES = (np.sqrt(10 * 20), np.sqrt(20 * 30), np.sqrt(30 * 60), np.sqrt(60 * 150))
BIN_NAMES = ("<14", "14-24", "24-42", "42-95", ">=95")

GOAL_DIRECT, GOAL_EB, GOAL_RATIO, GOAL_RANK = 0.94, (0.93, 0.97), 0.80, 0.90
STRUCTURE = STRUCTURES["current"]
SUBS = STRUCTURE.subdimensions
K_SUB = np.array([STRUCTURE.k(STRUCTURE.dimension_of(s)) for s in SUBS], dtype=float)
DIMS = tuple(STRUCTURE)
DIM_OF_SUB = np.array([DIMS.index(STRUCTURE.dimension_of(s)) for s in SUBS])


# --------------------------------------------------------------------------------------------
# The population


@dataclass(frozen=True)
class Population:
    """Per commune: code, population per cell (sex × age × ethnic), raking margins."""

    codes: tuple[str, ...]
    cells: npt.NDArray[np.float64]  # (communes, N_CELLS)
    margins: pd.DataFrame
    cell_sex: npt.NDArray[np.intp]
    cell_age: npt.NDArray[np.intp]
    cell_eth: npt.NDArray[np.intp]
    effect: npt.NDArray[np.float64]  # logit effect per cell
    odds: npt.NDArray[np.float64]  # selection odds per cell

    @property
    def size(self) -> npt.NDArray[np.float64]:
        return self.cells.sum(axis=1)


def load_population(path: Path = MARGINS_CSV) -> Population:
    """The demo communes' population cells, from their one-way margins (independence)."""
    raw = pd.read_csv(path, dtype={"commune_code": str, "variable": str, "category": str})
    codes = tuple(sorted(raw["commune_code"].unique()))
    shares = []
    for variable, levels in (("sex", SEX), ("age_band", AGE), ("ethnic_group", ETHNIC)):
        table = (
            raw[raw["variable"] == variable]
            .pivot_table(index="commune_code", columns="category", values="population", aggfunc="sum")
            .reindex(index=list(codes), columns=list(levels))
            .fillna(0.0)
            .to_numpy(float)
        )
        shares.append(table / table.sum(axis=1, keepdims=True))
    total = (
        raw[raw["variable"] == "sex"].groupby("commune_code")["population"].sum().reindex(list(codes)).to_numpy(float)
    )
    s, a, e = np.meshgrid(np.arange(len(SEX)), np.arange(len(AGE)), np.arange(len(ETHNIC)), indexing="ij")
    s, a, e = s.ravel(), a.ravel(), e.ravel()
    cells = total[:, None] * shares[0][:, s] * shares[1][:, a] * shares[2][:, e]
    rows = []
    for variable, levels, index in (("sex", SEX, s), ("age_band", AGE, a), ("ethnic_group", ETHNIC, e)):
        for j, level in enumerate(levels):
            pop = cells[:, index == j].sum(axis=1)
            rows.append(pd.DataFrame({"commune": codes, "variable": variable, "category": level, "population": pop}))
    margins = pd.concat(rows, ignore_index=True)
    effect = np.array(
        [
            GROUP_EFFECT.get(SEX[i], 0.0) + GROUP_EFFECT.get(AGE[j], 0.0) + GROUP_EFFECT.get(ETHNIC[k], 0.0)
            for i, j, k in zip(s, a, e, strict=True)
        ]
    )
    odds = np.array(
        [
            SELECT_ODDS["sex"][SEX[i]] * SELECT_ODDS["age_band"][AGE[j]] * SELECT_ODDS["ethnic_group"][ETHNIC[k]]
            for i, j, k in zip(s, a, e, strict=True)
        ]
    )
    return Population(codes, cells, margins, s, a, e, effect, odds)


def logistic(x: npt.ArrayLike) -> npt.NDArray[np.float64]:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


def logit(p: npt.ArrayLike) -> npt.NDArray[np.float64]:
    p = np.asarray(p, dtype=float)
    return np.log(p / (1 - p))


def solve_offset(
    share: npt.NDArray[np.float64], effect: npt.NDArray[np.float64], target: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """The offset a with Σ_g share_g E_r[logistic(a + effect_g + r)] = target, r ~ N(0, σ_r²).

    ``share`` (..., G) sums to 1 over the last axis; ``target`` has shape (...). Newton's
    method on a, the expectation over the respondent effect by 20-node Gauss–Hermite
    quadrature (error < 1e-13 at σ_r = 0.7).
    """
    nodes, w = QUADRATURE
    shift = effect[:, None] + RESPONDENT_SD * nodes  # (G, K)
    a = logit(target) / np.sqrt(1 + np.pi * RESPONDENT_SD**2 / 8) - (share * effect).sum(axis=-1)
    for _ in range(60):
        pi = logistic(a[..., None, None] + shift)  # (..., G, K)
        mean = (pi * w).sum(axis=-1)
        slope = (pi * (1 - pi) * w).sum(axis=-1)
        f = (share * mean).sum(axis=-1) - target
        a = a - f / (share * slope).sum(axis=-1)
        if np.max(np.abs(f)) < 1e-13:
            return a
    raise RuntimeError(f"offset not solved: residual {np.max(np.abs(f)):.2e}")


def draw_cells(
    rng: np.random.Generator, prob: npt.NDArray[np.float64], n: npt.NDArray[np.intp]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """For commune i draw n[i] cells from prob[i]; returns (commune index, cell) per respondent."""
    home = np.repeat(np.arange(len(n)), n)
    cum = np.cumsum(prob, axis=1)
    cum[:, -1] = 1.0
    u = rng.random(len(home))
    cell = (u[:, None] >= cum[home]).sum(axis=1)
    return home, np.minimum(cell, prob.shape[1] - 1)


def draw_values(rng: np.random.Generator, pi: npt.NDArray[np.float64], item: str) -> npt.NDArray[np.float64]:
    """One answer per entry of ``pi``: binary, or 5-point beta-binomial(4)/4, mean π."""
    pi = np.clip(pi, 1e-12, 1 - 1e-12)
    if item == "binary":
        return (rng.random(pi.shape) < pi).astype(float)
    scale = 1 / LIKERT_RHO - 1
    q = rng.beta(np.maximum(pi * scale, 1e-9), np.maximum((1 - pi) * scale, 1e-9))
    return rng.binomial(4, q) / 4.0


def respondent_table(
    pop: Population,
    home_code: npt.NDArray[np.object_],
    cell: npt.NDArray[np.intp],
    rng: np.random.Generator | None = None,
) -> pd.DataFrame:
    """The respondents frame; with ``rng``, each respondent question is skipped by 15%."""
    n = len(cell)
    columns = {}
    for name, levels, index in (
        ("sex", SEX, pop.cell_sex),
        ("age_band", AGE, pop.cell_age),
        ("ethnic_group", ETHNIC, pop.cell_eth),
    ):
        values = np.array(levels, dtype=object)[index[cell]]
        if rng is not None:
            values[rng.random(n) < SKIP_RESPONDENT_QUESTION] = None
        columns[name] = values
    return pd.DataFrame({"response_id": pd.Categorical(np.arange(n)), "commune": home_code, **columns})


def n_eff_bin(n_eff: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
    return np.searchsorted(np.array(N_EFF_EDGES), n_eff, side="right")


def quiet_score(*args, **kwargs) -> tuple[pd.DataFrame, list[str]]:
    """score_communes, collecting any warning it raises (they are reported, not hidden)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = score_communes(*args, **kwargs)
    return table, [f"{w.category.__name__}: {w.message}" for w in caught]


def pivot(
    table: pd.DataFrame, level: str, codes: tuple[str, ...], communes: tuple[str, ...], columns: tuple[str, ...]
) -> dict[str, npt.NDArray[np.float64]]:
    """Columns of ``level`` rows as (communes × codes) arrays."""
    rows = table[table["level"] == level]
    i = pd.Index(communes).get_indexer(rows["commune"])
    j = pd.Index(codes).get_indexer(rows["code"])
    keep = (i >= 0) & (j >= 0)
    rows, i, j = rows[keep], i[keep], j[keep]
    out = {}
    for column in columns:
        array = np.full((len(communes), len(codes)), np.nan)
        array[i, j] = pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        out[column] = array
    return out


# --------------------------------------------------------------------------------------------
# Part 1: direct Korn–Graubard intervals


def direct_batch(pop: Population, sizes: dict[int, int], seed: int):
    """One batch: per target n_eff, one simulated commune per demo commune, six items each.

    Returns per (target, item, p): covered, p̂ − p, width, truth-above, truth-below (arrays
    over communes) and per target the realised n_eff and n, plus warnings.
    """
    rng = np.random.default_rng(seed)
    m = len(pop.codes)
    targets = list(sizes)
    n = np.concatenate([np.full(m, sizes[t]) for t in targets])
    demo = np.tile(np.arange(m), len(targets))  # which demo commune each simulated one copies
    codes = tuple(f"{i + 1:05d}" for i in range(len(n)))
    weights = pop.cells * pop.odds
    home, cell = draw_cells(rng, (weights / weights.sum(axis=1, keepdims=True))[demo], n)
    share = pop.cells / pop.cells.sum(axis=1, keepdims=True)
    respondents = respondent_table(pop, np.array(codes, dtype=object)[home], cell)
    own = RESPONDENT_SD * rng.standard_normal(len(home))
    frames, truth = [], {}
    for (item, p), code in DIRECT_CODES.items():
        a = solve_offset(share, pop.effect, np.full(m, p))  # per demo commune
        pi = logistic(a[demo[home]] + pop.effect[cell] + own)
        frames.append(
            pd.DataFrame(
                {"response_id": respondents["response_id"], "subdimension": code, "score": draw_values(rng, pi, item)}
            )
        )
        truth[code] = p
    scores = pd.concat(frames, ignore_index=True)
    scores["subdimension"] = scores["subdimension"].astype("category")
    rows_of = pop.margins.groupby("commune").indices
    take = [rows_of[pop.codes[d]] for d in demo]
    margins = pop.margins.iloc[np.concatenate(take)].assign(
        commune=np.repeat(np.array(codes, dtype=object), [len(t) for t in take])
    )
    table, caught = quiet_score(scores, respondents, margins=margins, min_n_eff=0)
    used = tuple(DIRECT_CODES.values())
    got = pivot(table, "subdimension", used, codes, ("n", "n_eff", "p", "se_p", "ci_low", "ci_high"))
    k = np.array([STRUCTURE.k(STRUCTURE.dimension_of(c)) for c in used], dtype=float)
    true_score = papi_scale(np.array([truth[c] for c in used]), k)[None, :]
    low, high = got["ci_low"], got["ci_high"]
    tol = 1e-12
    covered = (low <= true_score + tol) & (true_score - tol <= high)
    out = {}
    for t_index, t in enumerate(targets):
        rows = slice(t_index * m, (t_index + 1) * m)
        for j, key in enumerate(DIRECT_CODES):
            out[(t, *key)] = {
                "covered": covered[rows, j],
                "no_interval": np.isnan(low[rows, j]) | np.isnan(high[rows, j]),
                "error": got["p"][rows, j] - truth[used[j]],
                "variance": got["se_p"][rows, j] ** 2,
                "width": (high[rows, j] - low[rows, j]) * k[j] / 9,
                "above": true_score[0, j] > high[rows, j] + tol,
                "below": true_score[0, j] < low[rows, j] - tol,
            }
        out[t] = {"n_eff": got["n_eff"][rows, 0], "n": got["n"][rows, 0]}
    return out, caught


def calibrate_sizes(pop: Population, seed: int, rounds: int = 3) -> dict[int, int]:
    """Respondents per target so that the mean realised Kish n_eff is near the target."""
    sizes = {t: max(2, round(1.3 * t)) for t in N_EFF_TARGETS}
    for r in range(rounds):
        result, _ = direct_batch(pop, sizes, seed + r)
        sizes = {t: max(2, round(sizes[t] * t / float(np.mean(result[t]["n_eff"])))) for t in sizes}
    return sizes


def run_direct(pop: Population, batches: int, seed: int):
    sizes = calibrate_sizes(pop, seed + 10_000)
    merged: dict = {}
    caught: list[str] = []
    for b in range(batches):
        result, warned = direct_batch(pop, sizes, seed + b)
        caught += warned
        for key, values in result.items():
            slot = merged.setdefault(key, {})
            for name, array in values.items():
                slot.setdefault(name, []).append(array)
    merged = {key: {name: np.concatenate(arrays) for name, arrays in values.items()} for key, values in merged.items()}
    return sizes, merged, caught


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def print_direct(sizes: dict[int, int], merged: dict, batches: int, m: int) -> dict[str, list[bool]]:
    per_cell = batches * m
    print(
        f"\n1. DIRECT Korn–Graubard 95% intervals (sub-dimension ci_low..ci_high vs the true score, "
        f"PAPI scale)\n   goal: coverage >= {GOAL_DIRECT:.0%} in every cell; {per_cell:,} communes per cell "
        f"({batches} batches x {m}); MC SE = sqrt(c(1-c)/{per_cell:,}), about "
        f"{100 * np.sqrt(0.95 * 0.05 / per_cell):.1f} points at 95%"
    )
    header = f"   {'item':<8}{'n_eff':>6}{'n':>5}{'realised n_eff':>20}  " + "".join(
        f"{'p = ' + format(p, '.2f'):<21}" for p in P_VALUES
    )
    print(header)
    oks = []
    for item in ITEMS:
        for t in N_EFF_TARGETS:
            ne = merged[t]["n_eff"]
            cells = []
            for p in P_VALUES:
                c = float(np.mean(merged[(t, item, p)]["covered"]))
                se = np.sqrt(c * (1 - c) / per_cell)
                ok = c >= GOAL_DIRECT
                oks.append(ok)
                cells.append(f"{100 * c:5.1f}% ±{100 * se:3.1f} {verdict(ok):<8}")
            print(
                f"   {item:<8}{t:>6}{sizes[t]:>5}{np.mean(ne):>8.1f} ({np.percentile(ne, 10):4.1f}-"
                f"{np.percentile(ne, 90):5.1f})  " + " ".join(cells)
            )
    print(
        "   n: respondents per simulated commune (from a pilot run); realised n_eff: mean Kish n_eff "
        "(10th-90th percentile) after merging, raking, trimming"
    )
    print(
        "\n   diagnostics (0-1 scale): mean bias of p; mean se_p^2 / mean squared error of p (below 1: the "
        "SE understates the error; rows with se_p > 1 left out);\n   mean interval width; % misses with the "
        "truth above / below the interval; number of communes with se_p > 1 (degenerate raking)"
    )
    print(f"   {'item':<8}{'n_eff':>6}  " + "".join(f"{'p = ' + format(p, '.2f'):<40}" for p in P_VALUES))
    for item in ITEMS:
        for t in N_EFF_TARGETS:
            cells = []
            for p in P_VALUES:
                d = merged[(t, item, p)]
                sane = d["variance"] <= 1
                ratio = np.mean(d["variance"][sane]) / np.mean(d["error"][sane] ** 2)
                cells.append(
                    f"{np.mean(d['error']):+.4f} {ratio:5.2f} {np.nanmean(d['width']):.3f} "
                    f"{100 * np.mean(d['above']):4.1f}/{100 * np.mean(d['below']):4.1f} "
                    f"{int(np.sum(d['variance'] > 1)):>3}  "
                )
            print(f"   {item:<8}{t:>6}  " + "".join(f"{c:<40}" for c in cells))
    absurd = {t: int(np.sum(merged[(t, "binary", 0.5)]["variance"] > 1)) for t in N_EFF_TARGETS}
    if any(absurd.values()):
        print(
            f"   communes with se_p > 1 on the 0-1 scale, per target n_eff: {absurd} of {per_cell:,} each. "
            "Their raking stopped (R's sweep-to-sweep rule) on weights near 0\n   for some respondents while "
            "a margin is not met (the margins cannot be met by this sample); R's survey gives the same SE."
        )
    return {"1 direct coverage": oks}


# --------------------------------------------------------------------------------------------
# Parts 2–4: the Fay–Herriot world


def planned_counts(pop: Population) -> npt.NDArray[np.intp]:
    size = pop.size
    low, high = PER_COMMUNE_RANGE
    return np.clip(np.rint(PER_COMMUNE * size / np.median(size)), low, high).astype(np.intp)


def fh_replicate(pop: Population, item: str, p: float, tau: float, shares: tuple[float, float, float], seed: int):
    """One year of responses in a Fay–Herriot world; returns per-cell results and the truth."""
    rng = np.random.default_rng(seed)
    m, n_subs = len(pop.codes), len(SUBS)
    commune, dimension, own = (np.sqrt(share * tau**2) for share in shares)
    u = (
        commune * rng.standard_normal((m, 1))
        + dimension * rng.standard_normal((m, len(DIMS)))[:, DIM_OF_SUB]
        + own * rng.standard_normal((m, n_subs))
    )
    theta = logistic(logit(p) + u)
    share = pop.cells / pop.cells.sum(axis=1, keepdims=True)
    offset = solve_offset(share[:, None, :], pop.effect, theta)  # (communes, subs)
    counts = planned_counts(pop)
    weights = pop.cells * pop.odds
    home, cell = draw_cells(rng, weights / weights.sum(axis=1, keepdims=True), counts)
    respondents = respondent_table(pop, np.array(pop.codes, dtype=object)[home], cell, rng)
    form = rng.choice(len(SURVEY_SUBDIMENSIONS), size=len(home), p=SURVEY_SHARE)
    resp_parts, sub_parts = [], []
    sub_index = {s: i for i, s in enumerate(SUBS)}
    for f, subs in enumerate(SURVEY_SUBDIMENSIONS):
        who = np.flatnonzero(form == f)
        for s in subs:
            resp_parts.append(who)
            sub_parts.append(np.full(len(who), sub_index[s]))
    resp = np.concatenate(resp_parts)
    sub = np.concatenate(sub_parts)
    person = RESPONDENT_SD * rng.standard_normal(len(home))
    pi = logistic(offset[home[resp], sub] + pop.effect[cell[resp]] + person[resp])
    value = draw_values(rng, pi, item)
    value[rng.random(len(value)) < DONT_KNOW] = np.nan
    scores = pd.DataFrame(
        {
            "response_id": pd.Categorical.from_codes(resp, categories=respondents["response_id"].cat.categories),
            "subdimension": pd.Categorical.from_codes(sub, categories=list(SUBS)),
            "score": value,
        }
    )
    table, caught = quiet_score(scores, respondents, margins=pop.margins)
    return table, theta, caught


def truth_scores(theta: npt.NDArray[np.float64]) -> dict[str, npt.NDArray[np.float64]]:
    sub = papi_scale(theta, K_SUB[None, :])
    dim = np.stack([sub[:, DIM_OF_SUB == d].sum(axis=1) for d in range(len(DIMS))], axis=1)
    return {"subdimension": sub, "dimension": dim, "aggregate": dim.sum(axis=1, keepdims=True)}


def true_ranks(score: npt.NDArray[np.float64], eligible: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    """1 + number of eligible communes with a higher true score (per column)."""
    out = np.full(score.shape, np.nan)
    for j in range(score.shape[1]):
        rows = np.flatnonzero(eligible[:, j])
        values = score[rows, j]
        out[rows, j] = 1 + (values[None, :] > values[:, None]).sum(axis=1)
    return out


def fh_summary(table: pd.DataFrame, theta: npt.NDArray[np.float64], pop: Population) -> dict:
    """Per replicate: per-cell arrays for the EB, RMSE and rank figures."""
    truth = truth_scores(theta)
    codes = {"subdimension": SUBS, "dimension": DIMS, "aggregate": ("total",)}
    out: dict = {}
    for level, level_codes in codes.items():
        got = pivot(
            table,
            level,
            level_codes,
            pop.codes,
            (
                "n",
                "n_eff",
                "p",
                "se_p",
                "p_eb",
                "ci_low",
                "ci_high",
                "ci_low_eb",
                "ci_high_eb",
                "rank",
                "rank_low",
                "rank_high",
            ),
        )
        t = truth[level]
        tol = 1e-12
        eligible = np.isfinite(got["rank"])
        rank = true_ranks(t, eligible)
        out[level] = {
            "eb_covered": (got["ci_low_eb"] <= t + tol) & (t - tol <= got["ci_high_eb"]),
            "has_eb": np.isfinite(got["ci_low_eb"]),
            "direct_covered": (got["ci_low"] <= t + tol) & (t - tol <= got["ci_high"]),
            "has_direct": np.isfinite(got["ci_low"]),
            "rank_covered": (got["rank_low"] <= rank) & (rank <= got["rank_high"]),
            "eligible": eligible,
            "rank_width": got["rank_high"] - got["rank_low"] + 1,
            "n": got["n"],
            "n_eff": got["n_eff"],
        }
        if level == "subdimension":
            out[level]["err_direct"] = got["p"] - theta
            out[level]["err_eb"] = got["p_eb"] - theta
            out["absurd_se"] = int(np.sum(np.nanmax(np.where(np.isfinite(got["se_p"]), got["se_p"], 0), axis=1) > 1))
    out["theta_sd"] = float(np.mean(np.std(theta, axis=0, ddof=1)))
    return out


def run_fh(pop: Population, replicates: int, seed: int, tau: float, shares: tuple[float, float, float]):
    results, caught = {}, []
    for w, (item, p) in enumerate((i, p) for i in ITEMS for p in P_VALUES):
        reps = []
        for r in range(replicates):
            table, theta, warned = fh_replicate(pop, item, p, tau, shares, seed + 1000 * w + r)
            caught += warned
            reps.append(fh_summary(table, theta, pop))
        results[(item, p)] = reps
    return results, caught


def replicate_rate(
    reps: list[dict], level: str, hit: str, mask_name: str, extra: npt.NDArray[np.bool_] | None = None
) -> tuple[float, float, int]:
    """Pooled rate of ``hit`` over cells where ``mask_name`` (and ``extra``) hold, and its MC SE
    from the spread of the replicate rates (cells of one replicate are not independent)."""
    hits, totals = [], []
    for i, rep in enumerate(reps):
        d = rep[level]
        mask = d[mask_name].copy()
        if extra is not None:
            mask &= extra[i]
        hits.append(float(d[hit][mask].sum()))
        totals.append(float(mask.sum()))
    hits_a, totals_a = np.array(hits), np.array(totals)
    if totals_a.sum() == 0:
        return float("nan"), float("nan"), 0
    rate = hits_a.sum() / totals_a.sum()
    r = len(reps)
    # Ratio-estimator SE over replicates.
    resid = hits_a - rate * totals_a
    se = np.sqrt(np.sum(resid**2) / (r * (r - 1))) / totals_a.mean() if r > 1 else float("nan")
    return float(rate), float(se), int(totals_a.sum())


def rmse_ratio(reps: list[dict], pick) -> tuple[float, float, float, float, int]:
    """RMSE(p_eb) / RMSE(p) over the cells ``pick(rep)`` selects; SE of the ratio by jackknife
    over replicates."""
    sums = []
    for rep in reps:
        d = rep["subdimension"]
        mask = pick(d) & np.isfinite(d["err_direct"]) & np.isfinite(d["err_eb"])
        sums.append((float(np.sum(d["err_eb"][mask] ** 2)), float(np.sum(d["err_direct"][mask] ** 2)), int(mask.sum())))
    eb, direct, count = (np.array(x, dtype=float) for x in zip(*sums, strict=True))
    if count.sum() == 0:
        return (float("nan"),) * 4 + (0,)
    ratio = np.sqrt(eb.sum() / direct.sum())
    r = len(reps)
    if r > 1:
        jack = np.sqrt((eb.sum() - eb) / (direct.sum() - direct))
        se = float(np.sqrt((r - 1) / r * np.sum((jack - jack.mean()) ** 2)))
    else:
        se = float("nan")
    n_cells = int(count.sum())
    return float(ratio), se, float(np.sqrt(direct.sum() / n_cells)), float(np.sqrt(eb.sum() / n_cells)), n_cells


def print_fh(
    results: dict, replicates: int, pop: Population, tau: float, shares: tuple[float, float, float]
) -> dict[str, list[bool]]:
    counts = planned_counts(pop)
    sizes = np.concatenate([rep["subdimension"]["n"].ravel() for reps in results.values() for rep in reps])
    print(
        f"\n   Fay–Herriot world: {len(pop.codes)} communes, {counts.min()}-{counts.max()} responses each "
        f"(median {int(np.median(counts))}, {counts.sum():,} a year), five surveys with rotating modules, "
        f"so a commune x sub-dimension rests on n = {np.percentile(sizes, 10):.0f}-"
        f"{np.percentile(sizes, 90):.0f} respondents (10th-90th percentile, median "
        f"{np.median(sizes):.0f}; {100 * np.mean(sizes < 30):.0f}% under 30);\n"
        f"   theta = logistic(logit(p) + u), u ~ N(0, {tau}^2) per commune x sub-dimension, split "
        f"{shares[0]:.2f} : {shares[1]:.2f} : {shares[2]:.2f} of the variance into commune, "
        f"commune x dimension and commune x sub-dimension effects; respondent effect SD {RESPONDENT_SD}; "
        f"{replicates} replicates per world"
    )
    sds = {key: np.mean([rep["theta_sd"] for rep in reps]) for key, reps in results.items()}
    print(
        "   between-commune SD of theta on the 0-1 scale: "
        + ", ".join(f"{item} p={p}: {sd:.3f}" for (item, p), sd in sds.items())
    )
    absurd = sum(rep["absurd_se"] for reps in results.values() for rep in reps)
    years = sum(len(reps) for reps in results.values()) * len(pop.codes)
    print(f"   commune-years with a direct se_p > 1 on the 0-1 scale (degenerate raking): {absurd} of {years:,}")
    oks: dict[str, list[bool]] = {
        "2 EB coverage, sub-dimensions": [],
        "2 EB coverage, dimensions and aggregate": [],
        "3 EB RMSE ratio, n < 30": [],
        "4 rank coverage": [],
    }

    def cell(rate: float, se: float, ok: bool, count: int) -> str:
        if count == 0:
            return f"{'-':>7} {'':>5} {'':<8}"
        return f"{100 * rate:5.1f}% ±{100 * se:3.1f} {verdict(ok):<8}"

    lo, hi = GOAL_EB
    print(
        f"\n2. EB 95% intervals (ci_low_eb..ci_high_eb vs the true score, PAPI scale), averaged over "
        f"communes\n   goal: {lo:.0%}-{hi:.0%}, judged on the 'all sub-dims', 'dimension' and 'aggregate' "
        "rows; the rows by realised n_eff of the direct estimate (and synthetic: no respondent for "
        "the sub-dimension)\n   show the same goal for information; ± is the MC SE over replicates; "
        "'direct' is the Korn-Graubard (sub-dimension) or normal (dimension, aggregate) interval's "
        "coverage of the same cells"
    )
    print(
        f"   {'item':<8}{'cells':<14}{'cells/world':>12}  "
        + "".join(f"{'p = ' + format(p, '.2f'):<22}{'direct':>8}  " for p in P_VALUES)
    )
    for item in ITEMS:
        rows = (
            [("all sub-dims", None)]
            + [(f"n_eff {name}", b) for b, name in enumerate(BIN_NAMES)]
            + [("synthetic", "synthetic")]
        )
        for label, b in rows:
            parts, count = [], []
            for p in P_VALUES:
                reps = results[(item, p)]
                extra = None
                if b == "synthetic":
                    extra = [rep["subdimension"]["n"] == 0 for rep in reps]
                elif b is not None:
                    extra = [
                        (rep["subdimension"]["n"] > 0) & (n_eff_bin(rep["subdimension"]["n_eff"]) == b) for rep in reps
                    ]
                rate, se, n_cells = replicate_rate(reps, "subdimension", "eb_covered", "has_eb", extra)
                count.append(n_cells)
                ok = lo <= rate <= hi
                if b is None:
                    oks["2 EB coverage, sub-dimensions"].append(ok)
                d_rate, _, d_count = replicate_rate(reps, "subdimension", "direct_covered", "has_direct", extra)
                direct = f"{100 * d_rate:6.1f}%" if d_count else f"{'-':>7}"
                parts.append(f"{cell(rate, se, ok, n_cells):<22}{direct:>8}  ")
            print(f"   {item:<8}{label:<14}{np.mean(count):>12.0f}  " + "".join(parts))
        for level in ("dimension", "aggregate"):
            parts, count = [], []
            for p in P_VALUES:
                rate, se, n_cells = replicate_rate(results[(item, p)], level, "eb_covered", "has_eb")
                count.append(n_cells)
                ok = lo <= rate <= hi
                oks["2 EB coverage, dimensions and aggregate"].append(ok)
                d_rate, _, d_count = replicate_rate(results[(item, p)], level, "direct_covered", "has_direct")
                direct = f"{100 * d_rate:6.1f}%" if d_count else f"{'-':>7}"
                parts.append(f"{cell(rate, se, ok, n_cells):<22}{direct:>8}  ")
            print(f"   {item:<8}{level:<14}{np.mean(count):>12.0f}  " + "".join(parts))
    print(
        "   cells/world: commune x code cells with an EB interval over all replicates of a world "
        "(mean over the three p)"
    )

    print(
        f"\n3. EB RMSE vs direct RMSE (0-1 scale) for commune x sub-dimension estimates on n < 30 "
        f"respondents\n   goal: RMSE(p_eb) / RMSE(p) <= {GOAL_RATIO:.2f} (at least 20% lower); ± is a "
        "jackknife SE over replicates; other rows for reference"
    )
    print(
        f"   {'item':<8}{'cells':<14}  "
        + "".join(f"{'p = ' + format(p, '.2f'):<22}{'RMSE p / p_eb':>16}  " for p in P_VALUES)
    )
    picks = [("n < 30", lambda d: (d["n"] >= 1) & (d["n"] < 30), True), ("n >= 30", lambda d: d["n"] >= 30, False)] + [
        (f"n_eff {name}", (lambda bin_: lambda d: (d["n"] >= 1) & (n_eff_bin(d["n_eff"]) == bin_))(b), False)
        for b, name in enumerate(BIN_NAMES)
    ]
    for item in ITEMS:
        for label, pick, is_goal in picks:
            parts = []
            for p in P_VALUES:
                ratio, se, rmse_d, rmse_eb, count = rmse_ratio(results[(item, p)], pick)
                if count == 0:
                    parts.append(f"{'-':<22}{'':>16}  ")
                    continue
                ok = ratio <= GOAL_RATIO
                if is_goal:
                    oks["3 EB RMSE ratio, n < 30"].append(ok)
                mark = verdict(ok) if is_goal else "(info)"
                parts.append(f"{ratio:5.3f} ±{se:5.3f} {mark:<8}{rmse_d:>8.4f} / {rmse_eb:.4f}  ")
            print(f"   {item:<8}{label:<14}  " + "".join(parts))

    print(
        f"\n4. True ranks inside their 95% rank intervals (rank_low..rank_high; true rank among "
        f"communes with data, 1 = best)\n   goal: >= {GOAL_RANK:.0%}; ± is the MC SE over replicates; "
        "width: mean rank_high - rank_low + 1"
    )
    print(
        f"   {'item':<8}{'level':<14}  " + "".join(f"{'p = ' + format(p, '.2f'):<22}{'width':>7}  " for p in P_VALUES)
    )
    for item in ITEMS:
        for level in ("subdimension", "dimension", "aggregate"):
            parts = []
            for p in P_VALUES:
                reps = results[(item, p)]
                rate, se, count = replicate_rate(reps, level, "rank_covered", "eligible")
                ok = rate >= GOAL_RANK
                oks["4 rank coverage"].append(ok)
                width = np.mean(np.concatenate([rep[level]["rank_width"][rep[level]["eligible"]] for rep in reps]))
                parts.append(f"{cell(rate, se, ok, count):<22}{width:>7.1f}  ")
            print(f"   {item:<8}{level:<14}  " + "".join(parts))
    return oks


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--replicates",
        type=int,
        default=None,
        help="Fay-Herriot world replicates per (item, p) world (default 20; --quick 4)",
    )
    parser.add_argument(
        "--direct-batches",
        type=int,
        default=None,
        help="part 1 batches of 99 simulated communes per cell (default 30; --quick 4)",
    )
    parser.add_argument("--quick", action="store_true", help="few replicates: a smoke run of about a minute")
    parser.add_argument("--tau", type=float, default=TAU, help="between-commune SD of logit(theta)")
    parser.add_argument(
        "--tau-shares",
        type=float,
        nargs=3,
        default=TAU_SHARES,
        metavar=("COMMUNE", "DIM", "SUB"),
        help="split of tau^2 into commune, commune x dimension, commune x sub-dimension "
        "effects (default 0.667 0.167 0.167; 0 0 1 makes sub-dimensions independent)",
    )
    parser.add_argument("--seed", type=int, default=20190425)
    parser.add_argument("--parts", default="1234", help="which parts to run, e.g. 1 or 234")
    args = parser.parse_args()
    replicates = args.replicates or (4 if args.quick else 20)
    batches = args.direct_batches or (4 if args.quick else 30)
    pop = load_population()
    started = time.perf_counter()
    print(
        f"coverage_simulation: {len(pop.codes)} Lào Cai demo communes "
        f"({100 * (1 - pop.cells[:, pop.cell_eth == 0].sum() / pop.cells.sum()):.0f}% ethnic minorities), "
        f"unequal selection by sex/age/ethnic group, raked to the margins by score_communes; seed {args.seed}"
    )
    all_ok: dict[str, list[bool]] = {}
    shares = tuple(x / sum(args.tau_shares) for x in args.tau_shares)
    caught: list[str] = []
    if "1" in args.parts:
        t0 = time.perf_counter()
        sizes, merged, warned = run_direct(pop, batches, args.seed)
        caught += warned
        all_ok.update(print_direct(sizes, merged, batches, len(pop.codes)))
        print(f"   part 1 wall time {time.perf_counter() - t0:.0f} s")
    if set("234") & set(args.parts):
        t0 = time.perf_counter()
        results, warned = run_fh(pop, replicates, args.seed + 1, args.tau, shares)
        caught += warned
        all_ok.update(print_fh(results, replicates, pop, args.tau, shares))
        print(f"   parts 2-4 wall time {time.perf_counter() - t0:.0f} s")
    if caught:
        unique = pd.Series(caught).value_counts()
        print(f"\nwarnings raised by score_communes ({len(caught)} in all):")
        for message, count in unique.items():
            print(f"   {count:>5} x {message}")
    else:
        print("\nno warnings raised by score_communes")
    print("\ngoals (cells met / cells):")
    for name, oks in all_ok.items():
        print(f"   {name:<42} {sum(oks):>3} / {len(oks):<3} {'met' if all(oks) else 'NOT met'}")
    print(
        f"total wall time {time.perf_counter() - started:.0f} s "
        f"(part 1: {batches} batches; parts 2-4: {replicates} replicates per world)"
    )


if __name__ == "__main__":
    main()
