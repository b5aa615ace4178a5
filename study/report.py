"""Study stage report: study/reports/ from every config's seeds: configs, spread, lessons, figures."""

import argparse
import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stages.lib.cli import UserError, run
from stages.lib.configs import EQUIVALENCE, Lesson, load_lessons
from stages.lib.io import write_atomic, write_json
from stages.lib.metrics import VALIDATION
from stages.params import Params, read_params_file, rule, section_of
from study.lib.closeness import closeness
from study.lib.decide import UNDECIDED, Decision, decide_sequence
from study.lib.shards import STUDY_SECTIONS, SeedsParams, runs_per_config
from study.lib.stats import bootstrap_interval, paired, summarize, superiority
from study.seeds import BATCHED, LONE_BYTES, METRIC_COLUMNS, SEED_COLUMNS, SOURCES, by_index, load_config

METRICS = [metric.name for metric in VALIDATION]  # the configs table's columns
JUDGED_BY = "accuracy"  # the lessons' verdicts; log loss is shown beside it


@dataclass(frozen=True)
class ReportParams:
    """The `report` section of study/params.yaml."""

    confidence: float = rule(0.0, 1.0, open_low=True, open_high=True)
    bootstrap_resamples: int = rule(100)


Rows = list[dict]  # the per-seed table, parsed: one dict per run


def read_table(path: Path, config: str) -> Rows:
    """One seeds.csv of the seeds stage (or of a later look's batch stage)."""
    try:
        table = list(csv.DictReader(path.open()))
    except FileNotFoundError:
        raise UserError(f"{path}: not found; run `journey study` to train {config}") from None
    if not table or list(table[0]) != [*SEED_COLUMNS, *METRIC_COLUMNS]:
        raise UserError(f"{path}: not a seeds table; run `journey study --force`")
    return table


def read_rows(runs: Path, configs: list[str], seeds: SeedsParams) -> dict[str, Rows]:
    """Each config's runs, first look then each later batch, in the order of `configs`; each must hold
    as many runs as study/params.yaml asks for, so that no lesson is judged on fewer seeds."""
    expected = runs_per_config(seeds.n, seeds.n_per_source) + len(seeds.batches) * seeds.batch
    tables = {}
    for config in configs:
        paths = [runs / config, *(runs / f"batch-{batch}" / config for batch in seeds.batches)]
        tables[config] = [row for path in paths for row in read_table(path / "seeds.csv", config)]
        if len(tables[config]) != expected:
            found = len(tables[config])
            raise UserError(f"{runs}: {found} runs of {config} where study/params.yaml asks for {expected}; "
                            "run `journey study`")  # fmt: skip
    return tables


def config_table(tables: dict[str, Rows], confidence: float) -> str:
    """One row per config: seeds, size, fit verdicts, and mean ± sd [CI] of every shared metric."""
    header = "| config | seeds | params | fit | " + " | ".join(METRICS) + " |"
    rows = [header, "|---" * (4 + len(METRICS)) + "|"]
    for config, table in tables.items():
        varied = [row for row in table if row["source"] == "all"]
        fits = [row["fit"] for row in varied]
        counted = ", ".join(f"{fit}: {fits.count(fit)}" for fit in sorted(set(fits)))
        cells = [str(summarize(list(by_index(table, metric).values()), confidence)) for metric in METRICS]
        size = varied[0]["n_params"]
        rows.append(f"| {config} | {len(varied)} | {size} | {counted} | {' | '.join(cells)} |")
    return "\n".join(rows)


def sources_table(tables: dict[str, Rows]) -> str:
    """Per config, the spread of accuracy when every source varies and when one group varies alone."""
    header = ("| config | sd, all sources (n) | sd, data + split only (n) | sd, init + order only (n) "
              "| share of variance: data + split | init + order |\n|---|---|---|---|---|---|")  # fmt: skip
    rows = [header]
    for config, table in tables.items():
        spread = {source: summarize(list(by_index(table, JUDGED_BY, source).values())) for source in SOURCES}
        total = spread["all"].std ** 2
        shares = [spread[source].std ** 2 / total if total else float("nan") for source in SOURCES[1:]]
        cells = [f"{spread[source].std:.4f} ({spread[source].n})" for source in SOURCES]
        rows.append(f"| {config} | {' | '.join(cells)} | {shares[0]:.0%} | {shares[1]:.0%} |")
    return "\n".join(rows)


