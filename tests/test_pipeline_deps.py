"""dvc.yaml's deps cannot drift: each stage lists exactly the project's code files its command imports.

An import missing from `deps` would let a code change leave a stale lock that `dvc status` calls up
to date; an extra one would rerun a stage for nothing. Both pipelines are read, the notebooks' and the
study's, and every import is followed (also those inside functions: they run when the stage runs).
"""

import ast
import shlex
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

PACKAGES = ("stages", "journey", "study")  # the project's own code; anything else is a library


def module_file(name: str) -> Path | None:
    """The project file of module `name` (a package's __init__.py), or None for a library."""
    if name.split(".")[0] not in PACKAGES:
        return None
    path = ROOT / name.replace(".", "/")
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def imported_modules(path: Path) -> set[str]:
    """Every module named by an import anywhere in the file, with `from a import b` giving a.b too."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def code_files(module: str) -> set[Path]:
    """The project files that running `python -m module` executes: the module, what it imports,
    transitively, and the __init__.py of each package on the way."""
    seen, todo = set(), [module]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__.py and a/b/__init__.py
            path = module_file(".".join(parts[:depth]))
            if path is not None and path.exists() and path not in seen:
                seen.add(path)
                todo += sorted(imported_modules(path))
    return seen


def stages_of(dvc_yaml: Path) -> list[tuple[str, dict]]:
    """(name, stage) for every stage of a dvc.yaml, a `foreach` stage once (its items share the code)."""
    stages = yaml.safe_load(dvc_yaml.read_text())["stages"]
    return [(name, stage.get("do", stage)) for name, stage in stages.items()]


CASES = [(dvc_yaml, name, stage) for dvc_yaml in (ROOT / "dvc.yaml", ROOT / "study/dvc.yaml")
         for name, stage in stages_of(dvc_yaml)]  # fmt: skip


@pytest.mark.parametrize(("dvc_yaml", "name", "stage"), CASES,
                         ids=[f"{d.parent.name}:{n}" for d, n, _ in CASES])  # fmt: skip
def test_a_stage_depends_on_exactly_the_code_it_runs(dvc_yaml, name, stage):
    words = shlex.split(stage["cmd"])
    assert words[:2] == ["python", "-m"], stage["cmd"]
    expected = {path.resolve() for path in code_files(words[2])}
    listed = {(dvc_yaml.parent / dep).resolve() for dep in stage["deps"] if dep.endswith(".py")}
    root = ROOT.resolve()
    missing = sorted(str(path.relative_to(root)) for path in expected - listed)
    extra = sorted(str(path.relative_to(root)) for path in listed - expected)
    assert (missing, extra) == ([], []), (
        f"{dvc_yaml.relative_to(ROOT)} stage {name}: add {missing}, drop {extra}"
    )


def test_the_import_graph_follows_imports_inside_functions():
    assert ROOT / "stages/lib/train_jax.py" in code_files("stages.train")  # imported where JAX is chosen
    assert ROOT / "stages/lib/jax_native.py" in code_files("stages.train")
    assert ROOT / "stages/__init__.py" in code_files("stages.params")
