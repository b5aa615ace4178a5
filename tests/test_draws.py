"""A run's draws: nn.Linear's own initial weights, one generator per run, and masks at the dropout rate."""

import numpy as np
import torch
from torch import nn

from stages.lib.draws import Draws, initial_model
from stages.lib.model import build_mlp


def test_initial_weights_are_nn_linears_own_from_the_seed():
    x = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    ours = initial_model(x, seed=11, hidden=(5, 4))
    torch.manual_seed(11)
    theirs = build_mlp(3, (5, 4))  # nn.Linear's reset_parameters, with the same draws
    for (name, mine), theirs_ in zip(ours.state_dict().items(), theirs.state_dict().values(), strict=True):
        # torch's kernel may round u·(b-a)+a with a fused multiply-add: equal within one float32 step
        assert torch.allclose(mine, theirs_, rtol=0, atol=float(np.spacing(np.float32(1.0)))), name
    assert any(isinstance(layer, nn.Linear) for layer in ours)


def test_standardisation_statistics_come_from_the_training_split():
    x = np.random.default_rng(1).normal(loc=5.0, scale=2.0, size=(200, 2)).astype(np.float32)
    model = initial_model(x, seed=0, hidden=3, standardize=True)
    assert np.allclose(model[0].mean.numpy(), x.mean(axis=0), atol=1e-5)


def test_the_same_seed_draws_the_same_epochs_and_another_seed_others():
    first, again, other = Draws(3, (4,), 0.5), Draws(3, (4,), 0.5), Draws(4, (4,), 0.5)
    a, b, c = (draws.epoch(10, 4) for draws in (first, again, other))
    assert torch.equal(a.order, b.order) and not torch.equal(a.order, c.order)
    assert all(
        torch.equal(x, y)
        for xs, ys in zip(a.keeps, b.keeps, strict=True)
        for x, y in zip(xs, ys, strict=True)
    )
    assert not torch.equal(first.epoch(10, 4).order, a.order)  # the next epoch is shuffled anew


def test_masks_cover_every_batch_and_layer_and_keep_about_one_minus_the_rate():
    epoch = Draws(0, (64, 32), 0.25).epoch(1000, 100)
    assert sorted(epoch.order.tolist()) == list(range(1000))
    assert len(epoch.keeps) == 10 and [mask.shape for mask in epoch.keeps[0]] == [(100, 64), (100, 32)]
    kept = torch.cat([mask.flatten() for batch in epoch.keeps for mask in batch]).float().mean()
    assert abs(float(kept) - 0.75) < 0.01
    assert Draws(0, (64,), 0.0).epoch(10, 4).keeps == [[], [], []]  # no dropout, no masks
