"""Benchmark 9: the train stage in JAX (jit-compiled epochs of Adam steps) against the torch train stage.

Side by side in one run, on the same data, initial weights and batch order:
- `stages.train.train` in one process for each framework, on four named experiments: best of 3,
  interleaved. JAX compiles its epoch function on the first call for a net; that call is timed apart.
- the train stage as `dvc repro` runs it, `python -m stages.train` in a new process, for nb2-mse and
  nb2-jax: imports and compilation included. Best of 3, interleaved.
"""

import sys
import time
from pathlib import Path

import yaml

from benchmarks.common import fresh_clone, measure, table
from journey.configs import ALL, Config, load_experiments
from journey.seeds import Seeds, parts
from stages.io import Dataset
from stages.train import train

NAMES = ("nb1-bce", "nb2-mse", "nb4-dropout", "nb7-breast-cancer")
REPEATS = 3
PYTHON = sys.executable
SPLIT = ["-m", "stages.split", "--data", "data/raw.csv", "--train", "data/train.csv", "--val", "data/val.csv"]
TRAIN = ["-m", "stages.train", "--train", "data/train.csv", "--val", "data/val.csv",
         "--model", "models/model.safetensors", "--history", "models/history.csv",
         "--machine", "models/machine.json"]  # fmt: skip


def data_of(config: Config) -> tuple[Dataset, Dataset]:
    """The config's own train and validation splits."""
    d, s, t = config["data"], config["split"], config["train"]
    return parts(config, Seeds("all", 0, d["seed"] or 0, s["seed"], t["seed"]))


def seconds(config: Config, data: tuple[Dataset, Dataset], framework: str) -> float:
    """Wall time of one `train` call with the config's params."""
    m, t = config["model"], config["train"]
    start = time.perf_counter()
    train(*data, hidden=m["hidden"], activation=m["activation"], dropout=m["dropout"],
          standardize=config["data"]["standardize"], loss=t["loss"], lr=t["lr"],
          weight_decay=t["weight_decay"], epochs=t["epochs"], batch_size=t["batch_size"], seed=t["seed"],
          framework=framework)  # fmt: skip
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
        epochs = configs[name]["train"]["epochs"]
        jax = f"{best['jax']:.2f} s (first call {first:.2f} s)"
        ratio = f"{best['torch'] / best['jax']:.1f}"
        label = f"`train` in one process, {name} ({epochs} epochs)"
        rows.append([label, f"{best['torch']:.2f} s", jax, ratio])
    return rows


def stage_process(workdir: Path) -> list[str]:
    """`python -m stages.train` for nb2-mse, then again in JAX, in a new process each: best of REPEATS."""
    clone = fresh_clone(workdir, "framework")
    config = load_experiments(clone / "experiments.yaml", ALL)["nb2-mse"]
    (clone / "params.yaml").write_text(yaml.safe_dump(config))
    measure([PYTHON, "-m", "stages.generate", "--out", "data/raw.csv"], clone)
    measure([PYTHON, *SPLIT], clone)
    best = {"torch": float("inf"), "jax": float("inf")}
    for _ in range(REPEATS):
        for framework in best:
            config["train"]["framework"] = framework
            (clone / "params.yaml").write_text(yaml.safe_dump(config))
            best[framework] = min(best[framework], measure([PYTHON, *TRAIN], clone).seconds)
    return ["`python -m stages.train`, nb2-mse vs nb2-jax (a new process each)", f"{best['torch']:.2f} s",
            f"{best['jax']:.2f} s", f"{best['torch'] / best['jax']:.1f}"]  # fmt: skip


def report(workdir: Path) -> str:
    """Benchmark 9 as a Markdown table."""
    rows = [*in_process(), stage_process(workdir)]
    return table(["measure", "torch", "JAX", "torch ÷ JAX"], rows)
