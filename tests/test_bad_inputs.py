"""Bad params, files and arguments: a clear one-line error, exit 2, and every earlier output intact."""

import importlib
import io
import pickle
import re
import shutil
import sys
from collections.abc import Callable
from contextlib import redirect_stderr
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from benchmarks.one_process import stage_calls
from stages.lib.cli import run

# dvc.yaml's own command lines, as `python -m` would get them: module, then arguments.
GENERATE, SPLIT, TRAIN, EVALUATE = (
    [module, *argv] for name, (module, argv) in stage_calls(ROOT / "dvc.yaml").items() if name != "params"
)
OUTPUT_FOLDERS = ("data", "models", "dvclive", "eval")
SMALL = {"data": {"n_samples": 200}, "train": {"epochs": 3}}


def invoke(workspace: Path, command: list[str], monkeypatch) -> tuple[int, str]:
    """Run `python -m <command>` in-process in `workspace`; return its exit code and stderr."""
    module = importlib.import_module(command[0])
    monkeypatch.chdir(workspace)
    monkeypatch.setattr(sys, "argv", command)
    stderr = io.StringIO()
    with redirect_stderr(stderr):
        try:
            run(module.main)
            code = 0
        except SystemExit as exit_:
            code = exit_.code
    return code, stderr.getvalue()


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A workspace with every stage's output, from small params."""
    workspace = tmp_path_factory.mktemp("built")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for section, values in SMALL.items():
        params[section].update(values)
    (workspace / "params.yaml").write_text(yaml.safe_dump(params))
    shutil.copy(ROOT / "experiments.yaml", workspace)
    with pytest.MonkeyPatch.context() as patch:
        for command in (GENERATE, SPLIT, TRAIN, EVALUATE):
            code, stderr = invoke(workspace, command, patch)
            assert code == 0, stderr
    return workspace


@pytest.fixture
def workspace(built, tmp_path) -> Path:
    copy = tmp_path / "ws"
    shutil.copytree(built, copy)
    return copy


def snapshot(workspace: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(workspace)): path.read_bytes()
        for folder in OUTPUT_FOLDERS
        for path in sorted((workspace / folder).rglob("*"))
        if path.is_file()
    }


# Mutations: each returns a function that breaks one input of a workspace.
def param(dotted: str, value) -> Callable[[Path], None]:
    def mutate(workspace: Path) -> None:
        section, key = dotted.split(".")
        params = yaml.safe_load((workspace / "params.yaml").read_text())
        params[section][key] = value
        (workspace / "params.yaml").write_text(yaml.safe_dump(params))

    return mutate


def rename(dotted: str, new_key: str) -> Callable[[Path], None]:
    def mutate(workspace: Path) -> None:
        parts = dotted.split(".")
        params = yaml.safe_load((workspace / "params.yaml").read_text())
        holder = params[parts[0]] if len(parts) == 2 else params
        holder[new_key] = holder.pop(parts[-1])
        (workspace / "params.yaml").write_text(yaml.safe_dump(params))

    return mutate


def drop(dotted: str) -> Callable[[Path], None]:
    def mutate(workspace: Path) -> None:
        parts = dotted.split(".")
        params = yaml.safe_load((workspace / "params.yaml").read_text())
        holder = params[parts[0]] if len(parts) == 2 else params
        del holder[parts[-1]]
        (workspace / "params.yaml").write_text(yaml.safe_dump(params))

    return mutate


def write(name: str, content: str | bytes) -> Callable[[Path], None]:
    def mutate(workspace: Path) -> None:
        data = content.encode() if isinstance(content, str) else content
        (workspace / name).write_bytes(data)

    return mutate


def edit(name: str, change: Callable[[str], str]) -> Callable[[Path], None]:
    def mutate(workspace: Path) -> None:
        (workspace / name).write_text(change((workspace / name).read_text()))

    return mutate


def delete(name: str) -> Callable[[Path], None]:
    return lambda workspace: (workspace / name).unlink()


