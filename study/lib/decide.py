"""Verdicts for the study's lessons: paired t tests and TOST, Holm's step-down, group-sequential looks."""

import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import optimize, stats
from statsmodels.stats.power import TTestPower

from stages.lib.configs import DIRECTIONAL, EQUIVALENCE

ALPHA, POWER = 0.05, 0.80
SUPPORTED, CONTRADICTED, NO_DIFFERENCE, UNDECIDED = VERDICTS = (
    "supported", "contradicted", "no practical difference", "undecided")  # fmt: skip
SIDES = (2, 1)  # a lesson's two tests: "beyond" is two-sided, TOST's p is that of a one-sided test
MOST_SEEDS = 100_000  # a lesson needing more seeds than this cannot be decided in practice
NODES = np.polynomial.legendre.leggauss(256)  # a look's quadrature in the integration of the boundaries
SPREADS = np.polynomial.legendre.leggauss(96)  # the quadrature over s in TOST's power
RANGE = 10.0  # that integration keeps the score within 10 standard deviations: the rest is < 1e-22


@dataclass(frozen=True)
class Decision:
    """A lesson's verdict, the look (index) and seeds it rests on, and the mean difference over them."""

    verdict: str
    look: int | None  # None while undecided; `seeds` and `mean` are then the last look's
    seeds: int
    mean: float
    seeds_needed: int | None = None  # undecided only: a fixed-sample study's seeds for 80% power


