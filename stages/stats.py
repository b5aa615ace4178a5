"""Statistics over seeds: mean, standard deviation and a 95% t interval, and paired comparisons."""

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Summary:
    """Mean, sample standard deviation and the 95% confidence interval of the mean, over n values."""

    n: int
    mean: float
    std: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.mean:.3f} ± {self.std:.3f} [{self.low:.3f}, {self.high:.3f}]"


def summarize(values: list[float] | np.ndarray) -> Summary:
    """Student's t interval for the mean (n ≥ 2); with one value the interval is unknown (NaN)."""
    values = np.asarray(values, dtype=float)
    n, mean = len(values), float(np.mean(values))
    if n < 2:
        return Summary(n, mean, math.nan, math.nan, math.nan)
    std = float(np.std(values, ddof=1))
    half = float(stats.t.ppf((1 + CONFIDENCE) / 2, n - 1)) * std / math.sqrt(n)
    return Summary(n, mean, std, mean - half, mean + half)


def paired_difference(first: Mapping[int, float], second: Mapping[int, float]) -> Summary:
    """`first - second` seed by seed, over the seeds both ran: the paired t interval."""
    seeds = sorted(first.keys() & second.keys())
    return summarize([first[seed] - second[seed] for seed in seeds])


def verdict(difference: Summary, higher_is_better: bool = True) -> str:
    """`supported` if the interval lies wholly on the claimed side of 0, `contradicted` if wholly on
    the other, else `inconclusive`. The claim is that `first` is better than `second`."""
    low, high = (difference.low, difference.high) if higher_is_better else (-difference.high, -difference.low)
    if low > 0:
        return "supported"
    if high < 0:
        return "contradicted"
    return "inconclusive"
