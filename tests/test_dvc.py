"""journey/dvc.py: how a dead queue run is told from a live one, and what counts as a finished experiment."""

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from journey import dvc
from journey.dvc import (
    Task,
    finished_experiments,
    process_alive,
    queue_status,
    release_stale_locks,
    run_died,
    sh,
)
from stages.lib.cli import UserError


def test_this_process_is_no_exec_run_and_a_finished_one_is_not_alive():
    assert not process_alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not process_alive(child.pid)


def test_a_live_exec_run_is_alive_and_a_zombie_is_not():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "exec-run"])
    try:
        while "exec-run" not in psutil.Process(child.pid).cmdline():  # until it has started
            time.sleep(0.01)
        assert process_alive(child.pid)
    finally:
        child.kill()
    while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE:  # killed, not yet reaped
        time.sleep(0.01)
    assert not process_alive(child.pid)
    child.wait()


def test_a_dead_runs_leftovers_are_killed_and_nothing_else(tmp_path, monkeypatch):
    """The processes working inside the dead run's copy of the repository, found by psutil."""
    monkeypatch.chdir(tmp_path)
    copy, elsewhere = tmp_path / "copy", tmp_path / "elsewhere"
    copy.mkdir()
    elsewhere.mkdir()
    folder = tmp_path / ".dvc/tmp/exps/run" / f"abcdef0{'0' * 33}"
    folder.mkdir(parents=True)
    (folder / f"{folder.name}.run").write_text(json.dumps({"root_dir": str(copy)}))
    sleep = [sys.executable, "-c", "import time; time.sleep(30)"]
    left, other = subprocess.Popen(sleep, cwd=copy), subprocess.Popen(sleep, cwd=elsewhere)
    try:
        assert dvc.kill_leftovers(Task("abcdef0", "nb1-bce", "Running")) == [left.pid]
        assert left.wait(timeout=10) == -9 and other.poll() is None
    finally:
        for process in (left, other):
            process.kill()
            process.wait()


def record(tmp_path: Path, task_id: str, **info) -> None:
    folder = tmp_path / ".dvc/tmp/exps/run" / f"{task_id}{'0' * 33}"
    folder.mkdir(parents=True)
    (folder / f"{folder.name}.json").write_text(json.dumps(info))


def fake_worker(name: str) -> subprocess.Popen:
    """A process whose command line reads like DVC's queue worker `name` (celery's node name)."""
    worker = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "exp", "queue-worker", name]
    )
    while "queue-worker" not in psutil.Process(worker.pid).cmdline():  # until it has started
        time.sleep(0.01)
    return worker


@pytest.fixture
def workers(tmp_path, monkeypatch):
    """start(n): n processes that look like this repo's queue workers (in `tmp_path`); killed after."""
    monkeypatch.chdir(tmp_path)
    started = []

    def start(n: int, prefix: str | None = None) -> list[subprocess.Popen]:
        started.extend(
            fake_worker(f"{prefix or dvc.worker_name_prefix()}{num}@localhost") for num in range(1, n + 1)
        )
        return started[-n:] if n else []

    yield start
    for process in started:
        process.kill()
        process.wait()


def test_workers_are_named_as_dvc_names_them(tmp_path, monkeypatch):
    from dvc.repo import Repo

    monkeypatch.chdir(tmp_path)
    sh("git", "init", "-q")
    sh("dvc", "init", "-q")
    with Repo(".") as repo:
        folder = repo.experiments.celery_queue.wdir
    assert dvc.worker_name_prefix() == f"dvc-exp-{hashlib.sha256(folder.encode()).hexdigest()[:6]}-"


def test_live_workers_are_this_repos_worker_processes(workers):
    """A worker killed (a zombie until reaped, then gone) no longer counts, nor another repo's."""
    first, _ = workers(2)
    workers(1, prefix="dvc-exp-000000-")
    assert dvc.live_workers() == 2
    first.kill()
    while psutil.Process(first.pid).status() != psutil.STATUS_ZOMBIE:  # killed, not yet reaped
        time.sleep(0.01)
    assert dvc.live_workers() == 1
    first.wait()
    assert dvc.live_workers() == 1


