"""The evaluate stage: metrics agree with scikit-learn and with the training losses."""

import numpy as np
import pytest
import torch
from sklearn import metrics as sk

from stages.evaluate import OBJECTIVES, classification_metrics, evaluate, noise_ceiling_accuracy
from stages.io import Dataset
from stages.train import LOSSES

RNG = np.random.default_rng(0)
Y = RNG.integers(0, 2, 400)
PROB = np.clip(Y * 0.6 + RNG.uniform(0, 0.4, 400), 0.001, 0.999)
Y_CLEAN = Y.copy()
Y_CLEAN[:20] = 1 - Y_CLEAN[:20]
DATA = Dataset(x=np.zeros((400, 2), np.float32), y=Y, y_clean=Y_CLEAN)


def test_metrics_equal_scikit_learns():
    got = classification_metrics(DATA, PROB)
    predicted = (PROB >= 0.5).astype(int)
    assert got["accuracy"] == sk.accuracy_score(Y, predicted)
    assert got["roc_auc"] == sk.roc_auc_score(Y, PROB)
    assert got["f1"] == sk.f1_score(Y, predicted)
    assert got["log_loss"] == sk.log_loss(Y, PROB)
    assert got["brier"] == sk.brier_score_loss(Y, PROB)


def test_noise_ceiling_is_the_share_of_unflipped_labels():
    assert noise_ceiling_accuracy(DATA) == pytest.approx(380 / 400)


@pytest.mark.parametrize("loss", ["bce", "mse"])
def test_objective_equals_the_pytorch_training_loss(loss):
    torch_value = float(LOSSES[loss](torch.from_numpy(PROB), torch.from_numpy(Y.astype(np.float64))))
    assert OBJECTIVES[loss](Y, PROB) == pytest.approx(torch_value, rel=1e-9)


def test_document_has_every_required_metric():
    history = np.column_stack([np.arange(1, 51), np.linspace(0.7, 0.3, 50), np.linspace(0.7, 0.35, 50)])
    document = evaluate(17, "bce", DATA, DATA, PROB, PROB, history)
    assert set(document["fit"]) == {"generalization_gap", "best_epoch", "verdict"}
    assert document["n_params"] == 17
    assert set(document["train"]) == {"loss"}
    assert set(document["val"]) == {
        "loss", "accuracy", "roc_auc", "f1", "log_loss", "brier", "noise_ceiling_accuracy",
    }  # fmt: skip
