"""The same bytes whatever CPU code path the machine would pick: other CPUs simulated on this one."""

import hashlib
import importlib.util
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from stages.cli import UserError
from stages.cpu import PINNED, XLA_PIN, is_x86_64, machine_class, pin_cpu_code_paths, require_pinned

X86 = is_x86_64()
CPU_FLAGS = Path("/proc/cpuinfo").read_text().split() if Path("/proc/cpuinfo").exists() else []

# What another machine would choose by itself. ATEN_CPU_CAPABILITY picks ATen's kernels as an AVX2
# or AVX-512 CPU would (or one with neither: default); MKL_ENABLE_INSTRUCTIONS caps MKL as an older
# CPU would; NPY_DISABLE_CPU_FEATURES does the same for NumPy's SIMD loops.
OTHER_CPUS = {
    "no AVX at all": {
        "ATEN_CPU_CAPABILITY": "default",
        "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
        "ONEDNN_MAX_CPU_ISA": "SSE41",
        "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR",
    },
    "AVX2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    # XLA_FLAGS: XLA would compile for AVX-512 by itself (the pin is added after the user's flags).
    "AVX-512": {
        "ATEN_CPU_CAPABILITY": "avx512",
        "MKL_ENABLE_INSTRUCTIONS": "AVX512",
        "XLA_FLAGS": "--xla_cpu_max_isa=AVX512",
    },
    "MKL's AVX2 branch": {"MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX512_CORE"},
    "4 threads": {"OMP_NUM_THREADS": "4", "MKL_NUM_THREADS": "4"},
}
CONFIGS = {  # every kernel the stages run: both losses, each activation, dropout, L2, standardisation
    "nb1": {"train": {"epochs": 20}},
    "mse-tanh-dropout-l2": {
        "data": {"n_features": 4, "standardize": True},
        "model": {"hidden": [7, 5], "activation": "tanh", "dropout": 0.2},
        "train": {"loss": "mse", "weight_decay": 0.01, "epochs": 20},
    },
    "leaky-relu": {"model": {"activation": "leaky_relu"}, "train": {"epochs": 20}},
}
if importlib.util.find_spec("jax"):  # the same kernels compiled by XLA
    CONFIGS["jax-nb1"] = {"train": {"epochs": 20, "framework": "jax"}}
    CONFIGS["jax-mse-tanh-dropout-l2"] = {**CONFIGS["mse-tanh-dropout-l2"], "train": {
        **CONFIGS["mse-tanh-dropout-l2"]["train"], "framework": "jax"}}  # fmt: skip
# Train and evaluate for each workspace named on the command line, in one new process: the CPU-path
# variables are read once per process, and one process for all configs saves interpreter start-ups.
STAGES = """
import os, runpy, sys
commands = {
    "stages.train": "--train data/train.csv --val data/val.csv --model models/model.safetensors "
                    "--history models/history.csv --machine models/machine.json",
    "stages.evaluate": "--model models/model.safetensors --train data/train.csv --val data/val.csv "
                       "--history models/history.csv --metrics eval/metrics.json --roc eval/roc.csv "
                       "--confusion eval/confusion.csv --loss-plot eval/loss.png",
}
for folder in sys.argv[1:]:
    os.chdir(folder)
    for module, args in commands.items():
        sys.argv = [module, *args.split()]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any CPU-path variable, plus `extra`."""
    chosen = {name for variant in OTHER_CPUS.values() for name in variant} | set(PINNED) | {"XLA_FLAGS"}
    return {**{name: value for name, value in os.environ.items() if name not in chosen}, **extra}


def run_stages(workspaces: list[Path], env: dict[str, str]) -> dict[str, str]:
    """Train and evaluate every workspace in one new process; md5 of every file they write."""
    subprocess.run([sys.executable, "-c", STAGES, *map(str, workspaces)], env=env, check=True,
                   capture_output=True)  # fmt: skip
    written = sorted(p for w in workspaces for folder in ("models", "eval") for p in (w / folder).iterdir())
    return {str(p.relative_to(p.parents[2])): hashlib.md5(p.read_bytes()).hexdigest() for p in written}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> tuple[list[Path], dict[str, str]]:
    """A workspace with data for each config, and the hashes train and evaluate give on this CPU as is."""
    workspaces = []
    for name, changes in CONFIGS.items():
        folder = tmp_path_factory.mktemp(name)
        params = yaml.safe_load((ROOT / "params.yaml").read_text())
        for section, values in changes.items():
            params[section].update(values)
        (folder / "params.yaml").write_text(yaml.safe_dump(params))
        for output in ("data", "models", "eval"):
            (folder / output).mkdir()
        for stage in ("generate --out data/raw.csv",
                      "split --data data/raw.csv --train data/train.csv --val data/val.csv"):  # fmt: skip
            command = [sys.executable, "-m", f"stages.{stage.split()[0]}", *stage.split()[1:]]
            subprocess.run(command, cwd=folder, env=clean_env(), check=True, capture_output=True)
        workspaces.append(folder)
    return workspaces, run_stages(workspaces, clean_env())


@pytest.mark.skipif(not X86, reason="the pinned code paths are x86-64's")
@pytest.mark.parametrize("cpu", list(OTHER_CPUS))
def test_another_cpu_writes_the_same_bytes(baseline, cpu):
    if cpu == "AVX-512" and "avx512bw" not in CPU_FLAGS:
        pytest.skip("this CPU has no AVX-512 to simulate with")
    if cpu == "AVX2" and "avx2" not in CPU_FLAGS:
        pytest.skip("this CPU has no AVX2 to simulate with")
    workspaces, expected = baseline
    assert run_stages(workspaces, clean_env(**OTHER_CPUS[cpu])) == expected


def test_pins_are_set_on_x86_only(monkeypatch):
    for machine, pinned in (("x86_64", True), ("AMD64", True), ("arm64", False), ("aarch64", False)):
        monkeypatch.setattr(platform, "machine", lambda machine=machine: machine)
        environ = {"ATEN_CPU_CAPABILITY": "avx512", "XLA_FLAGS": "--xla_dump_to=/tmp/x"}
        pin_cpu_code_paths(environ)
        assert (environ == {**PINNED, "XLA_FLAGS": f"--xla_dump_to=/tmp/x {XLA_PIN}"}) is pinned
        pin_cpu_code_paths(environ)  # a child process pins again: the flag is not repeated
        assert environ["XLA_FLAGS"].count(XLA_PIN) == pinned


def test_machine_class_names_architecture_system_and_kernels_only(monkeypatch):
    monkeypatch.setattr(platform, "machine", lambda: "arm64")
    described = machine_class()
    assert set(described) == {"architecture", "system", "torch_cpu_capability"}
    assert described["architecture"] == "aarch64"


@pytest.mark.skipif(not X86, reason="the pinned code paths are x86-64's")
def test_this_process_runs_the_pinned_kernels():
    import torch

    assert torch.backends.cpu.get_cpu_capability() == PINNED["ATEN_CPU_CAPABILITY"].upper()


def test_a_pin_that_came_too_late_stops_the_stage(monkeypatch):
    import torch

    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    with pytest.raises(UserError, match=r"torch chose its AVX512 kernels before stages/cpu\.py"):
        require_pinned()
