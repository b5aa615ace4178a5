"""Stage train: fit the MLP with Adam, recording train and validation loss after every epoch."""

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from stages.cli import UserError, parse_paths, run
from stages.draws import Draws, initial_model
from stages.io import Dataset, History, read_splits, write_history
from stages.model import Stacked, save_model
from stages.net import BiasCorrection, Moments, adam, forward, gradient, mean_loss
from stages.params import Params, TrainParams, load_params
from stages.progress import Progress


def stacked_arrays(stacked: Stacked, parts: Sequence[Dataset]) -> tuple:
    """Features (copies, rows, features) and labels (copies, rows), float32, as `stacked`'s arrays."""
    x = np.stack([part.x for part in parts])
    y = np.stack([part.y for part in parts]).astype(np.float32)
    return stacked.place(x), stacked.place(y)


def resolve_device(name: str) -> torch.device:
    """`cpu`, `cuda`, or for `auto` CUDA when one is visible and the CPU otherwise."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError(
            "train.device is cuda but torch sees no CUDA device; "
            "set train.device to auto or cpu in params.yaml"
        )
    return torch.device(name)


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
                raise _diverged(epoch, f"train loss {train_loss}", t.lr)
            history.train_loss.append(train_loss)
            history.val_loss.append(val_loss)
        if progress:
            progress.advance()
    return histories


def _diverged(epoch: int, symptom: str, lr: float) -> UserError:
    """The error of a run whose loss stopped being finite at `epoch`."""
    return UserError(
        f"training diverged at epoch {epoch} ({symptom}); lower train.lr (now {lr}) in params.yaml; "
        "no model was saved"
    )


def _loss_on(stacked: Stacked, loss: str, x, y) -> list[float]:
    """Each copy's mean loss on rows `x`, `y`, without dropout."""
    p, _ = forward(stacked.ops, stacked.steps, stacked.weights(), stacked.stats, x)
    return [float(value) for value in mean_loss(stacked.ops, loss, p, y)]


def train_copies(trains: Sequence[Dataset], vals: Sequence[Dataset], seeds: Sequence[int], params: Params,
                 progress_label: str = "") -> tuple[list[nn.Sequential], list[History]]:  # fmt: skip
    """One MLP per (train, val, seed), trained side by side; copy k gets the bytes it would get alone.

    A seed sets the initial weights, the batch orders and the dropout masks (stages/draws.py); the
    model, the training and `data.standardize` come from `params`. The models come back on the CPU, as
    torch modules whatever the framework that trained them. With a `progress_label`, the epochs are
    shown on stderr (stages/progress.py).
    """
    m, t = params.model, params.train
    models = [initial_model(data.x, seed, m.hidden, m.activation, m.dropout, params.data.standardize)
              for data, seed in zip(trains, seeds, strict=True)]  # fmt: skip
    draws = [Draws(seed, m.hidden, m.dropout) for seed in seeds]
    # JAX trains the copies one after another, so each copy's epochs count.
    total = t.epochs * (len(models) if t.framework == "jax" else 1)
    with Progress(progress_label, total, "epoch") as progress:
        if t.framework == "jax":
            return models, _jax_fit(models, draws, trains, vals, t, progress)
        stacked = Stacked(models, resolve_device(t.device))
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging run ends with its own error
            histories = fit(stacked, draws, trains, vals, t, progress)
    for index, model in enumerate(models):
        model.load_state_dict(stacked.unstacked(index))
    return models, histories


def _jax_fit(models: list[nn.Sequential], draws: list[Draws], trains: Sequence[Dataset],
             vals: Sequence[Dataset], t: TrainParams, progress: Progress) -> list[History]:  # fmt: skip
    """Train `models` in place with stages/train_jax.py, one after another; jax is an optional install."""
    if t.device == "cuda":
        raise UserError("train.framework jax runs on the CPU here (the jax extra installs CPU wheels); "
                        "set train.device to cpu or auto in params.yaml")  # fmt: skip
    try:
        from stages import train_jax
    except ImportError:
        raise UserError("train.framework is jax but jax is not installed; run "
                        "`pip install -e '.[jax]'`, or set train.framework to torch") from None  # fmt: skip
    histories = []
    for model, draw, train_data, val_data in zip(models, draws, trains, vals, strict=True):
        trained = train_jax.fit(model, draw, train_data, val_data, t, progress)
        if not np.isfinite(trained.train_loss).all():
            epoch = int(np.argmin(np.isfinite(trained.train_loss))) + 1
            raise _diverged(epoch, f"train loss {trained.train_loss[epoch - 1]}", t.lr)
        trained_params = {name: torch.from_numpy(value) for name, value in trained.params.items()}
        model.load_state_dict(model.state_dict() | trained_params)
        histories.append(History(train_loss=trained.train_loss.tolist(), val_loss=trained.val_loss.tolist()))
    return histories


def train(train_data: Dataset, val_data: Dataset, params: Params,
          progress_label: str = "") -> tuple[nn.Module, History]:  # fmt: skip
    """One model, from `params.train.seed`: `train_copies` with one copy."""
    models, histories = train_copies([train_data], [val_data], [params.train.seed], params, progress_label)
    return models[0], histories[0]


def main() -> None:
    """Read `model`, `train`, `data.standardize`, --train and --val; write --model and --history."""
    args = parse_paths(__doc__, "train", "val", "model", "history")
    train_data, val_data = read_splits(args.train, args.val)
    model, history = train(train_data, val_data, load_params(args.params), progress_label="train")
    save_model(model, args.model)
    write_history(args.history, history)


if __name__ == "__main__":
    run(main)
