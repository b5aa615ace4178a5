"""End to end: DVCLive's epochs reach `dvc exp show` while a queued experiment trains, with the real dvc."""

import json
import subprocess
import time
from pathlib import Path

import pytest
from conftest import copy_repo, sh, tool_env

pytestmark = pytest.mark.e2e
EPOCHS = 300
SUMMARY = "dvclive/metrics.json"


def experiment(repo: Path, name: str) -> tuple[str | None, int | None]:
    """The experiment's executor state (running, success…) and the step of its DVCLive summary, as
    `dvc exp show` gives them; (None, None) while it is only queued."""
    for baseline in json.loads(sh(repo, "dvc", "exp", "show", "--json").stdout):
        for branch in baseline.get("experiments") or []:
            if branch.get("name") == name:
                data = branch["revs"][0].get("data") or {}
                summary = ((data.get("metrics") or {}).get(SUMMARY) or {}).get("data") or {}
                return (branch.get("executor") or {}).get("state", "success"), summary.get("step")
    return None, None


def test_exp_show_shows_a_queued_experiments_epoch_while_it_trains(tmp_path):
    repo = copy_repo(tmp_path)
    # 3,200 training rows: an epoch takes long enough for `dvc exp show` to catch the run part way.
    sh(repo, "dvc", "exp", "run", "--queue", "--name", "long", "-S", "data.n_samples=4000",
       "-S", f"train.epochs={EPOCHS}")  # fmt: skip
    # The workers it leaves running inherit its output: a pipe would keep `sh` waiting for the whole queue.
    subprocess.run(["dvc", "queue", "start"], cwd=repo, env=tool_env(), stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)  # fmt: skip
    seen, deadline = [], time.monotonic() + 300
    while time.monotonic() < deadline:
        state, step = experiment(repo, "long")
        seen.append((state, step))
        if state not in (None, "queued", "running"):
            break
        time.sleep(0.5)
    assert any(state == "running" and step and 0 < step < EPOCHS for state, step in seen), seen
    assert seen[-1] == ("success", EPOCHS), seen