def p_values(differences: np.ndarray, kind: str, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Over the last axis, the p values of the paired "beyond" test and of TOST (Schuirmann, 1987).

    "Beyond" is the two-sided t test of |mean| <= b, b being 0 for a directional lesson (the plain paired
    t test) and the margin for an equivalence one (its 1 - a interval lies wholly outside the margins):
    two-sided at any b, so at b > 0 it is conservative rather than invalid when se is large against b.
    TOST tests |mean| >= margin: the larger of its two one-sided p values is the one at the nearer margin.
    """
    n, mean, sd = differences.shape[-1], differences.mean(-1), differences.std(-1, ddof=1)
    beyond = 0.0 if kind == DIRECTIONAL else margin
    with np.errstate(divide="ignore", invalid="ignore"):  # all pairs tie: t = +-inf, or nan on the border
        beyond_p = np.minimum(1.0, 2 * stats.t.sf((np.abs(mean) - beyond) / (sd / math.sqrt(n)), n - 1))
        tost_p = stats.t.sf((margin - np.abs(mean)) / (sd / math.sqrt(n)), n - 1)
    return np.nan_to_num(beyond_p, nan=1.0), np.nan_to_num(tost_p, nan=1.0)


def spending(fraction: float, level: float) -> float:
    """Lan-DeMets O'Brien-Fleming-type spending, alpha(t) = 2 - 2Φ(z_{1-alpha/2}/√t) (Lan & DeMets, 1983).

    It spends almost nothing at early looks, so a study that stops early needs overwhelming evidence,
    and the final look keeps nearly the whole alpha; spending by information fraction lets the looks fall
    wherever the runs happen to be, unplanned, as long as the cap on seeds is fixed in advance.
    """
    if fraction >= 1:
        return level
    return 0.0 if fraction <= 0 else float(2 * stats.norm.sf(stats.norm.isf(level / 2) / math.sqrt(fraction)))


def _crossing(c: float, t: float, step: float, nodes: np.ndarray, mass: np.ndarray, sides: int,
              target: float) -> float:  # fmt: skip
    """The null's chance of no crossing before look t (the score at `nodes` with `mass`), then of |Z| >= c,
    less the target."""
    tail = stats.norm.sf((c * math.sqrt(t) - nodes) / step)
    both = tail + stats.norm.cdf((-c * math.sqrt(t) - nodes) / step) if sides == 2 else tail
    return float(mass @ both) - target


@lru_cache(maxsize=4096)
def thresholds(level: float, fractions: tuple[float, ...], sides: int) -> tuple[float, ...]:
    """The nominal p value thresholds at each look, for a test of total level `level`.

    Z_k = S_k/√t_k with S a Brownian motion (corr(Z_i, Z_j) = √(t_i/t_j)); each boundary c_k makes the
    null's chance of a first crossing at look k equal alpha(t_k) - alpha(t_{k-1}). The chance is integrated
    recursively over S's density on the not-yet-crossed region (Armitage, McPherson & Rowe, 1969; Jennison
    & Turnbull, 2000, ch. 19): deterministic, and exact even for the ~1e-15 spent at early looks.
    """
    x, w = NODES
    result, spent, before, nodes, mass = [], 0.0, 0.0, np.zeros(1), np.ones(1)  # S_0 = 0 with mass 1
    for t in fractions:
        target, step = spending(t, level) - spent, math.sqrt(t - before)
        args = (t, step, nodes, mass, sides, target)
        c = math.inf if target <= 0 else optimize.brentq(_crossing, 0.0, 2 * RANGE, args=args, xtol=1e-12)
        result.append(target if not result else sides * float(stats.norm.sf(c)))  # look 1's is exact
        high = min(c, RANGE) * math.sqrt(t)
        low = -high if sides == 2 else -RANGE * math.sqrt(t)
        new = low + (high - low) * (x + 1) / 2
        density = stats.norm.pdf((new[:, None] - nodes[None, :]) / step) @ mass / step
        nodes, mass, spent, before = new, density * w * (high - low) / 2, spending(t, level), t
    return tuple(result)


def sequential_holm(p: np.ndarray, sides: Sequence[int], fractions: Sequence[float], alpha: float = ALPHA
                    ) -> list[int | None]:  # fmt: skip
    """The look at which each test is rejected (None: never), p[k, i] being test i's p value at look k.

    Holm's procedure as a graph (Maurer & Bretz, 2013; Ye et al., 2013): each test not yet rejected has
    local level alpha / (tests not yet rejected), a rejected test's level passing on to the others; at each
    look the tests step down, each against the boundary the spending function gives at its local level.
    """
    rejected: list[int | None] = [None] * p.shape[1]
    for k in range(len(fractions)):
        so_far = tuple(fractions[: k + 1])
        while open_tests := [i for i, look in enumerate(rejected) if look is None]:
            level = alpha / len(open_tests)
            passing = [i for i in open_tests if p[k, i] <= thresholds(level, so_far, sides[i])[k]]
            if not passing:
                break
            rejected[passing[0]] = k  # one at a time: the others' levels grow before they are tried again
    return rejected


def verdict(kind: str, mean: float, beyond: bool, tost: bool) -> str:
    """The verdict from which of a lesson's tests rejected. If both do, "no practical difference" wins:
    the effect, whatever its sign, is then smaller than what matters."""
    if tost:
        return NO_DIFFERENCE if kind == DIRECTIONAL else SUPPORTED
    if beyond:
        return CONTRADICTED if kind == EQUIVALENCE or mean < 0 else SUPPORTED
    return UNDECIDED


def settle(kind: str, beyond: int | None, tost: int | None, means: Sequence[float]) -> tuple[str, int | None]:
    """A lesson's verdict and the look that reached it, from the looks that rejected its tests and its mean
    difference at each look: once decided, a lesson stays decided."""
    look = min((k for k in (beyond, tost) if k is not None), default=None)
    if look is None:
        return UNDECIDED, None
    return verdict(kind, means[look], beyond == look, tost == look), look


def tost_power(n: float, mean: float, sd: float, margin: float, level: float) -> float:
    """The exact power of the paired TOST with n seeds, the chance that |mean| <= margin - t_crit s/√n:
    averaged over s by Gauss-Legendre in the chi-square's probability scale (Owen's Q, in effect)."""
    df, crit = n - 1, float(stats.t.isf(level, n - 1))
    top = float(stats.chi2.cdf(df * (math.sqrt(n) * margin / (crit * sd)) ** 2, df))  # past it, no mean fits
    x, w = SPREADS
    spread = np.sqrt(stats.chi2.ppf(top * (x + 1) / 2, df) / df)  # s / sd
    high = stats.norm.cdf(math.sqrt(n) * (margin - mean) / sd - crit * spread)
    low = stats.norm.cdf(-math.sqrt(n) * (margin + mean) / sd + crit * spread)
    return float(top / 2 * w @ np.clip(high - low, 0, None))


def seeds_needed(mean: float, sd: float, margin: float, kind: str, level: float, power: float = POWER
                 ) -> int | None:  # fmt: skip
    """The fewest seeds with which a fixed-sample study decides the lesson with `power`, at the true mean
    and spread: the fewer of the "beyond" t test's and TOST's. None if neither can, nor with MOST_SEEDS."""
    beyond, candidates = 0.0 if kind == DIRECTIONAL else margin, []
    if sd > 0 and abs(mean) > beyond:  # two-sided power also counts the far tail: negligible here
        effect = (abs(mean) - beyond) / sd
        candidates.append(float(TTestPower().solve_power(effect, alpha=level, power=power)))
    if sd > 0 and abs(mean) < margin:  # statsmodels has no power for a t-based TOST: solve ours
        gap = lambda n: tost_power(n, mean, sd, margin, level) - power  # noqa: E731
        if gap(2.0) >= 0:
            candidates.append(2.0)
        elif gap(MOST_SEEDS) >= 0:
            candidates.append(optimize.brentq(gap, 2.0, MOST_SEEDS, xtol=1e-6))
    found = [max(2, math.ceil(n - 1e-9)) for n in candidates if math.isfinite(n) and n <= MOST_SEEDS]
    return min(found, default=None)


def decide_sequence(differences: Sequence[np.ndarray], margins: Sequence[float], kinds: Sequence[str],
                    looks: Sequence[int], max_seeds: int, alpha: float = ALPHA
                    ) -> list[Decision]:  # fmt: skip
    """Each lesson's decision after looks at the first looks[k] differences of every lesson (first minus
    second side, in seed order, positive favouring the claim), all 2 x lessons tests one Holm family."""
    if looks[0] < 2 or any(a >= b for a, b in itertools.pairwise(looks)) or looks[-1] > max_seeds:
        raise ValueError(f"looks must rise from 2 seeds up to at most {max_seeds}: {list(looks)}")
    if any(len(d) < looks[-1] for d in differences):
        raise ValueError(f"every lesson needs {looks[-1]} differences for the last look")
    lessons = list(zip(differences, margins, kinds, strict=True))
    p = np.array([[float(q) for d, m, kind in lessons for q in p_values(np.asarray(d[:n], float), kind, m)]
                  for n in looks])  # fmt: skip
    rejected = sequential_holm(p, SIDES * len(lessons), [n / max_seeds for n in looks], alpha)
    level = alpha / max(1, rejected.count(None))  # an undecided lesson's local level, both tests alike
    decisions = []
    for j, (d, margin, kind) in enumerate(lessons):
        means = [float(np.mean(d[:n])) for n in looks]
        decided, look = settle(kind, rejected[2 * j], rejected[2 * j + 1], means)
        k = -1 if look is None else look
        sd = float(np.std(d[: looks[k]], ddof=1))
        needed = seeds_needed(means[k], sd, margin, kind, level) if look is None else None
        decisions.append(Decision(decided, look, looks[k], means[k], needed))
    return decisions


# The simulation: one lesson a study, normal paired differences with sd 1; effects in margins:
# (kind, true effect, effect the seeds were planned for; on the border no verdict is right, so plan for 0).
CELLS = ((DIRECTIONAL, -1, -1), (DIRECTIONAL, 0, 0), (DIRECTIONAL, 1, 1),
         (EQUIVALENCE, 0, 0), (EQUIVALENCE, 1, 0), (EQUIVALENCE, 2, 2))  # fmt: skip


def wrong(verdict: str, kind: str, effect: float, margin: float) -> bool:
    """Whether a verdict claims what is false for the true mean difference `effect`."""
    if kind == EQUIVALENCE:
        false_when = {SUPPORTED: abs(effect) >= margin, CONTRADICTED: abs(effect) <= margin}
    else:
        false_when = {SUPPORTED: effect <= 0, CONTRADICTED: effect >= 0, NO_DIFFERENCE: abs(effect) >= margin}
    return false_when.get(verdict, False)


def right(kind: str, effect: float, margin: float) -> str | None:
    """The decisive verdict that is true for the effect, whose rate is the power (None on the border)."""
    if kind == EQUIVALENCE:
        return None if abs(effect) == margin else SUPPORTED if abs(effect) < margin else CONTRADICTED
    return NO_DIFFERENCE if abs(effect) < margin else SUPPORTED if effect > 0 else CONTRADICTED


@dataclass(frozen=True)
class Row:
    """One cell of the simulation: each verdict's rate, the false-verdict rate and the power."""

    kind: str
    effect: float  # in margins
    design: str
    looks: tuple[int, ...]
    mean_seeds: float
    rates: dict[str, float]
    false: float
    power: float | None


