"""Benchmark 12 (`arithmetic`): the exact arithmetic as PyTorch pieces, beside what it was and beside
PyTorch's own kernels (`train.arithmetic: native`).

BEFORE is the last commit whose exact arithmetic trained in a loop of its own (NumPy arrays, no autograd,
no torch.optim); from the next commit on, both arithmetics train in one PyTorch loop: `model(x)`, the
loss, `backward()`, `optimizer.step()`, the exact one through an autograd Function and ExactAdam. Side by
side in one run:
- the exact train loop's µs per Adam step, BEFORE and HEAD, for nb1-bce and nb3-mse-l2 at batch 32:
  `stages.train.train`'s wall time ÷ its steps (each epoch's draws, gather and losses included), in a new
  process per commit, best of 3 interleaved;
- `journey experiments` (the three notebooks on DVC's queue) on fresh clones of both, best of 2 interleaved;
- HEAD's two arithmetics on every named PyTorch experiment: the whole run and µs per step, in one
  process, best of 2 interleaved;
- where native wins: nb3's net made wider (hidden 7 to 512, 1,500 rows, 20 epochs) and nb3 on 10^5 rows
  (2 epochs), best of 2 interleaved;
- what a step is made of, with timeit (best of 7) on one batch of 32: the arithmetic alone as the loop
  before called it (net.gradient, then adam), the whole step now (zero_grad, forward, loss, backward,
  step), the batch loss's value (which the loop before never computed), and PyTorch's machinery alone:
  two autograd Functions and a torch.optim.Optimizer that compute nothing.
"""

import dataclasses
import json
import sys
import time
import timeit
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import clone_env, fresh_clone, head, measure, table, verdict
from stages.lib import net
from stages.lib.adam import BiasCorrection, Moments, adam
from stages.lib.arithmetic import pieces
from stages.lib.configs import ALL, load_experiments
from stages.lib.draws import initial_model
from stages.lib.names import EXACT, NATIVE
from stages.params import Params
from stages.train import train
from study.seeds import Seeds, parts

BEFORE = "8d31908"
PYTHON = sys.executable
TARGETS = {"step": 1.5, "experiments": 1.1}  # HEAD ÷ BEFORE, at most
STEP_CONFIGS = {"nb1-bce": 100, "nb3-mse-l2": 100}  # epochs timed: a second or two per measurement
WIDTHS = (7, 32, 128, 512)

# One commit's train loop, timed in its own process; one untimed epoch first (lazy initialisation).
STEPS = """
import dataclasses, json, sys, time
from pathlib import Path
from stages.lib.configs import load_experiments
from stages.train import train
from study.seeds import Seeds, parts

configs = load_experiments(Path("experiments.yaml"))
results = {}
for name, epochs in json.loads(sys.argv[1]).items():
    config = configs[name]
    data = parts(config, Seeds("all", 0, config.data.seed or 0, config.split.seed, config.train.seed))
    def seconds(n_epochs):
        settings = dataclasses.replace(config.train, epochs=n_epochs)
        start = time.perf_counter()
        train(*data, dataclasses.replace(config, train=settings))
        return time.perf_counter() - start
    seconds(1)
    results[name] = seconds(epochs) / (epochs * -(-len(data[0].y) // config.train.batch_size)) * 1e6
print("RESULTS=" + json.dumps(results))
"""


def _step_times(clone: Path) -> dict[str, float]:
    run = measure([PYTHON, "-c", STEPS, json.dumps(STEP_CONFIGS)], clone, clone_env(clone))
    return json.loads(run.output.rpartition("RESULTS=")[2].strip())


def before_and_after(workdir: Path, after: str) -> list[list[str]]:
    """The exact step and `journey experiments`, BEFORE and HEAD, interleaved, best kept."""
    clones = {side: fresh_clone(workdir, f"{side}-steps", commit)
              for side, commit in (("before", BEFORE), ("after", after))}  # fmt: skip
    best: dict[tuple[str, str], float] = {}
    for _ in range(3):
        for side, clone in clones.items():
            for name, value in _step_times(clone).items():
                best[side, name] = min(best.get((side, name), float("inf")), value)
    for repeat in range(2):
        for side, commit in (("before", BEFORE), ("after", after)):
            clone = fresh_clone(workdir, f"{side}-experiments-{repeat}", commit)
            seconds = measure([PYTHON, "-m", "journey", "experiments"], clone, clone_env(clone)).seconds
            best[side, "experiments"] = min(best.get((side, "experiments"), float("inf")), seconds)
    rows = []
    for key, label, unit in [*((name, f"exact step, {name} (µs)", "µs") for name in STEP_CONFIGS),
                             ("experiments", "`journey experiments`, fresh clone (s)", "s")]:  # fmt: skip
        ratio, target = best["after", key] / best["before", key], TARGETS["step" if unit == "µs" else key]
        rows.append([label, f"{best['before', key]:.1f}", f"{best['after', key]:.1f}", f"{ratio:.2f}",
                     f"≤ {target}", verdict(ratio, target, at_most=True)])  # fmt: skip
    return rows


def _timed(config: Params, data: tuple, arithmetic: str, **changes) -> float:
    """Wall time of one `train` call with `arithmetic` and `changes` to the train section."""
    settings = dataclasses.replace(config.train, arithmetic=arithmetic, **changes)
    start = time.perf_counter()
    train(*data, dataclasses.replace(config, train=settings))
    return time.perf_counter() - start


