"""Witnesses from block LPs (issue 13, performance) against the exact audit.

With ``blocks`` (a label per inner cell) the audit that decides (``exact=False``) first
takes feasible tables from LPs over a few labels' cells, the rest held at their true
values. Those are feasible tables of the whole system, so the audit must decide every
cell as the exact audit does, and its intervals must lie inside the exact ones.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from kprlink.disclosure import _blocks, audit
from kprlink.disclosure._gauss import gauss_secondary
from kprlink.disclosure._model import build_model, membership_matrix
from kprlink.disclosure.audit import audit_intervals
from kprlink.disclosure.secondary import candidate_order, suppress_table
from kprlink.disclosure.rules import SuppressionRule


def _table(rng: np.random.Generator, shape: tuple[int, ...]):
    inner = pd.DataFrame(list(itertools.product(*[range(n) for n in shape])),
                         columns=[f"d{k}" for k in range(len(shape))])
    model = build_model(inner, list(inner.columns))
    cells = model.inner_of_cell
    z = rng.integers(0, 8, size=len(inner)) * (rng.random(len(inner)) < 0.75)
    values = np.array([z[m].sum() for m in cells], dtype=float)
    primary = ((values >= 1) & (values <= 3)) | (rng.random(len(cells)) < 0.05)
    order = candidate_order(values, membership_matrix(cells, len(z)), zeros_first=True)
    hidden = primary | gauss_secondary(cells, len(z), protected=primary, order=order)
    return cells, values, hidden, z, inner["d0"].to_numpy()


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of a few variables, so that small tables use them."""
    monkeypatch.setattr(_blocks, "SCALES", (4, 4, 12))
    monkeypatch.setattr(_blocks, "MIN_COMPONENT", 8)
    calls = []
    real = _blocks._block

    def counted(*a, **k):
        n = real(*a, **k)
        calls.append(n)
        return n

    monkeypatch.setattr(_blocks, "_block", counted)
    return calls


@pytest.mark.parametrize(("seed", "shape", "width", "integer"), [
    (0, (12, 5), 1, True), (1, (10, 4, 3), 1, True), (2, (9, 4, 3), 2, False),
    (3, (14, 6), 3, True), (4, (8, 3, 3), 1, False), (5, (12, 4, 2), 1, True),
])
def test_block_witnesses_decide_as_the_exact_audit(small_blocks, seed, shape, width,
                                                   integer):
    cells, values, hidden, z, labels = _table(np.random.default_rng(seed), shape)
    kw = dict(inner_values=z, min_width=width, integer=integer)
    exact = audit_intervals(cells, values, hidden, **kw)
    fast = audit_intervals(cells, values, hidden, exact=False, blocks=labels, **kw)
    assert sum(small_blocks) > 0  # block LPs ran
    assert fast["ok"].all() == exact["ok"].all()
    assert not (~fast["ok"] & exact["ok"]).any()
    if fast["ok"].all() or not integer:
        assert (fast["ok"] == exact["ok"]).all()
    ok = (fast["ok"] & exact["ok"]).to_numpy()
    tol = 1e-9
    assert (fast.loc[ok, "lower"] >= exact.loc[ok, "lower"] - tol).all()
    assert (fast.loc[ok, "upper"] <= exact.loc[ok, "upper"] + tol).all()
    truth = values[fast.index]
    assert ((fast["lower"] <= truth + tol) & (truth <= fast["upper"] + tol)).all()
    same = (fast["exact"] & ok).to_numpy()
    np.testing.assert_allclose(fast.loc[same, ["lower", "upper"]],
                               exact.loc[same, ["lower", "upper"]])


def test_suppress_table_passes_blocks_and_still_audits_ok(small_blocks, monkeypatch):
    rng = np.random.default_rng(7)
    cells = pd.DataFrame(list(itertools.product(range(15), range(4), range(3))),
                         columns=["kommune", "diag", "age"])
    cells["n"] = rng.integers(0, 9, size=len(cells))
    seen = []
    real = audit.audit_intervals

    def spy(*a, **k):
        seen.append(k.get("blocks"))
        return real(*a, **k)

    monkeypatch.setattr("kprlink.disclosure.secondary.audit_intervals", spy)
    res = suppress_table(cells, ["kommune", "diag", "age"], count_col="n",
                         rule=SuppressionRule(max_n=3))
    assert seen and seen[0] is not None and len(np.unique(seen[0])) == 15
    assert res.ok and sum(small_blocks) > 0