def truncate(name: str) -> Callable[[Path], None]:
    def mutate(workspace: Path) -> None:
        data = (workspace / name).read_bytes()
        (workspace / name).write_bytes(data[: len(data) // 2])

    return mutate


def nothing(workspace: Path) -> None:
    """Leave every input as it is: the command line itself is what is wrong."""


def second_row(change: Callable[[list[str]], list[str]]) -> Callable[[str], str]:
    def apply(text: str) -> str:
        lines = text.splitlines()
        lines[1] = ",".join(change(lines[1].split(",")))
        return "\n".join(lines) + "\n"

    return apply


def with_extra_feature(text: str) -> str:
    rows = text.splitlines()[1:]
    return "\n".join(["x0,x1,x2,y,y_clean"] + [f"0.5,{row}" for row in rows]) + "\n"


class ExecutesOnLoad:
    """A pickle that would create a file named `pwned` if anything unpickled it."""

    def __reduce__(self):
        return (open, ("pwned", "w"))


CASES = [
    # params: ranges, types, choices, required and unknown keys, the file itself
    ("samples below minimum", GENERATE, param("data.n_samples", 5), r"params\.yaml: data\.n_samples = 5: must be in \[20, inf\)"),
    ("one feature", GENERATE, param("data.n_features", 1), r"data\.n_features = 1: must be in \[2, inf\)"),
    ("noise of one half", GENERATE, param("data.noise", 0.5), r"data\.noise = 0\.5: must be in \[0\.0, 0\.5\)"),
    ("negative noise", GENERATE, param("data.noise", -0.01), r"data\.noise = -0\.01: must be in"),
    ("noise in words", GENERATE, param("data.noise", "five percent"), r"data\.noise = 'five percent': not a number"),
    ("negative seed", GENERATE, param("data.seed", -1), r"data\.seed = -1: must be in \[0, inf\)"),
    ("fractional seed", GENERATE, param("data.seed", 1.5), r"data\.seed = 1\.5: expected a whole number"),
    ("huge integer", GENERATE, param("data.n_samples", 10**400), r"data\.n_samples = 1000.*\.\.\.: expected a finite int"),
    ("missing key", GENERATE, drop("data.noise"), r"data\.noise: required key is missing"),
    ("misspelt key", GENERATE, rename("data.n_samples", "n_sample"), r"data\.n_sample: unknown key; did you mean 'n_samples'"),
    ("misspelt section", GENERATE, rename("train", "trian"), r"params\.yaml: trian: unknown section; did you mean 'train'"),
    ("params not YAML", GENERATE, write("params.yaml", "data: [oops"), r"params\.yaml: not valid YAML"),
    ("params a list", GENERATE, write("params.yaml", "- 1\n- 2\n"), r"params\.yaml: expected a mapping of sections"),
    ("zero validation", SPLIT, param("split.val_fraction", 0), r"split\.val_fraction = 0: must be in \(0\.0, 1\.0\)"),
    ("all validation", SPLIT, param("split.val_fraction", 1), r"split\.val_fraction = 1: must be in \(0\.0, 1\.0\)"),
    ("exponent out of range", SPLIT, param("split.val_fraction", "2e0"), r"split\.val_fraction = '2e0': must be in"),
    ("zero hidden", TRAIN, param("model.hidden", 0), r"model\.hidden = 0: must be in \[1, inf\)"),
    ("hidden in words", TRAIN, param("model.hidden", "four"), r"model\.hidden = 'four': not a number"),
    ("unknown loss", TRAIN, param("train.loss", "hinge"), r"train\.loss = 'hinge': must be one of bce, mse"),
    ("zero lr", TRAIN, param("train.lr", 0), r"train\.lr = 0: must be in \(0\.0, inf\)"),
    ("negative lr as text", TRAIN, param("train.lr", "-1e-3"), r"train\.lr = '-1e-3': must be in \(0\.0, inf\)"),
    ("infinite lr", TRAIN, param("train.lr", float("inf")), r"train\.lr = inf: expected a finite float"),
    ("zero epochs", TRAIN, param("train.epochs", 0), r"train\.epochs = 0: must be in \[1, inf\)"),
    ("epochs a boolean", TRAIN, param("train.epochs", True), r"train\.epochs = True: expected a finite int"),
    ("unknown device", TRAIN, param("train.device", "gpu"), r"train\.device = 'gpu': must be one of cpu, cuda, auto"),
    ("unknown framework", TRAIN, param("train.framework", "tensorflow"), r"train\.framework = 'tensorflow': must be one of torch, jax"),
    ("unknown arithmetic", TRAIN, param("train.arithmetic", "fast"), r"train\.arithmetic = 'fast': must be one of exact, native"),
    ("zero batch", TRAIN, param("train.batch_size", 0), r"train\.batch_size = 0: must be in \[1, inf\)"),
    ("negative L2", TRAIN, param("train.weight_decay", -0.1), r"train\.weight_decay = -0\.1: must be in \[0\.0, inf\)"),
    ("misspelt L2", TRAIN, rename("train.weight_decay", "weigth_decay"), r"did you mean 'weight_decay'"),
    ("missing section", TRAIN, drop("train"), r"params\.yaml: train: missing section"),
    ("synthetic param on real data", GENERATE, param("data.source", "breast_cancer"), r"data\.seed = 0: only for synthetic data; breast_cancer brings its own rows"),
    ("unknown data source", GENERATE, param("data.source", "mnist"), r"data\.source = 'mnist': must be one of synthetic, breast_cancer"),
    ("standardize in words", TRAIN, param("data.standardize", "yes"), r"data\.standardize = 'yes': expected true or false"),
    ("no hidden layers", TRAIN, param("model.hidden", []), r"model\.hidden = \[\]: give at least one hidden layer width"),
    ("certain dropout", TRAIN, param("model.dropout", 1), r"model\.dropout = 1: must be in \[0\.0, 1\.0\)"),
    ("unknown activation", TRAIN, param("model.activation", "sigmoid"), r"model\.activation = 'sigmoid': must be one of relu, tanh, leaky_relu"),
    ("model with other layers", EVALUATE, param("model.hidden", [4, 4]), r"do not fit a 2→4→4→1 MLP"),
    ("loss in capitals", EVALUATE, param("train.loss", "MSE"), r"train\.loss = 'MSE': must be one of bce, mse"),
    # data files
    ("raw data missing", SPLIT, delete("data/raw.csv"), r"data/raw\.csv: file not found; run `dvc repro` \(or `dvc pull`\)"),
    ("raw data truncated", SPLIT, truncate("data/raw.csv"), r"data/raw\.csv: (corrupt or truncated|expected rows).*dvc repro"),
    ("raw data header only", SPLIT, write("data/raw.csv", "x0,x1,y,y_clean\n"), r"data/raw\.csv: expected rows of 4 values"),
    ("binary garbage", TRAIN, write("data/val.csv", b"\x00\xff\xfe" * 50), r"data/val\.csv: (corrupt|columns)"),
    ("wrong columns", TRAIN, edit("data/train.csv", lambda t: t.replace("y_clean", "label", 1)), r"data/train\.csv: columns .* are not x0\.\.xN, y, y_clean"),
    ("NaN feature", TRAIN, edit("data/train.csv", second_row(lambda r: ["nan", *r[1:]])), r"data/train\.csv: NaN or inf"),
    ("infinite feature", TRAIN, edit("data/val.csv", second_row(lambda r: ["inf", *r[1:]])), r"data/val\.csv: NaN or inf"),
    ("label of two", TRAIN, edit("data/train.csv", second_row(lambda r: [*r[:-2], "2", r[-1]])), r"labels y and y_clean must be 0 or 1"),
    ("feature counts differ", TRAIN, edit("data/val.csv", with_extra_feature), r"data/train\.csv has 2 features but data/val\.csv has 3"),
    # model and history files
    ("model missing", EVALUATE, delete("models/model.safetensors"), r"models/model\.safetensors: model file not found; run `dvc repro`"),
    ("model corrupt", EVALUATE, write("models/model.safetensors", b"\x20\x00\x00\x00\x00\x00\x00\x00{not json"), r"corrupt model file"),
    ("model truncated", EVALUATE, truncate("models/model.safetensors"), r"corrupt model file"),
    ("model is a pickle", EVALUATE, write("models/model.safetensors", pickle.dumps(ExecutesOnLoad())), r"corrupt model file"),
    ("model of another size", EVALUATE, param("model.hidden", 5), r"do not fit a 2→5→1 MLP \(model and data params in params\.yaml\)"),
    ("curve missing", EVALUATE, delete("dvclive/plots/metrics/val/loss.tsv"), r"dvclive/plots/metrics/val/loss\.tsv: missing or corrupt.*dvc repro train"),
    ("curve garbage", EVALUATE, write("dvclive/plots/metrics/train/loss.tsv", "step\tloss\n1\tabc\n"), r"train/loss\.tsv: missing or corrupt"),
    ("curve skips a step", EVALUATE, write("dvclive/plots/metrics/train/loss.tsv", "step\tloss\n1\t0.5\n3\t0.4\n"), r"train/loss\.tsv: expected columns step, loss with steps 1, 2, 3"),
    ("curves of other lengths", EVALUATE, edit("dvclive/plots/metrics/val/loss.tsv", lambda t: "".join(t.splitlines(True)[:-1])), r"dvclive: the train and val loss curves have 3 and 2 epochs"),
    # command-line arguments
    ("no output path", ["stages.generate"], nothing, r"the following arguments are required: --out"),
    ("unknown option", [*SPLIT, "--bogus"], nothing, r"unrecognized arguments: --bogus"),
    ("params file missing", [*GENERATE, "--params", "nope.yaml"], nothing, r"nope\.yaml: file not found"),
    ("output under a file", ["stages.generate", "--out", "params.yaml/raw.csv"], nothing, r"params\.yaml/raw\.csv: cannot write"),
    ("unknown experiment", ["journey.cli", "experiments", "nb9"], nothing, r"unknown experiment nb9; experiments\.yaml names nb1-bce, nb2-mse, nb3-mse-l2 \(the notebooks, the default\) and, with --all, also nb4"),
    ("zero jobs", ["journey.cli", "experiments", "--jobs", "0"], nothing, r"--jobs 0: must be 1 or more"),
    ("experiments file missing", ["journey.cli", "experiments", "--file", "nope.yaml"], nothing, r"nope\.yaml: file not found"),
]  # fmt: skip


@pytest.mark.parametrize(("command", "mutate", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_reported_and_outputs_are_kept(workspace, monkeypatch, command, mutate, message):
    mutate(workspace)
    before = snapshot(workspace)
    code, stderr = invoke(workspace, command, monkeypatch)
    assert code == 2
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()[-1]) < 300
    assert re.search(message, stderr), stderr
    assert snapshot(workspace) == before
    assert not (workspace / "pwned").exists()


def test_there_are_at_least_thirty_distinct_cases():
    assert len({case[0] for case in CASES}) == len(CASES) >= 30
