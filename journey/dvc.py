"""The one module that runs dvc and git: commands, `dvc exp show` parsing, and DVC's queue API."""

import contextlib
import functools
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
import yaml

from stages.lib.cli import UserError
from stages.lib.progress import MODE, Progress, mode

Result = subprocess.CompletedProcess
# dvc-task's record of each queue task's process (`dvc exp exec-run`): RUN_RECORDS/<task>/<task>.json
# holds its pid and, once the worker that started it saw it end, its return code.
RUN_RECORDS = Path(".dvc/tmp/exps/run")
# DVC's queue folder; its workers are `dvc exp queue-worker dvc-exp-<first 6 hex digits of the folder's
# absolute path's SHA-256>-N@localhost` (dvc/repo/experiments/queue/celery.py).
QUEUE_FOLDER = Path(".dvc/tmp/exps/celery")
GRACE_SECONDS = 30  # for a child that got Ctrl-C to stop by itself before it is killed
# What `dvc repro` prints as it reaches each stage: it runs it, or finds it done.
RAN = re.compile(r"Running stage '([^']+)':")
SKIPPED = re.compile(r"Stage '([^']+)' (?:didn't change, skipping|is cached - skipping run)")
FAILED = re.compile(r"failed to reproduce '([^']+)'")  # on stderr; with --keep-going DVC goes on


def sh(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, check: bool = True,
       watch: Callable[[str], None] | None = None,
       watch_err: Callable[[str], None] | None = None) -> Result:  # fmt: skip
    """Run a command; a failure (with `check`) becomes a UserError carrying the command's own message.

    With `watch`, each line of the command's stdout goes to it as it comes, and its stderr (where
    stages show their progress) is copied to ours as it comes, each line also to `watch_err`; both
    are still returned.
    On Ctrl-C the child gets SIGINT too (a terminal sends it to both; `kill -INT` to this process only)
    and time to stop cleanly, as DVC does, before it is killed; then the KeyboardInterrupt goes on.
    """
    try:
        process = subprocess.Popen(
            args, cwd=cwd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except FileNotFoundError:
        raise UserError(f"`{args[0]}` is not on PATH; activate the project's virtualenv "
                        "(`. .venv/bin/activate`) or install it (`pip install -e .`)") from None  # fmt: skip
    streams = Streams(process, watch, watch_err) if watch else None
    try:
        stdout, stderr = streams.wait() if streams else process.communicate()
    except KeyboardInterrupt:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=GRACE_SECONDS) if streams else process.communicate(timeout=GRACE_SECONDS)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            process.kill()
        raise
    result = Result(args, process.returncode, stdout, stderr)
    if check and result.returncode != 0:
        where = f" in {cwd}" if cwd else ""
        message = result.stderr.strip() or result.stdout.strip()
        if result.returncode < 0:  # killed: the OOM killer, a crash, `kill -9`
            message = (
                f"it was killed by {signal.Signals(-result.returncode).name} (out of memory, a crash or "
                "kill -9); running the command again is safe: DVC redoes only what did not finish"
            )
        elif streams:  # its stderr is already on ours
            raise UserError(f"`{' '.join(args)}` failed{where} (its messages are above)")
        raise UserError(f"`{' '.join(args)}` failed{where}:\n{message}")
    return result


class Streams:
    """A child's stdout and stderr, read by two threads as they come: stdout line by line into
    `watch`, stderr copied byte for byte to ours (a live bar's carriage returns included)."""

    def __init__(self, process: subprocess.Popen, watch: Callable[[str], None],
                 watch_err: Callable[[str], None] | None = None) -> None:  # fmt: skip
        self.out, self.err = [], []
        self.watch_err = watch_err or (lambda line: None)
        self.threads = [threading.Thread(target=self._lines, args=(process.stdout, watch), daemon=True),
                        threading.Thread(target=self._copy, args=(process.stderr,), daemon=True)]  # fmt: skip
        self.process = process
        for thread in self.threads:
            thread.start()

    def _lines(self, stream, watch: Callable[[str], None]) -> None:
        for line in stream:
            self.out.append(line)
            watch(line.rstrip("\n"))

    def _copy(self, stream) -> None:
        pending = b""  # a line not yet ended: written whole, so that no line of ours cuts into it
        while chunk := stream.buffer.read1(4096):
            self.err.append(chunk)
            end = max(chunk.rfind(b"\n"), chunk.rfind(b"\r")) + 1
            pending, ready = (chunk[end:], pending + chunk[:end]) if end else (pending + chunk, b"")
            self._write(ready)
            for line in ready.decode(errors="replace").splitlines():
                self.watch_err(line)
        self._write(pending)

    @staticmethod
    def _write(data: bytes) -> None:
        if data:
            sys.stderr.buffer.write(data)  # one call: BufferedWriter's lock keeps it whole
            sys.stderr.buffer.flush()

    def wait(self) -> tuple[str, str]:
        """Both outputs, once the child closed them and exited."""
        for thread in self.threads:
            while thread.is_alive():
                thread.join(0.2)  # in steps, so that Ctrl-C reaches this thread
        self.process.wait()
        return "".join(self.out), b"".join(self.err).decode(errors="replace")


