"""The reproducibility check: unit pieces, then each failure mode made real in a temporary repository."""

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from conftest import ROOT, commit_all, copy_repo, sh

from journey.agreement import tolerances
from journey.check import (
    Clone,
    check_experiments,
    config_of,
    forgive_own_arithmetic,
    native,
    native_configs,
    native_hint,
)
from journey.locks import (
    Finding,
    compare_locks,
    flatten,
    metric_differences,
    parse_lock,
    table_differences,
    tolerate,
)

LOCK = {
    "generate": {
        "deps": {"stages/generate.py": "a1"},
        "params": {"data.seed": 0},
        "outs": {"data/raw.csv": "b1"},
    },
    "split": {
        "deps": {"data/raw.csv": "b1", "stages/split.py": "c1"},
        "params": {},
        "outs": {"data/val.csv": "d1"},
    },
}


def changed(*changes: tuple[str, str, str, str]) -> dict:
    """LOCK with each (stage, deps|params|outs, key, new value) applied."""
    lock = json.loads(json.dumps(LOCK))
    for stage, part, key, value in changes:
        lock[stage][part][key] = value
    return lock


NATIVE_CASES = [("torch", "exact", None), ("torch", "native", "torch"), ("jax", "native", "jax")]


@pytest.mark.parametrize(("framework", "arithmetic", "expected"), NATIVE_CASES)
def test_a_native_params_file_gets_its_frameworks_tolerance_in_the_hint(tmp_path, framework, arithmetic,
                                                                       expected):  # fmt: skip
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["train"] |= {"framework": framework, "arithmetic": arithmetic}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    assert native(tmp_path) == expected
    if expected:
        assert f"--tolerance {tolerances(expected)['metrics']:g}`" in native_hint(expected)
    assert native(tmp_path / "missing") is None


def test_the_study_stages_of_a_frameworks_own_arithmetic_are_known_with_their_tolerance():
    assert native_configs(ROOT) == {
        "nb2-torch": tolerances("torch")["metrics"],
        "nb2-jax": tolerances("jax")["metrics"],
    }
    assert [config_of(stage) for stage in ("seeds@nb2-torch", "batch@nb2-torch-12", "seeds@nb1-bce")] == [
        "nb2-torch", "nb2-torch", "nb1-bce"]  # fmt: skip


def shifted(table: str, config: str, by: float) -> str:
    """The per-seed table with `config`'s first accuracy moved by `by`."""
    lines = table.splitlines(keepends=True)
    at = next(index for index, line in enumerate(lines) if line.startswith(f"{config},"))
    cells = lines[at].split(",")
    column = lines[0].split(",").index("accuracy")
    cells[column] = f"{float(cells[column]) + by:.6f}"
    lines[at] = ",".join(cells)
    return "".join(lines)


@pytest.mark.parametrize(("torch_shift", "forgiven"), [(5e-6, True), (5e-5, False)])
def test_a_frameworks_own_runs_in_the_study_pass_within_that_frameworks_tolerance(tmp_path, torch_shift,
                                                                                  forgiven):  # fmt: skip
    """PyTorch's own within 1e-5 passes, and 5e-5 does not though JAX's tolerance would take it; a
    difference in an exact config's run is never forgiven."""
    clone = Clone(ROOT, tmp_path)
    table = clone.path / "study/reports/seeds.csv"
    table.write_text(shifted(shifted(table.read_text(), "nb2-torch", torch_shift), "nb2-jax", 1e-4))
    runs = [Finding(stage, f"runs/{stage}", "differs", "nondeterministic")
            for stage in ("seeds@nb2-torch", "batch@nb2-jax-1", "seeds@nb1-bce")]  # fmt: skip
    kept = forgive_own_arithmetic(clone, runs)
    if forgiven:
        assert kept == runs[2:]
    else:
        assert kept[:3] == [runs[2], *runs[:2]] and len(kept) == 4
        assert kept[3].problem.startswith("beyond tolerance 1e-05")  # PyTorch's, not JAX's 2e-4


def test_identical_locks_have_no_findings():
    assert compare_locks(LOCK, LOCK) == []


