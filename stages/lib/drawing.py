"""Figures the evaluate stage and the seeds study share: a model's decision boundary over its validation
points, and PNG bytes without a version stamp. Callers import matplotlib (only where they draw).

The picture's bytes are in dvc.lock, so nothing in it is computed by a compiled library that may round
otherwise on another CPU: matplotlib's contours (contourpy) gave one other pixel on aarch64, its C++
fusing multiply-adds. The shading is a mesh of the grid's cells, and the 0.5 boundary is traced here
(`boundary_segments`) with NumPy's elementwise operations, each rounded once.
"""

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stages.generate import BALANCE_OFFSET, rule_plane
from stages.lib.exact import NUMPY, tree_sum
from stages.lib.io import Dataset, write_atomic
from stages.lib.mlp import feature_statistics, predict
from stages.lib.net import Recipe

GRID = np.linspace(-3, 3, 241)
COLOURS = "RdBu_r"  # blue: class 0, red: class 1
CAPTION = "black: P(y = 1) = 0.5; dotted: the true rule; X: a flipped (noisy) label"


@dataclass(frozen=True)
class Plane:
    """The plane a boundary is drawn in: feature vectors origin + u·axes[0] + v·axes[1], its two axes
    orthogonal; their labels, and whether the synthetic rule v = |u| - c is drawn in it."""

    origin: np.ndarray  # (features,)
    axes: np.ndarray  # (2, features)
    labels: tuple[str, str]
    rule: bool

    def points(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """The float32 feature vectors at plane coordinates (u, v), elementwise (no library's sum)."""
        return (self.origin + u.reshape(-1, 1) * self.axes[0] + v.reshape(-1, 1) * self.axes[1]).astype(
            np.float32
        )

    def coordinates(self, x: np.ndarray) -> np.ndarray:
        """Rows `x` projected onto the plane, (rows, 2), each sum in a fixed order."""
        offset = x.astype(np.float64) - self.origin
        along = [
            tree_sum(NUMPY, offset * axis, axis=1) / tree_sum(NUMPY, axis * axis, axis=0)
            for axis in self.axes
        ]
        return np.column_stack(along)


def plane_for(train: Dataset, synthetic: bool) -> Plane:
    """Synthetic data: the plane of the two directions its label rule reads (for two features, the
    features themselves). Real data: the first two features, in training standard deviations from
    their training means, every other feature at its mean."""
    n_features = train.x.shape[1]
    if synthetic:
        labels = ("x0", "x1") if n_features == 2 else ("u: even-indexed features", "v: odd-indexed features")
        return Plane(np.zeros(n_features), rule_plane(n_features), labels, rule=True)
    mean, std = feature_statistics(train.x)
    axes = np.zeros((2, n_features))
    axes[0, 0], axes[1, 1] = std[0], std[1]
    return Plane(mean, axes, ("x0, in SDs from its mean", "x1, in SDs from its mean"), rule=False)


def draw_boundary(ax, steps: Recipe, state: dict[str, np.ndarray], val: Dataset, plane: Plane,
                  title: str) -> None:  # fmt: skip
    """Into matplotlib axes `ax`: P(y = 1) of the model (recipe `steps`, weights `state`) over the plane,
    its 0.5 contour, the true rule, and the validation points in their observed labels' colours."""
    from matplotlib.collections import LineCollection
    from matplotlib.colors import BoundaryNorm

    u, v = np.meshgrid(GRID, GRID)
    prob = predict(steps, state, plane.points(u, v)).reshape(u.shape).astype(np.float64)
    bands = BoundaryNorm(np.linspace(0, 1, 11), 256)  # ten bands of P, as filled contours would draw
    ax.pcolormesh(GRID, GRID, prob, shading="nearest", cmap=COLOURS, norm=bands, alpha=0.45)
    ax.add_collection(
        LineCollection(boundary_segments(prob), colors="black", linewidths=1.5, capstyle="round")
    )
    if plane.rule:
        ax.plot(GRID, np.abs(GRID) - BALANCE_OFFSET, "k:", linewidth=1)
    at, flipped = plane.coordinates(val.x), val.y != val.y_clean
    kept = {"s": 14, "edgecolors": "white"}
    for rows, style in ((~flipped, kept), (flipped, {"s": 30, "marker": "X", "edgecolors": "black"})):
        ax.scatter(at[rows, 0], at[rows, 1], c=val.y[rows], cmap=COLOURS, vmin=0, vmax=1, linewidths=0.4,
                   **style)  # fmt: skip
    ax.set(xlim=(-3, 3), ylim=(-3, 3), xlabel=plane.labels[0], ylabel=plane.labels[1], title=title)


def boundary_segments(prob: np.ndarray, level: float = 0.5) -> np.ndarray:
    """Where P(y = 1) on the grid (GRID by GRID, rows along v) crosses `level`, as line segments
    (n, 2, 2) in (u, v): marching squares, each crossing linearly interpolated along its cell's edge."""
    above = prob >= level
    step = GRID[1] - GRID[0]
    corners = {"00": (slice(None, -1), slice(None, -1)), "01": (slice(None, -1), slice(1, None)),
               "10": (slice(1, None), slice(None, -1)), "11": (slice(1, None), slice(1, None))}  # fmt: skip
    p = {name: prob[index] for name, index in corners.items()}
    a = {name: above[index] for name, index in corners.items()}
    u0, v0 = np.meshgrid(GRID[:-1], GRID[:-1])

    def cross(first: str, second: str) -> np.ndarray:
        """The crossing on edge first → second of every cell: (cells..., 2), NaN where none."""
        du, dv = int(second[1]) - int(first[1]), int(second[0]) - int(first[0])
        with np.errstate(divide="ignore", invalid="ignore"):  # edges not crossed: masked below
            t = (level - p[first]) / (p[second] - p[first])
            u = u0 + (int(first[1]) + t * du) * step
            v = v0 + (int(first[0]) + t * dv) * step
        return np.where((a[first] != a[second])[..., None], np.stack([u, v], axis=-1), np.nan)

    edges = (
        cross("00", "01"),
        cross("10", "11"),
        cross("00", "10"),
        cross("01", "11"),
    )  # bottom top left right
    crossed = [~np.isnan(edge[..., 0]) for edge in edges]
    count = sum(c.astype(int) for c in crossed)
    pairs = [((first, second), (count == 2) & crossed[first] & crossed[second])
             for first, second in ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))]  # fmt: skip
    # A saddle (corners 00 and 11 on one side, 01 and 10 on the other): the centre's side joins one pair
    # of corners, and each corner of the other pair is cut off between its two edges.
    saddle = count == 4
    joins_00 = saddle & ((((p["00"] + p["01"]) + (p["10"] + p["11"])) * 0.25 >= level) == a["00"])
    pairs += [
        ((0, 3), joins_00),
        ((2, 1), joins_00),
        ((0, 2), saddle & ~joins_00),
        ((1, 3), saddle & ~joins_00),
    ]
    return np.concatenate([np.stack([edges[i][where], edges[j][where]], axis=1) for (i, j), where in pairs])


def save_png(figure, path: Path) -> None:
    """The figure as a PNG without matplotlib's version stamp, so the same data gives the same bytes."""
    import matplotlib.pyplot as plt

    png = io.BytesIO()
    figure.savefig(png, format="png", metadata={"Software": None})
    plt.close(figure)
    write_atomic(path, png.getvalue())
