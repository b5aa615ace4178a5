"""End to end: a team sharing one git remote and one DVC remote (both folders), with real dvc and git.

Every clone is made beside the others and runs `journey remote`, whose default remote is a folder
beside the clone: the same folder for all of them.
"""

import json
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import commit_all, copy_with_experiments, sh

from journey.dvc import named_experiments
from journey.experiments import set_param_args
from stages.lib.configs import load_experiments

pytestmark = pytest.mark.e2e
TRAINED = "Running stage 'seeds@"


@pytest.fixture(scope="module")
def origin(tmp_path_factory) -> tuple[Path, Path]:
    """A bare git repository holding the project with 6 epochs and a small study (3 + 2 + 2 seeds),
    whose lock and report were made on one machine; and a DVC remote holding that machine's outputs."""

    def shorten(spec: dict) -> None:
        spec["defaults"]["train"]["epochs"] = 6

    source = copy_with_experiments(tmp_path_factory.mktemp("source") / "repo", shorten, "short epochs")
    params = yaml.safe_load((source / "study/params.yaml").read_text())
    params["seeds"].update(n=3, n_per_source=2, batches=[])
    (source / "study/params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    storage = source.parent / "maintainer-storage"
    sh(source, "journey", "remote", str(storage))
    sh(source, "dvc", "repro")
    sh(source, "journey", "study")
    sh(source, "dvc", "push")
    commit_all(source, "a small study, run on one machine")
    bare = source.parent / "origin.git"
    sh(source.parent, "git", "clone", "-q", "--bare", str(source), str(bare))
    return bare, storage


def clone(origin: Path, folder: Path, name: str, storage: Path | None = None) -> Path:
    """A clone of `origin` in `folder`, its default remote `storage` or the folder beside it."""
    sh(folder, "git", "clone", "-q", str(origin), name)
    sh(folder / name, "journey", "remote", *([str(storage)] if storage else []))
    return folder / name


def test_a_teammate_sees_a_pushed_experiment_and_gets_its_model_without_training(origin, tmp_path):
    bare, storage = origin
    alice, bob = clone(bare, tmp_path, "alice", storage), clone(bare, tmp_path, "bob", storage)
    sh(alice, "dvc", "pull")  # a teammate starts from the outputs the team's remote holds
    params = load_experiments(alice / "experiments.yaml")["nb2-mse"]
    sh(alice, "dvc", "exp", "run", "--name", "nb2-mse", *set_param_args(params))
    sh(alice, "dvc", "exp", "push", "origin", "nb2-mse")

    sh(bob, "dvc", "exp", "pull", "origin", "nb2-mse")
    assert "nb2-mse" in named_experiments(json.loads(sh(bob, "dvc", "exp", "show", "--json").stdout))
    sh(bob, "dvc", "exp", "apply", "nb2-mse")
    sh(bob, "dvc", "pull")
    for path in ("models/model.safetensors", "eval/metrics.json", "data/train.csv"):
        assert (bob / path).read_bytes() == (alice / path).read_bytes(), path
    assert sh(bob, "dvc", "status", "--quiet", check=False).returncode == 0  # nothing to run, anywhere


def test_shards_train_the_study_and_the_aggregator_reports_it_byte_for_byte_without_training(
    origin, tmp_path
):
    bare, _ = origin
    first, second = clone(bare, tmp_path, "shard1"), clone(bare, tmp_path, "shard2")
    pushed = "".join(sh(repo, "journey", "study", "--shard", shard).stdout
                     for repo, shard in ((first, "1/2"), (second, "2/2")))  # fmt: skip
    assert "shard 1/2 pushed: nb1-bce, nb2-mse, nb2-bigger-model, nb3-mse-l2, nb2-jax" in pushed
    assert "shard 2/2 pushed: nb1-mse, nb2-more-data, nb3-mse, nb2-torch" in pushed

    gather = clone(bare, tmp_path, "aggregate")
    for name in ("README.md", "seeds.csv", "loss_curves.png"):
        (gather / "study/reports" / name).unlink()  # so that the report must be written again, here
    result = sh(gather, "journey", "study", "--aggregate")
    assert TRAINED not in result.stdout and "Running stage 'report'" in result.stdout
    assert sh(gather, "git", "status", "--porcelain").stdout == ""  # the one-machine bytes, everywhere


def test_a_shard_that_never_pushed_is_named_and_nothing_is_reported(origin, tmp_path):
    bare, _ = origin
    sh(clone(bare, tmp_path, "shard1"), "journey", "study", "--shard", "1/2")
    gather = clone(bare, tmp_path, "aggregate")
    (gather / "study/reports/README.md").unlink()
    result = sh(gather, "journey", "study", "--aggregate", check=False)
    assert result.returncode == 2
    assert "error: no shard pushed the runs of nb1-mse, nb2-more-data, nb2-torch, nb3-mse;" in result.stderr
    assert not (gather / "study/reports/README.md").exists()  # no report from fewer configs


def test_dvc_artifacts_get_downloads_a_registered_model_from_the_remote(tmp_path):
    """The model is dvc.yaml's `notebook-mlp` artifact: once a version is registered (a GTO tag, which
    DVC's model registry reads), `dvc artifacts get` downloads it by name from the DVC remote, whose
    config (not committed: `journey remote`) it is given with --config."""
    repo = copy_with_experiments(tmp_path / "repo", lambda spec: None, "as is")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"]["epochs"] = 5
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(repo, "journey", "remote", str(tmp_path / "storage"))
    sh(repo, "dvc", "repro")
    sh(repo, "dvc", "push")
    commit_all(repo, "five epochs")
    sh(repo, "git", "tag", "-a", "notebook-mlp@v0.1.0", "-m", "notebook-mlp v0.1.0")
    model = (repo / "models/model.safetensors").read_bytes()
    shutil.rmtree(repo / ".dvc/cache")  # so that only the remote has it
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    config = str(repo / ".dvc/config.local")
    sh(
        elsewhere,
        "dvc",
        "artifacts",
        "get",
        str(repo),
        "notebook-mlp",
        "--config",
        config,
        "-o",
        "m.safetensors",
    )
    assert (elsewhere / "m.safetensors").read_bytes() == model
    unknown = sh(
        elsewhere, "dvc", "artifacts", "get", str(repo), "no-such-model", "--config", config, check=False
    )
    assert unknown.returncode != 0 and "no-such-model" in unknown.stderr
