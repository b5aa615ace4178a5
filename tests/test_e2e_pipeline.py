"""End to end: `dvc repro` with the real `dvc` and `git` on a temporary copy of this repository."""

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import copy_repo, sh, tool_env

pytestmark = pytest.mark.e2e


# What another x86-64 machine would pick by itself: ATen's kernels without AVX, MKL capped at SSE4.2,
# NumPy without AVX2, two threads (tests/test_cpu.py tries more). Nothing is pinned: the arithmetic
# (stages/lib/exact.py) gives the same bits on any of them.
ANOTHER_CPU = {"ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "OMP_NUM_THREADS": "2",
               "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR"}  # fmt: skip


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory) -> Path:
    """A fresh copy after one full `dvc repro` of the committed params, as another CPU would run it."""
    repo = copy_repo(tmp_path_factory.mktemp("reproduced"))
    sh(repo, "dvc", "repro", env={**tool_env(), **ANOTHER_CPU})
    return repo


def test_fresh_repro_on_another_cpu_reproduces_the_committed_lock(reproduced):
    assert sh(reproduced, "git", "diff", "--exit-code", "dvc.lock", check=False).returncode == 0, (
        "dvc.lock differs from a fresh run: run `dvc repro` and commit dvc.lock"
    )
    assert sh(reproduced, "dvc", "status", "-q", "dvc.yaml", check=False).returncode == 0


def test_deleted_outputs_come_back_from_the_run_cache_without_running(reproduced):
    """Every stage is restored, not rerun: evaluate too, whose metrics are `cache: false` (kept in git)."""
    for folder in ("data", "models", "eval"):
        shutil.rmtree(reproduced / folder)
    result = sh(reproduced, "dvc", "repro")
    output = result.stdout + result.stderr
    for stage in ("generate", "split", "train", "evaluate"):
        assert f"Stage '{stage}' is cached - skipping run" in output
    assert "Running stage" not in output
    assert sh(reproduced, "git", "status", "--porcelain").stdout == ""
    assert sh(reproduced, "dvc", "status", "-q", "dvc.yaml", check=False).returncode == 0


def test_metrics_and_plots_are_declared_to_dvc(reproduced):
    metrics = json.loads(sh(reproduced, "dvc", "metrics", "show", "--json").stdout)
    values = metrics[""]["data"]["eval/metrics.json"]["data"]
    assert values["n_params"] == 17
    assert values["val"]["accuracy"] > values["val"]["noise_ceiling_accuracy"] - 0.05
    plots = json.loads(sh(reproduced, "dvc", "plots", "show", "--json").stdout)["data"]
    declared = {"Loss per epoch", "ROC (validation)", "Confusion matrix (validation)", "eval/loss.png"}
    assert declared <= set(plots)


def test_training_killed_part_way_recovers_to_the_committed_lock(repo):
    """SIGKILL during train leaves no partial model, and the next `dvc repro` reproduces dvc.lock."""
    model = repo / "models" / "model.safetensors"
    run = subprocess.Popen(["dvc", "repro"], cwd=repo, env=tool_env(), start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (repo / "data" / "val.csv").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(2.0)  # well inside the several seconds that training takes
        assert run.poll() is None and not model.exists(), "train finished before it could be killed"
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    assert not model.exists()
    sh(repo, "dvc", "repro")
    assert sh(repo, "git", "diff", "--exit-code", "dvc.lock", check=False).returncode == 0
    assert sh(repo, "dvc", "status", "-q", "dvc.yaml", check=False).returncode == 0
    assert sh(repo, "git", "status", "--porcelain").stdout == ""
