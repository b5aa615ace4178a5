"""What every stage's entry point shares: one clear error line and a non-zero exit."""

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path


class UserError(Exception):
    """A problem the user can fix; its message says what is wrong and how to fix it."""


EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command stopped by Ctrl-C


class Interrupted(Exception):
    """Ctrl-C, after the command cleaned up; its message says what was stopped and what is left."""


def parse_paths(description: str, *names: str, argv: list[str] | None = None) -> argparse.Namespace:
    """Parse required `--name PATH` options; dvc.yaml passes every path a stage touches."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file")
    for name in names:
        parser.add_argument(f"--{name}", type=Path, required=True)
    return parser.parse_args(argv)


def run(main: Callable[[], None], dvc_removed_outputs: bool = True) -> None:
    """Call a stage's main(), turning a UserError into one line on stderr and exit 2.

    Under `dvc repro` (DVC sets DVC_STAGE), DVC removed the stage's outputs before running it; a
    second line says how to get them back, unless the stage has no outputs worth keeping.
    """
    try:
        main()
    except UserError as error:
        print(f"error: {error}{restore_hint() if dvc_removed_outputs else ''}", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)
    except Interrupted as interrupted:
        print(f"interrupted: {interrupted}", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        print(f"interrupted{restore_hint() if dvc_removed_outputs else ''}", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)


def restore_hint() -> str:
    """How to get back the outputs DVC removed before running the failing stage, or "" outside DVC."""
    stage = os.environ.get("DVC_STAGE")
    if not stage:
        return ""
    # DVC runs a stage in its dvc.yaml's folder; a pipeline outside the root is addressed by its file.
    root = Path(os.environ.get("DVC_ROOT", ".")).resolve()
    try:
        folder = Path.cwd().relative_to(root)
    except ValueError:
        folder = Path()
    if ".dvc" in folder.parts:  # a queued experiment, in DVC's temporary copy: the workspace lost nothing
        return ""
    target = stage if folder == Path() else f"{folder / 'dvc.yaml'}:{stage}"
    # A DVC project inside another (the study's, in study/) takes its commands in its own folder.
    outer = next((parent for parent in root.parents if (parent / ".dvc").is_dir()), None)
    command = f"dvc checkout {target}"
    where = f"`cd {root.relative_to(outer)} && {command}`" if outer else f"`{command}`"
    hint = (
        f"\nnote: DVC removed the outputs of stage '{stage}' before running it; "
        f"{where} brings back the last ones its lock records"
    )
    in_git = outputs_kept_in_git(Path("dvc.yaml"), stage)
    return hint + (f", and `git checkout HEAD -- {' '.join(in_git)}` those kept in git" if in_git else "")


def outputs_kept_in_git(dvc_yaml: Path, stage: str) -> list[str]:
    """The stage's `cache: false` outputs, which `dvc checkout` leaves to git."""
    import yaml

    try:
        spec = yaml.safe_load(dvc_yaml.read_text())["stages"][stage]
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return []
    entries = [entry for kind in ("outs", "metrics", "plots") for entry in spec.get(kind, [])]
    return [path for entry in entries if isinstance(entry, dict)
            for path, options in entry.items() if (options or {}).get("cache") is False]  # fmt: skip
