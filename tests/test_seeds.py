"""Seeded experiments: names, the seeds they set, and the lessons' configs."""

from pathlib import Path

import pytest
import yaml

from stages.cli import UserError
from stages.experiments import EVERY_NAMED, load_experiments, load_lessons
from stages.seeds import lesson_configs, parse_seed_name, seed_name, seeded

SPEC = Path("experiments.yaml")
CONFIGS = load_experiments(SPEC, EVERY_NAMED)


def test_names_round_trip_even_with_dashes_in_the_config():
    assert parse_seed_name(seed_name("nb3-mse-l2", 12)) == ("nb3-mse-l2", 12)
    assert parse_seed_name("nb1-bce") is None


def test_each_config_runs_once_per_seed_with_only_the_training_seed_varied():
    runs = seeded({"nb1-bce": CONFIGS["nb1-bce"]}, 3)
    assert list(runs) == ["nb1-bce-s0", "nb1-bce-s1", "nb1-bce-s2"]
    assert [run["train"]["seed"] for run in runs.values()] == [0, 1, 2]
    assert {run["data"]["seed"] for run in runs.values()} == {CONFIGS["nb1-bce"]["data"]["seed"]}
    assert CONFIGS["nb1-bce"]["train"]["seed"] == 0  # the source config is left alone


def test_vary_data_sets_the_data_and_split_seeds_too_but_not_for_real_data():
    runs = seeded({"nb1-bce": CONFIGS["nb1-bce"], "nb7": CONFIGS["nb7-breast-cancer"]}, 2, vary_data=True)
    assert runs["nb1-bce-s1"]["data"]["seed"] == 1 and runs["nb1-bce-s1"]["split"]["seed"] == 1
    assert runs["nb7-s1"]["data"]["seed"] is None and runs["nb7-s1"]["split"]["seed"] == 1


def test_each_lesson_pair_changes_one_thing():
    for lesson in load_lessons(SPEC):
        better, than = CONFIGS[lesson.better], CONFIGS[lesson.than]
        changed = _changes(better, than)
        if lesson.base:  # data size against model size: each side changes one thing of the base
            assert len(_changes(better, CONFIGS[lesson.base])) == 1
            assert len(_changes(than, CONFIGS[lesson.base])) == 1
        else:
            assert len(changed) == 1, (lesson.claim, changed)


def _changes(a: dict, b: dict) -> list[str]:
    return [f"{s}.{k}" for s in a for k in a[s] if a[s][k] != b[s][k]]


def test_lesson_configs_are_listed_once_each():
    names = lesson_configs(load_lessons(SPEC))
    assert len(names) == len(set(names)) == 7 and "nb2-mse" in names


def test_a_lesson_naming_an_unknown_config_is_a_clear_error(tmp_path):
    spec = yaml.safe_load(SPEC.read_text())
    spec["lessons"][0]["better"] = "nb9-missing"
    (tmp_path / "e.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(UserError, match=r"names unknown configs \['nb9-missing'\]"):
        load_lessons(tmp_path / "e.yaml")
