"""Audit speed without loss (issue 13, performance): integer refinement only where needed.

A constraint matrix whose rows split into two laminar families is totally unimodular, so
its LP extremes are whole numbers and the MILP refinement can be skipped. These tests
check the certificate on tables of known structure and that skipping it changes no
interval (the MILP path, forced, gives the same answers).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import sparse

from kprlink.disclosure import _integer, audit
from kprlink.disclosure._integer import two_laminar
from kprlink.disclosure._joint_audit import joint_intervals
from kprlink.disclosure.audit import audit_intervals


def _rows(sets: list[list[int]], n: int) -> sparse.csr_matrix:
    r = np.concatenate([[k] * len(s) for k, s in enumerate(sets)])
    c = np.concatenate(sets)
    return sparse.csr_matrix((np.ones(len(r)), (r, c)), shape=(len(sets), n))


def _two_way(n_i: int, n_j: int, groups: list[list[int]] | None = None):
    """Inner cells, then every margin of an n_i x n_j table (row groups optional)."""
    cell = {(i, j): i * n_j + j for i in range(n_i) for j in range(n_j)}
    sets = [[cell[i, j] for j in range(n_j)] for i in range(n_i)]
    sets += [[cell[i, j] for i in range(n_i)] for j in range(n_j)]
    sets.append(list(range(n_i * n_j)))
    for g in groups or []:
        sets.append([cell[i, j] for i in g for j in range(n_j)])
        sets += [[cell[i, j] for i in g] for j in range(n_j)]
    return sets


def test_two_way_tables_with_a_hierarchy_are_unimodular():
    assert two_laminar(_rows(_two_way(5, 4), 20))
    assert two_laminar(_rows(_two_way(6, 3, groups=[[0, 1, 2], [3, 4], [0, 1]]), 18))


def test_three_way_and_weighted_tables_are_not_certified():
    cells = list(itertools.product(range(2), repeat=3))
    idx = {c: k for k, c in enumerate(cells)}
    sets = []
    for a, b in itertools.product(range(2), repeat=2):
        sets += [[idx[a, b, c] for c in range(2)], [idx[a, c, b] for c in range(2)],
                 [idx[c, a, b] for c in range(2)]]
    assert not two_laminar(_rows(sets, 8))
    weighted = _rows(_two_way(3, 3), 9).tolil()
    weighted[0, 0] = 2.0  # a sum of contacts, not of persons
    assert not two_laminar(weighted.tocsr())


def _random_pattern(rng, n_i: int, n_j: int, groups=None):
    sets = _two_way(n_i, n_j, groups)
    n = n_i * n_j
    z = rng.integers(0, 6, size=n) * (rng.random(n) < 0.7)
    inner_of_cell = [np.array([k]) for k in range(n)] + [np.array(s) for s in sets]
    values = np.array([z[m].sum() for m in inner_of_cell], dtype=float)
    # hide the small inner cells, and some margins with them
    hidden = np.zeros(len(inner_of_cell), dtype=bool)
    hidden[:n] = (z > 0) & (z <= 3) | (rng.random(n) < 0.2)
    hidden[n:] = rng.random(len(sets)) < 0.15
    return inner_of_cell, values, hidden, z


@pytest.mark.parametrize("seed", range(6))
def test_skipping_the_milp_on_unimodular_tables_changes_no_interval(seed, monkeypatch):
    rng = np.random.default_rng(seed)
    groups = [[0, 1, 2], [3, 4]] if seed % 2 else None
    inner_of_cell, values, hidden, z = _random_pattern(rng, 6, 5, groups)
    fast = audit_intervals(inner_of_cell, values, hidden, inner_values=z, min_width=3,
                           integer=True)
    calls = []
    real = _integer.integer_extreme

    def counted(*a, **k):
        calls.append(1)
        return real(*a, **k)

    # the forced path: no certificate, no whole-number shortcut, a MILP for every
    # narrow cell
    monkeypatch.setattr(_integer, "integer_extreme", counted)
    monkeypatch.setattr(_integer, "two_laminar", lambda a: False)
    monkeypatch.setattr(audit, "integral", lambda v: False)
    monkeypatch.setattr(audit, "_USE_FLOW", False)  # nor maximum flows
    slow = audit_intervals(inner_of_cell, values, hidden, inner_values=z, min_width=3,
                           integer=True)
    assert np.array_equal(fast.index, slow.index)
    np.testing.assert_allclose(fast[["lower", "upper"]], slow[["lower", "upper"]])
    assert (fast["ok"] == slow["ok"]).all()
    # the forced path did solve MILPs where the certificate saved them
    narrow = (fast["upper"] - fast["lower"] < 3 + 2).sum()
    assert narrow == 0 or calls


def test_joint_audit_trusts_whole_number_lp_ends_and_unimodular_blocks():
    # a 4 x 3 table over atoms (one atom per inner cell): every narrow interval is
    # marked integer-checked without a MILP, and equals the single-table audit's
    rng = np.random.default_rng(3)
    inner_of_cell, values, hidden, z = _random_pattern(rng, 4, 3)
    n = len(z)
    x = sparse.csr_matrix(
        (np.ones(sum(len(m) for m in inner_of_cell)),
         (np.concatenate([[k] * len(m) for k, m in enumerate(inner_of_cell)]),
          np.concatenate(inner_of_cell))), shape=(len(inner_of_cell), n))
    res = joint_intervals(x, z, hidden, min_width=3)
    narrow = res["upper"] - res["lower"] < 5
    assert res.loc[narrow, "integer_checked"].all()
    ref = audit_intervals(inner_of_cell, values, hidden, inner_values=z, min_width=3,
                          integer=True)
    np.testing.assert_allclose(res[["lower", "upper"]].to_numpy(),
                               ref[["lower", "upper"]].to_numpy())
