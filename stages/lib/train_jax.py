"""The train stage's JAX path: stages/lib/net.py's arithmetic compiled by XLA, from the same draws.

The weights are the torch module's own, by state-dict name and in nn.Linear's (out, in) layout, so a
trained run goes back into the module it started from and is saved, evaluated and reported unchanged.
An epoch is one jit-compiled function: the epoch's gather, a `lax.scan` of the Adam step over its full
batches, the last short batch, and the losses on both splits.

XLA fuses a product and the sum that takes it into one fused multiply-add wherever the CPU has the
instruction, and no flag stops it. So each product goes through its bits and an integer XOR with a
zero that XLA is handed at run time and cannot fold away: the sum then takes the rounded product, as
on every other path, and a run gives NumPy's bits (tests/test_train_jax.py checks it).
"""

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from torch import nn

from stages.lib.adam import BiasCorrection, Moments, adam
from stages.lib.arithmetic import Stacked
from stages.lib.draws import Draws
from stages.lib.exact import Ops
from stages.lib.io import Dataset
from stages.lib.loop import log_epoch
from stages.lib.net import Layout, Recipe, forward, gradient, mean_loss, unflatten
from stages.lib.progress import Progress
from stages.params import TrainParams

jax.config.update("jax_platforms", "cpu")  # the extra installs CPU wheels: probe for nothing else


def jax_ops(zero: jax.Array) -> Ops:
    """stages/lib/exact.py's operations in JAX; `zero` is an int32 0 passed in at run time (see above)."""

    def mul(a, b):
        bits = lax.bitcast_convert_type(jnp.multiply(a, b), jnp.int32) ^ zero
        return lax.bitcast_convert_type(bits, jnp.float32)

    return Ops(
        mul=mul,
        where=jnp.where,
        clip=jnp.clip,
        round=jnp.round,  # ties to even
        sqrt=jnp.sqrt,  # the processor's instruction: correctly rounded
        to_bits=lambda x: lax.bitcast_convert_type(x, jnp.int32),
        from_bits=lambda bits: lax.bitcast_convert_type(bits, jnp.float32),
        to_int=lambda x: x.astype(jnp.int32),
        to_float=lambda n: n.astype(jnp.float32),
        cat=lambda arrays, axis: jnp.concatenate(arrays, axis=axis),
    )


@partial(jax.jit, static_argnames=("steps", "layout", "loss", "weight_decay"))
def step(flat: jax.Array, mean: jax.Array, square: jax.Array, stats: dict, x: jax.Array, y: jax.Array,
         keeps: tuple, schedule: jax.Array, zero: jax.Array, *, steps: Recipe, layout: Layout, loss: str,
         weight_decay: float) -> tuple:  # fmt: skip
    """One Adam step on a batch (copies, rows, …); `schedule` is (step size, 1 / √(1 - β₂ᵗ)). Returns the
    new weights and moments, and the gradient."""
    ops = jax_ops(zero)
    grad = gradient(ops, steps, layout, flat, stats, x, y, keeps, loss)
    flat, moments = adam(ops, flat, grad, Moments(mean, square), weight_decay, schedule[0], schedule[1])
    return flat, moments.mean, moments.square, grad


