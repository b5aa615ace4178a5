"""The one module that runs dvc and git: commands, `dvc exp show` parsing, and DVC's queue API."""

import json
import re
import subprocess
import sys
from pathlib import Path

from stages.cli import UserError

Result = subprocess.CompletedProcess


def sh(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
       check: bool = True) -> Result:  # fmt: skip
    """Run a command; a failure (with `check`) becomes a UserError carrying the command's own message."""
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env)
    if check and result.returncode != 0:
        where = f" in {cwd}" if cwd else ""
        message = result.stderr.strip() or result.stdout.strip()
        raise UserError(f"`{' '.join(args)}` failed{where}:\n{message}")
    return result


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


def finished_experiments(cwd: Path | None = None) -> dict[str, dict]:
    """The finished named experiments of HEAD, as named_experiments gives them."""
    return named_experiments(json.loads(dvc("exp", "show", "--json", "--hide-queued", "--hide-failed",
                                            cwd=cwd)))  # fmt: skip


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


def queue(runs: dict[str, list[str]]) -> None:
    """`dvc exp run --queue --name NAME -S ...` for each name → its `section.key=value` list, through
    DVC's Python API in one process: a `dvc` start-up per experiment cost 1.7 s, 2 minutes for 70."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    with Repo(".") as repo:
        for name, params in runs.items():
            try:
                repo.experiments.run(name=name, queue=True, params=params)
            except DvcException as error:
                raise UserError(f"could not queue {name}: {error}") from None
            print(f"queued {name}", file=sys.stderr, flush=True)
