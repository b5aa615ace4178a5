"""The train stage's JAX path in JAX's own arithmetic (`arithmetic: native`), the way JAX users write it.

The MLP is a `jnp` forward (matrix products, jax.nn's activations) over a dict of weights under the torch
module's state-dict names and layout; `jax.value_and_grad` differentiates the batch's mean loss, and
optax's Adam steps, with L2 as torch's `weight_decay` (added to the gradient before Adam's moments). An
epoch is one jit-compiled function: a `lax.scan` of the step over the full batches, the short last
batch, then the loss on both splits. It starts from the same initial weights, batch order and dropout
masks as every other path (stages/lib/draws.py); XLA's kernels then round as XLA's authors chose, so it
ends near PyTorch's own run, not on its bits (tests/test_agreement.py measures how near).
"""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax
from torch import nn

from stages.lib.draws import Draws
from stages.lib.io import Dataset
from stages.lib.loop import log_epoch
from stages.lib.names import BCE, LEAKY_RELU, RELU, TANH
from stages.lib.net import Recipe
from stages.lib.progress import Progress
from stages.lib.train_jax import Trained, epoch_draws
from stages.params import TrainParams

ACTIVATIONS = {RELU: jax.nn.relu, TANH: jnp.tanh, LEAKY_RELU: jax.nn.leaky_relu}
BCE_LOG_FLOOR = -100.0  # torch's BCELoss clamps each log here


def mlp(steps: Recipe, params: dict, stats: dict, x: jax.Array, keeps: tuple = ()) -> jax.Array:
    """P(y = 1) (rows,) for inputs x (rows, features); with `keeps`, one mask per dropout layer."""
    masks = iter(keeps)
    for kind, *arg in steps:
        if kind == "standardize":
            x = (x - stats[f"{arg[0]}.mean"]) / stats[f"{arg[0]}.std"]
        elif kind == "linear":
            x = x @ params[f"{arg[0]}.weight"].T + params[f"{arg[0]}.bias"]
        elif kind == "activation":
            x = ACTIVATIONS[arg[0]](x)
        elif kind == "dropout" and keeps:
            x = x * next(masks) / (1 - arg[0])  # as nn.Dropout scales the units it keeps
        elif kind == "sigmoid":
            x = jax.nn.sigmoid(x)
    return x[:, 0]


def floored_log(q: jax.Array) -> jax.Array:
    """log(q) floored at -100, as torch's BCELoss takes it, with a gradient of 0 (not NaN) where q is 0.

    A sigmoid saturates to exactly 0 or 1 in float32; `maximum(log(q), -100)` would then carry 0 times
    infinity into the gradient, so a q under the smallest normal float takes the floor before the log."""
    normal = ~(q < jnp.finfo(q.dtype).tiny)  # a NaN stays NaN: a diverged run must say so
    return jnp.where(normal, jnp.maximum(jnp.log(jnp.where(normal, q, 1.0)), BCE_LOG_FLOOR), BCE_LOG_FLOOR)


def mean_loss(loss: str, p: jax.Array, y: jax.Array) -> jax.Array:
    """torch's BCELoss or MSELoss of probabilities `p` against labels `y`, averaged."""
    if loss == BCE:
        return -jnp.mean(y * floored_log(p) + (1 - y) * floored_log(1 - p))
    return jnp.mean((p - y) ** 2)


def adam(lr: float, weight_decay: float) -> optax.GradientTransformation:
    """torch.optim.Adam(lr, weight_decay): L2 joins the gradient, then Adam with torch's defaults."""
    return optax.chain(optax.add_decayed_weights(weight_decay), optax.adam(lr, b1=0.9, b2=0.999, eps=1e-8))


@partial(jax.jit, static_argnames=("steps", "loss", "lr", "weight_decay", "batch_size"))
def epoch(state: tuple, stats: dict, data: tuple, order: jax.Array, keeps: tuple, *, steps: Recipe,
          loss: str, lr: float, weight_decay: float, batch_size: int) -> tuple:  # fmt: skip
    """One epoch: Adam steps over the batches in `order`, then the loss on the train and validation sets.

    `state` is (weights, optax's state); `keeps` is the full batches' masks stacked, and the last's."""
    x, y, x_val, y_val = data
    optimizer = adam(lr, weight_decay)

    def batch_loss(params: dict, rows: jax.Array, labels: jax.Array, masks: tuple) -> jax.Array:
        return mean_loss(loss, mlp(steps, params, stats, rows, masks), labels)

    def step(carry: tuple, batch: tuple) -> tuple:
        params, opt_state = carry
        value, grads = jax.value_and_grad(batch_loss)(params, *batch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), value

    x_epoch, y_epoch = x[order], y[order]
    full = len(order) // batch_size * batch_size
    batches = (x_epoch[:full].reshape(-1, batch_size, x.shape[1]), y_epoch[:full].reshape(-1, batch_size),
               keeps[0])  # fmt: skip
    state, _ = lax.scan(step, state, batches)
    if full < len(order):
        state, _ = step(state, (x_epoch[full:], y_epoch[full:], keeps[1]))
    losses = [mean_loss(loss, mlp(steps, state[0], stats, rows), labels) for rows, labels in
              ((x, y), (x_val, y_val))]  # fmt: skip
    return state, losses


def fit(model: nn.Sequential, steps: Recipe, draws: Draws, train: Dataset, val: Dataset, t: TrainParams,
        progress: Progress | None = None, live=None) -> Trained:  # fmt: skip
    """Train `model`'s weights (a copy) with optax's Adam on mini-batches in the order of `draws`."""
    params = {name: jnp.asarray(value.detach().numpy()) for name, value in model.named_parameters()}
    stats = {name: jnp.asarray(value.numpy()) for name, value in model.named_buffers()}
    state = (params, adam(t.lr, t.weight_decay).init(params))
    data = tuple(jnp.asarray(part) for part in (train.x, train.y.astype(np.float32), val.x,
                                                 val.y.astype(np.float32)))  # fmt: skip
    options = {"steps": steps, "loss": t.loss, "lr": t.lr, "weight_decay": t.weight_decay,
               "batch_size": t.batch_size}  # fmt: skip
    curves = []
    for _ in range(t.epochs):
        order, (stacked, tail) = epoch_draws(draws, len(train.y), t.batch_size)
        keeps = (tuple(mask[:, 0] for mask in stacked), tuple(mask[0] for mask in tail))  # no copy axis
        state, losses = epoch(state, stats, data, order, keeps, **options)
        curves.append(losses)
        if live:  # one epoch's losses to DVCLive: waits for them, as a PyTorch loop would
            log_epoch(live, len(curves), *(float(loss) for loss in np.asarray(losses)))
        if progress and progress.shown:
            jax.block_until_ready(losses)  # JAX runs ahead of Python: count epochs done, not dispatched
            progress.advance()
    train_loss, val_loss = np.asarray(jnp.array(curves)).T  # one transfer, not one per epoch and split
    return Trained({name: np.array(value) for name, value in state[0].items()}, train_loss, val_loss)
