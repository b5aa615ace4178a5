"""The train stage's JAX path: stages/train.py's MLP, loss, Adam and L2 in JAX and optax, from the same draws.

The weights are the torch module's own, by state-dict name and in nn.Linear's (out, in) layout, so a
trained run goes back into the module it started from and is saved, evaluated and reported unchanged.
An epoch is one jit-compiled function: the epoch's gather, a `lax.scan` of the Adam step over its full
batches, the last short batch, and the losses on both splits.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
from torch import nn

from stages.draws import Draws
from stages.io import Dataset
from stages.model import ACTIVATIONS, Standardize

jax.config.update("jax_platforms", "cpu")  # the extra installs CPU wheels: probe for nothing else

# torch.optim.Adam's defaults, which stages/train.py's Adam keeps.
BETAS, EPS = (0.9, 0.999), 1e-8
# leaky_relu's slope is 0.01 in both.
JAX_ACTIVATIONS = {"relu": jax.nn.relu, "tanh": jnp.tanh, "leaky_relu": jax.nn.leaky_relu}
NAMES = {layer: name for name, layer in ACTIVATIONS.items()}

Params = dict[str, jax.Array]  # state-dict name → trained tensor
Recipe = tuple[tuple, ...]  # the layers as hashable steps: a jit-compiled function compiles once per net


@jax.custom_vjp
def _bce_terms(p: jax.Array, y: jax.Array) -> jax.Array:
    return -(y * jnp.maximum(jnp.log(p), -100.0) + (1 - y) * jnp.maximum(jnp.log(1 - p), -100.0))


def _bce_forward(p: jax.Array, y: jax.Array):
    return _bce_terms(p, y), (p, y)


def _bce_backward(saved, upstream: jax.Array):
    # torch's own derivative. Differentiating through the clamp would give 0 · inf = NaN where a
    # sigmoid saturates to exactly 0 or 1 in float32, as confident models' outputs do.
    p, y = saved
    return upstream * (p - y) / jnp.maximum((1 - p) * p, 1e-12), jnp.zeros_like(y)


_bce_terms.defvjp(_bce_forward, _bce_backward)


def bce(p: jax.Array, y: jax.Array) -> jax.Array:
    """Binary cross-entropy as torch's binary_cross_entropy: each log clamped at -100, and its gradient
    (p - y) / max(p (1 - p), 1e-12)."""
    return jnp.mean(_bce_terms(p, y))


def mse(p: jax.Array, y: jax.Array) -> jax.Array:
    """Mean squared error between P(y = 1) and the 0/1 label."""
    return jnp.mean((p - y) ** 2)


LOSSES = {"bce": bce, "mse": mse}


def recipe(model: nn.Sequential) -> Recipe:
    """The torch MLP's layers as steps: ("standardize", i), ("linear", i), ("activation", name),
    ("dropout", p), ("sigmoid",)."""
    steps = []
    for index, layer in enumerate(model):
        if isinstance(layer, Standardize):
            steps.append(("standardize", index))
        elif isinstance(layer, nn.Linear):
            steps.append(("linear", index))
        elif isinstance(layer, nn.Dropout):
            steps.append(("dropout", layer.p))
        elif isinstance(layer, nn.Sigmoid):
            steps.append(("sigmoid",))
        else:
            steps.append(("activation", NAMES[type(layer)]))
    return tuple(steps)


def forward(steps: Recipe, params: Params, stats: Params, x: jax.Array,
            keeps: Sequence[jax.Array] = ()) -> jax.Array:  # fmt: skip
    """P(y = 1) for each row of `x`; with `keeps`, one mask (rows, width) per dropout layer, dropout on."""
    masks = iter(keeps)
    for kind, *arg in steps:
        if kind == "standardize":
            x = (x - stats[f"{arg[0]}.mean"]) / stats[f"{arg[0]}.std"]
        elif kind == "linear":
            x = x @ params[f"{arg[0]}.weight"].T + params[f"{arg[0]}.bias"]
        elif kind == "dropout":
            x = x * next(masks) / (1 - arg[0]) if keeps else x
        elif kind == "sigmoid":
            x = jax.nn.sigmoid(x)
        else:
            x = JAX_ACTIVATIONS[arg[0]](x)
    return x[:, 0]


def optimizer(lr: float, weight_decay: float) -> optax.GradientTransformation:
    """Adam with L2 added to the gradient first: torch.optim.Adam's weight_decay, not AdamW's."""
    return optax.chain(optax.add_decayed_weights(weight_decay), optax.adam(lr, *BETAS, eps=EPS))


def _step(params: Params, state: optax.OptState, stats: Params, x: jax.Array, y: jax.Array,
         keeps: tuple[jax.Array, ...], *, steps: Recipe, loss: str, lr: float,
         weight_decay: float) -> tuple[Params, optax.OptState, jax.Array, Params]:  # fmt: skip
    """One Adam step on a batch; returns the new weights and optimiser state, the loss and its gradient."""

    def objective(trained: Params) -> jax.Array:
        return LOSSES[loss](forward(steps, trained, stats, x, keeps), y)

    value, gradient = jax.value_and_grad(objective)(params)
    updates, state = optimizer(lr, weight_decay).update(gradient, state, params)
    return optax.apply_updates(params, updates), state, value, gradient


step = jax.jit(_step, static_argnames=("steps", "loss", "lr", "weight_decay"))


def step_options(model: nn.Sequential, loss: str, lr: float, weight_decay: float) -> dict:
    """The static arguments of `step` (and `epoch`) for this model, loss and optimiser."""
    return {"steps": recipe(model), "loss": loss, "lr": lr, "weight_decay": weight_decay}


@partial(jax.jit, static_argnames=("steps", "loss", "lr", "weight_decay", "batch_size"))
def epoch(params: Params, state: optax.OptState, stats: Params, data: tuple[jax.Array, ...],
          order: jax.Array, keeps: tuple[tuple[jax.Array, ...], tuple[jax.Array, ...]], *, steps: Recipe,
          loss: str, lr: float, weight_decay: float, batch_size: int):  # fmt: skip
    """One epoch: Adam steps over the batches in `order`, then the loss on the train and validation sets."""
    x, y, x_val, y_val = data
    x_epoch, y_epoch = x[order], y[order]
    full = len(order) // batch_size * batch_size
    options = {"steps": steps, "loss": loss, "lr": lr, "weight_decay": weight_decay}

    def one(carry, batch):
        params, state, *_ = _step(*carry, stats, *batch, **options)
        return (params, state), None

    batches = (x_epoch[:full].reshape(-1, batch_size, x.shape[1]), y_epoch[:full].reshape(-1, batch_size),
               keeps[0])  # fmt: skip
    (params, state), _ = jax.lax.scan(one, (params, state), batches)
    if full < len(order):
        params, state, *_ = _step(params, state, stats, x_epoch[full:], y_epoch[full:], keeps[1],
                                             **options)  # fmt: skip
    losses = [LOSSES[loss](forward(steps, params, stats, rows), labels)
              for rows, labels in ((x, y), (x_val, y_val))]  # fmt: skip
    return params, state, losses


@dataclass(frozen=True)
class Trained:
    """A run's trained weights by state-dict name, and its train and validation loss per epoch."""

    params: dict[str, np.ndarray]
    train_loss: np.ndarray
    val_loss: np.ndarray


