"""`journey results`: the README's results table is its output, and each row is what the pipeline computes."""

import json

import numpy as np
import pytest
from conftest import ROOT

from journey.results import HEADER, row, table
from stages.evaluate import evaluate
from stages.generate import dataset
from stages.lib.configs import ALL, load_experiments
from stages.lib.io import write_json
from stages.lib.model import count_params, predict
from stages.params import load_params
from stages.split import split
from stages.train import train

EXPERIMENTS = load_experiments(ROOT / "experiments.yaml", ALL)


def readme_table() -> list[str]:
    """The README's results table, header first, as lines."""
    lines = (ROOT / "README.md").read_text().splitlines()
    start = lines.index("| " + " | ".join(HEADER) + " |")
    end = next(index for index in range(start, len(lines)) if not lines[index].startswith("|"))
    return lines[start:end]


def metrics_of(name: str, tmp_path) -> dict:
    """The metrics document the pipeline writes for experiment `name`, computed with the stages' functions."""
    params = EXPERIMENTS[name]
    train_data, val_data = split(dataset(params.data), params.split.val_fraction, params.split.seed)
    model, history = train(train_data, val_data, params)
    probs = [predict(model, data.x).astype(np.float64) for data in (train_data, val_data)]
    synthetic = params.data.source == "synthetic"
    size, loss = count_params(model), params.train.loss
    document = evaluate(size, loss, train_data, val_data, *probs, history, synthetic)
    write_json(tmp_path / "metrics.json", document)  # rounded as eval/metrics.json is
    return json.loads((tmp_path / "metrics.json").read_text())


def test_the_readme_table_lists_every_named_experiment_in_order():
    lines = readme_table()
    assert lines[:2] == table([]).splitlines()
    assert [line.split("|")[1].strip() for line in lines[2:]] == list(EXPERIMENTS)


def test_the_nb1_row_is_the_committed_metrics():
    metrics = json.loads((ROOT / "eval/metrics.json").read_text())
    assert load_params(ROOT / "params.yaml") == EXPERIMENTS["nb1-bce"]
    assert row("nb1-bce", EXPERIMENTS["nb1-bce"], metrics) in readme_table()


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_every_row_is_what_the_pipeline_computes(name, tmp_path):
    assert row(name, EXPERIMENTS[name], metrics_of(name, tmp_path)) in readme_table()
