"""End to end: `journey experiments` with the real `dvc` and `git` on a temporary copy."""

import ast
import json
import subprocess
from pathlib import Path

import pytest
from conftest import copy_with_experiments, sh

from journey.dvc import named_experiments
from journey.results import HEADER, table

pytestmark = pytest.mark.e2e
NOTEBOOKS = ["nb1-bce", "nb2-mse", "nb3-mse-l2"]


@pytest.fixture(scope="module")
def experimented(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """A fresh copy after `journey experiments`, epochs cut short, plus one experiment that fails."""

    def shorten_and_add_a_failing_one(spec: dict) -> None:
        spec["defaults"]["train"]["epochs"] = 8
        # Valid params, but too few rows for a validation part: the split stage fails at run time.
        spec["experiments"]["empty-val"] = {"data": {"n_samples": 20}, "split": {"val_fraction": 0.01}}

    destination = tmp_path_factory.mktemp("experimented")
    repo = copy_with_experiments(destination, shorten_and_add_a_failing_one, "short, one failing")
    return repo, sh(repo, "journey", "experiments", check=False)


def test_experiments_print_a_comparison_that_fits_120_columns(experimented):
    lines = experimented[1].stdout.splitlines()
    table = [line for line in lines if line.startswith("|")]
    assert [line.split("|")[1].strip() for line in table[2:]] == NOTEBOOKS
    headers = [cell.strip() for cell in table[0].strip("|").split("|")]
    assert {"hidden", "loss", "L2", "params", "val acc", "ROC AUC", "fit"} <= set(headers)
    assert max(len(line) for line in lines) <= 120


def test_a_failing_experiment_is_named_with_its_error_and_the_others_kept(experimented):
    repo, result = experimented
    assert result.returncode == 2
    assert "1 experiment(s) failed: empty-val" in result.stderr
    assert "leaves an empty part for 20 rows" in result.stderr
    assert set(NOTEBOOKS) <= set(exp_rows(repo))


def exp_rows(repo: Path) -> dict[str, dict]:
    shown = json.loads(sh(repo, "dvc", "exp", "show", "--json").stdout)
    return {name: rev["data"] for name, rev in named_experiments(shown).items()}


def test_exp_show_lists_the_three_with_params_and_metrics(experimented):
    rows = exp_rows(experimented[0])
    assert set(NOTEBOOKS) <= set(rows)
    for name, n_params, loss in zip(NOTEBOOKS, (17, 26, 43), ("bce", "mse", "mse"), strict=True):
        params = rows[name]["params"]["params.yaml"]["data"]
        metrics = rows[name]["metrics"]["eval/metrics.json"]["data"]
        assert params["train"]["loss"] == loss and params["train"]["epochs"] == 8
        assert metrics["n_params"] == n_params and 0 < metrics["val"]["roc_auc"] <= 1


def test_results_prints_a_table_row_per_finished_experiment_with_its_metrics(experimented):
    repo, _ = experimented
    rows = exp_rows(repo)
    lines = sh(repo, "journey", "results", *NOTEBOOKS).stdout.splitlines()
    assert lines[:2] == table([]).splitlines()
    for line, name in zip(lines[2:], NOTEBOOKS, strict=True):
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        metrics = rows[name]["metrics"]["eval/metrics.json"]["data"]
        assert cells[:3] == [name, cells[1], str(metrics["n_params"])]
        assert float(cells[HEADER.index("accuracy")]) == round(metrics["val"]["accuracy"], 3)


def test_results_name_an_experiment_with_no_finished_run(experimented):
    result = sh(experimented[0], "journey", "results", check=False)
    assert result.returncode == 2
    assert "no finished experiment on this commit for empty-val; run `journey experiments empty-val`" in (
        result.stderr
    )


def test_plots_diff_has_both_loss_curves_of_each_experiment(experimented):
    repo, _ = experimented
    plots = json.loads(sh(repo, "dvc", "plots", "diff", *NOTEBOOKS, "--json").stdout)["data"]
    spec = plots["Loss per epoch"][0]["content"]
    spec = spec if isinstance(spec, dict) else ast.literal_eval(spec)
    curves = {(point["rev"], point["filename"]) for point in spec["data"]["values"]}  # DVCLive's files
    assert curves == {(name, f"{split}/loss.tsv") for name in NOTEBOOKS for split in ("train", "val")}
    assert len(spec["data"]["values"]) == 3 * 8 * 2


def test_plots_diff_shows_the_three_decision_boundaries_side_by_side(experimented):
    repo, _ = experimented
    images = json.loads(sh(repo, "dvc", "plots", "diff", *NOTEBOOKS, "--json").stdout)["data"][
        "eval/boundary.png"
    ]
    assert sorted(rev for image in images for rev in image["revisions"]) == sorted(NOTEBOOKS)
    pictures = [Path(image["url"]).read_bytes() for image in images]
    assert all(picture.startswith(b"\x89PNG") for picture in pictures) and len(set(pictures)) == 3


def test_exp_show_has_dvclives_summary_of_each_run(experimented):
    rows = exp_rows(experimented[0])
    for name in NOTEBOOKS:
        summary = rows[name]["metrics"]["dvclive/metrics.json"]["data"]
        assert summary["step"] == 8 and summary["val"]["loss"] > 0


def test_rerunning_with_nothing_changed_runs_nothing(experimented):
    repo, _ = experimented
    before = sh(repo, "dvc", "exp", "list").stdout
    result = sh(repo, "journey", "experiments", *NOTEBOOKS)
    assert all(f"{name}: up to date" in result.stderr for name in NOTEBOOKS)
    assert "queued" not in result.stderr
    assert sh(repo, "dvc", "exp", "list").stdout == before


def test_force_reruns_and_replaces_instead_of_duplicating(experimented):
    repo, _ = experimented
    result = sh(repo, "journey", "experiments", "--force", "nb1-bce")
    assert "queued nb1-bce" in result.stderr
    names = sh(repo, "dvc", "exp", "list", "--name-only").stdout.split()
    assert names.count("nb1-bce") == 1 and set(NOTEBOOKS) <= set(names)


def test_journey_plots_writes_the_charts_and_each_experiments_boundary(experimented, tmp_path):
    repo, _ = experimented
    written = sh(repo, "journey", "plots", *NOTEBOOKS, "--out", str(tmp_path)).stdout.split()
    names = {Path(path).name for path in written}
    assert {"loss-per-epoch.png", *(f"eval-boundary-{name}.png" for name in NOTEBOOKS)} <= names
    assert all(Path(path).read_bytes().startswith(b"\x89PNG") for path in written)