def child_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """`env` (or ours) telling a child whose stderr we copy how to show progress: as we would."""
    return {**(env or os.environ), MODE: mode()}


def repro(*args: str, label: str, sizes: dict[str, int], unit: str = "stage", cwd: Path | None = None,
          env: dict[str, str] | None = None, check: bool = True) -> Result:  # fmt: skip
    """`dvc repro ARGS`, saying on stderr which stage runs and how far it is: stage S counts `sizes[S]`
    units (1 if not listed) once DVC went past it, or found it done; a stage DVC says failed counts
    nothing. The stages show their own progress below."""
    with Progress(label, sum(sizes.values()), unit, steps=True) as progress:
        running, failed = [], set()

        def finish() -> None:
            if not running:
                return
            time.sleep(0.05)  # DVC says a stage failed on stderr, read by another thread: let it catch up
            while running:
                stage = running.pop()
                progress.advance(0 if stage in failed else sizes.get(stage, 1))

        def watch(line: str) -> None:
            if found := RAN.match(line) or SKIPPED.match(line):
                finish()  # DVC reached the next stage, so the one before ended
                if found.re is RAN:
                    running.append(found[1])
                    progress.running(found[1])
                else:
                    progress.advance(sizes.get(found[1], 1))

        def watch_err(line: str) -> None:
            if found := FAILED.search(line):
                failed.add(found[1])

        result = sh("dvc", "repro", *args, cwd=cwd, env=child_env(env), check=check, watch=watch,
                    watch_err=watch_err)  # fmt: skip
        if result.returncode == 0:
            finish()
        return result


def stage_names(cwd: Path | None = None) -> list[str]:
    """The stages of the DVC project in `cwd`, in dvc.yaml's order (`foreach` expanded)."""
    return dvc("stage", "list", "--name-only", cwd=cwd).split()


