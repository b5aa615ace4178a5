"""The comparison `journey experiments` prints: the params that differ, the key metrics, 120 columns."""

from pathlib import Path

from journey.compare import WIDTH, table
from stages.lib.configs import ALL, NOTEBOOKS, load_experiments

METRICS = {"n_params": 17, "val": {"accuracy": 0.945, "roc_auc": 0.968387, "loss": 0.249595},
           "fit": {"verdict": "good fit", "best_epoch": 455}}  # fmt: skip


def finished(groups: tuple[str, ...]) -> dict[str, dict]:
    """Each named experiment of `groups` as `dvc exp show --json` lists a finished one."""
    return {
        name: {"data": {"params": {"params.yaml": {"data": config.plain()}},
                        "metrics": {"eval/metrics.json": {"data": METRICS}}}}
        for name, config in load_experiments(Path("experiments.yaml"), groups).items()
    }  # fmt: skip


def test_the_notebooks_show_what_differs_and_the_key_metrics_within_120_columns():
    lines = table(finished(NOTEBOOKS)).splitlines()
    assert max(len(line) for line in lines) <= WIDTH
    headers = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert headers == ["experiment", "hidden", "loss", "L2", "samples", "features", "params", "val acc",
                       "ROC AUC", "val loss", "fit"]  # fmt: skip
    assert lines[4].split("|")[1].strip() == "nb3-mse-l2" and "0.01" in lines[4]
    assert "Also differ" not in "\n".join(lines)


def test_params_that_do_not_fit_are_named_below_the_table():
    text = table(finished(ALL))
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= WIDTH
    assert "Also differ:" in text and "--full" in text
    named_below = " ".join(text.split("Also differ: ")[1].split()).split(" (")[0].split(", ")
    assert "data.source" in named_below and "model.hidden" not in named_below


def test_a_wider_terminal_shows_more_params():
    assert table(finished(ALL), width=400).count("Also differ") == 0
