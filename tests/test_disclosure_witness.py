"""The audit that stops at witnesses (issue 13, performance) against the exact audit.

``audit_intervals(..., exact=False)`` settles a hidden cell as soon as feasible tables
show its interval at least ``min_width`` wide, and solves only the other cells. It must
decide every cell as the exact audit (both ends of every cell) does, and its intervals
must lie inside the exact ones.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kprlink.disclosure._gauss import gauss_secondary
from kprlink.disclosure._joint_audit import joint_intervals
from kprlink.disclosure._model import membership_matrix
from kprlink.disclosure.audit import audit_intervals
from kprlink.disclosure.secondary import candidate_order


def _table(rng, shape: tuple[int, ...]):
    """Inner cells and every margin of a table of `shape`, with a random pattern."""
    inner = list(itertools.product(*[range(n) for n in shape]))
    idx = {c: k for k, c in enumerate(inner)}
    z = rng.integers(0, 8, size=len(inner)) * (rng.random(len(inner)) < 0.75)
    cells = [np.array([k]) for k in range(len(inner))]
    for keep in itertools.product([True, False], repeat=len(shape)):
        if all(keep):
            continue
        groups: dict[tuple, list[int]] = {}
        for c in inner:
            groups.setdefault(tuple(v for v, k in zip(c, keep) if k), []).append(idx[c])
        cells += [np.array(g) for g in groups.values()]
    values = np.array([z[m].sum() for m in cells], dtype=float)
    # small cells and a few others protected, and GaussSuppression's secondaries
    primary = ((values >= 1) & (values <= 3)) | (rng.random(len(cells)) < 0.05)
    order = candidate_order(values, membership_matrix(cells, len(z)), zeros_first=True)
    hidden = primary | gauss_secondary(cells, len(z), protected=primary, order=order,
                                       virtual=[])
    return cells, values, hidden, z


@pytest.mark.parametrize(("seed", "shape", "width"), [
    (0, (8, 6), 1), (1, (8, 6), 3), (2, (5, 4, 3), 1), (3, (5, 4, 3), 2),
    (4, (12, 4), 1), (5, (4, 4, 4), 1), (6, (8, 6), 8), (7, (5, 4, 3), 6),
])
@pytest.mark.parametrize("integer", [False, True])
def test_witness_audit_decides_as_the_exact_audit(seed, shape, width, integer):
    cells, values, hidden, z = _table(np.random.default_rng(seed), shape)
    kw = dict(inner_values=z, min_width=width, integer=integer)
    exact = audit_intervals(cells, values, hidden, **kw)
    fast = audit_intervals(cells, values, hidden, exact=False, **kw)
    assert exact["exact"].all()
    assert np.array_equal(fast.index, exact.index)
    # the same verdict on the pattern; no cell fails that the exact audit passes (while
    # one fails over the reals, the fast audit refines no other over the integers)
    assert fast["ok"].all() == exact["ok"].all()
    assert not (~fast["ok"] & exact["ok"]).any()
    if fast["ok"].all() or not integer:
        assert (fast["ok"] == exact["ok"]).all()
    tol = 1e-9
    ok = fast["ok"] & exact["ok"]
    assert (fast.loc[ok, "lower"] >= exact.loc[ok, "lower"] - tol).all()
    assert (fast.loc[ok, "upper"] <= exact.loc[ok, "upper"] + tol).all()
    truth = values[fast.index]
    assert ((fast["lower"] <= truth + tol) & (truth <= fast["upper"] + tol)).all()
    # cells solved to the end give the exact interval; the others are wide enough
    same = (fast["exact"] & ok).to_numpy()
    np.testing.assert_allclose(fast.loc[same, ["lower", "upper"]],
                               exact.loc[same, ["lower", "upper"]])
    assert (fast.loc[~fast["exact"], "width"] >= width - tol).all()
    assert (~same).any() or not exact["ok"].any()  # the witnesses settled something


@pytest.mark.parametrize(("seed", "shape", "width"), [
    (10, (8, 6), 1), (11, (5, 4, 3), 1), (12, (6, 5), 3), (13, (4, 4, 3), 6),
])
def test_joint_witness_audit_decides_as_the_exact_audit(seed, shape, width):
    rng = np.random.default_rng(seed)
    cells, values, hidden, z = _table(rng, shape)
    x = membership_matrix(cells, len(z))
    x = x.multiply(rng.integers(1, 3, size=x.shape[1])).tocsr()  # weighted atoms
    # public upper bounds (populations) on some hidden cells
    rows = np.flatnonzero(hidden & (rng.random(len(cells)) < 0.4))
    bounds = (x @ z)[rows] + rng.integers(0, 4, size=len(rows))
    kw = dict(bound_rows=rows, bound_values=bounds, min_width=width)
    exact = joint_intervals(x, z, hidden, **kw)
    fast = joint_intervals(x, z, hidden, exact=False, **kw)
    # the exact path spends its MILP budget on cells already too narrow as well, so
    # it may leave a cell integer-unchecked that the fast path checks (and narrows)
    # (and while a cell fails over the reals, the fast path refines none)
    assert not (~fast["ok"] & exact["ok"] & exact["integer_checked"]).any()
    if fast["ok"].all():
        checked = exact["integer_checked"] | fast["exact"] & ~fast["integer_checked"]
        assert (fast.loc[checked, "ok"] == exact.loc[checked, "ok"]).all()
    ok = fast["ok"] & exact["ok"]
    assert (fast.loc[ok, "lower"] >= exact.loc[ok, "lower"] - 1e-9).all()
    assert (fast.loc[ok, "upper"] <= exact.loc[ok, "upper"] + 1e-9).all()
    same = (ok & fast["exact"]
            & (fast["integer_checked"] == exact["integer_checked"])).to_numpy()
    np.testing.assert_allclose(fast.loc[same, ["lower", "upper"]],
                               exact.loc[same, ["lower", "upper"]])
    assert (~same).any() or not exact["ok"].any()
