"""Progress on stderr: the mode each stream gets, plain lines at a modest rate, the estimate of time left."""

import io
import os
import select

import pytest

from stages.lib import progress
from stages.lib.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("stream", "env", "expected"),
    [(Terminal(), None, "live"), (io.StringIO(), None, "lines"), (Terminal(), "off", "off"),
     (Terminal(), "lines", "lines"), (io.StringIO(), "LIVE", "live"), (io.StringIO(), "bogus", "lines")],
)  # fmt: skip
def test_a_terminal_gets_a_live_bar_a_log_plain_lines_and_the_variable_decides_first(
    stream, env, expected, monkeypatch
):
    monkeypatch.delenv(progress.MODE, raising=False)
    if env is not None:
        monkeypatch.setenv(progress.MODE, env)
    assert progress.mode(stream) == expected


def test_plain_lines_have_no_control_characters_and_come_at_most_every_interval(monkeypatch):
    monkeypatch.delenv(progress.MODE, raising=False)
    monkeypatch.setenv(progress.SECONDS, "3600")
    log = io.StringIO()
    with Progress("train", 500, "epoch", stream=log) as shown:
        for _ in range(500):
            shown.advance()
    lines = log.getvalue().splitlines()
    assert lines == ["train: 0/500 epochs, 00:00 elapsed", "train: 500/500 epochs, 00:00 elapsed (finished)"]
    assert all(ch.isprintable() for ch in log.getvalue().replace("\n", ""))


def test_a_change_of_what_runs_is_a_line_at_once(monkeypatch):
    monkeypatch.setenv(progress.MODE, "lines")
    monkeypatch.setenv(progress.SECONDS, "3600")
    log = io.StringIO()
    with Progress("study", 2, "run", steps=True, stream=log) as shown:
        shown.running("seeds@a")
        shown.advance()
        shown.running("seeds@a")  # no change, no line
        shown.running("seeds@b")
        shown.advance()
    assert [line.split(", ")[0] + " " + line.rsplit(" ", 1)[-1] for line in log.getvalue().splitlines()] == [
        "study: 0/2 runs elapsed", "study: 0/2 runs (seeds@a)", "study: 1/2 runs (seeds@b)",
        "study: 2/2 runs (finished)",
    ]  # fmt: skip


def test_the_time_left_follows_the_pace_since_the_first_unit_not_the_start_up(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    monkeypatch.setenv(progress.MODE, "off")
    shown = Progress("x", 10, "epoch")
    now[0] = 100.0  # a slow start: imports, a JIT compilation
    shown.advance()
    assert shown.left() is None  # no pace yet
    for _ in range(2):
        now[0] += 1.0
        shown.advance()
    assert shown.left() == pytest.approx(7 * 1.0)  # 7 epochs left at 1 s each, not at 34 s


def test_no_label_or_off_shows_nothing(monkeypatch):
    monkeypatch.setenv(progress.MODE, "lines")
    log = io.StringIO()
    with Progress("", 3, "epoch", stream=log) as shown:
        shown.advance(3)
    monkeypatch.setenv(progress.MODE, "off")
    with Progress("train", 3, "epoch", stream=log) as shown:
        shown.advance(3)
    assert log.getvalue() == "" and not shown.shown


def test_a_live_bar_is_tqdms_on_the_stream(monkeypatch):
    monkeypatch.delenv(progress.MODE, raising=False)
    screen = Terminal()
    with Progress("train", 4, "epoch", stream=screen) as shown:
        shown.advance(4)
    assert "\r" in screen.getvalue() and "train: 100%" in screen.getvalue() and "4/4" in screen.getvalue()


def read_all(master: int) -> str:
    """Everything written to a pty so far: a read of its master may return one write's worth at a time
    (CI's log showed only the first of the bar's draws)."""
    chunks = []
    while select.select([master], [], [], 0.5)[0]:
        chunks.append(os.read(master, 1 << 16))
    return b"".join(chunks).decode()


def test_a_terminal_without_a_width_still_gets_a_bar(monkeypatch):
    """A pty nobody sized reports 0 columns (`script` behind a pipe, some CI runners), where tqdm's own
    sizing draws nothing at all."""
    monkeypatch.delenv(progress.MODE, raising=False)
    master, slave = os.openpty()
    with os.fdopen(slave, "w") as screen:
        assert progress.columns(screen) == 0
        with Progress("experiments", 3, "experiment", stream=screen) as shown:
            shown.advance(3)
        screen.flush()
        drawn = read_all(master)
    os.close(master)
    assert "experiments: 100%" in drawn and "3/3" in drawn


def test_no_time_left_is_estimated_once_stopped(monkeypatch):
    monkeypatch.setenv(progress.MODE, "lines")
    log = io.StringIO()
    with Progress("study", 10, "run", stream=log) as shown:
        shown.advance(2)
        shown.advance(2)
    assert log.getvalue().splitlines()[-1].endswith("elapsed (stopped)")


def test_once_everything_is_done_only_the_closing_line_says_so(monkeypatch):
    monkeypatch.setenv(progress.MODE, "lines")
    monkeypatch.setenv(progress.SECONDS, "0")  # a line at every chance
    log = io.StringIO()
    with Progress("experiments", 2, "experiment", stream=log) as shown:
        shown.advance()
        shown.advance()
        shown.refresh()
    counts = [line.split(",")[0] for line in log.getvalue().splitlines()]
    assert counts == [
        "experiments: 0/2 experiments",
        "experiments: 1/2 experiments",
        "experiments: 2/2 experiments",
    ]
    assert log.getvalue().splitlines()[-1].endswith("(finished)")
