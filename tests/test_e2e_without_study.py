"""End to end: the notebooks' DVC commands in clones that never ran or pulled the seeds study.

Two teammates clone one bare git repository and share one new, empty folder as their DVC remote
(`journey remote`). Every command a notebook user types must exit 0 and leave study/ alone: the
study is a DVC project of its own (study/.dvc), which the root project's commands skip.
"""

import json
from pathlib import Path

import pytest
import yaml
from conftest import copy_repo, sh

from journey.dvc import named_experiments

pytestmark = pytest.mark.e2e
MODEL = "models/model.safetensors"
UP_TO_DATE = "Data and pipelines are up to date."


@pytest.fixture(scope="module")
def team(tmp_path_factory) -> dict:
    """Alice runs the pipeline, pushes it, runs two experiments and pushes one; Bob pulls them. Every
    command's result is kept by name, in the order they ran."""
    root = tmp_path_factory.mktemp("team")
    source = copy_repo(root / "source")
    sh(root, "git", "clone", "-q", "--bare", str(source), "origin.git")
    storage = root / "storage"
    storage.mkdir()
    alice, bob = (clone(root, name, storage) for name in ("alice", "bob"))
    ran = {"alice": alice, "bob": bob, "storage": storage}
    for name, repo, *command in [
        ("status before", alice, "dvc", "status"),
        ("repro", alice, "dvc", "repro"),
        ("status after", alice, "dvc", "status"),
        ("push", alice, "dvc", "push"),
        ("exp run", alice, "dvc", "exp", "run", "--name", "short", "-S", "train.epochs=20"),
        ("journey experiments", alice, "journey", "experiments", "nb2-mse"),
        ("exp show", alice, "dvc", "exp", "show", "--json"),
        ("exp push", alice, "dvc", "exp", "push", "origin", "nb2-mse"),
        ("plots diff", alice, "dvc", "plots", "diff", "HEAD", "short", "--json"),
        ("metrics diff", alice, "dvc", "metrics", "diff", "HEAD", "short", "--json"),
        ("pull", bob, "dvc", "pull"),
        ("bob status", bob, "dvc", "status"),
        ("exp pull", bob, "dvc", "exp", "pull", "origin", "nb2-mse"),
        ("exp apply", bob, "dvc", "exp", "apply", "nb2-mse"),
    ]:
        ran[name] = sh(repo, *command, check=False)
        if name == "exp apply":
            ran["model after apply"] = (bob / MODEL).read_bytes()
    return ran


def clone(root: Path, name: str, storage: Path) -> Path:
    """A clone of root/origin.git whose default DVC remote is `storage`."""
    sh(root, "git", "clone", "-q", "origin.git", name)
    sh(root / name, "journey", "remote", str(storage))
    return root / name


def passed(result) -> str:
    """The command's output, once its exit code is asserted 0 (the output says why it is not)."""
    assert result.returncode == 0, f"{' '.join(result.args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.mark.parametrize("step", ["status before", "status after", "bob status"])
def test_dvc_status_names_no_study_stage(team, step):
    assert "seeds@" not in passed(team[step]) and "study" not in passed(team[step])


def test_dvc_repro_runs_the_notebook_and_status_then_says_up_to_date(team):
    assert "Running stage 'train'" in passed(team["repro"])
    assert passed(team["status after"]).strip() == UP_TO_DATE


def test_dvc_push_fills_the_empty_remote(team):
    passed(team["push"])
    assert any(path.is_file() for path in team["storage"].rglob("*"))


def test_dvc_pull_in_a_second_clone_gets_the_locked_outputs(team):
    passed(team["pull"])
    assert passed(team["bob status"]).strip() == UP_TO_DATE
    locked = yaml.safe_load((team["bob"] / "dvc.lock").read_text())["stages"]["train"]["outs"]
    assert (team["bob"] / MODEL).stat().st_size == next(o["size"] for o in locked if o["path"] == MODEL)


def test_dvc_exp_run_and_journey_experiments_show_up_in_dvc_exp_show(team):
    passed(team["exp run"])
    passed(team["journey experiments"])
    shown = named_experiments(json.loads(passed(team["exp show"]).split("\n", 1)[0] or "[]"))
    assert {"short", "nb2-mse"} <= shown.keys()


def test_dvc_exp_push_pull_and_apply_give_the_teammate_the_experiment(team):
    passed(team["exp push"])
    passed(team["exp pull"])
    passed(team["exp apply"])
    alice = team["alice"]
    sh(alice, "dvc", "exp", "apply", "nb2-mse")
    assert team["model after apply"] == (alice / MODEL).read_bytes()


def test_dvc_plots_diff_has_the_loss_curves_of_both_revisions(team):
    plots = json.loads(passed(team["plots diff"]).split("\n", 1)[0])
    (loss,) = plots["data"]["Loss per epoch"]
    assert loss["revisions"] == ["HEAD", "short"]
    epochs = {rev: {row["step"] for row in loss["content"]["data"]["values"] if row["rev"] == rev}
              for rev in loss["revisions"]}  # fmt: skip
    assert len(epochs["HEAD"]) == 500 and len(epochs["short"]) == 20
    assert not any("study" in name for name in plots["data"])


def test_dvc_metrics_diff_shows_the_experiments_change(team):
    diff = json.loads(passed(team["metrics diff"]).split("\n", 1)[0])
    best_epoch = diff["eval/metrics.json"]["fit.best_epoch"]
    assert best_epoch["new"] <= 20 < best_epoch["old"]  # the experiment trained 20 epochs


def test_no_command_touched_the_study(team):
    for person in ("alice", "bob"):
        study = team[person] / "study"
        files = {path.name for path in (study / "runs").rglob("*") if path.is_file()}
        assert files == {".gitignore"} and not (study / ".dvc/cache").exists(), person  # git holds DVC's
        assert sh(team[person], "git", "status", "--porcelain", "study").stdout == "", person
