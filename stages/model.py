"""The MLP of the notebooks: n_features → hidden… → 1, a sigmoid output, saved as safetensors."""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from torch import nn

from stages.cli import UserError
from stages.io import write_atomic

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "leaky_relu": nn.LeakyReLU}


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


def build_mlp(n_features: int, hidden: int | Sequence[int], activation: str = "relu", dropout: float = 0.0,
              standardize: bool = False) -> nn.Sequential:  # fmt: skip
    """Linear + activation (+ dropout) per hidden layer, then one sigmoid unit: the output is P(y = 1)."""
    # Optional layers are left out, not set to identity, so nb1 to nb3 keep their weight names and bytes.
    layers: list[nn.Module] = [Standardize(n_features)] if standardize else []
    width = n_features
    for out in widths(hidden):
        layers += [nn.Linear(width, out), ACTIVATIONS[activation]()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
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


def load_model(path: Path, n_features: int, hidden: int | Sequence[int], activation: str = "relu",
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


class StackedMLP(nn.Module):
    """Copies of one MLP side by side, each tensor with a leading copy axis: a layer is one batched matmul.

    Every trained tensor is a view into one flat parameter, so an optimiser step is a few kernels for
    all copies. Copy k computes what it would alone, so one copy (the train stage) and twenty (the
    seeds study) run the same code and give the same bytes.
    """

    def __init__(self, models: Sequence[nn.Sequential]) -> None:
        super().__init__()
        self.layers = list(models[0])  # the recipe; the template's own weights are not used
        states = [model.state_dict() for model in models]
        self.names = list(states[0])
        trained = [name for name in self.names if name.endswith(("weight", "bias"))]
        stacked = {name: torch.stack([state[name] for state in states]) for name in self.names}
        self.flat = nn.Parameter(torch.cat([stacked[name].reshape(-1) for name in trained]))
        self.views: dict[str, tuple[int, torch.Size]] = {}
        offset = 0
        for name in trained:
            self.views[name] = (offset, stacked[name].shape)
            offset += stacked[name].numel()
        for name in self.names:
            if name not in self.views:
                self.register_buffer(_attribute(name), stacked[name])

    def tensor(self, name: str) -> torch.Tensor:
        """The stacked tensor of state-dict entry `name`: a view of `flat`, or a buffer."""
        if name in self.views:
            offset, shape = self.views[name]
            return self.flat[offset : offset + shape.numel()].view(shape)
        return getattr(self, _attribute(name))

    def forward(self, x: torch.Tensor, keeps: Sequence[torch.Tensor] = ()) -> torch.Tensor:
        """Inputs (copies, rows, features) → P(y = 1) as (copies, rows); with `keeps`, one mask
        (copies, rows, width) per dropout layer, dropout is applied (training), else not."""
        masks = iter(keeps)
        for index, layer in enumerate(self.layers):
            if isinstance(layer, Standardize):
                mean, std = self.tensor(f"{index}.mean"), self.tensor(f"{index}.std")
                x = (x - mean.unsqueeze(1)) / std.unsqueeze(1)
            elif isinstance(layer, nn.Linear):
                weight, bias = self.tensor(f"{index}.weight"), self.tensor(f"{index}.bias")
                x = torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))
            elif isinstance(layer, nn.Dropout):
                x = x * next(masks) / (1 - layer.p) if keeps else x
            else:
                x = layer(x)  # activations and the sigmoid work element by element
        return x.squeeze(2)

    def unstacked(self, index: int) -> dict[str, torch.Tensor]:
        """Copy `index`'s state dict, under the names of the MLP it was stacked from."""
        return {name: self.tensor(name)[index].detach().cpu().clone() for name in self.names}


def _attribute(state_name: str) -> str:
    return "stacked_" + state_name.replace(".", "_")


def predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """P(y = 1) for each row of `x`, in evaluation mode (no dropout) and without gradients."""
    model.eval()
    with torch.no_grad():
        return model(x).squeeze(1)
