"""Comparing a reproduced run with what was committed: lock hashes, metrics and tables, each
difference a Finding that says what to do; with a tolerance, numbers within it pass."""

import csv
import io
from dataclasses import dataclass
from typing import Any

import yaml

FIXES = {
    "stale": "run `dvc repro` and commit dvc.lock",
    # The arithmetic gives the same bits on every machine (stages/lib/exact.py), so a difference comes from
    # what feeds it: other library versions than pyproject.toml pins, an unseeded draw, or a new
    # computation that does not go through stages/lib/exact.py.
    "nondeterministic": "install the pinned versions (`pip install -e .`) and check again; if it still "
    "differs, the stage computes or draws something outside stages/lib/exact.py and its seeded draws",
}


DATA_PREFIX = "data/"  # outputs that must match bit for bit even with --tolerance


@dataclass(frozen=True)
class Finding:
    """One output or input that does not match, and what to do about it."""

    stage: str
    path: str
    problem: str
    kind: str  # a key of FIXES

    def __str__(self) -> str:
        return f"stage {self.stage}, {self.path}: {self.problem}\n    fix: {FIXES[self.kind]}"


def parse_lock(text: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Per stage of a dvc.lock: its deps and outs (path → md5) and its params (key → value)."""
    stages = (yaml.safe_load(text) or {}).get("stages", {})
    return {
        name: {
            "deps": {dep["path"]: dep.get("md5") for dep in entry.get("deps", [])},
            "params": {
                key: value for file in entry.get("params", {}).values() for key, value in file.items()
            },
            "outs": {out["path"]: out.get("md5") for out in entry.get("outs", [])},
        }
        for name, entry in stages.items()
    }


def compare_locks(committed: dict, reproduced: dict) -> list[Finding]:
    """Findings at their root: a changed input means a stale lock; a changed output alone, nondeterminism."""
    produced = {path for entry in reproduced.values() for path in entry["outs"]}
    findings = [
        Finding(name, "dvc.lock", "stage is missing from dvc.lock", "stale")
        for name in reproduced
        if name not in committed
    ]
    findings += [
        Finding(name, "dvc.yaml", "stage in dvc.lock no longer exists", "stale")
        for name in committed
        if name not in reproduced
    ]
    for name in reproduced.keys() & committed.keys():
        old, new = committed[name], reproduced[name]
        stale = _changed(old["deps"], new["deps"], skip=produced) + _changed(old["params"], new["params"])
        findings += [Finding(name, key, "changed since dvc.lock was written", "stale") for key in stale]
        if stale or _changed(old["deps"], new["deps"]):
            continue  # outputs follow from changed inputs; the root cause is reported where it is
        findings += [
            Finding(
                name,
                path,
                f"differs from dvc.lock (md5 {_short(old['outs'].get(path))} → "
                f"{_short(md5)}) although the stage's code, params and data are unchanged: "
                "the stage is nondeterministic, or the committed output was edited by hand",
                "nondeterministic",
            )
            for path, md5 in new["outs"].items()
            if old["outs"].get(path) != md5
        ]
    return sorted(findings, key=lambda finding: (finding.stage, finding.path))


def _changed(old: dict, new: dict, skip: set[str] = frozenset()) -> list[str]:
    return [
        key for key in sorted(old.keys() | new.keys()) if key not in skip and old.get(key) != new.get(key)
    ]


def _short(md5: str | None) -> str:
    return md5[:8] if md5 else "none"


def flatten(document: dict, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a nested metrics document, keyed `a.b.c`."""
    leaves = {}
    for key, value in document.items():
        if isinstance(value, dict):
            leaves |= flatten(value, f"{prefix}{key}.")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            leaves[f"{prefix}{key}"] = float(value)
    return leaves


def metric_differences(expected: dict[str, float], actual: dict[str, float], tolerance: float) -> list[str]:
    """Metrics that are missing or differ by more than `tolerance`, one line each."""
    lines = []
    for key in sorted(expected.keys() | actual.keys()):
        a, b = expected.get(key), actual.get(key)
        if a is None or b is None or abs(a - b) > tolerance:
            lines.append(f"{key}: {a} → {b}")
    return lines


def leaves(files: dict[str, dict]) -> dict[str, float]:
    """`path:a.b` → value for every numeric metric in DVC's `{path: {"data": document}}` form."""
    return {f"{path}:{key}": value for path, entry in files.items()
            for key, value in flatten(entry.get("data", {})).items()}  # fmt: skip


def tolerate(findings: list[Finding], expected: dict, actual: dict, tolerance: float) -> list[Finding]:
    """Across machines: accept model and eval outputs that differ if every metric is within tolerance."""
    beyond = [
        Finding("(metrics)", line.split(":")[0], f"beyond tolerance {tolerance}: {line}", "nondeterministic")
        for line in metric_differences(expected, actual, tolerance)
    ]
    return forgive(findings, beyond, f"metrics within {tolerance}")


def forgive(findings: list[Finding], beyond: list[Finding], reason: str) -> list[Finding]:
    """With nothing `beyond` tolerance, drop (and print) the differing outputs other than data's;
    otherwise keep every finding and add those beyond it."""
    kept = []
    for finding in findings:
        nondeterministic = finding.kind == "nondeterministic" and not finding.path.startswith(DATA_PREFIX)
        if nondeterministic and not beyond:
            print(f"tolerated: stage {finding.stage}, {finding.path} differs; {reason}")
        else:
            kept.append(finding)
    return kept + beyond


def table_differences(expected: str, actual: str, tolerance: float) -> list[str]:
    """Cells of two CSV tables that differ: text exactly, numbers by more than `tolerance`."""
    rows = [list(csv.reader(io.StringIO(text))) for text in (expected, actual)]
    if len(rows[0]) != len(rows[1]):
        return [f"{len(rows[0])} rows → {len(rows[1])} rows"]
    lines = []
    for number, (old, new) in enumerate(zip(*rows, strict=True)):
        for column, (a, b) in enumerate(zip(old, new, strict=False)):
            if a != b and not _close(a, b, tolerance):
                lines.append(f"row {number}, column {rows[0][0][column]}: {a} → {b}")
    return lines


def _close(a: str, b: str, tolerance: float) -> bool:
    try:
        return abs(float(a) - float(b)) <= tolerance
    except ValueError:
        return False
