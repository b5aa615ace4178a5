"""Statistics over seeds against scipy's and numpy's (the verdicts' tests: tests/test_decide.py)."""

import math

import numpy as np
import pytest
from scipy import stats

from study.lib.stats import bootstrap_interval, paired, summarize, superiority

VALUES = [0.91, 0.94, 0.93, 0.95, 0.92, 0.90, 0.96, 0.93, 0.94, 0.92]


def test_summary_matches_numpy_and_scipys_t_interval():
    summary = summarize(VALUES)
    low, high = stats.t.interval(0.95, len(VALUES) - 1, loc=np.mean(VALUES), scale=stats.sem(VALUES))
    assert summary.mean == pytest.approx(np.mean(VALUES))
    assert summary.std == pytest.approx(np.std(VALUES, ddof=1))
    assert (summary.low, summary.high) == (pytest.approx(low), pytest.approx(high))


def test_paired_interval_matches_scipys_paired_t_test():
    rng = np.random.default_rng(0)
    a = rng.normal(0.9, 0.02, 10)
    b = a - 0.01 + rng.normal(0, 0.005, 10)
    differences = paired(dict(enumerate(a)), dict(enumerate(b)))
    result = stats.ttest_rel(a, b)
    summary = summarize(differences, 0.99)
    assert (summary.low, summary.high) == tuple(pytest.approx(x) for x in result.confidence_interval(0.99))


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


def test_identical_differences_give_a_point():
    assert bootstrap_interval(np.array([0.01, 0.01, 0.01])) == (0.01, 0.01)


def test_superiority_counts_wins_and_half_the_ties():
    assert superiority(np.array([0.1, -0.2, 0.0, 0.3])) == pytest.approx(0.625)
