"""Benchmark 7: what pinning torch's CPU code paths costs the train stage's loop (stages/cpu.py)."""

import json
import os
import subprocess
import sys

from benchmarks.common import ROOT, table
from stages.cpu import PINNED

REPEATS = 3  # interleaved, best kept
WORKLOADS = {  # name: (n_features, hidden, batch size, epochs), about a second each
    "nb1 net, batch 32": (2, 4, 32, 4),
    "nb1 net, batch 1024": (2, 4, 1024, 60),
    "16→64→64→1, batch 1024": (16, [64, 64], 1024, 15),
}

# One child process per measurement, since both libraries choose their code path once per process.
# "machine" runs a kernel and a matrix product before importing `stages`, so ATen and MKL have
# chosen by themselves and the pin comes too late: the code paths this CPU picks unpinned.
CHILD = """
import json, sys, time
if sys.argv[1] == "machine":
    import torch
    torch.ones(64).exp(), torch.ones(4, 4) @ torch.ones(4, 4)
from stages.generate import generate
from stages.split import split
from stages.train import train
import torch
torch.set_num_threads(1)
speeds = {"capability": torch.backends.cpu.get_cpu_capability()}
for name, (features, hidden, batch, epochs) in json.loads(sys.argv[2]).items():
    train_part, val = split(generate(seed=0, n_samples=20_000, n_features=features, noise=0.05), 0.2, seed=0)
    start = time.perf_counter()
    train(train_part, val, hidden=hidden, loss="bce", lr=0.001, weight_decay=0.0, epochs=epochs,
          batch_size=batch, seed=0)
    speeds[name] = epochs * len(train_part.y) / (time.perf_counter() - start)
print(json.dumps(speeds))
"""


def _speeds(mode: str) -> dict:
    # Without the pins this process inherited from importing `stages`: the child sets its own, or not.
    env = {name: value for name, value in os.environ.items() if name not in PINNED}
    result = subprocess.run([sys.executable, "-c", CHILD, mode, json.dumps(WORKLOADS)], cwd=ROOT, env=env,
                            capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(result.stdout)


def report(_workdir=None) -> str:
    """Samples per second of `train` pinned and as this CPU would choose, one thread, best of REPEATS."""
    best = {"pinned": {}, "machine": {}}
    for _ in range(REPEATS):
        for mode, speeds in best.items():
            for name, value in _speeds(mode).items():
                speeds[name] = value if name == "capability" else max(speeds.get(name, 0.0), value)
    rows = [
        [name, f"{best['machine'][name]:,.0f}", f"{best['pinned'][name]:,.0f}",
         f"{best['pinned'][name] / best['machine'][name]:.2f}"]
        for name in WORKLOADS
    ]  # fmt: skip
    header = [
        "workload",
        f"this CPU's choice ({best['machine']['capability']}), samples/s",
        f"pinned ({best['pinned']['capability']}, MKL compatible), samples/s",
        "pinned ÷ choice",
    ]
    return table(header, rows)
