"""The MLP without torch: its layers as a recipe, its tensors' names and shapes, its file read as NumPy
arrays, and its predictions. stages/lib/model.py builds the torch module from the same recipe."""

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as load_arrays

from stages.lib.cli import UserError
from stages.lib.exact import NUMPY
from stages.lib.names import RELU
from stages.lib.net import Layout, Recipe, forward

Shapes = dict[str, tuple[int, ...]]


def widths(hidden: int | Sequence[int]) -> tuple[int, ...]:
    """Hidden layer widths; a single width means one hidden layer."""
    return (hidden,) if isinstance(hidden, int) else tuple(hidden)


def describe(n_features: int, hidden: int | Sequence[int]) -> str:
    """`4→7→7→1`."""
    return "→".join(str(width) for width in (n_features, *widths(hidden), 1))


def mlp_recipe(hidden: int | Sequence[int], activation: str = RELU, dropout: float = 0.0,
               standardize: bool = False) -> Recipe:  # fmt: skip
    """Linear + activation (+ dropout) per hidden layer, then one sigmoid unit, each step with its
    position in the torch module (the prefix of its tensors' names)."""
    # Optional layers are left out, not set to identity, so nb1 to nb3 keep their weight names and bytes.
    steps: list[tuple] = [("standardize", 0)] if standardize else []
    for _ in widths(hidden):
        steps += [("linear", len(steps)), ("activation", activation)]
        if dropout > 0:
            steps.append(("dropout", dropout))
    return (*steps, ("linear", len(steps)), ("sigmoid",))


def feature_statistics(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each feature's mean and standard deviation over `x` (the training split), in float64; a constant
    feature's scale is 1."""
    x = x.astype(np.float64)
    std = x.std(axis=0)
    return x.mean(axis=0), np.where(std > 0, std, 1.0)


def layout(steps: Recipe, n_features: int, hidden: int | Sequence[int]) -> Layout:
    """The trained tensors' names and shapes, in the module's order, for the MLP of recipe `steps`."""
    linears = [step[1] for step in steps if step[0] == "linear"]
    sizes = (n_features, *widths(hidden), 1)
    return tuple(
        entry
        for index, width_in, width_out in zip(linears, sizes[:-1], sizes[1:], strict=True)
        for entry in ((f"{index}.weight", (width_out, width_in)), (f"{index}.bias", (width_out,)))
    )


def shapes(steps: Recipe, n_features: int, hidden: int | Sequence[int]) -> Shapes:
    """Every tensor of the model file, name → shape: the trained ones, then the statistics."""
    statistics = {"0.mean": (n_features,), "0.std": (n_features,)} if ("standardize", 0) in steps else {}
    return dict(layout(steps, n_features, hidden)) | statistics


def count_params(n_features: int, hidden: int | Sequence[int]) -> int:
    """Number of trained weights and biases (standardisation statistics are not trained)."""
    return sum(math.prod(shape) for _, shape in layout(mlp_recipe(hidden), n_features, hidden))


def load_weights(
    path: Path, steps: Recipe, n_features: int, hidden: int | Sequence[int]
) -> dict[str, np.ndarray]:
    """The model file at `path` as NumPy arrays, with an error that names a missing file, a corrupt one,
    or weights that do not fit the params' MLP (recipe `steps`), and its fix."""
    fix = "run `dvc repro` (or `dvc pull`) to rebuild it"
    try:
        arrays = load_arrays(path.read_bytes())
    except FileNotFoundError:
        raise UserError(f"{path}: model file not found; {fix}") from None
    except (SafetensorError, ValueError) as error:
        raise UserError(f"{path}: corrupt model file ({error}); {fix}") from None
    found = {name: tuple(array.shape) for name, array in arrays.items()}
    if found != shapes(steps, n_features, hidden):
        raise UserError(f"{path}: weights {found} do not fit a {describe(n_features, hidden)} MLP"
                        f"{' with standardisation' if ('standardize', 0) in steps else ''} (model and data "
                        f"params in params.yaml); {fix}")  # fmt: skip
    return arrays


def predict(steps: Recipe, state: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """P(y = 1) (float32) for each row of `x` (no dropout), by stages/lib/net.py's arithmetic, not a BLAS."""
    copy = {name: value[None] for name, value in state.items()}
    return forward(NUMPY, steps, copy, copy, x[None])[0][0]
