"""How close a lesson's configs end, seed by seed (study/lib/closeness.py), on real trained runs."""

import dataclasses

import pytest
from conftest import ROOT
from safetensors.numpy import load, save

from stages.lib.configs import EVERY_NAMED, load_experiments
from study.lib.closeness import Closeness, closeness
from study.seeds import plan, seeds_here, stacked_state, table_rows

CONFIGS = load_experiments(ROOT / "experiments.yaml", EVERY_NAMED)
RUNS = plan(0, 2, 0)  # two seeds that vary every source


def trained(runs, name: str, config, bias: float | None = None) -> list[dict]:
    """Train `config`'s seeds into runs/name; with `bias`, seed 1's output bias is set to it (and its
    accuracy to 0.5, as a changed run's table says)."""
    models, _, documents, reruns = seeds_here(config, RUNS)
    state = {key: value.numpy().copy() for key, value in stacked_state(models).items()}
    table = table_rows(name, RUNS, documents, reruns)
    if bias is not None:
        state["2.bias"][1] = bias
        table[1]["accuracy"] = 0.5
    (runs / name).mkdir(parents=True)
    (runs / name / "models.safetensors").write_bytes(save(state))
    return table


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """nb1-bce twice, then with seed 1 predicting class 1 everywhere, then on other data."""
    folder = tmp_path_factory.mktemp("runs")
    nb1 = CONFIGS["nb1-bce"]
    nb1 = dataclasses.replace(nb1, train=dataclasses.replace(nb1.train, epochs=2))
    other = dataclasses.replace(nb1, data=dataclasses.replace(nb1.data, n_samples=600))
    configs = {"a": nb1, "b": nb1, "flipped": nb1, "other": other}
    tables = {name: trained(folder, name, config, 100.0 if name == "flipped" else None)
              for name, config in configs.items()}  # fmt: skip
    return folder, configs, tables


def near(runs, first: str, second: str, weights: bool = True):
    folder, configs, tables = runs
    return closeness((first, configs[first]), (second, configs[second]), tables, folder, [], 2, weights)


def test_the_same_runs_are_identical_on_every_seed(runs):
    assert near(runs, "a", "b") == Closeness(accuracy=0.0, identical=1.0, weights=0.0)


def test_one_seed_predicting_otherwise_halves_the_share_and_shows_its_weight(runs):
    close = near(runs, "a", "flipped")
    folder, _, tables = runs
    bias = load((folder / "a" / "models.safetensors").read_bytes())["2.bias"][1, 0]
    assert close.identical == 0.5
    assert close.weights == pytest.approx(100.0 - bias)
    gap = abs(float(tables["a"][1]["accuracy"]) - float(tables["flipped"][1]["accuracy"]))
    assert close.accuracy == pytest.approx(gap) and gap > 0.1


def test_other_rows_are_not_compared_and_weights_only_when_asked(runs):
    close = near(runs, "a", "other", weights=False)
    assert close.identical is None and close.weights is None
