"""Benchmark 4: the train stage's loop in samples per second, against two hand-written torch loops.

The train stage runs stages/lib/net.py's exact arithmetic on NumPy arrays on the CPU (stages/lib/exact.py);
the baselines are what a PyTorch user writes: torch's autograd, BLAS and `torch.optim.Adam`, one thread.
"""

import time
from collections.abc import Callable

import torch
from torch import nn

from benchmarks.common import table, verdict
from stages.generate import generate
from stages.lib.io import Dataset
from stages.lib.model import build_mlp
from stages.split import split
from stages.train import train as train_stage

N_SAMPLES = 20_000  # 16,000 training rows
EPOCHS = {32: 4, 1024: 60}  # about a second of training each
REPEATS = 5  # interleaved, best kept: the first runs in a process are slower (lazy initialisation)
CPU = torch.device("cpu")
LOSS = nn.functional.binary_cross_entropy  # the loss the stage computes for `bce`, in torch's kernels


def minimal_loop(model: nn.Module, x, y, x_val, y_val, epochs: int, batch_size: int, seed: int) -> None:
    """What a careful user writes: a shuffled index per epoch, batches sliced from the shuffled tensors."""
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    generator = torch.Generator().manual_seed(seed)
    loss_fn = LOSS
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=generator)
        xs, ys = x[order], y[order]
        for start in range(0, len(y), batch_size):
            optimizer.zero_grad()
            loss_fn(
                model(xs[start : start + batch_size]).squeeze(1), ys[start : start + batch_size]
            ).backward()
            optimizer.step()
        with torch.no_grad():  # the same per-epoch history the stage records
            loss_fn(model(x).squeeze(1), y), loss_fn(model(x_val).squeeze(1), y_val)


def dataloader_loop(model: nn.Module, x, y, x_val, y_val, epochs: int, batch_size: int, seed: int) -> None:
    """The common tutorial loop: `DataLoader(TensorDataset(...), shuffle=True)`."""
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y),
        batch_size=batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
    loss_fn = LOSS
    for _ in range(epochs):
        for xb, yb in loader:
            optimizer.zero_grad()
            loss_fn(model(xb).squeeze(1), yb).backward()
            optimizer.step()
        with torch.no_grad():
            loss_fn(model(x).squeeze(1), y), loss_fn(model(x_val).squeeze(1), y_val)


def tensors(data: Dataset, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Features and observed labels as float32 tensors on `device`."""
    return torch.from_numpy(data.x).to(device), torch.from_numpy(data.y.astype("float32")).to(device)


def samples_per_second(loop: Callable, batch_size: int) -> float:
    """Training rows consumed per second by `loop`, on the nb1 network and a fresh copy of the data."""
    train, val = split(generate(seed=0, n_samples=N_SAMPLES, n_features=2, noise=0.05), 0.2, seed=0)
    torch.manual_seed(0)
    model = build_mlp(2, 4)
    epochs = EPOCHS[batch_size]
    start = time.perf_counter()
    if loop is train_stage:
        options = {"lr": 0.001, "weight_decay": 0.0, "epochs": epochs, "batch_size": batch_size}
        train_stage(train, val, hidden=4, loss="bce", seed=0, **options)
    else:
        loop(model, *tensors(train, CPU), *tensors(val, CPU), epochs, batch_size, seed=0)
    return epochs * len(train.y) / (time.perf_counter() - start)


LOOPS = {
    "train stage (`train`)": train_stage,
    "minimal hand-written": minimal_loop,
    "DataLoader": dataloader_loop,
}


def report(_workdir=None) -> str:
    """Best throughput of each loop at batch 32 and 1024; the torch loops on one thread, as the train
    stage ran torch before it moved to NumPy (whose elementwise operations use one thread anyway)."""
    torch.set_num_threads(1)
    rows = []
    for batch_size in EPOCHS:
        speed = dict.fromkeys(LOOPS, 0.0)
        for _ in range(REPEATS):
            for name, loop in LOOPS.items():
                speed[name] = max(speed[name], samples_per_second(loop, batch_size))
        stage = speed["train stage (`train`)"]
        for name, value in speed.items():
            ratio, target = stage / value, _target(name, batch_size)
            check = verdict(ratio, target, at_most=False) if target else ""
            rows.append(
                [batch_size, name, f"{value:,.0f}", f"{ratio:.2f}", f"≥ {target}" if target else "", check]
            )
    header = ["batch", "loop", "samples/s", "train stage ÷ this", "target", ""]
    return table(header, rows)


def _target(name: str, batch_size: int) -> float | None:
    if name.startswith("minimal"):
        return 0.9
    if name == "DataLoader" and batch_size >= 256:
        return 5.0
    return None
