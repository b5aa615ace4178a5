"""Statistics over seeds against scipy's and numpy's, and the paired comparison's seed matching."""

import math

import numpy as np
import pytest
from scipy import stats

from stages.stats import paired_difference, summarize, verdict

VALUES = [0.91, 0.94, 0.93, 0.95, 0.92, 0.90, 0.96, 0.93, 0.94, 0.92]


def test_summary_matches_numpy_and_scipys_t_interval():
    summary = summarize(VALUES)
    low, high = stats.t.interval(0.95, len(VALUES) - 1, loc=np.mean(VALUES), scale=stats.sem(VALUES))
    assert summary.mean == pytest.approx(np.mean(VALUES))
    assert summary.std == pytest.approx(np.std(VALUES, ddof=1))
    assert (summary.low, summary.high) == (pytest.approx(low), pytest.approx(high))


def test_paired_difference_matches_scipys_paired_t_test():
    rng = np.random.default_rng(0)
    a = rng.normal(0.9, 0.02, 10)
    b = a - 0.01 + rng.normal(0, 0.005, 10)
    diff = paired_difference(dict(enumerate(a)), dict(enumerate(b)))
    result = stats.ttest_rel(a, b)
    low, high = result.confidence_interval(0.95)
    assert (diff.low, diff.high) == (pytest.approx(low), pytest.approx(high))


def test_paired_difference_matches_seeds_not_positions():
    first = {0: 0.90, 1: 0.80, 2: 0.70}
    second = {2: 0.60, 0: 0.80, 5: 0.10}  # seed 1 and 5 ran on one side only
    diff = paired_difference(first, second)
    assert diff.n == 2 and diff.mean == pytest.approx(0.10)


def test_one_value_has_no_interval():
    summary = summarize([0.5])
    assert summary.mean == 0.5 and math.isnan(summary.low)


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
    assert verdict(summarize(values), higher_is_better) == expected
