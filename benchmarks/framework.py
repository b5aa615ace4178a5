"""Benchmark 9: the train stage in JAX (jit-compiled epochs of Adam steps) against its default path.

`train.framework: torch` runs stages/lib/net.py's exact arithmetic on NumPy arrays on the CPU (torch
tensors only on CUDA); `jax` runs the same definition compiled by XLA, and gives the same bits. Side by
side in one run, on the same data, initial weights and batch order:
- `stages.train.train` in one process for each framework, on four named experiments: best of 3,
  interleaved. JAX compiles its epoch function on the first call for a net; that call is timed apart.
- nb2 with the design not taken: JAX's jit-compiled step (`stages.lib.train_jax.step`) called batch by
  batch from a Python loop, instead of one jit-compiled epoch (`lax.scan` over the batches).
- the train stage as `dvc repro` runs it (dvc.yaml's command), in a new process, for nb2-mse and
  nb2-jax: imports and compilation included. Best of 3, interleaved.
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


def seconds(config: Params, data: tuple[Dataset, Dataset], framework: str) -> float:
    """Wall time of one `train` call with the config's params."""
    start = time.perf_counter()
    train(*data, dataclasses.replace(config, train=dataclasses.replace(config.train, framework=framework)))
    return time.perf_counter() - start


def in_process() -> list[list[str]]:
    """Per config: torch, JAX warm, JAX's first call, and torch ÷ JAX warm."""
    configs = load_experiments(Path("experiments.yaml"), ALL)
    rows = []
    for name in NAMES:
        data = data_of(configs[name])
        first = seconds(configs[name], data, "jax")
        best = {"torch": float("inf"), "jax": float("inf")}
        for _ in range(REPEATS):
            for framework in best:
                best[framework] = min(best[framework], seconds(configs[name], data, framework))
        epochs = configs[name].train.epochs
        jax = f"{best['jax']:.2f} s (first call {first:.2f} s)"
        ratio = f"{best['torch'] / best['jax']:.1f}"
        label = f"`train` in one process, {name} ({epochs} epochs)"
        rows.append([label, f"{best['torch']:.2f} s", jax, ratio])
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
    epoch = min(seconds(config, data, "jax") for _ in range(REPEATS))
    stepped = min(step_by_step(config, data) for _ in range(REPEATS))
    return ["nb2-mse in JAX (500 epochs)", f"{stepped:.2f} s", f"{epoch:.2f} s", f"{stepped / epoch:.1f}"]


def stage_process(workdir: Path) -> list[str]:
    """The train stage's command (dvc.yaml's) for nb2-mse, then again in JAX, in a new process each:
    best of REPEATS."""
    clone = fresh_clone(workdir, "framework")
    config = load_experiments(clone / "experiments.yaml", ALL)["nb2-mse"].plain()
    (clone / "params.yaml").write_text(yaml.safe_dump(config))
    commands, env = stage_commands(clone), clone_env(clone)
    measure(commands["generate"], clone, env)
    measure(commands["split"], clone, env)
    best = {"torch": float("inf"), "jax": float("inf")}
    for _ in range(REPEATS):
        for framework in best:
            config["train"]["framework"] = framework
            (clone / "params.yaml").write_text(yaml.safe_dump(config))
            best[framework] = min(best[framework], measure(commands["train"], clone, env).seconds)
    return ["`python -m stages.train`, nb2-mse vs nb2-jax (a new process each)", f"{best['torch']:.2f} s",
            f"{best['jax']:.2f} s", f"{best['torch'] / best['jax']:.1f}"]  # fmt: skip


def report(workdir: Path) -> str:
    """Benchmark 9 as a Markdown table."""
    header = ["measure", "torch (NumPy on the CPU)", "JAX", "torch ÷ JAX"]
    frameworks = table(header, [*in_process(), stage_process(workdir)])
    header = [
        "measure",
        "a jit-compiled step per batch",
        "one jit-compiled epoch (the JAX path)",
        "step ÷ epoch",
    ]
    return f"{frameworks}\n\n{table(header, [step_row()])}"