def test_a_worker_started_again_under_its_name_counts_while_either_runs(workers):
    """`dvc queue start` starts worker N again when celery's answer misses the first, and dvc-task's
    record of the second then replaces the first's: a count by records fell to 0 when the second
    exited, while the first still worked."""
    workers(1)
    (again,) = workers(1)  # the same node name
    again.kill()
    again.wait()
    assert dvc.live_workers() == 1


@pytest.mark.parametrize(
    ("info", "alive", "died"),
    [
        (None, 1, False),  # not started yet, a worker will start it
        (None, 0, True),  # not started, and no worker left to start it
        ({"pid": 1, "returncode": 0}, 1, False),  # ended; its worker is collecting the result
        ({"pid": 1, "returncode": 0}, 0, True),  # ended, and nobody left to collect it
        ({"pid": "gone", "returncode": None}, 2, True),  # its process is gone, its worker never saw it end
    ],
)
def test_a_run_died_when_its_process_is_gone_or_nobody_is_left_to_finish_it(
    tmp_path, monkeypatch, workers, info, alive, died
):
    monkeypatch.setattr(dvc.time, "sleep", lambda seconds: None)
    workers(alive)
    if info is not None:
        child = subprocess.Popen([sys.executable, "-c", "pass"])
        child.wait()
        record(tmp_path, "abcdef0", **{**info, "pid": child.pid if info["pid"] == "gone" else info["pid"]})
    assert run_died(Task("abcdef0", "nb1-bce", "Running")) is died


def test_a_finished_run_whose_worker_celery_cannot_reach_is_not_dead(tmp_path, monkeypatch, workers):
    """CI's failure: `dvc queue status` said "0 active, 0 idle" while the one worker left was collecting
    the experiment its process had just finished. Its process decides, not celery's answer."""
    monkeypatch.setattr(dvc.time, "sleep", lambda seconds: None)
    table = "Task     Name     Created   Status\ndfa9b5b  nb2-mse  09:30 PM  Running\n\n"
    table += "Worker status: 0 active, 0 idle\n"
    monkeypatch.setattr("journey.dvc.dvc", lambda *args: table)
    (worker,) = workers(1)
    record(tmp_path, "dfa9b5b", pid=1, returncode=0)
    tasks, alive = queue_status()
    assert alive == 1 and not run_died(tasks["nb2-mse"])
    worker.kill()
    worker.wait()
    assert queue_status()[1] == 0 and run_died(tasks["nb2-mse"])


def test_queue_status_reads_the_tasks_from_one_call(monkeypatch, workers):
    table = (
        "Task     Name        Created    Status\n"
        "dfa9b5b  nb1-bce     09:30 PM   Running\n"
        "2b605ea  nb3-mse-l2  Nov 20, 2026  Queued\n\n"
        "Worker status: 1 active, 2 idle\n"
    )
    calls = []
    monkeypatch.setattr("journey.dvc.dvc", lambda *args: calls.append(args) or table)
    workers(2)
    tasks, alive = queue_status()
    assert tasks == {
        "nb1-bce": Task("dfa9b5b", "nb1-bce", "Running"),
        "nb3-mse-l2": Task("2b605ea", "nb3-mse-l2", "Queued"),
    }
    assert alive == 2 and calls == [("queue", "status")]


def test_a_running_or_metricless_experiment_is_not_finished(monkeypatch):
    def entry(name: str, state: str, rev: str, metrics: dict) -> dict:
        data = {"rev": rev, "metrics": metrics}
        return {
            "name": name,
            "executor": {"state": state},
            "revs": [{"name": name, "rev": rev, "data": data}],
        }

    good = {"eval/metrics.json": {"data": {"val": {"accuracy": 0.9}}}}
    shown = [{"rev": "abc", "name": "main", "experiments": [
        entry("done", "success", "1" * 40, good),
        entry("dead", "running", "workspace", good),  # a dead task: the workspace's files as its data
        entry("empty", "success", "2" * 40, {}),
    ]}]  # fmt: skip
    monkeypatch.setattr("journey.dvc.dvc", lambda *args, cwd=None: json.dumps(shown))
    assert list(finished_experiments()) == ["done"]


