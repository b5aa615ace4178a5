"""The named experiments: complete, explicit, and in step with params.yaml."""

import dataclasses
from pathlib import Path

import pytest
import yaml

from journey.dvc import queue_states
from journey.experiments import DIED, raise_if_failed, set_param_args, wait_for_queue
from stages.lib.cli import UserError
from stages.lib.configs import ALL, load_experiments, load_lessons
from stages.lib.mlp import count_params
from stages.params import SECTIONS

EXPERIMENTS = load_experiments(Path("experiments.yaml"))


def test_the_three_notebooks_with_their_sizes():
    sizes = {name: count_params(c.data.n_features, c.model.hidden) for name, c in EXPERIMENTS.items()}
    assert sizes == {"nb1-bce": 17, "nb2-mse": 26, "nb3-mse-l2": 43}
    assert EXPERIMENTS["nb3-mse-l2"].train.weight_decay == 0.01
    assert [c.train.loss for c in EXPERIMENTS.values()] == ["bce", "mse", "mse"]


def test_params_yaml_holds_nb1():
    assert yaml.safe_load(Path("params.yaml").read_text()) == EXPERIMENTS["nb1-bce"].plain()


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_every_param_is_set_explicitly(name):
    args = set_param_args(EXPERIMENTS[name])
    keys = {arg.split("=")[0] for arg in args[1::2]}
    expected = {f"{s}.{key}" for s, schema in SECTIONS.items() for key in schema.__dataclass_fields__}
    assert args[::2] == ["-S"] * len(keys) and keys == expected


def test_values_are_written_as_dvc_reads_them():
    args = set_param_args(EXPERIMENTS["nb3-mse-l2"])[1::2]
    assert {"train.loss=mse", "train.lr=0.001", "train.weight_decay=0.01", "model.hidden=7"} <= set(args)
    assert "data.seed=0" in args and "train.device=cpu" in args


def test_invalid_experiment_is_rejected_before_anything_runs(tmp_path):
    bad = tmp_path / "e.yaml"
    spec = {"defaults": EXPERIMENTS["nb1-bce"].plain(), "experiments": {"x": {"train": {"lr": -1}}}}
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


def fake_queue(monkeypatch, statuses: list[tuple[dict, int]], died: set[str] = frozenset()) -> list:
    """wait_for_queue against a scripted `dvc queue status`; returns the commands it ran."""
    from journey.dvc import Task

    script = iter(statuses)
    commands = []
    monkeypatch.setattr("journey.experiments.queue_status",
                        lambda: (lambda tasks, workers: ({n: Task("abcdef0", n, s) for n, s in tasks.items()},
                                                         workers))(*next(script)))  # fmt: skip
    monkeypatch.setattr("journey.experiments.start_workers", lambda jobs: commands.append(("start", jobs)))
    monkeypatch.setattr("journey.experiments.run_died", lambda task: bool(died))
    monkeypatch.setattr("journey.experiments.retire", lambda task: commands.append(("queue", "kill")))
    monkeypatch.setattr("journey.experiments.sh", lambda *args, **kw: commands.append(args[1:3]))
    monkeypatch.setattr(
        "journey.experiments.clear_previous", lambda names: commands.append(("clear", *names))
    )
    monkeypatch.setattr("journey.experiments.queue", lambda runs: commands.append(("queue", *runs)))
    monkeypatch.setattr("journey.experiments.POLL_SECONDS", 0)
    return commands


def test_queue_workers_that_die_are_restarted(monkeypatch):
    """DVC's workers can exit with tasks still queued; the runner notices and starts them again."""
    commands = fake_queue(
        monkeypatch, [({"nb1": "Queued"}, 0), ({"nb1": "Queued"}, 0), ({"nb1": "Success"}, 0)]
    )
    assert wait_for_queue({"nb1": []}, jobs=2) == {"nb1": "Success"}
    assert commands == [("start", 2), ("start", 1), ("start", 1)]


def test_a_run_that_died_is_marked_failed_and_rerun_once_then_reported(monkeypatch):
    running = ({"nb1": "Running"}, 1)
    commands = fake_queue(monkeypatch, [running, running, running], died={"nb1"})
    monkeypatch.setattr("journey.experiments.RERUNS", 1)
    assert wait_for_queue({"nb1": ["train.epochs=8"]}, jobs=1) == {"nb1": DIED}
    assert commands == [("start", 1), ("queue", "kill"), ("clear", "nb1"), ("queue", "nb1"),
                        ("queue", "kill")]  # fmt: skip


def test_a_run_that_died_is_reported_in_one_line_with_the_command_that_retries_it(monkeypatch):
    monkeypatch.setattr("journey.experiments.RERUNS", 1)
    one_line = r"nb1-bce: its run died 2 time\(s\) before finishing .* `journey experiments nb1-bce`$"
    with pytest.raises(UserError, match=one_line):
        raise_if_failed({"nb1-bce": DIED})


def test_nb2_torch_and_nb2_jax_are_nb2_mse_in_each_frameworks_own_arithmetic():
    every = load_experiments(Path("experiments.yaml"), ALL)
    nb2 = every["nb2-mse"]
    for name, framework in (("nb2-torch", "torch"), ("nb2-jax", "jax")):
        own = dataclasses.replace(nb2.train, framework=framework, arithmetic="native")
        assert every[name] == dataclasses.replace(nb2, train=own), name


def test_lessons_claim_a_win_or_an_equivalence(tmp_path):
    lessons = {lesson.claim: lesson for lesson in load_lessons(Path("experiments.yaml"))}
    same = lessons["PyTorch and JAX give the same results"]
    assert (same.first, same.second, same.margin, same.kind) == ("nb2-jax", "nb2-torch", 0.01, "equivalence")
    exact = lessons["The exact arithmetic gives PyTorch's results"]
    assert (exact.first, exact.second, exact.kind) == ("nb2-mse", "nb2-torch", "equivalence")
    win = lessons["MSE outperformed BCE"]
    assert (win.margin, win.kind) == (0.01, "directional")  # experiments.yaml's lesson_margin
    broken = yaml.safe_load(Path("experiments.yaml").read_text())
    broken["lessons"] = [{"claim": "x", "same": ["nb1-bce", "nb2-mse"], "margin": -1}]
    (tmp_path / "experiments.yaml").write_text(yaml.safe_dump(broken))
    with pytest.raises(
        UserError, match=r"lessons: each needs claim .* \(margin -1 must be a positive number\)"
    ):
        load_lessons(tmp_path / "experiments.yaml")
