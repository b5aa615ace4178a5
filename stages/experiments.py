"""Run the named experiments of experiments.yaml on DVC's queue, in parallel, and show the comparison."""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stages.cli import UserError, run
from stages.params import SECTIONS, parse_section

POLL_SECONDS = 5.0  # each `dvc queue status` costs a second of CPU that the workers need
MAX_WORKER_RESTARTS = 5
# `dvc exp show` columns that are bookkeeping or file hashes of deps, not params or metrics.
HIDDEN_COLUMNS = r"^(Created|State|Executor)$|^(stages|data|models)/"


NOTEBOOKS = ("experiments",)
ALL = ("experiments", "next_experiments")  # `--all`: the README's results table
EVERY_NAMED = (*ALL, "study_configs")  # any of these may be run by name


def load_experiments(path: Path, groups: tuple[str, ...] = NOTEBOOKS) -> dict[str, dict[str, dict[str, Any]]]:
    """Full params of each experiment in these groups of experiments.yaml: `defaults` updated
    section by section with the experiment's changes, then validated."""
    try:
        document = yaml.safe_load(path.read_text())
        defaults, experiments = document["defaults"], dict(document["experiments"])
        for group in groups:
            experiments |= document.get(group) or {}
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except (yaml.YAMLError, TypeError, KeyError) as error:
        raise UserError(f"{path}: expected mappings `defaults` and `experiments` ({error})") from None
    return {name: _resolve(path, name, defaults, changes or {}) for name, changes in experiments.items()}


@dataclass(frozen=True)
class Lesson:
    """One of the seed's lessons: the claim that config `better` beats config `than`."""

    claim: str
    better: str
    than: str
    base: str | None = None  # a config both sides change one thing of; their gains over it are shown


def load_lessons(path: Path) -> list[Lesson]:
    """The `lessons` of experiments.yaml, each naming configs that experiments.yaml defines."""
    known = load_experiments(path, EVERY_NAMED)
    try:
        lessons = [Lesson(**entry) for entry in yaml.safe_load(path.read_text()).get("lessons") or []]
    except TypeError as error:
        raise UserError(
            f"{path}: lessons: each needs claim, better, than and may have base ({error})"
        ) from None
    for lesson in lessons:
        if missing := [
            name for name in (lesson.better, lesson.than, lesson.base) if name and name not in known
        ]:
            raise UserError(f"{path}: lesson {lesson.claim!r} names unknown configs {missing}")
    return lessons


def _resolve(path: Path, name: str, defaults: dict, changes: dict) -> dict[str, dict[str, Any]]:
    unknown = set(changes) - set(SECTIONS)
    if unknown:
        raise UserError(f"{path}: {name}: unknown sections {sorted(unknown)}; known: {', '.join(SECTIONS)}")
    config = {section: {**defaults.get(section, {}), **changes.get(section, {})} for section in SECTIONS}
    for section, schema in SECTIONS.items():
        parse_section(config[section], schema, f"{path}: {name}.{section}")
    return config


def set_param_args(config: dict[str, dict[str, Any]]) -> list[str]:
    """`-S section.key=value` for every param, so nothing comes from the workspace's params.yaml."""
    args = []
    for section, values in config.items():
        for key, value in values.items():
            text = value if isinstance(value, str) else json.dumps(value)
            args += ["-S", f"{section}.{key}={text}"]
    return args