def _best_of_two(config: Params, data: tuple, **changes) -> dict[str, float]:
    best = {EXACT: float("inf"), NATIVE: float("inf")}
    for _ in range(2):
        for arithmetic in best:
            best[arithmetic] = min(best[arithmetic], _timed(config, data, arithmetic, **changes))
    return best


def _data(config: Params) -> tuple:
    return parts(config, Seeds("all", 0, config.data.seed or 0, config.split.seed, config.train.seed))


def _row(label: str, config: Params, data: tuple, best: dict[str, float], epochs: int) -> list[str]:
    steps = epochs * -(-len(data[0].y) // config.train.batch_size)
    exact, native = best[EXACT], best[NATIVE]
    per_step = [f"{seconds / steps * 1e6:.0f}" for seconds in (exact, native)]
    return [label, f"{exact:.2f}", f"{native:.2f}", *per_step, f"{native / exact:.2f}"]


def native_beside_exact() -> list[list[str]]:
    """HEAD's two arithmetics on every named PyTorch experiment, then on wider nets and more rows."""
    configs = load_experiments(Path("experiments.yaml"), ALL)
    nb3 = configs["nb3-mse-l2"]
    _timed(nb3, _data(nb3), NATIVE, epochs=1)  # torch.optim's first use imports torch._dynamo (a second)
    rows = []
    for name, config in configs.items():
        if config.train.framework == "torch":
            data = _data(config)
            rows.append(_row(name, config, data, _best_of_two(config, data), config.train.epochs))
    for width in WIDTHS:
        config = dataclasses.replace(nb3, model=dataclasses.replace(nb3.model, hidden=(width,)))
        data = _data(config)
        best = _best_of_two(config, data, epochs=20)
        rows.append(_row(f"nb3, hidden {width}, 20 epochs", config, data, best, 20))
    big = dataclasses.replace(nb3, data=dataclasses.replace(nb3.data, n_samples=100_000))
    data = _data(big)
    rows.append(_row("nb3 on 10^5 rows, 2 epochs", big, data, _best_of_two(big, data, epochs=2), 2))
    return rows


class _Model(torch.autograd.Function):
    """A model's autograd Function that computes nothing: PyTorch's machinery alone."""

    @staticmethod
    def forward(ctx, weights: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.weights = weights
        return x[..., 0]

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return torch.zeros_like(ctx.weights), None


class _Loss(torch.autograd.Function):
    """A loss's autograd Function that computes nothing."""

    @staticmethod
    def forward(ctx, p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        ctx.shape = p.shape
        return p[:, 0]

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad[:, None].expand(ctx.shape), None


class _Idle(torch.optim.Optimizer):
    """A torch.optim.Optimizer whose step does nothing."""

    def __init__(self, params) -> None:
        super().__init__(params, {})

    def step(self, closure=None) -> None:
        pass


def _micro(function) -> float:
    return min(timeit.repeat(function, number=1000, repeat=7)) / 1000 * 1e6


def _parts(config: Params) -> list[float]:
    """µs of: the arithmetic as the loop before called it, the whole step now, the batch loss's value,
    and PyTorch's machinery alone, on one batch of 32 of `config`."""
    t, train_data = config.train, _data(config)[0]
    x = torch.from_numpy(train_data.x[None, :32].copy())
    y = torch.from_numpy(train_data.y[None, :32].astype(np.float32))
    exact = pieces([initial_model(train_data.x, 0, config.model.hidden)], t, torch.device("cpu"))
    model, criterion, optimizer = exact.model, exact.criterion, exact.optimizer
    flat, arrays = model.flat_array(), (x.numpy(), y.numpy())
    moments, corrections = Moments(flat * 0, flat * 0), BiasCorrection(t.lr)

    def before() -> None:
        grad = net.gradient(model.ops, model.steps, model.layout, flat, model.stats, *arrays, [], t.loss)
        adam(model.ops, flat, grad, moments, t.weight_decay, *corrections.next())

    def now() -> None:
        optimizer.zero_grad()
        criterion(model(x), y).sum().backward()
        optimizer.step()

    weights = torch.zeros_like(model.flat, requires_grad=True)
    idle = _Idle([weights])

    def machinery() -> None:
        idle.zero_grad()
        _Loss.apply(_Model.apply(weights, x), y).sum().backward()
        idle.step()

    def loss_value() -> None:
        net.mean_loss(model.ops, t.loss, arrays[0][..., 0], arrays[1])

    return [_micro(part) for part in (before, now, loss_value, machinery)]


def step_parts() -> list[list[str]]:
    """Each part of an exact step, for nb1-bce and nb3-mse-l2, with now ÷ before."""
    configs = load_experiments(Path("experiments.yaml"))
    rows = []
    for name in STEP_CONFIGS:
        parts = _parts(configs[name])
        rows.append([name, *(f"{part:.0f}" for part in parts), f"{parts[1] / parts[0]:.2f}"])
    return rows


def report(workdir: Path) -> str:
    """Benchmark 12 as three Markdown tables: before and after, native beside exact, a step's parts."""
    after = head()
    first = table(["measure", f"before (`{BEFORE}`)", f"after (`{after}`)", "after ÷ before", "target", ""],
                  before_and_after(workdir, after))  # fmt: skip
    header = ["run", "exact, s", "native, s", "exact, µs/step", "native, µs/step", "native ÷ exact"]
    parts = ["config, batch 32, µs", "arithmetic alone (the loop before)", "whole step now",
             "of which: the batch loss's value", "of which: PyTorch's machinery", "now ÷ before"]  # fmt: skip
    return f"{first}\n\n{table(header, native_beside_exact())}\n\n{table(parts, step_parts())}"
