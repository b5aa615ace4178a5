"""The decision boundary the evaluate stage and the study's report draw: its plane, its points, its bytes."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from stages.generate import generate, rule_plane
from stages.lib.drawing import GRID, boundary_segments, draw_boundary, plane_for, save_png
from stages.lib.io import Dataset
from stages.lib.mlp import mlp_recipe
from stages.split import split


def untrained(n_features: int, hidden: int = 4) -> dict[str, np.ndarray]:
    """Weights of a small MLP, drawn from a seeded generator."""
    rng = np.random.default_rng(0)
    return {"0.weight": rng.normal(size=(hidden, n_features)).astype(np.float32),
            "0.bias": rng.normal(size=hidden).astype(np.float32),
            "2.weight": rng.normal(size=(1, hidden)).astype(np.float32),
            "2.bias": np.zeros(1, np.float32)}  # fmt: skip


@pytest.mark.parametrize("n_features", [2, 3, 4])
def test_synthetic_points_land_where_the_rule_reads_them(n_features):
    data = generate(seed=0, n_samples=200, n_features=n_features, noise=0.0)
    plane = plane_for(data, synthetic=True)
    at = plane.coordinates(data.x)
    expected = data.x.astype(np.float64) @ rule_plane(n_features).T
    assert np.allclose(at, expected, rtol=0, atol=1e-12)
    if n_features == 2:
        assert plane.labels == ("x0", "x1") and np.array_equal(
            at, data.x.astype(np.float64)
        )  # drawn directly


def test_the_plane_maps_its_own_grid_back():
    x = np.random.default_rng(1).normal(5.0, 3.0, (100, 5)).astype(np.float32)
    data = Dataset(x=x, y=np.zeros(100, np.int64), y_clean=np.zeros(100, np.int64))
    plane = plane_for(data, synthetic=False)
    u, v = np.meshgrid(GRID[::40], GRID[::40])
    back = plane.coordinates(plane.points(u, v))
    assert np.allclose(back, np.column_stack([u.ravel(), v.ravel()]), atol=1e-5)
    assert not plane.rule and "SDs from its mean" in plane.labels[0]


def test_flipped_labels_are_marked_and_every_point_drawn():
    train, val = split(generate(seed=0, n_samples=500, n_features=2, noise=0.1), 0.2, 0)
    figure, ax = plt.subplots()
    draw_boundary(ax, mlp_recipe(4), untrained(2), val, plane_for(train, True), "t")
    kept, flipped = ax.collections[-2], ax.collections[-1]
    assert len(flipped.get_offsets()) == np.count_nonzero(val.y != val.y_clean) > 0
    assert len(kept.get_offsets()) + len(flipped.get_offsets()) == len(val.y)
    assert len(ax.lines) == 1  # the true rule, dotted
    plt.close(figure)


def test_the_same_model_draws_the_same_bytes(tmp_path):
    train, val = split(generate(seed=0, n_samples=300, n_features=3, noise=0.05), 0.2, 0)
    for name in ("a.png", "b.png"):
        figure, ax = plt.subplots(figsize=(4, 4), dpi=60)
        draw_boundary(ax, mlp_recipe(4), untrained(3), val, plane_for(train, True), "t")
        save_png(figure, tmp_path / name)
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def field(function) -> np.ndarray:
    """`function(u, v)` on the drawing's grid, rows along v."""
    u, v = np.meshgrid(GRID, GRID)
    return function(u, v)


def test_the_traced_boundary_lies_on_the_level_and_is_as_long_as_matplotlibs_contour():
    prob = field(lambda u, v: 1 / (1 + np.exp(-5 * (v - np.abs(u) + 0.77))))
    segments = boundary_segments(prob)
    u, v = segments[..., 0], segments[..., 1]
    assert np.abs(v - (np.abs(u) - 0.77)).max() < 0.01  # on the true curve, to a fraction of a cell
    figure, ax = plt.subplots()
    paths = ax.contour(GRID, GRID, prob, levels=[0.5]).get_paths()
    theirs = sum(np.linalg.norm(np.diff(path.vertices, axis=0), axis=1).sum() for path in paths)
    ours = np.linalg.norm(segments[:, 1] - segments[:, 0], axis=1).sum()
    assert ours == pytest.approx(theirs, rel=1e-3)
    plt.close(figure)


def test_a_saddle_cell_is_split_into_two_segments_and_a_field_on_one_side_has_none():
    offset = (GRID[1] - GRID[0]) / 2  # the crossing lines run through the middle of cells
    segments = boundary_segments(field(lambda u, v: 0.5 + (u - offset) * (v - offset)))
    assert len(segments) == 2 * (len(GRID) - 1) and np.isfinite(segments).all()
    assert len(boundary_segments(field(lambda u, v: 0.9 + 0 * u))) == 0