def simulate(studies: int = 4000, margin: float = 0.5, looks: int = 4, alpha: float = ALPHA, seed: int = 0
             ) -> list[Row]:  # fmt: skip
    """Each cell's verdict rates over seeded studies, for the fixed design at the n planned for 80% power
    (one lesson: two tests, so Holm's first level alpha/2) and for `looks` equal looks up to that n."""
    rows = []
    for index, (kind, effect, planned) in enumerate(CELLS):
        n = seeds_needed(planned * margin, 1.0, margin, kind, alpha / 2)
        assert n is not None, "every cell is planned at a decidable effect"
        data = effect * margin + np.random.default_rng([seed, index]).standard_normal((studies, n))
        designs = {"fixed": (n,), "sequential": tuple(round(n * k / looks) for k in range(1, looks + 1))}
        for design, cuts in designs.items():  # the same studies, looked at once or at each cut
            # p[study, look, test] and means[study, look], for all studies at once
            p = np.stack([np.stack(p_values(data[:, :c], kind, margin), -1) for c in cuts], 1)
            means = np.stack([data[:, :c].mean(1) for c in cuts], 1)
            verdicts, seeds = [], []
            for study in range(studies):
                decided, look = settle(kind, *sequential_holm(p[study], SIDES, [c / n for c in cuts], alpha),
                                       means[study])  # fmt: skip
                verdicts.append(decided)
                seeds.append(cuts[-1 if look is None else look])
            rates = {v: verdicts.count(v) / studies for v in VERDICTS}
            target = right(kind, effect * margin, margin)
            false = sum(rate for v, rate in rates.items() if wrong(v, kind, effect * margin, margin))
            power = None if target is None else rates[target]
            rows.append(Row(kind, effect, design, cuts, float(np.mean(seeds)), rates, false, power))
    return rows


