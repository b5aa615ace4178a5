"""Benchmark 9: the train stage in PyTorch and in JAX, each in the exact arithmetic and in its own.

`train.framework: torch` with `arithmetic: exact` (the default) runs stages/lib/net.py's exact arithmetic
on NumPy arrays on the CPU; `native` is PyTorch's own kernels, autograd and torch.optim.Adam. `jax` with
`exact` runs the same definition as NumPy compiled by XLA (the same bits); `native` is JAX's own: a jnp
forward, jax.value_and_grad and optax's Adam (stages/lib/jax_native.py). Side by side in one run, on the
same data, initial weights and batch order:
- `stages.train.train` in one process for each of the four paths, on four named experiments: best of 3,
  interleaved. JAX compiles its epoch function on the first call for a net; that call is timed apart.
- nb2 with the design not taken: JAX's jit-compiled exact step (`stages.lib.train_jax.step`) called
  batch by batch from a Python loop, instead of one jit-compiled epoch (`lax.scan` over the batches).
- the train stage as `dvc repro` runs it (dvc.yaml's command), in a new process, for nb2-mse in the
  four paths: imports and compilation included. Best of 3, interleaved.
"""

import dataclasses
import time
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import yaml

from benchmarks.common import clone_env, fresh_clone, measure, table
from benchmarks.scale import stage_commands
from stages.lib import train_jax
from stages.lib.adam import BiasCorrection
from stages.lib.arithmetic import Stacked
from stages.lib.configs import ALL, load_experiments
from stages.lib.draws import Draws, initial_model
from stages.lib.io import Dataset
from stages.params import Params
from stages.train import train
from study.seeds import Seeds, parts

NAMES = ("nb1-bce", "nb2-mse", "nb4-dropout", "nb7-breast-cancer")
REPEATS = 3


def data_of(config: Params) -> tuple[Dataset, Dataset]:
    """The config's own train and validation splits."""
    return parts(config, Seeds("all", 0, config.data.seed or 0, config.split.seed, config.train.seed))


PATHS = {"PyTorch, exact": ("torch", "exact"), "PyTorch's own": ("torch", "native"),
         "JAX, exact": ("jax", "exact"), "JAX's own": ("jax", "native")}  # fmt: skip
OWN = ("PyTorch's own", "JAX's own")  # the seed's comparison: each framework as its users train


def seconds(config: Params, data: tuple[Dataset, Dataset], path: tuple[str, str]) -> float:
    """Wall time of one `train` call with the config's params, in `path` (framework, arithmetic)."""
    framework, arithmetic = path
    start = time.perf_counter()
    train(*data, dataclasses.replace(config, train=dataclasses.replace(config.train, framework=framework,
                                                                       arithmetic=arithmetic)))  # fmt: skip
    return time.perf_counter() - start


def in_process() -> list[list[str]]:
    """Per config: each path's best time (JAX's first call beside it), and PyTorch's own ÷ JAX's own."""
    configs = load_experiments(Path("experiments.yaml"), ALL)
    rows = []
    for name in NAMES:
        data = data_of(configs[name])
        first = {label: seconds(configs[name], data, path) for label, path in PATHS.items() if "JAX" in label}
        best = dict.fromkeys(PATHS, float("inf"))
        for _ in range(REPEATS):
            for label, path in PATHS.items():
                best[label] = min(best[label], seconds(configs[name], data, path))
        cells = [f"{best[label]:.2f} s" + (f" (first {first[label]:.2f} s)" if label in first else "")
                 for label in PATHS]  # fmt: skip
        label = f"`train` in one process, {name} ({configs[name].train.epochs} epochs)"
        rows.append([label, *cells, f"{best[OWN[0]] / best[OWN[1]]:.1f}"])
    return rows


