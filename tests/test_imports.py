"""Each stage's command imports only the libraries it computes with (issue 33): an import costs more
than these stages' work, so one that creeps back is a regression. Run through dvc.yaml's own commands,
with `python -X importtime`, which lists every import, also those made inside functions."""

import importlib.util
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

# The libraries the project installs that a stage might import; the standard library is free.
LIBRARIES = {"numpy", "yaml", "safetensors", "tqdm", "torch", "matplotlib", "sklearn", "scipy", "jax",
             "optax", "pandas", "dvc", "dvclive", "psutil"}  # fmt: skip
PINNED = {
    "params": {"numpy", "yaml"},
    "generate": {"numpy", "yaml"},
    "split": {"numpy", "yaml"},
    # DVCLive, the train stage's logger, imports DVC, psutil and pandas itself (their cost: benchmark
    # 13 in benchmarks/README.md).
    "train": {"numpy", "yaml", "torch", "safetensors", "tqdm", "dvclive", "dvc", "psutil", "pandas"},
    "evaluate": {"numpy", "yaml", "safetensors", "matplotlib"},  # no torch, no scikit-learn
}
JAX_TRAIN = PINNED["train"] | {"jax", "optax"}  # the initial weights and draws still come from torch
FEW_EPOCHS = 3  # what is imported does not depend on how long it trains


def imported_libraries(stderr: str) -> set[str]:
    """The project's libraries among the modules `-X importtime` reported."""
    names = {
        line.rsplit("|", 1)[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")
    }
    return {name.split(".")[0] for name in names} & LIBRARIES


def run_stages(workdir: Path, params: dict) -> dict[str, set[str]]:
    """dvc.yaml's stages, in order, each command run under `-X importtime` in `workdir`: stage → libraries."""
    shutil.copytree(ROOT / "stages", workdir / "stages", ignore=shutil.ignore_patterns("__pycache__"))
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    imported = {}
    for name, stage in yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"].items():
        command = shlex.split(stage["cmd"])
        assert command[:2] == ["python", "-m"], stage["cmd"]
        result = subprocess.run([sys.executable, "-X", "importtime", *command[1:]], cwd=workdir,
                                capture_output=True, text=True)  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        imported[name] = imported_libraries(result.stderr)
    return imported


def notebook_params(**train: str) -> dict:
    """params.yaml (nb1-bce) with a few epochs and `train`'s values."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["train"] |= {"epochs": FEW_EPOCHS, **train}
    return params


def test_each_stage_imports_only_what_it_computes_with(tmp_path):
    assert run_stages(tmp_path, notebook_params()) == PINNED


@pytest.mark.skipif(importlib.util.find_spec("optax") is None, reason="needs the jax extra")
def test_jax_training_adds_only_jax_and_optax(tmp_path):
    imported = run_stages(tmp_path, notebook_params(framework="jax", arithmetic="native"))
    assert imported == PINNED | {"train": JAX_TRAIN}
