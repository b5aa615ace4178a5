"""Prove that the committed code reproduces the committed locks, in a clean clone of HEAD."""

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from journey.agreement import tolerances
from journey.dvc import Result, child_env, git, named_experiments, repo_root, repro, sh, stage_names
from journey.locks import (
    Finding,
    compare_locks,
    forgive,
    leaves,
    metric_differences,
    parse_lock,
    table_differences,
    tolerate,
)
from journey.study import STUDY
from stages.lib.cli import Interrupted, UserError
from stages.lib.configs import EVERY_NAMED, load_experiments
from stages.lib.names import JAX, NATIVE
from stages.params import load_params

REPEAT_FROM = "train"  # the first training stage: repeated with other threads in a new process
STUDY_TABLE = f"{STUDY}/reports/seeds.csv"  # every seed's numbers, in git


class Clone:
    """A clean clone of HEAD in a temporary folder, where commands run."""

    def __init__(self, source: Path, root: Path) -> None:
        self.path = root / "repo"
        git("clone", "--quiet", "--no-hardlinks", str(source), str(self.path), cwd=root)

    def sh(self, *args: str, env: dict[str, str] | None = None, check: bool = True,
           project: Path = Path()) -> Result:  # fmt: skip
        """Run a command in the clone, or in its DVC project in folder `project`."""
        return sh(*args, cwd=self.path / project, env=env, check=check)

    def repro(self, *args: str, project: Path = Path(), first: str | None = None,
              env: dict[str, str] | None = None) -> Result:  # fmt: skip
        """`dvc repro ARGS` in the DVC project in folder `project`, showing which stage runs and how many
        are done (all of the project's, or those from stage `first` on)."""
        cwd = self.path / project
        names = stage_names(cwd)
        names = names[names.index(first) :] if first else names
        label = f"check: {project}/dvc.yaml" if project != Path() else "check: dvc.yaml"
        return repro(*args, label=label, sizes=dict.fromkeys(names, 1), cwd=cwd, env=env)

    def lock(self, project: Path = Path()) -> dict:
        """The stages of dvc.lock, or of the lock of the DVC project in folder `project`."""
        return parse_lock((self.path / project / "dvc.lock").read_text())

    def metrics(self) -> dict[str, float]:
        """The workspace's metrics, as `dvc metrics show` reads them."""
        shown = json.loads(self.sh("dvc", "metrics", "show", "--json").stdout)
        return leaves(shown.get("", {}).get("data", {}))

    def committed_metrics(self, like: dict[str, float]) -> dict[str, float]:
        """The metrics files of `like` (a `metrics()` result), as committed to git at HEAD."""
        paths = {key.split(":")[0] for key in like}
        shown = {path: self.sh("git", "show", f"HEAD:{path}", check=False) for path in sorted(paths)}
        return leaves(
            {path: {"data": json.loads(out.stdout)} for path, out in shown.items() if out.returncode == 0}
        )


def check_lock(clone: Clone, committed: dict, tolerance: float | None) -> list[Finding]:
    """`dvc repro` from nothing, then compare every hash with the committed dvc.lock."""
    clone.repro()
    findings = compare_locks(committed, clone.lock())
    if clone.sh("dvc", "status", "--quiet", check=False).returncode != 0:
        findings.append(Finding("(all)", "dvc status", "not up to date after `dvc repro`", "stale"))
    if tolerance is None:
        return findings
    actual = clone.metrics()
    return tolerate(findings, clone.committed_metrics(like=actual), actual, tolerance)


def check_repeat(clone: Clone, tolerance: float | None) -> list[Finding]:
    """Rerun training onwards in a new process with another thread count and hash seed."""
    first = clone.lock()
    first_metrics = None if tolerance is None else clone.metrics()
    threads = str(max(2, os.cpu_count() or 2))
    env = {**os.environ, "OMP_NUM_THREADS": threads, "PYTHONHASHSEED": "12345"}
    clone.repro("--force", "--downstream", REPEAT_FROM, first=REPEAT_FROM, env=env)
    findings = [
        Finding(f.stage, f.path, f"differs between two runs (then OMP_NUM_THREADS={threads})", f.kind)
        for f in compare_locks(first, clone.lock())
    ]
    if tolerance is None:
        return findings
    return tolerate(findings, first_metrics, clone.metrics(), tolerance)