@partial(jax.jit, static_argnames=("steps", "layout", "loss", "weight_decay", "batch_size"))
def epoch(state: tuple, stats: dict, data: tuple, order: jax.Array, keeps: tuple, schedule: jax.Array,
          zero: jax.Array, *, steps: Recipe, layout: Layout, loss: str, weight_decay: float,
          batch_size: int) -> tuple:  # fmt: skip
    """One epoch: Adam steps over the batches in `order`, then the loss on the train and validation sets.

    `state` is (weights, mean, square); `schedule` has one (step size, inverse root) row per batch."""
    x, y, x_val, y_val = data
    x_epoch, y_epoch = x[:, order], y[:, order]
    full = len(order) // batch_size * batch_size
    options = {"steps": steps, "layout": layout, "loss": loss, "weight_decay": weight_decay}

    def one(carry, batch):
        xb, yb, masks, scalars = batch
        return step(*carry, stats, xb, yb, masks, scalars, zero, **options)[:3], None

    batches = (x_epoch[:, :full].reshape(1, -1, batch_size, x.shape[2]).swapaxes(0, 1),
               y_epoch[:, :full].reshape(1, -1, batch_size).swapaxes(0, 1), keeps[0],
               schedule[: full // batch_size])  # fmt: skip
    state, _ = lax.scan(one, state, batches)
    if full < len(order):
        state = step(*state, stats, x_epoch[:, full:], y_epoch[:, full:], keeps[1], schedule[-1], zero,
                     **options)[:3]  # fmt: skip
    ops = jax_ops(zero)
    weights = unflatten(state[0], layout)
    losses = [mean_loss(ops, loss, forward(ops, steps, weights, stats, rows)[0], labels)[0]
              for rows, labels in ((x, y), (x_val, y_val))]  # fmt: skip
    return state, losses


@dataclass(frozen=True)
class Trained:
    """A run's trained weights by state-dict name, and its train and validation loss per epoch."""

    params: dict[str, np.ndarray]
    train_loss: np.ndarray
    val_loss: np.ndarray


def epoch_draws(draws: Draws, rows: int, batch_size: int) -> tuple[np.ndarray, tuple[tuple, tuple]]:
    """The next epoch's order and its masks as float32 with a copy axis: stacked for the full batches
    (layer → (batches, 1, batch_size, width)), and the short last batch's (layer → (1, rows, width))."""
    drawn = draws.epoch(rows, batch_size)
    cut = [[mask.numpy().astype(np.float32)[None] for mask in masks] for masks in drawn.keeps]
    full = rows // batch_size
    stacked = tuple(np.stack(layer) for layer in zip(*cut[:full], strict=True)) if full else ()
    tail = tuple(cut[full]) if len(cut) > full else ()
    return drawn.order.numpy(), (stacked, tail)


def schedule(corrections: BiasCorrection, count: int) -> np.ndarray:
    """The next `count` steps' (step size, inverse root), float32, as the NumPy loop computes them."""
    return np.array([corrections.next() for _ in range(count)], np.float32)


def fit(model: nn.Sequential, draws: Draws, train: Dataset, val: Dataset, t: TrainParams,
        progress: Progress | None = None, live=None) -> Trained:  # fmt: skip
    """Train a copy of `model`'s weights with Adam on shuffled mini-batches in the order of `draws`."""
    stacked = Stacked([model])
    stats = {name: jnp.asarray(value) for name, value in stacked.stats.items()}
    flat = jnp.asarray(stacked.flat_array())
    state = (flat, jnp.zeros_like(flat), jnp.zeros_like(flat))
    data = tuple(jnp.asarray(part)[None] for part in (train.x, train.y.astype(np.float32), val.x,
                                                        val.y.astype(np.float32)))  # fmt: skip
    options = {"steps": stacked.steps, "layout": stacked.layout, "loss": t.loss,
               "weight_decay": t.weight_decay, "batch_size": t.batch_size}  # fmt: skip
    corrections, batches, zero = BiasCorrection(t.lr), -(-len(train.y) // t.batch_size), jnp.int32(0)
    curves = []
    for _ in range(t.epochs):
        order, keeps = epoch_draws(draws, len(train.y), t.batch_size)
        state, losses = epoch(
            state, stats, data, order, keeps, schedule(corrections, batches), zero, **options
        )
        curves.append(losses)
        if live:  # one epoch's losses to DVCLive: waits for them, as a PyTorch loop would
            log_epoch(live, len(curves), *(float(loss) for loss in np.asarray(losses)))
        if progress and progress.shown:
            jax.block_until_ready(losses)  # JAX runs ahead of Python: count epochs done, not dispatched
            progress.advance()
    train_loss, val_loss = np.asarray(jnp.array(curves)).T  # one transfer, not one per epoch and split
    params = {
        name: np.array(value[0]) for name, value in unflatten(np.asarray(state[0]), stacked.layout).items()
    }
    return Trained(params, train_loss, val_loss)
