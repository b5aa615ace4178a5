"""Each loss and activation name is defined once, and every module that acts on one knows each."""

import dataclasses

import numpy as np
import pytest
import torch

from stages.evaluate import OBJECTIVES
from stages.lib import model, net
from stages.lib.exact import NUMPY
from stages.lib.names import ACTIVATIONS, LOSSES
from stages.params import ModelParams, TrainParams


def choices(section, name: str) -> tuple:
    spec = next(spec for spec in dataclasses.fields(section) if spec.name == name)
    return spec.metadata["choices"]


def test_params_accept_exactly_the_defined_names():
    assert choices(TrainParams, "loss") == LOSSES
    assert choices(ModelParams, "activation") == ACTIVATIONS


def test_every_loss_is_trained_and_evaluated():
    assert set(net.LOSSES) == set(OBJECTIVES) == set(LOSSES)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_every_activation_has_a_torch_layer_with_the_arithmetic_of_net(name):
    x = np.linspace(-2, 2, 9, dtype=np.float32)
    ours = net._activate(NUMPY, name, x)
    torchs = model.ACTIVATIONS[name]()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, torchs, rtol=1e-6, atol=1e-7)
