"""End to end: long commands survive a killed worker, a killed run and Ctrl-C, with the real dvc and git."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from conftest import commit_all, copy_repo, copy_with_experiments, sh, tool_env

from journey.dvc import named_experiments
from journey.locks import parse_lock

pytestmark = pytest.mark.e2e
LIMIT = 600  # seconds: a test that would hang fails instead


def start(repo: Path, *args: str, **env: str) -> subprocess.Popen:
    """`args` in `repo`, in a session of its own, with Ctrl-C handled as in a terminal's foreground job:
    a test run from a background job (`cmd &` in a script, as CI may start it) inherits SIGINT ignored."""
    return subprocess.Popen(args, cwd=repo, env={**tool_env(), **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip


def first_run_record(repo: Path) -> dict:
    """dvc-task's record of the first queue task's process, once it has started."""
    deadline = time.monotonic() + LIMIT
    while time.monotonic() < deadline:
        for record in (repo / ".dvc/tmp/exps/run").glob("*/*.json"):
            if record.stem == record.parent.name:
                return json.loads(record.read_text())
        time.sleep(0.2)
    pytest.fail("no queue task started")


def kill_first_run_and_its_worker(repo: Path) -> None:
    """SIGKILL the first task's `dvc exp exec-run` and the queue worker that started it."""
    pid = first_run_record(repo)["pid"]
    worker = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    for victim in (pid, worker):
        os.kill(victim, signal.SIGKILL)


def processes_inside(repo: Path) -> list[int]:
    """Processes working in the repository's temporary run folders: leftovers of a run."""
    runs = (repo / ".dvc/tmp/exps").resolve()
    found = []
    for cwd in Path("/proc").glob("[0-9]*/cwd"):
        try:
            if Path(os.readlink(cwd)).is_relative_to(runs):
                found.append(int(cwd.parent.name))
        except OSError:
            continue
    return found


