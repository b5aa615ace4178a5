"""Statistics over seeds: t and bootstrap intervals, paired differences (the verdicts: decide.py)."""

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
