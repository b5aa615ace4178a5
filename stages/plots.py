"""Render the charts of `dvc plots diff` to PNG files, with no browser (for CI summaries and artifacts)."""

import argparse
import ast
import json
import re
import subprocess
from pathlib import Path

from stages.cli import UserError, run


def vega_specs(revisions: list[str]) -> dict[str, dict]:
    """Each Vega-Lite chart that `dvc plots diff` draws for these revisions, by title."""
    result = subprocess.run(["dvc", "plots", "diff", *revisions, "--json"], capture_output=True, text=True)
    if result.returncode != 0:
        raise UserError(f"`dvc plots diff {' '.join(revisions)}` failed:\n{result.stderr.strip()}")
    specs = {}
    for title, renders in json.loads(result.stdout).get("data", {}).items():
        for render in renders:
            if render.get("type") == "vega":
                content = render["content"]
                specs[title] = content if isinstance(content, dict) else ast.literal_eval(content)
    return specs


def file_name(title: str) -> str:
    """`Loss per epoch` → `loss-per-epoch.png`."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") + ".png"


def main() -> None:
    """Write one PNG per chart of `dvc plots diff REVISION...` into --out."""
    import vl_convert

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("revisions", nargs="*", help="experiments, branches or commits (default: workspace)")
    parser.add_argument("--out", type=Path, default=Path("dvc_plots/png"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for title, spec in vega_specs(args.revisions).items():
        (args.out / file_name(title)).write_bytes(vl_convert.vegalite_to_png(spec, scale=2))
        print(args.out / file_name(title))


if __name__ == "__main__":
    run(main)
