"""The two arithmetics as PyTorch pieces (stages/lib/arithmetic.py): the exact ones give net.py's and
adam.py's bits through autograd and torch.optim; the native ones are the plain PyTorch loop."""

import dataclasses

import numpy as np
import pytest
import torch
from conftest import make_params
from torch import nn

from stages.lib import net
from stages.lib.adam import BiasCorrection, ExactAdam, Moments, adam
from stages.lib.arithmetic import Ensemble, ExactLoss, Native, Stacked, deterministic, pieces
from stages.lib.draws import Draws, Epoch, initial_model
from stages.lib.exact import NUMPY
from stages.lib.loop import fit
from stages.train import train, train_copies

HIDDEN, DROPOUT = (5, 3), 0.2


def batch(small_split, rows: int = 40) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """Features (1, rows, 2), labels (1, rows) and one dropout mask (1, rows, width) per hidden layer."""
    data = small_split[0]
    generator = torch.Generator().manual_seed(3)
    keeps = [(torch.rand((1, rows, width), generator=generator) >= DROPOUT).float() for width in HIDDEN]
    return (
        torch.from_numpy(data.x[None, :rows]),
        torch.from_numpy(data.y[None, :rows].astype(np.float32)),
        keeps,
    )


@pytest.mark.parametrize("loss", ["bce", "mse"])
def test_exact_backward_gives_net_gradients_bits(small_split, loss):
    x, y, keeps = batch(small_split)
    model = initial_model(small_split[0].x, 0, HIDDEN, "tanh", DROPOUT, standardize=True)
    stacked = Stacked([model])
    losses = ExactLoss(loss, NUMPY)(stacked(x, keeps), y)
    losses.sum().backward()
    want = net.gradient(NUMPY, stacked.steps, stacked.layout, stacked.flat_array(), stacked.stats, x.numpy(),
                        y.numpy(), [keep.numpy() for keep in keeps], loss)  # fmt: skip
    assert stacked.flat.grad.numpy().tobytes() == want.tobytes()
    masks = [keep.numpy() for keep in keeps]
    p, _ = net.forward(NUMPY, stacked.steps, stacked.weights(), stacked.stats, x.numpy(), masks)
    assert losses.detach().numpy().tobytes() == net.mean_loss(NUMPY, loss, p, y.numpy()).tobytes()


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_exact_adam_steps_as_adam_does(weight_decay):
    rng = np.random.default_rng(0)
    start = rng.standard_normal((2, 30)).astype(np.float32)
    gradients = rng.standard_normal((5, 2, 30)).astype(np.float32)
    parameter = nn.Parameter(torch.from_numpy(start.copy()))
    optimizer = ExactAdam([parameter], NUMPY, lr=0.01, weight_decay=weight_decay)
    flat, moments, corrections = start, Moments(start * 0, start * 0), BiasCorrection(0.01)
    for grad in gradients:
        optimizer.zero_grad()
        parameter.grad = torch.from_numpy(grad.copy())
        optimizer.step()
        flat, moments = adam(NUMPY, flat, grad, moments, weight_decay, *corrections.next())
    assert isinstance(optimizer, torch.optim.Optimizer)
    assert parameter.detach().numpy().tobytes() == flat.tobytes()


def test_native_is_the_plain_pytorch_loop_bit_for_bit(small_split):
    """nn.BCELoss(), torch.optim.Adam, backward(), step(): what a learner writes, from the same draws."""
    train_data, val_data = small_split
    params = make_params(loss="bce", epochs=3, weight_decay=0.01, arithmetic="native")
    ours, _ = train(train_data, val_data, params)
    model, draws = initial_model(train_data.x, 0, 4), Draws(0, 4, 0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=params.train.lr, weight_decay=0.01)
    criterion, size = nn.BCELoss(), params.train.batch_size
    x, y = torch.from_numpy(train_data.x), torch.from_numpy(train_data.y.astype(np.float32))
    with deterministic("native", torch.device("cpu")):
        for _ in range(3):
            order = draws.epoch(len(y), size).order
            for start in range(0, len(y), size):
                rows = order[start : start + size]
                optimizer.zero_grad()
                loss = criterion(model(x[rows]).squeeze(1), y[rows])
                loss.backward()
                optimizer.step()
    for name, tensor in model.state_dict().items():
        assert torch.equal(ours.state_dict()[name], tensor), name


