"""journey remote: where a folder or URL goes, and a study command without a remote says what to run."""

from pathlib import Path

import pytest

from journey import remote
from stages.lib.cli import UserError


def test_a_folder_is_made_absolute_and_a_url_kept(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert remote.resolve("store", tmp_path / "repo") == str(tmp_path / "store")
    assert remote.resolve("s3://bucket/journey", tmp_path / "repo") == "s3://bucket/journey"
    assert remote.resolve(None, tmp_path / "repo") == str(tmp_path / remote.DEFAULT_FOLDER)


def test_both_dvc_projects_get_the_remote(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(remote, "repo_root", lambda: tmp_path)
    monkeypatch.setattr(remote, "dvc", lambda *args, cwd: calls.append((args, cwd)))
    remote.command(type("Args", (), {"url": "s3://b/j"})())
    assert [cwd for _, cwd in calls] == [tmp_path / ".", tmp_path / "study"]
    assert {args for args, _ in calls} == {
        ("remote", "add", "--local", "--default", "--force", "storage", "s3://b/j")
    }


def test_no_remote_in_the_study_names_it_and_the_command_to_run(monkeypatch):
    monkeypatch.setattr(remote, "dvc", lambda *args, cwd: "")
    with pytest.raises(
        UserError, match=r"no default DVC remote in study/ \(a DVC project of its own\); run `journey remote`"
    ):
        remote.require_remote(Path("study"))
