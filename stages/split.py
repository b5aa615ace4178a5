"""Stage split: a seeded, stratified, disjoint train/validation split."""

import numpy as np

from stages.lib.cli import UserError, parse_paths, run
from stages.lib.io import Dataset, read_dataset, write_dataset
from stages.params import SplitParams, load_section


def split_indices(y: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted train and validation row indices; each class keeps its share in both parts.

    The validation part always has round(val_fraction · rows) rows, whatever the class balance, so
    datasets of one size split into parts of one size (the seeds study stacks them).
    """
    rng = np.random.default_rng(seed)
    labels, counts = np.unique(y, return_counts=True)
    val = []
    for label, quota in zip(labels, class_quotas(counts, round(val_fraction * len(y))), strict=True):
        rows = np.flatnonzero(y == label)
        val.append(rng.permutation(rows)[:quota])
    val_rows = np.sort(np.concatenate(val))
    train_rows = np.setdiff1d(np.arange(len(y)), val_rows)
    return train_rows, val_rows


def class_quotas(counts: np.ndarray, total: int) -> np.ndarray:
    """Split `total` over classes in proportion to `counts`: floors, then the largest remainders."""
    exact = counts * total / counts.sum()
    quotas = np.floor(exact).astype(np.int64)
    largest_remainders = np.argsort(-(exact - quotas), kind="stable")[: total - quotas.sum()]
    quotas[largest_remainders] += 1
    return quotas


def split(data: Dataset, val_fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """Split a dataset into train and validation parts, stratified on the observed label."""
    train_rows, val_rows = split_indices(data.y, val_fraction, seed)
    if len(train_rows) == 0 or len(val_rows) == 0:
        raise UserError(
            f"split.val_fraction = {val_fraction} leaves an empty part for "
            f"{len(data.y)} rows; choose a value that keeps rows on both sides"
        )
    return _take(data, train_rows), _take(data, val_rows)


def _take(data: Dataset, rows: np.ndarray) -> Dataset:
    return Dataset(x=data.x[rows], y=data.y[rows], y_clean=data.y_clean[rows])


def main() -> None:
    """Read the `split` params and --data, write --train and --val."""
    args = parse_paths(__doc__, "data", "train", "val")
    p = load_section(args.params, "split", SplitParams)
    train, val = split(read_dataset(args.data), p.val_fraction, p.seed)
    write_dataset(args.train, train)
    write_dataset(args.val, val)


if __name__ == "__main__":
    run(main)
