"""The MLP of the notebooks: n_features → hidden… → 1, a sigmoid output, saved as safetensors."""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from torch import nn

from stages.lib.cli import UserError
from stages.lib.exact import NUMPY
from stages.lib.io import write_atomic
from stages.lib.names import LEAKY_RELU, RELU, TANH
from stages.lib.net import Recipe, forward

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
        std = x.astype(np.float64).std(axis=0)
        self.mean.copy_(torch.from_numpy(x.astype(np.float64).mean(axis=0)))
        self.std.copy_(torch.from_numpy(np.where(std > 0, std, 1.0)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def widths(hidden: int | Sequence[int]) -> tuple[int, ...]:
    """Hidden layer widths; a single width means one hidden layer."""
    return (hidden,) if isinstance(hidden, int) else tuple(hidden)


def build_mlp(n_features: int, hidden: int | Sequence[int], activation: str = RELU, dropout: float = 0.0,
              standardize: bool = False) -> nn.Sequential:  # fmt: skip
    """Linear + activation (+ dropout) per hidden layer, then one sigmoid unit: the output is P(y = 1)."""
    # Optional layers are left out, not set to identity, so nb1 to nb3 keep their weight names and bytes.
    layers: list[nn.Module] = [Standardize(n_features)] if standardize else []
    width = n_features
    for out in widths(hidden):
        layers += [nn.Linear(width, out), ACTIVATIONS[activation]()]
        if dropout > 0:
            layers.append(DrawnDropout(dropout))
        width = out
    return nn.Sequential(*layers, nn.Linear(width, 1), nn.Sigmoid())


def describe(n_features: int, hidden: int | Sequence[int]) -> str:
    """`4→7→7→1`."""
    return "→".join(str(width) for width in (n_features, *widths(hidden), 1))


def count_params(model: nn.Module) -> int:
    """Number of trainable weights and biases (standardisation statistics are not trained)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def save_model(model: nn.Module, path: Path) -> None:
    """Save weights and statistics as safetensors: no pickle, and the same model gives the same bytes."""
    tensors = {name: tensor.detach().contiguous() for name, tensor in model.state_dict().items()}
    write_atomic(path, save_tensors(tensors))


def load_model(path: Path, n_features: int, hidden: int | Sequence[int], activation: str = RELU,
               dropout: float = 0.0, standardize: bool = False) -> nn.Sequential:  # fmt: skip
    """Load a model file into a freshly built MLP, with an error that names a mismatch and its fix."""
    fix = "run `dvc repro` (or `dvc pull`) to rebuild it"
    try:
        tensors = load_tensors(path.read_bytes())
    except FileNotFoundError:
        raise UserError(f"{path}: model file not found; {fix}") from None
    except (SafetensorError, ValueError) as error:
        raise UserError(f"{path}: corrupt model file ({error}); {fix}") from None
    model = build_mlp(n_features, hidden, activation, dropout, standardize)
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    found = {name: tuple(t.shape) for name, t in tensors.items()}
    if found != expected:
        raise UserError(f"{path}: weights {found} do not fit a {describe(n_features, hidden)} MLP"
                        f"{' with standardisation' if standardize else ''} (model and data params "
                        f"in params.yaml); {fix}")  # fmt: skip
    model.load_state_dict(tensors)
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
    state = {name: tensor.detach().numpy()[None] for name, tensor in model.state_dict().items()}
    return forward(NUMPY, recipe(model), state, state, x[None])[0][0]
