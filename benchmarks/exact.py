"""Benchmark 10 (`exact`): the exact arithmetic (stages/lib/exact.py, net.py) against torch's before it.

BEFORE is the last commit that trained with torch's own kernels: batched matrix products (MKL),
autograd, and an Adam of torch operations, with stages/cpu.py pinning their CPU code paths. From the
next commit on, the CPU path is NumPy arrays and correctly rounded elementwise operations only. Side by
side in one run, on fresh clones of both commits, run by this one venv (both pin the same versions):
- `journey experiments` on a fresh clone: the three notebooks on DVC's queue, as a newcomer runs them;
  and for information the same three configs' stages in one process (`benchmarks.one_process
  --experiments`), which leaves out the queue, DVC and process start-up. Best of 2, interleaved.
- the train stage's loop in µs per Adam step, for nb1-bce (2→4→1) and nb3-mse-l2 (4→7→1) at batch 32:
  `stages.train.fit` in a new process per commit, best of 3 interleaved. Before, the stage trained its
  model beside an identical twin (torch multiplied a batch of one matrix another way); its one-copy
  time is shown too. After, also the CUDA path's operations (`stages.lib.exact_torch.TORCH`) on CPU tensors.
"""

import json
import sys
from pathlib import Path

from benchmarks.common import Run, clone_env, fresh_clone, head, measure, table, verdict

# The last commit before stages/exact.py (now stages/lib/exact.py); "after" is HEAD when the benchmark starts.
BEFORE = "10fcee1"
PYTHON = sys.executable
REPEATS = {"experiments": 2, "steps": 3}  # interleaved, best kept: this 2-core VM varies by a third
TARGET = 1.25  # after ÷ before, at most
STEP_CONFIGS = {"nb1-bce": 100, "nb3-mse-l2": 100}  # epochs timed: about a second per measurement

# One commit's train loop, timed in its own process (`stages` first: the old one pins torch's kernels
# as it is imported). `fit`'s wall time ÷ its Adam steps: each epoch's draws, its gather and the losses
# on both splits are in it, as in the stage. One untimed epoch first, for lazy initialisation.
STEPS = """
import json, sys, time
from pathlib import Path
import importlib, importlib.util
import stages
import torch
# Helpers in stages/lib, the study in study/: asked of the clone's files, since the editable install's
# finder would find stages.lib in the work tree for a clone that has none.
new_layout = (Path(stages.__file__).parent / "lib").is_dir()
lib, study = ("stages.lib", "study") if new_layout else ("stages", "journey")
configs_module = importlib.import_module(("stages.lib" if new_layout else "journey") + ".configs")
load_experiments = configs_module.load_experiments
Seeds, parts = (getattr(importlib.import_module(study + ".seeds"), n) for n in ("Seeds", "parts"))
draws_module = importlib.import_module(lib + ".draws")
Draws, initial_model = draws_module.Draws, draws_module.initial_model
from stages.train import fit

side = sys.argv[1]
if side == "before":  # what the old train stage's main() set
    StackedMLP = importlib.import_module(lib + ".model").StackedMLP
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    variants = {"torch, model and twin": 2, "torch, one copy": 1}
else:
    NUMPY = importlib.import_module(lib + ".exact").NUMPY
    # Since issue 33 the torch operations have a module of their own, imported only for CUDA.
    has_own = (Path(stages.__file__).parent / "lib/exact_torch.py").exists()
    torch_home = ".exact_torch" if has_own else ".exact"
    TORCH = importlib.import_module(lib + torch_home).TORCH
    # Since benchmark 12's commit the loop takes a model, loss and optimizer (stages.lib.arithmetic.pieces).
    as_pieces = (Path(stages.__file__).parent / "lib/arithmetic.py").exists()
    Stacked = None if as_pieces else importlib.import_module(lib + ".model").Stacked
    variants = {"NumPy": NUMPY, "exact.TORCH on CPU tensors": TORCH}
configs = load_experiments(Path("experiments.yaml"))
results = {}
for name, epochs in json.loads(sys.argv[2]).items():
    config = configs[name]
    typed = not isinstance(config, dict)  # since the typed configs; dicts before
    sections = config.plain() if typed else config
    d, s, m, t = (sections[name] for name in ("data", "split", "model", "train"))
    train, val = parts(config, Seeds("all", 0, d["seed"] or 0, s["seed"], t["seed"]))
    options = {"loss": t["loss"], "lr": t["lr"], "weight_decay": t["weight_decay"],
               "batch_size": t["batch_size"]}
    for variant, how in variants.items():
        copies = how if side == "before" else 1
        def seconds(n_epochs):
            models = [initial_model(train.x, t["seed"], m["hidden"], m["activation"], m["dropout"],
                                    d["standardize"]) for _ in range(copies)]
            draws = [Draws(t["seed"], m["hidden"], m["dropout"]) for _ in range(copies)]
            start = time.perf_counter()
            if typed:
                import dataclasses
                settings = dataclasses.replace(config.train, epochs=n_epochs)
                if side == "after" and as_pieces:
                    from stages.lib.arithmetic import pieces
                    stacked = pieces(models, settings, torch.device("cpu"), how)
                else:
                    cpu = torch.device("cpu")
                    stacked = StackedMLP(models) if side == "before" else Stacked(models, cpu, how)
                fit(stacked, draws, [train] * copies, [val] * copies, settings)
            else:
                stacked = StackedMLP(models)
                fit(stacked, draws, [train] * copies, [val] * copies, epochs=n_epochs, **options)
            return time.perf_counter() - start
        seconds(1)
        steps = epochs * -(-len(train.y) // t["batch_size"])
        results[f"{name}|{variant}"] = seconds(epochs) / steps * 1e6
print("RESULTS=" + json.dumps(results))
"""


