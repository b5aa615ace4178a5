"""study/lib/decide.py: the verdicts, Holm's step-down, the spending boundaries, seeds needed, simulation."""

import itertools
import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestPower
from statsmodels.stats.weightstats import ttost_paired

from study.lib.decide import (
    ALPHA,
    CONTRADICTED,
    DIRECTIONAL,
    EQUIVALENCE,
    NO_DIFFERENCE,
    SUPPORTED,
    UNDECIDED,
    decide_sequence,
    p_values,
    seeds_needed,
    sequential_holm,
    simulate,
    spending,
    table,
    thresholds,
)

MARGIN = 0.5


def built(mean: float, sd: float, n: int = 12, seed: int = 0) -> np.ndarray:
    """n differences with exactly this mean and sample standard deviation."""
    z = np.random.default_rng(seed).standard_normal(n)
    return mean + sd * (z - z.mean()) / z.std(ddof=1)


def decide_one(differences: np.ndarray, kind: str) -> str:
    """One lesson's verdict from a single look at all its differences."""
    n = len(differences)
    return decide_sequence([differences], [MARGIN], [kind], [n], n)[0].verdict


@pytest.mark.parametrize(
    ("mean", "sd", "expected"),
    [(1.0, 1e-3, SUPPORTED), (-1.0, 1e-3, CONTRADICTED), (0.05, 0.1, NO_DIFFERENCE), (0.2, 1.0, UNDECIDED)],
)
def test_directional_lessons_get_four_verdicts(mean, sd, expected):
    assert decide_one(built(mean, sd), DIRECTIONAL) == expected


def test_no_practical_difference_wins_when_both_tests_reject():
    differences = built(0.1, 1e-3)
    beyond, tost = p_values(differences, DIRECTIONAL, MARGIN)
    assert beyond < 1e-6 and tost < 1e-6  # 0.1 is surely not 0, and surely within ±0.5
    assert decide_one(differences, DIRECTIONAL) == NO_DIFFERENCE


@pytest.mark.parametrize(
    ("mean", "sd", "expected"), [(0.1, 1e-3, SUPPORTED), (-1.0, 1e-3, CONTRADICTED), (0.5, 1.0, UNDECIDED)]
)
def test_equivalence_lessons_get_three_verdicts(mean, sd, expected):
    assert decide_one(built(mean, sd), EQUIVALENCE) == expected


def test_holm_steps_down_from_the_smallest_p():
    def rejected(p):
        return sequential_holm(np.array([p]), [2, 1, 2], [1.0], alpha=0.05)

    assert rejected([0.04, 0.01, 0.02]) == [0, 0, 0]  # 0.01 <= 0.05/3, 0.02 <= 0.05/2, 0.04 <= 0.05
    assert rejected([0.04, 0.01, 0.03]) == [None, 0, None]  # 0.03 > 0.05/2 stops it: 0.04 is never tried


def test_a_single_look_is_fixed_sample_holm():
    rng = np.random.default_rng(1)
    kinds = [DIRECTIONAL, DIRECTIONAL, DIRECTIONAL, EQUIVALENCE, EQUIVALENCE, EQUIVALENCE]
    seen = set()
    for _ in range(15):
        lessons = [rng.normal(rng.choice([-0.9, -0.2, 0.0, 0.1, 0.7, 1.2]), 1.0, 20) for _ in kinds]
        p = []
        for d, kind in zip(lessons, kinds, strict=True):  # scipy's t tests and statsmodels' TOST
            border = 0.0 if kind == DIRECTIONAL else MARGIN
            above = stats.ttest_1samp(d, border, alternative="greater").pvalue
            below = stats.ttest_1samp(d, -border, alternative="less").pvalue
            p += [min(1.0, 2 * min(above, below)), ttost_paired(d, np.zeros_like(d), -MARGIN, MARGIN)[0]]
        reject = multipletests(p, alpha=ALPHA, method="holm")[0]
        want = []
        for j, (d, kind) in enumerate(zip(lessons, kinds, strict=True)):
            if reject[2 * j + 1]:
                want.append(NO_DIFFERENCE if kind == DIRECTIONAL else SUPPORTED)
            elif reject[2 * j]:
                want.append(CONTRADICTED if kind == EQUIVALENCE or d.mean() < 0 else SUPPORTED)
            else:
                want.append(UNDECIDED)
        got = [decision.verdict for decision in decide_sequence(lessons, [MARGIN] * 6, kinds, [20], 20)]
        assert got == want
        seen.update(want)
    assert seen == {SUPPORTED, CONTRADICTED, NO_DIFFERENCE, UNDECIDED}  # every verdict was compared


