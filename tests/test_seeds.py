"""The study's seeds stage: seeds derived from one master seed, and a study run equal to a lone run."""

import importlib.util
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from stages.evaluate import evaluate
from stages.lib.cli import UserError
from stages.lib.mlp import count_params
from stages.lib.model import predict
from stages.params import parse_params, parse_section
from stages.train import train
from study.lib.shards import SeedsParams
from study.seeds import (
    BATCHED,
    BATCHED_WEIGHTS,
    LONE_BYTES,
    SEED_COLUMNS,
    VMAP_GROUP,
    Seeds,
    batch_plan,
    derive,
    format_rows,
    load_config,
    lone_rerun,
    parts,
    plan,
    seeds,
    table_rows,
)

RAW = {
    "data": {"source": "synthetic", "seed": 0, "n_samples": 300, "n_features": 3, "noise": 0.05,
             "standardize": False},
    "split": {"seed": 0, "val_fraction": 0.2},
    "model": {"hidden": [5], "activation": "tanh", "dropout": 0.2},
    "train": {"loss": "mse", "lr": 0.01, "weight_decay": 0.01, "epochs": 8, "batch_size": 10, "seed": 0,
              "device": "cpu", "framework": "torch", "arithmetic": "exact"},
}  # fmt: skip
SMALL = parse_params(RAW, "SMALL")
NEEDS_JAX = pytest.mark.skipif(
    importlib.util.find_spec("jax") is None, reason="the jax extra is not installed"
)


def test_seeds_derive_from_the_master_seed_alone():
    assert derive(0, 3) == derive(0, 3)
    assert len({derive(0, i) for i in range(50)} | {derive(1, i) for i in range(50)}) == 100
    assert derive(0, 3) == tuple(int(w) for w in np.random.SeedSequence(0, spawn_key=(3,)).generate_state(3))


def test_each_source_group_varies_only_its_own_seeds():
    runs = plan(master=0, n=4, n_per_source=3)
    assert [run.source for run in runs] == ["all"] * 4 + ["data+split"] * 3 + ["init+order"] * 3
    every, data_split, init_order = runs[:4], runs[4:7], runs[7:]
    assert len({(r.data, r.split, r.train) for r in every}) == 4
    assert {r.train for r in data_split} == {every[0].train}
    assert len({(r.data, r.split) for r in data_split}) == 3
    assert {(r.data, r.split) for r in init_order} == {(every[0].data, every[0].split)}
    assert len({r.train for r in init_order}) == 3


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["torch", pytest.param("jax", marks=NEEDS_JAX)])
def test_a_study_run_is_byte_identical_to_the_same_run_alone(framework):
    """Dropout, L2, tanh and a last batch of 10 rows: every path where copies could interfere."""
    runs = plan(master=7, n=3, n_per_source=2)
    config = replace(SMALL, train=replace(SMALL.train, framework=framework))
    models, histories, documents, _ = seeds(config, runs)
    for index in (0, 4, 6):  # one of each source
        run = runs[index]
        train_data, val_data = parts(SMALL, run)
        alone, history = train(
            train_data, val_data, replace(config, train=replace(config.train, seed=run.train))
        )
        for name, tensor in alone.state_dict().items():
            assert tensor.numpy().tobytes() == models[index].state_dict()[name].numpy().tobytes(), name
        assert (history.train_loss, history.val_loss) == (
            histories[index].train_loss,
            histories[index].val_loss,
        )
        probs = [predict(alone, p.x).astype(np.float64) for p in (train_data, val_data)]
        assert (
            evaluate(
                count_params(train_data.x.shape[1], config.model.hidden),
                "mse",
                train_data,
                val_data,
                *probs,
                history,
            )
            == documents[index]
        )


@pytest.mark.parametrize(("framework", "arithmetic", "copies", "expected"), [
    ("torch", "exact", 40, LONE_BYTES), ("torch", "native", 1, LONE_BYTES), ("torch", "native", 2, BATCHED),
    ("jax", "native", 40, LONE_BYTES), ("jax", "exact", 40, LONE_BYTES)])  # fmt: skip
def test_only_pytorchs_own_arithmetic_side_by_side_is_not_a_lone_runs_bytes(framework, arithmetic, copies,
                                                                              expected):  # fmt: skip
    config = replace(SMALL, train=replace(SMALL.train, framework=framework, arithmetic=arithmetic))
    assert lone_rerun(config, copies) == expected


def test_the_table_names_each_runs_seeds_and_its_metrics():
    runs = plan(master=0, n=2, n_per_source=2)
    document = {"n_params": 17, "train": {"loss": 0.25},
                "val": {"accuracy": 0.9, "roc_auc": 0.95, "f1": 0.9, "log_loss": 0.3, "brier": 0.08,
                        "noise_ceiling_accuracy": None, "loss": 0.3},
                "fit": {"generalization_gap": 0.05, "best_epoch": 7, "verdict": "good fit"}}  # fmt: skip
    text = format_rows(table_rows("nb1-bce", runs, [document] * len(runs), ["bytes"] * len(runs)))
    header, first = text.splitlines()[:2]
    assert header.startswith(",".join(SEED_COLUMNS))
    assert first.startswith(f"nb1-bce,all,0,{runs[0].data},{runs[0].split},{runs[0].train},bytes,17,0.900000")
    assert ",,0.250000," in first and first.endswith(",good fit")  # no ceiling: an empty cell


