"""The study's report stage: each lesson's verdict over its looks, the tables it reads, the spread."""

import numpy as np
import pytest

from stages.lib.cli import UserError
from stages.lib.configs import Lesson
from study.lib.shards import SeedsParams
from study.report import (
    ReportParams,
    decide,
    decisions_document,
    judge,
    lessons_table,
    read_rows,
    sources_table,
)
from study.seeds import METRIC_COLUMNS, SEED_COLUMNS, format_rows

P = ReportParams(confidence=0.95, bootstrap_resamples=999)
A = np.round(0.9 + 0.02 * np.sin(np.arange(12)), 4)  # a config's accuracies over 12 seeds
NOISE = np.round(0.003 * np.cos(np.arange(12) * 2.1), 4)  # a small paired spread


def rows(config: str, accuracies, source: str = "all", first: int = 0) -> list[dict]:
    blank = dict.fromkeys((*SEED_COLUMNS, *METRIC_COLUMNS), "0")
    return [{**blank, "config": config, "source": source, "index": str(first + i), "accuracy": str(a),
             "log_loss": str(1 - a), "fit": "good fit"} for i, a in enumerate(accuracies)]  # fmt: skip


def study(n: int = 12, batches: list[int] | None = None, max_seeds: int | None = None) -> SeedsParams:
    batches = batches or []
    return SeedsParams(master=0, n=n, n_per_source=2, batch=n, batches=batches,
                       max_seeds=max_seeds or n * (len(batches) + 1))  # fmt: skip


def verdicts(lessons: list[Lesson], tables: dict, seeds: SeedsParams | None = None) -> list[str]:
    judged = judge(lessons, tables)
    decisions = decide(lessons, judged, seeds or study(), alpha=0.05)
    table = lessons_table(lessons, judged, decisions, tables, P)
    return [line.split("|")[-2].strip() for line in table.splitlines()[2:]]


def beats(first: str, second: str) -> Lesson:
    return Lesson(f"{first} beats {second}", first, second, margin=0.01)


def test_a_clear_win_is_supported_and_a_clear_loss_contradicted():
    tables = {"a": rows("a", A), "b": rows("b", A - 0.03 + NOISE)}
    assert verdicts([beats("a", "b"), beats("b", "a")], tables) == ["**supported** (look 1)",
                                                                   "**contradicted** (look 1)"]  # fmt: skip


def test_a_difference_well_inside_the_margin_is_no_practical_difference():
    tables = {"a": rows("a", A), "b": rows("b", A + NOISE)}
    assert verdicts([beats("a", "b")], tables) == ["**no practical difference** (look 1)"]


def test_an_undecided_lesson_says_how_many_seeds_would_decide_it():
    tables = {"a": rows("a", A), "b": rows("b", A - 0.006 + 4 * NOISE)}
    (verdict,) = verdicts([beats("a", "b")], tables)
    assert verdict.startswith("**undecided**: about ") and verdict.endswith(" seeds would decide it")
    assert int(verdict.split()[2]) > 12


def test_an_equivalence_is_supported_inside_its_margin_and_contradicted_beyond_it():
    tables = {"a": rows("a", A), "b": rows("b", A + NOISE), "c": rows("c", A - 0.04 + NOISE)}
    same = [Lesson("a is b", "a", "b", 0.01, "equivalence"), Lesson("a is c", "a", "c", 0.01, "equivalence")]
    assert verdicts(same, tables) == ["**supported** (look 1)", "**contradicted** (look 1)"]


def test_a_base_is_shown_but_not_judged():
    tables = {name: rows(name, A + shift) for name, shift in (("a", 0.05), ("b", 0.0), ("base", 0.01))}
    lesson = Lesson("a beats b", "a", "b", 0.01, base="base")
    assert verdicts([lesson], tables)[1:] == ["(not judged)", "(not judged)"]


def test_a_lesson_decided_at_a_later_look_names_it():
    # 24 seeds in two looks of 12: the first 12 leave it undecided, the next 12 show a clear win.
    a, b = np.concatenate([A, A]), np.concatenate([A - 0.006 + 4 * NOISE, A - 0.03 + NOISE])
    tables = {"a": rows("a", a), "b": rows("b", b)}
    assert verdicts([beats("a", "b")], tables, study(batches=[1])) == ["**supported** (look 2)"]


def test_the_decisions_document_says_whether_every_lesson_is_decided():
    tables = {"a": rows("a", A), "b": rows("b", A - 0.03 + NOISE), "c": rows("c", A - 0.006 + 4 * NOISE)}
    lessons = [beats("a", "b"), beats("a", "c")]
    document = decisions_document(lessons, decide(lessons, judge(lessons, tables), study(), 0.05), study())
    assert document["looks"] == [12] and document["max_seeds"] == 12 and not document["decided"]
    assert [lesson["verdict"] for lesson in document["lessons"]] == ["supported", "undecided"]


def test_sources_table_compares_each_groups_spread_with_the_whole():
    table = {"c": rows("c", [0.90, 0.94, 0.92, 0.96]) + rows("c", [0.91, 0.95, 0.93], "data+split")
             + rows("c", [0.92, 0.92, 0.92], "init+order")}  # fmt: skip
    line = sources_table(table).splitlines()[2]
    assert line.startswith("| c | 0.0258 (4) | 0.0200 (3) | 0.0000 (3) | 60% | 0% |")


def test_a_config_that_was_not_trained_says_how_to_train_it(tmp_path):
    with pytest.raises(UserError, match=r"runs/nb1-bce/seeds.csv: not found; run `journey study`"):
        read_rows(tmp_path / "runs", ["nb1-bce"], study())


def write_seeds(folder, table: list[dict]) -> None:
    folder.mkdir(parents=True)
    (folder / "seeds.csv").write_text(format_rows(table))


def test_a_table_with_fewer_runs_than_the_params_ask_for_is_refused(tmp_path):
    write_seeds(tmp_path / "nb1-bce", rows("nb1-bce", [0.9]))
    with pytest.raises(UserError, match=r"1 runs of nb1-bce where study/params.yaml asks for 16"):
        read_rows(tmp_path, ["nb1-bce"], study())


def test_a_later_looks_batches_are_read_after_the_first_look(tmp_path):
    write_seeds(
        tmp_path / "c", rows("c", A) + rows("c", [0.9] * 2, "data+split") + rows("c", [0.9] * 2, "init+order")
    )
    write_seeds(tmp_path / "batch-1/c", rows("c", A + 0.01, first=12))
    table = read_rows(tmp_path, ["c"], study(batches=[1]))["c"]
    assert [int(row["index"]) for row in table if row["source"] == "all"] == list(range(24))
