"""Adam (Kingma and Ba, 2015) as torch.optim.Adam computes it, through `ops` (stages/lib/exact.py), and
`ExactAdam`, the torch.optim.Optimizer that steps with it."""

import math
from dataclasses import dataclass

import numpy as np
import torch

from stages.lib.exact import NUMPY, Ops, f32

BETA1, BETA2, EPS = 0.9, 0.999, f32(1e-8)  # torch.optim.Adam's defaults


class BiasCorrection:
    """Adam's step size lr / (1 - β₁ᵗ) and 1 / √(1 - β₂ᵗ), step after step, as float32.

    The powers are running products of Python floats (one IEEE multiply each), not `pow`, which
    libraries round their own ways.
    """

    def __init__(self, lr: float) -> None:
        self.lr, self.power1, self.power2 = lr, 1.0, 1.0

    def next(self) -> tuple[float, float]:
        self.power1, self.power2 = self.power1 * BETA1, self.power2 * BETA2
        return f32(self.lr / (1 - self.power1)), f32(1 / math.sqrt(1 - self.power2))


@dataclass(frozen=True)
class Moments:
    """Adam's running means of the gradient and of its square, flat like the weights."""

    mean: object
    square: object


def adam(ops: Ops, flat, grad, moments: Moments, weight_decay: float, step_size: float, inverse_root: float):
    """One Adam update (Kingma and Ba, 2015) with L2 added to the gradient, as torch.optim.Adam's
    weight_decay; returns the new weights and moments."""
    if weight_decay:
        grad = grad + ops.mul(flat, f32(weight_decay))
    mean = ops.mul(moments.mean, f32(BETA1)) + ops.mul(grad, f32(1 - BETA1))
    square = ops.mul(moments.square, f32(BETA2)) + ops.mul(ops.mul(grad, grad), f32(1 - BETA2))
    denominator = ops.mul(ops.sqrt(square), inverse_root) + EPS
    return flat - ops.mul(mean / denominator, step_size), Moments(mean, square)


class ExactAdam(torch.optim.Optimizer):
    """torch.optim.Adam(lr, weight_decay) in the exact arithmetic: `adam` through `ops`, in place."""

    def __init__(self, params, ops: Ops, lr: float, weight_decay: float = 0.0) -> None:
        super().__init__(params, {"lr": lr, "weight_decay": weight_decay})
        self.ops = ops

    def add_param_group(self, param_group: dict) -> None:
        """As torch's, less its checks, and without the torch._dynamo import that torch's makes (a
        second at every start of the train stage)."""
        param_group["params"] = list(param_group["params"])
        self.param_groups.append(self.defaults | param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """As torch's, without its profiler record (a tenth of an exact step)."""
        for group in self.param_groups:
            for param in group["params"]:
                param.grad = None

    @torch.no_grad()
    def step(self, closure=None) -> None:
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                weights, grad = (t.numpy() if self.ops is NUMPY else t for t in (param.detach(), param.grad))
                state = self.state[param]
                if not state:
                    zeros = np.zeros_like(weights) if self.ops is NUMPY else torch.zeros_like(weights)
                    state["moments"] = Moments(zeros, zeros)
                    state["corrections"] = BiasCorrection(group["lr"])
                new, state["moments"] = adam(self.ops, weights, grad, state["moments"], group["weight_decay"],
                                             *state["corrections"].next())  # fmt: skip
                weights[...] = new

    # torch.optim.Optimizer wraps a subclass's step in a profiler record and its step hooks unless the
    # step says it is hooked already: 6 µs of a step alone, about 40 µs inside the training loop here
    # (benchmarks/README.md, benchmark 12). ExactAdam runs no step hooks.
    step.hooked = True
