"""The imported fast path's same-person id search: its array helpers against plain numpy."""

from __future__ import annotations

import numpy as np
import pytest

from kprlink.cohorts._fast_aliases import _lookup, _several


def _brute(ids: np.ndarray, partners: np.ndarray) -> np.ndarray:
    pairs = np.unique(np.column_stack([ids, partners]), axis=0)
    u, n = np.unique(pairs[:, 0], return_counts=True)
    return u[n > 1]


@pytest.mark.parametrize("n", [0, 1, 50, 200_000])
@pytest.mark.parametrize("ordered", [False, True])
def test_several_partners_as_brute_force(n, ordered):
    rng = np.random.default_rng(n)
    ids = rng.integers(0, max(n // 3, 1), n)
    partners = rng.integers(0, 4, n) * (rng.random(n) < 0.3)  # most ids: one partner
    if ordered:
        o = np.argsort(ids, kind="stable")
        ids, partners = ids[o], partners[o]
    got = _several(ids.astype(np.int64), partners.astype(np.int64))
    want = _brute(ids, partners) if n else np.zeros(0, np.int64)
    np.testing.assert_array_equal(got, want)
    assert len(want) or n < 50  # the case is not empty


@pytest.mark.parametrize("ids", [[], [3, 7, 7, 0], [3, 7, 7, 1], [5, 1 << 40], [-2, 4]])
def test_lookup_is_isin(ids):
    ids = np.array(ids, dtype=np.int64)
    values = np.array([-1, -2, 0, 3, 4, 5, 7, 8, 1 << 40, (1 << 40) + 1], dtype=np.int64)
    np.testing.assert_array_equal(_lookup(np.unique(ids))(values), np.isin(values, ids))
