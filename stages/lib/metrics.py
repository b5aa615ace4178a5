"""Validation metrics and the ROC curve, every operation exact (stages/lib/exact.py), tested against
scikit-learn's (which the stages do not import: it costs a second, more than the evaluate stage's work).

Accuracy and F1 are ratios of counts, and ROC AUC is one too (Mann-Whitney's rank sum, whose
partial sums are exact half-integers), so any order gives their bits. Log loss and the Brier score
need a log and a sum of arbitrary floats: stages/lib/exact.py's log, and a sum in a fixed order.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from stages.lib.cli import UserError
from stages.lib.exact import NUMPY, log, tree_sum

EPSILON = float(np.finfo(np.float64).eps)


def _mean(values: np.ndarray) -> float:
    """The mean of float64 `values`, summed in a fixed order."""
    return float(tree_sum(NUMPY, values.astype(np.float64), axis=0) / len(values))


def accuracy(y: np.ndarray, predicted: np.ndarray) -> float:
    """The share of rows whose predicted class is the label."""
    return int(np.count_nonzero(predicted == y)) / len(y)


def f1(y: np.ndarray, predicted: np.ndarray) -> float:
    """2 TP / (2 TP + FP + FN) for class 1; 0 when there is no positive label or prediction."""
    true_positive = int(np.count_nonzero((predicted == 1) & (y == 1)))
    wrong = int(np.count_nonzero(predicted != y))
    return 2 * true_positive / (2 * true_positive + wrong) if true_positive else 0.0


def _both_classes(y: np.ndarray) -> tuple[int, int]:
    """The numbers of positive and negative labels, neither of them 0."""
    positives = int(np.count_nonzero(y == 1))
    if not positives or positives == len(y):
        raise UserError("ROC AUC needs both classes among the validation rows; raise data.n_samples or "
                        "split.val_fraction in params.yaml")  # fmt: skip
    return positives, len(y) - positives


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Each value's rank from 1, tied values sharing their mean rank (scipy's rankdata)."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    last = np.cumsum(counts)
    return (last - (counts - 1) / 2)[inverse]


def roc_auc(y: np.ndarray, prob: np.ndarray) -> float:
    """P(a positive row scores above a negative one), ties counting half: (rank sum - n₊(n₊+1)/2) / n₊n₋."""
    positives, negatives = _both_classes(y)
    rank_sum = float(average_ranks(prob)[y == 1].sum())  # halves and integers below 2^53: exact in any order
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def roc_curve(y: np.ndarray, prob: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False and true positive rates at each distinct score taken as the threshold, highest first, and
    those thresholds, as scikit-learn's roc_curve (drop_intermediate=True) gives them: a first point
    (0, 0) at threshold +inf, and only the corners of the curve (a point on a straight run is dropped)."""
    _both_classes(y)
    order = np.argsort(prob, kind="mergesort")[::-1]
    score = prob[order]
    last = np.append(np.flatnonzero(np.diff(score)), len(score) - 1)  # each distinct score's last row
    true = np.cumsum(y[order] == 1)[last]  # counts: exact
    false = last + 1 - true
    threshold = score[last]
    if len(last) > 2:
        corner = np.flatnonzero(np.concatenate([[True], np.diff(false, 2) | np.diff(true, 2), [True]]))
        true, false, threshold = true[corner], false[corner], threshold[corner]
    true, false = np.append(0, true), np.append(0, false)
    return false / false[-1], true / true[-1], np.append(np.inf, threshold)


def log_loss(y: np.ndarray, prob: np.ndarray) -> float:
    """Mean binary cross-entropy with p clipped to [ε, 1 - ε] (float64's ε), as scikit-learn's log_loss:
    a saturated wrong prediction costs 36, not the 100 of torch's clamped log."""
    p = np.clip(prob.astype(np.float64), EPSILON, 1 - EPSILON)
    logs = [log(NUMPY, value.astype(np.float32)).astype(np.float64) for value in (p, 1 - p)]
    return _mean(-(y * logs[0] + (1 - y) * logs[1]))


def brier(y: np.ndarray, prob: np.ndarray) -> float:
    """Mean squared difference between P(y = 1) and the 0/1 label (MSE's objective)."""
    error = prob.astype(np.float64) - y
    return _mean(error * error)


@dataclass(frozen=True)
class Metric:
    """A validation metric: its key in metrics.json and the study's tables, its label in figures, which
    way is better, and how it is computed (from the 0/1 predictions at the threshold, or from P(y = 1))."""

    name: str
    label: str
    higher_is_better: bool
    score: Callable[[np.ndarray, np.ndarray], float]
    thresholded: bool


# The metrics that mean the same whichever loss trained the model, in the order tables show them.
VALIDATION = (
    Metric("accuracy", "accuracy", True, accuracy, thresholded=True),
    Metric("roc_auc", "ROC AUC", True, roc_auc, thresholded=False),
    Metric("f1", "F1", True, f1, thresholded=True),
    Metric("log_loss", "log loss", False, log_loss, thresholded=False),
    Metric("brier", "Brier", False, brier, thresholded=False),
)
