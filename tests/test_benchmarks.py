"""The benchmarks' baseline does the pipeline's work, and their arithmetic is right (no timings here)."""

import hashlib
import json
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, copy_repo, sh

from benchmarks.common import Run
from benchmarks.one_process import stage_calls
from benchmarks.pipeline import restored_stages
from benchmarks.scale import exponent


def test_the_baseline_calls_every_stage_in_pipeline_order():
    modules = [module for module, _ in stage_calls(ROOT / "dvc.yaml").values()]
    assert modules == ["stages.params", "stages.generate", "stages.split", "stages.train", "stages.evaluate"]


def test_growth_exponent():
    assert exponent(1.0, 100.0, 10**4, 10**6) == pytest.approx(1.0)
    assert exponent(2.0, 2.0, 10**4, 10**6) == pytest.approx(0.0)


def test_restored_stages_are_read_from_dvc_output():
    output = "Stage 'train' is cached - skipping run, checking out outputs\nRunning stage 'evaluate':\n"
    assert restored_stages(Run(1.0, 1.0, output)) == ["train"]


@pytest.mark.e2e
def test_one_process_baseline_writes_the_bytes_dvc_lock_records(tmp_path):
    """Same work, so a fair baseline: every output's md5 equals the committed dvc.lock's."""
    repo = copy_repo(tmp_path)
    sh(repo, "python", "-m", "benchmarks.one_process")
    lock = yaml.safe_load((ROOT / "dvc.lock").read_text())["stages"]
    for stage in lock.values():
        for out in stage["outs"]:
            assert dvc_md5(repo / out["path"]) == out["md5"], out["path"]


def dvc_md5(path: Path) -> str:
    """DVC's hash of an output: a file's md5; a folder's, the md5 of its files' listing (`.dir`)."""
    if not path.is_dir():
        return hashlib.md5(path.read_bytes()).hexdigest()
    files = sorted((f.relative_to(path).as_posix(), f) for f in path.rglob("*") if f.is_file())
    listing = [{"md5": hashlib.md5(f.read_bytes()).hexdigest(), "relpath": name} for name, f in files]
    return hashlib.md5(json.dumps(listing, sort_keys=True).encode()).hexdigest() + ".dir"
