"""The params schema: types, ranges, choices, required and unknown keys."""

from pathlib import Path

import pytest
import yaml

from stages.lib.cli import UserError
from stages.params import SECTIONS, DataParams, ModelParams, TrainParams, load_section, parse_section

GOOD_DATA = {
    "source": "synthetic",
    "seed": 0,
    "n_samples": 100,
    "n_features": 2,
    "noise": 0.05,
    "standardize": False,
}
REAL_DATA = {
    **GOOD_DATA,
    "source": "breast_cancer",
    "seed": None,
    "n_samples": None,
    "n_features": None,
    "noise": None,
}
GOOD_TRAIN = {
    "loss": "bce",
    "lr": 0.001,
    "weight_decay": 0.0,
    "epochs": 5,
    "batch_size": 32,
    "seed": 0,
    "device": "cpu",
    "framework": "torch",
    "arithmetic": "exact",
}


def test_committed_params_file_is_valid():
    for name, schema in SECTIONS.items():
        load_section(Path("params.yaml"), name, schema)


@pytest.mark.parametrize("written", ["1e-3", 1e-3, "0.001", "1.0e-3"])
def test_exponent_numbers_are_read_as_numbers(written):
    assert parse_section({**GOOD_TRAIN, "lr": written}, TrainParams, "t").lr == pytest.approx(0.001)


def test_whole_float_is_accepted_for_an_int():
    assert parse_section({**GOOD_TRAIN, "epochs": 5.0}, TrainParams, "t").epochs == 5


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("lr", 0, r"train.lr = 0: must be in \(0.0, inf\)"),
        ("lr", "fast", "not a number"),
        ("epochs", 0, r"must be in \[1, inf\)"),
        ("epochs", 2.5, "whole number"),
        ("loss", "hinge", "must be one of bce, mse"),
        ("batch_size", True, "expected a finite int"),
    ],
)
def test_bad_values_are_named_with_their_range(key, value, message):
    with pytest.raises(UserError, match=message):
        parse_section({**GOOD_TRAIN, key: value}, TrainParams, "train")


def test_unknown_key_suggests_the_nearest_known_key():
    raw = {**GOOD_TRAIN, "weigth_decay": 0.01}
    with pytest.raises(UserError, match="weigth_decay: unknown key; did you mean 'weight_decay'"):
        parse_section(raw, TrainParams, "train")


def test_missing_key_is_named():
    raw = {"source": "synthetic", "seed": 0, "n_samples": 100, "n_features": 2, "standardize": False}
    with pytest.raises(UserError, match=r"data.noise: required key is missing"):
        parse_section(raw, DataParams, "data")


@pytest.mark.parametrize("noise", [-0.1, 0.5, 0.9])
def test_noise_must_lie_in_half_open_interval(noise):
    raw = {**GOOD_DATA, "noise": noise}
    with pytest.raises(UserError, match=r"\[0.0, 0.5\)"):
        parse_section(raw, DataParams, "data")


def test_file_errors_name_the_file(tmp_path):
    broken = tmp_path / "params.yaml"
    broken.write_text("data: [unclosed")
    with pytest.raises(UserError, match=r"params\.yaml: not valid YAML"):
        load_section(broken, "data", DataParams)
    broken.write_text(yaml.safe_dump({"train": GOOD_TRAIN}))
    with pytest.raises(UserError, match="data: missing section"):
        load_section(broken, "data", DataParams)


@pytest.mark.parametrize(("written", "widths"), [(4, (4,)), ([4], (4,)), ([8, 8], (8, 8)), ("7", (7,))])
def test_hidden_is_one_width_or_a_list_of_widths(written, widths):
    raw = {"hidden": written, "activation": "relu", "dropout": 0.0}
    assert parse_section(raw, ModelParams, "model").hidden == widths


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hidden": []}, r"model\.hidden = \[\]: give at least one"),
        ({"hidden": [8, 0]}, r"model\.hidden = 0: must be in \[1, inf\)"),
        ({"activation": "sigmoid"}, "must be one of relu, tanh, leaky_relu"),
        ({"dropout": 1.0}, r"model\.dropout = 1\.0: must be in \[0\.0, 1\.0\)"),
    ],
)
def test_bad_architectures_are_rejected(change, message):
    with pytest.raises(UserError, match=message):
        parse_section({"hidden": 4, "activation": "relu", "dropout": 0.0, **change}, ModelParams, "model")


def test_real_data_takes_no_synthetic_params():
    assert parse_section(REAL_DATA, DataParams, "data").source == "breast_cancer"
    with pytest.raises(
        UserError, match=r"data\.n_features = 30: only for synthetic data; breast_cancer brings"
    ):
        parse_section({**REAL_DATA, "n_features": 30}, DataParams, "data")
    with pytest.raises(UserError, match=r"data\.noise: required for synthetic data"):
        parse_section({**GOOD_DATA, "noise": None}, DataParams, "data")


def test_standardize_is_a_boolean():
    with pytest.raises(UserError, match=r"data\.standardize = 'yes': expected true or false"):
        parse_section({**GOOD_DATA, "standardize": "yes"}, DataParams, "data")
