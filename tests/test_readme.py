"""The README's numbers come from running the pipeline: its nb1 row matches the committed metrics."""

import json
import re
from pathlib import Path

import pytest
from conftest import ROOT


def readme_row(name: str) -> list[str]:
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.startswith(f"| {name} |"):
            return [cell.strip() for cell in line.strip("|").split("|")]
    pytest.fail(f"README has no results row for {name}")


def test_nb1_row_matches_committed_metrics():
    metrics = json.loads(Path(ROOT / "eval" / "metrics.json").read_text())
    val = metrics["val"]
    row = readme_row("nb1-bce")
    expected = [metrics["train"]["loss"], val["loss"], val["accuracy"], val["noise_ceiling_accuracy"],
                val["roc_auc"], val["f1"], val["log_loss"], val["brier"]]  # fmt: skip
    assert row[2] == str(metrics["n_params"])
    assert [float(cell) for cell in row[7:]] == [round(value, 3) for value in expected]


def test_every_journey_command_in_the_readme_exists_and_every_command_is_documented():
    from journey.cli import COMMANDS

    text = (ROOT / "README.md").read_text()
    assert set(re.findall(r"`journey (\w+)", text)) - {"COMMAND"} == set(COMMANDS)
    assert "[`study/reports/README.md`](study/reports/README.md)" in text
