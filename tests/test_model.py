"""The MLP: parameter counts, and a pickle-free, deterministic file format."""

import numpy as np
import pytest
import torch
from torch import nn

from stages.lib.cli import UserError
from stages.lib.mlp import count_params, layout, load_weights, mlp_recipe, shapes
from stages.lib.mlp import predict as predict_arrays
from stages.lib.model import build_mlp, load_model, predict, recipe, save_model


@pytest.mark.parametrize(("n_features", "hidden", "expected"), [(2, 4, 17), (3, 5, 26), (4, 7, 43)])
def test_parameter_counts_match_the_notebooks(n_features, hidden, expected):
    by_hand = n_features * hidden + hidden + hidden * 1 + 1  # two weight matrices and their biases
    assert count_params(n_features, hidden) == by_hand == expected


def test_output_is_a_probability():
    out = build_mlp(3, 5)(torch.randn(50, 3) * 100)
    assert out.shape == (50, 1) and bool(((out >= 0) & (out <= 1)).all())


def test_save_and_load_round_trip_to_identical_bytes(tmp_path):
    torch.manual_seed(0)
    model = build_mlp(2, 4)
    save_model(model, tmp_path / "a.safetensors")
    loaded = load_model(tmp_path / "a.safetensors", 2, 4)
    save_model(loaded, tmp_path / "b.safetensors")
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()


def test_file_is_safetensors_not_pickle(tmp_path):
    save_model(build_mlp(2, 4), tmp_path / "m.safetensors")
    header_length = int.from_bytes((tmp_path / "m.safetensors").read_bytes()[:8], "little")
    header = (tmp_path / "m.safetensors").read_bytes()[8 : 8 + header_length]
    assert header.startswith(b"{") and b"0.weight" in header


def test_architecture_mismatch_names_the_param(tmp_path):
    save_model(build_mlp(2, 4), tmp_path / "m.safetensors")
    with pytest.raises(UserError, match=r"do not fit a 2→5→1 MLP \(model and data params"):
        load_model(tmp_path / "m.safetensors", 2, 5)


def test_corrupt_file_says_how_to_rebuild(tmp_path):
    (tmp_path / "m.safetensors").write_bytes(b"\x10\x00\x00\x00garbage")
    with pytest.raises(UserError, match=r"corrupt model file.*dvc repro"):
        load_model(tmp_path / "m.safetensors", 2, 4)


@pytest.mark.parametrize(
    ("n_features", "hidden", "by_hand"),
    [
        (4, 7, 4 * 7 + 7 + 7 + 1),  # nb4-dropout: dropout adds no weights
        (4, [7, 7], (4 * 7 + 7) + (7 * 7 + 7) + (7 + 1)),  # nb5-deep
        (3, 5, 3 * 5 + 5 + 5 + 1),  # nb6-tanh
        (30, 16, 30 * 16 + 16 + 16 + 1),  # nb7-breast-cancer: the statistics are not trained
    ],
)
def test_parameter_counts_of_the_next_experiments(n_features, hidden, by_hand):
    for activation, dropout, standardize in [("relu", 0.2, False), ("tanh", 0.0, True)]:
        model = build_mlp(n_features, hidden, activation, dropout, standardize)
        assert count_params(n_features, hidden) == sum(p.numel() for p in model.parameters()) == by_hand


def test_a_single_width_is_a_one_item_list():
    torch.manual_seed(0)
    one = build_mlp(3, 5).state_dict()
    torch.manual_seed(0)
    listed = build_mlp(3, [5]).state_dict()
    assert one.keys() == listed.keys() and all(torch.equal(one[k], listed[k]) for k in one)


def test_dropout_is_active_only_in_training():
    torch.manual_seed(0)
    model = build_mlp(4, [64, 64], dropout=0.5)
    x = torch.randn(32, 4)
    model.train()
    assert not torch.equal(model(x), model(x))
    model.eval()
    without_dropout = nn.Sequential(*(layer for layer in model if not isinstance(layer, nn.Dropout)))
    assert torch.equal(model(x), model(x)) and torch.equal(model(x), without_dropout(x))


@pytest.mark.parametrize(
    ("activation", "layer"), [("relu", nn.ReLU), ("tanh", nn.Tanh), ("leaky_relu", nn.LeakyReLU)]
)
def test_activations_are_pytorchs_own(activation, layer):
    assert isinstance(build_mlp(2, [3, 3], activation)[3], layer)


def test_standardisation_statistics_travel_with_the_model(tmp_path):
    model = build_mlp(3, 4, standardize=True)
    model[0].fit(np.array([[1.0, 10.0, 5.0], [3.0, 30.0, 5.0]], dtype=np.float32))
    save_model(model, tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors", 3, 4, standardize=True)
    assert loaded[0].mean.tolist() == [2.0, 20.0, 5.0]
    assert loaded[0].std.tolist() == [1.0, 10.0, 1.0]  # a constant feature keeps scale 1


@pytest.mark.parametrize(
    ("n_features", "hidden", "activation", "dropout", "standardize"),
    [(2, 4, "relu", 0.0, False), (4, [7, 7], "tanh", 0.2, False), (30, 16, "leaky_relu", 0.1, True)],
)
def test_the_torch_module_is_the_recipe_and_shapes_without_torch(n_features, hidden, activation, dropout,
                                                                  standardize):  # fmt: skip
    model = build_mlp(n_features, hidden, activation, dropout, standardize)
    steps = mlp_recipe(hidden, activation, dropout, standardize)
    assert recipe(model) == steps
    assert {name: tuple(t.shape) for name, t in model.state_dict().items()} == shapes(
        steps, n_features, hidden
    )
    assert tuple((name, tuple(p.shape)) for name, p in model.named_parameters()) == layout(steps, n_features,
                                                                                         hidden)  # fmt: skip


def test_the_file_read_without_torch_predicts_as_the_torch_module(tmp_path):
    torch.manual_seed(0)
    model = build_mlp(4, [7, 7], "tanh", 0.2, standardize=True)
    model[0].fit(np.random.default_rng(0).normal(3.0, 2.0, (50, 4)).astype(np.float32))
    save_model(model, tmp_path / "m.safetensors")
    steps = mlp_recipe([7, 7], "tanh", 0.2, standardize=True)
    x = np.random.default_rng(1).normal(size=(30, 4)).astype(np.float32)
    from_file = predict_arrays(steps, load_weights(tmp_path / "m.safetensors", steps, 4, [7, 7]), x)
    assert from_file.tobytes() == predict(model.eval(), x).tobytes()
