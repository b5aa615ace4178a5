"""Benchmark 8: the seeds study (study/dvc.yaml) against lone train runs and against the queue study.

Three measurements on fresh clones, in one run:
- the whole study, `dvc repro` in study/: every config x (20 seeds + 2 x 10 for the sources);
- one config's single seed trained once per study config by the train stage (dvc.yaml's command,
  nb1-bce);
- the study as it was before: seeded runs of one config as DVC experiments on the queue
  (`dvc exp run --queue -S ...`, one worker per core plus one), timed per trained model.
"""

import json
import shlex
import sys
from pathlib import Path

import yaml

from benchmarks.common import Run, clone_env, fresh_clone, measure, table, verdict
from benchmarks.scale import stage_commands
from study.seeds import plan

PYTHON = sys.executable
QUEUED = 6  # seeded experiments on the queue: enough for a per-model time, not the 25 minutes of 70

QUEUE = """
import json, sys
from dataclasses import replace
from stages.lib.configs import load_experiments
from journey.experiments import raise_if_failed, run_experiments
from pathlib import Path
config = load_experiments(Path("experiments.yaml"))["nb1-bce"]
runs = {}
for index, (data, split, train) in enumerate(json.loads(sys.argv[1])):
    runs[f"nb1-bce-s{index}"] = replace(config, data=replace(config.data, seed=data),
                                        split=replace(config.split, seed=split),
                                        train=replace(config.train, seed=train))
raise_if_failed(run_experiments(runs, jobs=3, force=True))
"""


def study_size(clone: Path) -> tuple[int, int]:
    """How many configs the study has, and how many models it trains: configs x runs per config."""
    params = yaml.safe_load((clone / "study/params.yaml").read_text())
    seeds = params["seeds"]
    later = len(seeds.get("batches") or []) * seeds.get("batch", 0)  # the later looks' seeds
    return len(params["configs"]), len(params["configs"]) * (seeds["n"] + 2 * seeds["n_per_source"] + later)


def lone_runs(workdir: Path, times: int) -> Run:
    """The train stage, `times` times on nb1-bce's data, each a new process as `dvc repro` runs it."""
    clone = fresh_clone(workdir, "lone")
    measure(["dvc", "repro", "split"], clone, clone_env(clone))
    train = shlex.join(stage_commands(clone)["train"])
    return measure(["bash", "-c", f"for i in $(seq {times}); do {train}; done"], clone, clone_env(clone))


def queued_runs(workdir: Path) -> Run:
    """QUEUED seeded nb1-bce runs as DVC experiments on the queue."""
    clone = fresh_clone(workdir, "queue")
    seeds = [(run.data, run.split, run.train) for run in plan(0, QUEUED, 0)]
    return measure([PYTHON, "-c", QUEUE, json.dumps(seeds)], clone, clone_env(clone))


def report(workdir: Path) -> str:
    """Benchmark 8 as a Markdown table."""
    clone = fresh_clone(workdir, "study")
    # The seeds stages run in study/, where `journey` would otherwise come from the editable install.
    study = measure(["dvc", "repro"], clone / "study", clone_env(clone))
    configs, models = study_size(clone)
    lone, queued = lone_runs(workdir, configs), queued_runs(workdir)
    per_model, queue_per_model = study.seconds / models, queued.seconds / QUEUED
    speedup = queue_per_model / per_model
    rows = [
        [f"whole study ({models} models) ÷ {configs} lone train runs", f"{study.seconds:.1f} s",
         f"{lone.seconds:.1f} s", f"{study.seconds / lone.seconds:.2f}", "≤ 3",
         verdict(study.seconds / lone.seconds, 3, True)],
        [f"queue study per model ({QUEUED} queued) ÷ study per model", f"{queue_per_model:.2f} s",
         f"{per_model:.2f} s", f"{speedup:.0f}x", "≥ 10x", verdict(speedup, 10, False)],
    ]  # fmt: skip
    return table(["measure", "measured", "against", "ratio", "target", ""], rows)
