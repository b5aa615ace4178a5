"""The report's figures: loss curves per lesson, metric bars with CI whiskers, decision boundaries.

They are drawn from the seeds stage's outputs: each config's mean curves, its table, its first model.
The decision boundaries are the evaluate stage's drawing (stages/lib/drawing.py): for more than two
features, in the plane of the two directions the label rule reads.
"""

from pathlib import Path

import matplotlib
import numpy as np
from safetensors.numpy import load as load_arrays

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from stages.generate import BALANCE_OFFSET
from stages.lib.drawing import CAPTION, draw_boundary, plane_for, save_png
from stages.lib.io import read_history
from stages.lib.metrics import VALIDATION
from stages.lib.mlp import mlp_recipe
from stages.params import Params
from study.lib.stats import summarize
from study.seeds import Seeds, by_index, parts

METRIC_LABELS = {metric.name: metric.label for metric in VALIDATION}


def draw_all(out: Path, runs: Path, tables: dict, lessons: list, configs: dict[str, Params]) -> list[str]:
    """Write every figure into `out` and return their file names; `configs` has the params of each."""
    figures = {
        "loss_curves.png": loss_curves(runs, configs, lessons),
        "metrics.png": metric_bars(tables),
        "decision_boundaries.png": decision_boundaries(runs, configs, tables),
    }
    for name, figure in figures.items():
        save_png(figure, out / name)
    return list(figures)


def loss_curves(runs: Path, configs: dict, lessons: list):
    """Per lesson, the mean over seeds of each config's train (solid) and validation (dashed) loss, as
    the notebooks' `dvc plots` draw them.

    Configs trained on different losses get one y axis each (BCE left, MSE right): their units differ.
    """
    figure, axes = plt.subplots(1, len(lessons), figsize=(5.5 * len(lessons), 4.4), dpi=100, squeeze=False)
    for ax, lesson in zip(axes[0], lessons, strict=True):
        names = lesson.configs()
        losses = sorted({configs[config].train.loss for config in names})
        y_axes = {loss: ax if index == 0 else ax.twinx() for index, loss in enumerate(losses)}
        for index, config in enumerate(names):
            loss = configs[config].train.loss
            mean = read_history(runs / config / "history.csv")
            epochs, target = np.arange(1, len(mean.train_loss) + 1, dtype=np.float64), y_axes[loss]
            target.plot(epochs, mean.train_loss, color=f"C{index}", label=f"{config} train")
            validation = f"{config} validation"
            target.plot(epochs, mean.val_loss, color=f"C{index}", linestyle="--", label=validation)
        for loss, target in y_axes.items():
            target.set_ylabel(f"{loss.upper()} loss")
        handles = [h for target in y_axes.values() for h in target.get_legend_handles_labels()[0]]
        if handles:
            ax.legend(handles=handles, fontsize=8)
        ax.set(title=lesson.claim, xlabel="epoch")
        ax.title.set_fontsize(10)
        ax.grid(alpha=0.3)
    figure.suptitle("Loss per epoch, mean over seeds (solid: train, dashed: validation)")
    figure.tight_layout(w_pad=3)
    return figure


def metric_bars(tables: dict):
    """Per metric, each config's mean over seeds with its 95% confidence interval as a whisker."""
    configs = list(tables)
    figure, axes = plt.subplots(1, len(METRIC_LABELS), figsize=(4 * len(METRIC_LABELS), 4.5), dpi=100)
    for ax, (metric, label) in zip(axes, METRIC_LABELS.items(), strict=True):
        summaries = [summarize(list(by_index(tables[c], metric).values())) for c in configs]
        means = np.array([s.mean for s in summaries])
        whiskers = np.array([[s.mean - s.low, s.high - s.mean] for s in summaries]).T
        ax.bar(
            range(len(configs)), means, yerr=whiskers, capsize=4, color=[f"C{i}" for i in range(len(configs))]
        )
        low = np.nanmin([s.low if np.isfinite(s.low) else s.mean for s in summaries])
        high = np.nanmax([s.high if np.isfinite(s.high) else s.mean for s in summaries])
        pad = 0.15 * (high - low) + 1e-3
        ax.set_ylim(low - pad, high + pad)
        ax.set_xticks(range(len(configs)), configs, rotation=45, ha="right", fontsize=8)
        ax.set(title=f"validation {label}", ylabel=label)
        ax.grid(axis="y", alpha=0.3)
    figure.suptitle("Mean over seeds, whiskers: 95% confidence interval (y axes do not start at 0)")
    figure.tight_layout()
    return figure


def _first_run(runs: Path, config: Params, name: str, row: dict):
    """The recipe, weights, train and validation splits of the config's first run (row 0 of its table)."""
    train, val = parts(config, Seeds.from_row(row))
    m = config.model
    stacked = load_arrays((runs / name / "models.safetensors").read_bytes())
    weights = {key: array[0] for key, array in stacked.items()}
    return mlp_recipe(m.hidden, m.activation, m.dropout, config.data.standardize), weights, train, val


def decision_boundaries(runs: Path, all_configs: dict, tables: dict):
    """Each config's first model, as the evaluate stage draws it (stages/lib/drawing.py)."""
    configs = [c for c in tables if all_configs[c].data.source == "synthetic"]
    columns = min(4, len(configs))
    rows = -(-len(configs) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3.8 * rows), dpi=100, squeeze=False)
    for ax, config in zip(axes.flat, configs, strict=False):
        steps, weights, train, val = _first_run(runs, all_configs[config], config, tables[config][0])
        draw_boundary(ax, steps, weights, val, plane_for(train, synthetic=True), f"{config} (first seed)")
        ax.title.set_fontsize(10)
    for ax in list(axes.flat)[len(configs) :]:
        ax.axis("off")
    figure.suptitle(f"Decision boundary over the validation points; {CAPTION}; the true rule: "
                    f"v = |u| - {BALANCE_OFFSET:.2f}")  # fmt: skip
    figure.tight_layout()
    return figure
