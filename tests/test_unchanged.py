"""Adding depth, dropout, activations and real data left nb1 to nb3 byte-identical.

The hashes were recorded with the code as it was before those params existed, then once more when
the CPU code paths were pinned (stages/cpu.py): the data kept its bytes, the models took those of the
pinned kernels, which every x86-64 machine now shares. And once more when one training loop came to
serve both one model and a study's many (stages/train.py): the data, metrics, ROC and confusion
kept their bytes; the weights moved in their last bits (a hand-written Adam), and with them the
history and loss plot. And once more when every number came from exact arithmetic in a fixed order
(stages/lib/exact.py), the same on every machine: the data, metrics, ROC and confusion kept their bytes;
the weights, history and loss plot moved in their last bits, and models/machine.json was dropped.
"""

import dataclasses
import hashlib
from pathlib import Path

import pytest
import torch

from stages.generate import dataset
from stages.lib.configs import load_experiments
from stages.lib.io import write_dataset, write_history
from stages.lib.model import save_model
from stages.split import split
from stages.train import train

BEFORE = {  # md5 of data/raw.csv, the model and the history, with 20 epochs
    "nb1-bce": ("e101acc30fc33056ddaa2c70878af390", "ada1d3627fb89a749f1042c9129e89b9", "35a6ffe1ee3e2464a4dfc64b783dadf7"),
    "nb2-mse": ("1b99819cfdf2325aa8b63d5021fc1ee2", "3a10160af0dd30ace9204e45f06619b0", "f1d3f1e8e2a3426fd731971b5a061547"),
    "nb3-mse-l2": ("25cea659c5adff0f12d5102d48c59f10", "b8c27165b2d626e937a063532edf0892", "7070f47a8b9db4437007f0b30b01cd03"),
}  # fmt: skip


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", list(BEFORE))
def test_notebook_outputs_are_byte_identical_to_before(name, tmp_path):
    config = load_experiments(Path("experiments.yaml"))[name]
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, epochs=20))
    data = dataset(config.data)
    train_data, val_data = split(data, config.split.val_fraction, config.split.seed)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model, history = train(train_data, val_data, config)
    finally:
        torch.set_num_threads(before)
    write_dataset(tmp_path / "raw.csv", data)
    save_model(model, tmp_path / "model.safetensors")
    write_history(tmp_path / "history.csv", history)
    assert (
        md5(tmp_path / "raw.csv"),
        md5(tmp_path / "model.safetensors"),
        md5(tmp_path / "history.csv"),
    ) == BEFORE[name]
