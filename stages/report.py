"""Write reports/ from the seeded experiments DVC holds: the comparison, the lessons' verdicts, figures."""

import argparse
import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from stages.cli import UserError, run
from stages.experiments import EVERY_NAMED, Lesson, dvc, load_experiments, load_lessons, named_experiments
from stages.seeds import parse_seed_name
from stages.stats import Summary, paired_difference, summarize, verdict

# Validation metrics that mean the same whichever loss trained the model; True: higher is better.
METRICS = {"accuracy": True, "roc_auc": True, "f1": True, "log_loss": False, "brier": False}
JUDGED_BY = "accuracy"  # the lessons' verdicts; the other metrics are shown beside it


@dataclass(frozen=True)
class SeedRun:
    """One finished experiment CONFIG-sSEED: its commit, params and metrics."""

    config: str
    seed: int
    rev: str
    params: dict
    metrics: dict


Runs = dict[str, dict[int, SeedRun]]  # config → seed → run


def collect(shown: list[dict]) -> Runs:
    """The runs named CONFIG-sSEED in `dvc exp show --json` output, by config and seed."""
    runs: Runs = {}
    for name, rev in named_experiments(shown).items():
        parsed = parse_seed_name(name)
        data = rev.get("data") or {}
        metrics = (data.get("metrics") or {}).get("eval/metrics.json", {}).get("data")
        if parsed and metrics:
            config, seed = parsed
            params = data["params"]["params.yaml"]["data"]
            runs.setdefault(config, {})[seed] = SeedRun(config, seed, rev["rev"], params, metrics)
    return runs


def values(runs: dict[int, SeedRun], metric: str) -> dict[int, float]:
    """Each seed's validation value of `metric`."""
    return {seed: run.metrics["val"][metric] for seed, run in runs.items()}


def config_table(runs: Runs) -> str:
    """One row per config: seeds, size, fit verdicts, and mean [95% CI] of every shared metric."""
    rows = [
        "| config | seeds | params | fit | " + " | ".join(METRICS) + " |",
        "|---" * (4 + len(METRICS)) + "|",
    ]
    for config, by_seed in runs.items():
        first = next(iter(by_seed.values()))
        fits = [run.metrics.get("fit", {}).get("verdict", "?") for run in by_seed.values()]
        counted = ", ".join(f"{verdict}: {fits.count(verdict)}" for verdict in sorted(set(fits)))
        cells = [str(summarize(list(values(by_seed, metric).values()))) for metric in METRICS]
        rows.append(
            f"| {config} | {len(by_seed)} | {first.metrics['n_params']} | {counted} | {' | '.join(cells)} |"
        )
    return "\n".join(rows)


def lesson_rows(lesson: Lesson, runs: Runs) -> list[str]:
    """The lesson's paired differences (`better - than`, then each side's gain over `base`) and verdict."""
    if any(name not in runs for name in (lesson.better, lesson.than, lesson.base) if name):
        return [f"| {lesson.claim} | not run: `python -m stages.seeds` | | | |"]
    pairs = [(lesson.better, lesson.than)]
    if lesson.base:
        pairs += [(lesson.better, lesson.base), (lesson.than, lesson.base)]
    rows = []
    for index, (first, second) in enumerate(pairs):
        judged = _difference(runs, first, second, JUDGED_BY)
        loss = _difference(runs, first, second, "log_loss")
        claim = lesson.claim if index == 0 else ""
        outcome = f"**{verdict(judged)}**" if index == 0 else ""
        rows.append(
            f"| {claim} | {first} vs {second} (n = {judged.n}) "
            f"| {_signed(judged)} | {_signed(loss)} | {outcome} |"
        )
    return rows


def _difference(runs: Runs, first: str, second: str, metric: str) -> Summary:
    return paired_difference(values(runs[first], metric), values(runs[second], metric))


def _signed(summary: Summary) -> str:
    return f"{summary.mean:+.4f} [{summary.low:+.4f}, {summary.high:+.4f}]"


def lessons_table(lessons: list[Lesson], runs: Runs) -> str:
    """Each lesson's claim, the paired comparison on matched seeds, and the verdict."""
    header = (
        "| lesson | first - second | Δ accuracy [95% CI] | Δ log loss [95% CI] | verdict |\n"
        "|---|---|---|---|---|"
    )
    return "\n".join([header, *(row for lesson in lessons for row in lesson_rows(lesson, runs))])


def markdown(runs: Runs, lessons: list[Lesson], figures: list[str], baseline: str) -> str:
    """The report: how it was made, the configs, the lessons, the figures."""
    n_runs = sum(len(by_seed) for by_seed in runs.values())
    images = "\n\n".join(f"![{name}]({name})" for name in figures)
    return f"""# The seed's lessons, over seeds

Written by `python -m stages.report` from the {n_runs} experiments that DVC holds on commit
`{baseline.strip()}` (`dvc exp show`); nothing here is typed by hand. Each config ran once per
seed (`python -m stages.seeds`), with the training seed, and with `--vary-data` the data and split
seeds, set to the seed.

## Configurations

Mean ± standard deviation over seeds, and the 95% confidence interval of the mean (Student's t);
"fit" counts the diagnosis of each run (`fit.verdict` in `eval/metrics.json`, rules in
`stages/diagnosis.py`).

{config_table(runs)}

## Lessons

Each difference is taken seed by seed between two configs that differ in one thing (or, for
the data and model sizes, both measured against the same base), then summarised with a paired t
interval. A verdict is **supported** when the 95% interval of the accuracy difference lies above
0, **contradicted** when it lies below, and **inconclusive** when it contains 0. Log loss (lower
is better) is shown beside it.

{lessons_table(lessons, runs)}

## Figures

{images}
"""


def held_runs(file: Path, rev: str = "HEAD") -> Runs:
    """The CONFIG-sSEED experiments DVC holds on `rev`, configs in experiments.yaml's order."""
    order = list(load_experiments(file, EVERY_NAMED))
    found = collect(json.loads(dvc("exp", "show", "--json", "--hide-queued", "--hide-failed", "--rev", rev)))
    if not found:
        raise UserError(
            "no experiments named CONFIG-sSEED on this commit; run `python -m stages.seeds` first"
        )
    return {config: dict(sorted(found[config].items())) for config in order if config in found}


def main() -> None:
    """Read the experiments DVC holds, write reports/README.md and the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("reports"))
    parser.add_argument("--file", type=Path, default=Path("experiments.yaml"))
    parser.add_argument("--rev", default="HEAD", help="the commit the experiments ran on (default HEAD)")
    args = parser.parse_args()
    lessons = load_lessons(args.file)
    runs = held_runs(args.file, args.rev)
    from stages import figures  # matplotlib and torch: imported only once there is something to draw

    with tempfile.TemporaryDirectory() as scratch:
        names = figures.draw_all(args.out, runs, lessons, Path(scratch))
    from stages.io import write_atomic

    baseline = subprocess.run(
        ["git", "rev-parse", "--short", args.rev], capture_output=True, text=True
    ).stdout
    write_atomic(args.out / "README.md", markdown(runs, lessons, names, baseline).encode())
    print(f"wrote {args.out / 'README.md'} and {', '.join(names)}")


if __name__ == "__main__":
    run(main)
