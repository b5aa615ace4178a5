"""How close a lesson's two configs end, seed by seed: accuracy, validation predictions, weights.

A lesson's verdict reads the mean of its paired accuracy differences; these say how close its runs are
one by one. Predictions compare only where both configs validate on the same rows (the same data and
split params), weights only where the two nets have the same weights (an equivalence of arithmetics).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import load as load_arrays

from stages.evaluate import THRESHOLD
from stages.lib.mlp import mlp_recipe, predict
from stages.params import Params
from study.seeds import Seeds, parts

Rows = list[dict]


@dataclass(frozen=True)
class Closeness:
    """Over a lesson's seeds: the largest |accuracy difference|, the share of seeds whose validation
    predictions are identical (None: other rows), the largest weight difference (None: not compared)."""

    accuracy: float
    identical: float | None
    weights: float | None


def stacked_models(runs: Path, config: str, batches: list[int]) -> dict[str, np.ndarray]:
    """Every run's weights of `config`, in its table's order: the first look's, then each batch's."""
    paths = [runs / config, *(runs / f"batch-{batch}" / config for batch in batches)]
    looks = [load_arrays((path / "models.safetensors").read_bytes()) for path in paths]
    return {name: np.concatenate([look[name] for look in looks]) for name in looks[0]}


def positions(table: Rows, seeds: int) -> dict[int, int]:
    """Seed index → its row in the table, for the first `seeds` runs that vary every source."""
    return {int(row["index"]): at for at, row in enumerate(table) if row["source"] == "all"
            and int(row["index"]) < seeds}  # fmt: skip


def closeness(first: tuple[str, Params], second: tuple[str, Params], tables: dict[str, Rows], runs: Path,
              batches: list[int], seeds: int, weights: bool) -> Closeness:  # fmt: skip
    """How close configs `first` and `second` (name, params) end over their first `seeds` seeds; with
    `weights`, their weights are compared too, where the two nets have the same ones."""
    (a, config_a), (b, config_b) = first, second
    at = {a: positions(tables[a], seeds), b: positions(tables[b], seeds)}
    indices = list(at[a])
    gaps = [
        abs(float(tables[a][at[a][i]]["accuracy"]) - float(tables[b][at[b][i]]["accuracy"])) for i in indices
    ]
    models = {name: stacked_models(runs, name, batches) for name in (a, b)}
    identical = None
    if (config_a.data, config_a.split) == (config_b.data, config_b.split):
        pairs = [[run_of(models[name], at[name][i]) for name in (a, b)] for i in indices]
        same = [
            _same_predictions(config_a, tables[a][at[a][i]], *pair)
            for i, pair in zip(indices, pairs, strict=True)
        ]
        identical = float(np.mean(same))
    shapes = [{name: value.shape for name, value in models[n].items()} for n in (a, b)]
    largest = None
    if weights and shapes[0] == shapes[1]:
        largest = max(float(np.abs(models[a][name][at[a][i]] - models[b][name][at[b][i]]).max())
                      for i in indices for name in models[a])  # fmt: skip
    return Closeness(max(gaps), identical, largest)


def _same_predictions(config: Params, row: dict, first: dict, second: dict) -> bool:
    """Whether two runs on the validation split of `row`'s seeds predict the same class on every row."""
    val = parts(config, Seeds.from_row(row))[1]
    m = config.model
    steps = mlp_recipe(m.hidden, m.activation, m.dropout, config.data.standardize)
    classes = [predict(steps, state, val.x) >= THRESHOLD for state in (first, second)]
    return bool(np.array_equal(*classes))


def run_of(stacked: dict[str, np.ndarray], at: int) -> dict[str, np.ndarray]:
    """Run `at`'s weights, out of every run's stacked."""
    return {name: value[at] for name, value in stacked.items()}