def test_changed_code_is_a_stale_lock():
    findings = compare_locks(LOCK, changed(("generate", "deps", "stages/generate.py", "a2")))
    assert [(f.stage, f.path, f.kind) for f in findings] == [("generate", "stages/generate.py", "stale")]
    assert "run `dvc repro` and commit dvc.lock" in str(findings[0])


def test_changed_output_with_same_inputs_is_nondeterminism_reported_at_its_root():
    reproduced = changed(
        ("generate", "outs", "data/raw.csv", "b2"),
        ("split", "deps", "data/raw.csv", "b2"),
        ("split", "outs", "data/val.csv", "d2"),
    )
    findings = compare_locks(LOCK, reproduced)
    assert [(f.stage, f.path, f.kind) for f in findings] == [("generate", "data/raw.csv", "nondeterministic")]


def test_metrics_compare_within_tolerance():
    expected = flatten({"val": {"accuracy": 0.9, "f1": 0.8}, "n_params": 17})
    assert expected == {"val.accuracy": 0.9, "val.f1": 0.8, "n_params": 17.0}
    assert metric_differences(expected, {**expected, "val.f1": 0.8000001}, 1e-6) == []
    assert metric_differences(expected, {**expected, "val.f1": 0.81}, 1e-6) == ["val.f1: 0.8 → 0.81"]


def test_committed_lock_parses():
    lock = parse_lock(Path("dvc.lock").read_text())
    assert set(lock) == {"params", "generate", "split", "train", "evaluate"}
    assert lock["train"]["params"]["train.loss"] == "bce"
    assert "models/model.safetensors" in lock["train"]["outs"]
    assert isinstance(Finding("s", "p", "x", "stale"), Finding)


# End to end: a small committed baseline, then one failure mode per test.


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> Path:
    """The project with few epochs, reproduced and committed, so its dvc.lock is consistent."""
    repo = copy_repo(tmp_path_factory.mktemp("baseline"))
    for name, section in (("params.yaml", None), ("experiments.yaml", "defaults")):
        document = yaml.safe_load((repo / name).read_text())
        (document[section] if section else document)["train"]["epochs"] = 5
        (repo / name).write_text(yaml.safe_dump(document, sort_keys=False))
    sh(repo, "dvc", "repro", "--quiet")
    commit_all(repo, "baseline with few epochs")
    return repo


@pytest.fixture
def work(baseline, tmp_path) -> Path:
    """A working copy of the baseline, with its DVC cache, to break in one way."""
    copy = tmp_path / "work"
    shutil.copytree(baseline, copy, symlinks=True)
    return copy


def check(repo: Path, *args: str):
    return sh(repo, "journey", "check", *args, check=False)


def test_tolerance_forgives_model_outputs_within_tolerance_but_never_data():
    model = Finding("train", "models/model.safetensors", "differs", "nondeterministic")
    data = Finding("generate", "data/raw.csv", "differs", "nondeterministic")
    stale = Finding("train", "stages/train.py", "changed", "stale")
    metrics = {"m:val.f1": 0.8}
    assert tolerate([model, data, stale], metrics, {"m:val.f1": 0.8000004}, 1e-6) == [data, stale]
    beyond = tolerate([model], metrics, {"m:val.f1": 0.81}, 1e-6)
    assert [f.path for f in beyond] == ["models/model.safetensors", "m"]


def test_study_tables_compare_numbers_within_tolerance_and_text_exactly():
    committed = "config,accuracy,fit\nnb1-bce,0.945000,good fit\n"
    assert table_differences(committed, "config,accuracy,fit\nnb1-bce,0.945004,good fit\n", 1e-4) == []
    assert table_differences(committed, "config,accuracy,fit\nnb1-bce,0.946000,good fit\n", 1e-4) == [
        "row 1, column accuracy: 0.945000 → 0.946000"
    ]
    assert table_differences(committed, "config,accuracy,fit\nnb1-bce,0.945000,overfitting\n", 1.0) == [
        "row 1, column fit: good fit → overfitting"
    ]
    assert table_differences(committed, "config,accuracy,fit\n", 1.0) == ["2 rows → 1 rows"]


