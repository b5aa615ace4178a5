"""The same bytes whatever CPU code path a machine would pick, and no vendor's routine on the way.

Other x86-64 CPUs are simulated on this one: ATEN_CPU_CAPABILITY picks torch's kernels as a CPU
without AVX2 or with AVX-512 would; MKL_ENABLE_INSTRUCTIONS and MKL_CBWR pick MKL's branches;
NPY_DISABLE_CPU_FEATURES takes NumPy down to SSE; XLA_FLAGS caps JAX's compiler below AVX2, where it
has no fused multiply-add. Nothing is pinned (stages/lib/exact.py needs no pin), so each of them must give
the bytes this CPU gives as it is. Other architectures: ../shared/arm/compare.sh (docs/reproducibility.md).
"""

import hashlib
import importlib.util
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from benchmarks.one_process import stage_calls

pytestmark = pytest.mark.slow  # the fast loop leaves this file out

CPU_VARIABLES = ("ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS", "MKL_CBWR", "NPY_DISABLE_CPU_FEATURES",
                 "XLA_FLAGS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "MKL_VERBOSE",
                 "ONEDNN_VERBOSE")  # fmt: skip
X86_64 = os.uname().machine in {"x86_64", "AMD64"}
CPU_FLAGS = Path("/proc/cpuinfo").read_text().split() if Path("/proc/cpuinfo").exists() else []
OTHER_CPUS = {
    "no AVX at all": {
        "ATEN_CPU_CAPABILITY": "default",
        "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
        "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR",
        "XLA_FLAGS": "--xla_cpu_max_isa=SSE4_2",
    },
    "AVX without FMA": {"ATEN_CPU_CAPABILITY": "default", "XLA_FLAGS": "--xla_cpu_max_isa=AVX"},
    "AVX2": {
        "ATEN_CPU_CAPABILITY": "avx2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
        "XLA_FLAGS": "--xla_cpu_max_isa=AVX2",
    },
    "AVX-512": {
        "ATEN_CPU_CAPABILITY": "avx512",
        "MKL_ENABLE_INSTRUCTIONS": "AVX512",
        "XLA_FLAGS": "--xla_cpu_max_isa=AVX512",
    },
    "MKL's compatible branch": {"MKL_CBWR": "COMPATIBLE"},
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
if importlib.util.find_spec("jax"):  # the same arithmetic compiled by XLA
    for name in list(CONFIGS):
        CONFIGS[f"jax-{name}"] = {**CONFIGS[name], "train": {**CONFIGS[name]["train"], "framework": "jax"}}
# Train and evaluate, with the command lines of dvc.yaml, for each workspace named on the command line,
# in one new process: the CPU-path variables are read once per process.
STAGES = """
import os, runpy, sys
commands = [line.split() for line in sys.argv[1].split("\\n")]
for folder in sys.argv[2:]:
    os.chdir(folder)
    for command in commands:
        sys.argv = [command[2], *command[3:]]
        runpy.run_module(command[2], run_name="__main__", alter_sys=True)
"""


def stage_commands(*names: str) -> str:
    """The `python -m stages.…` command lines of dvc.yaml's stages `names`, one a line."""
    calls = stage_calls(ROOT / "dvc.yaml")
    return "\n".join(shlex.join(["python", "-m", calls[name][0], *calls[name][1]]) for name in names)


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any CPU-path variable, plus `extra`."""
    return {**{name: value for name, value in os.environ.items() if name not in CPU_VARIABLES}, **extra}


def run_stages(workspaces: list[Path], env: dict[str, str]) -> tuple[dict[str, str], str]:
    """Train and evaluate every workspace in one new process: md5 of every file they write, and stderr."""
    command = [sys.executable, "-c", STAGES, stage_commands("train", "evaluate"), *map(str, workspaces)]
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    written = sorted(p for w in workspaces for folder in ("models", "eval") for p in (w / folder).iterdir())
    hashes = {str(p.relative_to(p.parents[2])): hashlib.md5(p.read_bytes()).hexdigest() for p in written}
    return hashes, done.stderr


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
        for command in stage_commands("generate", "split").split("\n"):
            subprocess.run(command.split(), cwd=folder, env=clean_env(), check=True, capture_output=True)
        workspaces.append(folder)
    return workspaces, run_stages(workspaces, clean_env())[0]


@pytest.mark.skipif(not X86_64, reason="the simulated code paths are x86-64's")
@pytest.mark.parametrize("cpu", list(OTHER_CPUS))
def test_another_cpu_writes_the_same_bytes(baseline, cpu):
    if cpu == "AVX-512" and "avx512bw" not in CPU_FLAGS:
        pytest.skip("this CPU has no AVX-512 to simulate with")
    if cpu == "AVX2" and "avx2" not in CPU_FLAGS:
        pytest.skip("this CPU has no AVX2 to simulate with")
    workspaces, expected = baseline
    assert run_stages(workspaces, clean_env(**OTHER_CPUS[cpu]))[0] == expected


def test_train_and_evaluate_call_no_mkl_or_onednn_routine(baseline):
    """MKL and oneDNN log every routine they run when asked; torch and JAX configs alike log none."""
    workspaces, expected = baseline
    hashes, stderr = run_stages(workspaces, clean_env(MKL_VERBOSE="1", ONEDNN_VERBOSE="1"))
    assert "MKL_VERBOSE" not in stderr and "onednn_verbose" not in stderr
    assert hashes == expected
