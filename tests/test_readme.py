"""The README documents every `journey` command (its results table: tests/test_results.py)."""

import re

from conftest import ROOT


def test_every_journey_command_in_the_readme_exists_and_every_command_is_documented():
    from journey.cli import COMMANDS

    text = (ROOT / "README.md").read_text()
    assert set(re.findall(r"`journey (\w+)", text)) - {"COMMAND"} == set(COMMANDS)
    assert "[`study/reports/README.md`](study/reports/README.md)" in text


def test_the_simulated_error_rates_are_the_commands_output():
    from study.lib import decide

    assert decide.table(decide.simulate(), 4000) in (ROOT / "README.md").read_text()
