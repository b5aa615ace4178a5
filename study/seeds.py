"""Study stage seeds: every seed of one config, trained side by side in one process.

Seed i of a study with master seed M is NumPy's `SeedSequence(M, spawn_key=(i,))`; its first three
32-bit words are the data, split and train seeds of that run (the train seed sets the initial
weights, then the batch order and dropout masks). Seeds 0 to n-1 vary all four sources. To tell the
sources apart, n_per_source more seeds vary data and split only (the train seed of seed 0 kept), and
n_per_source more vary initialisation and order only (the data and split of seed 0 kept).
A later look (`--batch K`, `journey study --until-decided`) adds `batch` more seeds that vary every
source, numbered on from n; seed i ≥ n takes key i + 2 n_per_source, past the per-source runs' keys.
Each row of the table holds the three seeds, so any run can be repeated alone with
`dvc exp run -S data.seed=… -S split.seed=… -S train.seed=…` and the config's other params.
"""

import argparse
import dataclasses
import multiprocessing
import os
import sys
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from safetensors.torch import save as save_tensors
from torch import nn

from stages.evaluate import evaluate
from stages.generate import dataset
from stages.lib.cli import UserError, run
from stages.lib.configs import EVERY_NAMED, load_experiments
from stages.lib.io import Dataset, History, write_atomic, write_history
from stages.lib.metrics import VALIDATION
from stages.lib.mlp import count_params
from stages.lib.model import predict
from stages.lib.names import NATIVE, TORCH
from stages.params import Params, read_params_file, section_of
from stages.split import split
from stages.train import train_copies
from study.lib.shards import NOT_PUSHED, STUDY_SECTIONS, SeedsParams, training_forbidden

SOURCES = ("all", "data+split", "init+order")  # what a seed varies
# The per-seed table's metrics: validation metrics and the fit verdict (SEED_COLUMNS come first).
METRIC_COLUMNS = ("n_params", *(metric.name for metric in VALIDATION), "noise_ceiling_accuracy",
                  "train_loss", "val_loss", "generalization_gap", "best_epoch", "fit")  # fmt: skip


@dataclass(frozen=True)
class Seeds:
    """One run of a config: what it varies, its number among those, and the seeds it uses."""

    source: str
    index: int
    data: int
    split: int
    train: int

    # seeds.csv's columns for these fields, in field order
    COLUMNS: ClassVar = ("source", "index", "data_seed", "split_seed", "train_seed")

    def row(self) -> dict:
        """The run's cells of seeds.csv."""
        return dict(zip(self.COLUMNS, dataclasses.astuple(self), strict=True))

    @classmethod
    def from_row(cls, row: Mapping[str, str]) -> "Seeds":
        """The run of a seeds.csv row, as read back (text)."""
        source, *numbers = (row[column] for column in cls.COLUMNS)
        return cls(source, *(int(number) for number in numbers))


# The per-seed table: which run, its seeds, what a lone run with them reproduces, then METRIC_COLUMNS.
SEED_COLUMNS = ("config", *Seeds.COLUMNS, "lone_rerun")
# What `dvc exp run` with a row's seeds and its config's params gives: the row's bytes, except for runs in
# PyTorch's own arithmetic trained side by side (vmap), whose batched products round otherwise than a
# lone run's. Measured over nb2-torch's first look, 40 seeds in 2 shares of 20 (2026-12-03, AMD EPYC, torch
# 2.13.0+cpu): no run byte for byte, weights within 1.5e-4, validation loss within 6.5e-6, the same
# validation predictions on all 40. The stated bound is 10 times the weights' (tests/test_seeds.py).
LONE_BYTES, BATCHED = "bytes", "weights within 2e-03"
BATCHED_WEIGHTS = 2e-3
VMAP_GROUP = 20  # PyTorch's own arithmetic's runs per vmap, whatever the cores: the group sets the bytes


def batch_plan(p: SeedsParams, batch: int) -> list[Seeds]:
    """The runs later look `batch` adds to a config: `p.batch` more that vary everything. Seed i ≥ n
    derives from key i + 2 n_per_source, past the keys the per-source runs took."""
    first = p.n + (batch - 1) * p.batch
    return [Seeds("all", i, *derive(p.master, i + 2 * p.n_per_source)) for i in range(first, first + p.batch)]