def test_experiments_that_differ_between_runs_are_findings(monkeypatch):
    runs = iter([{"nb1": {"m:val.f1": 0.8}}, {"nb1": {"m:val.f1": 0.81}}])
    monkeypatch.setattr("journey.check.experiment_metrics", lambda clone, names: next(runs))
    findings = check_experiments(SimpleNamespace(path=Path("/nonexistent")), None, [])
    assert [str(f).splitlines()[0] for f in findings] == [
        "stage nb1, metrics: differs between two runs: m:val.f1: 0.8 → 0.81"
    ]


@pytest.mark.e2e
def test_passes_on_a_clean_clone(work):
    # The full check, experiments included, runs on the real repository in .ci/run.
    result = check(work, "--skip-study", "--skip-experiments")
    assert result.returncode == 0, result.stderr
    assert "[2/2] `train` onwards again, in a new process with other threads" in result.stdout
    assert "reproducibility check passed (strict)" in result.stdout


@pytest.mark.e2e
def test_catches_code_committed_without_its_lock(work):
    train = work / "stages" / "train.py"
    train.write_text(train.read_text() + "\n# a change committed without `dvc repro`\n")
    commit_all(work, "change train without dvc repro")
    result = check(work, "--skip-study", "--skip-experiments")
    assert result.returncode == 2
    assert "stage train, stages/train.py: changed since dvc.lock was written" in result.stderr
    assert "fix: run `dvc repro` and commit dvc.lock" in result.stderr


@pytest.mark.e2e
def test_catches_a_stage_made_nondeterministic(work):
    generate = work / "stages" / "generate.py"
    source = generate.read_text().replace(
        "x = rng.standard_normal((n_samples, n_features))",
        "x = np.random.default_rng().standard_normal((n_samples, n_features))",  # unseeded on purpose
    )
    generate.write_text(source)
    sh(work, "dvc", "repro", "--quiet")
    commit_all(work, "generate without a seed, lock updated")
    result = check(work, "--skip-study", "--skip-experiments")
    assert result.returncode == 2
    assert "stage generate, data/raw.csv: differs from dvc.lock" in result.stderr
    assert "the stage is nondeterministic" in result.stderr
    assert "install the pinned versions" in result.stderr and "its seeded draws" in result.stderr


@pytest.mark.e2e
def test_catches_a_tampered_output(work):
    raw = work / "data" / "raw.csv"
    lines = raw.read_text().splitlines()
    lines[1] = "9" + lines[1][1:]
    raw.unlink()  # the workspace file may be a link into the cache
    raw.write_text("\n".join(lines) + "\n")
    sh(work, "dvc", "commit", "--force", "--quiet", "generate")
    commit_all(work, "hand-edited data committed")
    result = check(work, "--skip-study", "--skip-experiments")
    assert result.returncode == 2
    assert "stage generate, data/raw.csv: differs from dvc.lock" in result.stderr
    assert "edited by hand" in result.stderr


def commit_model_from_other_versions(work: Path) -> None:
    """Commit a model with tiny weight changes, as other versions of the pinned libraries might give."""
    from safetensors.torch import load_file, save_file

    model = work / "models" / "model.safetensors"
    tensors = {name: tensor + 1e-7 for name, tensor in load_file(model).items()}
    model.unlink()
    save_file(tensors, model)
    sh(work, "dvc", "commit", "--force", "--quiet", "train")
    commit_all(work, "model from other library versions")


@pytest.mark.e2e
def test_a_model_that_differs_fails_strict_naming_the_pins_and_passes_within_a_tolerance(work):
    commit_model_from_other_versions(work)
    strict = check(work, "--skip-study", "--skip-experiments")
    assert strict.returncode == 2
    assert "stage train, models/model.safetensors: differs from dvc.lock" in strict.stderr
    assert "install the pinned versions (`pip install -e .`)" in strict.stderr
    tolerant = check(work, "--skip-study", "--skip-experiments", "--tolerance", "1e-4")
    assert tolerant.returncode == 0, tolerant.stderr
    assert "tolerated: stage train, models/model.safetensors differs" in tolerant.stdout
    assert "reproducibility check passed (tolerance 0.0001)" in tolerant.stdout
