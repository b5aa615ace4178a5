"""The `journey` command line, and the layout rule that no module imports one that imports it back."""

import argparse
import ast
import sys
from pathlib import Path

import pytest
from conftest import ROOT, sh

from journey import plots
from journey.cli import COMMANDS, parser
from stages.lib.cli import UserError, restore_hint


def test_help_lists_every_command():
    text = sh(ROOT, "journey", "--help").stdout
    for name in ("experiments", "results", "study", "check", "plots", "remote"):
        assert name in text
    assert set(COMMANDS) == {"experiments", "results", "study", "check", "plots", "remote"}


def test_a_bad_command_is_refused_by_the_parser():
    result = sh(ROOT, "journey", "retrain", check=False)
    assert result.returncode == 2 and "invalid choice: 'retrain'" in result.stderr
    assert parser().parse_args(["check", "--skip-study"]).skip_study


def imports(path: Path) -> set[str]:
    """The project modules a file imports (stages.x, journey.y)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
        names += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        found |= {name for name in names if name.split(".")[0] in ("stages", "journey")}
    return found


def test_no_module_imports_one_that_imports_it_back():
    modules = {
        f"{p.parent.name}.{p.stem}": p
        for folder in ("stages", "journey")
        for p in (ROOT / folder).glob("*.py")
    }
    graph = {name: {i for i in imports(path) if i in modules and i != name} for name, path in modules.items()}

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        return any(n == target or (n not in seen and reaches(n, target, seen | {n})) for n in graph[start])

    cycles = sorted(name for name in graph if reaches(name, name, set()))
    assert cycles == []


def test_only_journey_dvc_runs_dvc_or_git():
    for path in [*(ROOT / "journey").glob("*.py"), *(ROOT / "stages").glob("*.py")]:
        text = path.read_text()
        if path.name != "dvc.py":
            assert "subprocess" not in text and "dvc.api" not in text and "dvc.repo" not in text, path


def test_plots_without_its_renderer_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "vl_convert", None)  # as after `pip install -e .` alone
    args = argparse.Namespace(revisions=[], out=tmp_path)
    with pytest.raises(
        UserError, match=r"vl-convert-python, which is not installed; run `pip install -e '\.\[test\]'`"
    ):
        plots.command(args)


def test_a_queued_experiments_failure_gives_no_restore_hint(tmp_path, monkeypatch):
    # DVC runs a queued experiment in a temporary copy under .dvc/tmp/exps: the workspace's outputs stay.
    copy = tmp_path / ".dvc/tmp/exps/tmp5w0cfipv"
    copy.mkdir(parents=True)
    monkeypatch.chdir(copy)
    monkeypatch.setenv("DVC_STAGE", "train")
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    assert restore_hint() == ""
    monkeypatch.chdir(tmp_path)
    assert "`dvc checkout train` brings back" in restore_hint()
