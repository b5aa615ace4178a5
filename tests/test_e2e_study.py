"""End to end: the seeds study through `journey study` and `dvc repro`, with the real dvc and git."""

import csv
import json
from dataclasses import replace

import pytest
import yaml
from conftest import commit_all, copy_with_experiments, sh
from safetensors.torch import load_file

from journey.dvc import named_experiments
from journey.experiments import set_param_args
from stages.lib.configs import EVERY_NAMED, load_experiments
from study.seeds import BATCHED, BATCHED_WEIGHTS

pytestmark = pytest.mark.e2e
EPOCHS = 6


def small_study(folder, **seeds):
    """A committed copy whose study trains 6 epochs a run, with these `seeds` params."""

    def shorten(spec: dict) -> None:
        spec["defaults"]["train"]["epochs"] = EPOCHS

    repo = copy_with_experiments(folder / "repo", shorten, "short epochs")
    params = yaml.safe_load((repo / "study/params.yaml").read_text())
    params["seeds"].update(seeds)
    (repo / "study/params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    commit_all(repo, "a small study")
    return repo


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A copy with a small study (3 seeds, 2 per source, 6 epochs) after one `journey study`."""
    repo = small_study(tmp_path_factory.mktemp("study"), n=3, n_per_source=2, batches=[])
    return repo, sh(repo, "journey", "study")


def test_one_command_trains_every_config_and_writes_the_report(study):
    repo, result = study
    assert "## Lessons" in result.stdout and "study/reports/README.md has the whole report" in result.stdout
    report = (repo / "study/reports/README.md").read_text()
    assert (
        "Every config was trained\n3 times" in report and "Not so for nb2-torch, in PyTorch's own" in report
    )
    for claim in (
        "MSE outperformed BCE",
        "More data beats bigger models",
        "L2 hurt when",
        "PyTorch and JAX",
        "The exact arithmetic gives PyTorch's results",
    ):
        assert claim in report
    rows = (repo / "study/reports/seeds.csv").read_text().splitlines()
    configs = yaml.safe_load((repo / "study/params.yaml").read_text())["configs"]
    assert len(configs) == 9 and len(rows) == 1 + len(configs) * (3 + 2 + 2)
    assert sh(repo / "study", "dvc", "status", "--quiet", check=False).returncode == 0
    assert "seeds@" not in sh(repo, "dvc", "status").stdout  # the notebooks' project skips the study


def test_the_study_adds_no_rows_to_dvc_exp_show(study):
    repo, _ = study
    assert named_experiments(json.loads(sh(repo, "dvc", "exp", "show", "--json").stdout)) == {}


def test_a_second_run_trains_nothing_and_deleted_runs_come_back_from_the_cache(study):
    repo, _ = study
    again = sh(repo / "study", "dvc", "repro")
    assert "Running stage" not in again.stdout
    sh(repo, "rm", "-rf", "study/runs")
    restored = sh(repo / "study", "dvc", "repro")
    assert "Running stage 'seeds@" not in restored.stdout
    assert "Stage 'seeds@nb1-bce' is cached - skipping run, checking out outputs" in (restored.stdout)


@pytest.mark.parametrize("config", ["nb1-mse", "nb2-torch", "nb2-jax"])
def test_a_study_run_repeated_alone_with_dvc_exp_run_gives_what_its_row_says(study, config):
    """Its bytes; for PyTorch's own arithmetic, trained side by side through vmap, its weights within the
    bound the row states."""
    repo, _ = study
    position = 3  # of the config's 3 + 2 + 2 runs: the first that varies data and split only
    rows = csv.DictReader((repo / "study/reports/seeds.csv").open())
    row = [r for r in rows if r["config"] == config][position]
    assert (row["source"], row["index"]) == ("data+split", "0")
    named = load_experiments(repo / "experiments.yaml", EVERY_NAMED)[config]
    data, split, train = (int(row[key]) for key in ("data_seed", "split_seed", "train_seed"))
    params = replace(named, data=replace(named.data, seed=data), split=replace(named.split, seed=split),
                     train=replace(named.train, seed=train))  # fmt: skip
    sh(repo, "dvc", "exp", "run", "--name", f"alone-{config}", *set_param_args(params))
    alone = load_file(repo / "models/model.safetensors")
    stacked = load_file(repo / f"study/runs/{config}/models.safetensors")
    metrics = json.loads((repo / "eval/metrics.json").read_text())
    if config == "nb2-torch":
        assert row["lone_rerun"] == BATCHED
        for name, tensor in alone.items():
            assert float((tensor - stacked[name][position]).abs().max()) <= BATCHED_WEIGHTS, name
        return
    assert row["lone_rerun"] == "bytes"
    for name, tensor in alone.items():
        assert tensor.numpy().tobytes() == stacked[name][position].numpy().tobytes(), name
    assert f"{metrics['val']['accuracy']:.6f}" == row["accuracy"]


@pytest.fixture(scope="module")
def looked(tmp_path_factory):
    """A small study (2 seeds a look, capped at 6, 6 epochs) after `journey study --until-decided`."""
    seeds = {"n": 2, "n_per_source": 2, "batch": 2, "batches": [], "max_seeds": 6}
    repo = small_study(tmp_path_factory.mktemp("looked"), **seeds)
    return repo, sh(repo, "journey", "study", "--until-decided", "--no-progress")


def test_until_decided_looks_again_while_a_lesson_needs_more_seeds(looked):
    repo, result = looked
    decisions = json.loads((repo / "study/reports/decisions.json").read_text())
    looks = decisions["looks"]
    assert len(looks) >= 2 and looks == [2, 4, 6][: len(looks)]  # 2 seeds decided too little
    lessons = {lesson["claim"]: lesson for lesson in decisions["lessons"]}
    # Runs a few millionths apart predict the same classes: no difference on any seed, decided at once.
    assert lessons["PyTorch and JAX give the same results"]["look"] == 1
    assert any(lesson["look"] != 1 for lesson in lessons.values())
    seeds = yaml.safe_load((repo / "study/params.yaml").read_text())["seeds"]
    assert seeds["batches"] == list(range(1, len(looks))) and seeds["max_seeds"] == 6
    report = (repo / "study/reports/README.md").read_text()
    assert f"This study looked {len(looks)} time(s), at {', '.join(map(str, looks))} seeds" in report
    assert "Running stage 'batch@nb1-bce-1'" in result.stdout
    assert sh(repo / "study", "dvc", "status", "--quiet", check=False).returncode == 0


def test_until_decided_again_trains_nothing_and_a_batch_gives_the_same_bytes(looked):
    repo, _ = looked
    report = (repo / "study/reports/README.md").read_bytes()
    again = sh(repo, "journey", "study", "--until-decided", "--no-progress")
    assert "Running stage 'seeds@" not in again.stdout and "Running stage 'batch@" not in again.stdout
    assert (repo / "study/reports/README.md").read_bytes() == report
    sh(repo / "study", "dvc", "repro", "--force", "--single-item", "batch@nb2-mse-1")
    assert sh(repo / "study", "dvc", "status", "--quiet", check=False).returncode == 0  # same bytes as locked
