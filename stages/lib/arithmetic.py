"""The two arithmetics as PyTorch pieces: the copies' model, its loss and its optimizer, for the one loop.

`exact` (the default) is stages/lib/net.py's arithmetic, which gives the same bits on every machine:
`Stacked` is an nn.Module whose forward is an autograd Function with net.py's written-out backward, the
loss is another, and the optimizer is `ExactAdam` (stages/lib/adam.py). On the CPU they compute on NumPy
views of the tensors. `native` is PyTorch's own kernels: the MLP itself (one copy) or torch.func's stacked
state under vmap (more copies), nn.BCELoss / nn.MSELoss, and torch.optim.Adam.

Every model takes x (copies, rows, features) and gives P(y = 1) (copies, rows); with `keeps`, one mask
(copies, rows, width) per dropout layer, it drops the units the run drew (stages/lib/draws.py). Every
loss gives each copy's mean loss (copies,): the copies share no weight, so the sum's gradient is each
copy's own.
"""

import copy
import os
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state

from stages.lib.adam import ExactAdam
from stages.lib.exact import NUMPY, Ops
from stages.lib.model import DrawnDropout, recipe
from stages.lib.names import BCE, EXACT, MSE
from stages.lib.net import Layout, forward, mean_loss, mean_loss_gradient, unflatten, weight_gradient
from stages.params import TrainParams


def _torch_ops() -> Ops:
    """exact.py's operations on torch tensors, imported only when CUDA needs them."""
    from stages.lib.exact_torch import TORCH

    return TORCH


def as_array(ops: Ops, tensor: torch.Tensor):
    """`tensor` as `ops` computes on it: a NumPy view for NUMPY, the tensor itself for TORCH."""
    return tensor.detach().numpy() if ops is NUMPY else tensor.detach()


def as_tensor(ops: Ops, array) -> torch.Tensor:
    return torch.from_numpy(np.asarray(array)) if ops is NUMPY else array


class Stacked(nn.Module):
    """Copies of one MLP in the exact arithmetic: the trained weights one flat Parameter (copies,
    n_weights) in `layout`'s order, the standardisation statistics apart; on CUDA through
    stages/lib/exact_torch.py."""

    def __init__(self, models: Sequence[nn.Sequential], device: torch.device | None = None,
                 ops: Ops | None = None) -> None:  # fmt: skip
        super().__init__()
        device = device or torch.device("cpu")
        self.ops = ops or (NUMPY if device.type == "cpu" else _torch_ops())
        self.steps = recipe(models[0])
        trained = [name for name, _ in models[0].named_parameters()]
        self.layout: Layout = tuple((name, tuple(models[0].state_dict()[name].shape)) for name in trained)
        states = [model.state_dict() for model in models]
        flat = torch.stack([torch.cat([state[name].reshape(-1) for name in trained]) for state in states])
        self.flat = nn.Parameter(flat.detach().to(device))
        self.stats = {name: as_array(self.ops, torch.stack([state[name] for state in states]).to(device))
                      for name, _ in models[0].named_buffers()}  # fmt: skip

    def forward(self, x: torch.Tensor, keeps: Sequence[torch.Tensor] = ()) -> torch.Tensor:
        return ExactForward.apply(self.flat, x, self, *keeps)

    def flat_array(self):
        """`flat` as the ops' kind of array (NumPy's on the CPU), sharing its memory."""
        return as_array(self.ops, self.flat)

    def weights(self) -> dict:
        """The trained tensors by state-dict name, as views of `flat_array()`."""
        return unflatten(self.flat_array(), self.layout)

    def unstacked(self, index: int) -> dict[str, torch.Tensor]:
        """Copy `index`'s state dict, under the names of the MLP it was stacked from."""
        return {name: torch.as_tensor(value[index]).cpu().clone()
                for name, value in (self.weights() | self.stats).items()}  # fmt: skip


class ExactForward(torch.autograd.Function):
    """net.forward, and for its backward net.weight_gradient: net.backward's rows summed as a fixed tree."""

    @staticmethod
    def forward(ctx, flat: torch.Tensor, x: torch.Tensor, stacked: Stacked, *keeps: torch.Tensor):
        ops = stacked.ops
        ctx.stacked, ctx.weights = stacked, unflatten(as_array(ops, flat), stacked.layout)
        ctx.keeps = [as_array(ops, keep) for keep in keeps]
        p, ctx.tape = forward(ops, stacked.steps, ctx.weights, stacked.stats, as_array(ops, x), ctx.keeps)
        return as_tensor(ops, p)

    @staticmethod
    def backward(ctx, grad_p: torch.Tensor):
        stacked = ctx.stacked
        grad = weight_gradient(stacked.ops, stacked.steps, stacked.layout, ctx.weights, ctx.tape, ctx.keeps,
                               as_array(stacked.ops, grad_p))  # fmt: skip
        return as_tensor(stacked.ops, grad), None, None, *(None for _ in ctx.keeps)


