"""The training loop: Adam on shuffled mini-batches, every copy of a Stacked model side by side."""

import math
from collections.abc import Sequence

import numpy as np
import torch

from stages.lib.adam import BiasCorrection, Moments, adam
from stages.lib.cli import UserError
from stages.lib.draws import Draws
from stages.lib.io import Dataset, History
from stages.lib.model import Stacked
from stages.lib.net import forward, gradient, mean_loss
from stages.lib.progress import Progress
from stages.params import TrainParams


def stacked_arrays(stacked: Stacked, parts: Sequence[Dataset]) -> tuple:
    """Features (copies, rows, features) and labels (copies, rows), float32, as `stacked`'s arrays."""
    x = np.stack([part.x for part in parts])
    y = np.stack([part.y for part in parts]).astype(np.float32)
    return stacked.place(x), stacked.place(y)


def fit(
    stacked: Stacked,
    draws: Sequence[Draws],
    trains: Sequence[Dataset],
    vals: Sequence[Dataset],
    t: TrainParams,
    progress: Progress | None = None,
) -> list[History]:
    """Adam on shuffled mini-batches (L2 through weight_decay), each copy on its own data, in the order
    and with the dropout masks of its own draws; stops with an error if the loss diverges."""
    ops = stacked.ops
    (x, y), (x_val, y_val) = stacked_arrays(stacked, trains), stacked_arrays(stacked, vals)
    copies = stacked.place(np.arange(len(trains))[:, None])
    zeros = stacked.place(np.zeros(stacked.flat.shape, np.float32))
    moments = Moments(zeros, zeros)
    corrections = BiasCorrection(t.lr)
    histories = [History(train_loss=[], val_loss=[]) for _ in trains]
    for epoch in range(1, t.epochs + 1):
        drawn = [d.epoch(y.shape[1], t.batch_size) for d in draws]
        # One gather per epoch, then the batches are views.
        order = stacked.place(torch.stack([e.order for e in drawn]))
        x_epoch, y_epoch = x[copies, order], y[copies, order]
        for index, start in enumerate(range(0, y.shape[1], t.batch_size)):
            batch = slice(start, start + t.batch_size)
            masks = zip(*(e.keeps[index] for e in drawn), strict=True)  # per layer, one per copy
            keeps = [stacked.place(torch.stack(layer).float()) for layer in masks]
            grad = gradient(ops, stacked.steps, stacked.layout, stacked.flat, stacked.stats,
                            x_epoch[:, batch], y_epoch[:, batch], keeps, t.loss)  # fmt: skip
            step = corrections.next()
            stacked.flat, moments = adam(ops, stacked.flat, grad, moments, t.weight_decay, *step)
        losses = zip(_loss_on(stacked, t.loss, x, y), _loss_on(stacked, t.loss, x_val, y_val), strict=True)
        for history, (train_loss, val_loss) in zip(histories, losses, strict=True):
            if not math.isfinite(train_loss):
                raise diverged(epoch, f"train loss {train_loss}", t.lr)
            history.train_loss.append(train_loss)
            history.val_loss.append(val_loss)
        if progress:
            progress.advance()
    return histories


def diverged(epoch: int, symptom: str, lr: float) -> UserError:
    """The error of a run whose loss stopped being finite at `epoch`."""
    return UserError(
        f"training diverged at epoch {epoch} ({symptom}); lower train.lr (now {lr}) in params.yaml; "
        "no model was saved"
    )


def _loss_on(stacked: Stacked, loss: str, x, y) -> list[float]:
    """Each copy's mean loss on rows `x`, `y`, without dropout."""
    p, _ = forward(stacked.ops, stacked.steps, stacked.weights(), stacked.stats, x)
    return [float(value) for value in mean_loss(stacked.ops, loss, p, y)]
