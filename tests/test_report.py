"""The report's tables from runs: every config summarised, each lesson judged on matched seeds."""

from stages.experiments import Lesson
from stages.report import SeedRun, collect, config_table, lessons_table


def run(config: str, seed: int, accuracy: float) -> SeedRun:
    metrics = {"n_params": 17, "fit": {"verdict": "good fit"}}
    metrics["val"] = {"accuracy": accuracy, "roc_auc": 0.9, "f1": 0.9, "log_loss": 0.3, "brier": 0.1}
    return SeedRun(config, seed, f"rev{seed}", {"train": {"loss": "bce"}}, metrics)


RUNS = {
    "a": {seed: run("a", seed, 0.90 + 0.01 * seed) for seed in range(4)},
    "b": {seed: run("b", seed, 0.88 + 0.01 * seed + 0.001 * (seed % 2)) for seed in range(4)},
}


def test_collect_reads_seeded_runs_from_dvc_exp_show_json():
    rev = {"rev": "abc", "name": "nb1-bce-s3", "data": {"params": {"params.yaml": {"data": {"x": 1}}},
           "metrics": {"eval/metrics.json": {"data": {"val": {"accuracy": 0.9}}}}}}  # fmt: skip
    other = {"rev": "def", "name": "nb1-bce", "data": rev["data"]}
    runs = collect([{"rev": "HEAD", "experiments": [{"revs": [rev]}, {"revs": [other]}]}])
    assert list(runs) == ["nb1-bce"] and runs["nb1-bce"][3].rev == "abc"


def test_config_table_counts_fit_verdicts_and_seeds():
    table = config_table(RUNS)
    assert "| a | 4 | 17 | good fit: 4 | 0.915 ± 0.013 [" in table


def test_a_consistent_gain_on_matched_seeds_is_supported_and_its_reverse_contradicted():
    supported = lessons_table([Lesson("a beats b", better="a", than="b")], RUNS)
    assert "a vs b (n = 4)" in supported and "**supported**" in supported
    assert "**contradicted**" in lessons_table([Lesson("b beats a", better="b", than="a")], RUNS)


def test_a_lesson_whose_configs_did_not_run_says_so():
    assert "not run" in lessons_table([Lesson("c beats a", better="c", than="a")], RUNS)