def epoch_draws(draws: Draws, rows: int, batch_size: int) -> tuple[np.ndarray, tuple[tuple, tuple]]:
    """The next epoch's order and its masks cut to the batch rows: stacked for the full batches
    (layer → (batches, batch_size, width)), and the short last batch's (layer → (rows, width))."""
    drawn = draws.epoch(rows, batch_size)
    cut = [[np.asarray(mask[: min(batch_size, rows - start)]) for mask in masks]
           for start, masks in zip(range(0, rows, batch_size), drawn.keeps, strict=True)]  # fmt: skip
    full = rows // batch_size
    stacked = tuple(np.stack(layer) for layer in zip(*cut[:full], strict=True)) if full else ()
    tail = tuple(cut[full]) if len(cut) > full else ()
    return drawn.order.numpy(), (stacked, tail)


def fit(model: nn.Sequential, draws: Draws, train: Dataset, val: Dataset, *, loss: str, lr: float,
        weight_decay: float, epochs: int, batch_size: int) -> Trained:  # fmt: skip
    """Train a copy of `model`'s weights with Adam on shuffled mini-batches in the order of `draws`."""
    params = {name: jnp.asarray(p.detach().numpy()) for name, p in model.named_parameters()}
    stats = {name: jnp.asarray(b.numpy()) for name, b in model.named_buffers()}
    state = optimizer(lr, weight_decay).init(params)
    data = tuple(jnp.asarray(part) for part in (train.x, train.y.astype(np.float32), val.x,
                                                  val.y.astype(np.float32)))  # fmt: skip
    options = {**step_options(model, loss, lr, weight_decay), "batch_size": batch_size}
    curves = []
    for _ in range(epochs):
        order, keeps = epoch_draws(draws, len(train.y), batch_size)
        params, state, losses = epoch(params, state, stats, data, order, keeps, **options)
        curves.append(losses)
    train_loss, val_loss = np.asarray(jnp.array(curves)).T  # one transfer, not one per epoch and split
    return Trained({name: np.array(value) for name, value in params.items()}, train_loss, val_loss)
