"""Adam (stages/lib/adam.py) against torch.optim.Adam, with and without weight decay."""

import numpy as np
import pytest
import torch
from torch import nn

from stages.lib.adam import BiasCorrection, Moments, adam
from stages.lib.exact import NUMPY


def adam_both_ways(steps: int, weight_decay: float) -> tuple[np.ndarray, np.ndarray]:
    """The weights after `steps` Adam steps from one gradient sequence: stages.lib.adam's and torch's."""
    rng = np.random.default_rng(0)
    start = rng.standard_normal((1, 40)).astype(np.float32)
    scales = 10 ** rng.uniform(-3, 1, (steps, 1, 40))  # gradients from 1e-3 to 10
    gradients = (rng.standard_normal((steps, 1, 40)) * scales).astype(np.float32)
    flat, moments = start, Moments(np.zeros_like(start), np.zeros_like(start))
    corrections = BiasCorrection(0.01)
    for grad in gradients:
        flat, moments = adam(NUMPY, flat, grad, moments, weight_decay, *corrections.next())
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
