"""The training loop: it learns, it is deterministic, and it refuses to save a diverged model."""

import numpy as np
import pytest
import torch
from conftest import make_params

from stages.lib.cli import UserError
from stages.lib.model import predict
from stages.train import resolve_device, train

FAST = {"hidden": 4, "lr": 0.01, "weight_decay": 0.0, "epochs": 30, "batch_size": 32, "seed": 0}


def weights(model) -> list[bytes]:
    return [t.detach().numpy().tobytes() for t in model.state_dict().values()]


@pytest.mark.parametrize("loss", ["bce", "mse"])
def test_loss_falls_on_learnable_data(small_split, loss):
    train_data, val_data = small_split
    model, history = train(train_data, val_data, make_params(loss=loss, **FAST))
    assert history.train_loss[-1] < 0.7 * history.train_loss[0]
    assert history.val_loss[-1] < 0.7 * history.val_loss[0]
    accuracy = float(((predict(model, val_data.x) >= 0.5) == val_data.y).mean())
    assert accuracy > 0.85


def test_same_seed_gives_identical_weights_whatever_the_thread_count(small_split):
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        first, _ = train(*small_split, make_params(loss="bce", **FAST))
        torch.set_num_threads(2)
        second, _ = train(*small_split, make_params(loss="bce", **FAST))
    finally:
        torch.set_num_threads(before)
    assert weights(first) == weights(second)
    other, _ = train(*small_split, make_params(loss="bce", **{**FAST, "seed": 1}))
    assert weights(first) != weights(other)


def squared_norm(model) -> float:
    return sum(float(t.pow(2).sum()) for t in model.state_dict().values())


def test_weight_decay_shrinks_the_weights(small_split):
    plain, _ = train(*small_split, make_params(loss="mse", **FAST))
    decayed, _ = train(*small_split, make_params(loss="mse", **{**FAST, "weight_decay": 0.5}))
    assert squared_norm(decayed) < squared_norm(plain)


@pytest.mark.parametrize("arithmetic", ["exact", "native"])
@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_divergence_stops_with_a_clear_error(small_split, loss, arithmetic):
    with pytest.raises(UserError, match=r"training diverged at epoch .* lower train\.lr"):
        train(*small_split, make_params(loss=loss, arithmetic=arithmetic, **{**FAST, "lr": 1e30}))


def test_standardisation_uses_the_training_split_alone(small_split):
    train_data, val_data = small_split
    shifted_val = type(val_data)(x=val_data.x * 100 + 50, y=val_data.y, y_clean=val_data.y_clean)
    model, _ = train(
        train_data, shifted_val, make_params(loss="bce", standardize=True, **{**FAST, "epochs": 1})
    )
    assert np.allclose(model[0].mean.numpy(), train_data.x.mean(axis=0), atol=1e-6)
    assert np.allclose(model[0].std.numpy(), train_data.x.std(axis=0), atol=1e-6)


def test_deeper_nets_with_dropout_and_tanh_still_learn(small_split):
    settings = {**FAST, "hidden": (8, 8), "epochs": 40}
    for extra in ({"dropout": 0.1}, {"activation": "tanh"}, {"activation": "leaky_relu"}):
        _, history = train(*small_split, make_params(loss="bce", **settings, **extra))
        assert history.val_loss[-1] < 0.7 * history.val_loss[0], extra


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_a_gpu_is_a_clear_error_and_auto_falls_back_to_the_cpu(small_split):
    with pytest.raises(UserError, match=r"train\.device is cuda but torch sees no CUDA device"):
        train(*small_split, make_params(loss="bce", device="cuda", **FAST))
    assert resolve_device("auto") == torch.device("cpu")


def test_auto_on_a_cpu_only_machine_gives_the_cpu_result(small_split):
    cpu, _ = train(*small_split, make_params(loss="bce", device="cpu", **FAST))
    auto, _ = train(*small_split, make_params(loss="bce", device="auto", **FAST))
    if resolve_device("auto").type == "cpu":
        assert weights(auto) == weights(cpu)
    assert next(auto.parameters()).device.type == "cpu"  # handed back on the CPU for saving