def derive(master: int, index: int) -> tuple[int, int, int]:
    """The data, split and train seeds of seed `index`: independent streams, whatever the index."""
    words = np.random.SeedSequence(master, spawn_key=(index,)).generate_state(3)
    return int(words[0]), int(words[1]), int(words[2])


def plan(master: int, n: int, n_per_source: int) -> list[Seeds]:
    """The runs of one config: n varying everything, then n_per_source for each source alone."""
    runs = [Seeds("all", i, *derive(master, i)) for i in range(n)]
    data0, split0, train0 = derive(master, 0)
    for j in range(n_per_source):
        data, split_seed, _ = derive(master, n + j)
        runs.append(Seeds("data+split", j, data, split_seed, train0))
    for j in range(n_per_source):
        _, _, train = derive(master, n + n_per_source + j)
        runs.append(Seeds("init+order", j, data0, split0, train))
    return runs


def parts(config: Params, seeds: Seeds) -> tuple[Dataset, Dataset]:
    """The train and validation splits of one run: the generate and split stages' own functions, with
    the run's seeds (a real dataset's rows are fixed: only its split varies)."""
    return split(dataset(config.data, seeds.data), config.split.val_fraction, seeds.split)


def seeds(config: Params, runs: list[Seeds], processes: int | None = None,
          progress_label: str = "") -> tuple[list, list, list, list]:  # fmt: skip
    """Train and evaluate every run of `config`; return the models, their curves, their metrics and what
    a lone rerun of each reproduces (`lone_rerun`).

    The runs are cut into contiguous shares, each trained side by side in a process of its own, so the
    study uses every core. In the exact arithmetic no run's arithmetic touches another's
    (stages/lib/net.py): one share per core gives the bits the runs would get in one process. In
    PyTorch's own, a share is one vmap, whose batched products set the bits: its shares are
    VMAP_GROUP runs whatever the cores. The first share shows its epochs under `progress_label`; the
    others keep pace with it.
    """
    processes = min(processes or os.cpu_count() or 1, len(runs))
    size = VMAP_GROUP if batched(config) else -(-len(runs) // processes)
    shares = [runs[start : start + size] for start in range(0, len(runs), size)]
    labels = [progress_label] + [""] * (len(shares) - 1)
    if processes == 1 or len(shares) == 1:
        done = [seeds_here(config, share, label) for share, label in zip(shares, labels, strict=True)]
    else:
        # fork: a share starts at once, with what this process imported (spawn would import torch again).
        # Not once JAX started here: its threads do not survive a fork, and a forked child's first JAX
        # compilation then waits for them forever (the stage itself imports JAX only in the shares).
        forkable = "fork" in multiprocessing.get_all_start_methods() and "jax" not in sys.modules
        context = multiprocessing.get_context("fork" if forkable else "spawn")
        with ProcessPoolExecutor(min(processes, len(shares)), mp_context=context) as pool:
            done = list(pool.map(seeds_here, [config] * len(shares), shares, labels))
    return tuple([item for share in done for item in share[part]] for part in range(len(done[0])))


def seeds_here(config: Params, runs: list[Seeds], progress_label: str = "") -> tuple[list, list, list, list]:
    """Train every run of `config` side by side; return the models, their curves, their metrics and what
    a lone rerun of each reproduces."""
    splits = [parts(config, entry) for entry in runs]
    trains, vals = [train for train, _ in splits], [val for _, val in splits]
    models, histories = train_copies(trains, vals, [entry.train for entry in runs], config, progress_label)
    synthetic = config.data.source == "synthetic"
    documents = []
    for model, history, (train, val) in zip(models, histories, splits, strict=True):
        probs = [predict(model, part.x).astype(np.float64) for part in (train, val)]
        size, loss = count_params(train.x.shape[1], config.model.hidden), config.train.loss
        documents.append(evaluate(size, loss, train, val, *probs, history, synthetic))
    return models, histories, documents, [lone_rerun(config, len(runs))] * len(runs)


def batched(config: Params) -> bool:
    """Whether `config` trains in PyTorch's own arithmetic, whose copies side by side go through vmap."""
    return config.train.framework == TORCH and config.train.arithmetic == NATIVE


def lone_rerun(config: Params, copies: int) -> str:
    """What a lone run with the seeds of one of `copies` runs trained side by side reproduces."""
    return BATCHED if batched(config) and copies > 1 else LONE_BYTES


def table_rows(name: str, runs: list[Seeds], documents: list[dict], reruns: list[str]) -> list[dict]:
    """One row per run: SEED_COLUMNS then METRIC_COLUMNS, from the evaluate stage's metrics documents."""
    rows = []
    for entry, document, rerun in zip(runs, documents, reruns, strict=True):
        val, fit = document["val"], document["fit"]
        rows.append({
            "config": name, **entry.row(), "lone_rerun": rerun, "n_params": document["n_params"],
            **{metric.name: val[metric.name] for metric in VALIDATION},
            "noise_ceiling_accuracy": val["noise_ceiling_accuracy"], "train_loss": document["train"]["loss"],
            "val_loss": val["loss"], "generalization_gap": fit["generalization_gap"],
            "best_epoch": fit["best_epoch"], "fit": fit["verdict"],
        })  # fmt: skip
    return rows


def by_index(rows: list[dict], metric: str, source: str = "all") -> dict[int, float]:
    """Seed index → the value of `metric`, over the table rows (as read back) of runs that vary `source`."""
    return {int(row["index"]): float(row[metric]) for row in rows if row["source"] == source}


def format_rows(rows: list[dict]) -> str:
    """CSV text: integers as they are, floats to 6 decimals, a missing ceiling as empty."""

    def cell(value) -> str:
        if isinstance(value, float):
            return f"{value:.6f}"
        return "" if value is None else str(value)

    lines = [",".join((*SEED_COLUMNS, *METRIC_COLUMNS))]
    lines += [",".join(cell(row[column]) for column in (*SEED_COLUMNS, *METRIC_COLUMNS)) for row in rows]
    return "\n".join(lines) + "\n"


def mean_curves(histories: list[History], runs: list[Seeds]) -> History:
    """The train and validation loss per epoch averaged over the seeds that vary everything."""
    kept = [history for history, entry in zip(histories, runs, strict=True) if entry.source == "all"]
    train = np.mean([history.train_loss for history in kept], axis=0)
    val = np.mean([history.val_loss for history in kept], axis=0)
    return History(train_loss=train.tolist(), val_loss=val.tolist())


def stacked_state(models: list[nn.Sequential]) -> dict[str, torch.Tensor]:
    """Every run's weights under the model's own names, with a leading run axis (the table's order)."""
    states = [model.state_dict() for model in models]
    return {name: torch.stack([state[name] for state in states]).contiguous() for name in states[0]}


def load_config(experiments: Path, name: str) -> Params:
    """The full params of config `name` of experiments.yaml."""
    configs = load_experiments(experiments, EVERY_NAMED)
    if name not in configs:
        raise UserError(f"{experiments}: no config named {name!r}; `configs` in study/params.yaml must "
                        f"name configs it defines: {', '.join(configs)}")  # fmt: skip
    return configs[name]


def main() -> None:
    """Read the `seeds` params and --config of --experiments; write seeds.csv, history.csv and
    models.safetensors into --out."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="a config of --experiments")
    parser.add_argument("--params", type=Path, required=True, help="the study's params file")
    parser.add_argument("--experiments", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="a folder for this config's outputs")
    parser.add_argument("--batch", type=int, help="a later look's batch (1, 2, …) instead of the first look")
    args = parser.parse_args()
    if training_forbidden():
        raise UserError(f"{NOT_PUSHED.format(args.config)} (aggregating, so not training them)")
    p = section_of(read_params_file(args.params, STUDY_SECTIONS), args.params, "seeds", SeedsParams)
    config = load_config(args.experiments, args.config)
    if args.batch is not None and args.batch not in p.batches:
        raise UserError(f"--batch {args.batch}: {args.params} lists batches {p.batches}")
    runs = plan(p.master, p.n, p.n_per_source) if args.batch is None else batch_plan(p, args.batch)
    torch.set_num_threads(1)  # tiny layers; results do not depend on it (tests/test_cpu.py)
    torch.use_deterministic_algorithms(True)
    stage = f"seeds@{args.config}" if args.batch is None else f"batch@{args.config}-{args.batch}"
    models, histories, documents, reruns = seeds(config, runs, progress_label=stage)
    write_atomic(
        args.out / "seeds.csv", format_rows(table_rows(args.config, runs, documents, reruns)).encode()
    )
    write_history(args.out / "history.csv", mean_curves(histories, runs))
    write_atomic(args.out / "models.safetensors", save_tensors(stacked_state(models)))


if __name__ == "__main__":
    # Aggregating, the stage refuses before it writes anything: no outputs to get back.
    run(main, dvc_removed_outputs=not training_forbidden())
