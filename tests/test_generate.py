"""The generate stage: seeded data, exact label noise, a balanced hidden rule."""

import numpy as np
import pytest

from stages.generate import generate, hidden_rule, load_real, rule_plane


def test_same_seed_gives_identical_data():
    a, b = generate(7, 500, 3, 0.05), generate(7, 500, 3, 0.05)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.x, generate(8, 500, 3, 0.05).x)


@pytest.mark.parametrize(("n_samples", "noise"), [(1000, 0.05), (1500, 0.05), (333, 0.1), (200, 0.0)])
def test_exactly_round_noise_times_n_labels_are_flipped(n_samples, noise):
    data = generate(0, n_samples, 2, noise)
    assert int(np.sum(data.y != data.y_clean)) == round(noise * n_samples)


@pytest.mark.parametrize("n_features", [2, 3, 4, 9])
def test_rule_is_roughly_balanced_for_any_feature_count(n_features):
    data = generate(1, 20_000, n_features, 0.0)
    assert data.x.shape == (20_000, n_features)
    assert abs(data.y_clean.mean() - 0.5) < 0.02


def test_rule_matches_its_documented_formula():
    x = np.array([[0.0, 0.0], [2.0, 0.0], [-2.0, 1.5], [0.5, -0.2]], dtype=np.float32)
    # v > |u| - 0.7707 with u = x0, v = x1
    assert hidden_rule(x).tolist() == [1, 0, 1, 1]


def test_real_dataset_loads_offline_from_scikit_learn():
    data = load_real("breast_cancer")
    assert data.x.shape == (569, 30) and data.x.dtype == np.float32
    assert set(np.unique(data.y)) == {0, 1} and np.array_equal(data.y, data.y_clean)


def test_rule_plane_gives_the_coordinates_the_rule_reads():
    x = generate(1, 300, 5, 0.0).x.astype(np.float64)
    u, v = (x @ rule_plane(5).T).T
    assert np.allclose(u, x[:, 0::2].sum(axis=1) / np.sqrt(3))
    assert np.allclose(v, x[:, 1::2].sum(axis=1) / np.sqrt(2))
