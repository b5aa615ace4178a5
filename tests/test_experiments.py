"""The named experiments: complete, explicit, and in step with params.yaml."""

from pathlib import Path

import pytest
import yaml

from journey.configs import ALL, load_experiments, load_lessons
from journey.dvc import queue_states
from journey.experiments import set_param_args, wait_for_queue
from stages.cli import UserError
from stages.model import build_mlp, count_params
from stages.params import SECTIONS

EXPERIMENTS = load_experiments(Path("experiments.yaml"))


def test_the_three_notebooks_with_their_sizes():
    sizes = {
        name: count_params(build_mlp(c["data"]["n_features"], c["model"]["hidden"]))
        for name, c in EXPERIMENTS.items()
    }
    assert sizes == {"nb1-bce": 17, "nb2-mse": 26, "nb3-mse-l2": 43}
    assert EXPERIMENTS["nb3-mse-l2"]["train"]["weight_decay"] == 0.01
    assert [c["train"]["loss"] for c in EXPERIMENTS.values()] == ["bce", "mse", "mse"]


def test_params_yaml_holds_nb1():
    assert yaml.safe_load(Path("params.yaml").read_text()) == EXPERIMENTS["nb1-bce"]


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_every_param_is_set_explicitly(name):
    args = set_param_args(EXPERIMENTS[name])
    keys = {arg.split("=")[0] for arg in args[1::2]}
    expected = {f"{s}.{key}" for s, schema in SECTIONS.items() for key in schema.__dataclass_fields__}
    assert args[::2] == ["-S"] * len(keys) and keys == expected


def test_values_are_written_as_dvc_reads_them():
    args = set_param_args({"train": {"loss": "mse", "lr": 0.001, "weight_decay": 0.0}})
    assert args == ["-S", "train.loss=mse", "-S", "train.lr=0.001", "-S", "train.weight_decay=0.0"]


def test_invalid_experiment_is_rejected_before_anything_runs(tmp_path):
    bad = tmp_path / "e.yaml"
    spec = {"defaults": EXPERIMENTS["nb1-bce"], "experiments": {"x": {"train": {"lr": -1}}}}
    bad.write_text(yaml.safe_dump(spec))
    with pytest.raises(UserError, match=r"e.yaml: x.train.lr = -1: must be in \(0.0, inf\)"):
        load_experiments(bad)


def test_queue_status_table_is_parsed(monkeypatch):
    table = (
        "Task     Name        Created    Status\n"
        "dfa9b5b  nb1-bce     09:30 PM   Success\n"
        "d374ad9  nb2-mse     09:30 PM   Failed\n"
        "2b605ea  nb3-mse-l2  Nov 20, 2026  Queued\n\n"
        "Worker status: 0 active, 1 idle\n"
    )
    monkeypatch.setattr("journey.dvc.dvc", lambda *args: table)
    assert queue_states() == {"nb1-bce": "Success", "nb2-mse": "Failed", "nb3-mse-l2": "Queued"}


def test_queue_workers_that_die_are_restarted(monkeypatch):
    """DVC's workers can exit with tasks still queued; the runner notices and starts them again."""
    states = iter([{"nb1": "Queued"}, {"nb1": "Queued"}, {"nb1": "Success"}])
    commands = []
    monkeypatch.setattr("journey.experiments.dvc", lambda *args: commands.append(args[:2]))
    monkeypatch.setattr("journey.experiments.queue_states", lambda: next(states))
    monkeypatch.setattr("journey.experiments.active_workers", lambda: 0)
    monkeypatch.setattr("journey.experiments.POLL_SECONDS", 0)
    assert wait_for_queue(["nb1"], jobs=2) == {"nb1": "Success"}
    assert commands == [("queue", "start")] * 3


def test_nb2_jax_is_nb2_mse_in_jax():
    every = load_experiments(Path("experiments.yaml"), ALL)
    assert every["nb2-jax"] == {
        **every["nb2-mse"],
        "train": {**every["nb2-mse"]["train"], "framework": "jax"},
    }


def test_lessons_claim_a_win_or_an_equivalence(tmp_path):
    lessons = {lesson.claim: lesson for lesson in load_lessons(Path("experiments.yaml"))}
    same = lessons["PyTorch and JAX give the same results"]
    assert (same.first, same.second, same.margin) == ("nb2-jax", "nb2-mse", 0.01)
    assert lessons["MSE outperformed BCE"].margin is None
    broken = yaml.safe_load(Path("experiments.yaml").read_text())
    broken["lessons"] = [{"claim": "x", "same": ["nb1-bce", "nb2-mse"], "margin": -1}]
    (tmp_path / "experiments.yaml").write_text(yaml.safe_dump(broken))
    with pytest.raises(
        UserError, match=r"lessons: each needs claim .* \(margin -1 must be a positive number\)"
    ):
        load_lessons(tmp_path / "experiments.yaml")
