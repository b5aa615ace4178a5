"""Run the named experiments of experiments.yaml on DVC's queue, in parallel, and show the comparison."""

import argparse
import json
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path

from journey import compare
from journey.dvc import (
    Task,
    any_experiments,
    dvc,
    finished_experiments,
    live_epoch,
    queue,
    queue_states,
    queue_status,
    retire,
    run_died,
    sh,
    start_workers,
    uncommitted_changes,
    wait_for_change,
)
from stages.lib.cli import Interrupted, UserError
from stages.lib.configs import ALL, EVERY_NAMED, NOTEBOOKS, check_names, load_experiments
from stages.lib.progress import Progress
from stages.params import Params

# Each `dvc queue status` costs a second of CPU that the workers need: it is called when DVC's refs
# show that a task started, finished or failed, and at least this often (a run that died moves no ref).
POLL_SECONDS = 10.0
MAX_WORKER_RESTARTS = 5
# A task whose run died (its worker or process killed: out of memory, a crash, kill -9) is rerun this
# many times, then reported. JOURNEY_RERUNS sets it (the tests use 0).
RERUNS = int(os.environ.get("JOURNEY_RERUNS", "1"))
DIED = "Died"  # the state given to a task whose run died once too often
# `dvc exp show` columns that are bookkeeping or file hashes of deps, not params or metrics.
HIDDEN_COLUMNS = r"^(Created|State|Executor)$|^(stages|journey|data|models|study)/"


def set_param_args(config: Params) -> list[str]:
    """`-S section.key=value` for every param, so nothing comes from the workspace's params.yaml."""
    args = []
    for section, values in config.plain().items():
        for key, value in values.items():
            text = value if isinstance(value, str) else json.dumps(value)
            args += ["-S", f"{section}.{key}={text}"]
    return args


def up_to_date(experiments: dict[str, Params]) -> list[str]:
    """Names that already have a finished experiment on HEAD with exactly these params: nothing to run."""
    if not any_experiments():
        return []
    finished = {
        name: (rev.get("data") or {}).get("params", {}).get("params.yaml", {}).get("data")
        for name, rev in finished_experiments().items()
    }
    return [name for name, config in experiments.items() if finished.get(name) == config.plain()]


def clear_previous(names: list[str]) -> None:
    """Remove earlier experiments and queue entries with these names, so a rerun replaces them; a task
    left Running by a run that died (an earlier command killed, say) is marked failed first."""
    existing = set(dvc("exp", "list", "--name-only").split()) if any_experiments() else set()
    if stale := [name for name in names if name in existing]:
        dvc("exp", "remove", *stale)
    tasks, _ = queue_status()
    for name in [name for name in names if name in tasks and tasks[name].state == "Running"]:
        if not run_died(tasks[name]):
            raise UserError(f"{name} is running, started by another command; wait for it to finish, or "
                            f"stop it with `dvc queue kill {name}`")  # fmt: skip
        retire(tasks[name])
    if stale_tasks := [name for name in names if name in tasks]:
        dvc("queue", "remove", *stale_tasks)


def wait_for_queue(
    runs: dict[str, list[str]], jobs: int, epochs: dict[str, int] | None = None
) -> dict[str, str]:
    """Start `jobs` workers and block until every task of `runs` (name → its `-S` values) has finished,
    restarting workers that stopped and rerunning tasks whose run died (see `journey.dvc.run_died`).
    Which experiments run, the epochs trained over all of them (`epochs`: each one's), and the time
    left show on stderr. Returns the state of each of `runs`, and of any other task still running
    (another command's)."""
    start_workers(jobs)
    restarts, reruns, died = 0, Counter(), set()
    epochs = epochs or dict.fromkeys(runs, 1)
    states, tasks = dict.fromkeys(runs, "Queued"), {}
    with Progress("experiments", sum(epochs.values()), "epoch") as progress:
        while True:
            seen = (states, tasks)  # what the last `dvc queue status` said, for the epochs counted meanwhile
            wait_for_change(POLL_SECONDS, tick=lambda seen=seen: show(progress, *seen, epochs))
            tasks, workers = queue_status()
            for name in [n for n in runs if n not in died and n in tasks and tasks[n].state == "Running"]:
                if run_died(tasks[name]):
                    retire(tasks[name])
                    if reruns[name] >= RERUNS:
                        died.add(name)
                        continue
                    reruns[name] += 1
                    progress.say(f"{name}: its run died before finishing (its queue worker or process is "
                                 f"gone); rerunning it ({reruns[name]} of {RERUNS})")  # fmt: skip
                    clear_previous([name])
                    queue({name: runs[name]})
                    tasks, workers = queue_status()
                    if workers == 0:
                        start_workers(1)
            states = {name: DIED if name in died else tasks[name].state if name in tasks else "missing"
                      for name in runs}  # fmt: skip
            show(progress, states, tasks, epochs)
            pending = [name for name, state in states.items() if state in ("Queued", "Running")]
            if not pending:
                others = {name: task.state for name, task in tasks.items() if name not in runs}
                return {name: state for name, state in others.items() if state == "Running"} | states
            if "Queued" in states.values() and "Running" not in states.values() and workers == 0:
                # DVC's workers can exit early and leave tasks queued; start them again.
                restarts += 1
                if restarts > MAX_WORKER_RESTARTS:
                    raise UserError(f"queue workers keep stopping; still queued: {', '.join(pending)}")
                progress.say(f"queue workers stopped, {len(pending)} experiment(s) left; restarting")
                start_workers(min(jobs, len(pending)))


