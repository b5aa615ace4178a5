"""Run the seeds study (study/dvc.yaml), whole, one shard of it, or gathered from pushed shards.

study/ is a DVC project of its own (`dvc init --subdir`), so every dvc command here runs in it.
`--shard K/N` trains every N-th config from the K-th (study/params.yaml's order) and pushes the runs
and DVC's run-cache to the study's default remote. `--aggregate` builds study/reports/ from what the
shards pushed (`dvc repro --pull`) and trains nothing: a config no shard pushed is an error naming it.
`--until-decided` looks again, a batch of seeds more each time (seeds.batches in study/params.yaml),
until the report decides every lesson or the cap (seeds.max_seeds, or --max-seeds) is reached.
"""

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import yaml

from journey.dvc import dvc, release_stale_locks, repro
from journey.remote import require_remote
from stages.lib.cli import Interrupted, UserError
from stages.params import read_params_file, section_of
from study.lib.shards import MISSING, NO_TRAINING, NOT_PUSHED, STUDY_SECTIONS, SeedsParams, runs_per_config

STUDY = Path("study")  # the study's DVC project, beside the notebooks' (the repository's root)
PARAMS = STUDY / "params.yaml"
REPORT = STUDY / "reports/README.md"
DECISIONS = STUDY / "reports/decisions.json"  # the report's verdicts, for --until-decided


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--force, --shard K/N or --aggregate."""
    parser.add_argument("--force", action="store_true", help="retrain every config, even if up to date")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--shard", metavar="K/N", help="train shard K of N and push it to the remote")
    mode.add_argument("--aggregate", action="store_true", help="build study/reports/ from pushed shards only")
    mode.add_argument(
        "--until-decided",
        action="store_true",
        help="add seeds a batch per look until every lesson is decided or the cap is reached",
    )
    parser.add_argument(
        "--max-seeds",
        type=int,
        metavar="N",
        help="with --until-decided: the cap on seeds per config (seeds.max_seeds)",
    )


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
        seeds = study_seeds()
    except UserError:  # the seeds stage itself says what is wrong with the params
        return {f"seeds@{config}": 1 for config in configs} | {"report": 0}
    first = runs_per_config(seeds.n, seeds.n_per_source)
    later = {f"batch@{config}-{k}": seeds.batch for config in configs for k in seeds.batches}
    return {f"seeds@{config}": first for config in configs} | later | {"report": 0}


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
    targets = [stage for stage in stage_runs(configs) if stage != "report"]
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


def set_seeds_param(key: str, value: int | list[int]) -> None:
    """Rewrite one key of the `seeds` section of study/params.yaml in place, keeping its comments."""
    text = PARAMS.read_text()
    pattern = re.compile(rf"^(  {key}:[ \t]*)([^#\n]*?)([ \t]*)(#.*)?$", re.MULTILINE)
    if not (match := pattern.search(text)):
        raise UserError(f"{PARAMS}: no seeds.{key} line to update; restore it with `git checkout {PARAMS}`")
    head, old, gap, comment = match.groups()
    line = head + json.dumps(value)
    if comment:  # keep the comment in its column where the value leaves room
        line += " " * max(1, len(head) + len(old) + len(gap) - len(line)) + comment
    PARAMS.write_text(text[: match.start()] + line + text[match.end() :])


def study_seeds() -> SeedsParams:
    """The `seeds` section of study/params.yaml, checked."""
    return section_of(read_params_file(PARAMS, STUDY_SECTIONS), PARAMS, "seeds", SeedsParams)


def until_decided(max_seeds: int | None, force: bool) -> None:
    """Look, then add a batch of seeds to every config and look again, until the report decides every
    lesson or one more batch would pass the cap. Each look is a plain `dvc repro`: earlier batches are
    up to date, so a look trains only its own batch, and rerunning the command trains nothing."""
    if max_seeds is not None:
        set_seeds_param("max_seeds", max_seeds)
    seeds = study_seeds()  # the params stage's checks, before anything trains
    while True:
        label = f"study, look {len(seeds.batches) + 1}"
        again = ["--force"] if force else []
        print(study_repro(*again, label=label, configs=study_configs()).stdout.strip())
        force, decisions = False, json.loads(DECISIONS.read_text())
        if decisions["decided"]:
            print(f"every lesson decided, at {decisions['looks'][-1]} seeds per config "
                  f"({len(decisions['looks'])} look(s))")  # fmt: skip
            return
        if seeds.looks()[-1] == seeds.cap():
            undecided = "; ".join(lesson["claim"] for lesson in decisions["lessons"]
                                  if lesson["verdict"] == "undecided")  # fmt: skip
            print(f"the cap of {seeds.cap()} seeds per config is reached; undecided: {undecided}")
            return
        set_seeds_param("batches", [*seeds.batches, len(seeds.batches) + 1])
        seeds = study_seeds()


def command(args: argparse.Namespace) -> None:
    """`dvc repro` in study/ (or a shard, or the aggregation), then print the lessons."""
    again = "journey study" + (
        f" --shard {args.shard}" if args.shard else " --aggregate" if args.aggregate
        else " --until-decided" if args.until_decided else ""
    )  # fmt: skip
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
    if args.max_seeds is not None and not args.until_decided:
        raise UserError("--max-seeds caps --until-decided: give both, or neither")
    if args.shard:
        run_shard(*parse_shard(args.shard), args.force)
        return
    if args.aggregate:
        aggregate()
    elif args.until_decided:
        until_decided(args.max_seeds, args.force)
    else:
        force = ["--force"] if args.force else []
        print(study_repro(*force, label="study", configs=study_configs()).stdout.strip())
    print(f"\n{lessons_section(REPORT.read_text())}\n")
    print(f"{REPORT} has the whole report ({time.perf_counter() - started:.0f} s)")
