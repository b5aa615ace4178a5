"""The MLP of the notebooks (n_features → hidden → 1, ReLU, sigmoid), saved as safetensors."""

from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from torch import nn

from stages.cli import UserError
from stages.io import write_atomic


def build_mlp(n_features: int, hidden: int) -> nn.Sequential:
    """One hidden ReLU layer and a sigmoid output: the output is P(y = 1)."""
    return nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, 1), nn.Sigmoid())


def count_params(model: nn.Module) -> int:
    """Number of trainable weights and biases."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def save_model(model: nn.Module, path: Path) -> None:
    """Save the weights as safetensors: no pickle, and the same weights give the same bytes."""
    tensors = {name: tensor.detach().contiguous() for name, tensor in model.state_dict().items()}
    write_atomic(path, save_tensors(tensors))


def load_model(path: Path, n_features: int, hidden: int) -> nn.Sequential:
    """Load weights into a freshly built MLP, with an error that names a mismatch and its fix."""
    fix = "run `dvc repro` (or `dvc pull`) to rebuild it"
    try:
        tensors = load_tensors(path.read_bytes())
    except FileNotFoundError:
        raise UserError(f"{path}: model file not found; {fix}") from None
    except (SafetensorError, ValueError) as error:
        raise UserError(f"{path}: corrupt model file ({error}); {fix}") from None
    model = build_mlp(n_features, hidden)
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    found = {name: tuple(t.shape) for name, t in tensors.items()}
    if found != expected:
        raise UserError(
            f"{path}: weights {found} do not fit a {n_features}→{hidden}→1 MLP "
            f"(model.hidden in params.yaml); {fix}"
        )
    model.load_state_dict(tensors)
    return model.eval()


def predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """P(y = 1) for each row of `x`, in evaluation mode and without gradients."""
    model.eval()
    with torch.no_grad():
        return model(x).squeeze(1)
