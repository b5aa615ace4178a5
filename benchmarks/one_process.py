"""The baselines: the stages' own entry points called one after another in one Python process, no DVC;
or the trainings alone, as a plain PyTorch loop (`train.arithmetic: native`) or in the stage's
arithmetic, timed inside the process."""

import argparse
import dataclasses
import importlib
import os
import shlex
import sys
import time
from pathlib import Path

import yaml

from stages.lib.configs import load_experiments


def stage_calls(dvc_yaml: Path) -> dict[str, tuple[str, list[str]]]:
    """Each stage's module and arguments from its `cmd`, in dvc.yaml's order (the DAG's order here)."""
    stages = yaml.safe_load(dvc_yaml.read_text())["stages"]
    calls = {}
    for name, stage in stages.items():
        words = shlex.split(stage["cmd"])  # python -m MODULE ARGS...
        calls[name] = (words[2], words[3:])
    return calls


def run_pipeline(workdir: Path, dvc_yaml: Path) -> None:
    """The same work as `dvc repro` in `workdir`, in this process."""
    here = Path.cwd()
    os.chdir(workdir)
    try:
        for module, argv in stage_calls(dvc_yaml).values():
            sys.argv = [module, *argv]
            importlib.import_module(module).main()
    finally:
        os.chdir(here)


def run_experiments(root: Path) -> None:
    """The same work as `journey experiments`: each notebook's config, one after another."""
    for name, config in load_experiments(root / "experiments.yaml").items():
        workdir = root / "one_process" / name
        workdir.mkdir(parents=True)
        (workdir / "params.yaml").write_text(yaml.safe_dump(config.plain(), sort_keys=False))
        run_pipeline(workdir, root / "dvc.yaml")


def train_loops(params: list, arithmetic: str | None) -> float:
    """Train each of `params` (in `arithmetic`, if given) as stages.train does, from its data; the
    seconds inside the training loops."""
    from stages.generate import dataset
    from stages.split import split
    from stages.train import train

    seconds = 0.0
    for config in params:
        if arithmetic:
            config = dataclasses.replace(
                config, train=dataclasses.replace(config.train, arithmetic=arithmetic)
            )
        train_data, val_data = split(dataset(config.data), config.split.val_fraction, config.split.seed)
        start = time.perf_counter()
        train(train_data, val_data, config)
        seconds += time.perf_counter() - start
    return seconds


def main() -> None:
    """Run the default pipeline here, or with --experiments the three notebooks under one_process/; with
    --native-loops the three notebooks' trainings as a plain PyTorch loop, with --loop params.yaml's
    training alone (it prints LOOP_SECONDS=, the loop's own time)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--experiments", action="store_true")
    parser.add_argument("--native-loops", action="store_true")
    parser.add_argument("--loop", action="store_true")
    args = parser.parse_args()
    root = Path.cwd()
    if args.native_loops:
        notebooks = list(load_experiments(root / "experiments.yaml").values())
        print(f"LOOP_SECONDS={train_loops(notebooks, 'native')}")
    elif args.loop:
        from stages.params import load_params

        print(f"LOOP_SECONDS={train_loops([load_params(root / 'params.yaml')], None)}")
    else:
        run_experiments(root) if args.experiments else run_pipeline(root, root / "dvc.yaml")


if __name__ == "__main__":
    main()
