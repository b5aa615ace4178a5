"""The training loop, as a PyTorch user writes it: forward, loss, backward(), optimizer step; every copy
of a model side by side, in either arithmetic (stages/lib/arithmetic.py). A lone run logs each epoch's
losses to DVCLive, as DVC users do."""

import math
from collections.abc import Sequence

import numpy as np
import torch

from stages.lib.arithmetic import Pieces
from stages.lib.cli import UserError
from stages.lib.draws import Draws
from stages.lib.io import LIVE_LOSSES, Dataset, History
from stages.lib.progress import Progress
from stages.params import TrainParams

LOSS_DIGITS = 6  # the curves as DVCLive's files keep them: the same bytes on every machine and run


def log_epoch(live, epoch: int, train_loss: float, val_loss: float) -> None:
    """One epoch's losses to DVCLive (`dvclive.Live`), then its next step, which DVC reads while the run
    goes on: `dvc exp show` shows the latest epoch, DVC's VS Code extension draws the curves."""
    live.step = epoch  # epochs count from 1, as the diagnosis and the loss plot count them
    live.log_metric(LIVE_LOSSES["train"], round(train_loss, LOSS_DIGITS))
    live.log_metric(LIVE_LOSSES["val"], round(val_loss, LOSS_DIGITS))
    live.next_step()


def stacked_tensors(parts: Sequence[Dataset], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Features (copies, rows, features) and labels (copies, rows), float32, on `device`."""
    x = np.stack([part.x for part in parts])
    y = np.stack([part.y for part in parts]).astype(np.float32)
    return torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)


def fit(
    pieces: Pieces,
    draws: Sequence[Draws],
    trains: Sequence[Dataset],
    vals: Sequence[Dataset],
    t: TrainParams,
    progress: Progress | None = None,
    live=None,
) -> list[History]:
    """Adam on shuffled mini-batches (L2 through weight_decay), each copy on its own data, in the order
    and with the dropout masks of its own draws; stops with an error if the loss diverges. With `live`
    (a `dvclive.Live`, one copy only), each epoch's losses go to DVCLive."""
    model, criterion, optimizer = pieces.model, pieces.criterion, pieces.optimizer
    device = next(model.parameters()).device
    (x, y), (x_val, y_val) = stacked_tensors(trains, device), stacked_tensors(vals, device)
    copies = torch.arange(len(trains), device=device)[:, None]
    histories = [History(train_loss=[], val_loss=[]) for _ in trains]
    for epoch in range(1, t.epochs + 1):
        drawn = [d.epoch(y.shape[1], t.batch_size) for d in draws]
        # One gather per epoch, then the batches are views.
        order = torch.stack([e.order for e in drawn]).to(device)
        x_epoch, y_epoch = x[copies, order], y[copies, order]
        model.train()
        for index, start in enumerate(range(0, y.shape[1], t.batch_size)):
            batch = slice(start, start + t.batch_size)
            masks = zip(*(e.keeps[index] for e in drawn), strict=True)  # per layer, one per copy
            keeps = [torch.stack(layer).float().to(device) for layer in masks]
            optimizer.zero_grad()
            p = model(x_epoch[:, batch], keeps)
            losses = _losses(criterion, p, y_epoch[:, batch], epoch, t.lr)  # each copy's mean
            losses.sum().backward()  # the copies share no weight: each gets its own gradient
            optimizer.step()
        model.eval()
        with torch.no_grad():
            train_losses, val_losses = criterion(model(x), y), criterion(model(x_val), y_val)
        for history, train_loss, val_loss in zip(
            histories, train_losses.tolist(), val_losses.tolist(), strict=True
        ):
            if not math.isfinite(train_loss):
                raise diverged(epoch, f"train loss {train_loss}", t.lr)
            history.train_loss.append(train_loss)
            history.val_loss.append(val_loss)
        if live:
            log_epoch(live, epoch, train_losses.item(), val_losses.item())
        if progress:
            progress.advance()
    return histories


def _losses(
    criterion: torch.nn.Module, p: torch.Tensor, y: torch.Tensor, epoch: int, lr: float
) -> torch.Tensor:
    """criterion(p, y); nn.BCELoss refuses a probability that is not one, so NaN weights end there too."""
    try:
        return criterion(p, y)
    except RuntimeError:
        if not torch.isfinite(p).all():
            raise diverged(epoch, "a probability of NaN", lr) from None
        raise


def diverged(epoch: int, symptom: str, lr: float) -> UserError:
    """The error of a run whose loss stopped being finite at `epoch`."""
    return UserError(
        f"training diverged at epoch {epoch} ({symptom}); lower train.lr (now {lr}) in params.yaml; "
        "no model was saved"
    )
