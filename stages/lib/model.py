"""The MLP of the notebooks as a torch module (n_features → hidden… → 1, a sigmoid output), saved as
safetensors. Its layers and file format are stages/lib/mlp.py's, which needs no torch."""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save as save_tensors
from torch import nn

from stages.lib.io import write_atomic
from stages.lib.mlp import feature_statistics, layout, load_weights, mlp_recipe
from stages.lib.mlp import predict as predict_arrays
from stages.lib.names import LEAKY_RELU, RELU, TANH
from stages.lib.net import Recipe

ACTIVATIONS = {RELU: nn.ReLU, TANH: nn.Tanh, LEAKY_RELU: nn.LeakyReLU}
ACTIVATION_NAMES = {layer: name for name, layer in ACTIVATIONS.items()}


class DrawnDropout(nn.Dropout):
    """nn.Dropout that, handed a mask (`keep`, from the run's draws in stages/lib/draws.py), drops its
    units in training, so every arithmetic drops the same ones; without a mask, nn.Dropout itself."""

    keep: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.keep is None:
            return super().forward(x)
        return x * self.keep / (1 - self.p)


class Standardize(nn.Module):
    """Scale features with the training split's mean and standard deviation, kept in the model file."""

    def __init__(self, n_features: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))

    def fit(self, x: np.ndarray) -> None:
        """Take the statistics from `x` (the training split only); constant features keep scale 1."""
        mean, std = feature_statistics(x)
        self.mean.copy_(torch.from_numpy(mean))
        self.std.copy_(torch.from_numpy(std))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def build_mlp(n_features: int, hidden: int | Sequence[int], activation: str = RELU, dropout: float = 0.0,
              standardize: bool = False) -> nn.Sequential:  # fmt: skip
    """stages/lib/mlp.py's recipe as torch layers: the output is P(y = 1)."""
    steps = mlp_recipe(hidden, activation, dropout, standardize)
    sizes = dict(layout(steps, n_features, hidden))
    layers: list[nn.Module] = []
    for kind, *arg in steps:
        if kind == "standardize":
            layers.append(Standardize(n_features))
        elif kind == "linear":
            width_out, width_in = sizes[f"{arg[0]}.weight"]
            layers.append(nn.Linear(width_in, width_out))
        elif kind == "activation":
            layers.append(ACTIVATIONS[arg[0]]())
        elif kind == "dropout":
            layers.append(DrawnDropout(arg[0]))
        else:
            layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


def save_model(model: nn.Module, path: Path) -> None:
    """Save weights and statistics as safetensors: no pickle, and the same model gives the same bytes."""
    tensors = {name: tensor.detach().contiguous() for name, tensor in model.state_dict().items()}
    write_atomic(path, save_tensors(tensors))


def load_model(path: Path, n_features: int, hidden: int | Sequence[int], activation: str = RELU,
               dropout: float = 0.0, standardize: bool = False) -> nn.Sequential:  # fmt: skip
    """Load a model file into a freshly built MLP, with stages/lib/mlp.py's errors for a bad file."""
    arrays = load_weights(path, mlp_recipe(hidden, activation, dropout, standardize), n_features, hidden)
    model = build_mlp(n_features, hidden, activation, dropout, standardize)
    model.load_state_dict({name: torch.from_numpy(array) for name, array in arrays.items()})
    return model.eval()


def recipe(model: nn.Sequential) -> Recipe:
    """The MLP's layers as the steps stages/lib/net.py runs (hashable: JAX compiles once per recipe)."""
    steps = []
    for index, layer in enumerate(model):
        if isinstance(layer, Standardize):
            steps.append(("standardize", index))
        elif isinstance(layer, nn.Linear):
            steps.append(("linear", index))
        elif isinstance(layer, nn.Dropout):
            steps.append(("dropout", layer.p))
        elif isinstance(layer, nn.Sigmoid):
            steps.append(("sigmoid",))
        else:
            steps.append(("activation", ACTIVATION_NAMES[type(layer)]))
    return tuple(steps)


def predict(model: nn.Sequential, x: np.ndarray) -> np.ndarray:
    """P(y = 1) (float32) for each row of `x` (no dropout), by stages/lib/net.py's arithmetic, not a BLAS."""
    state = {name: tensor.detach().numpy() for name, tensor in model.state_dict().items()}
    return predict_arrays(recipe(model), state, x)