def test_spending_function_spends_alpha_by_the_end_and_almost_nothing_early():
    fractions = np.linspace(0, 1, 101)
    spent = [spending(t, 0.05) for t in fractions]
    assert spent[0] == 0 and spent[-1] == 0.05
    assert all(a < b for a, b in itertools.pairwise(spent[1:]))
    assert spending(0.1, 0.05) < 1e-8 and spending(0.25, 0.05) < 1e-4 and spending(0.9, 0.05) > 0.035


@pytest.mark.parametrize(("sides", "level"), [(2, 0.05), (1, 0.025), (2, 0.0125)])
def test_boundaries_spend_the_spending_function(sides, level):
    fractions = (0.2, 0.45, 0.5, 0.8, 1.0)  # uneven, one pair close together
    bounds = [stats.norm.isf(p / sides) for p in thresholds(level, fractions, sides)]
    rng = np.random.default_rng(2)
    steps = rng.standard_normal((400_000, len(fractions))) * np.sqrt(np.diff((0.0, *fractions)))
    z = np.cumsum(steps, 1) / np.sqrt(fractions)  # correlated as sqrt(t_i / t_j)
    crossed = np.maximum.accumulate((z if sides == 1 else np.abs(z)) >= bounds, axis=1).mean(0)
    for rate, t in zip(crossed, fractions, strict=True):
        want = spending(t, level)
        assert abs(rate - want) <= 4 * math.sqrt(want * (1 - want) / len(z)) + 1e-6
    assert crossed[-1] == pytest.approx(level, abs=4 * math.sqrt(level / len(z)))


def test_seeds_needed_is_statsmodels_t_test_power():
    want = math.ceil(TTestPower().solve_power(0.6, alpha=0.025, power=0.8, alternative="two-sided"))
    assert seeds_needed(0.6, 1.0, 0.2, DIRECTIONAL, 0.025) == want  # |0.6| > 0.2: TOST cannot decide it


@pytest.mark.parametrize(("mean", "margin", "kind"), [(0.6, 0.2, DIRECTIONAL), (0.1, 0.5, EQUIVALENCE)])
def test_seeds_needed_gives_80_percent_power(mean, margin, kind):
    n, level = seeds_needed(mean, 1.0, margin, kind, 0.025), 0.025
    d = np.random.default_rng(3).normal(mean, 1.0, (40_000, n))
    t_plus = (d.mean(1) + margin) / (d.std(1, ddof=1) / math.sqrt(n))
    t_minus = (d.mean(1) - margin) / (d.std(1, ddof=1) / math.sqrt(n))
    if kind == DIRECTIONAL:  # the paired t test, two-sided
        rate = np.mean(np.abs(d.mean(1) / (d.std(1, ddof=1) / math.sqrt(n))) >= stats.t.isf(level / 2, n - 1))
    else:  # TOST: both one-sided tests reject
        rate = np.mean((t_plus >= stats.t.isf(level, n - 1)) & (t_minus <= -stats.t.isf(level, n - 1)))
    assert 0.79 <= rate <= 0.84


def test_seeds_needed_is_none_when_no_study_can_decide():
    assert seeds_needed(0.5, 1.0, 0.5, EQUIVALENCE, 0.05) is None  # on the border: neither test can reject
    assert seeds_needed(0.0, 0.0, 0.5, DIRECTIONAL, 0.05) is None  # no spread: nothing to plan for


def test_a_decided_lesson_stays_decided_at_its_seed_count():
    differences = np.concatenate([built(1.0, 1e-3, 10), built(-1.0, 1e-3, 30, seed=1)])
    decision = decide_sequence([differences], [MARGIN], [DIRECTIONAL], [10, 20, 40], 40)[0]
    assert (decision.verdict, decision.look, decision.seeds) == (SUPPORTED, 0, 10)
    assert decision.mean == pytest.approx(1.0)


def test_undecided_lessons_get_the_seeds_they_need_at_their_local_level():
    clear, vague = built(1.0, 1e-3), built(0.3, 1.0, seed=1)
    decisions = decide_sequence([clear, vague], [MARGIN] * 2, [DIRECTIONAL] * 2, [12], 12)
    assert [d.verdict for d in decisions] == [SUPPORTED, UNDECIDED] and decisions[0].seeds_needed is None
    assert decisions[1].seeds_needed == seeds_needed(0.3, 1.0, MARGIN, DIRECTIONAL, ALPHA / 3)  # 3 left


@pytest.fixture(scope="module")
def simulated():
    return simulate()


def test_simulated_false_verdicts_stay_within_alpha(simulated):
    for row in simulated:
        assert row.false <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / 4000), row


def test_simulated_power_is_near_the_planned_80_percent(simulated):
    for row in simulated:
        assert row.power is None or abs(row.power - 0.8) <= 0.03, row


def test_the_simulation_table_has_the_same_bytes_every_run():
    first = table(simulate(studies=200), 200)
    assert first == table(simulate(studies=200), 200)
    assert len(first.splitlines()) == 4 + 12  # a note, a blank line, the header and its rule, 12 cells
