"""The study's report stage: lessons judged on Holm-corrected intervals, and the sources of spread."""

import pytest

from stages.lib.cli import UserError
from stages.lib.configs import Lesson
from study.report import ReportParams, lessons_table, read_rows, sources_table
from study.seeds import METRIC_COLUMNS, SEED_COLUMNS

P = ReportParams(confidence=0.95, bootstrap_resamples=999)


def rows(config: str, accuracies: list[float], source: str = "all") -> list[dict]:
    blank = dict.fromkeys((*SEED_COLUMNS, *METRIC_COLUMNS), "0")
    return [{**blank, "config": config, "source": source, "index": str(i), "accuracy": str(a),
             "log_loss": str(1 - a), "fit": "good fit"} for i, a in enumerate(accuracies)]  # fmt: skip


def verdicts(table: str) -> list[str]:
    return [line.split("|")[-2].strip() for line in table.splitlines()[2:]]


def test_a_clear_win_is_supported_and_a_clear_loss_contradicted():
    tables = {"a": rows("a", [0.90, 0.91, 0.92, 0.93, 0.94]), "b": rows("b", [0.85, 0.86, 0.86, 0.88, 0.89])}
    lessons = [Lesson("a beats b", "a", "b"), Lesson("b beats a", "b", "a")]
    assert verdicts(lessons_table(lessons, tables, P)) == ["**supported**", "**contradicted**"]


def test_holm_makes_a_borderline_win_inconclusive():
    # Alone, "a beats b" is significant at 5% (p = 0.018); beside two lessons with no effect, Holm
    # tests it at 5%/3 and it is not.
    a = [0.90, 0.91, 0.92, 0.93, 0.94, 0.92]
    b = [x - d for x, d in zip(a, [0.01, 0.0, 0.02, 0.01, 0.005, 0.015], strict=True)]
    c = [x - d for x, d in zip(b, [0.01, -0.01, 0.0, 0.005, -0.005, 0.0], strict=True)]
    tables = {"a": rows("a", a), "b": rows("b", b), "c": rows("c", c)}
    alone = lessons_table([Lesson("a beats b", "a", "b")], tables, P)
    together = lessons_table(
        [Lesson("a beats b", "a", "b"), Lesson("b beats c", "b", "c"), Lesson("c beats b", "c", "b")],
        tables, P,
    )  # fmt: skip
    assert verdicts(alone) == ["**supported**"]
    assert verdicts(together) == ["**inconclusive**"] * 3
    assert "| 0.9833 |" in together.splitlines()[2]  # the smallest p value's level: 1 - 0.05/3


def test_a_base_is_shown_but_not_judged():
    tables = {name: rows(name, [0.9, 0.91, 0.92]) for name in ("a", "b", "base")}
    table = lessons_table([Lesson("a beats b", "a", "b", base="base")], tables, P)
    assert verdicts(table) == ["**inconclusive**", "(not judged)", "(not judged)"]
    assert "a - base (3)" in table and "b - base (3)" in table


def test_sources_table_compares_each_groups_spread_with_the_whole():
    table = {"c": rows("c", [0.90, 0.94, 0.92, 0.96]) + rows("c", [0.91, 0.95, 0.93], "data+split")
             + rows("c", [0.92, 0.92, 0.92], "init+order")}  # fmt: skip
    line = sources_table(table).splitlines()[2]
    assert line.startswith("| c | 0.0258 (4) | 0.0200 (3) | 0.0000 (3) | 60% | 0% |")


def test_a_config_that_was_not_trained_says_how_to_train_it(tmp_path):
    with pytest.raises(UserError, match=r"runs/nb1-bce/seeds.csv: not found; run `journey study`"):
        read_rows(tmp_path / "runs", ["nb1-bce"])


def test_a_table_with_fewer_runs_than_the_params_ask_for_is_refused(tmp_path):
    (tmp_path / "nb1-bce").mkdir()
    columns = (*SEED_COLUMNS, *METRIC_COLUMNS)
    (tmp_path / "nb1-bce/seeds.csv").write_text(
        ",".join(columns) + "\n" + ",".join(["0"] * len(columns)) + "\n"
    )
    with pytest.raises(UserError, match=r"nb1-bce/seeds.csv: 1 runs where study/params.yaml asks for 40"):
        read_rows(tmp_path, ["nb1-bce"], expected=40)


@pytest.mark.parametrize(
    ("shift", "expected"),
    [(0.0, "**supported**"), (0.01, "**inconclusive**"), (0.03, "**contradicted**")],
)
def test_an_equivalence_is_judged_against_its_margin(shift, expected):
    # b is a plus noise of sd about 0.003, shifted: by 0 the same, by 0.01 on the margin, by 0.03 beyond it.
    a = [0.90, 0.91, 0.92, 0.93, 0.94, 0.92, 0.91, 0.93]
    noise = [0.003, -0.003, 0.0, 0.003, -0.003, 0.0, 0.003, -0.003]
    tables = {"a": rows("a", a), "b": rows("b", [x + n - shift for x, n in zip(a, noise, strict=True)])}
    table = lessons_table([Lesson("a and b agree", "a", "b", margin=0.01)], tables, P)
    assert verdicts(table) == [expected]
    assert "a and b agree (within ±0.01)" in table
    assert "| 0.9 |" in table  # one lesson: TOST at 5% is a 90% interval


def test_an_equivalence_joins_holms_family():
    a = [0.90, 0.91, 0.92, 0.93, 0.94, 0.92]
    tables = {"a": rows("a", a), "b": rows("b", [x - 0.02 for x in a]), "c": rows("c", a)}
    table = lessons_table([Lesson("a beats b", "a", "b"), Lesson("a is c", "a", "c", margin=0.01)], tables, P)
    levels = [line.split("|")[6].strip() for line in table.splitlines()[2:]]
    # Both p values are 0: Holm gives the first 1 - 0.05/2, the second 1 - 0.05, i.e. TOST's 0.9.
    assert levels == ["0.975", "0.9"] and verdicts(table) == ["**supported**", "**supported**"]
