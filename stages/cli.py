"""What every stage's entry point shares: one clear error line and a non-zero exit."""

import argparse
import sys
from collections.abc import Callable
from pathlib import Path


class UserError(Exception):
    """A problem the user can fix; its message says what is wrong and how to fix it."""


EXIT_USER_ERROR = 2


def parse_paths(description: str, *names: str, argv: list[str] | None = None) -> argparse.Namespace:
    """Parse required `--name PATH` options; dvc.yaml passes every path a stage touches."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file")
    for name in names:
        parser.add_argument(f"--{name}", type=Path, required=True)
    return parser.parse_args(argv)


def run(main: Callable[[], None]) -> None:
    """Call a stage's main(), turning a UserError into one line on stderr and exit 2."""
    try:
        main()
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)
