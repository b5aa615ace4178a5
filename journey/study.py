"""Run the seeds study (study/dvc.yaml), whole, one shard of it, or gathered from pushed shards.

study/ is a DVC project of its own (`dvc init --subdir`), so every dvc command here runs in it.
`--shard K/N` trains every N-th config from the K-th (study/params.yaml's order) and pushes the runs
and DVC's run-cache to the study's default remote. `--aggregate` builds study/reports/ from what the
shards pushed (`dvc repro --pull`) and trains nothing: a config no shard pushed is an error naming it.
"""

import argparse
import os
import re
import sys
import time
from pathlib import Path

import yaml

from journey.dvc import dvc, release_stale_locks, repro
from journey.remote import require_remote
from stages.lib.cli import Interrupted, UserError
from study.lib.shards import MISSING, NO_TRAINING, NOT_PUSHED, runs_per_config

STUDY = Path("study")  # the study's DVC project, beside the notebooks' (the repository's root)
PARAMS = STUDY / "params.yaml"
REPORT = STUDY / "reports/README.md"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--force, --shard K/N or --aggregate."""
    parser.add_argument("--force", action="store_true", help="retrain every config, even if up to date")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--shard", metavar="K/N", help="train shard K of N and push it to the remote")
    mode.add_argument("--aggregate", action="store_true", help="build study/reports/ from pushed shards only")


def lessons_section(report: str) -> str:
    """The report's `## Lessons` section, up to the next section."""
    start = report.index("## Lessons")
    end = report.find("\n## ", start + 1)
    return report[start : end if end != -1 else None].strip()


def parse_shard(text: str) -> tuple[int, int]:
    """`2/3` → (2, 3); anything else is a UserError."""
    match = re.fullmatch(r"(\d+)/(\d+)", text)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise UserError(f"--shard {text}: expected K/N with 1 ≤ K ≤ N, such as 1/3")
    return int(match[1]), int(match[2])


def shard_configs(configs: list[str], shard: int, shards: int) -> list[str]:
    """The configs of shard K of N: every N-th, from the K-th."""
    return configs[shard - 1 :: shards]


def study_configs() -> list[str]:
    """The `configs` of study/params.yaml."""
    try:
        return list(yaml.safe_load(PARAMS.read_text())["configs"])
    except (OSError, yaml.YAMLError, KeyError, TypeError) as error:
        raise UserError(f"{PARAMS}: cannot read its `configs` list ({error})") from None


def stage_runs(configs: list[str]) -> dict[str, int]:
    """How many runs each stage of `configs` trains (the report none), for the progress shown."""
    try:
        seeds = yaml.safe_load(PARAMS.read_text())["seeds"]
        runs = runs_per_config(int(seeds["n"]), int(seeds["n_per_source"]))
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError):
        runs = 1  # the seeds stage itself says what is wrong with the params
    return {f"seeds@{config}": runs for config in configs} | {"report": 0}


def study_repro(*args: str, label: str, configs: list[str], env: dict[str, str] | None = None,
                check: bool = True):  # fmt: skip
    """`dvc repro ARGS` in study/, showing runs done of runs planned on stderr."""
    return repro(*args, label=label, sizes=stage_runs(configs), unit="run", cwd=STUDY, env=env, check=check)


def run_shard(shard: int, shards: int, force: bool) -> None:
    """Train this shard's configs, then push their runs and the run-cache to the default remote."""
    require_remote(STUDY)
    every = study_configs()
    configs = shard_configs(every, shard, shards)
    if not configs:
        raise UserError(f"shard {shard}/{shards} has no configs: study/params.yaml lists {len(every)}")
    targets = [f"seeds@{config}" for config in configs]
    label = f"study shard {shard}/{shards}"
    print(study_repro(*(["--force"] if force else []), *targets, label=label, configs=configs).stdout.strip())
    print(dvc("push", "--run-cache", *targets, cwd=STUDY).strip())
    print(f"shard {shard}/{shards} pushed: {', '.join(configs)}")


def aggregate() -> None:
    """`dvc repro --pull` of the whole study with training forbidden; name every config not pushed."""
    require_remote(STUDY)
    env = {**os.environ, NO_TRAINING: "1"}
    label, configs = "study (from the shards' runs)", study_configs()
    result = study_repro("--pull", "--keep-going", label=label, configs=configs, env=env, check=False)
    if missing := sorted(set(MISSING.findall(result.stdout + result.stderr))):
        raise UserError(
            f"{NOT_PUSHED.format(', '.join(missing))}; run `journey study --shard K/N` for the "
            "shard that holds them (or `journey study` here, which trains them), then aggregate again"
        )
    if result.returncode != 0:
        raise UserError(f"`dvc repro --pull` in {STUDY} failed:\n{(result.stderr or result.stdout).strip()}")
    print(result.stdout.strip())
    # With --pull, DVC counts a missing `cache: false` output as pulled and may not rerun the report;
    # it takes seconds, so it is always written here, from the runs just pulled.
    print(dvc("repro", "--force", "--single-item", "report", cwd=STUDY, env=env).strip())


def command(args: argparse.Namespace) -> None:
    """`dvc repro` in study/ (or a shard, or the aggregation), then print the lessons."""
    again = "journey study" + (
        f" --shard {args.shard}" if args.shard else " --aggregate" if args.aggregate else ""
    )
    try:
        run(args)
    except KeyboardInterrupt:
        raise Interrupted(
            f"DVC stopped the stage that was running and kept every config finished before; `{again}` "
            "finishes the study, training only what was not done"
        ) from None


def run(args: argparse.Namespace) -> None:
    """The command's work: a shard, the aggregation, or the whole study, then the lessons."""
    if stale := release_stale_locks(STUDY):
        print(f"note: released DVC's locks held by killed processes ({', '.join(map(str, stale))})",
              file=sys.stderr)  # fmt: skip
    started = time.perf_counter()
    if args.shard:
        run_shard(*parse_shard(args.shard), args.force)
        return
    if args.aggregate:
        aggregate()
    else:
        force = ["--force"] if args.force else []
        print(study_repro(*force, label="study", configs=study_configs()).stdout.strip())
    print(f"\n{lessons_section(REPORT.read_text())}\n")
    print(f"{REPORT} has the whole report ({time.perf_counter() - started:.0f} s)")