def dvc(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run a dvc command and return its stdout."""
    return sh("dvc", *args, cwd=cwd, env=env).stdout


def git(*args: str, cwd: Path | None = None) -> str:
    """Run a git command and return its stdout."""
    return sh("git", *args, cwd=cwd).stdout


def repo_root() -> Path:
    """The top folder of the git repository around the current directory."""
    return Path(git("rev-parse", "--show-toplevel").strip())


def uncommitted_changes() -> bool:
    """Whether the git work tree differs from HEAD, so a queued experiment would run other code."""
    status = sh("git", "status", "--porcelain", check=False)
    return status.returncode != 0 or bool(status.stdout.strip())


def named_experiments(shown: list[dict]) -> dict[str, dict]:
    """Each named experiment's entry in `dvc exp show --json` output (`rev`, `name`, `data`), by name."""
    return {
        rev["name"]: rev
        for baseline in shown
        for branch in baseline.get("experiments") or []
        for rev in branch.get("revs") or []
        if rev.get("name")
    }


def experiment_refs(cwd: Path | None = None) -> str:
    """DVC's git refs of experiments and its queue, with their commits: a finished experiment is a ref
    refs/exps/<2 + 38 hex digits>/<name>, and a task queued, started or failed moves a stash ref of
    refs/exps/celery/. A git call takes milliseconds, a `dvc` one a second or two."""
    return sh("git", "for-each-ref", "--format=%(objectname) %(refname)", "refs/exps/", cwd=cwd,
              check=False).stdout  # fmt: skip


def any_experiments(cwd: Path | None = None) -> bool:
    """Whether the repo holds any experiment (a fresh clone holds none, and skips `dvc exp` calls)."""
    refs = experiment_refs(cwd).split()[1::2]
    return any(re.fullmatch(r"refs/exps/[0-9a-f]{2}/[0-9a-f]{38}/.+", ref) for ref in refs)


def wait_for_change(seconds: float, check_every: float = 0.5, tick: Callable[[], None] | None = None) -> None:
    """Sleep `seconds`, or less: until an experiment finishes, or a task starts or fails; `tick` is
    called every `check_every` seconds meanwhile."""
    before, deadline = experiment_refs(), time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(min(check_every, max(0.0, deadline - time.monotonic())))
        if tick:
            tick()
        if experiment_refs() != before:
            return


def live_epoch(task: "Task") -> int:
    """The last epoch a running task's DVCLive summary records (the train stage's `metrics` in
    dvc.yaml, in the task's temporary copy of the repo); 0 before its first, or when unreadable. The
    copy starts with the summary committed in git, which only a file newer than the train stage's
    input (written by split just before) replaces."""
    record = run_record(task.id, ".run")
    try:
        summary, train_input = (Path(record["root_dir"]) / path for path in live_summary())
        if summary.stat().st_mtime < train_input.stat().st_mtime:
            return 0
        return int(json.loads(summary.read_text())["step"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


@functools.cache
def live_summary() -> tuple[str, str]:
    """The path of DVCLive's summary and of the train stage's first input, as dvc.yaml declares them."""
    stage = yaml.safe_load(Path("dvc.yaml").read_text())["stages"]["train"]
    return next(iter(stage["metrics"][0])), stage["deps"][0]


def finished_experiments(cwd: Path | None = None) -> dict[str, dict]:
    """The named experiments of HEAD that finished and succeeded, as named_experiments gives them.

    `dvc exp show` also lists a running task, with the workspace's files as its data: one whose run
    died shows the metrics it started from. Those, and any without metrics, are left out."""
    shown = json.loads(dvc("exp", "show", "--json", "--hide-queued", "--hide-failed", cwd=cwd))
    succeeded = {
        branch["name"]
        for baseline in shown
        for branch in baseline.get("experiments") or []
        if (branch.get("executor") or {}).get("state", "success") == "success"
    }
    return {
        name: rev
        for name, rev in named_experiments(shown).items()
        if name in succeeded and rev["rev"] != "workspace" and _has_metrics(rev)
    }


def _has_metrics(rev: dict) -> bool:
    metrics = (rev.get("data") or {}).get("metrics") or {}
    return bool(metrics) and all((entry or {}).get("data") for entry in metrics.values())


@dataclass(frozen=True)
class Task:
    """A named task of `dvc queue status`: its short id, its name and its state (Queued, Running, Success,
    Failed)."""

    id: str
    name: str
    state: str


def queue_status() -> tuple[dict[str, Task], int]:
    """Every named task of `dvc queue status` (one call: each costs a second of CPU), and how many
    queue workers are alive (`live_workers`)."""
    tasks = {}
    for line in dvc("queue", "status").splitlines():
        tokens = line.split()
        if len(tokens) >= 4 and re.fullmatch(r"[0-9a-f]{7}", tokens[0]):
            tasks[tokens[1]] = Task(tokens[0], tokens[1], tokens[-1])
    return tasks, live_workers()


def live_workers() -> int:
    """How many of this repo's queue workers run, by their processes. Not the "Worker status" of
    `dvc queue status`: celery asks each worker and waits a second for its answer, and a worker busy
    collecting a finished experiment can miss it; the experiment it was finishing was taken for dead.
    Nor dvc-task's records of them: a worker DVC starts again under the same name overwrites one."""
    prefix = worker_name_prefix()
    count = 0
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = process.info["cmdline"] or []
        if process.info["status"] != psutil.STATUS_ZOMBIE and "queue-worker" in cmdline:
            count += any(argument.startswith(prefix) for argument in cmdline)
    return count


def worker_name_prefix() -> str:
    """The start of this repo's queue workers' celery node names, as DVC names them."""
    folder = os.path.abspath(QUEUE_FOLDER)  # DVC's own: its root is an abspath, never resolved
    return f"dvc-exp-{hashlib.sha256(folder.encode()).hexdigest()[:6]}-"


def start_workers(jobs: int) -> None:
    """`dvc queue start --jobs N`. Its output goes to a file: the workers it leaves running inherit
    it, and would hold a pipe of ours open until they exit, so that waiting for the command's output
    would wait for the whole queue."""
    # A task's output goes to its log (`dvc queue logs`), never a terminal: plain progress lines there.
    env = {**os.environ, MODE: "off" if mode() == "off" else "lines"}
    with tempfile.TemporaryFile("w+") as output:
        done = subprocess.run(["dvc", "queue", "start", "--jobs", str(jobs)], stdout=output, stderr=output,
                              env=env)  # fmt: skip
        if done.returncode != 0:
            output.seek(0)
            raise UserError(f"`dvc queue start --jobs {jobs}` failed:\n{output.read().strip()}")


def queue_states() -> dict[str, str]:
    """Status (Queued, Running, Success, Failed) of each named task in `dvc queue status`."""
    return {name: task.state for name, task in queue_status()[0].items()}


def run_record(task_id: str, suffix: str = ".json") -> dict | None:
    """dvc-task's record of the process a task started (pid, returncode), or None before it starts;
    with suffix ".run", DVC's record of the run itself (root_dir: its temporary copy of the repo)."""
    for record in RUN_RECORDS.glob(f"{task_id}*/{task_id}*{suffix}"):
        if record.stem == record.parent.name:
            try:
                return json.loads(record.read_text())
            except (OSError, ValueError):
                return None  # being written
    return None


def kill_leftovers(task: Task) -> list[int]:
    """Kill the processes a dead run left behind (a stage it started keeps training when the run is
    killed): those working inside its temporary copy of the repository."""
    root = (run_record(task.id, ".run") or {}).get("root_dir")
    if not root:
        return []
    killed = []
    for process in psutil.process_iter():
        try:
            if Path(process.cwd()).is_relative_to(root):
                process.kill()
                killed.append(process.pid)
        except (psutil.Error, OSError):
            continue  # gone, or not ours to read
    return killed


def running(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie (a killed process nobody has reaped yet)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def process_alive(pid: int) -> bool:
    """Whether `pid` is a live `dvc exp exec-run`: it runs, and it is no other program that took the
    number of a dead one."""
    if not running(pid):
        return False
    try:
        return "exec-run" in psutil.Process(pid).cmdline()
    except psutil.AccessDenied:
        return True  # another user's: its command line is not ours to read
    except psutil.Error:
        return False


def release_stale_locks(repo: Path = Path()) -> list[int]:
    """Drop DVC's read and write locks (`repo`/.dvc/tmp/rwlock) held by processes that are gone; return
    their pids. DVC drops those of dead processes itself, but a `dvc` killed with -9 whose parent died too
    can stay a zombie where nothing reaps it, and DVC then takes it for alive and refuses to run."""
    from dvc.fs import localfs
    from dvc.rwlock import RWLOCK_FILE, _edit_rwlock

    folder = repo / ".dvc/tmp"
    if not (folder / RWLOCK_FILE).exists():
        return []
    released = set()
    with _edit_rwlock(str(folder), localfs, False) as lock:  # under DVC's own lock of the file
        for mode in ("read", "write"):
            for path, infos in list(lock[mode].items()):
                holders = infos if isinstance(infos, list) else [infos]
                gone = {info["pid"] for info in holders if not running(int(info["pid"]))}
                released |= gone
                kept = [info for info in holders if info["pid"] not in gone]
                if not kept:
                    del lock[mode][path]
                elif mode == "read":
                    lock[mode][path] = kept
    return sorted(released)


def retire(task: Task) -> None:
    """Mark a task whose run died as failed (`dvc queue kill`), after killing what its run left behind."""
    kill_leftovers(task)
    sh("dvc", "queue", "kill", task.name, check=False)


def run_died(task: Task) -> bool:
    """Whether a Running task will never finish: its process is gone before a worker recorded its end,
    or it ended (or never started) with no worker left to finish it. Looked at twice, a second apart,
    so that a process which just ended, and whose worker is writing its return code, is not taken."""

    def looks_dead() -> bool:
        record = run_record(task.id)
        if record is None or record.get("returncode") is not None:
            return live_workers() == 0
        return not process_alive(int(record["pid"]))

    if not looks_dead():
        return False
    time.sleep(1)
    return looks_dead()


def queue(runs: dict[str, list[str]]) -> None:
    """`dvc exp run --queue --name NAME -S ...` for each name → its `section.key=value` list, through
    DVC's Python API in one process: a `dvc` start-up per experiment cost 1.7 s, 2 minutes for 70. DVC's
    "Waiting to acquire lock" bar, drawn while a worker holds the repo's lock a moment, is kept off the
    terminal: it says nothing the user can act on (a lock never freed ends in the error below)."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    with Repo(".") as repo:
        for name, params in runs.items():
            try:
                with contextlib.redirect_stderr(io.StringIO()):
                    repo.experiments.run(name=name, queue=True, params=params)
            except DvcException as error:
                raise UserError(f"could not queue {name}: {error}") from None
            print(f"queued {name}", file=sys.stderr, flush=True)
