"""Files in and out: atomic writes, the dataset CSV format, and canonical JSON."""

import contextlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stages.lib.cli import UserError

FLOAT_FORMAT = "%.9g"  # enough digits to round-trip every float32 exactly
JSON_DIGITS = 6
ROWS_PER_BLOCK = 50_000  # bounds the temporary Python floats to a few MB
# The DVCLive metrics the train stage logs each epoch (stages/lib/loop.py), by split; dvc.yaml's loss
# plot reads their files (`live_curve`).
LIVE_LOSSES = {"train": "train/loss", "val": "val/loss"}


@dataclass(frozen=True)
class Dataset:
    """Features, the observed (noisy) label, and the clean label the noise was applied to."""

    x: np.ndarray
    y: np.ndarray
    y_clean: np.ndarray


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename: a reader sees the old file or the new one."""
    temporary = path.with_name(f".{path.name}.tmp")  # a fixed name: a killed run's leftover is reused
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with temporary.open("wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except OSError as error:
        _remove(temporary)
        raise UserError(
            f"{path}: cannot write ({error.strerror}); check the folder's permissions and free space"
        ) from None
    except BaseException:
        _remove(temporary)
        raise


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


def read_splits(train_path: Path, val_path: Path) -> tuple[Dataset, Dataset]:
    """Read the train and validation parts, which must have the same features."""
    train, val = read_dataset(train_path), read_dataset(val_path)
    if train.x.shape[1] != val.x.shape[1]:
        raise UserError(
            f"{train_path} has {train.x.shape[1]} features but {val_path} has {val.x.shape[1]}; "
            "run `dvc repro split` to rebuild both"
        )
    return train, val


def write_json(path: Path, document: dict[str, Any]) -> None:
    """Write JSON with sorted keys, rounded floats and a final newline, so equal data gives equal bytes."""
    text = json.dumps(_rounded(document), indent=2, sort_keys=True) + "\n"
    write_atomic(path, text.encode())


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, JSON_DIGITS)
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(item) for item in value]
    return value


def write_table(path: Path, columns: dict[str, np.ndarray], formats: dict[str, str]) -> None:
    """Write equal-length columns as CSV with a header, each column in its own printf format."""
    table = np.column_stack([np.asarray(column, dtype=np.float64) for column in columns.values()])
    row = ",".join(formats[name] for name in columns) + "\n"
    parts = [",".join(columns) + "\n"]
    # One %-format per block of rows: the same bytes as np.savetxt, which formats row by row, 2x faster.
    for start in range(0, len(table), ROWS_PER_BLOCK):
        block = table[start : start + ROWS_PER_BLOCK]
        parts.append((row * len(block)) % tuple(block.ravel().tolist()))
    write_atomic(path, "".join(parts).encode())


def write_dataset(path: Path, data: Dataset) -> None:
    """Write a dataset as CSV: x0..x{d-1}, y, y_clean."""
    columns = {f"x{i}": data.x[:, i] for i in range(data.x.shape[1])}
    columns |= {"y": data.y, "y_clean": data.y_clean}
    formats = {name: FLOAT_FORMAT for name in columns} | {"y": "%d", "y_clean": "%d"}
    write_table(path, columns, formats)


def read_dataset(path: Path) -> Dataset:
    """Read a dataset CSV, checking header, shape, finiteness and labels; errors say how to fix it."""
    fix = "run `dvc repro` (or `dvc pull`) to restore it"
    try:
        with path.open() as file, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "no data": reported below, with the fix
            header = file.readline().strip().split(",")
            table = np.loadtxt(file, delimiter=",", ndmin=2, dtype=np.float64)
    except FileNotFoundError:
        raise UserError(f"{path}: file not found; {fix}") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: corrupt or truncated ({error}); {fix}") from None
    n_features = len(header) - 2
    expected = [f"x{i}" for i in range(n_features)] + ["y", "y_clean"]
    if n_features < 1 or header != expected:
        raise UserError(f"{path}: columns {header} are not x0..xN, y, y_clean; {fix}")
    if table.shape[0] == 0 or table.shape[1] != len(header):
        raise UserError(f"{path}: expected rows of {len(header)} values, got shape {table.shape}; {fix}")
    if not np.isfinite(table).all():
        raise UserError(f"{path}: NaN or inf in the data; {fix}")
    labels = table[:, -2:]
    if not np.isin(labels, (0, 1)).all():
        raise UserError(f"{path}: labels y and y_clean must be 0 or 1; {fix}")
    x = table[:, :-2].astype(np.float32)
    return Dataset(x=x, y=labels[:, 0].astype(np.int64), y_clean=labels[:, 1].astype(np.int64))


@dataclass(frozen=True)
class History:
    """Loss on the whole train and validation sets after each epoch (epoch 1 first)."""

    train_loss: list[float]
    val_loss: list[float]


HISTORY_FORMATS = {"epoch": "%d", "train_loss": "%.6f", "val_loss": "%.6f"}  # history.csv's columns


def write_history(path: Path, history: History) -> None:
    """The loss curves as CSV: epoch, train_loss, val_loss."""
    epochs = np.arange(1, len(history.train_loss) + 1)
    columns = {"epoch": epochs, "train_loss": history.train_loss, "val_loss": history.val_loss}
    write_table(path, columns, HISTORY_FORMATS)


def live_curve(live: Path, metric: str) -> Path:
    """Where DVCLive, logging into folder `live`, keeps metric `metric`'s values: plots/metrics/<metric>.tsv
    (tab-separated: step, value)."""
    return live / "plots" / "metrics" / f"{metric}.tsv"


def read_live_history(live: Path) -> History:
    """The loss curves stages/lib/loop.py logged with DVCLive into folder `live` (LIVE_LOSSES)."""
    curves = []
    for metric in LIVE_LOSSES.values():
        path = live_curve(live, metric)
        fix = "run `dvc repro train`"
        try:
            header = path.open().readline().strip().split("\t")
            table = np.loadtxt(path, delimiter="\t", skiprows=1, ndmin=2)
        except (OSError, ValueError) as error:
            raise UserError(f"{path}: missing or corrupt ({error}); {fix}") from None
        epochs = np.arange(1, len(table) + 1)
        if header != ["step", "loss"] or table.shape[1:] != (2,) or not np.array_equal(table[:, 0], epochs):
            raise UserError(f"{path}: expected columns step, loss with steps 1, 2, 3…; {fix}")
        curves.append(table[:, 1].tolist())
    if len(curves[0]) != len(curves[1]) or not curves[0]:
        raise UserError(f"{live}: the train and val loss curves have {len(curves[0])} and {len(curves[1])} "
                        f"epochs; {fix}")  # fmt: skip
    return History(train_loss=curves[0], val_loss=curves[1])


def read_history(path: Path) -> History:
    """The loss curves write_history wrote, as it rounded them."""
    try:
        header = path.open().readline().strip().split(",")
        table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: missing or corrupt ({error}); run `dvc repro train`") from None
    if header != list(HISTORY_FORMATS) or table.shape[0] == 0:
        raise UserError(f"{path}: expected columns {','.join(HISTORY_FORMATS)}; run `dvc repro train`")
    return History(train_loss=table[:, 1].tolist(), val_loss=table[:, 2].tolist())
