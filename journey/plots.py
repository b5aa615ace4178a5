"""Render the charts of `dvc plots diff` to PNG files, with no browser (for CI summaries and artifacts)."""

import argparse
import ast
import json
import re
from pathlib import Path

from journey.dvc import dvc
from stages.lib.cli import UserError


def vega_specs(revisions: list[str]) -> dict[str, dict]:
    """Each Vega-Lite chart that `dvc plots diff` draws for these revisions, by title."""
    specs = {}
    for title, renders in json.loads(dvc("plots", "diff", *revisions, "--json")).get("data", {}).items():
        for render in renders:
            if render.get("type") == "vega":
                content = render["content"]
                specs[title] = content if isinstance(content, dict) else ast.literal_eval(content)
    return specs


def file_name(title: str) -> str:
    """`Loss per epoch` → `loss-per-epoch.png`."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") + ".png"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Revisions, and the folder to write into."""
    parser.add_argument("revisions", nargs="*", help="experiments, branches or commits (default: workspace)")
    parser.add_argument("--out", type=Path, default=Path("dvc_plots/png"))


def command(args: argparse.Namespace) -> None:
    """Write one PNG per chart of `dvc plots diff REVISION...` into --out."""
    try:
        import vl_convert  # a test extra: only this command needs it
    except ImportError:
        raise UserError("journey plots renders charts with vl-convert-python, which is not installed; run "
                        "`pip install -e '.[test]'`, or use `dvc plots diff … --open`") from None  # fmt: skip

    args.out.mkdir(parents=True, exist_ok=True)
    for title, spec in vega_specs(args.revisions).items():
        (args.out / file_name(title)).write_bytes(vl_convert.vegalite_to_png(spec, scale=2))
        print(args.out / file_name(title))
