"""`journey COMMAND`: the one command line of the tools that drive DVC."""

import argparse
from types import ModuleType

from journey import check, experiments, plots, remote, study
from stages.cli import run

COMMANDS: dict[str, ModuleType] = {
    "experiments": experiments,
    "study": study,
    "check": check,
    "plots": plots,
    "remote": remote,
}


def parser() -> argparse.ArgumentParser:
    """The parser: one subcommand per tool, each described by its module's docstring."""
    top = argparse.ArgumentParser(prog="journey", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        summary = module.__doc__.splitlines()[0]
        sub = commands.add_parser(name, help=summary, description=summary)
        module.add_arguments(sub)
        sub.set_defaults(handler=module.command)
    return top


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the chosen command; a UserError is one line and exit 2."""
    args = parser().parse_args(argv)
    run(lambda: args.handler(args), dvc_removed_outputs=False)
