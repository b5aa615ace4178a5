"""Run the named experiments of experiments.yaml on DVC's queue, in parallel, and show the comparison."""

import argparse
import json
import os
import sys
import time
from pathlib import Path

from journey.configs import ALL, EVERY_NAMED, NOTEBOOKS, Config, load_experiments
from journey.dvc import active_workers, dvc, finished_experiments, queue, queue_states, uncommitted_changes
from stages.cli import UserError

POLL_SECONDS = 5.0  # each `dvc queue status` costs a second of CPU that the workers need
MAX_WORKER_RESTARTS = 5
# `dvc exp show` columns that are bookkeeping or file hashes of deps, not params or metrics.
HIDDEN_COLUMNS = r"^(Created|State|Executor)$|^(stages|journey|data|models|study)/"


def set_param_args(config: Config) -> list[str]:
    """`-S section.key=value` for every param, so nothing comes from the workspace's params.yaml."""
    args = []
    for section, values in config.items():
        for key, value in values.items():
            text = value if isinstance(value, str) else json.dumps(value)
            args += ["-S", f"{section}.{key}={text}"]
    return args


def up_to_date(experiments: dict[str, Config]) -> list[str]:
    """Names that already have a finished experiment on HEAD with exactly these params: nothing to run."""
    finished = {
        name: (rev.get("data") or {}).get("params", {}).get("params.yaml", {}).get("data")
        for name, rev in finished_experiments().items()
    }
    return [name for name, config in experiments.items() if finished.get(name) == config]


def clear_previous(names: list[str]) -> None:
    """Remove earlier experiments and queue entries with these names, so a rerun replaces them."""
    existing = set(dvc("exp", "list", "--name-only").split())
    if stale := [name for name in names if name in existing]:
        dvc("exp", "remove", *stale)
    tasks = queue_states()
    if stale_tasks := [name for name in names if name in tasks]:
        dvc("queue", "remove", *stale_tasks)


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


def run_experiments(experiments: dict[str, Config], jobs: int, force: bool = False) -> list[str]:
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
    queue({name: set_param_args(experiments[name])[1::2] for name in names})
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Experiments to run, --all, and the queue options."""
    parser.add_argument("names", nargs="*", help="experiments to run (default: the three notebooks)")
    parser.add_argument("--all", action="store_true", help="also run next_experiments (nb4 to nb7, nb2-jax)")
    parser.add_argument("--file", type=Path, default=Path("experiments.yaml"))
    parser.add_argument("--force", action="store_true", help="rerun experiments that are up to date")
    # Workers spend much of their time in DVC and git bookkeeping, so one more than the cores pays:
    # on 2 cores the three notebooks take 75 s with 3 workers and 86 s with 2 (benchmarks/README.md).
    parser.add_argument("--jobs", type=int, default=(os.cpu_count() or 1) + 1, help="parallel queue workers")


def command(args: argparse.Namespace) -> None:
    """Run the notebooks (or all, or those named), print the comparison, exit 1 if any failed."""
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