class ExactLoss(nn.Module):
    """Each copy's mean loss `loss` (bce or mse), torch's definition in the exact arithmetic."""

    def __init__(self, loss: str, ops: Ops) -> None:
        super().__init__()
        self.loss, self.ops = loss, ops

    def forward(self, p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return ExactMeanLoss.apply(p, y, self)


class ExactMeanLoss(torch.autograd.Function):
    """net.mean_loss, and for its backward net.mean_loss_gradient (times the incoming gradient: 1 for a
    sum)."""

    @staticmethod
    def forward(ctx, p: torch.Tensor, y: torch.Tensor, criterion: ExactLoss):
        ops = criterion.ops
        ctx.criterion, ctx.p, ctx.y = criterion, as_array(ops, p), as_array(ops, y)
        return as_tensor(ops, mean_loss(ops, criterion.loss, ctx.p, ctx.y))

    @staticmethod
    def backward(ctx, grad_loss: torch.Tensor):
        ops = ctx.criterion.ops
        grad_p = mean_loss_gradient(ops, ctx.criterion.loss, ctx.p, ctx.y)
        return as_tensor(ops, ops.mul(grad_p, as_array(ops, grad_loss)[:, None])), None, None


class Native(nn.Module):
    """One MLP in PyTorch's own arithmetic: its own forward, under the loop's copy axis (of one)."""

    def __init__(self, model: nn.Sequential) -> None:
        super().__init__()
        self.model = model  # trained in place, as a PyTorch user trains it

    def forward(self, x: torch.Tensor, keeps: Sequence[torch.Tensor] = ()) -> torch.Tensor:
        with drawn(self.model, [keep[0] for keep in keeps]):
            return self.model(x[0]).T

    def unstacked(self, index: int) -> dict[str, torch.Tensor]:
        """The MLP's state dict, on the CPU."""
        return {name: value.detach().cpu().clone() for name, value in self.model.state_dict().items()}


class Ensemble(nn.Module):
    """Copies of one MLP in PyTorch's own arithmetic: torch.func's `stack_module_state` under `vmap`,
    PyTorch's way to train an ensemble (a batched product need not round as a lone one does)."""

    def __init__(self, models: Sequence[nn.Sequential]) -> None:
        super().__init__()
        params, self.buffers = stack_module_state(models)
        self.names = list(params)
        self.stacked = nn.ParameterList(params.values())
        self.base = [copy.deepcopy(models[0]).to("meta")]  # in a list: the structure, not a submodule

    def forward(self, x: torch.Tensor, keeps: Sequence[torch.Tensor] = ()) -> torch.Tensor:
        base = self.base[0].train(self.training)

        def one(params: dict, buffers: dict, rows: torch.Tensor, *masks: torch.Tensor) -> torch.Tensor:
            with drawn(base, masks):
                return functional_call(base, (params, buffers), (rows,))[:, 0]

        return torch.vmap(one)(dict(zip(self.names, self.stacked, strict=True)), self.buffers, x, *keeps)

    def unstacked(self, index: int) -> dict[str, torch.Tensor]:
        """Copy `index`'s state dict, on the CPU."""
        state = dict(zip(self.names, self.stacked, strict=True)) | self.buffers
        return {name: value[index].detach().cpu().clone() for name, value in state.items()}


@contextmanager
def drawn(model: nn.Sequential, keeps: Sequence[torch.Tensor]):
    """`model`'s dropout layers drop what `keeps` says while inside (in training)."""
    layers = [layer for layer in model if isinstance(layer, DrawnDropout)]
    for layer, keep in zip(layers, keeps, strict=False):
        layer.keep = keep
    try:
        yield
    finally:
        for layer in layers:
            layer.keep = None


class PerCopy(nn.Module):
    """A torch loss without reduction, averaged over each copy's rows: (copies, rows) → (copies,)."""

    def __init__(self, loss: nn.Module) -> None:
        super().__init__()
        self.loss = loss

    def forward(self, p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.loss(p, y).mean(dim=1)


NATIVE_LOSSES = {BCE: nn.BCELoss, MSE: nn.MSELoss}


@contextmanager
def deterministic(arithmetic: str, device: torch.device):
    """One CPU thread for torch while inside, and for PyTorch's own kernels its deterministic algorithms.

    PyTorch's own kernels give the same bits run after run with one thread (a product split among
    threads is summed in another order) and deterministic algorithms (on CUDA, cuBLAS's fixed
    workspace). The exact arithmetic needs neither for its bits, but its torch calls are too small to
    share out: a second thread only spins, and took 40% more CPU than the loop's own (benchmarks/README.md,
    benchmark 13), which the queue's other experiments need."""
    threads, strict = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    if arithmetic != EXACT:
        if device.type == "cuda":
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(strict)


@dataclass
class Pieces:
    """What the training loop trains with: the copies' model, its loss and its optimizer."""

    model: nn.Module
    criterion: nn.Module
    optimizer: torch.optim.Optimizer


def pieces(models: Sequence[nn.Sequential], t: TrainParams, device: torch.device,
           ops: Ops | None = None) -> Pieces:  # fmt: skip
    """The model, loss and optimizer of `t.arithmetic` for `models`, on `device`; `ops` chooses the exact
    arithmetic's operations (by default NumPy's on the CPU, torch's on CUDA)."""
    if t.arithmetic == EXACT:
        stacked = Stacked(models, device, ops)
        optimizer = ExactAdam(stacked.parameters(), stacked.ops, t.lr, t.weight_decay)
        return Pieces(stacked, ExactLoss(t.loss, stacked.ops), optimizer)
    models = [model.to(device) for model in models]
    model = Native(models[0]) if len(models) == 1 else Ensemble(models)
    criterion = PerCopy(NATIVE_LOSSES[t.loss](reduction="none"))
    optimizer = torch.optim.Adam(model.parameters(), lr=t.lr, weight_decay=t.weight_decay)
    return Pieces(model, criterion, optimizer)