@dataclass(frozen=True)
class Comparison:
    """`first - second` on matched seeds, in seed order: accuracy (judged) and log loss (shown)."""

    first: str
    second: str
    differences: np.ndarray
    log_loss: np.ndarray


def compare(tables: dict[str, Rows], first: str, second: str) -> Comparison:
    """The paired accuracy and log loss differences of two configs, seed by seed."""
    accuracy = paired(by_index(tables[first], JUDGED_BY), by_index(tables[second], JUDGED_BY))
    log_loss = paired(by_index(tables[first], "log_loss"), by_index(tables[second], "log_loss"))
    return Comparison(first, second, accuracy, log_loss)


def judge(lessons: list[Lesson], tables: dict[str, Rows]) -> list[Comparison]:
    """Each lesson's comparison, first minus second."""
    return [compare(tables, lesson.first, lesson.second) for lesson in lessons]


def decide(lessons: list[Lesson], judged: list[Comparison], seeds: SeedsParams,
           alpha: float) -> list[Decision]:  # fmt: skip
    """Every lesson's decision over the study's looks, all lessons' tests one Holm family."""
    differences = [comparison.differences for comparison in judged]
    margins, kinds = [lesson.margin for lesson in lessons], [lesson.kind for lesson in lessons]
    return decide_sequence(differences, margins, kinds, seeds.looks(), seeds.cap(), alpha)


def lessons_table(lessons: list[Lesson], judged: list[Comparison], decisions: list[Decision],
                  tables: dict[str, Rows], p: ReportParams) -> str:  # fmt: skip
    """Each lesson's verdict and the seeds it rests on, with their intervals; a lesson's gains over its
    base are shown too, not judged."""
    header = ("| lesson | first - second | margin | seeds | Δ accuracy | t interval | bootstrap interval "
              "| P(first wins) | Δ log loss [CI] | verdict |\n" + "|---" * 10 + "|")  # fmt: skip
    rows = [header]
    for lesson, comparison, decision in zip(lessons, judged, decisions, strict=True):
        claim = lesson.claim + (f" (within ±{lesson.margin:g})" if lesson.kind == EQUIVALENCE else "")
        rows.append(_row(claim, comparison, decision.seeds, f"±{lesson.margin:g}", p, _verdict(decision)))
        if lesson.base:
            for side in (lesson.first, lesson.second):
                base = compare(tables, side, lesson.base)
                rows.append(_row("", base, decision.seeds, "", p, "(not judged)"))
    return "\n".join(rows)


def _verdict(d: Decision) -> str:
    """The verdict cell: when it was reached, or the seeds that would reach it."""
    if d.verdict != UNDECIDED:
        return f"**{d.verdict}** (look {d.look + 1})"
    if d.seeds_needed is None:
        return "**undecided**: no study of a practical size decides it"
    return f"**undecided**: about {d.seeds_needed} seeds would decide it"


def _row(claim: str, c: Comparison, seeds: int, margin: str, p: ReportParams, outcome: str) -> str:
    """A table row over the first `seeds` seeds: the mean difference and its intervals at p.confidence."""
    accuracy, log_loss = c.differences[:seeds], summarize(c.log_loss[:seeds], p.confidence)
    t = summarize(accuracy, p.confidence)
    low, high = bootstrap_interval(accuracy, p.confidence, p.bootstrap_resamples)
    return (f"| {claim} | {c.first} - {c.second} | {margin} | {seeds} | {t.mean:+.4f} "
            f"| [{t.low:+.4f}, {t.high:+.4f}] | [{low:+.4f}, {high:+.4f}] "
            f"| {superiority(accuracy):.2f} "
            f"| {log_loss.mean:+.4f} [{log_loss.low:+.4f}, {log_loss.high:+.4f}] "
            f"| {outcome} |")  # fmt: skip


def closeness_table(lessons: list[Lesson], decisions: list[Decision], tables: dict[str, Rows], runs: Path,
                    configs: dict[str, Params], batches: list[int]) -> str:  # fmt: skip
    """Per lesson, how close its two configs end seed by seed, over the seeds its verdict rests on."""
    header = ("| lesson | first - second | seeds | largest accuracy difference | identical validation "
              "predictions | largest weight difference |\n" + "|---" * 6 + "|")  # fmt: skip
    rows = [header]
    for lesson, decision in zip(lessons, decisions, strict=True):
        first, second = ((name, configs[name]) for name in (lesson.first, lesson.second))
        near = closeness(first, second, tables, runs, batches, decision.seeds, lesson.kind == EQUIVALENCE)
        identical = "other rows" if near.identical is None else f"{near.identical:.0%}"
        weights = "" if near.weights is None else f"{near.weights:.1e}"
        rows.append(f"| {lesson.claim} | {lesson.first} - {lesson.second} | {decision.seeds} "
                    f"| {near.accuracy:.4f} | {identical} | {weights} |")  # fmt: skip
    return "\n".join(rows)


