"""Benchmark 5: wall time and peak memory of each stage from 10^4 to 10^6 samples, and the growth exponent."""

import math
import sys
from pathlib import Path

import yaml

from benchmarks.common import fresh_clone, measure, table, verdict
from benchmarks.one_process import stage_calls

SIZES = (10_000, 100_000, 1_000_000)
# Four features and the nb3 net; few epochs at a large batch, as one would train on a million rows.
SCALE_PARAMS = {
    "data": {"n_features": 4},
    "model": {"hidden": 7},
    "train": {"epochs": 10, "batch_size": 1024},
}
WHOLE_PIPELINE_SAMPLES = 1_000_000


def set_params(clone: Path, n_samples: int) -> None:
    """params.yaml with SCALE_PARAMS and `n_samples` on top of the committed defaults."""
    params = yaml.safe_load((clone / "params.yaml").read_text())
    for section, values in SCALE_PARAMS.items():
        params[section].update(values)
    params["data"]["n_samples"] = n_samples
    (clone / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def stage_commands(clone: Path) -> dict[str, list[str]]:
    """Each stage's `cmd` from dvc.yaml, run with this interpreter."""
    calls = stage_calls(clone / "dvc.yaml")
    return {name: [sys.executable, "-m", module, *argv] for name, (module, argv) in calls.items()}


def exponent(small: float, large: float, n_small: int, n_large: int) -> float:
    """k in time ∝ n^k between two sizes."""
    return math.log(large / small) / math.log(n_large / n_small)


def report(workdir: Path) -> str:
    """Per stage: seconds and peak RSS at each size, the growth exponent; then the whole pipeline at 10^6."""
    clone = fresh_clone(workdir, "scale")
    runs = {}
    for n in SIZES:
        set_params(clone, n)
        for stage, command in stage_commands(clone).items():
            runs[stage, n] = measure(command, clone)
    rows = []
    for stage in stage_commands(clone):
        cells = [f"{runs[stage, n].seconds:.2f} s, {runs[stage, n].peak_rss_mb:.0f} MB" for n in SIZES]
        k = exponent(runs[stage, SIZES[0]].seconds, runs[stage, SIZES[-1]].seconds, SIZES[0], SIZES[-1])
        rows.append([stage, *cells, f"{k:.2f}", verdict(k, 1.1, at_most=True)])
    per_stage = table(["stage", *(f"{n:,}" for n in SIZES), "exponent", "≤ 1.1"], rows)
    whole_clone = fresh_clone(workdir, "whole")
    set_params(whole_clone, WHOLE_PIPELINE_SAMPLES)
    whole = measure(["dvc", "repro"], whole_clone)
    fits = whole.seconds < 60 and whole.peak_rss_mb < 1024
    summary = (
        f"Whole pipeline, fresh `dvc repro` at {WHOLE_PIPELINE_SAMPLES:,} samples by 4 features: "
        f"{whole.seconds:.1f} s, peak RSS {whole.peak_rss_mb:.0f} MB (target < 60 s and < 1 GB: "
        f"{'met' if fits else '**missed**'})."
    )
    return f"{per_stage}\n\n{summary}"
