"""`journey COMMAND`: the one command line of the tools that drive DVC."""

import argparse
import os
from types import ModuleType

from journey import check, experiments, plots, remote, results, study
from stages.lib.cli import run
from stages.lib.progress import MODE

COMMANDS: dict[str, ModuleType] = {
    "experiments": experiments,
    "results": results,
    "study": study,
    "check": check,
    "plots": plots,
    "remote": remote,
}
SHOW_PROGRESS = ("experiments", "study", "check")  # long work, shown on stderr as it runs


def parser() -> argparse.ArgumentParser:
    """The parser: one subcommand per tool, each described by its module's docstring."""
    top = argparse.ArgumentParser(prog="journey", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        summary = module.__doc__.splitlines()[0]
        sub = commands.add_parser(name, help=summary, description=summary)
        module.add_arguments(sub)
        if name in SHOW_PROGRESS:
            hint = f"show no progress on stderr (or set {MODE}=off; {MODE}=lines: plain lines only)"
            sub.add_argument("--no-progress", action="store_true", help=hint)
        sub.set_defaults(handler=module.command)
    return top


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the chosen command; a UserError is one line and exit 2."""
    args = parser().parse_args(argv)
    if getattr(args, "no_progress", False):
        os.environ[MODE] = "off"  # for this process and every command it starts
    run(lambda: args.handler(args), dvc_removed_outputs=False)