def check_study(clone: Clone, committed: dict, tolerance: float | None) -> list[Finding]:
    """`dvc repro` of the seeds study from nothing, against the committed study/dvc.lock; with a
    tolerance, differing outputs pass if every number of the per-seed table is within it. The runs of a
    config in a framework's own arithmetic always pass within that framework's tolerance: its kernels
    round their own way on another CPU."""
    clone.repro(project=STUDY)
    findings = compare_locks(committed, clone.lock(STUDY))
    if clone.sh("dvc", "status", "--quiet", project=STUDY, check=False).returncode != 0:
        findings.append(Finding("(study)", "dvc status", "not up to date after `dvc repro`", "stale"))
    if tolerance is None:
        return forgive_own_arithmetic(clone, findings)
    return forgive(findings, study_table(clone, tolerance), f"numbers within {tolerance}")


def forgive_own_arithmetic(clone: Clone, findings: list[Finding]) -> list[Finding]:
    """Drop the differing runs of configs in a framework's own arithmetic whose rows of the per-seed
    table are within that framework's tolerance; keep every other finding."""
    native = native_configs(clone.path)
    own = [finding for finding in findings if config_of(finding.stage) in native]
    if not own:
        return findings
    configs = sorted({config_of(finding.stage) for finding in own})
    beyond = [line for config in configs for line in study_table(clone, native[config], config)]
    reason = "a framework's own arithmetic, its rows of the per-seed table within its tolerance"
    return [finding for finding in findings if finding not in own] + forgive(own, beyond, reason)


def study_table(clone: Clone, tolerance: float, config: str | None = None) -> list[Finding]:
    """The cells of the reproduced per-seed table (`config`'s rows only, if given) beyond `tolerance`
    of the committed one."""
    tables = [clone.sh("git", "show", f"HEAD:{STUDY_TABLE}").stdout, (clone.path / STUDY_TABLE).read_text()]
    if config:
        tables = [_rows_of(table, config) for table in tables]
    return [
        Finding("(study)", STUDY_TABLE, f"beyond tolerance {tolerance}: {line}", "nondeterministic")
        for line in table_differences(*tables, tolerance)
    ]


def _rows_of(table: str, config: str) -> str:
    """A per-seed table's header and the rows of `config`."""
    lines = table.splitlines(keepends=True)
    return "".join(lines[:1] + [line for line in lines[1:] if line.startswith(f"{config},")])


def native_configs(root: Path) -> dict[str, float]:
    """The configs of experiments.yaml in a framework's own arithmetic, each with its metric tolerance."""
    configs = load_experiments(root / "experiments.yaml", EVERY_NAMED)
    return {name: tolerances(config.train.framework)["metrics"] for name, config in configs.items()
            if config.train.arithmetic == NATIVE}  # fmt: skip


def config_of(stage: str) -> str:
    """The config a study stage trains: seeds@CONFIG, or batch@CONFIG-K."""
    name = stage.partition("@")[2]
    return name.rsplit("-", 1)[0] if stage.startswith("batch@") else name


def experiment_metrics(clone: Clone, names: list[str]) -> dict[str, dict[str, float]]:
    """Run `journey experiments` (all, or `names`) and return each experiment's numeric metrics."""
    sh(
        sys.executable,
        "-m",
        "journey",
        "experiments",
        "--force",
        *names,
        cwd=clone.path,
        env=child_env(),
        watch=lambda _: None,
    )  # its stderr, with the progress, shows as it comes
    shown = json.loads(clone.sh("dvc", "exp", "show", "--json").stdout)
    return {name: leaves(rev["data"]["metrics"]) for name, rev in named_experiments(shown).items()}


def check_experiments(clone: Clone, tolerance: float | None, names: list[str]) -> list[Finding]:
    """Run the named experiments twice, recomputing every stage, and compare their metrics."""
    first = experiment_metrics(clone, names)
    shutil.rmtree(clone.path / ".dvc" / "cache" / "runs", ignore_errors=True)  # no restoring: recompute
    second = experiment_metrics(clone, names)
    findings = []
    for name in sorted(first.keys() | second.keys()):
        for line in metric_differences(first.get(name, {}), second.get(name, {}), tolerance or 0.0):
            findings.append(Finding(name, "metrics", f"differs between two runs: {line}", "nondeterministic"))
    return findings


