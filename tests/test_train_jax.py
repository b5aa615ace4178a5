"""The JAX path: step by step it computes what the torch loop computes, and it writes the same layout."""

import sys

import numpy as np
import pytest
import torch
from conftest import ROOT

pytest.importorskip("jax", reason="the jax extra is not installed: pip install -e '.[jax]'")

import jax

import stages
from journey.configs import EVERY_NAMED, load_experiments
from journey.seeds import parts, plan
from stages import train_jax
from stages.cli import UserError
from stages.draws import Draws, initial_model
from stages.model import StackedMLP
from stages.train import LOSSES, Adam, step, train

# Per-step loss and every gradient entry, over 100 steps of float32 arithmetic done in another order.
# nb7's 30 standardised features and 16 units sum longer dot products, so rounding adds up further.
TOLERANCE = {"nb7-breast-cancer": 1e-5}
STEPS = 100
CONFIGS = load_experiments(ROOT / "experiments.yaml", EVERY_NAMED)


def both_frameworks(name: str, steps: int):
    """Run `steps` Adam steps of config `name` in torch and in JAX from the same model and draws;
    yield each step's (torch loss, JAX loss, torch gradient, JAX gradient), gradients by name."""
    config = CONFIGS[name]
    m, t = config["model"], config["train"]
    train_data, _ = parts(config, plan(0, 1, 0)[0])
    model = initial_model(train_data.x, t["seed"], m["hidden"], m["activation"], m["dropout"],
                          config["data"]["standardize"])  # fmt: skip
    stacked = StackedMLP([model])
    optimizer = Adam(stacked.flat, lr=t["lr"], weight_decay=t["weight_decay"])
    params = {key: np.asarray(p.detach()) for key, p in model.named_parameters()}
    stats = {key: np.asarray(b) for key, b in model.named_buffers()}
    state = train_jax.optimizer(t["lr"], t["weight_decay"]).init(params)
    options = train_jax.step_options(model, t["loss"], t["lr"], t["weight_decay"])
    draws = Draws(t["seed"], m["hidden"], m["dropout"])
    x, y, rows, batch = train_data.x, train_data.y.astype(np.float32), len(train_data.y), t["batch_size"]
    done = 0
    while done < steps:
        drawn = draws.epoch(rows, batch)
        for index, start in enumerate(range(0, rows, batch)):
            picked = drawn.order[start : start + batch].numpy()
            keeps = drawn.keeps[index]
            loss, gradient = step(stacked, optimizer, LOSSES[t["loss"]], torch.from_numpy(x[picked][None]),
                                  torch.from_numpy(y[picked][None]), [k[None] for k in keeps])  # fmt: skip
            cut = tuple(np.asarray(k[: len(picked)]) for k in keeps)
            inputs = (x[picked], y[picked], cut)
            params, state, jax_loss, jax_gradient = train_jax.step(params, state, stats, *inputs, **options)
            by_name = {
                key: gradient[o : o + s.numel()].view(s)[0].numpy() for key, (o, s) in stacked.views.items()
            }
            yield (
                float(loss[0]),
                float(jax_loss),
                by_name,
                {k: np.asarray(v) for k, v in jax_gradient.items()},
            )
            done += 1
            if done == steps:
                return


@pytest.mark.parametrize("name", ["nb1-bce", "nb3-mse-l2", "nb4-dropout", "nb5-deep", "nb6-tanh",
                                  "nb7-breast-cancer"])  # fmt: skip
def test_torch_and_jax_agree_step_by_step(name):
    worst_loss = worst_gradient = 0.0
    for torch_loss, jax_loss, torch_gradient, jax_gradient in both_frameworks(name, STEPS):
        assert torch_gradient.keys() == jax_gradient.keys()
        worst_loss = max(worst_loss, abs(torch_loss - jax_loss))
        differences = [np.abs(torch_gradient[key] - jax_gradient[key]).max() for key in jax_gradient]
        worst_gradient = max(worst_gradient, *differences)
    tolerance = TOLERANCE.get(name, 1e-6)
    assert worst_loss <= tolerance and worst_gradient <= tolerance, (worst_loss, worst_gradient)


FAST = {"hidden": [5, 3], "lr": 0.01, "weight_decay": 0.001, "epochs": 20, "batch_size": 32, "seed": 0,
        "activation": "tanh", "dropout": 0.2, "standardize": True}  # fmt: skip


def test_a_jax_model_has_the_torch_models_layout_and_nearly_its_weights(small_split):
    torch_model, torch_history = train(*small_split, loss="bce", **FAST)
    jax_model, jax_history = train(*small_split, loss="bce", framework="jax", **FAST)
    expected, found = torch_model.state_dict(), jax_model.state_dict()
    assert [(k, v.shape, v.dtype) for k, v in found.items()] == [
        (k, v.shape, v.dtype) for k, v in expected.items()
    ]
    assert all(torch.allclose(found[key], expected[key], atol=1e-4) for key in expected)
    assert np.allclose(jax_history.val_loss, torch_history.val_loss, atol=1e-5)


def test_the_jax_path_is_deterministic(small_split):
    first, _ = train(*small_split, loss="mse", framework="jax", **FAST)
    second, _ = train(*small_split, loss="mse", framework="jax", **FAST)
    assert all(
        torch.equal(a, b)
        for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True)
    )


# At lr 1e30 torch's loss turns NaN at the second step, while JAX's predictions saturate at 0 and 1
# with a finite loss, which is no divergence to this check; at 1e38 the weights overflow in both.
@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_divergence_in_jax_is_the_same_clear_error(small_split, loss):
    relu = {**FAST, "hidden": 4, "activation": "relu", "dropout": 0.0, "standardize": False, "lr": 1e38}
    with pytest.raises(UserError, match=r"training diverged at epoch \d+ .*lower train\.lr"):
        train(*small_split, loss=loss, framework="jax", **relu)


def test_jax_missing_is_a_clear_error(small_split, monkeypatch):
    monkeypatch.setitem(sys.modules, "jax", None)  # as if jax were not installed
    monkeypatch.delitem(sys.modules, "stages.train_jax")
    monkeypatch.delattr(stages, "train_jax")
    with pytest.raises(UserError, match=r"jax is not installed; run `pip install -e '\.\[jax\]'`"):
        train(*small_split, loss="mse", framework="jax", **FAST)


def test_jax_on_cuda_is_a_clear_error(small_split):
    with pytest.raises(UserError, match=r"train\.framework jax runs on the CPU"):
        train(*small_split, loss="mse", framework="jax", device="cuda", **FAST)


def test_the_jax_losses_and_their_gradients_are_torchs_even_where_a_sigmoid_saturates():
    p = np.array([0.0, 1.0, 1.0, 0.0, 0.5, 1e-30, 0.999], dtype=np.float32)
    y = np.array([0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0], dtype=np.float32)
    for name, jax_loss in train_jax.LOSSES.items():
        p_torch = torch.from_numpy(p).requires_grad_()
        expected = LOSSES[name](p_torch, torch.from_numpy(y))
        expected.backward()
        value, gradient = jax.value_and_grad(jax_loss)(p, y)
        assert float(value) == pytest.approx(float(expected.detach()), rel=1e-6), name
        assert np.allclose(np.asarray(gradient), p_torch.grad.numpy(), rtol=1e-6), name