def test_a_native_run_gives_the_same_bytes_twice(small_split):
    params = make_params(loss="mse", epochs=3, dropout=DROPOUT, hidden=HIDDEN, arithmetic="native")
    (first, first_history), (second, second_history) = (train(*small_split, params) for _ in range(2))
    assert first_history == second_history
    for name, tensor in first.state_dict().items():
        assert tensor.numpy().tobytes() == second.state_dict()[name].numpy().tobytes()


def largest_gap(a: nn.Module, b: nn.Module) -> float:
    return max(float((a.state_dict()[k] - b.state_dict()[k]).abs().max()) for k in a.state_dict())


class AllKept(Draws):
    """A run's draws with every dropout mask all ones: its order, none of its dropping."""

    def epoch(self, rows: int, batch_size: int) -> Epoch:
        drawn = super().epoch(rows, batch_size)
        return Epoch(drawn.order, [[torch.ones_like(keep) for keep in keeps] for keeps in drawn.keeps])


def test_native_drops_the_drawn_units(small_split):
    """With dropout, a native run ends near the exact run, which drops the same units, and far from the
    same run with no unit dropped."""
    train_data, val_data = small_split
    params = make_params(loss="mse", epochs=3, dropout=0.5, hidden=HIDDEN, arithmetic="native")
    native, _ = train(train_data, val_data, params)
    exact, _ = train(train_data, val_data, dataclasses.replace(params, train=dataclasses.replace(
        params.train, arithmetic="exact")))  # fmt: skip
    assert largest_gap(native, exact) < 1e-5
    kept = initial_model(train_data.x, 0, HIDDEN, "relu", 0.5)
    kept_pieces = pieces([kept], params.train, torch.device("cpu"))
    fit(kept_pieces, [AllKept(0, HIDDEN, 0.5)], [train_data], [val_data], params.train)
    assert largest_gap(native, kept) > 1e-3


def test_native_copies_train_as_an_ensemble_near_their_lone_runs(small_split):
    train_data, val_data = small_split
    params = make_params(loss="bce", epochs=3, dropout=DROPOUT, hidden=HIDDEN, arithmetic="native")
    models, histories = train_copies([train_data] * 2, [val_data] * 2, [0, 1], params)
    for seed, (model, history) in enumerate(zip(models, histories, strict=True)):
        alone, alone_history = train(train_data, val_data, dataclasses.replace(
            params, train=dataclasses.replace(params.train, seed=seed)))  # fmt: skip
        # vmap's batched products need not round as a lone product does: close, not equal.
        for name, tensor in alone.state_dict().items():
            np.testing.assert_allclose(model.state_dict()[name], tensor, rtol=0, atol=1e-5)
        np.testing.assert_allclose(history.val_loss, alone_history.val_loss, rtol=0, atol=1e-6)


def test_pieces_are_the_arithmetic_asked_for(small_split):
    models = [initial_model(small_split[0].x, seed, 4) for seed in (0, 1)]
    cpu = torch.device("cpu")
    exact = pieces(models[:1], make_params(arithmetic="exact").train, cpu)
    lone = pieces(models[:1], make_params(arithmetic="native").train, cpu)
    many = pieces(models, make_params(arithmetic="native").train, cpu)
    assert isinstance(exact.model, Stacked) and isinstance(exact.optimizer, ExactAdam)
    assert isinstance(lone.model, Native) and type(lone.optimizer) is torch.optim.Adam
    assert isinstance(many.model, Ensemble) and lone.model.model is models[0]  # trained in place
    assert isinstance(lone.criterion.loss, nn.BCELoss)


@pytest.mark.parametrize("arithmetic", ["native", "exact"])
def test_one_thread_inside_and_torchs_settings_restored(arithmetic):
    threads = torch.get_num_threads()
    with deterministic(arithmetic, torch.device("cpu")):
        assert torch.get_num_threads() == 1  # exact: a second thread would only spin
        assert torch.are_deterministic_algorithms_enabled() == (arithmetic == "native")
    assert torch.get_num_threads() == threads and not torch.are_deterministic_algorithms_enabled()