def run_steps(clone: Clone, tolerance: float | None, experiments: list[str] | None,
              study: bool = True) -> list[Finding]:  # fmt: skip
    """The steps in order; a lock that does not reproduce stops the later steps."""
    committed, committed_study = clone.lock(), clone.lock(STUDY)
    steps = [
        (
            "dvc repro from nothing, against the committed dvc.lock",
            lambda: check_lock(clone, committed, tolerance),
        ),
        (
            f"`{REPEAT_FROM}` onwards again, in a new process with other threads",
            lambda: check_repeat(clone, tolerance),
        ),
    ]
    if study:
        steps.append(
            (
                f"the seeds study ({STUDY}/dvc.yaml) from nothing, against its committed lock",
                lambda: check_study(clone, committed_study, tolerance),
            )
        )
    if experiments is not None:
        steps.append(
            ("the named experiments, twice", lambda: check_experiments(clone, tolerance, experiments))
        )
    for number, (title, step) in enumerate(steps, start=1):
        print(f"[{number}/{len(steps)}] {title}", flush=True)
        if findings := step():
            return findings  # later steps would compare runs of code that already fails
    return []


def native(source: Path) -> str | None:
    """The framework params.yaml trains in its own arithmetic, or None (exact, or unreadable)."""
    try:
        train = load_params(source / "params.yaml").train
    except UserError:
        return None
    return train.framework if train.arithmetic == NATIVE else None


def native_hint(framework: str) -> str:
    """What a strict check of a lock written in a framework's own arithmetic can and cannot promise."""
    kernels = "JAX's (XLA's)" if framework == JAX else "PyTorch's"
    return (f"note: train.arithmetic is native in params.yaml: {kernels} kernels give the same bytes run "
            "after run on one machine, and round their own way on others; on a machine other than the "
            f"one that wrote dvc.lock, run `journey check --tolerance {tolerances(framework)['metrics']:g}` "
            "(docs/reproducibility.md, Native runs)")  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--tolerance, and options that skip steps while you iterate."""
    parser.add_argument(
        "--tolerance",
        type=float,
        default=None,
        help="while upgrading a pinned library: data outputs still bitwise, metrics within this "
        "absolute tolerance",
    )
    parser.add_argument("--skip-study", action="store_true", help="skip the seeds study")
    parser.add_argument("--skip-experiments", action="store_true", help="skip the named experiments")
    parser.add_argument(
        "--experiment",
        action="append",
        default=[],
        metavar="NAME",
        help="run only this named experiment (repeatable; default: the notebooks)",
    )


def command(args: argparse.Namespace) -> None:
    """Run every step and print what differs; exit 1 if anything does."""
    if args.tolerance is not None and args.tolerance < 0:
        raise UserError(f"--tolerance {args.tolerance}: must be 0 or more")
    source = repo_root()
    if git("status", "--porcelain", "--untracked-files=no", cwd=source).strip():
        print("note: uncommitted changes are not checked; the check uses HEAD only", file=sys.stderr)
    try:
        # The experiments step leaves DVC's queue workers in the clone, which may still write there
        # while it is removed: they are stopped first, and what they write last is not an error.
        with tempfile.TemporaryDirectory(prefix="repro-check-", ignore_cleanup_errors=True) as root:
            experiments = None if args.skip_experiments else args.experiment
            clone = Clone(source, Path(root))
            try:
                findings = run_steps(clone, args.tolerance, experiments, study=not args.skip_study)
            finally:
                clone.sh("dvc", "queue", "stop", "--kill", check=False)
    except KeyboardInterrupt:
        raise Interrupted(
            "the check worked in a temporary clone, now removed; nothing here changed; `journey check` "
            "starts again from nothing"
        ) from None
    if findings:
        report = "\n".join(str(finding) for finding in findings)
        if args.tolerance is None and (framework := native(source)):
            report += "\n" + native_hint(framework)
        raise UserError(f"reproducibility check failed ({len(findings)} finding(s)):\n{report}")
    mode = "strict" if args.tolerance is None else f"tolerance {args.tolerance}"
    print(f"reproducibility check passed ({mode})")