def show(progress: Progress, states: dict[str, str], tasks: dict[str, Task], epochs: dict[str, int]) -> None:
    """The epochs trained over all experiments (a finished one's all, a running one's as far as its
    DVCLive summary has got), and which run now (or that they wait for a worker)."""
    running = [name for name, state in states.items() if state == "Running"]
    done = sum(epochs[name] for name, state in states.items() if state not in ("Queued", "Running"))
    done += sum(min(live_epoch(tasks[name]), epochs[name]) for name in running if name in tasks)
    progress.advance(max(0, done - progress.done))  # a rerun starts its epochs again: count on
    if any(state in ("Queued", "Running") for state in states.values()):  # else the closing line says it
        progress.running(f"running {', '.join(running)}" if running else "queued")  # a line if it changed
    progress.refresh()


def still_running(names: list[str], wait_seconds: float = 20.0) -> list[str]:
    """Those of `names` still Running once DVC had `wait_seconds` to stop them."""
    deadline = time.monotonic() + wait_seconds
    while (left := [n for n, state in queue_states().items() if n in names and state == "Running"]) and (
        time.monotonic() < deadline
    ):
        time.sleep(1)
    return left


def stop(names: list[str]) -> str:
    """After Ctrl-C: kill the tasks of `names` still running and drop those still queued; say which.

    A second Ctrl-C meanwhile stops every worker and task of the queue (`dvc queue stop --kill`)."""
    try:
        states = queue_states()
        running = [name for name in names if states.get(name) == "Running"]
        queued = [name for name in names if states.get(name) == "Queued"]
        if running:
            sh("dvc", "queue", "kill", *running, check=False)
        if queued:
            sh("dvc", "queue", "remove", *queued, check=False)
        left = still_running(running)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        sh("dvc", "queue", "stop", "--kill", check=False)
        return "second Ctrl-C: stopped every queue worker and task of this repo (`dvc queue stop --kill`)"
    stopped = [f"{name} (running)" for name in running] + [f"{name} (queued)" for name in queued]
    finished = [name for name in names if states.get(name) in ("Success", "Failed")]
    said = "; ".join(part for part in (
        f"stopped {', '.join(stopped)}" if stopped else "",
        f"finished before Ctrl-C, and kept: {', '.join(finished)}" if finished else "")
        if part)  # fmt: skip
    if left:
        return (f"{said}; still running: {', '.join(left)}; stop them with `dvc queue kill {' '.join(left)}` "
                "(or every task with `dvc queue stop --kill`)")  # fmt: skip
    return f"{said or 'nothing had started'}; nothing this command started is running" + (
        "; `journey experiments` runs the stopped ones again" if stopped else "")  # fmt: skip


def failure_report(name: str) -> str:
    """The last lines of a failed experiment's log, which hold the failing stage's error."""
    try:
        log = dvc("queue", "logs", name).strip().splitlines()
    except UserError as error:
        log = str(error).splitlines()
    return "\n".join(f"  {line}" for line in log[-12:])


