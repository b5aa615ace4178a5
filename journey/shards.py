"""What `journey study --aggregate` and the seeds stage agree on: a stage that would train refuses."""

import os
import re

# Set by --aggregate (journey/study.py); the seeds stage (journey/seeds.py) then fails, naming its config.
NO_TRAINING = "JOURNEY_NO_TRAINING"
NOT_PUSHED = "no shard pushed the runs of {}"
MISSING = re.compile(NOT_PUSHED.format(r"([\w.-]+)"))


def training_forbidden() -> bool:
    """Whether this process runs under `journey study --aggregate`."""
    return bool(os.environ.get(NO_TRAINING))
