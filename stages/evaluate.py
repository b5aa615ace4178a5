"""Stage evaluate: validation metrics (stages/lib/metrics.py), ROC and confusion data, a loss-curve PNG.

It reads the model file as NumPy arrays and predicts with the exact arithmetic on NumPy, so it imports
neither torch nor scikit-learn (tests/test_imports.py pins that).
"""

from pathlib import Path

import numpy as np

from stages.lib.cli import parse_paths, run
from stages.lib.diagnosis import diagnose
from stages.lib.drawing import CAPTION, draw_boundary, plane_for, save_png
from stages.lib.io import Dataset, History, read_live_history, read_splits, write_json, write_table
from stages.lib.metrics import VALIDATION, brier, log_loss, roc_curve
from stages.lib.mlp import count_params, load_weights, mlp_recipe, predict
from stages.lib.names import BCE, MSE
from stages.lib.net import Recipe
from stages.params import DataParams, ModelParams, TrainParams, load_section

# The training objective of each loss: BCE is log loss, MSE is the Brier score.
OBJECTIVES = {BCE: log_loss, MSE: brier}
THRESHOLD = 0.5


def noise_ceiling_accuracy(data: Dataset, synthetic: bool = True) -> float | None:
    """Best reachable accuracy: how often the clean label, a perfect guess, matches the noisy one.

    Real data has no known clean labels, so no ceiling: None.
    """
    return float(np.mean(data.y == data.y_clean)) if synthetic else None


def classification_metrics(data: Dataset, prob: np.ndarray, synthetic: bool = True) -> dict[str, float]:
    """Validation metrics that mean the same whichever loss trained the model."""
    predicted = (prob >= THRESHOLD).astype(np.int64)
    scores = {m.name: m.score(data.y, predicted if m.thresholded else prob) for m in VALIDATION}
    return scores | {"noise_ceiling_accuracy": noise_ceiling_accuracy(data, synthetic)}


def evaluate(
    n_params: int,
    loss: str,
    train: Dataset,
    val: Dataset,
    train_prob: np.ndarray,
    val_prob: np.ndarray,
    history: History,
    synthetic: bool = True,
) -> dict:
    """The metrics document: size, the objective on both splits, validation metrics, the fit diagnosis."""
    objective = OBJECTIVES[loss]
    validation = classification_metrics(val, val_prob, synthetic)
    base_rate = np.full(len(train.y), np.count_nonzero(train.y) / len(train.y))
    fit = diagnose(
        history.train_loss,
        history.val_loss,
        accuracy=validation["accuracy"],
        noise_ceiling=validation["noise_ceiling_accuracy"],
        constant_loss=float(objective(train.y, base_rate)),
    )
    return {
        "n_params": n_params,
        "train": {"loss": float(objective(train.y, train_prob))},
        "val": {"loss": float(objective(val.y, val_prob)), **validation},
        "fit": fit.as_metrics(),
    }


def write_roc(path: Path, data: Dataset, prob: np.ndarray) -> None:
    """ROC curve points for DVC's `simple` template."""
    fpr, tpr, threshold = roc_curve(data.y, prob)
    threshold = np.minimum(threshold, 1.0)  # the first point's is +inf; keep the CSV finite
    write_table(
        path,
        {"fpr": fpr, "tpr": tpr, "threshold": threshold},
        {"fpr": "%.6f", "tpr": "%.6f", "threshold": "%.6f"},
    )


def write_confusion(path: Path, data: Dataset, prob: np.ndarray) -> None:
    """One row per validation sample, for DVC's `confusion` template."""
    predicted = (prob >= THRESHOLD).astype(np.int64)
    write_table(path, {"actual": data.y, "predicted": predicted}, {"actual": "%d", "predicted": "%d"})


def _figure(width: float, height: float):
    """A new matplotlib figure and axes, matplotlib loaded only now (evaluate draws nothing else)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height), dpi=100)


def plot_history(path: Path, history: History, loss: str) -> None:
    """Train and validation loss per epoch, as a PNG."""
    figure, axes = _figure(6, 4)
    epochs = np.arange(1, len(history.train_loss) + 1, dtype=np.float64)
    axes.plot(epochs, history.train_loss, label="train")
    axes.plot(epochs, history.val_loss, label="validation")
    axes.set(xlabel="epoch", ylabel=f"{loss.upper()} loss", title="Loss per epoch")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    save_png(figure, path)


def plot_boundary(path: Path, steps: Recipe, weights: dict[str, np.ndarray], train: Dataset, val: Dataset,
                  synthetic: bool) -> None:  # fmt: skip
    """The model's decision boundary over the validation points, as a PNG (stages/lib/drawing.py)."""
    figure, axes = _figure(5.5, 5.5)
    draw_boundary(
        axes, steps, weights, val, plane_for(train, synthetic), "Decision boundary, validation points"
    )
    figure.text(0.5, 0.01, CAPTION, ha="center", fontsize=8)
    figure.tight_layout(rect=(0, 0.03, 1, 1))
    save_png(figure, path)


def main() -> None:
    """Read --model, --train, --val and the loss curves DVCLive logged in --live; write --metrics, --roc,
    --confusion, --loss-plot and --boundary-plot."""
    args = parse_paths(
        __doc__, "model", "train", "val", "live", "metrics", "roc", "confusion", "loss-plot", "boundary-plot"
    )
    m = load_section(args.params, "model", ModelParams)
    d = load_section(args.params, "data", DataParams)
    loss = load_section(args.params, "train", TrainParams).loss
    train, val = read_splits(args.train, args.val)
    history = read_live_history(args.live)
    n_features = train.x.shape[1]
    steps = mlp_recipe(m.hidden, m.activation, m.dropout, d.standardize)
    weights = load_weights(args.model, steps, n_features, m.hidden)
    train_prob, val_prob = (predict(steps, weights, part.x).astype(np.float64) for part in (train, val))
    write_roc(args.roc, val, val_prob)
    write_confusion(args.confusion, val, val_prob)
    plot_history(args.loss_plot, history, loss)
    synthetic = d.source == "synthetic"
    plot_boundary(args.boundary_plot, steps, weights, train, val, synthetic)
    document = evaluate(
        count_params(n_features, m.hidden), loss, train, val, train_prob, val_prob, history, synthetic
    )
    write_json(args.metrics, document)


if __name__ == "__main__":
    run(main)
