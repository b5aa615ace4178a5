"""The JAX paths: XLA compiles stages/lib/net.py's arithmetic to NumPy's bits and writes the same layout
(exact); JAX's own arithmetic compiles its dot products (native)."""

import dataclasses
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT, make_params

pytest.importorskip("jax", reason="the jax extra is not installed: pip install -e '.[jax]'")

import jax
import jax.numpy as jnp

import stages.lib
from stages.lib import jax_native, train_jax
from stages.lib.arithmetic import Stacked
from stages.lib.cli import UserError
from stages.lib.configs import EVERY_NAMED, load_experiments
from stages.lib.draws import Draws, initial_model
from stages.lib.model import recipe
from stages.params import Params
from stages.train import train
from study.seeds import parts, plan

pytestmark = pytest.mark.slow  # the fast loop leaves this file out

CONFIGS = load_experiments(ROOT / "experiments.yaml", EVERY_NAMED)
FAST = {"hidden": [5, 3], "lr": 0.01, "weight_decay": 0.001, "epochs": 20, "batch_size": 32, "seed": 0,
        "activation": "tanh", "dropout": 0.2, "standardize": True}  # fmt: skip
# What XLA must not compile in: library routines (dot products through Eigen or a BLAS) and its own
# exp, log, tanh and logistic, each rounded as XLA's authors chose.
UNEXACT_HLO = ("dot(", "convolution(", "exponential(", "exponential-minus-one(", "log(", "log-plus-one(",
               "tanh(", "logistic(", "rsqrt(", "power(", "custom-call(")  # fmt: skip


def state_bytes(model) -> list[bytes]:
    return [t.numpy().tobytes() for t in model.state_dict().values()]


def shortened(config: Params, **changes) -> Params:
    """An experiment's params with these changes to its `train` section."""
    return dataclasses.replace(config, train=dataclasses.replace(config.train, **changes))


@pytest.mark.parametrize("name", ["nb1-bce", "nb3-mse-l2", "nb4-dropout", "nb5-deep", "nb6-tanh",
                                  "nb7-breast-cancer"])  # fmt: skip
def test_jax_gives_the_numpy_paths_bits(name):
    config = CONFIGS[name]
    splits = parts(config, plan(0, 1, 0)[0])
    numpy_model, numpy_history = train(*splits, shortened(config, epochs=3))
    jax_model, jax_history = train(*splits, shortened(config, epochs=3, framework="jax"))
    assert state_bytes(jax_model) == state_bytes(numpy_model)
    assert jax_history == numpy_history


