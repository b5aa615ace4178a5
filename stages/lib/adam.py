"""Adam (Kingma and Ba, 2015) as torch.optim.Adam computes it, through `ops` (stages/lib/exact.py)."""

import math
from dataclasses import dataclass

from stages.lib.exact import Ops, f32

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
