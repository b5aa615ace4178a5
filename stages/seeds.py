"""Run configurations over N seeds on DVC's queue, in parallel, as experiments named CONFIG-sSEED."""

import argparse
import re
import sys

from stages.cli import UserError, run
from stages.experiments import (
    EVERY_NAMED,
    Lesson,
    add_queue_options,
    load_experiments,
    load_lessons,
    raise_if_failed,
    run_experiments,
)

SEED_NAME = re.compile(r"^(?P<config>.+)-s(?P<seed>\d+)$")


def seed_name(config: str, seed: int) -> str:
    """`nb1-bce-s3`."""
    return f"{config}-s{seed}"


def parse_seed_name(name: str) -> tuple[str, int] | None:
    """(config, seed) of an experiment named by seed_name, else None."""
    match = SEED_NAME.match(name)
    return (match["config"], int(match["seed"])) if match else None


def seeded(configs: dict[str, dict], n_seeds: int, vary_data: bool = False) -> dict[str, dict]:
    """Each config once per seed 0..n-1: `train.seed` set to it, and with `vary_data` the data and
    split seeds too (real data has no data seed), so paired configs share every seed."""
    experiments = {}
    for name, config in configs.items():
        for seed in range(n_seeds):
            params = {section: dict(values) for section, values in config.items()}
            params["train"]["seed"] = seed
            if vary_data:
                params["split"]["seed"] = seed
                if params["data"]["source"] == "synthetic":
                    params["data"]["seed"] = seed
            experiments[seed_name(name, seed)] = params
    return experiments


def lesson_configs(lessons: list[Lesson]) -> list[str]:
    """The configs the lessons compare, each once, in the order the lessons name them."""
    names = [name for lesson in lessons for name in (lesson.base, lesson.than, lesson.better)]
    return list(dict.fromkeys(name for name in names if name))


def main() -> None:
    """Run the chosen configs (default: those the lessons compare) over --seeds seeds."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("configs", nargs="*", help="configs of experiments.yaml (default: the lessons')")
    parser.add_argument("--seeds", type=int, default=10, help="seeds per config, 0 to N-1 (default 10)")
    parser.add_argument("--vary-data", action="store_true", help="vary the data and split seeds too")
    add_queue_options(parser)
    args = parser.parse_args()
    if args.seeds < 2 or args.jobs < 1:
        raise UserError("--seeds must be 2 or more (an interval needs two values), --jobs 1 or more")
    known, lessons = load_experiments(args.file, EVERY_NAMED), load_lessons(args.file)
    names = args.configs or lesson_configs(lessons)
    if unknown := [name for name in names if name not in known]:
        raise UserError(f"unknown config(s) {unknown}; {args.file} defines {', '.join(known)}")
    experiments = seeded({name: known[name] for name in names}, args.seeds, args.vary_data)
    print(f"{len(experiments)} experiments: {len(names)} configs x {args.seeds} seeds", file=sys.stderr)
    raise_if_failed(run_experiments(experiments, jobs=args.jobs, force=args.force))
    from stages.report import config_table, held_runs, lessons_table  # the report imports this module

    runs = held_runs(args.file)
    print(f"{config_table(runs)}\n\n{lessons_table(lessons, runs)}")
    print("\nthe report with figures: `python -m stages.report` writes reports/", file=sys.stderr)


if __name__ == "__main__":
    run(main)
