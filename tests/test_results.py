"""`journey results`: the README's results table is its output, and each row is what the pipeline computes."""

import json

import pytest
from conftest import ROOT

from journey import agreement
from journey.results import HEADER, row, table
from stages.lib.configs import ALL, load_experiments
from stages.lib.io import write_json
from stages.lib.names import EXACT, NATIVE
from stages.params import load_params

EXPERIMENTS = load_experiments(ROOT / "experiments.yaml", ALL)
GAPS = {"weights": -2, "metrics": -1}  # the cells of how far the exact run ends from its framework's own


def readme_table() -> list[str]:
    """The README's results table, header first, as lines."""
    lines = (ROOT / "README.md").read_text().splitlines()
    start = lines.index("| " + " | ".join(HEADER) + " |")
    end = next(index for index in range(start, len(lines)) if not lines[index].startswith("|"))
    return lines[start:end]


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def readme_row(name: str) -> list[str]:
    return next(cells(line) for line in readme_table()[2:] if cells(line)[0] == name)


def rounded(metrics: dict, tmp_path) -> dict:
    """`metrics` as eval/metrics.json holds them: written and read back."""
    write_json(tmp_path / "metrics.json", metrics)
    return json.loads((tmp_path / "metrics.json").read_text())


def test_the_readme_table_lists_every_named_experiment_in_order():
    lines = readme_table()
    assert lines[:2] == table([]).splitlines()
    assert [line.split("|")[1].strip() for line in lines[2:]] == list(EXPERIMENTS)


def test_the_nb1_row_is_the_committed_metrics():
    metrics = json.loads((ROOT / "eval/metrics.json").read_text())
    assert load_params(ROOT / "params.yaml") == EXPERIMENTS["nb1-bce"]
    gaps = agreement.Differences(0.0, 0.0, 0.0, True)  # not compared here
    assert cells(row("nb1-bce", EXPERIMENTS["nb1-bce"], metrics, gaps))[:-2] == readme_row("nb1-bce")[:-2]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_every_row_is_what_the_pipeline_computes(name, tmp_path):
    """An exact run's cells equal the README's. A native run's (nb2-torch, nb2-jax) and the gap cells are
    a framework's kernels: the same bytes on the machine that printed the README, within the stated
    tolerances on another."""
    params = EXPERIMENTS[name]
    exact, own = agreement.run(params, EXACT, "torch"), agreement.run(params, NATIVE)
    metrics = exact.metrics if params.train.arithmetic == EXACT else own.metrics
    got = cells(row(name, params, rounded(metrics, tmp_path), agreement.differences(exact, own)))
    want = readme_row(name)
    if params.train.arithmetic == EXACT:
        assert got[:-2] == want[:-2]
    else:
        numbers = slice(HEADER.index("train loss"), -2)
        assert got[: numbers.start] == want[: numbers.start]
        assert all(
            abs(float(a) - float(b)) <= 0.001 for a, b in zip(got[numbers], want[numbers], strict=True)
        )
    tolerances = agreement.tolerances(params.train.framework)
    for key, index in GAPS.items():
        assert abs(float(got[index]) - float(want[index])) <= tolerances[key], (key, got, want)
