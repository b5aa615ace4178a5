"""Render the charts of `dvc plots diff` to PNG files, with no browser (for CI summaries and artifacts), and
copy its image plots (the loss curves' and the decision boundary's PNGs), one per revision."""

import argparse
import ast
import json
import re
import shutil
from pathlib import Path

from journey.dvc import dvc
from stages.lib.cli import UserError


def plots(revisions: list[str]) -> tuple[dict[str, dict], dict[str, Path]]:
    """What `dvc plots diff` draws for these revisions: each Vega-Lite chart by title, and each image
    plot's file per revision, by the name it is copied under (`eval-boundary-nb1-bce.png`)."""
    specs, images = {}, {}
    for title, renders in json.loads(dvc("plots", "diff", *revisions, "--json")).get("data", {}).items():
        for render in renders:
            if render.get("type") == "vega":
                content = render["content"]
                specs[title] = content if isinstance(content, dict) else ast.literal_eval(content)
            elif render.get("type") == "image":
                for revision in render.get("revisions", []):
                    images[file_name(f"{Path(title).with_suffix('')} {revision}")] = Path(render["url"])
    return specs, images


def file_name(title: str) -> str:
    """`Loss per epoch` → `loss-per-epoch.png`."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") + ".png"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Revisions, and the folder to write into."""
    parser.add_argument("revisions", nargs="*", help="experiments, branches or commits (default: workspace)")
    parser.add_argument("--out", type=Path, default=Path("dvc_plots/png"))


def command(args: argparse.Namespace) -> None:
    """Write one PNG per chart of `dvc plots diff REVISION...` into --out, and each image plot of each
    revision."""
    try:
        import vl_convert  # a test extra: only this command needs it
    except ImportError:
        raise UserError("journey plots renders charts with vl-convert-python, which is not installed; run "
                        "`pip install -e '.[test]'`, or use `dvc plots diff … --open`") from None  # fmt: skip

    args.out.mkdir(parents=True, exist_ok=True)
    specs, images = plots(args.revisions)
    for title, spec in specs.items():
        (args.out / file_name(title)).write_bytes(vl_convert.vegalite_to_png(spec, scale=2))
        print(args.out / file_name(title))
    for name, source in images.items():
        shutil.copyfile(source, args.out / name)
        print(args.out / name)
