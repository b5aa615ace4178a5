"""End to end: `python -m stages.seeds` with N=2 on tiny data, then `python -m stages.report`."""

import json
import subprocess
from pathlib import Path

import pytest
from conftest import copy_with_experiments, sh

from stages.experiments import named_experiments

pytestmark = pytest.mark.e2e
FIGURES = ["loss_curves.png", "metrics.png", "decision_boundaries.png"]


@pytest.fixture(scope="module")
def reported(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """A copy where lesson 1's two configs ran over 2 seeds on 200 rows for 5 epochs, then the report;
    with the seeds command's output."""

    def tiny(spec: dict) -> None:
        spec["defaults"]["data"]["n_samples"] = 200
        spec["defaults"]["train"]["epochs"] = 5

    repo = copy_with_experiments(tmp_path_factory.mktemp("reported"), tiny, "tiny seeds")
    seeds = sh(repo, "python", "-m", "stages.seeds", "--seeds", "2", "nb1-bce", "nb1-mse")
    sh(repo, "python", "-m", "stages.report")
    return repo, seeds


def test_each_config_ran_once_per_seed_as_a_dvc_experiment(reported):
    repo, _ = reported
    names = set(sh(repo, "dvc", "exp", "list", "--name-only").stdout.split())
    assert names == {"nb1-bce-s0", "nb1-bce-s1", "nb1-mse-s0", "nb1-mse-s1"}
    shown = json.loads(sh(repo, "dvc", "exp", "show", "--json").stdout)
    seeds = {
        name: rev["data"]["params"]["params.yaml"]["data"]["train"]["seed"]
        for name, rev in named_experiments(shown).items()
    }
    assert seeds == {"nb1-bce-s0": 0, "nb1-bce-s1": 1, "nb1-mse-s0": 0, "nb1-mse-s1": 1}


def test_the_seeds_command_prints_mean_std_and_interval_of_each_metric_and_the_lessons(reported):
    printed = reported[1].stdout
    assert "| nb1-bce | 2 | 17 |" in printed and " ± " in printed
    assert "| MSE outperformed BCE | nb1-mse vs nb1-bce (n = 2) |" in printed


def test_report_judges_lesson_one_and_lists_the_others_as_not_run(reported):
    repo, _ = reported
    report = (repo / "reports" / "README.md").read_text()
    lesson = next(line for line in report.splitlines() if line.startswith("| MSE outperformed BCE"))
    assert "nb1-mse vs nb1-bce (n = 2)" in lesson
    assert any(word in lesson for word in ("**supported**", "**contradicted**", "**inconclusive**"))
    assert "| More data beats bigger models | not run" in report
    for config in ("nb1-bce", "nb1-mse"):
        assert f"| {config} | 2 | 17 |" in report


def test_figures_are_written_and_linked(reported):
    repo, _ = reported
    report = (repo / "reports" / "README.md").read_text()
    for name in FIGURES:
        assert (repo / "reports" / name).read_bytes()[:4] == b"\x89PNG"
        assert f"]({name})" in report


def test_report_figures_are_dvc_plots(reported):
    repo, _ = reported
    plots = json.loads(sh(repo, "dvc", "plots", "show", "--json").stdout)["data"]
    assert {f"reports/{name}" for name in FIGURES} <= set(plots)
