"""Run the seeds study (study/dvc.yaml) and print its lessons; reports/README.md has the whole report."""

import argparse
import time
from pathlib import Path

from journey.dvc import dvc

PIPELINE = "study/dvc.yaml"
REPORT = Path("reports/README.md")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--force, passed on to `dvc repro`."""
    parser.add_argument("--force", action="store_true", help="retrain every config, even if up to date")


def lessons_section(report: str) -> str:
    """The report's `## Lessons` section, up to the next section."""
    start = report.index("## Lessons")
    end = report.find("\n## ", start + 1)
    return report[start : end if end != -1 else None].strip()


def command(args: argparse.Namespace) -> None:
    """`dvc repro study/dvc.yaml`: train what changed (or is missing), rebuild reports/, print the lessons."""
    started = time.perf_counter()
    print(dvc("repro", *(["--force"] if args.force else []), PIPELINE).strip())
    print(f"\n{lessons_section(REPORT.read_text())}\n")
    print(f"{REPORT} has the whole report ({time.perf_counter() - started:.0f} s)")