def test_a_killed_command_says_so_and_that_rerunning_is_safe():
    with pytest.raises(UserError, match=r"killed by SIGKILL .*running the command again is safe"):
        sh(sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)")


def test_locks_of_killed_processes_are_released_and_live_ones_kept(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (tmp_path / ".dvc/tmp").mkdir(parents=True)
    held = {
        "write": {"runs/nb1-mse": {"pid": gone.pid, "cmd": "dvc repro"}},
        "read": {
            "experiments.yaml": [{"pid": gone.pid, "cmd": "dvc repro"}, {"pid": os.getpid(), "cmd": "x"}]
        },
    }
    (tmp_path / ".dvc/tmp/rwlock").write_text(json.dumps(held))
    assert release_stale_locks() == [gone.pid]
    left = json.loads((tmp_path / ".dvc/tmp/rwlock").read_text())
    assert left == {"write": {}, "read": {"experiments.yaml": [{"pid": os.getpid(), "cmd": "x"}]}}


def git_repo_with_commit(path: Path) -> str:
    """A git repository at `path` with one commit; its hash."""
    subprocess.run(["git", "init", "-q"], cwd=path, check=True)
    identity = ["-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", *identity, "commit", "-q", "--allow-empty", "-m", "first"], cwd=path, check=True)
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, check=True, capture_output=True,
                          text=True).stdout.strip()  # fmt: skip


def test_experiment_refs_decide_whether_dvc_exp_calls_are_needed(tmp_path, monkeypatch):
    commit = git_repo_with_commit(tmp_path)
    monkeypatch.chdir(tmp_path)
    subprocess.run(["git", "update-ref", "refs/exps/celery/stash", commit], check=True)
    assert not dvc.any_experiments()  # a queued task is no experiment yet
    subprocess.run(["git", "update-ref", f"refs/exps/ab/{'c' * 38}/nb1-bce", commit], check=True)
    assert dvc.any_experiments()


@pytest.mark.parametrize("moves", [True, False])
def test_the_queue_is_polled_as_soon_as_a_ref_moves(tmp_path, monkeypatch, moves):
    commit = git_repo_with_commit(tmp_path)
    monkeypatch.chdir(tmp_path)
    mover = subprocess.Popen(["sh", "-c", f"sleep 0.3; git update-ref refs/exps/celery/stash {commit}"
                              if moves else "sleep 0.3"])  # fmt: skip
    start = time.monotonic()
    dvc.wait_for_change(4.0, check_every=0.1)
    waited = time.monotonic() - start
    mover.wait()
    assert waited < 2.0 if moves else waited >= 4.0


@pytest.mark.parametrize(("summary_first", "expected"), [(True, 0), (False, 137)])
def test_a_running_tasks_epoch_is_its_fresh_dvclive_summary_not_the_committed_one(
    tmp_path, monkeypatch, summary_first, expected
):
    """The temporary copy starts with git's summary (step 500); only one written after the train stage's
    input counts."""
    (tmp_path / "dvclive").mkdir()
    (tmp_path / "data").mkdir()
    files = [tmp_path / "dvclive/metrics.json", tmp_path / "data/train.csv"]
    for index, path in enumerate(files if summary_first else files[::-1]):
        path.write_text(json.dumps({"step": 137}) if path.suffix == ".json" else "x0,y,y_clean\n")
        os.utime(path, (1_000_000 + index, 1_000_000 + index))
    monkeypatch.setattr(dvc, "run_record", lambda task_id, suffix=".json": {"root_dir": str(tmp_path)})
    assert dvc.live_epoch(dvc.Task("abcdef0", "nb1-bce", "Running")) == expected