def decisions_document(lessons: list[Lesson], decisions: list[Decision], seeds: SeedsParams) -> dict:
    """What `journey study --until-decided` reads: the looks so far, and each lesson's decision."""
    return {
        "looks": seeds.looks(), "max_seeds": seeds.cap(),
        "decided": all(decision.verdict != UNDECIDED for decision in decisions),
        "lessons": [{"claim": lesson.claim, "verdict": d.verdict, "seeds": d.seeds,
                     "look": None if d.look is None else d.look + 1, "seeds_needed": d.seeds_needed}
                    for lesson, d in zip(lessons, decisions, strict=True)],
    }  # fmt: skip


def all_rows_csv(tables: dict[str, Rows]) -> str:
    """Every config's seeds table in one CSV, configs in study order."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*SEED_COLUMNS, *METRIC_COLUMNS], lineterminator="\n")
    writer.writeheader()
    for table in tables.values():
        writer.writerows(table)
    return out.getvalue()


def markdown(tables: dict[str, Rows], lessons: list[Lesson], judged: list[Comparison],
             decisions: list[Decision], seeds: SeedsParams, p: ReportParams, figures: list[str],
             close: str) -> str:  # fmt: skip
    """The report: how it was made, the configs, the sources of variance, the lessons, the figures."""
    images = "\n\n".join(f"![{name}]({name})" for name in figures)
    batched = [
        name for name, table in tables.items() if any(row["lone_rerun"] != LONE_BYTES for row in table)
    ]
    rerun = ""
    if batched:
        rerun = (f" Not so for {', '.join(batched)}, in PyTorch's own arithmetic: its seeds train side by "
                 "side through vmap, whose batched products round otherwise than a lone run's, and a lone "
                 f"rerun reproduces such a run with its {BATCHED} (column `lone_rerun`).")  # fmt: skip
    level, alpha, looks = f"{p.confidence:.0%}", f"{1 - p.confidence:.2g}", seeds.looks()
    return f"""# The seed's lessons, over seeds

