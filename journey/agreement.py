"""The exact arithmetic against a framework's own (PyTorch's or JAX's), and one framework's own against
the other's: one experiment trained each way from the same draws (initial weights, batch order, dropout
masks), then evaluated with the stages' own functions."""

import dataclasses
from dataclasses import dataclass

import numpy as np
from torch import nn

from stages.evaluate import evaluate
from stages.generate import dataset
from stages.lib.io import History
from stages.lib.mlp import count_params
from stages.lib.model import predict
from stages.lib.names import EXACT, JAX, NATIVE, TORCH
from stages.params import Params
from stages.split import split

# How far a whole run may end between two arithmetics: about 10x the largest difference measured over
# the named experiments (2026-12-03, AMD EPYC, torch 2.13.0+cpu, jax 0.10.2, optax 0.2.8). PyTorch's own
# against the exact arithmetic: weights 4.8e-6 (nb5-deep), an epoch's loss 1.0e-7 (nb7-breast-cancer), a
# metric 6.5e-7 (nb2-mse). JAX's own against either: weights 3.8e-3, loss 6.7e-5, metric 1.8e-5, all
# nb5-deep (nb1 to nb4, nb6 and nb7 within 1.0e-4, 7.2e-6 and 1.4e-6). The kernels round their own way
# on other CPUs; the margin is for them.
TOLERANCES = {"weights": 5e-5, "losses": 1e-6, "metrics": 1e-5}
JAX_TOLERANCES = {"weights": 4e-2, "losses": 7e-4, "metrics": 2e-4}


def tolerances(framework: str) -> dict[str, float]:
    """How far a run in `framework`'s own arithmetic may end from the exact one (and, for JAX, from
    PyTorch's own)."""
    return JAX_TOLERANCES if framework == JAX else TOLERANCES


@dataclass(frozen=True)
class Run:
    """A trained run: the model's state, its loss curves and its metrics document (eval/metrics.json's)."""

    state: dict[str, np.ndarray]
    history: History
    metrics: dict


@dataclass(frozen=True)
class Differences:
    """The largest absolute differences between two runs of one experiment."""

    weights: float  # any trained weight or bias
    losses: float  # any epoch's train or validation loss
    metrics: float  # any number of the metrics document but the fit diagnosis (whose best epoch is an index)
    same_verdict: bool  # the fit diagnosis's verdict


def run(params: Params, arithmetic: str, framework: str | None = None) -> Run:
    """Train and evaluate `params` in `arithmetic` (and `framework`, if given), as the train and evaluate
    stages do."""
    from stages.train import train  # torch's import is paid by the commands that train

    framework = framework or params.train.framework
    params = dataclasses.replace(params, train=dataclasses.replace(params.train, arithmetic=arithmetic,
                                                                   framework=framework))  # fmt: skip
    train_data, val_data = split(dataset(params.data), params.split.val_fraction, params.split.seed)
    model, history = train(train_data, val_data, params)
    probs = [predict(model, data.x).astype(np.float64) for data in (train_data, val_data)]
    synthetic, loss = params.data.source == "synthetic", params.train.loss
    metrics = evaluate(
        count_params(train_data.x.shape[1], params.model.hidden),
        loss,
        train_data,
        val_data,
        *probs,
        history,
        synthetic,
    )
    return Run(_state(model), history, metrics)


def compare(params: Params) -> Differences:
    """`params` trained in the exact arithmetic and in its framework's own, and how far apart they end.
    The exact run trains in torch: JAX's exact run has its bits (tests/test_train_jax.py)."""
    return differences(run(params, EXACT, TORCH), run(params, NATIVE))


def differences(a: Run, b: Run) -> Differences:
    """The largest differences between two runs of one experiment."""
    curves = [(a.history.train_loss, b.history.train_loss), (a.history.val_loss, b.history.val_loss)]
    return Differences(
        weights=max(_largest(a.state[name], b.state[name]) for name in a.state),
        losses=max(_largest(x, y) for x, y in curves),
        metrics=_largest(_numbers(a.metrics), _numbers(b.metrics)),
        same_verdict=a.metrics["fit"]["verdict"] == b.metrics["fit"]["verdict"],
    )


def _state(model: nn.Module) -> dict[str, np.ndarray]:
    return {name: tensor.detach().numpy().astype(np.float64) for name, tensor in model.state_dict().items()}


def _numbers(metrics: dict) -> np.ndarray:
    """The metrics document's numbers but the fit diagnosis, in a fixed order (None as NaN)."""
    leaves = [metrics["train"]["loss"], *(metrics["val"][key] for key in sorted(metrics["val"]))]
    return np.array([np.nan if value is None else value for value in leaves], np.float64)


def _largest(a, b) -> float:
    return float(np.nanmax(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
