"""Stage generate: seeded synthetic data with a known amount of label noise, or a real dataset."""

import numpy as np

from stages.lib.cli import parse_paths, run
from stages.lib.io import Dataset, write_dataset
from stages.params import DataParams, load_section

# c = median(|u| - v) for independent standard normals u, v, so the two classes are balanced.
BALANCE_OFFSET = 0.7707


def rule_plane(n_features: int) -> np.ndarray:
    """The two unit directions the rule reads: u sums the even-indexed features, v the odd, scaled."""
    directions = np.zeros((2, n_features))
    directions[0, 0::2] = 1 / np.sqrt(len(range(0, n_features, 2)))
    directions[1, 1::2] = 1 / np.sqrt(len(range(1, n_features, 2)))
    return directions


def hidden_rule(x: np.ndarray) -> np.ndarray:
    """Clean label: 1 where v > |u| - c, with u, v the scaled sums of even- and odd-indexed features."""
    u = x[:, 0::2].sum(axis=1) / np.sqrt(x[:, 0::2].shape[1])
    v = x[:, 1::2].sum(axis=1) / np.sqrt(x[:, 1::2].shape[1])
    return (v > np.abs(u) - BALANCE_OFFSET).astype(np.int64)


def generate(seed: int, n_samples: int, n_features: int, noise: float) -> Dataset:
    """Standard-normal features, labels from the hidden rule, then exactly round(noise·n) labels flipped."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_samples, n_features)).astype(np.float32)
    y_clean = hidden_rule(x)
    flipped = rng.choice(n_samples, size=round(noise * n_samples), replace=False)
    y = y_clean.copy()
    y[flipped] = 1 - y[flipped]
    return Dataset(x=x, y=y, y_clean=y_clean)


def load_real(source: str) -> Dataset:
    """A dataset that scikit-learn ships inside its package. Its clean labels are unknown: y_clean = y."""
    from sklearn import datasets

    x, y = getattr(datasets, f"load_{source}")(return_X_y=True)
    return Dataset(x=x.astype(np.float32), y=y.astype(np.int64), y_clean=y.astype(np.int64))


def dataset(p: DataParams, seed: int | None = None) -> Dataset:
    """The rows the `data` params ask for: synthetic ones from `seed` (by default `p.seed`), or a real
    dataset, whose rows are fixed."""
    if p.source == "synthetic":
        return generate(p.seed if seed is None else seed, p.n_samples, p.n_features, p.noise)
    return load_real(p.source)


def main() -> None:
    """Read the `data` params and write the dataset to --out."""
    args = parse_paths(__doc__, "out")
    write_dataset(args.out, dataset(load_section(args.params, "data", DataParams)))


if __name__ == "__main__":
    run(main)