Written by the `report` stage of the seeds study (`journey study`, or `dvc repro` in `study/`),
from the `seeds` stage's runs; nothing here is typed by hand. Every config was trained
{looks[-1]} times (`study/seeds.py`), a config's seeds side by side in one process per core (in JAX, one
after another). Seed i derives from the master seed {seeds.master}: NumPy's
`SeedSequence({seeds.master}, spawn_key=(i,))` gives the data, split and train seeds of run i, so each
run draws its own dataset, split, initial weights and batch order, and configs compared in a lesson
share every seed. Every run's numbers are in [`seeds.csv`](seeds.csv), with its three seeds: `dvc exp
run -S data.seed=… -S split.seed=… -S train.seed=…` with the config's params repeats it alone, to the
byte (in a framework's own arithmetic, on a CPU like this one's: another CPU's kernels round their own
way, within what `docs/reproducibility.md` measures).{rerun}

## Configurations

Validation metrics over the {looks[-1]} runs that vary every source: mean ± standard deviation
[{level} confidence interval of the mean, Student's t]. "fit" counts each run's diagnosis (rules in
`stages/lib/diagnosis.py`, explained in the project README).

{config_table(tables, p.confidence)}

## Where the spread comes from

Besides those runs, each config ran {seeds.n_per_source} times varying only the data and split
(initialisation and order of seed 0) and {seeds.n_per_source} times varying only the
initialisation and batch order (data and split of seed 0). The table gives the standard deviation
of validation accuracy in each group, and each group's variance as a share of the variance when
everything varies (shares need not add up to 100%: the estimates are noisy, and the sources interact).

{sources_table(tables)}

## Lessons

Each lesson compares two configs that differ in one thing, seed by seed: the paired differences of
validation accuracy (first minus second). Every lesson ends in one of four verdicts:

- **supported**: the first config is better (a paired t test rejects "no difference");
- **contradicted**: the second is better; for a claim that two configs give the same results, the
  difference lies beyond the margin;
- **no practical difference**: the difference lies within ±m, the lesson's margin, shown in the
  table (TOST, the paired equivalence test: two one-sided t tests of "the difference is at least m";
  Schuirmann, 1987). The margins and the reasons for them are in `experiments.yaml`. If the t test
  rejects too, the difference is real but smaller than what matters, and this verdict wins. For a
  claim that two configs give the same results, this verdict is **supported**;
- **undecided**: neither test is conclusive yet. The verdict then says how many seeds a study would
  need to decide the lesson with 80% power, if the mean and spread seen so far are the true ones:
  the fewer of what the t test needs (statsmodels' `TTestPower`) and what TOST needs (its exact
  power solved for the seeds; statsmodels has no power function for TOST). That figure is for a
  study that spends all of {alpha} at once: an early look, which spends only a sliver of it, can leave a
  lesson undecided with more seeds than the figure.

All {2 * len(lessons)} tests, two per lesson, are one family corrected by Holm's step-down method, so the
chance of any false verdict in this report stays within {alpha}.

**Looks.** This study looked {len(looks)} time(s), at {", ".join(map(str, looks))} seeds per config,
of a planned cap of {seeds.cap()}: `journey study --until-decided` adds {seeds.batch} seeds per
config at each look while a lesson is undecided. Looking again with the whole {alpha} each time would
inflate false verdicts, so each look spends part of it, by the Lan-DeMets O'Brien-Fleming-type function
a(t) = 2 - 2Φ(z(1 - {alpha}/2)/√t), t being the seeds so far over the cap. It spends almost nothing early,
so a lesson decided at an early look had overwhelming evidence, and it keeps nearly all of {alpha} for
the last look. The boundaries are exact for the looks taken (recursive integration; Armitage,
McPherson & Rowe, 1969) and are combined with Holm's method as Maurer & Bretz (2013) do; the verdict
names the look that decided a lesson, and a decided lesson stays decided. The project README has
the error rates of this design, measured on simulated studies.

The table describes the seeds each verdict rests on: the mean difference, a Student's t interval
and a BCa bootstrap interval at {level} (scipy, {p.bootstrap_resamples} resamples, seeded), and the
share of seeds on which the first config wins (ties count half); they do not decide the verdict.
A base comparison (a lesson with a base) is shown, not judged. Log loss (lower is better) is shown
beside.

{lessons_table(lessons, judged, decisions, tables, p)}

### How close the runs are

A verdict reads the mean difference; this table reads the runs one by one, over the same seeds: the
largest difference in validation accuracy on any seed, the share of seeds on which both configs
predict the same class for every validation row (where both validate on the same rows), and, for a
claim that two configs give the same results, the largest difference in any weight between the two
runs of one seed.

{close}

## Figures

{images}
"""


def main() -> None:
    """Read every config's runs under --runs and the lessons of --experiments; write the report files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, required=True, help="the study's params file")
    parser.add_argument("--experiments", type=Path, required=True)
    parser.add_argument("--runs", type=Path, required=True, help="the seeds stage's folder")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    document = read_params_file(args.params, STUDY_SECTIONS)
    seeds = section_of(document, args.params, "seeds", SeedsParams)
    p = section_of(document, args.params, "report", ReportParams)
    lessons = load_lessons(args.experiments)
    configs = document.get("configs") or []
    if missing := [name for lesson in lessons for name in lesson.configs() if name not in configs]:
        raise UserError(f"{args.params}: configs lacks {sorted(set(missing))}, which the lessons compare")
    tables = read_rows(args.runs, configs, seeds)
    judged = judge(lessons, tables)
    decisions = decide(lessons, judged, seeds, alpha=1 - p.confidence)
    from study.lib import figures  # matplotlib and torch: imported once there is something to draw

    params = {name: load_config(args.experiments, name) for name in configs}
    names = figures.draw_all(args.out, args.runs, tables, lessons, params)
    close = closeness_table(lessons, decisions, tables, args.runs, params, seeds.batches)
    write_atomic(args.out / "seeds.csv", all_rows_csv(tables).encode())
    write_json(args.out / "decisions.json", decisions_document(lessons, decisions, seeds))
    report = markdown(tables, lessons, judged, decisions, seeds, p, names, close)
    write_atomic(args.out / "README.md", report.encode())


if __name__ == "__main__":
    run(main)