def dvc(*args: str) -> str:
    """Run a dvc command and return its stdout; a failure becomes a UserError with DVC's own message."""
    result = subprocess.run(["dvc", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise UserError(f"`dvc {' '.join(args)}` failed:\n{result.stderr.strip() or result.stdout.strip()}")
    return result.stdout


def named_experiments(shown: list[dict]) -> dict[str, dict]:
    """Each named experiment's entry in `dvc exp show --json` output (`rev`, `name`, `data`), by name."""
    return {
        rev["name"]: rev
        for baseline in shown
        for branch in baseline.get("experiments") or []
        for rev in branch.get("revs") or []
        if rev.get("name")
    }


def up_to_date(experiments: dict[str, dict]) -> list[str]:
    """Names that already have a finished experiment on HEAD with exactly these params: nothing to run."""
    shown = json.loads(dvc("exp", "show", "--json", "--hide-queued", "--hide-failed"))
    finished = {
        name: (rev.get("data") or {}).get("params", {}).get("params.yaml", {}).get("data")
        for name, rev in named_experiments(shown).items()
    }
    return [name for name, config in experiments.items() if finished.get(name) == config]


def uncommitted_changes() -> bool:
    """Whether the git work tree differs from HEAD, so a queued experiment would run other code."""
    status = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True)
    return status.returncode != 0 or bool(status.stdout.strip())


def clear_previous(names: list[str]) -> None:
    """Remove earlier experiments and queue entries with these names, so a rerun replaces them."""
    existing = set(dvc("exp", "list", "--name-only").split())
    if stale := [name for name in names if name in existing]:
        dvc("exp", "remove", *stale)
    tasks = queue_states()
    if stale_tasks := [name for name in names if name in tasks]:
        dvc("queue", "remove", *stale_tasks)


def queue_states() -> dict[str, str]:
    """Status (Queued, Running, Success, Failed) of each named task in `dvc queue status`."""
    states = {}
    for line in dvc("queue", "status").splitlines():
        tokens = line.split()
        if len(tokens) >= 4 and re.fullmatch(r"[0-9a-f]{7}", tokens[0]):
            states[tokens[1]] = tokens[-1]
    return states


def active_workers() -> int:
    """How many queue workers are alive, from the `Worker status:` line."""
    match = re.search(r"Worker status: (\d+) active, (\d+) idle", dvc("queue", "status"))
    return int(match[1]) + int(match[2]) if match else 0


def queue(names: list[str], experiments: dict[str, dict]) -> None:
    """`dvc exp run --queue --name NAME -S ...` for each, through DVC's Python API in one process:
    a `dvc` start-up per experiment cost 1.7 s, 2 minutes for 70."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    with Repo(".") as repo:
        for name in names:
            try:
                repo.experiments.run(name=name, queue=True, params=set_param_args(experiments[name])[1::2])
            except DvcException as error:
                raise UserError(f"could not queue {name}: {error}") from None
            print(f"queued {name}", file=sys.stderr)


def wait_for_queue(names: list[str], jobs: int) -> dict[str, str]:
    """Start `jobs` workers and block until every named task has finished, restarting dead workers."""
    dvc("queue", "start", "--jobs", str(jobs))
    restarts = 0
    while True:
        time.sleep(POLL_SECONDS)
        tasks = queue_states()
        states = {name: tasks.get(name, "missing") for name in names}
        pending = [name for name, state in states.items() if state in ("Queued", "Running")]
        if not pending:
            return states
        if "Queued" in states.values() and "Running" not in states.values() and active_workers() == 0:
            # DVC's workers can exit early and leave tasks queued; start them again.
            restarts += 1
            if restarts > MAX_WORKER_RESTARTS:
                raise UserError(f"queue workers keep stopping; still queued: {', '.join(pending)}")
            print(f"queue workers stopped, {len(pending)} experiment(s) left; restarting", file=sys.stderr)
            dvc("queue", "start", "--jobs", str(jobs))


def failure_report(name: str) -> str:
    """The last lines of a failed experiment's log, which hold the failing stage's error."""
    try:
        log = dvc("queue", "logs", name).strip().splitlines()
    except UserError as error:
        log = str(error).splitlines()
    return "\n".join(f"  {line}" for line in log[-12:])


def raise_if_failed(failed: list[str]) -> None:
    """A UserError naming each failed experiment with the end of its log, if any failed."""
    if failed:
        reports = "\n".join(f"{name}:\n{failure_report(name)}" for name in failed)
        raise UserError(f"{len(failed)} experiment(s) failed: {', '.join(failed)}\n{reports}")


def add_queue_options(parser: argparse.ArgumentParser) -> None:
    """--file, --force and --jobs, shared by the commands that run experiments on the queue."""
    parser.add_argument("--file", type=Path, default=Path("experiments.yaml"))
    parser.add_argument("--force", action="store_true", help="rerun experiments that are up to date")
    # Workers spend much of their time in DVC and git bookkeeping, so one more than the cores pays:
    # on 2 cores the three notebooks take 75 s with 3 workers and 86 s with 2 (benchmarks/README.md).
    parser.add_argument("--jobs", type=int, default=(os.cpu_count() or 1) + 1, help="parallel queue workers")


def run_experiments(experiments: dict[str, dict], jobs: int, force: bool = False) -> list[str]:
    """Queue every experiment not already up to date, run the queue to the end, return those that failed."""
    done = [] if force or uncommitted_changes() else up_to_date(experiments)
    for name in done:
        print(
            f"{name}: up to date (same params on this commit), not rerun; --force reruns it", file=sys.stderr
        )
    names = [name for name in experiments if name not in done]
    if not names:
        return []
    clear_previous(names)
    queue(names, experiments)
    states = wait_for_queue(names, jobs)
    return [name for name in names if states[name] != "Success"]


def comparison_table() -> str:
    """`dvc exp show` as Markdown, with only the params and metrics that differ between rows."""
    return dvc(
        "exp",
        "show",
        "--no-pager",
        "--md",
        "--hide-queued",
        "--hide-failed",
        "--only-changed",
        "--drop",
        HIDDEN_COLUMNS,
    )


def main() -> None:
    """Run the notebooks (or all, or those named), print the comparison, exit 1 if any failed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help="experiments to run (default: the three notebooks)")
    parser.add_argument("--all", action="store_true", help="also run next_experiments (nb4 to nb7)")
    add_queue_options(parser)
    args = parser.parse_args()
    if args.jobs < 1:
        raise UserError(f"--jobs {args.jobs}: must be 1 or more")
    groups = EVERY_NAMED if args.names else ALL if args.all else NOTEBOOKS
    experiments = load_experiments(args.file, groups)
    if unknown := [name for name in args.names if name not in experiments]:
        raise UserError(f"unknown experiment(s) {unknown}; {args.file} defines {', '.join(experiments)}")
    chosen = {name: experiments[name] for name in args.names or experiments}
    failed = run_experiments(chosen, jobs=max(1, min(args.jobs, len(chosen))), force=args.force)
    print(comparison_table())
    raise_if_failed(failed)


if __name__ == "__main__":
    run(main)