def step_by_step(config: Params, data: tuple[Dataset, Dataset]) -> float:
    """Wall time of training with `train_jax.step` called per batch from Python: no dropout, and
    without the per-epoch losses the JAX path also computes."""
    m, t = config.plain()["model"], config.plain()["train"]
    train_data = data[0]
    model = initial_model(train_data.x, t["seed"], m["hidden"], m["activation"])
    draws = Draws(t["seed"], m["hidden"], 0.0)
    stacked = Stacked([model])  # one copy: a leading copy axis of 1, as train_jax.fit has it
    stats = {name: jnp.asarray(value) for name, value in stacked.stats.items()}
    flat = jnp.asarray(stacked.flat_array())
    mean, square = jnp.zeros_like(flat), jnp.zeros_like(flat)
    options = {"steps": stacked.steps, "layout": stacked.layout, "loss": t["loss"],
               "weight_decay": t["weight_decay"]}  # fmt: skip
    corrections, zero = BiasCorrection(t["lr"]), jnp.int32(0)
    x, y, rows, batch = train_data.x, train_data.y.astype("float32"), len(train_data.y), t["batch_size"]
    start = time.perf_counter()
    for _ in range(t["epochs"]):
        order = draws.epoch(rows, batch).order.numpy()
        for first in range(0, rows, batch):
            picked = order[first : first + batch]
            xb, yb, schedule = x[picked][None], y[picked][None], np.array(corrections.next(), np.float32)
            flat, mean, square, _ = train_jax.step(flat, mean, square, stats, xb, yb, (), schedule, zero,
                                                   **options)  # fmt: skip
    flat.block_until_ready()  # JAX dispatches asynchronously
    return time.perf_counter() - start


def step_row() -> list[str]:
    """nb2-mse: one jit-compiled epoch (the JAX path) against a jit-compiled step per batch."""
    config = load_experiments(Path("experiments.yaml"), ALL)["nb2-mse"]
    data = data_of(config)
    step_by_step(config, data)  # compiles the step
    epoch = min(seconds(config, data, PATHS["JAX, exact"]) for _ in range(REPEATS))
    stepped = min(step_by_step(config, data) for _ in range(REPEATS))
    return ["nb2-mse in JAX (500 epochs)", f"{stepped:.2f} s", f"{epoch:.2f} s", f"{stepped / epoch:.1f}"]


def stage_process(workdir: Path) -> list[str]:
    """The train stage's command (dvc.yaml's) for nb2-mse in each path, in a new process each: best of
    REPEATS, interleaved."""
    clone = fresh_clone(workdir, "framework")
    config = load_experiments(clone / "experiments.yaml", ALL)["nb2-mse"].plain()
    (clone / "params.yaml").write_text(yaml.safe_dump(config))
    commands, env = stage_commands(clone), clone_env(clone)
    measure(commands["generate"], clone, env)
    measure(commands["split"], clone, env)
    best = dict.fromkeys(PATHS, float("inf"))
    for _ in range(REPEATS):
        for label, (framework, arithmetic) in PATHS.items():
            config["train"] |= {"framework": framework, "arithmetic": arithmetic}
            (clone / "params.yaml").write_text(yaml.safe_dump(config))
            best[label] = min(best[label], measure(commands["train"], clone, env).seconds)
    cells = [f"{best[label]:.2f} s" for label in PATHS]
    return [
        "`python -m stages.train`, nb2-mse (a new process each)",
        *cells,
        f"{best[OWN[0]] / best[OWN[1]]:.1f}",
    ]


def report(workdir: Path) -> str:
    """Benchmark 9 as Markdown tables."""
    header = ["measure", *PATHS, f"{OWN[0]} ÷ {OWN[1]}"]
    paths = table(header, [*in_process(), stage_process(workdir)])
    header = [
        "measure",
        "a jit-compiled step per batch",
        "one jit-compiled epoch (the JAX path)",
        "step ÷ epoch",
    ]
    return f"{paths}\n\n{table(header, [step_row()])}"