def command_running(repo: Path, fragment: bytes) -> bool:
    """Whether a process in `repo` (other tests run studies too) has `fragment` in its command line
    (arguments separated by NUL)."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            here = Path(os.readlink(cmdline.parent / "cwd")).is_relative_to(repo.resolve())
            if here and fragment in cmdline.read_bytes():
                return True
        except OSError:
            continue
    return False


def model_hash(repo: Path, name: str) -> str:
    """md5 of the model an experiment recorded in its dvc.lock."""
    rev = named_experiments(json.loads(sh(repo, "dvc", "exp", "show", "--json").stdout))[name]["rev"]
    lock = sh(repo, "git", "show", f"{rev}:dvc.lock").stdout
    return parse_lock(lock)["train"]["outs"]["models/model.safetensors"]


@pytest.fixture
def notebooks(tmp_path: Path) -> Path:
    """A fresh copy: nb1-bce's experiment is params.yaml's config, so its model is dvc.lock's."""
    return copy_repo(tmp_path / "repo")


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="finds processes through /proc")
def test_a_killed_worker_and_run_are_rerun_and_give_the_runs_real_bytes(notebooks):
    running = start(notebooks, "journey", "experiments", "nb1-bce")
    kill_first_run_and_its_worker(notebooks)
    _, stderr = running.communicate(timeout=LIMIT)
    assert running.returncode == 0, stderr
    assert "nb1-bce: its run died before finishing" in stderr and "rerunning it (1 of 1)" in stderr
    locked = parse_lock((notebooks / "dvc.lock").read_text())["train"]["outs"]["models/model.safetensors"]
    assert model_hash(notebooks, "nb1-bce") == locked
    assert processes_inside(notebooks) == []


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="finds processes through /proc")
def test_past_the_rerun_limit_a_dead_run_is_one_line_and_never_shown_as_done(notebooks):
    running = start(notebooks, "journey", "experiments", "nb1-bce", JOURNEY_RERUNS="0")
    kill_first_run_and_its_worker(notebooks)
    stdout, stderr = running.communicate(timeout=LIMIT)
    assert running.returncode == 2
    assert (
        "nb1-bce: its run died 1 time(s) before finishing (its queue worker or process was killed: out "
        "of memory, a crash, kill -9); retry it with `journey experiments nb1-bce`"
    ) in stderr
    assert "[nb1-bce]" not in stdout  # the table shows no row for it
    again = sh(notebooks, "journey", "experiments", "nb1-bce")
    assert "up to date" not in again.stderr and "queued nb1-bce" in again.stderr
    locked = parse_lock((notebooks / "dvc.lock").read_text())["train"]["outs"]["models/model.safetensors"]
    assert model_hash(notebooks, "nb1-bce") == locked


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="finds processes through /proc")
def test_a_run_left_dead_by_a_killed_command_is_not_up_to_date_and_is_rerun(notebooks):
    """The issue's case: a worker and its run die, then the waiting command is killed too."""
    running = start(notebooks, "journey", "experiments", "nb1-bce")
    kill_first_run_and_its_worker(notebooks)
    os.killpg(running.pid, signal.SIGKILL)
    running.communicate(timeout=LIMIT)
    again = sh(notebooks, "journey", "experiments", "nb1-bce")
    assert "up to date" not in again.stderr and "queued nb1-bce" in again.stderr
    locked = parse_lock((notebooks / "dvc.lock").read_text())["train"]["outs"]["models/model.safetensors"]
    assert model_hash(notebooks, "nb1-bce") == locked
    assert "Running" not in sh(notebooks, "dvc", "queue", "status").stdout


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="finds processes through /proc")
def test_ctrl_c_stops_the_runs_it_started_and_says_so(tmp_path):
    def lengthen(spec: dict) -> None:
        spec["defaults"]["train"]["epochs"] = 50_000  # minutes: still running when Ctrl-C comes

    repo = copy_with_experiments(tmp_path / "repo", lengthen, "long runs")
    running = start(repo, "journey", "experiments")
    deadline = time.monotonic() + LIMIT
    while "Running" not in sh(repo, "dvc", "queue", "status").stdout:
        assert time.monotonic() < deadline and running.poll() is None
        time.sleep(1)
    running.send_signal(signal.SIGINT)
    _, stderr = running.communicate(timeout=LIMIT)
    assert running.returncode == 130
    assert "Traceback" not in stderr
    assert "interrupted: stopped " in stderr and "nothing this command started is running" in stderr
    assert "Running" not in sh(repo, "dvc", "queue", "status").stdout
    time.sleep(2)  # DVC's stage processes get SIGINT with their run; give them a moment
    assert processes_inside(repo) == []


@pytest.fixture
def small_study(tmp_path: Path) -> Path:
    """A copy with a small study (2 seeds, 2 per source, 6 epochs), run and locked once."""

    def shorten(spec: dict) -> None:
        spec["defaults"]["train"]["epochs"] = 6

    repo = copy_with_experiments(tmp_path / "repo", shorten, "short epochs")
    params = yaml.safe_load((repo / "study/params.yaml").read_text())
    params["seeds"].update(n=2, n_per_source=2, batches=[])
    (repo / "study/params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(repo, "journey", "study")
    commit_all(repo, "a small study, locked")
    return repo


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="finds processes through /proc")
@pytest.mark.parametrize("how", ["Ctrl-C", "kill -9"])
def test_journey_study_stopped_part_way_then_rerun_gives_the_locked_bytes(small_study, how):
    running = start(small_study, "journey", "study", "--force")
    deadline = time.monotonic() + LIMIT
    while not command_running(small_study, b"--config\0nb1-mse\0"):  # the second config: the first is done
        assert time.monotonic() < deadline and running.poll() is None
        time.sleep(0.2)
    if how == "Ctrl-C":
        running.send_signal(signal.SIGINT)
    else:
        os.killpg(running.pid, signal.SIGKILL)
    _, stderr = running.communicate(timeout=LIMIT)
    if how == "Ctrl-C":
        assert running.returncode == 130 and "Traceback" not in stderr
        assert "interrupted: DVC stopped the stage that was running" in stderr
        assert "`journey study` finishes the study" in stderr
    sh(small_study, "journey", "study")
    assert sh(small_study, "git", "status", "--porcelain").stdout == ""
