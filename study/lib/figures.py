"""The report's figures: loss curves per lesson, metric bars with CI whiskers, decision boundaries.

They are drawn from the seeds stage's outputs: each config's mean curves, its table, its first model.
For more than two features the decision boundary is drawn in the plane of the two directions the
label rule reads (u: the scaled sum of the even-indexed features, v: of the odd ones): validation
points are projected onto it, and the model is evaluated on it with every other direction at 0.
"""

import io
from pathlib import Path

import matplotlib
import numpy as np
from safetensors.torch import load as load_tensors

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from stages.generate import BALANCE_OFFSET, rule_plane
from stages.lib.io import read_history, write_atomic
from stages.lib.metrics import VALIDATION
from stages.lib.model import build_mlp, predict
from stages.params import Params
from study.lib.stats import summarize
from study.seeds import Seeds, by_index, parts

METRIC_LABELS = {metric.name: metric.label for metric in VALIDATION}
GRID = np.linspace(-3, 3, 241)


def draw_all(out: Path, runs: Path, tables: dict, lessons: list, configs: dict[str, Params]) -> list[str]:
    """Write every figure into `out` and return their file names; `configs` has the params of each."""
    figures = {
        "loss_curves.png": loss_curves(runs, configs, lessons),
        "metrics.png": metric_bars(tables),
        "decision_boundaries.png": decision_boundaries(runs, configs, tables),
    }
    for name, figure in figures.items():
        save(figure, out / name)
    return list(figures)


def save(figure, path: Path) -> None:
    """PNG without a version stamp, so the same runs give the same bytes."""
    png = io.BytesIO()
    figure.savefig(png, format="png", metadata={"Software": None})
    plt.close(figure)
    write_atomic(path, png.getvalue())


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
    """The model and validation split of the config's first run (row 0 of its table)."""
    seeds = Seeds.from_row(row)
    val = parts(config, seeds)[1]
    m = config.model
    net = build_mlp(val.x.shape[1], m.hidden, m.activation, m.dropout, config.data.standardize)
    stacked = load_tensors((runs / name / "models.safetensors").read_bytes())
    net.load_state_dict({key: tensor[0] for key, tensor in stacked.items()})
    return net.eval(), val


def decision_boundaries(runs: Path, all_configs: dict, tables: dict):
    """Each config's first model: P(y = 1) over the rule's plane, its 0.5 contour, the true rule."""
    configs = [c for c in tables if all_configs[c].data.source == "synthetic"]
    columns = min(4, len(configs))
    rows = -(-len(configs) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3.8 * rows), dpi=100, squeeze=False)
    u, v = np.meshgrid(GRID, GRID)
    for ax, config in zip(axes.flat, configs, strict=False):
        net, val = _first_run(runs, all_configs[config], config, tables[config][0])
        plane = rule_plane(val.x.shape[1])
        points = np.column_stack([u.ravel(), v.ravel()]) @ plane
        prob = predict(net, points.astype(np.float32)).reshape(u.shape)
        ax.contourf(u, v, prob, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
        ax.contour(u, v, prob, levels=[0.5], colors="black", linewidths=1.5)
        ax.plot(GRID, np.abs(GRID) - BALANCE_OFFSET, "k:", linewidth=1)
        projected = val.x.astype(np.float64) @ plane.T
        ax.scatter(
            projected[:, 0], projected[:, 1], c=val.y, cmap="RdBu_r", s=8, edgecolors="white", linewidths=0.3
        )
        ax.set(xlim=(-3, 3), ylim=(-3, 3), xlabel="u", ylabel="v", title=f"{config} (first seed)")
        ax.title.set_fontsize(10)
    for ax in list(axes.flat)[len(configs) :]:
        ax.axis("off")
    figure.suptitle(
        "Decision boundary (black: P = 0.5; dotted: the true rule v = |u| - 0.77), validation points"
    )
    figure.tight_layout()
    return figure
