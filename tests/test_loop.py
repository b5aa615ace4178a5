"""The training loop (stages/lib/loop.py): a copy beside others gets its lone bits, through either ops."""

import json

import numpy as np
import pytest
import torch
from conftest import make_params
from torch import nn

from dvclive import Live
from stages.lib import exact
from stages.lib.arithmetic import pieces
from stages.lib.draws import Draws, initial_model
from stages.lib.exact import NUMPY
from stages.lib.exact_torch import TORCH
from stages.lib.io import Dataset, read_live_history
from stages.lib.loop import fit
from stages.train import train, train_copies

DROPOUT = 0.2
# Options of a short run that goes through every step: standardisation, two hidden layers, dropout,
# weight decay, and a last batch smaller than the others (480 rows in batches of 50).
SHORT = {"hidden": (5, 3), "lr": 0.01, "weight_decay": 0.01, "epochs": 5, "batch_size": 50,
         "dropout": DROPOUT, "standardize": True}  # fmt: skip


def shuffled(data: Dataset, seed: int) -> Dataset:
    """`data`'s rows in another order: another copy's training set, of the same size."""
    order = np.random.default_rng(seed).permutation(len(data.y))
    return Dataset(x=data.x[order], y=data.y[order], y_clean=data.y_clean[order])


def state_bytes(model: nn.Module) -> dict[str, bytes]:
    return {name: tensor.numpy().tobytes() for name, tensor in model.state_dict().items()}


def test_a_copy_trained_beside_others_gets_the_bits_it_gets_alone(small_split):
    train_data, val_data = small_split
    trains, seeds = [train_data, shuffled(train_data, 1), shuffled(train_data, 2)], [0, 1, 2]
    options = {**SHORT, "loss": "bce", "activation": "tanh"}
    models, histories = train_copies(trains, [val_data] * 3, seeds, make_params(**options))
    for index, seed in enumerate(seeds):
        alone, history = train(trains[index], val_data, make_params(**options, seed=seed))
        assert state_bytes(models[index]) == state_bytes(alone)
        assert histories[index] == history


def fitted_flat(split: tuple[Dataset, Dataset], ops: exact.Ops, loss: str, activation: str) -> np.ndarray:
    """Two copies (seeds 0 and 1) trained by stages.lib.loop.fit through `ops` on torch's CPU device."""
    train_data, val_data = split
    seeds, hidden = [0, 1], SHORT["hidden"]
    models = [initial_model(train_data.x, seed, hidden, activation, DROPOUT, True) for seed in seeds]
    options = {name: SHORT[name] for name in ("lr", "weight_decay", "batch_size")}
    t = make_params(loss=loss, epochs=3, **options).train
    exact_pieces = pieces(models, t, torch.device("cpu"), ops)
    draws = [Draws(seed, hidden, DROPOUT) for seed in seeds]
    fit(exact_pieces, draws, [train_data] * 2, [val_data] * 2, t)
    return exact_pieces.model.flat.detach().numpy()


@pytest.mark.parametrize(("loss", "activation"), [("bce", "tanh"), ("mse", "leaky_relu")])
def test_torch_ops_train_to_numpys_bits(small_split, loss, activation):
    through_torch = fitted_flat(small_split, TORCH, loss, activation)
    through_numpy = fitted_flat(small_split, NUMPY, loss, activation)
    assert through_torch.dtype == through_numpy.dtype == np.float32
    assert through_torch.view(np.int32).tolist() == through_numpy.view(np.int32).tolist()


@pytest.mark.parametrize(
    ("framework", "arithmetic"),
    [("torch", "exact"), ("torch", "native"), ("jax", "exact"), ("jax", "native")],
)
def test_a_lone_run_logs_each_epoch_to_dvclive_as_its_history(small_split, tmp_path, framework, arithmetic):
    if framework == "jax":
        pytest.importorskip("optax")
    params = make_params(epochs=4, framework=framework, arithmetic=arithmetic)
    with Live(str(tmp_path / "live"), dvcyaml=None, save_dvc_exp=False) as live:
        _, history = train(*small_split, params, live=live)
    logged = read_live_history(tmp_path / "live")
    assert logged.train_loss == [round(loss, 6) for loss in history.train_loss]
    assert logged.val_loss == [round(loss, 6) for loss in history.val_loss]
    summary = json.loads((tmp_path / "live" / "metrics.json").read_text())
    assert summary == {
        "train": {"loss": logged.train_loss[-1]},
        "val": {"loss": logged.val_loss[-1]},
        "step": 4,
    }
    lines = (tmp_path / "live/plots/metrics/train/loss.tsv").read_text().splitlines()
    assert lines[0] == "step\tloss" and [line.split("\t")[0] for line in lines[1:]] == ["1", "2", "3", "4"]


def test_dvclive_logs_only_a_lone_run(small_split, tmp_path):
    with (
        Live(str(tmp_path / "live"), dvcyaml=None, save_dvc_exp=False) as live,
        pytest.raises(AssertionError),
    ):
        train_copies([small_split[0]] * 2, [small_split[1]] * 2, [0, 1], make_params(epochs=2), live=live)