def test_the_compiled_epoch_calls_no_library_arithmetic(small_split):
    """XLA's optimised program has elementwise IEEE operations only: no dot product, no transcendental."""
    train_data, val_data = small_split
    stacked = Stacked([initial_model(train_data.x, 0, [5, 3], "tanh", 0.2, True)])
    stats = {name: jnp.asarray(value) for name, value in stacked.stats.items()}
    flat = jnp.asarray(stacked.flat_array())
    order, keeps = train_jax.epoch_draws(Draws(0, [5, 3], 0.2), len(train_data.y), 32)
    parts_ = (train_data.x, train_data.y.astype(np.float32), val_data.x, val_data.y.astype(np.float32))
    data = tuple(jnp.asarray(part)[None] for part in parts_)
    schedule = np.ones((-(-len(train_data.y) // 32), 2), np.float32)
    options = {"steps": stacked.steps, "layout": stacked.layout, "loss": "bce", "weight_decay": 0.001,
               "batch_size": 32}  # fmt: skip
    lowered = train_jax.epoch.lower((flat, flat, flat), stats, data, order, keeps, schedule, jnp.int32(0),
                                    **options)  # fmt: skip
    program = lowered.compile().as_text()
    assert not [op for op in UNEXACT_HLO if op in program]


def test_jax_own_arithmetic_compiles_its_dot_products(small_split):
    """JAX's own arithmetic is XLA's: its optimised program multiplies the layers as dot products."""
    train_data, val_data = small_split
    model = initial_model(train_data.x, 0, [5, 3], "tanh", 0.2, True)
    params = {name: jnp.asarray(value.detach().numpy()) for name, value in model.named_parameters()}
    stats = {name: jnp.asarray(value.numpy()) for name, value in model.named_buffers()}
    order, (stacked, tail) = train_jax.epoch_draws(Draws(0, [5, 3], 0.2), len(train_data.y), 32)
    keeps = (tuple(mask[:, 0] for mask in stacked), tuple(mask[0] for mask in tail))
    data = tuple(jnp.asarray(part) for part in (train_data.x, train_data.y.astype(np.float32), val_data.x,
                                                 val_data.y.astype(np.float32)))  # fmt: skip
    state = (params, jax_native.adam(0.01, 0.001).init(params))
    lowered = jax_native.epoch.lower(state, stats, data, order, keeps, steps=recipe(model), loss="bce",
                                     lr=0.01, weight_decay=0.001, batch_size=32)  # fmt: skip
    assert "dot(" in lowered.compile().as_text()


def test_jax_own_bce_has_torchs_value_and_a_finite_gradient_where_the_sigmoid_saturates():
    p, y = (
        jnp.array([0.0, 1.0, 0.25, 1.0, 0.0], jnp.float32),
        jnp.array([0.0, 1.0, 1.0, 0.0, 1.0], jnp.float32),
    )
    value, grad = jax.value_and_grad(lambda q: jax_native.mean_loss("bce", q, y))(p)
    expected = torch.nn.functional.binary_cross_entropy(
        torch.tensor(np.asarray(p)), torch.tensor(np.asarray(y))
    )
    assert float(value) == pytest.approx(expected.item(), rel=1e-6)  # the floor of -100 included
    assert np.isfinite(np.asarray(grad)).all()
    assert np.isnan(jax_native.mean_loss("bce", jnp.array([jnp.nan, 0.5]), jnp.array([1.0, 1.0])))


@pytest.mark.parametrize("arithmetic", ["exact", "native"])
def test_the_jax_path_is_deterministic(small_split, arithmetic):
    first, _ = train(*small_split, make_params(loss="mse", framework="jax", arithmetic=arithmetic, **FAST))
    second, _ = train(*small_split, make_params(loss="mse", framework="jax", arithmetic=arithmetic, **FAST))
    assert all(
        torch.equal(a, b)
        for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True)
    )


@pytest.mark.parametrize("arithmetic", ["exact", "native"])
@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_divergence_in_jax_is_the_same_clear_error(small_split, loss, arithmetic):
    # At 1e30 JAX's own MSE run saturates the sigmoid with finite weights: a loss stuck, not diverged.
    relu = {**FAST, "hidden": 4, "activation": "relu", "dropout": 0.0, "standardize": False, "lr": 1e38}
    with pytest.raises(UserError, match=r"training diverged at epoch \d+ .*lower train\.lr"):
        train(*small_split, make_params(loss=loss, framework="jax", arithmetic=arithmetic, **relu))


def test_jax_missing_is_a_clear_error(small_split, monkeypatch):
    monkeypatch.setitem(sys.modules, "jax", None)  # as if jax were not installed
    monkeypatch.delitem(sys.modules, "stages.lib.train_jax")
    monkeypatch.delattr(stages.lib, "train_jax")
    with pytest.raises(UserError, match=r"jax or optax is not installed; run `pip install -e '\.\[jax\]'`"):
        train(*small_split, make_params(loss="mse", framework="jax", **FAST))


def test_jax_on_cuda_is_a_clear_error(small_split):
    with pytest.raises(UserError, match=r"train\.framework jax runs on the CPU"):
        train(*small_split, make_params(loss="mse", framework="jax", device="cuda", **FAST))
