"""End to end: long work shows its progress on stderr as it runs, through the real dvc and git.

Each command's stderr is read line by line as it comes, noting whether the command was still running,
so that progress shown only at the end would fail.
"""

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import commit_all, copy_repo, sh, tool_env

pytestmark = pytest.mark.e2e
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # anything but a tab or newline: \r, ANSI escapes
EPOCHS = 400  # per experiment, in the epoch-counting test


def watch(repo: Path, *command: str, **env: str) -> list[tuple[bool, str]]:
    """Run `command` with stderr piped (not a terminal); each stderr line, with whether the command
    was still running when it came."""
    process = subprocess.Popen(command, cwd=repo, env={**tool_env(), **env}, text=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    lines = [(process.poll() is None, line.rstrip("\n")) for line in process.stderr]
    assert process.wait() == 0, "\n".join(line for _, line in lines)
    return lines


def partway(lines: list[tuple[bool, str]], label: str, unit: str) -> list[str]:
    """Progress lines of `label` that say some but not all of its units are done, seen while running."""
    pattern = re.compile(rf"{re.escape(label)}: (\d+)/(\d+) {unit}s, ")
    return [line for running, line in lines
            if running and (found := pattern.match(line)) and 0 < int(found[1]) < int(found[2])]  # fmt: skip


def no_control_characters(lines: list[tuple[bool, str]]) -> bool:
    return not any(CONTROL.search(line) for _, line in lines)


def test_dvc_repro_shows_the_epochs_of_training_while_it_trains(repo):
    lines = watch(repo, "dvc", "repro", JOURNEY_PROGRESS_SECONDS="0.2")
    assert partway(lines, "train", "epoch"), lines
    assert no_control_characters(lines)
    assert sh(repo, "git", "status", "--porcelain").stdout == ""  # the locked bytes


@pytest.mark.parametrize("mode", ["live", "off"])
def test_the_outputs_are_the_locked_bytes_with_a_live_bar_and_without_progress(repo, mode):
    sh(repo, "dvc", "repro")
    command = ["dvc", "repro", "--force", "--downstream", "train"]
    env = {**tool_env(), "JOURNEY_PROGRESS": mode}
    result = subprocess.run(command, cwd=repo, env=env, capture_output=True)
    assert result.returncode == 0, result.stderr.decode()
    assert (b"\r" in result.stderr) == (mode == "live")  # bytes: text mode would turn \r into \n
    assert sh(repo, "git", "status", "--porcelain").stdout == ""  # dvc.lock: every output's hash unchanged


@pytest.fixture
def small_study(tmp_path: Path) -> Path:
    """A copy with a study of 2 + 2 + 2 seeds over 100 epochs, and a folder remote."""
    repo = copy_repo(tmp_path / "repo")
    experiments = yaml.safe_load((repo / "experiments.yaml").read_text())
    experiments["defaults"]["train"]["epochs"] = 100
    (repo / "experiments.yaml").write_text(yaml.safe_dump(experiments, sort_keys=False))
    params = yaml.safe_load((repo / "study/params.yaml").read_text())
    params["seeds"].update(n=2, n_per_source=2, batches=[])
    (repo / "study/params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    commit_all(repo, "a small study")
    sh(repo, "journey", "remote")
    return repo


def test_a_study_shard_shows_runs_done_of_runs_planned_and_the_stage_running(small_study):
    lines = watch(small_study, "journey", "study", "--shard", "1/4", JOURNEY_PROGRESS_SECONDS="0.2")
    text = [line for _, line in lines]
    # DVC picks the order of the three targets; either way each shows its runs and epochs as it trains.
    stages = {"seeds@nb1-bce", "seeds@nb2-bigger-model", "seeds@nb2-jax"}
    first = re.compile(r"study shard 1/4: 0/18 runs, \S+ elapsed \((seeds@[\w-]+)\)")
    started = {found[1] for line in text if (found := first.fullmatch(line))}
    assert started and started <= stages, text
    second = [line.rsplit("(", 1)[-1].rstrip(")") for line in partway(lines, "study shard 1/4", "run")]
    assert set(second) & stages, text  # "6/12 runs … (the other stage)" while it runs
    assert any(partway(lines, stage, "epoch") for stage in stages), text
    assert no_control_characters(lines)
    quiet = watch(small_study, "journey", "study", "--shard", "1/4", "--no-progress")
    assert not [line for _, line in quiet if re.match(r"(study|seeds@)\S*.*: \d+/\d+ ", line)], quiet


def test_journey_experiments_counts_the_epochs_of_every_experiment_and_shows_which_runs(small_study):
    """Epochs over both experiments, read from each running one's DVCLive summary; a line every refresh
    (half a second), and 400 epochs each, so that counts part way through an experiment show."""
    spec = yaml.safe_load((small_study / "experiments.yaml").read_text())
    spec["defaults"]["train"]["epochs"] = EPOCHS
    (small_study / "long.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    commit_all(small_study, "longer runs")
    command = ["journey", "experiments", "nb1-bce", "nb2-mse", "--jobs", "1", "--file", "long.yaml"]
    lines = watch(small_study, *command, JOURNEY_PROGRESS_SECONDS="0")
    text = [line for _, line in lines if line.startswith("experiments: ")]
    total = 2 * EPOCHS
    assert text[0] == f"experiments: 0/{total} epochs, 00:00 elapsed", text
    assert any(running and line.endswith("(running nb1-bce)") for running, line in lines), text
    done = [
        int(found[1]) for line in text if (found := re.match(rf"experiments: (\d+)/{total} epochs", line))
    ]
    assert any(0 < count < EPOCHS for count in done), text  # part way through the first, from DVCLive
    assert any(running and "left (running nb2-mse)" in line for running, line in lines), text
    assert re.fullmatch(rf"experiments: {total}/{total} epochs, \S+ elapsed \(finished\)", text[-1]), text
    assert no_control_characters(lines)


def test_journey_check_counts_each_stage_of_a_pipeline_that_reproduces_its_lock(repo):
    """From nothing in a clean clone, DVC rewrites no lock entry: a stage counts once DVC went past it."""
    lines = watch(repo, "journey", "check", "--skip-study", "--skip-experiments")
    text = [line for _, line in lines if line.startswith("check: ")]
    finished = [re.sub(r", \S+ elapsed", "", line) for line in text if line.endswith("(finished)")]
    assert finished == ["check: dvc.yaml: 5/5 stages (finished)", "check: dvc.yaml: 2/2 stages (finished)"], (
        text
    )
    assert any(running and line.startswith("check: dvc.yaml: 3/5 stages") for running, line in lines), text
