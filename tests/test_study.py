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
    params.write_text(
        yaml.safe_dump({"configs": ["a", "b"], "seeds": {"master": 0, "n": 5, "n_per_source": 3}})
    )
    monkeypatch.setattr(study, "PARAMS", params)
    assert study.stage_runs(["a", "b"]) == {"seeds@a": 11, "seeds@b": 11, "report": 0}
    assert runs_per_config(5, 3) == len(plan(0, 5, 3))


def test_the_lessons_section_is_cut_at_the_next_heading():
    report = "# R\n\n## Lessons\n\n| a | b |\n\n## Figures\n\n![x](x.png)\n"
    assert study.lessons_section(report) == "## Lessons\n\n| a | b |"
