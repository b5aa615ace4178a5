"""A run's random draws from its train seed: initial weights, each epoch's batch order, dropout masks.

Both frameworks train from these (stages/train.py and stages/lib/train_jax.py): a JAX run starts from the
PyTorch run's weights and sees the same batches in the same order, with the same dropout masks. They
come from torch's seeded generators, which turn bits into floats exactly on every machine; the
initial weights are then scaled in float64 here, not by torch's kernel (see `_uniform`).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from stages.lib.mlp import widths
from stages.lib.model import build_mlp
from stages.lib.names import RELU


def initial_model(train_x: np.ndarray, seed: int, hidden: int | Sequence[int], activation: str = RELU,
                  dropout: float = 0.0, standardize: bool = False) -> nn.Sequential:  # fmt: skip
    """The untrained MLP of a run: weights from torch's global generator seeded with `seed`, and
    standardisation statistics from the training split alone."""
    model = build_mlp(train_x.shape[1], hidden, activation, dropout, standardize)
    torch.manual_seed(seed)
    with torch.no_grad():
        for layer in model:
            if isinstance(layer, nn.Linear):  # nn.Linear's own initialisation, draw for draw
                fan_in = layer.in_features
                layer.weight.copy_(
                    _uniform(layer.weight.shape, math.sqrt(3.0) * math.sqrt(2.0 / 6) / math.sqrt(fan_in))
                )
                layer.bias.copy_(_uniform(layer.bias.shape, 1 / math.sqrt(fan_in)))
    if standardize:
        model[0].fit(train_x)
    return model


def _uniform(shape: torch.Size, bound: float) -> torch.Tensor:
    """U(-bound, bound) from the global generator's next draws, as torch's uniform_ takes them.

    torch's kernel computes u · (to - from) + from with a fused multiply-add where its build for the
    CPU has one (so differently on a CPU without AVX2); here it is two float64 operations, each
    rounded, then one rounding to float32.
    """
    u = torch.rand(shape, dtype=torch.float32).double()
    low = float(np.float32(-bound))
    return (u * (-2 * low) + low).float()


@dataclass(frozen=True)
class Epoch:
    """One epoch's draws: the order of the training rows, and per batch one mask per dropout layer."""

    order: torch.Tensor  # (rows,) int64
    keeps: list[list[torch.Tensor]]  # [batch][layer]: (batch rows, width) bool, True = kept


class Draws:
    """A run's batch orders and dropout masks, epoch after epoch, from a generator of its own."""

    def __init__(self, seed: int, hidden: int | Sequence[int], dropout: float) -> None:
        self.generator = torch.Generator().manual_seed(seed)
        self.widths, self.dropout = widths(hidden), dropout

    def epoch(self, rows: int, batch_size: int) -> Epoch:
        """The next epoch's order, then its masks batch by batch, layer by layer (none without dropout)."""
        order = torch.randperm(rows, generator=self.generator)
        keeps = []
        for start in range(0, rows, batch_size):
            rows_drawn = min(batch_size, rows - start)
            keeps.append([torch.rand((rows_drawn, width), generator=self.generator) >= self.dropout
                          for width in self.widths] if self.dropout > 0 else [])  # fmt: skip
        return Epoch(order, keeps)
