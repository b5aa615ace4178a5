"""Stage train: fit the MLP with Adam, recording train and validation loss after every epoch."""

import math
import os
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from stages.cli import UserError, parse_paths, run
from stages.cpu import machine_class, require_pinned
from stages.io import Dataset, read_splits, write_json, write_table
from stages.model import build_mlp, save_model
from stages.params import DataParams, ModelParams, TrainParams, load_section

LOSSES = {"bce": nn.functional.binary_cross_entropy, "mse": nn.functional.mse_loss}


@dataclass(frozen=True)
class History:
    """Loss on the whole train and validation sets after each epoch."""

    train_loss: list[float]
    val_loss: list[float]


def tensors(data: Dataset, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Features and observed labels as float32 tensors on `device`."""
    return torch.from_numpy(data.x).to(device), torch.from_numpy(data.y.astype(np.float32)).to(device)


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
    model: nn.Module,
    train: Dataset,
    val: Dataset,
    *,
    loss: str,
    lr: float,
    weight_decay: float,
    epochs: int,
    batch_size: int,
    seed: int,
) -> History:
    """Adam on shuffled mini-batches (L2 through weight_decay); stops with an error if the loss diverges."""
    loss_fn = LOSSES[loss]
    # fused: one kernel per step instead of one per tensor; same results, fewer dispatches.
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay, fused=True)
    shuffle = torch.Generator().manual_seed(seed)  # on the CPU, so every device sees the same order
    device = next(model.parameters()).device
    (x, y), (x_val, y_val) = tensors(train, device), tensors(val, device)
    history = History(train_loss=[], val_loss=[])
    for epoch in range(1, epochs + 1):
        model.train()
        # One gather per epoch; the batches are then views, not a gather each.
        order = torch.randperm(len(y), generator=shuffle).to(device)
        x_epoch, y_epoch = x[order], y[order]
        try:
            for start in range(0, len(y), batch_size):
                optimizer.zero_grad(set_to_none=True)
                prediction = model(x_epoch[start : start + batch_size]).squeeze(1)
                loss_fn(prediction, y_epoch[start : start + batch_size]).backward()
                optimizer.step()
            history.train_loss.append(_loss_on(model, loss_fn, x, y))
            history.val_loss.append(_loss_on(model, loss_fn, x_val, y_val))
        except RuntimeError:
            # BCE rejects NaN predictions with an error where MSE returns a NaN loss.
            with torch.no_grad():
                if bool(torch.isfinite(model(x)).all()):
                    raise
            raise _diverged(epoch, "predictions no longer finite", lr) from None
        if not math.isfinite(history.train_loss[-1]):
            raise _diverged(epoch, f"train loss {history.train_loss[-1]}", lr)
    return history


def _diverged(epoch: int, symptom: str, lr: float) -> UserError:
    return UserError(
        f"training diverged at epoch {epoch} ({symptom}); lower train.lr (now {lr}) in params.yaml; "
        "no model was saved"
    )


def _loss_on(model: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return float(loss_fn(model(x).squeeze(1), y))


def train(
    train_data: Dataset,
    val_data: Dataset,
    *,
    hidden: int | tuple[int, ...],
    loss: str,
    lr: float,
    weight_decay: float,
    epochs: int,
    batch_size: int,
    seed: int,
    activation: str = "relu",
    dropout: float = 0.0,
    standardize: bool = False,
    device: str = "cpu",
) -> tuple[nn.Module, History]:
    """Build the MLP from `seed` and fit it on `device`; the same inputs give the same weights, bit for bit.

    The model comes back on the CPU.
    """
    torch.manual_seed(seed)
    model = build_mlp(train_data.x.shape[1], hidden, activation, dropout, standardize)
    if standardize:
        model[0].fit(train_data.x)  # statistics of the training split alone
    model.to(resolve_device(device))
    history = fit(
        model,
        train_data,
        val_data,
        loss=loss,
        lr=lr,
        weight_decay=weight_decay,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
    )
    return model.cpu(), history


def write_history(path, history: History) -> None:
    """Write the loss curves as CSV: epoch, train_loss, val_loss."""
    epochs = np.arange(1, len(history.train_loss) + 1)
    columns = {"epoch": epochs, "train_loss": history.train_loss, "val_loss": history.val_loss}
    write_table(path, columns, {"epoch": "%d", "train_loss": "%.6f", "val_loss": "%.6f"})


def main() -> None:
    """Read `model`, `train`, `data.standardize`, --train and --val; write --model, --history, --machine.

    --machine names the class of machine that trained the model: `stages.check` reads it to tell a real
    difference from another architecture's arithmetic.
    """
    args = parse_paths(__doc__, "train", "val", "model", "history", "machine")
    require_pinned()
    m = load_section(args.params, "model", ModelParams)
    t = load_section(args.params, "train", TrainParams)
    standardize = load_section(args.params, "data", DataParams).standardize
    train_data, val_data = read_splits(args.train, args.val)
    # Tiny layers: one thread is fastest. OMP_NUM_THREADS may ask for more; results must not change
    # (`python -m stages.check` proves it by training again with more threads).
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS, when on CUDA
    torch.use_deterministic_algorithms(True)
    model, history = train(
        train_data, val_data, hidden=m.hidden, activation=m.activation, dropout=m.dropout,
        standardize=standardize, loss=t.loss, lr=t.lr, weight_decay=t.weight_decay,
        epochs=t.epochs, batch_size=t.batch_size, seed=t.seed, device=t.device,
    )  # fmt: skip
    save_model(model, args.model)
    write_history(args.history, history)
    write_json(args.machine, machine_class())


if __name__ == "__main__":
    run(main)
