"""The evaluate stage: metrics agree with scikit-learn and with the training losses."""

import numpy as np
import pytest
from scipy.stats import rankdata
from sklearn import metrics as sk

from stages.evaluate import OBJECTIVES, classification_metrics, evaluate, noise_ceiling_accuracy
from stages.lib.cli import UserError
from stages.lib.exact import NUMPY
from stages.lib.io import Dataset, History
from stages.lib.metrics import average_ranks, log_loss, roc_auc, roc_curve
from stages.lib.net import mean_loss

RNG = np.random.default_rng(0)
Y = RNG.integers(0, 2, 400)
# Overlapping classes (no metric is trivially 1), float32 values as predict gives them.
PROB = (Y * 0.3 + RNG.uniform(0.05, 0.65, 400)).astype(np.float32).astype(np.float64)
Y_CLEAN = Y.copy()
Y_CLEAN[:20] = 1 - Y_CLEAN[:20]
DATA = Dataset(x=np.zeros((400, 2), np.float32), y=Y, y_clean=Y_CLEAN)
# Our accuracy, F1 and ROC AUC are exact: counts (and Mann-Whitney's half-integer rank sum) are exact
# in float64, and the one division at the end is correctly rounded. scikit-learn gets them in other
# orders (F1 from precision and recall, AUC as a trapezoid sum), which may round the last bit apart.
EXACT_ABS = 1e-12
FLOAT32_ABS = 1e-6  # log loss and the training losses are float32 arithmetic


def test_accuracy_f1_and_roc_auc_equal_scikit_learns():
    got = classification_metrics(DATA, PROB)
    predicted = (PROB >= 0.5).astype(int)
    assert got["accuracy"] == pytest.approx(sk.accuracy_score(Y, predicted), rel=0, abs=EXACT_ABS)
    assert got["f1"] == pytest.approx(sk.f1_score(Y, predicted), rel=0, abs=EXACT_ABS)
    assert got["roc_auc"] == pytest.approx(sk.roc_auc_score(Y, PROB), rel=0, abs=EXACT_ABS)


def test_log_loss_and_brier_equal_scikit_learns():
    got = classification_metrics(DATA, PROB)
    assert got["log_loss"] == pytest.approx(sk.log_loss(Y, PROB), rel=0, abs=FLOAT32_ABS)
    assert got["brier"] == pytest.approx(sk.brier_score_loss(Y, PROB), rel=0, abs=FLOAT32_ABS)


def test_roc_auc_counts_tied_scores_as_half_as_scikit_learn_does():
    tied = np.round(PROB, 1)  # nine distinct scores for 400 rows
    assert roc_auc(Y, tied) == pytest.approx(sk.roc_auc_score(Y, tied), rel=0, abs=EXACT_ABS)
    assert roc_auc(Y, np.full(len(Y), 0.5)) == 0.5


@pytest.mark.parametrize("decimals", [None, 2, 1, 0])  # from all distinct to two scores
def test_roc_curve_is_scikit_learns_to_the_bit(decimals):
    prob = PROB if decimals is None else np.round(PROB, decimals)
    ours, theirs = roc_curve(Y, prob), sk.roc_curve(Y, prob, drop_intermediate=True)
    assert all(np.array_equal(a, b) for a, b in zip(ours, theirs, strict=True))


@pytest.mark.parametrize(("y", "prob"), [
    ([0, 1], [0.2, 0.7]),  # two points: nothing to drop
    ([0, 1, 1, 0, 1], [0.5, 0.5, 0.5, 0.5, 0.5]),  # one threshold
    ([0, 0, 1, 1, 0, 1], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]),  # straight runs: their inner points dropped
])  # fmt: skip
def test_roc_curve_keeps_the_corners_scikit_learn_keeps(y, prob):
    y, prob = np.array(y), np.array(prob)
    ours, theirs = roc_curve(y, prob), sk.roc_curve(y, prob, drop_intermediate=True)
    assert all(np.array_equal(a, b) for a, b in zip(ours, theirs, strict=True))


@pytest.mark.parametrize("y", [[1, 1, 1], [0, 0, 0]])
def test_roc_needs_both_classes(y):
    with pytest.raises(UserError, match="both classes"):
        roc_curve(np.array(y), np.array([0.1, 0.5, 0.9]))


@pytest.mark.parametrize("decimals", [None, 1, 0])
def test_average_ranks_are_scipys(decimals):
    prob = PROB if decimals is None else np.round(PROB, decimals)
    assert np.array_equal(average_ranks(prob), rankdata(prob))


def test_log_loss_clips_a_certain_wrong_prediction_as_scikit_learn_does():
    y, prob = np.array([1, 0, 1]), np.array([0.0, 1.0, 0.5])
    assert log_loss(y, prob) == pytest.approx(sk.log_loss(y, prob), rel=1e-6)


def test_noise_ceiling_is_the_share_of_unflipped_labels():
    assert noise_ceiling_accuracy(DATA) == pytest.approx(380 / 400)


@pytest.mark.parametrize("loss", ["bce", "mse"])
def test_objective_equals_the_training_loss(loss):
    training = float(mean_loss(NUMPY, loss, PROB.astype(np.float32)[None], Y.astype(np.float32)[None])[0])
    assert OBJECTIVES[loss](Y, PROB) == pytest.approx(training, rel=0, abs=FLOAT32_ABS)


def test_document_has_every_required_metric():
    history = History(np.linspace(0.7, 0.3, 50).tolist(), np.linspace(0.7, 0.35, 50).tolist())
    document = evaluate(17, "bce", DATA, DATA, PROB, PROB, history)
    assert set(document["fit"]) == {"generalization_gap", "best_epoch", "verdict"}
    assert document["n_params"] == 17
    assert set(document["train"]) == {"loss"}
    assert set(document["val"]) == {
        "loss", "accuracy", "roc_auc", "f1", "log_loss", "brier", "noise_ceiling_accuracy",
    }  # fmt: skip
