"""What the benchmarks share: fresh clones, timed commands with their peak memory, and Markdown tables."""

import functools
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Run:
    """One command's wall time, the peak resident memory of its largest process, and its output."""

    seconds: float
    peak_rss_mb: float
    output: str


# A small launcher reports its children's peak memory: a child forked straight from this process
# would inherit this process's peak (Linux keeps the high-water mark across exec).
LAUNCHER = (
    "import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); "
    "print(f'PEAK_RSS_KB={resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}'); sys.exit(code)"
)


def measure(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> Run:
    """Run `command` to the end; fail loudly if it fails, since a failed run times nothing."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *command],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seconds = time.perf_counter() - start
    output, _, peak = result.stdout.rpartition("PEAK_RSS_KB=")
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed in {cwd}:\n{output[-3000:]}")
    return Run(seconds, int(peak) / 1024, output)


def fresh_clone(parent: Path, name: str, commit: str | None = None) -> Path:
    """A clone of `commit`, by default HEAD as this run found it: committed files only, no DVC cache,
    no outputs."""
    path = parent / name
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(path)], check=True)
    # On the clone's branch, as a clone of that commit would be.
    subprocess.run(["git", "-C", str(path), "reset", "--quiet", "--hard", commit or head()], check=True)
    return path


def short_hash(commit: str = "HEAD") -> str:
    """`commit` of this checkout as an abbreviated hash."""
    result = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", commit], check=True,
                            capture_output=True, text=True)  # fmt: skip
    return result.stdout.strip()


@functools.cache
def head() -> str:
    """HEAD when this run first asked: every clone of a run is of one commit, though others may commit
    while it runs."""
    return short_hash("HEAD")


def clone_env(clone: Path) -> dict[str, str]:
    """Imports from `clone` wherever a command runs: a stage whose wdir is a subfolder (the study's) would
    otherwise import `stages` and `journey` from the checkout the venv installed in editable mode."""
    return {"PYTHONPATH": str(clone)}


def machine() -> str:
    """The machine the numbers come from, in one line."""
    import torch

    cpu = platform.processor() or platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, torch {torch.__version__}"
    )


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(str(cell) for cell in line) + " |" for line in lines)


def verdict(value: float, target: float, at_most: bool) -> str:
    """`met` or `missed`, for a ratio against its target."""
    return "met" if (value <= target if at_most else value >= target) else "**missed**"
