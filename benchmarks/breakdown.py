"""Benchmark 13: where `journey experiments`' time goes, from a fresh clone, process by process.

Every Python process the command starts (DVC's commands, the queue's workers and executors, each
stage's command) appends its command line, start and end to a log: a `sitecustomize` module put on
PYTHONPATH for the run records them, so nothing of the project or of DVC is changed. The breakdown
follows one experiment's path: the command's own DVC calls before the queue runs, the executor's
setup of its temporary workspace, each stage's process, and the executor's commit of the outputs;
then the comparison table. Processes overlap (the three experiments run at once), so a row's
wall seconds can add up to more than the command's; a process's CPU seconds are its own (not its
children's), from start-up to exit.
"""

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from benchmarks.common import clone_env, fresh_clone, measure, short_hash, table

# Written at start-up by every Python process of the run; its record is appended at exit.
TRACER = """\
import atexit, json, os, sys, time

_start = time.time()


def _record():
    with open(os.environ["JOURNEY_TRACE"], "a") as log:
        record = {"argv": sys.argv, "start": _start, "end": time.time(), "cpu": time.process_time()}
        log.write(json.dumps(record) + "\\n")


if os.environ.get("JOURNEY_TRACE"):
    atexit.register(_record)
"""
STAGES = ("params", "generate", "split", "train", "evaluate")
COMMIT_BEFORE = "64466f4"  # the last commit before issue 33's import cuts


def kind(argv: list[str]) -> str:
    """A process's role, from its command line."""
    first = Path(argv[0]).name if argv else ""
    if first.endswith(".py") and Path(argv[0]).parent.name == "stages":
        return f"stage {first[:-3]}"
    if first == "dvc" or argv[:1] == ["-m"]:
        words = [word for word in argv[1:4] if not word.startswith("-")]
        if words[:2] == ["exp", "run"] and "--temp" not in argv:
            return "dvc exp run"
        return "dvc " + " ".join(words[:2])
    if Path(argv[0]).parent.name == "journey":
        return "journey experiments"
    return "benchmark launcher" if argv[:1] == ["-c"] else first or "?"


def read_trace(path: Path) -> list[dict]:
    """The log's records, each with its role."""
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    typed = [record | {"kind": kind(record["argv"])} for record in records]
    return [record for record in typed if record["kind"] != "benchmark launcher"]


def by_kind(records: list[dict]) -> dict[str, list[dict]]:
    """Records grouped by role."""
    groups = defaultdict(list)
    for record in records:
        groups[record["kind"]].append(record)
    return groups


def rows(records: list[dict], wall: float) -> list[list[str]]:
    """Every role: how many processes, their seconds in all and each, and the critical path's milestones."""
    groups = by_kind(records)
    start = min(r["start"] for r in records)
    out = []
    for name, group in sorted(groups.items(), key=lambda item: min(r["start"] for r in item[1])):
        seconds = [r["end"] - r["start"] for r in group]
        first = min(r["start"] for r in group) - start
        last = max(r["end"] for r in group) - start
        cpu, each = sum(r["cpu"] for r in group), statistics.median(seconds)
        out.append([name, str(len(group)), f"{sum(seconds):.1f}", f"{cpu:.1f}", f"{each:.2f}",
                    f"{first:.1f} → {last:.1f}"])  # fmt: skip
    out.append(["**whole command (wall)**", "", f"{wall:.1f}", "", "", f"0.0 → {wall:.1f}"])
    return out


def stage_work(records: list[dict]) -> float:
    """Seconds spent inside the stages' processes, all experiments together."""
    return sum(r["end"] - r["start"] for r in records if r["kind"].startswith("stage "))


def traced_run(workdir: Path, name: str, commit: str | None) -> tuple[list[dict], float]:
    """`journey experiments` on a fresh clone of `commit`, traced: its records and wall seconds."""
    tracer = workdir / f"tracer-{name}"
    tracer.mkdir()
    (tracer / "sitecustomize.py").write_text(TRACER)
    clone = fresh_clone(workdir, name, commit)
    log = workdir / f"{name}.trace"
    env = clone_env(clone)
    env = {"PYTHONPATH": f"{env['PYTHONPATH']}:{tracer}", "JOURNEY_TRACE": str(log)}
    run = measure([sys.executable, "-m", "journey", "experiments"], clone, env)
    return read_trace(log), run.seconds


def report(workdir: Path) -> str:
    """The breakdown before and after issue 33's import cuts, one run each."""
    sections = []
    for label, commit in (("before", COMMIT_BEFORE), ("after", None)):
        records, wall = traced_run(workdir, label, commit)
        title = (f"{label} (`{short_hash(commit or 'HEAD')}`): {wall:.1f} s, stage processes "
                 f"{stage_work(records):.1f} s")  # fmt: skip
        header = ["process", "count", "wall seconds, all", "CPU seconds, all", "median wall each",
                  "from → to (s after start)"]  # fmt: skip
        sections.append(f"**{title}**\n\n{table(header, rows(records, wall))}")
    return "\n\n".join(sections)