@pytest.mark.parametrize("source", ["breast_cancer"])
def test_real_data_varies_only_the_split(source):
    real = {"source": source, "seed": None, "n_samples": None, "n_features": None, "noise": None,
            "standardize": True}  # fmt: skip
    config = parse_params({**RAW, "data": real}, "real")
    first, second = plan(0, 2, 2)[:2]
    (a, _), (b, _) = parts(config, first), parts(config, second)
    assert a.x.shape == b.x.shape and not np.array_equal(a.x, b.x)
    assert sorted(map(tuple, a.x.tolist())) != sorted(map(tuple, b.x.tolist()))


@pytest.mark.slow
@NEEDS_JAX
def test_a_jax_config_trains_in_shares_after_jax_ran_in_the_same_process():
    """JAX's threads do not survive a fork: shares forked after JAX ran would wait forever."""
    script = (
        "import jax, jax.numpy as jnp; jax.jit(lambda x: x + 1)(jnp.ones(2)).block_until_ready()\n"
        "from study.seeds import plan, seeds\n"
        "from tests.test_seeds import SMALL\n"
        "from dataclasses import replace\n"
        "config = replace(SMALL, train=replace(SMALL.train, framework='jax'))\n"
        "models, _, _, _ = seeds(config, plan(master=7, n=2, n_per_source=2), processes=2)\n"
        "print(len(models))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[1])  # fmt: skip
    assert done.returncode == 0 and done.stdout.split()[-1] == "6", done.stderr


def test_a_number_written_as_text_in_experiments_yaml_trains_the_study_like_the_number(tmp_path):
    """PyYAML reads `lr: 1e-2` as the string '1e-2'; the study must train with the number 0.01."""
    spec = {"defaults": RAW, "experiments": {"as-text": {"train": {"lr": "1e-2", "epochs": "8"}},
                                              "as-number": {"train": {"lr": 0.01, "epochs": 8}}}}  # fmt: skip
    (tmp_path / "experiments.yaml").write_text(yaml.safe_dump(spec))
    as_text, as_number = (
        load_config(tmp_path / "experiments.yaml", name) for name in ("as-text", "as-number")
    )
    assert as_text == as_number and isinstance(as_text.train.lr, float)
    runs = plan(master=3, n=2, n_per_source=2)
    text_models, _, text_documents, _ = seeds(as_text, runs, processes=1)
    number_models, _, number_documents, _ = seeds(as_number, runs, processes=1)
    assert text_documents == number_documents
    for text_model, number_model in zip(text_models, number_models, strict=True):
        pairs = zip(text_model.state_dict().values(), number_model.state_dict().values(), strict=True)
        assert all(torch.equal(a, b) for a, b in pairs)


def seeds_params(**changes) -> SeedsParams:
    raw = {"master": 0, "n": 4, "n_per_source": 3, "batch": 5, "batches": [1, 2], "max_seeds": 20} | changes
    return parse_section(raw, SeedsParams, "seeds")


def test_later_batches_number_on_from_n_with_seeds_no_other_run_uses():
    p = seeds_params()
    later = batch_plan(p, 1) + batch_plan(p, 2)
    assert [run.index for run in later] == list(range(4, 14)) and {run.source for run in later} == {"all"}
    first = plan(p.master, p.n, p.n_per_source)
    taken = {(run.data, run.split, run.train) for run in first}
    assert not taken & {(run.data, run.split, run.train) for run in later}
    assert len({run.data for run in first + later if run.source != "init+order"}) == 4 + 3 + 10


def test_looks_and_the_cap_follow_the_batches():
    p = seeds_params(max_seeds=22)
    assert p.looks() == [4, 9, 14] and p.cap() == 19


@pytest.mark.parametrize(("changes", "message"), [
    ({"batches": [2]}, r"seeds.batches = \[2\]: must be \[\] or 1, 2, … in order"),
    ({"max_seeds": 3}, r"seeds.max_seeds = 3: must be at least n \(4\)"),
    ({"max_seeds": 10}, r"seeds.batches: 2 batches take 14 seeds, over max_seeds \(10\)"),
])  # fmt: skip
def test_inconsistent_looks_are_one_clear_error(changes, message):
    with pytest.raises(UserError, match=message):
        seeds_params(**changes)


def test_a_seeds_csv_row_gives_back_its_run():
    run = Seeds("data+split", 3, 11, 12, 13)
    assert Seeds.from_row({key: str(value) for key, value in run.row().items()}) == run


@pytest.mark.slow
def test_pytorchs_own_runs_side_by_side_are_within_the_stated_bound_of_their_lone_runs():
    config = load_config(Path("experiments.yaml"), "nb2-torch")
    runs = plan(master=0, n=4, n_per_source=0)
    models, _, _, reruns = seeds(config, runs, processes=1)
    assert reruns == [BATCHED] * len(runs)
    for model, entry in zip(models, runs, strict=True):
        alone, _ = train(
            *parts(config, entry), replace(config, train=replace(config.train, seed=entry.train))
        )
        gaps = [
            float((model.state_dict()[name] - tensor).abs().max())
            for name, tensor in alone.state_dict().items()
        ]
        assert 0 < max(gaps) <= BATCHED_WEIGHTS  # vmap rounds its own way, within the bound


def test_pytorchs_own_runs_get_the_same_bytes_whatever_the_cores():
    """Its runs train in vmap groups of VMAP_GROUP, however many processes share them."""
    config = load_config(Path("experiments.yaml"), "nb2-torch")
    config = replace(config, train=replace(config.train, epochs=3))
    runs = plan(master=0, n=VMAP_GROUP + 3, n_per_source=0)
    one, _, _, reruns = seeds(config, runs, processes=1)
    two, _, _, _ = seeds(config, runs, processes=2)
    assert reruns == [BATCHED] * VMAP_GROUP + [BATCHED] * 3
    for a, b in zip(one, two, strict=True):
        assert all(
            torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
        )
