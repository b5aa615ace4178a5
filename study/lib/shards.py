"""What `journey study` and the study's stages agree on: the seeds params, runs per config, and no
training under --aggregate."""

import os
import re
from dataclasses import dataclass

from stages.lib.cli import UserError
from stages.params import rule

STUDY_SECTIONS = ("configs", "seeds", "report")  # of study/params.yaml

# Set by --aggregate (journey/study.py); the seeds stage (study/seeds.py) then fails, naming its config.
NO_TRAINING = "JOURNEY_NO_TRAINING"
NOT_PUSHED = "no shard pushed the runs of {}"
MISSING = re.compile(NOT_PUSHED.format(r"([\w.-]+)"))


@dataclass(frozen=True)
class SeedsParams:
    """The `seeds` section of study/params.yaml."""

    master: int = rule(0)
    n: int = rule(2)  # an interval needs two values
    n_per_source: int = rule(2)
    batch: int = rule(1)  # seeds per config that each later look adds
    # The later looks' batches taken so far: 1, 2, … (--until-decided). rule() is a field(), not a value.
    batches: list[int] = rule(1)  # noqa: RUF009
    max_seeds: int = rule(2)  # the cap per config that the looks' boundaries are planned for

    def looks(self) -> list[int]:
        """Seeds per config at each look: n, then a batch more each time."""
        return [self.n + k * self.batch for k in range(len(self.batches) + 1)]

    def cap(self) -> int:
        """The last look the design allows: max_seeds, rounded down to n plus whole batches."""
        return self.n + (self.max_seeds - self.n) // self.batch * self.batch

    def check(self, where: str) -> None:
        """Batches numbered 1, 2, …, and no look past the cap."""
        if self.batches != list(range(1, len(self.batches) + 1)):
            raise UserError(f"{where}.batches = {self.batches}: must be [] or 1, 2, … in order")
        if self.max_seeds < self.n:
            raise UserError(f"{where}.max_seeds = {self.max_seeds}: must be at least n ({self.n})")
        if self.looks()[-1] > self.max_seeds:
            raise UserError(f"{where}.batches: {len(self.batches)} batches take {self.looks()[-1]} seeds, "
                            f"over max_seeds ({self.max_seeds})")  # fmt: skip


def runs_per_config(n: int, n_per_source: int) -> int:
    """How many runs the seeds stage trains per config: n varying every source, n_per_source per source."""
    return n + 2 * n_per_source


def training_forbidden() -> bool:
    """Whether this process runs under `journey study --aggregate`."""
    return bool(os.environ.get(NO_TRAINING))
