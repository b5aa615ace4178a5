"""Stage train: the run's initial model and draws, then the training loop (stages/lib/loop.py) in the exact
arithmetic or PyTorch's own (stages/lib/arithmetic.py), on the CPU or CUDA, or with JAX
(stages/lib/train_jax.py); the model out, and its loss curves logged epoch by epoch with DVCLive."""

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from dvclive import Live
from stages.lib.arithmetic import deterministic, pieces
from stages.lib.cli import UserError, parse_paths, run
from stages.lib.draws import Draws, initial_model
from stages.lib.io import Dataset, History, read_splits
from stages.lib.loop import diverged, fit
from stages.lib.model import recipe, save_model
from stages.lib.names import EXACT, JAX
from stages.lib.progress import Progress
from stages.params import Params, TrainParams, load_params


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


def train_copies(trains: Sequence[Dataset], vals: Sequence[Dataset], seeds: Sequence[int], params: Params,
                 progress_label: str = "",
                 live: Live | None = None) -> tuple[list[nn.Sequential], list[History]]:  # fmt: skip
    """One MLP per (train, val, seed), trained side by side (JAX: one after another).

    A seed sets the initial weights, the batch orders and the dropout masks (stages/lib/draws.py); the
    model, the training and `data.standardize` come from `params`. The models come back on the CPU, as
    torch modules whatever the framework that trained them. With a `progress_label`, the epochs are
    shown on stderr (stages/lib/progress.py); with `live` (one copy), logged to DVCLive. In the exact
    arithmetic copy k gets the bytes it gets alone, and so it does in JAX's own (trained alone); in
    PyTorch's own, copies go through vmap, whose batched products need not round as a lone one does: a
    lone run is PyTorch's plain loop.
    """
    m, t = params.model, params.train
    assert live is None or len(seeds) == 1, "DVCLive logs one run"
    models = [initial_model(data.x, seed, m.hidden, m.activation, m.dropout, params.data.standardize)
              for data, seed in zip(trains, seeds, strict=True)]  # fmt: skip
    draws = [Draws(seed, m.hidden, m.dropout) for seed in seeds]
    # JAX trains the copies one after another, so each copy's epochs count.
    total = t.epochs * (len(models) if t.framework == JAX else 1)
    with Progress(progress_label, total, "epoch") as progress:
        if t.framework == JAX:
            return models, _jax_fit(models, draws, trains, vals, t, progress, live)
        return models, _torch_fit(models, draws, trains, vals, t, progress, live)


def _torch_fit(models: list[nn.Sequential], draws: list[Draws], trains: Sequence[Dataset],
               vals: Sequence[Dataset], t: TrainParams, progress: Progress,
               live: Live | None) -> list[History]:  # fmt: skip
    """Train `models` side by side in place, in the training loop (stages/lib/loop.py), on t.device."""
    device = resolve_device(t.device)
    trained = pieces(models, t, device)
    # A diverging run ends with its own error.
    with deterministic(t.arithmetic, device), np.errstate(over="ignore", invalid="ignore"):
        histories = fit(trained, draws, trains, vals, t, progress, live)
    for index, model in enumerate(models):
        model.cpu().load_state_dict(trained.model.unstacked(index))  # native trained it on the device
    return histories


def _jax_fit(models: list[nn.Sequential], draws: list[Draws], trains: Sequence[Dataset],
             vals: Sequence[Dataset], t: TrainParams, progress: Progress,
             live: Live | None) -> list[History]:  # fmt: skip
    """Train `models` in place, one after another: in the exact arithmetic with stages/lib/train_jax.py, in
    JAX's own with stages/lib/jax_native.py; jax is an optional install."""
    if t.device == "cuda":
        raise UserError("train.framework jax runs on the CPU here (the jax extra installs CPU wheels); "
                        "set train.device to cpu or auto in params.yaml")  # fmt: skip
    try:
        from stages.lib import jax_native, train_jax
    except ImportError:
        raise UserError("train.framework is jax but jax or optax is not installed; run "
                        "`pip install -e '.[jax]'`, or set train.framework to torch") from None  # fmt: skip
    histories = []
    for model, draw, train_data, val_data in zip(models, draws, trains, vals, strict=True):
        if t.arithmetic == EXACT:
            trained = train_jax.fit(model, draw, train_data, val_data, t, progress, live)
        else:
            trained = jax_native.fit(model, recipe(model), draw, train_data, val_data, t, progress, live)
        if not np.isfinite(trained.train_loss).all():
            epoch = int(np.argmin(np.isfinite(trained.train_loss))) + 1
            raise diverged(epoch, f"train loss {trained.train_loss[epoch - 1]}", t.lr)
        trained_params = {name: torch.from_numpy(value) for name, value in trained.params.items()}
        model.load_state_dict(model.state_dict() | trained_params)
        histories.append(History(train_loss=trained.train_loss.tolist(), val_loss=trained.val_loss.tolist()))
    return histories


def train(train_data: Dataset, val_data: Dataset, params: Params, progress_label: str = "",
          live: Live | None = None) -> tuple[nn.Module, History]:  # fmt: skip
    """One model, from `params.train.seed`: `train_copies` with one copy."""
    models, histories = train_copies(
        [train_data], [val_data], [params.train.seed], params, progress_label, live
    )
    return models[0], histories[0]


def main() -> None:
    """Read `model`, `train`, `data.standardize`, --train and --val; write --model, and the loss curves
    with DVCLive into --live."""
    args = parse_paths(__doc__, "train", "val", "model", "live")
    train_data, val_data = read_splits(args.train, args.val)
    params = load_params(args.params)
    # dvc.yaml declares DVCLive's files itself; no report, and no experiment saved from inside a stage.
    live = Live(str(args.live), dvcyaml=None, save_dvc_exp=False, report=None)
    model, _ = train(train_data, val_data, params, progress_label="train", live=live)
    live.end()  # not after a failure: the curves up to it stay, with no empty summary written over them
    save_model(model, args.model)


if __name__ == "__main__":
    run(main)
