"""The MLP's arithmetic (stages/lib/net.py): torch's forward and autograd's gradient, copy by copy."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from stages.lib import net
from stages.lib.arithmetic import Stacked
from stages.lib.draws import initial_model
from stages.lib.exact import NUMPY

ACTIVATIONS = ["relu", "tanh", "leaky_relu"]
TORCH_LOSSES = {"bce": F.binary_cross_entropy, "mse": F.mse_loss}
DROPOUT = 0.2


def stacked_alone(model: nn.Sequential) -> Stacked:
    """One model as a stack of one copy, on NumPy's arrays."""
    return Stacked([model])


def torch_forward(model: nn.Sequential, x: torch.Tensor, keeps: list[torch.Tensor]) -> torch.Tensor:
    """P(y = 1) from torch's own layers, each dropout layer replaced by x · mask / (1 - p) with `keeps`."""
    masks = iter(keeps)
    for layer in model:
        x = x * next(masks) / (1 - layer.p) if isinstance(layer, nn.Dropout) else layer(x)
    return x[:, 0]


def dropout_masks(rows: int, hidden: tuple[int, ...], seed: int = 0) -> list[np.ndarray]:
    """One kept-or-dropped float32 mask (1 copy, rows, width) per hidden layer."""
    generator = torch.Generator().manual_seed(seed)
    return [
        (torch.rand((1, rows, width), generator=generator) >= DROPOUT).float().numpy() for width in hidden
    ]


@pytest.mark.parametrize("hidden", [4, (5, 3)], ids=["one-hidden", "two-hidden"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_forward_equals_torchs_module_in_eval_mode(small_split, activation, hidden):
    x = small_split[0].x
    model = initial_model(x, 0, hidden, activation, DROPOUT, standardize=True).eval()
    stacked = stacked_alone(model)
    got, _ = net.forward(NUMPY, stacked.steps, stacked.weights(), stacked.stats, x[None])
    with torch.no_grad():
        want = model(torch.from_numpy(x))[:, 0].numpy()
    np.testing.assert_allclose(got[0], want, rtol=0, atol=1e-6)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("loss", ["bce", "mse"])
def test_gradient_equals_autograds_of_the_mean_loss(small_split, loss, activation):
    data, hidden = small_split[0], (5, 3)
    x, y = data.x[:64], data.y[:64].astype(np.float32)
    model = initial_model(data.x, 0, hidden, activation, DROPOUT, standardize=True).eval()
    keeps = dropout_masks(len(y), hidden)
    stacked = stacked_alone(model)
    got = net.gradient(NUMPY, stacked.steps, stacked.layout, stacked.flat_array(), stacked.stats, x[None],
                       y[None], keeps, loss)  # fmt: skip
    p = torch_forward(model, torch.from_numpy(x), [torch.from_numpy(keep[0]) for keep in keeps])
    TORCH_LOSSES[loss](p, torch.from_numpy(y)).backward()
    parameters = dict(model.named_parameters())
    want = torch.cat([parameters[name].grad.reshape(-1) for name, _ in stacked.layout]).numpy()
    assert got.shape == (1, want.size)
    np.testing.assert_allclose(got[0], want, rtol=0, atol=1e-6)


@pytest.mark.parametrize("loss", ["bce", "mse"])
def test_mean_loss_equals_torchs_loss(loss):
    p = np.float32([[0.0, 1e-30, 0.3, 0.5, 0.9, 1 - 2**-24, 1.0]])  # BCE's logs clamp at -100 at 0 and 1
    y = np.float32([[1, 1, 0, 1, 1, 0, 0]])
    want = float(TORCH_LOSSES[loss](torch.from_numpy(p[0]), torch.from_numpy(y[0])))
    assert float(net.mean_loss(NUMPY, loss, p, y)[0]) == pytest.approx(want, rel=1e-6)


def test_bce_gradient_equals_torchs_even_where_p_is_zero_or_one():
    p = np.float32([0.0, 1e-13, 0.3, 0.5, 1 - 2**-24, 1.0])
    y = np.float32([1, 0, 1, 0, 0, 0])
    tensor = torch.from_numpy(p.copy()).requires_grad_()
    F.binary_cross_entropy(tensor, torch.from_numpy(y), reduction="sum").backward()
    np.testing.assert_allclose(net.bce_gradient(NUMPY, p, y), tensor.grad.numpy(), rtol=1e-6)
