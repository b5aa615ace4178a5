"""Progress on standard error: a live tqdm bar on a terminal, plain lines in a log, or nothing.

JOURNEY_PROGRESS chooses: `live`, `lines` or `off`; unset, a terminal gets `live` and anything else
`lines`. `journey` sets it for the commands it starts, so a stage behind a pipe still draws the live
bar its user's terminal can show. Plain lines come at most every JOURNEY_PROGRESS_SECONDS (10), and
whenever what runs changes. Progress never touches an output: it only writes to standard error.
"""

import io
import os
import sys
import time
from typing import TextIO

from tqdm import tqdm

MODE = "JOURNEY_PROGRESS"
SECONDS = "JOURNEY_PROGRESS_SECONDS"
MODES = ("live", "lines", "off")


def mode(stream: TextIO | None = None) -> str:
    """`live`, `lines` or `off`: JOURNEY_PROGRESS, else live on a terminal and lines elsewhere."""
    chosen = os.environ.get(MODE, "").strip().lower()
    if chosen in MODES:
        return chosen
    stream = stream or sys.stderr
    return "live" if stream.isatty() else "lines"


def line_seconds() -> float:
    """The least time between two plain lines that say the same thing."""
    try:
        return max(0.0, float(os.environ.get(SECONDS, "10")))
    except ValueError:
        return 10.0


def columns(stream: TextIO) -> int:
    """The terminal's width, or 0 where it reports none."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return 0


def clock(seconds: float) -> str:
    """0:07, 1:02:03."""
    return tqdm.format_interval(seconds)


class Progress:
    """`done` of `total` units of one task, with what is running now; a context manager. No label, no
    output. With `steps`, one line each time what runs changes, and no bar: the steps draw their own."""

    def __init__(self, label: str, total: int | None, unit: str, *, steps: bool = False,
                 stream: TextIO | None = None) -> None:  # fmt: skip
        self.label, self.total, self.unit = label, total, unit
        self.stream = stream or sys.stderr
        self.mode = mode(self.stream) if label else "off"
        self.heartbeat = not steps
        if steps and self.mode == "live":
            self.mode = "lines"
        self.done, self.now, self.started = 0, "", time.monotonic()
        self.first: tuple[float, int] | None = None  # when the first units were done, and how many
        self.last_line = float("-inf")
        self.bar = None
        if self.mode == "live":
            # A terminal that reports no width (a pty nobody sized, as in some CI runners) gets 80
            # columns: tqdm would otherwise draw nothing at all.
            width = {"dynamic_ncols": True} if columns(self.stream) > 0 else {"ncols": 80}
            self.bar = tqdm(total=total, desc=label, unit=f" {unit}", file=self.stream, mininterval=0.2,
                            leave=True, **width)  # fmt: skip
        self._line()

    @property
    def shown(self) -> bool:
        """Whether anything is shown at all."""
        return self.mode != "off"

    def advance(self, units: int = 1) -> None:
        """`units` more done."""
        self.done += units
        if self.first is None and self.done > 0:
            self.first = (time.monotonic(), self.done)
        if self.bar is not None:
            self.bar.update(units)
        elif self._due():
            self._line()

    def running(self, what: str) -> None:
        """Say what runs now; a change is shown at once."""
        if what == self.now:
            return
        self.now = what
        if self.bar is not None:
            self.bar.set_postfix_str(what)
        self._line()

    def say(self, text: str) -> None:
        """A message of its own, above a live bar."""
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            self._print(text)

    def refresh(self) -> None:
        """Redraw the elapsed time (a live bar) or write a line if one is due (plain lines)."""
        if self.bar is not None:
            self.bar.refresh()
        elif self._due():
            self._line()

    def close(self) -> None:
        """The last line: everything done, and how long it took."""
        if self.bar is not None:
            self.bar.close()
        elif self.mode == "lines":
            self.now = "finished" if self.total is None or self.done >= self.total else "stopped"
            self._line()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def left(self) -> float | None:
        """Seconds still to go at the pace since the first units were done (which start-up, imports
        or a JIT compilation slow), or None before that pace is known."""
        closed = self.now in ("finished", "stopped")
        if closed or not self.total or self.first is None or not self.first[1] < self.done < self.total:
            return None
        since, done_then = self.first
        return (time.monotonic() - since) / (self.done - done_then) * (self.total - self.done)

    def _due(self) -> bool:
        complete = self.total is not None and self.done >= self.total  # the closing line says it
        due = time.monotonic() - self.last_line >= line_seconds()
        return self.heartbeat and self.mode == "lines" and not complete and due

    def _line(self) -> None:
        if self.mode == "lines":
            self._print(self.text())
            self.last_line = time.monotonic()

    def _print(self, text: str) -> None:
        # One write, so that another thread writing to the same stream cannot cut into the line.
        self.stream.write(text + "\n")
        self.stream.flush()

    def text(self) -> str:
        """`label: 120/500 epochs, 0:03 elapsed, ~0:09 left (what runs)`."""
        elapsed = time.monotonic() - self.started
        counted = f"{self.done}/{self.total}" if self.total is not None else f"{self.done}"
        parts = [f"{self.label}: {counted} {self.unit}s", f"{clock(elapsed)} elapsed"]
        if left := self.left():
            parts.append(f"~{clock(left)} left")
        return ", ".join(parts) + (f" ({self.now})" if self.now else "")
