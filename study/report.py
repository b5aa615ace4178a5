"""Study stage report: study/reports/ from every config's seeds: configs, spread, lessons, figures."""

import argparse
import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stages.lib.cli import UserError, run
from stages.lib.configs import Lesson, load_lessons
from stages.lib.io import write_atomic
from stages.lib.metrics import VALIDATION
from stages.params import read_params_file, rule, section_of
from study.lib.stats import (
    Summary,
    bootstrap_interval,
    equivalence_p,
    equivalence_verdict,
    holm,
    paired,
    summarize,
    superiority,
    t_test,
    verdict,
)
from study.seeds import METRIC_COLUMNS, SEED_COLUMNS, SOURCES, STUDY_SECTIONS, SeedsParams, by_index

METRICS = [metric.name for metric in VALIDATION]  # the configs table's columns
JUDGED_BY = "accuracy"  # the lessons' verdicts; log loss is shown beside it


@dataclass(frozen=True)
class ReportParams:
    """The `report` section of study/params.yaml."""

    confidence: float = rule(0.0, 1.0, open_low=True, open_high=True)
    bootstrap_resamples: int = rule(100)


Rows = list[dict]  # the per-seed table, parsed: one dict per run


def read_rows(runs: Path, configs: list[str], expected: int | None = None) -> dict[str, Rows]:
    """Each config's seeds.csv from the seeds stage's folder `runs`, in the order of `configs`; each
    must hold `expected` runs, so that no lesson is judged on fewer seeds than the params ask for."""
    tables = {}
    for config in configs:
        path = runs / config / "seeds.csv"
        try:
            tables[config] = list(csv.DictReader(path.open()))
        except FileNotFoundError:
            raise UserError(f"{path}: not found; run `journey study` to train {config}") from None
        if not tables[config] or list(tables[config][0]) != [*SEED_COLUMNS, *METRIC_COLUMNS]:
            raise UserError(f"{path}: not a seeds table; run `journey study --force`")
        if expected is not None and len(tables[config]) != expected:
            found = len(tables[config])
            raise UserError(f"{path}: {found} runs where study/params.yaml asks for {expected}; "
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
    """`first - second` on matched seeds: the paired differences and what they say."""

    first: str
    second: str
    differences: np.ndarray
    log_loss: Summary

    @property
    def p_value(self) -> float:
        return t_test(self.differences)


def compare(tables: dict[str, Rows], first: str, second: str, confidence: float) -> Comparison:
    """The paired accuracy differences of two configs, seed by seed, and the log loss difference."""
    differences = paired(by_index(tables[first], JUDGED_BY), by_index(tables[second], JUDGED_BY))
    log_loss = paired(by_index(tables[first], "log_loss"), by_index(tables[second], "log_loss"))
    return Comparison(first, second, differences, summarize(log_loss, confidence))


def lessons_table(lessons: list[Lesson], tables: dict[str, Rows], p: ReportParams) -> str:
    """Each lesson judged on its Holm-corrected interval; a lesson's gains over its base are shown too."""
    judged = [compare(tables, lesson.first, lesson.second, p.confidence) for lesson in lessons]
    p_values = [c.p_value if lesson.margin is None else equivalence_p(c.differences, lesson.margin)
                for lesson, c in zip(lessons, judged, strict=True)]  # fmt: skip
    adjusted, levels = holm(p_values, alpha=1 - p.confidence)
    header = ("| lesson | first - second (n) | Δ accuracy | t interval | bootstrap interval | level "
              "| P(first wins) | Holm p | Δ log loss [CI] | verdict |\n" + "|---" * 10 + "|")  # fmt: skip
    rows = [header]
    for lesson, comparison, p_holm, level in zip(lessons, judged, adjusted, levels, strict=True):
        claim = lesson.claim
        if lesson.margin is not None:
            level = 1 - 2 * (1 - level)  # TOST at level a: the (1 - 2a) interval lies inside the margin
            claim += f" (within ±{lesson.margin:g})"
        t = summarize(comparison.differences, level)
        outcome = _verdict(t, lesson.margin, p_holm, 1 - p.confidence)
        rows.append(_row(claim, comparison, t, p, f"{p_holm:.3g}", f"**{outcome}**"))
        if lesson.base:
            for side in (lesson.first, lesson.second):
                base = compare(tables, side, lesson.base, p.confidence)
                rows.append(_row("", base, summarize(base.differences, p.confidence), p, "", "(not judged)"))
    return "\n".join(rows)


def _verdict(t: Summary, margin: float | None, p_holm: float, alpha: float) -> str:
    """The corrected interval's verdict; a win, loss or equivalence is kept only where Holm's step-down
    rule rejects too (an equivalence contradicted by its interval needs no test)."""
    if margin is None:
        outcome = verdict(t.low, t.high)
        return outcome if p_holm < alpha else "inconclusive"
    outcome = equivalence_verdict(t.low, t.high, margin)
    return "inconclusive" if outcome == "supported" and p_holm >= alpha else outcome


def _row(claim: str, c: Comparison, t: Summary, p: ReportParams, p_holm: str, outcome: str) -> str:
    """A table row: `t` is the paired differences' t summary at the row's level."""
    level = t.level
    low, high = bootstrap_interval(c.differences, level, p.bootstrap_resamples)
    return (f"| {claim} | {c.first} - {c.second} ({len(c.differences)}) | {t.mean:+.4f} "
            f"| [{t.low:+.4f}, {t.high:+.4f}] | [{low:+.4f}, {high:+.4f}] | {level:.4g} "
            f"| {superiority(c.differences):.2f} | {p_holm} "
            f"| {c.log_loss.mean:+.4f} [{c.log_loss.low:+.4f}, {c.log_loss.high:+.4f}] "
            f"| {outcome} |")  # fmt: skip


def all_rows_csv(tables: dict[str, Rows]) -> str:
    """Every config's seeds table in one CSV, configs in study order."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*SEED_COLUMNS, *METRIC_COLUMNS], lineterminator="\n")
    writer.writeheader()
    for table in tables.values():
        writer.writerows(table)
    return out.getvalue()


def markdown(tables: dict[str, Rows], lessons: list[Lesson], seeds: SeedsParams, p: ReportParams,
             figures: list[str]) -> str:  # fmt: skip
    """The report: how it was made, the configs, the sources of variance, the lessons, the figures."""
    images = "\n\n".join(f"![{name}]({name})" for name in figures)
    level = f"{p.confidence:.0%}"
    return f"""# The seed's lessons, over seeds

Written by the `report` stage of the seeds study (`journey study`, or `dvc repro` in `study/`),
from the `seeds` stage's runs; nothing here is typed by hand. Every config was trained
{seeds.n} times, all seeds side by side in one process (`study/seeds.py`). Seed i derives from the
master seed {seeds.master}: NumPy's `SeedSequence({seeds.master}, spawn_key=(i,))` gives the data,
split and train seeds of run i, so each run draws its own dataset, split, initial weights and
batch order, and configs compared in a lesson share every seed. Every run's numbers are in
[`seeds.csv`](seeds.csv), with its three seeds: `dvc exp run -S data.seed=… -S split.seed=… -S
train.seed=…` with the config's params repeats it alone, to the byte.

## Configurations

Validation metrics over the {seeds.n} runs that vary every source: mean ± standard deviation
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

Each lesson compares two configs that differ in one thing, seed by seed: the paired differences
of validation accuracy (first minus second), their mean, a Student's t interval and a BCa bootstrap
interval (scipy, {p.bootstrap_resamples} resamples, seeded), and the share of seeds on which the first
config wins (ties count half). The lessons are tested together, so their intervals are corrected
with Holm's method: with a = {1 - p.confidence:.2g}, the lesson with the smallest p value gets level
1 - a/{len(lessons)}, the next 1 - a/{max(len(lessons) - 1, 1)}, and so on. A verdict is **supported** when
the corrected t interval lies above 0 and Holm's step-down test rejects "no difference",
**contradicted** when it lies below, and **inconclusive** otherwise. A claim that two configs give
"the same results within ±m" is tested by TOST (two one-sided t tests of "the difference is at
least m"; Schuirmann, 1987). Its p value joins the others in Holm's correction; at its Holm level
1 - a it is judged on the 1 - 2a interval (the level column shows that): **supported** when the
interval lies inside (-m, m) and the corrected test rejects, **contradicted** when it lies wholly
outside, **inconclusive** otherwise. A base comparison (a lesson with a base) is shown at the plain
{level} level and not judged. Log loss (lower is better) is shown beside.

{lessons_table(lessons, tables, p)}

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
    tables = read_rows(args.runs, configs, expected=seeds.n + 2 * seeds.n_per_source)
    from study.lib import figures  # matplotlib and torch: imported once there is something to draw

    names = figures.draw_all(args.out, args.runs, tables, lessons, args.experiments)
    write_atomic(args.out / "seeds.csv", all_rows_csv(tables).encode())
    write_atomic(args.out / "README.md", markdown(tables, lessons, seeds, p, names).encode())


if __name__ == "__main__":
    run(main)
