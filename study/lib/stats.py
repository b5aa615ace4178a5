"""Statistics over seeds: t and bootstrap intervals, paired comparisons, and Holm's correction."""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
RESAMPLES = 9999
BOOTSTRAP_SEED = 0  # the bootstrap's resampling is seeded too: the report has the same bytes every run


@dataclass(frozen=True)
class Summary:
    """Mean, sample standard deviation and a confidence interval of the mean, over n values."""

    n: int
    mean: float
    std: float
    low: float
    high: float
    level: float = CONFIDENCE  # of the interval

    def __str__(self) -> str:
        return f"{self.mean:.3f} ± {self.std:.3f} [{self.low:.3f}, {self.high:.3f}]"


def summarize(values: Sequence[float] | np.ndarray, confidence: float = CONFIDENCE) -> Summary:
    """Student's t interval for the mean (n ≥ 2); with one value the interval is unknown (NaN)."""
    values = np.asarray(values, dtype=float)
    n, mean = len(values), float(np.mean(values))
    if n < 2:
        return Summary(n, mean, math.nan, math.nan, math.nan, confidence)
    std = float(np.std(values, ddof=1))
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * std / math.sqrt(n)
    return Summary(n, mean, std, mean - half, mean + half, confidence)


def paired(first: Mapping[int, float], second: Mapping[int, float]) -> np.ndarray:
    """`first - second` seed by seed, over the seeds both ran, in seed order."""
    return np.array([first[seed] - second[seed] for seed in sorted(first.keys() & second.keys())])


def bootstrap_interval(values: np.ndarray, confidence: float = CONFIDENCE,
                       resamples: int = RESAMPLES) -> tuple[float, float]:  # fmt: skip
    """scipy's BCa bootstrap interval of the mean, with seeded resampling; a point if all values agree."""
    if np.ptp(values) == 0:
        return float(values[0]), float(values[0])
    result = stats.bootstrap((values,), np.mean, confidence_level=confidence, n_resamples=resamples,
                             method="BCa", rng=np.random.default_rng(BOOTSTRAP_SEED))  # fmt: skip
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def superiority(differences: np.ndarray) -> float:
    """The probability that the first side beats the second on a seed: P(d > 0) + P(d = 0) / 2."""
    return float(np.mean(differences > 0) + np.mean(differences == 0) / 2)


def t_test(differences: np.ndarray) -> float:
    """Two-sided p value of the paired t test that the mean difference is 0 (1 if every pair ties)."""
    if np.ptp(differences) == 0:
        return 1.0 if differences[0] == 0 else 0.0
    return float(stats.ttest_1samp(differences, 0.0).pvalue)


def equivalence_p(differences: np.ndarray, margin: float) -> float:
    """TOST (Schuirmann, 1987): the p value of "the mean difference lies at or beyond ±margin", the
    larger of the two one-sided paired t tests' p values."""
    if np.ptp(differences) == 0:
        return 0.0 if abs(differences[0]) < margin else 1.0
    above = stats.ttest_1samp(differences, -margin, alternative="greater").pvalue
    below = stats.ttest_1samp(differences, margin, alternative="less").pvalue
    return float(max(above, below))


def holm(p_values: Sequence[float], alpha: float = 1 - CONFIDENCE) -> tuple[list[float], list[float]]:
    """Holm's step-down correction: each test's adjusted p value, and the confidence level of the
    interval that decides it (1 - alpha / (m - rank + 1), rank 1 the smallest p)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda index: p_values[index])
    adjusted, levels = [0.0] * m, [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
        levels[index] = 1 - alpha / (m - rank)
    return adjusted, levels


def verdict(low: float, high: float, higher_is_better: bool = True) -> str:
    """`supported` if the interval lies wholly on the claimed side of 0, `contradicted` if wholly on
    the other, else `inconclusive`. The claim is that the first side is better than the second."""
    if not higher_is_better:
        low, high = -high, -low
    if low > 0:
        return "supported"
    if high < 0:
        return "contradicted"
    return "inconclusive"


def equivalence_verdict(low: float, high: float, margin: float) -> str:
    """`supported` if the interval lies wholly inside (-margin, margin), `contradicted` if wholly outside
    it, else `inconclusive`. The claim is that both sides give the same result within the margin."""
    if -margin < low and high < margin:
        return "supported"
    if low >= margin or high <= -margin:
        return "contradicted"
    return "inconclusive"
