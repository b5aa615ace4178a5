"""The MLP: parameter counts, and a pickle-free, deterministic file format."""

import pytest
import torch

from stages.cli import UserError
from stages.model import build_mlp, count_params, load_model, save_model


@pytest.mark.parametrize(("n_features", "hidden", "expected"), [(2, 4, 17), (3, 5, 26), (4, 7, 43)])
def test_parameter_counts_match_the_notebooks(n_features, hidden, expected):
    by_hand = n_features * hidden + hidden + hidden * 1 + 1  # two weight matrices and their biases
    assert count_params(build_mlp(n_features, hidden)) == by_hand == expected


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
    with pytest.raises(UserError, match=r"do not fit a 2→5→1 MLP \(model.hidden"):
        load_model(tmp_path / "m.safetensors", 2, 5)


def test_corrupt_file_says_how_to_rebuild(tmp_path):
    (tmp_path / "m.safetensors").write_bytes(b"\x10\x00\x00\x00garbage")
    with pytest.raises(UserError, match=r"corrupt model file.*dvc repro"):
        load_model(tmp_path / "m.safetensors", 2, 4)
