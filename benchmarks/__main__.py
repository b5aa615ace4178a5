"""Run the benchmarks and print their tables: `python -m benchmarks [--only NAME ...]`."""

import argparse
import tempfile
from pathlib import Path

from benchmarks import (
    arithmetic,
    breakdown,
    exact,
    formats,
    framework,
    loop,
    pipeline,
    progress,
    scale,
    study,
)
from benchmarks.common import head, machine

SECTIONS = {
    "pipeline": ("Pipeline, experiments and reruns", pipeline.report),
    "loop": ("Training loop", loop.report),
    "scale": ("Scale", scale.report),
    "formats": ("Data format", formats.report),
    "study": ("Seeds study", study.report),
    "framework": ("PyTorch and JAX", framework.report),
    "exact": ("Exact arithmetic, before and after", exact.report),
    "progress": ("Progress display, on and off", progress.report),
    "arithmetic": ("The exact arithmetic as PyTorch pieces, and PyTorch's own", arithmetic.report),
    "breakdown": ("Where `journey experiments`' time goes", breakdown.report),
}


def main() -> None:
    """Print each chosen benchmark's table under a heading, with the machine's description first."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    args = parser.parse_args()
    print(f"Machine: {machine()}\n\nCommit: {head()} (every clone of this run)\n")
    for name in args.only:
        title, report = SECTIONS[name]
        with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as workdir:
            print(f"## {title}\n\n{report(Path(workdir))}\n", flush=True)


if __name__ == "__main__":
    main()