def raise_if_failed(failed: dict[str, str]) -> None:
    """A UserError naming each failed experiment (name → state) with the end of its log, if any failed;
    one whose run died says so and how to retry it."""
    if failed:
        reports = "\n".join(
            f"{name}: its run died {RERUNS + 1} time(s) before finishing (its queue worker or process was "
            f"killed: out of memory, a crash, kill -9); retry it with `journey experiments {name}`"
            if state == DIED else f"{name}:\n{failure_report(name)}"
            for name, state in failed.items()
        )  # fmt: skip
        raise UserError(f"{len(failed)} experiment(s) failed: {', '.join(failed)}\n{reports}")


def run_experiments(experiments: dict[str, Params], jobs: int, force: bool = False) -> dict[str, str]:
    """Queue every experiment not already up to date, run the queue to the end; return the state of
    those it ran, and of other commands' tasks still running (name → state). On Ctrl-C, stop what it
    started and say so."""
    done = [] if force or uncommitted_changes() else up_to_date(experiments)
    for name in done:
        print(
            f"{name}: up to date (same params on this commit), not rerun; --force reruns it", file=sys.stderr
        )
    names = [name for name in experiments if name not in done]
    if not names:
        return {}
    try:
        clear_previous(names)
        runs = {name: set_param_args(experiments[name])[1::2] for name in names}
        queue(runs)
        return wait_for_queue(runs, jobs, {name: experiments[name].train.epochs for name in names})
    except KeyboardInterrupt:
        raise Interrupted(stop(names)) from None


def comparison(order: list[str], states: dict[str, str] | None = None, full: bool = False) -> str:
    """The finished experiments of this commit, `order`'s first (journey/compare.py's table, or with
    `full` `dvc exp show`'s); and any task still running, another command's, named below it. `states`
    (name → state), when the queue was just asked, saves asking again (a second or more)."""
    if full:
        return full_table(states)
    finished = finished_experiments()
    rows = {name: finished[name] for name in [*order, *sorted(finished)] if name in finished}
    running = [name for name, state in (queue_states() if states is None else states).items()
               if state == "Running"]  # fmt: skip
    note = f"\n\nStill running, started by another command: {', '.join(running)}" if running else ""
    return compare.table(rows) + note


def full_table(states: dict[str, str] | None = None) -> str:
    """`dvc exp show` as Markdown, with only the params and metrics that differ between rows. DVC shows a
    task still running (another command's) with the workspace's numbers: it is labelled so."""
    table = dvc("exp", "show", "--no-pager", "--md", "--hide-queued", "--hide-failed", "--only-changed",
                "--drop", HIDDEN_COLUMNS)  # fmt: skip
    for name, state in (queue_states() if states is None else states).items():
        if state == "Running":
            table = table.replace(f"[{name}]", f"[{name}] (running, not finished: not its own numbers)")
    return table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Experiments to run, --all, and the queue options."""
    parser.add_argument("names", nargs="*", help="experiments to run (default: the three notebooks)")
    parser.add_argument(
        "--all", action="store_true", help="also run next_experiments (nb4 to nb7, nb2-torch, nb2-jax)"
    )
    parser.add_argument("--file", type=Path, default=Path("experiments.yaml"))
    parser.add_argument("--force", action="store_true", help="rerun experiments that are up to date")
    parser.add_argument("--full", action="store_true",
                        help="print DVC's whole `dvc exp show` table, every param and metric")  # fmt: skip
    # Workers spend much of their time in DVC and git bookkeeping, so one more than the cores pays:
    # on 2 cores the three notebooks take 75 s with 3 workers and 86 s with 2 (benchmarks/README.md).
    parser.add_argument("--jobs", type=int, default=(os.cpu_count() or 1) + 1, help="parallel queue workers")


def command(args: argparse.Namespace) -> None:
    """Run the notebooks (or all, or those named), print the comparison, exit 2 if any failed."""
    if args.jobs < 1:
        raise UserError(f"--jobs {args.jobs}: must be 1 or more")
    groups = EVERY_NAMED if args.names else ALL if args.all else NOTEBOOKS
    experiments = load_experiments(args.file, groups)
    check_names(args.names, args.file)
    chosen = {name: experiments[name] for name in args.names or experiments}
    states = run_experiments(chosen, jobs=max(1, min(args.jobs, len(chosen))), force=args.force)
    print(comparison(list(load_experiments(args.file, EVERY_NAMED)), states or None, args.full))
    raise_if_failed({name: state for name, state in states.items() if name in chosen and state != "Success"})