def _best(runs: list[Run]) -> Run:
    return min(runs, key=lambda run: run.seconds)


def experiments(workdir: Path, after: str) -> list[list[str]]:
    """`journey experiments` and the one-process baseline on fresh clones of each commit, interleaved."""
    runs: dict[tuple[str, str], list[Run]] = {}
    commands = {
        "journey experiments": [PYTHON, "-m", "journey", "experiments"],
        "one process": [PYTHON, "-m", "benchmarks.one_process", "--experiments"],
    }
    for i in range(REPEATS["experiments"]):
        for what, command in commands.items():
            for side, commit in (("before", BEFORE), ("after", after)):
                clone = fresh_clone(workdir, f"{side}-{what.replace(' ', '-')}-{i}", commit)
                runs.setdefault((what, side), []).append(measure(command, clone, clone_env(clone)))
    rows = []
    for what, label, target in (
        ("journey experiments", "`journey experiments`, fresh clone (3 notebooks on DVC's queue)", TARGET),
        ("one process", "the same three configs' stages in one process, no DVC (information)", None),
    ):
        before, after = _best(runs[what, "before"]).seconds, _best(runs[what, "after"]).seconds
        ratio = after / before
        check = [f"≤ {target}", verdict(ratio, target, True)] if target else ["", ""]
        cells = [f"{best:.1f} s (of {', '.join(f'{run.seconds:.1f}' for run in runs[what, side])})"
                 for best, side in ((before, "before"), (after, "after"))]  # fmt: skip
        rows.append([label, *cells, f"{ratio:.2f}", *check])
    return rows


def _step_times(clone: Path, side: str) -> dict[str, float]:
    run = measure([PYTHON, "-c", STEPS, side, json.dumps(STEP_CONFIGS)], clone, clone_env(clone))
    return json.loads(run.output.rpartition("RESULTS=")[2].strip())


def steps(workdir: Path, after: str) -> list[list[str]]:
    """µs per Adam step of each commit's train loop: one new process per commit and repeat, best kept."""
    clones = {"before": fresh_clone(workdir, "before-steps", BEFORE),
              "after": fresh_clone(workdir, "after-steps", after)}  # fmt: skip
    best: dict[str, float] = {}
    for _ in range(REPEATS["steps"]):
        for side, clone in clones.items():
            for key, value in _step_times(clone, side).items():
                best[key] = min(best.get(key, float("inf")), value)
    rows = []
    for name in STEP_CONFIGS:
        twin, one = best[f"{name}|torch, model and twin"], best[f"{name}|torch, one copy"]
        numpy, torch_ops = best[f"{name}|NumPy"], best[f"{name}|exact.TORCH on CPU tensors"]
        rows.append([name, f"{twin:.0f}", f"{one:.0f}", f"{numpy:.0f}", f"{numpy / twin:.2f}",
                     f"{torch_ops:.0f}", f"{torch_ops / twin:.2f}"])  # fmt: skip
    return rows


def report(workdir: Path) -> str:
    """Benchmark 10 as two Markdown tables: the notebooks' experiments, then the train loop's step."""
    after = head()
    wall = table(["measure", f"before (`{BEFORE}`)", f"after (`{after}`)", "after ÷ before", "target", ""],
                 experiments(workdir, after))  # fmt: skip
    header = [
        "config, batch 32",
        "before: torch, model and twin (the stage), µs/step",
        "before: torch, one copy, µs/step",
        "after: NumPy (the stage on the CPU), µs/step",
        "after ÷ before (the stage)",
        "after: `exact.TORCH` on CPU tensors (the CUDA path's ops), µs/step",
        "÷ before (the stage)",
    ]
    return f"{wall}\n\n{table(header, steps(workdir, after))}"
