"""Benchmark 6: the dataset's on-disk format, write and read, against the alternatives considered."""

import io
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.common import table
from stages.generate import generate
from stages.lib.io import FLOAT_FORMAT, Dataset, read_dataset, write_dataset

SIZES = (10_000, 1_000_000)


def savetxt_csv(path: Path, data: Dataset) -> None:
    """The same CSV bytes through np.savetxt, which formats row by row."""
    columns = [data.x.astype(np.float64), data.y[:, None], data.y_clean[:, None]]
    buffer = io.StringIO()
    header = ",".join([f"x{i}" for i in range(data.x.shape[1])] + ["y", "y_clean"])
    fmt = [FLOAT_FORMAT] * data.x.shape[1] + ["%d", "%d"]
    np.savetxt(buffer, np.column_stack(columns), fmt=fmt, delimiter=",", header=header, comments="")
    path.write_text(buffer.getvalue())


def write_npy(path: Path, data: Dataset) -> None:
    """One float32 table (features, then both labels) in NumPy's own format."""
    np.save(path, np.column_stack([data.x, data.y, data.y_clean]).astype(np.float32))


def read_npy(path: Path) -> Dataset:
    table = np.load(path)
    return Dataset(table[:, :-2], table[:, -2].astype(np.int64), table[:, -1].astype(np.int64))


def write_parquet(path: Path, data: Dataset) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {f"x{i}": data.x[:, i] for i in range(data.x.shape[1])} | {"y": data.y, "y_clean": data.y_clean}
    pq.write_table(pa.table(columns), path)


def read_parquet(path: Path) -> Dataset:
    import pyarrow.parquet as pq

    frame = pq.read_table(path)
    x = np.column_stack([frame[name].to_numpy() for name in frame.column_names[:-2]])
    return Dataset(x, frame["y"].to_numpy(), frame["y_clean"].to_numpy())


FORMATS: dict[str, tuple[str, Callable, Callable]] = {
    "CSV, the stage's writer (chosen)": (".csv", write_dataset, read_dataset),
    "CSV, np.savetxt": (".csv", savetxt_csv, read_dataset),
    ".npy, float32": (".npy", write_npy, read_npy),
    "Parquet (pyarrow)": (".parquet", write_parquet, read_parquet),
}


def _seconds(action: Callable, *args: object) -> float:
    start = time.perf_counter()
    action(*args)
    return time.perf_counter() - start


def report(workdir: Path) -> str:
    """Write and read time and file size of each format at 10^4 and 10^6 rows of 4 features."""
    rows = []
    for n in SIZES:
        data = generate(seed=0, n_samples=n, n_features=4, noise=0.05)
        for name, (suffix, write, read) in FORMATS.items():
            path = workdir / f"{n}{suffix}"
            try:
                written = _seconds(write, path, data)
                loaded = _seconds(read, path)
            except ImportError as error:
                rows.append([f"{n:,}", name, f"not installed ({error.name})", "", ""])
                continue
            size = path.stat().st_size / 2**20
            rows.append([f"{n:,}", name, f"{written:.3f} s", f"{loaded:.3f} s", f"{size:.2f} MiB"])
    return table(["rows", "format", "write", "read", "size"], rows)
