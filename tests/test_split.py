"""The split stage: stratified, seeded, disjoint."""

import numpy as np

from stages.generate import generate
from stages.split import split, split_indices


def test_parts_are_disjoint_and_cover_every_row():
    y = generate(0, 1000, 2, 0.05).y
    train, val = split_indices(y, 0.2, seed=0)
    assert len(np.intersect1d(train, val)) == 0
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(1000))
    assert len(val) == 200


def test_each_class_keeps_its_share():
    y = np.array([0] * 900 + [1] * 100)
    _, val = split_indices(y, 0.2, seed=3)
    assert np.sum(y[val] == 1) == 20 and np.sum(y[val] == 0) == 180


def test_same_seed_same_split_other_seed_other_split():
    y = generate(0, 500, 2, 0.05).y
    assert np.array_equal(split_indices(y, 0.2, 1)[1], split_indices(y, 0.2, 1)[1])
    assert not np.array_equal(split_indices(y, 0.2, 1)[1], split_indices(y, 0.2, 2)[1])


def test_rows_keep_features_and_both_labels_together():
    data = generate(0, 300, 3, 0.1)
    train, val = split(data, 0.2, seed=0)
    rows = {tuple(r) for r in np.column_stack([data.x, data.y, data.y_clean]).tolist()}
    for part in (train, val):
        assert {tuple(r) for r in np.column_stack([part.x, part.y, part.y_clean]).tolist()} <= rows