def table(rows: Sequence[Row], studies: int, margin: float = 0.5, alpha: float = ALPHA) -> str:
    """The simulation as a markdown table, its numbers rounded so the string is the same every run."""
    se = math.sqrt(alpha * (1 - alpha) / studies), math.sqrt(POWER * (1 - POWER) / studies)
    header = ("lesson", "effect", "design", "looks (seeds)", "mean seeds", *VERDICTS,
              "false verdicts", "power")  # fmt: skip
    lines = [f"{studies} studies a cell, differences ~ N(effect, 1), margin m = {margin}; nominal alpha "
             f"{alpha}, planned power {POWER:.0%}; Monte Carlo SE {se[0]:.4f} at alpha, {se[1]:.4f} at the "
             "power.", "", "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]  # fmt: skip
    for r in rows:
        cells = [r.kind, f"{r.effect:+g} m", r.design, ", ".join(map(str, r.looks)), f"{r.mean_seeds:.1f}"]
        cells += [f"{r.rates[v]:.3f}" for v in VERDICTS] + [f"{r.false:.3f}"]
        lines.append("| " + " | ".join([*cells, "-" if r.power is None else f"{r.power:.3f}"]) + " |")
    return "\n".join(lines)


def main() -> None:
    """Print the simulation's table, then how long it took (about a second)."""
    start = time.perf_counter()
    print(table(simulate(), 4000))
    print(f"\n({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
