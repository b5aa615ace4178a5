"""Statistics over seeds against scipy's and numpy's, and Holm's correction against a worked example."""

import math

import numpy as np
import pytest
from scipy import stats

from study.lib.stats import (
    bootstrap_interval,
    equivalence_p,
    equivalence_verdict,
    holm,
    paired,
    summarize,
    superiority,
    t_test,
    verdict,
)

VALUES = [0.91, 0.94, 0.93, 0.95, 0.92, 0.90, 0.96, 0.93, 0.94, 0.92]


def test_summary_matches_numpy_and_scipys_t_interval():
    summary = summarize(VALUES)
    low, high = stats.t.interval(0.95, len(VALUES) - 1, loc=np.mean(VALUES), scale=stats.sem(VALUES))
    assert summary.mean == pytest.approx(np.mean(VALUES))
    assert summary.std == pytest.approx(np.std(VALUES, ddof=1))
    assert (summary.low, summary.high) == (pytest.approx(low), pytest.approx(high))


def test_paired_interval_and_p_value_match_scipys_paired_t_test():
    rng = np.random.default_rng(0)
    a = rng.normal(0.9, 0.02, 10)
    b = a - 0.01 + rng.normal(0, 0.005, 10)
    differences = paired(dict(enumerate(a)), dict(enumerate(b)))
    result = stats.ttest_rel(a, b)
    summary = summarize(differences, 0.99)
    assert (summary.low, summary.high) == tuple(pytest.approx(x) for x in result.confidence_interval(0.99))
    assert t_test(differences) == pytest.approx(result.pvalue)


def test_pairs_match_seeds_not_positions():
    first = {0: 0.90, 1: 0.80, 2: 0.70}
    second = {2: 0.60, 0: 0.80, 5: 0.10}  # seed 1 and 5 ran on one side only
    assert paired(first, second) == pytest.approx([0.10, 0.10])


def test_one_value_has_no_interval():
    summary = summarize([0.5])
    assert summary.mean == 0.5 and math.isnan(summary.low)


def test_bootstrap_is_scipys_bca_with_seeded_resampling():
    values = np.array(VALUES)
    expected = stats.bootstrap((values,), np.mean, confidence_level=0.9, n_resamples=999, method="BCa",
                               rng=np.random.default_rng(0)).confidence_interval  # fmt: skip
    assert bootstrap_interval(values, 0.9, 999) == (expected.low, expected.high)
    assert bootstrap_interval(values, 0.9, 999) == bootstrap_interval(values, 0.9, 999)


def test_identical_differences_give_a_point_and_no_doubt():
    assert bootstrap_interval(np.array([0.01, 0.01, 0.01])) == (0.01, 0.01)
    assert t_test(np.zeros(5)) == 1.0


def test_superiority_counts_wins_and_half_the_ties():
    assert superiority(np.array([0.1, -0.2, 0.0, 0.3])) == pytest.approx(0.625)


def test_holm_adjusts_a_worked_example():
    adjusted, levels = holm([0.01, 0.04, 0.03], alpha=0.05)
    # sorted: 0.01 x 3 = 0.03; 0.03 x 2 = 0.06; 0.04 x 1 = 0.04, raised to the running 0.06
    assert adjusted == pytest.approx([0.03, 0.06, 0.06])
    assert levels == pytest.approx([1 - 0.05 / 3, 1 - 0.05 / 1, 1 - 0.05 / 2])


@pytest.mark.parametrize(
    ("values", "higher_is_better", "expected"),
    [
        ([0.02, 0.03, 0.025], True, "supported"),
        ([-0.02, -0.03, -0.025], True, "contradicted"),
        ([-0.02, 0.03, 0.0], True, "inconclusive"),
        ([-0.02, -0.03, -0.025], False, "supported"),  # a loss: lower is better
    ],
)
def test_verdict_follows_the_interval(values, higher_is_better, expected):
    summary = summarize(values)
    assert verdict(summary.low, summary.high, higher_is_better) == expected


def test_tost_rejects_exactly_when_the_double_alpha_interval_lies_inside_the_margin():
    generator = np.random.default_rng(0)
    for _ in range(200):
        differences = generator.normal(
            generator.uniform(-0.02, 0.02), 0.01, size=int(generator.integers(3, 30))
        )
        interval = summarize(differences, 1 - 2 * 0.05)
        inside = interval.low > -0.01 and interval.high < 0.01
        assert (equivalence_p(differences, 0.01) < 0.05) == inside
        assert (equivalence_verdict(interval.low, interval.high, 0.01) == "supported") == inside


def test_tost_of_identical_results():
    assert equivalence_p(np.zeros(5), 0.01) == 0.0
    assert equivalence_p(np.full(5, 0.02), 0.01) == 1.0
    assert equivalence_verdict(0.011, 0.02, 0.01) == "contradicted"
