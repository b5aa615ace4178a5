"""Print the named experiments' results as the README's Markdown table, from DVC's finished experiments.

Run `journey experiments` (or `--all`) first: the numbers are those DVC recorded for each experiment
on this commit (`dvc exp show`), and the README's table is this command's output. Its last two columns
train each experiment again here, in the exact arithmetic and in its framework's own (PyTorch's or
JAX's; journey/agreement.py), and give how far apart the two runs end.
"""

import argparse
import sys
from pathlib import Path

from journey.agreement import Differences, compare
from journey.compare import METRICS
from journey.dvc import finished_experiments
from stages.generate import dataset
from stages.lib.cli import UserError
from stages.lib.configs import ALL, EVERY_NAMED, NOTEBOOKS, check_names, load_experiments
from stages.lib.names import JAX, NATIVE, RELU, TORCH
from stages.params import Params

# The final loss each of the seed's notebooks reports (../shared/seed/pytorch-learning-journey.md).
SEED_LOSSES = {"nb1-bce": "0.62", "nb2-mse": "0.17", "nb3-mse-l2": "0.67"}
HEADER = ("experiment", "net", "params", "loss", "L2", "samples", "seed's loss", "train loss", "val loss",
          "accuracy", "noise ceiling", "ROC AUC", "F1", "log loss", "Brier", "exact vs own: weights",
          "exact vs own: metrics")  # fmt: skip
FRAMEWORK_NAMES = {TORCH: "PyTorch", JAX: "JAX"}
VALIDATION_COLUMNS = ("accuracy", "noise_ceiling_accuracy", "roc_auc", "f1", "log_loss", "brier")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Experiments to show, --all, and the experiments file."""
    parser.add_argument("names", nargs="*", help="experiments to show (default: the three notebooks)")
    parser.add_argument(
        "--all", action="store_true", help="also the next experiments (nb4 to nb7, nb2-torch, nb2-jax)"
    )
    parser.add_argument("--file", type=Path, default=Path("experiments.yaml"))


def net(params: Params, n_features: int) -> str:
    """The architecture as the README writes it: 2→4→1, then what differs from a plain ReLU net."""
    widths = [n_features, *params.model.hidden, 1]
    notes = [f"dropout {params.model.dropout:g}"] if params.model.dropout else []
    notes += [params.model.activation] if params.model.activation != RELU else []
    notes += ["standardised"] if params.data.standardize else []
    framework = FRAMEWORK_NAMES[params.train.framework]
    if params.train.arithmetic == NATIVE:
        notes.append(f"{framework}'s own arithmetic")
    elif params.train.framework == JAX:
        notes.append("in JAX, exact")
    return ", ".join(["→".join(map(str, widths)), *notes])


def row(name: str, params: Params, metrics: dict, differences: Differences) -> str:
    """One experiment's row, from its params, its metrics document (eval/metrics.json) and how far its
    exact run ends from its framework's own."""
    val = metrics["val"]
    data = dataset(params.data)  # a real dataset's size and width are known only from its rows
    # DVC's experiment records leave out a null metric, such as a real dataset's noise ceiling.
    numbers = [metrics["train"]["loss"], val["loss"], *(val.get(column) for column in VALIDATION_COLUMNS)]
    cells = [name, net(params, data.x.shape[1]), str(metrics["n_params"]), params.train.loss.upper(),
             f"{params.train.weight_decay:g}", str(len(data.y)), SEED_LOSSES.get(name, ""),
             *("none" if number is None else f"{number:.3f}" for number in numbers)]  # fmt: skip
    cells += [f"{gap:.1e}" for gap in (differences.weights, differences.metrics)]
    return "| " + " | ".join(cells) + " |"


def differences(params: Params, label: str) -> Differences:
    """How far `params`' exact run ends from its framework's own."""
    own = FRAMEWORK_NAMES[params.train.framework]
    print(f"training {label} in the exact arithmetic and in {own}'s own", file=sys.stderr, flush=True)
    return compare(params)


def table(rows: list[str]) -> str:
    """The Markdown table: header, rule, rows."""
    return "\n".join(["| " + " | ".join(HEADER) + " |", "|---" * len(HEADER) + "|", *rows])


def command(args: argparse.Namespace) -> None:
    """Print the table of the notebooks (or, with --all, every named experiment) that DVC has finished."""
    experiments = load_experiments(args.file, EVERY_NAMED if args.names else ALL if args.all else NOTEBOOKS)
    check_names(args.names, args.file)
    experiments = {name: experiments[name] for name in args.names or experiments}
    finished = finished_experiments()
    if missing := [name for name in experiments if name not in finished]:
        run = "journey experiments " + " ".join(missing)
        raise UserError(f"no finished experiment on this commit for {', '.join(missing)}; run `{run}` first")
    metrics = {name: finished[name]["data"]["metrics"][METRICS]["data"] for name in experiments}
    total = len(experiments)
    gaps = {name: differences(config, f"{name} ({index}/{total})")
            for index, (name, config) in enumerate(experiments.items(), 1)}  # fmt: skip
    print(table([row(name, config, metrics[name], gaps[name]) for name, config in experiments.items()]))
