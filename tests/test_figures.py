"""The report's figures: what each draws, from the seeds stage's outputs, with the same bytes every time."""

import dataclasses

import numpy as np
import pytest
from conftest import make_params

from stages.lib.configs import Lesson
from stages.lib.drawing import save_png
from stages.lib.io import History, write_history
from study.lib import figures
from study.seeds import METRIC_COLUMNS, SEED_COLUMNS


def rows(config: str, accuracies: list[float]) -> list[dict]:
    blank = dict.fromkeys((*SEED_COLUMNS, *METRIC_COLUMNS), "0.5")
    return [{**blank, "config": config, "source": "all", "index": str(i), "accuracy": str(a)}
            for i, a in enumerate(accuracies)]  # fmt: skip


def test_metric_bars_show_each_configs_mean_per_metric():
    tables = {"a": rows("a", [0.90, 0.92, 0.94]), "b": rows("b", [0.80, 0.82, 0.84])}
    figure = figures.metric_bars(tables)
    assert len(figure.axes) == len(figures.METRIC_LABELS)
    accuracy = next(ax for ax in figure.axes if ax.get_title() == "validation accuracy")
    assert [bar.get_height() for bar in accuracy.patches] == pytest.approx([0.92, 0.82])
    assert [label.get_text() for label in accuracy.get_xticklabels()] == ["a", "b"]


@pytest.fixture
def curves(tmp_path):
    """Mean curves of three configs: two trained on BCE, one on MSE."""
    for config, start in (("bce1", 0.7), ("bce2", 0.6), ("mse", 0.25)):
        values = (start * np.linspace(1, 0.5, 5)).tolist()
        write_history(tmp_path / config / "history.csv", History(values, values))
    bce = make_params(loss="bce")
    configs = {"bce1": bce, "bce2": bce, "mse": dataclasses.replace(bce, train=make_params(loss="mse").train)}
    return tmp_path, configs


def test_loss_curves_draw_train_and_validation_per_config_one_panel_per_lesson(curves):
    runs, configs = curves
    lessons = [Lesson("bce1 beats bce2", "bce1", "bce2", 0.01), Lesson("mse beats bce1", "mse", "bce1", 0.01)]
    figure = figures.loss_curves(runs, configs, lessons)
    panels = [ax for ax in figure.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["bce1 beats bce2", "mse beats bce1"]
    assert len(panels[0].lines) == 4 and panels[0].get_ylabel() == "BCE loss"
    assert len(figure.axes) == 3  # the MSE-vs-BCE panel has a second y axis: the units differ
    assert {ax.get_ylabel() for ax in figure.axes} == {"BCE loss", "MSE loss"}


def test_saving_a_figure_twice_gives_the_same_bytes(tmp_path):
    tables = {"a": rows("a", [0.90, 0.92, 0.94])}
    save_png(figures.metric_bars(tables), tmp_path / "1.png")
    save_png(figures.metric_bars(tables), tmp_path / "2.png")
    assert (tmp_path / "1.png").read_bytes() == (tmp_path / "2.png").read_bytes()
