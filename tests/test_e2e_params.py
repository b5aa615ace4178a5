"""End to end: a bad param stops the real `dvc repro` and `dvc exp run -S` before any output is touched."""

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from conftest import copy_repo, sh

pytestmark = pytest.mark.e2e
OUTPUT_FOLDERS = ("data", "models", "dvclive", "eval")


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A committed copy with every output in place, from a full `dvc repro` of the committed params."""
    repo = copy_repo(tmp_path_factory.mktemp("params"))
    sh(repo, "dvc", "repro", "--quiet")
    assert sh(repo, "git", "status", "--porcelain").stdout == "", "dvc.lock is stale: run `dvc repro`"
    return repo


def outputs(repo: Path) -> dict[str, str]:
    """md5 of every file under data/, models/, dvclive/ and eval/."""
    files = sorted(p for folder in OUTPUT_FOLDERS for p in (repo / folder).rglob("*") if p.is_file())
    return {str(p.relative_to(repo)): hashlib.md5(p.read_bytes()).hexdigest() for p in files}


def edited(change: Callable[[dict], None]) -> Callable[[Path], None]:
    """Write params.yaml with `change` applied to its contents."""

    def write(repo: Path) -> None:
        document = yaml.safe_load((repo / "params.yaml").read_text())
        change(document)
        (repo / "params.yaml").write_text(yaml.safe_dump(document, sort_keys=False))

    return write


def setting(section: str, key: str, value) -> Callable[[Path], None]:
    return edited(lambda document: document[section].__setitem__(key, value))


def text(content: str) -> Callable[[Path], None]:
    return lambda repo: (repo / "params.yaml").write_text(content)


BAD_PARAMS = [  # (what, how params.yaml is broken, the error line expected)
    ("typo key beside the real one", setting("train", "weigth_decay", 0.01),
     "params.yaml: train.weigth_decay: unknown key; did you mean 'weight_decay'?"),
    ("typo key in data", edited(lambda d: d["data"].__setitem__("n_sample", d["data"].pop("n_samples"))),
     "params.yaml: data.n_sample: unknown key; did you mean 'n_samples'?"),
    ("typo section", edited(lambda d: d.__setitem__("trian", d.pop("train"))),
     "params.yaml: trian: unknown section; did you mean 'train'?"),
    ("a choice outside the list", setting("train", "loss", "hinge"),
     "params.yaml: train.loss = 'hinge': must be one of bce, mse"),
    ("noise out of range", setting("data", "noise", 0.7),
     "params.yaml: data.noise = 0.7: must be in [0.0, 0.5)"),
    ("negative learning rate", setting("train", "lr", -0.1),
     "params.yaml: train.lr = -0.1: must be in (0.0, inf)"),
    ("a word for a number", setting("data", "n_samples", "many"),
     "params.yaml: data.n_samples = 'many': not a number"),
    ("a fraction for a count", setting("train", "epochs", 2.5),
     "params.yaml: train.epochs = 2.5: expected a whole number"),
    ("a string for a boolean", setting("data", "standardize", "yes"),
     "params.yaml: data.standardize = 'yes': expected true or false"),
    ("no hidden layer", setting("model", "hidden", []), "params.yaml: model.hidden = []: give at least one"),
    ("missing key", edited(lambda d: d["split"].pop("seed")),
     "params.yaml: split.seed: required key is missing"),
    ("missing section", edited(lambda d: d.pop("model")),
     "params.yaml: model: missing section or not a mapping"),
    ("a synthetic param for real data", setting("data", "source", "breast_cancer"),
     "params.yaml: data.seed = 0: only for synthetic data"),
]  # fmt: skip


def restore(repo: Path) -> None:
    """The committed params.yaml and dvc.lock, written out: after a failed `dvc exp run -S` in the
    workspace, params.yaml keeps the -S values while git's index says it is unchanged, so
    `git checkout` would skip it."""
    for name in ("params.yaml", "dvc.lock"):
        (repo / name).write_text(sh(repo, "git", "show", f"HEAD:{name}").stdout)


def repro_with(repo: Path, breaks: Callable[[Path], None]):
    """`dvc repro` with params.yaml changed by `breaks`, then the committed files back."""
    breaks(repo)
    try:
        return sh(repo, "dvc", "repro", check=False)
    finally:
        restore(repo)


def assert_stopped_cleanly(result, before: dict[str, str], repo: Path, expected: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert f"error: {expected}" in output
    assert "Traceback" not in output
    assert not re.search(r"Running stage '(generate|split|train|evaluate)'", output)
    assert outputs(repo) == before


@pytest.mark.parametrize(("what", "breaks", "expected"), BAD_PARAMS, ids=[case[0] for case in BAD_PARAMS])
def test_dvc_repro_stops_a_bad_param_before_any_output_changes(repo, what, breaks, expected):
    before = outputs(repo)
    result = repro_with(repo, breaks)
    assert_stopped_cleanly(result, before, repo, expected)
    assert result.stderr.count("error: ") == 1, "one error line from the stage"


@pytest.mark.parametrize(
    "broken",
    [text("data:\n  seed: [1\n"), text("data: {seed: 0\n"), text("- just\n- a list\n")],
    ids=["unclosed list", "unclosed mapping", "not a mapping"],
)
def test_dvc_repro_stops_a_params_file_that_is_not_valid_yaml(repo, broken):
    before = outputs(repo)
    result = repro_with(repo, broken)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "params.yaml" in output and "Traceback" not in output
    assert "Running stage 'generate'" not in output
    assert outputs(repo) == before


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("train.loss=hinge", "params.yaml: train.loss = 'hinge': must be one of bce, mse"),
        ("+train.weigth_decay=0.01", "params.yaml: train.weigth_decay: unknown key; did you mean"),
        ("model.dropout=1.0", "params.yaml: model.dropout = 1.0: must be in [0.0, 1.0)"),
    ],
)
def test_dvc_exp_run_set_param_stops_before_any_output_changes(repo, override, expected):
    before = outputs(repo)
    try:
        result = sh(repo, "dvc", "exp", "run", "-S", override, check=False)
    finally:
        restore(repo)  # DVC leaves its -S edit in the workspace
    assert_stopped_cleanly(result, before, repo, expected)


def test_a_queued_experiment_with_a_bad_param_fails_with_the_error_in_its_log(repo):
    before = outputs(repo)
    sh(repo, "dvc", "exp", "run", "--queue", "-S", "data.noise=0.7", "--name", "too-noisy")
    sh(repo, "dvc", "exp", "run", "--run-all", check=False)  # DVC's queue exits 0 either way
    assert re.search(r"too-noisy\s.*Failed", sh(repo, "dvc", "queue", "status").stdout)
    log = sh(repo, "dvc", "queue", "logs", "too-noisy", check=False)
    assert "error: params.yaml: data.noise = 0.7: must be in [0.0, 0.5)" in log.stdout + log.stderr
    assert outputs(repo) == before


def test_a_valid_change_reruns_only_the_stages_that_read_it(repo):
    """The params stage reruns on any change, but its output keeps its bytes, so generate and split do not."""
    try:
        setting("train", "loss", "mse")(repo)
        ran = re.findall(r"Running stage '(\w+)'", sh(repo, "dvc", "repro").stdout)
    finally:
        restore(repo)
    assert ran == ["params", "train", "evaluate"]
    back = sh(repo, "dvc", "repro").stdout  # the committed params again: all from the run-cache
    assert "Running stage" not in back
    assert sh(repo, "git", "status", "--porcelain").stdout == ""


def test_a_stage_failing_under_dvc_says_how_to_get_its_outputs_back(repo):
    """Not a bad param: a valid one that makes training diverge, after DVC removed train's outputs."""
    before = outputs(repo)
    result = repro_with(repo, setting("train", "lr", 1e30))  # restores dvc.lock: the params stage locked
    assert result.returncode != 0
    assert "error: training diverged at epoch 1" in result.stderr
    assert (
        "note: DVC removed the outputs of stage 'train' before running it; `dvc checkout train` brings back "
        "the last ones its lock records, and `git checkout HEAD -- dvclive/metrics.json` those kept in git"
    ) in result.stderr
    assert not (repo / "models" / "model.safetensors").exists()
    sh(repo, "dvc", "checkout", "train")
    sh(repo, "git", "checkout", "HEAD", "--", "dvclive/metrics.json")
    assert outputs(repo) == before
    assert sh(repo, "dvc", "status", "-q", "dvc.yaml", check=False).returncode == 0
