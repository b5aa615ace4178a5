"""Benchmark 11 (`progress`): the train stage with its progress shown, against the same with none.

On a fresh clone of HEAD, after `dvc repro split` made the data:
- the train stage's command, read from dvc.yaml, as `dvc repro` runs it, with JOURNEY_PROGRESS `off`,
  `lines` (a log) and `live` (tqdm's bar, as on a terminal), its stderr to /dev/null; and
- its training loop alone (`stages.train.train`), in one process, the same three ways.
Interleaved, REPEATS each, the fastest kept: this 2-core VM's noise only ever adds time. `off` is
measured twice, as two series: their ratio is the noise floor that "within noise" is judged against.
"""

import sys
from pathlib import Path

from benchmarks.common import clone_env, fresh_clone, measure, table, verdict
from benchmarks.scale import stage_commands

PYTHON = sys.executable
MODES = {"off": "off", "off, again": "off", "lines": "lines", "live": "live"}  # series → JOURNEY_PROGRESS
REPEATS = 9
TARGET = 1.02  # with progress ÷ without, at most

LOOP = """
import os, sys, time
from pathlib import Path
from stages.lib.io import read_splits
from stages.params import load_params
from stages.train import train

params = load_params(Path("params.yaml"))
data = read_splits(Path("data/train.csv"), Path("data/val.csv"))
os.environ["JOURNEY_PROGRESS"] = sys.argv[1]
start = time.perf_counter()
train(*data, params, progress_label="train")
print(f"LOOP_SECONDS={time.perf_counter() - start}")
"""


def quiet(command: list[str]) -> list[str]:
    """`command` with its stderr (the progress) to /dev/null, as the launcher runs it."""
    return ["sh", "-c", '"$@" 2>/dev/null', "sh", *command]


def best_times(clone: Path) -> dict[tuple[str, str], float]:
    """The fastest of REPEATS interleaved runs: (stage or loop, mode) → seconds."""
    best: dict[tuple[str, str], float] = {}
    for _ in range(REPEATS):
        for series, mode in MODES.items():
            env = {**clone_env(clone), "JOURNEY_PROGRESS": mode}
            stage = measure(quiet(stage_commands(clone)["train"]), clone, env).seconds
            loop = measure(quiet([PYTHON, "-c", LOOP, mode]), clone, env)
            seconds = float(loop.output.rpartition("LOOP_SECONDS=")[2].split()[0])
            for key, value in ((("stage", series), stage), (("loop", series), seconds)):
                best[key] = min(best.get(key, float("inf")), value)
    return best


def report(workdir: Path) -> str:
    """Benchmark 11 as a Markdown table."""
    clone = fresh_clone(workdir, "progress")
    measure(["dvc", "repro", "split"], clone, clone_env(clone))
    best = best_times(clone)
    rows = []
    for what, label in (("stage", "train stage command (nb1-bce, 500 epochs)"), ("loop", "its loop alone")):
        off = best[what, "off"]
        noise = max(off, best[what, "off, again"]) / min(off, best[what, "off, again"])
        for series in ("off, again", "lines", "live"):
            ratio = best[what, series] / off
            times = [f"{off:.3f} s", f"{best[what, series]:.3f} s", f"{ratio:.3f}"]
            if series == "off, again":
                rows.append([label, "off (the noise floor)", *times, "", ""])
                continue
            limit = max(TARGET, noise)
            rows.append([label, series, *times, f"≤ {limit:.3f}", verdict(ratio, limit, True)])
    return table(["measure", "progress", "off", "on", "on ÷ off", f"target: {TARGET} or the noise floor", ""],
                 rows)  # fmt: skip
