"""journey study: shards, the runs each stage trains, and the lessons printed from the report."""

import pytest
import yaml

from journey import study
from stages.lib.cli import UserError
from study.lib.shards import runs_per_config
from study.seeds import plan


def test_shard_k_of_n_takes_every_nth_config_from_the_kth():
    configs = [f"c{i}" for i in range(8)]
    assert study.parse_shard("2/3") == (2, 3)
    assert study.shard_configs(configs, 2, 3) == ["c1", "c4", "c7"]
    every = [config for k in (1, 2, 3) for config in study.shard_configs(configs, k, 3)]
    assert sorted(every) == sorted(configs)


@pytest.mark.parametrize("text", ["0/3", "4/3", "1-3", "a/b", ""])
def test_a_bad_shard_is_one_clear_error(text):
    with pytest.raises(UserError, match=r"expected K/N with 1 ≤ K ≤ N"):
        study.parse_shard(text)


def test_the_runs_shown_per_stage_are_the_runs_the_seeds_stage_trains(tmp_path, monkeypatch):
    params = tmp_path / "params.yaml"
    seeds = {"master": 0, "n": 5, "n_per_source": 3, "batch": 2, "batches": [], "max_seeds": 9}
    params.write_text(yaml.safe_dump({"configs": ["a", "b"], "seeds": seeds}))
    monkeypatch.setattr(study, "PARAMS", params)
    assert study.stage_runs(["a", "b"]) == {"seeds@a": 11, "seeds@b": 11, "report": 0}
    assert runs_per_config(5, 3) == len(plan(0, 5, 3))


def test_the_lessons_section_is_cut_at_the_next_heading():
    report = "# R\n\n## Lessons\n\n| a | b |\n\n## Figures\n\n![x](x.png)\n"
    assert study.lessons_section(report) == "## Lessons\n\n| a | b |"


def test_later_looks_add_a_stage_per_config_and_batch(tmp_path, monkeypatch):
    params = tmp_path / "params.yaml"
    seeds = {"master": 0, "n": 5, "n_per_source": 3, "batch": 4, "batches": [1, 2], "max_seeds": 13}
    params.write_text(yaml.safe_dump({"configs": ["a"], "seeds": seeds}))
    monkeypatch.setattr(study, "PARAMS", params)
    assert study.stage_runs(["a"]) == {"seeds@a": 11, "batch@a-1": 4, "batch@a-2": 4, "report": 0}


def test_a_seeds_param_is_rewritten_in_place_keeping_the_comments(tmp_path, monkeypatch):
    params = tmp_path / "params.yaml"
    params.write_text("seeds:\n  batches: []    # taken so far\n  max_seeds: 60  # the cap\n")
    monkeypatch.setattr(study, "PARAMS", params)
    study.set_seeds_param("batches", [1, 2])
    study.set_seeds_param("max_seeds", 100)
    assert params.read_text() == "seeds:\n  batches: [1, 2] # taken so far\n  max_seeds: 100 # the cap\n"


def test_the_committed_study_params_are_valid_and_end_their_looks_at_the_cap():
    seeds = study.study_seeds()
    assert seeds.looks()[-1] <= seeds.cap() <= seeds.max_seeds
    assert (seeds.cap() - seeds.n) % seeds.batch == 0


def test_a_rewritten_value_keeps_its_comment_in_its_column(tmp_path, monkeypatch):
    params = tmp_path / "params.yaml"
    params.write_text("seeds:\n  batches: []       # taken so far\n")
    monkeypatch.setattr(study, "PARAMS", params)
    study.set_seeds_param("batches", [1])
    assert params.read_text() == "seeds:\n  batches: [1]      # taken so far\n"


def test_params_the_stage_will_refuse_show_one_run_per_seeds_stage(tmp_path, monkeypatch):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"configs": ["a"], "seeds": {"n": "many"}}))
    monkeypatch.setattr(study, "PARAMS", params)
    assert study.stage_runs(["a"]) == {"seeds@a": 1, "report": 0}
