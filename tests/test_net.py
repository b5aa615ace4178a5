"""The MLP's arithmetic (stages/net.py): torch's forward, autograd's gradient, torch's Adam, copy by copy."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import make_params
from torch import nn

from stages import exact, net
from stages.draws import Draws, initial_model
from stages.exact import NUMPY
from stages.io import Dataset
from stages.model import Stacked
from stages.train import fit, train, train_copies

ACTIVATIONS = ["relu", "tanh", "leaky_relu"]
TORCH_LOSSES = {"bce": F.binary_cross_entropy, "mse": F.mse_loss}
DROPOUT = 0.2
# Options of a short run that goes through every step: standardisation, two hidden layers, dropout,
# weight decay, and a last batch smaller than the others (480 rows in batches of 50).
SHORT = {"hidden": (5, 3), "lr": 0.01, "weight_decay": 0.01, "epochs": 5, "batch_size": 50,
         "dropout": DROPOUT, "standardize": True}  # fmt: skip


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
    got = net.gradient(NUMPY, stacked.steps, stacked.layout, stacked.flat, stacked.stats, x[None], y[None],
                       keeps, loss)  # fmt: skip
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


def adam_both_ways(steps: int, weight_decay: float) -> tuple[np.ndarray, np.ndarray]:
    """The weights after `steps` Adam steps from one gradient sequence: net.adam's and torch's."""
    rng = np.random.default_rng(0)
    start = rng.standard_normal((1, 40)).astype(np.float32)
    scales = 10 ** rng.uniform(-3, 1, (steps, 1, 40))  # gradients from 1e-3 to 10
    gradients = (rng.standard_normal((steps, 1, 40)) * scales).astype(np.float32)
    flat, moments = start, net.Moments(np.zeros_like(start), np.zeros_like(start))
    corrections = net.BiasCorrection(0.01)
    for grad in gradients:
        flat, moments = net.adam(NUMPY, flat, grad, moments, weight_decay, *corrections.next())
    parameter = nn.Parameter(torch.from_numpy(start.copy()))
    optimizer = torch.optim.Adam([parameter], lr=0.01, weight_decay=weight_decay, foreach=False)
    for grad in gradients:
        parameter.grad = torch.from_numpy(grad)
        optimizer.step()
    return flat, parameter.detach().numpy()


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
@pytest.mark.parametrize("steps", [1, 20])
def test_adam_equals_torchs(steps, weight_decay):
    got, want = adam_both_ways(steps, weight_decay)
    assert not np.array_equal(got, adam_both_ways(0, weight_decay)[0])  # the weights moved
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def shuffled(data: Dataset, seed: int) -> Dataset:
    """`data`'s rows in another order: another copy's training set, of the same size."""
    order = np.random.default_rng(seed).permutation(len(data.y))
    return Dataset(x=data.x[order], y=data.y[order], y_clean=data.y_clean[order])


def state_bytes(model: nn.Module) -> dict[str, bytes]:
    return {name: tensor.numpy().tobytes() for name, tensor in model.state_dict().items()}


def test_a_copy_trained_beside_others_gets_the_bits_it_gets_alone(small_split):
    train_data, val_data = small_split
    trains, seeds = [train_data, shuffled(train_data, 1), shuffled(train_data, 2)], [0, 1, 2]
    options = {**SHORT, "loss": "bce", "activation": "tanh"}
    models, histories = train_copies(trains, [val_data] * 3, seeds, make_params(**options))
    for index, seed in enumerate(seeds):
        alone, history = train(trains[index], val_data, make_params(**options, seed=seed))
        assert state_bytes(models[index]) == state_bytes(alone)
        assert histories[index] == history


def fitted_flat(split: tuple[Dataset, Dataset], ops: exact.Ops, loss: str, activation: str) -> np.ndarray:
    """Two copies (seeds 0 and 1) trained by stages.train.fit through `ops` on torch's CPU device."""
    train_data, val_data = split
    seeds, hidden = [0, 1], SHORT["hidden"]
    models = [initial_model(train_data.x, seed, hidden, activation, DROPOUT, True) for seed in seeds]
    stacked = Stacked(models, torch.device("cpu"), ops)
    options = {name: SHORT[name] for name in ("lr", "weight_decay", "batch_size")}
    draws = [Draws(seed, hidden, DROPOUT) for seed in seeds]
    fit(stacked, draws, [train_data] * 2, [val_data] * 2, make_params(loss=loss, epochs=3, **options).train)
    return np.asarray(stacked.flat)


@pytest.mark.parametrize(("loss", "activation"), [("bce", "tanh"), ("mse", "leaky_relu")])
def test_torch_ops_train_to_numpys_bits(small_split, loss, activation):
    through_torch = fitted_flat(small_split, exact.TORCH, loss, activation)
    through_numpy = fitted_flat(small_split, NUMPY, loss, activation)
    assert through_torch.dtype == through_numpy.dtype == np.float32
    assert through_torch.view(np.int32).tolist() == through_numpy.view(np.int32).tolist()
