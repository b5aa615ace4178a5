"""End to end: `train.arithmetic: native` through the real `dvc exp run`: PyTorch's own kernels give the
same model bytes run after run on this machine, other bytes than the exact arithmetic, and the committed
lock stays exact."""

import hashlib
import json
from pathlib import Path

import pytest
from conftest import sh

pytestmark = pytest.mark.e2e
SHORT = ("-S", "train.epochs=30")  # enough steps for the two arithmetics to part in the last bits


def model_md5(repo: Path) -> str:
    return hashlib.md5((repo / "models/model.safetensors").read_bytes()).hexdigest()


def test_a_native_experiment_reruns_to_its_own_bytes(repo):
    sh(repo, "dvc", "exp", "run", "--name", "exact", *SHORT)
    exact = model_md5(repo)
    sh(repo, "dvc", "exp", "run", "--name", "native", *SHORT, "-S", "train.arithmetic=native")
    native = model_md5(repo)
    sh(
        repo,
        "dvc",
        "exp",
        "run",
        "--force",
        "--name",
        "native-again",
        *SHORT,
        "-S",
        "train.arithmetic=native",
    )
    assert model_md5(repo) == native != exact
    shown = json.loads(sh(repo, "dvc", "exp", "show", "--json").stdout)
    params = {exp["name"]: exp["data"]["params"]["params.yaml"]["data"]["train"]["arithmetic"]
              for entry in shown for exp in [e for run in entry.get("experiments") or [] for e in run["revs"]]
              if exp.get("name")}  # fmt: skip
    assert params == {"exact": "exact", "native": "native", "native-again": "native"}
    # Experiments are refs of their own: the branch's dvc.lock is still the exact one.
    assert "arithmetic: exact" in sh(repo, "git", "show", "HEAD:dvc.lock").stdout
