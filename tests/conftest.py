"""Shared fixtures: small datasets, params, and a temporary git + DVC copy of this repository."""

import dataclasses
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from stages.generate import generate
from stages.params import ModelParams, Params, load_params
from stages.split import split

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def small_split():
    """A learnable 2-feature dataset split 80/20."""
    return split(generate(seed=0, n_samples=600, n_features=2, noise=0.05), val_fraction=0.2, seed=0)


def tool_env() -> dict[str, str]:
    """The environment with this interpreter's bin/ first, so `dvc` and `python` are the tested ones."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["DVC_NO_ANALYTICS"] = "1"
    # DVC commits each experiment; a fresh machine may have no git identity configured.
    for role in ("AUTHOR", "COMMITTER"):
        env.setdefault(f"GIT_{role}_NAME", "test")
        env.setdefault(f"GIT_{role}_EMAIL", "test@example.com")
    return env


def sh(cwd: Path, *args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run a command in `cwd`, returning its output; fail the test with the output if it fails."""
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env or tool_env())
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def copy_repo(destination: Path) -> Path:
    """Copy the files git would commit (tracked and new, not ignored) into a fresh git repository."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    sh(destination, "git", "init", "-q", "-b", "main")
    commit_all(destination, "copy of the repository under test")
    return destination


def copy_with_experiments(destination: Path, change: Callable[[dict], None], message: str) -> Path:
    """copy_repo, then `change` applied to experiments.yaml's contents and committed."""
    repo = copy_repo(destination)
    spec = yaml.safe_load((repo / "experiments.yaml").read_text())
    change(spec)
    (repo / "experiments.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    commit_all(repo, message)
    return repo


def commit_all(repo: Path, message: str) -> None:
    """Stage everything and commit with a fixed identity."""
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", message)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A temporary git repository holding this project, with an empty DVC cache."""
    return copy_repo(tmp_path / "repo")


def make_params(**changes) -> Params:
    """params.yaml's params with `changes` by key: a model key to `model`, `standardize` to `data`,
    any other to `train` (`seed` is train.seed); one hidden width may be a number."""
    base = load_params(ROOT / "params.yaml")
    model_keys = {spec.name for spec in dataclasses.fields(ModelParams)}
    sections = {"data": {}, "model": {}, "train": {}}
    for key, value in changes.items():
        section = "data" if key == "standardize" else "model" if key in model_keys else "train"
        sections[section][key] = tuple(value) if isinstance(value, list) else value
    if isinstance(sections["model"].get("hidden"), int):
        sections["model"]["hidden"] = (sections["model"]["hidden"],)
    return dataclasses.replace(
        base,
        **{name: dataclasses.replace(getattr(base, name), **values) for name, values in sections.items()},
    )
