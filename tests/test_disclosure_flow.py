"""The audit by maximum flow on network tables (issue 13, performance) against the LPs.

A two-way table with its margins (and a hierarchy in one dimension) is a network, so the
audit solves each hidden cell's extremes by maximum flow instead of an LP. The intervals
must be exactly those of the LP audit, on random tables and patterns.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import sparse

from kprlink.disclosure import _flow, audit
from kprlink.disclosure._flow import flow_audit, laminar_split
from kprlink.disclosure._gauss import gauss_secondary
from kprlink.disclosure._model import build_model, membership_matrix
from kprlink.disclosure.audit import audit_intervals
from kprlink.disclosure.secondary import candidate_order


def _table(rng: np.random.Generator, shape: tuple[int, ...], groups: int = 0):
    """Inner cells and every margin of a table, an optional hierarchy over dim 0
    (`groups` groups), and a random pattern (small cells, GaussSuppression's secondaries,
    and a few more hidden at random)."""
    inner = pd.DataFrame(list(itertools.product(*[range(n) for n in shape])),
                         columns=[f"d{k}" for k in range(len(shape))])
    hier = ({"d0": {i: f"g{i % groups}" for i in range(shape[0])}} if groups else None)
    model = build_model(inner, list(inner.columns), hierarchies=hier)
    cells = model.inner_of_cell
    z = rng.integers(0, 8, size=len(inner)) * (rng.random(len(inner)) < 0.75)
    values = np.array([z[m].sum() for m in cells], dtype=float)
    primary = ((values >= 1) & (values <= 3)) | (rng.random(len(cells)) < 0.05)
    order = candidate_order(values, membership_matrix(cells, len(z)), zeros_first=True)
    hidden = primary | gauss_secondary(cells, len(z), protected=primary, order=order)
    hidden |= rng.random(len(cells)) < rng.choice([0.0, 0.1, 0.3])
    return cells, values, hidden, z


def _both(cells, values, hidden, z, **kw):
    """The audit by flows, the audit by LPs only, and the number of flow extremes."""
    calls = {"flow": 0}
    extreme = _flow.FlowAudit.extreme

    def counted(self, q, sense):
        calls["flow"] += 1
        return extreme(self, q, sense)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_flow.FlowAudit, "extreme", counted)
        fast = audit_intervals(cells, values, hidden, inner_values=z, **kw)
        mp.setattr(audit, "_USE_FLOW", False)
        slow = audit_intervals(cells, values, hidden, inner_values=z, **kw)
    return fast, slow, calls["flow"]


@given(seed=st.integers(0, 2**32 - 1), n_i=st.integers(2, 8), n_j=st.integers(2, 6),
       groups=st.sampled_from([0, 0, 2, 3]), integer=st.booleans())
def test_flow_intervals_equal_the_lp_intervals(seed, n_i, n_j, groups, integer):
    rng = np.random.default_rng(seed)
    cells, values, hidden, z = _table(rng, (n_i, n_j), groups=min(groups, n_i))
    fast, slow, _ = _both(cells, values, hidden, z, integer=integer)
    assert np.array_equal(fast.index, slow.index)
    np.testing.assert_array_equal(fast[["lower", "upper"]].to_numpy(),
                                  slow[["lower", "upper"]].to_numpy())
    assert (fast["ok"] == slow["ok"]).all()


@pytest.mark.parametrize("seed", range(6))
def test_two_way_tables_are_solved_by_flows(seed):
    rng = np.random.default_rng(100 + seed)
    cells, values, hidden, z = _table(rng, (7, 5), groups=2 if seed % 2 else 0)
    fast, slow, n_flow = _both(cells, values, hidden, z)
    assert n_flow > 0  # the flow path ran, and gave the LP's answers
    np.testing.assert_array_equal(fast[["lower", "upper"]].to_numpy(),
                                  slow[["lower", "upper"]].to_numpy())


def test_three_way_tables_stay_with_the_lp():
    cells, values, hidden, z = _table(np.random.default_rng(5), (4, 3, 3))
    fast, slow, n_flow = _both(cells, values, hidden, z, integer=True)
    assert n_flow == 0  # not a network: every extreme is an LP
    pd.testing.assert_frame_equal(fast, slow)


def test_the_witness_audit_uses_flows_and_decides_alike():
    cells, values, hidden, z = _table(np.random.default_rng(9), (12, 6))
    fast, slow, _ = _both(cells, values, hidden, z, integer=True, exact=False)
    exact, _, _ = _both(cells, values, hidden, z, integer=True)
    assert (fast["ok"] == slow["ok"]).all() and (fast["ok"] == exact["ok"]).all()
    same = fast["exact"].to_numpy()
    np.testing.assert_array_equal(fast.loc[same, ["lower", "upper"]].to_numpy(),
                                  exact.loc[same, ["lower", "upper"]].to_numpy())
    assert (fast["lower"] >= exact["lower"]).all() and (fast["upper"] <= exact["upper"]).all()


def test_flow_extremes_of_a_small_chain():
    # x0 + x1 = 3 and x1 + x2 = 4 (two crossing sets, one in each family)
    a = sparse.csr_matrix(np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]]))
    b = np.array([3.0, 4.0])
    x0 = np.array([1.0, 2.0, 2.0])
    net = flow_audit(a, b, x0, [np.array([0]), np.array([1]), np.array([2])])
    assert net is not None
    lo, hi = net.extreme(net.arc(np.array([1])), 1.0), -net.extreme(net.arc(np.array([1])),
                                                                      -1.0)
    assert (lo, hi) == (0.0, 3.0)  # x1 <= 3 (row 0); then x0 = 3 - x1, x2 = 4 - x1


def test_laminar_split_colours_rows_and_refuses_crossing_triples():
    rows = sparse.csr_matrix(np.array([[1, 1, 0, 0], [0, 0, 1, 1], [1, 0, 1, 0],
                                       [0, 1, 0, 1], [1, 1, 1, 1]], dtype=float))
    split = laminar_split(rows)
    assert split is not None
    assert split[0] == split[1] and split[2] == split[3] and split[0] != split[2]
    odd = sparse.csr_matrix(np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1]], dtype=float))
    assert laminar_split(odd) is None  # three pairwise crossing sets: an odd cycle
    assert laminar_split(sparse.csr_matrix(np.array([[2.0, 1.0]]))) is None
