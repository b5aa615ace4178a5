"""What `journey study` and the seeds stage agree on: runs per config; under --aggregate, no training."""

import os
import re

# Set by --aggregate (journey/study.py); the seeds stage (study/seeds.py) then fails, naming its config.
NO_TRAINING = "JOURNEY_NO_TRAINING"
NOT_PUSHED = "no shard pushed the runs of {}"
MISSING = re.compile(NOT_PUSHED.format(r"([\w.-]+)"))


def runs_per_config(n: int, n_per_source: int) -> int:
    """How many runs the seeds stage trains per config: n varying every source, n_per_source per source."""
    return n + 2 * n_per_source


def training_forbidden() -> bool:
    """Whether this process runs under `journey study --aggregate`."""
    return bool(os.environ.get(NO_TRAINING))
