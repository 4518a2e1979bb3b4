"""Hypothesis properties of suppress_table on random 2- and 3-way tables with margins."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kprlink as kl


@st.composite
def tables(draw):
    n_dims = draw(st.sampled_from([2, 3]))
    sizes = [draw(st.integers(2, 5 if n_dims == 2 else 3)) for _ in range(n_dims)]
    dims = [f"d{i}" for i in range(n_dims)]
    idx = pd.MultiIndex.from_product([[f"c{j}" for j in range(s)] for s in sizes], names=dims)
    small = st.integers(0, 6)
    large = st.integers(7, 60)
    counts = draw(st.lists(st.one_of(small, large), min_size=len(idx), max_size=len(idx)))
    cells = idx.to_frame(index=False).assign(n=counts)
    max_n = draw(st.integers(1, 4))
    protect_zeros = draw(st.booleans())
    hier = None
    if draw(st.booleans()):  # nest the codes of d0 in two groups (a hierarchy level)
        hier = {"d0": {f"c{j}": ("g0" if j < 2 else "g1") for j in range(sizes[0])}}
    return cells, dims, kl.SuppressionRule(max_n=max_n, protect_zeros=protect_zeros), hier


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_suppression_properties(case):
    cells, dims, rule, hier = case
    res = kl.suppress_table(cells, dims, count_col="n", rule=rule, hierarchies=hier)
    table = res.table
    values = table["n"].to_numpy()
    hidden = (table["status"] != "published").to_numpy()
    # 1. no published count in 1..max_n (nor a published zero when zeros are protected)
    shown = values[~hidden]
    assert not ((shown >= 1) & (shown <= rule.max_n)).any()
    if rule.protect_zeros:
        assert not (shown == 0).any()
    # every primary cell is suppressed; released never holds a hidden count
    assert hidden[(table["status"] == "primary").to_numpy()].all()
    assert res.released["n"].isna().to_numpy().tolist() == hidden.tolist()
    # 2. no suppressed cell can be recovered: the audit interval has width >= 1
    assert res.ok
    assert (res.audit["width"] > 0).all()
    assert ((res.audit["lower"] <= res.audit["n"]) & (res.audit["n"] <= res.audit["upper"])).all()
    # 3. totals consistent: each cell equals the sum of the inner cells it covers
    inner = cells.set_index(dims)["n"]
    for _, row in table.sample(min(len(table), 12), random_state=0).iterrows():
        mask = np.ones(len(cells), dtype=bool)
        for d in dims:
            code = cells[d].map((hier or {}).get(d, {})).fillna(cells[d]) if str(
                row[d]).startswith("g") else cells[d]
            if row[d] != "Total":
                mask &= (code == row[d]).to_numpy()
        assert row["n"] == inner.to_numpy()[mask].sum()


def _determined(x_pub: np.ndarray, x_cell: np.ndarray) -> bool:
    """Is x_cell in the row space of x_pub? (independent check by matrix rank)"""
    if len(x_pub) == 0:
        return not x_cell.any()
    r = np.linalg.matrix_rank(x_pub)
    return np.linalg.matrix_rank(np.vstack([x_pub, x_cell])) == r


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_gauss_pattern_by_independent_rank_check(case):
    """Every primary is undetermined; every secondary is needed (linear algebra only)."""
    cells, dims, rule, hier = case
    rule = kl.SuppressionRule(max_n=rule.max_n, protect_zeros=rule.protect_zeros,
                              singletons=False)
    res = kl.suppress_table(cells, dims, count_col="n", rule=rule, hierarchies=hier,
                            audit=False)
    table = res.table
    codes = {d: cells[d].astype(str).to_numpy() for d in dims}
    parent = {d: (hier or {}).get(d, {}) for d in dims}
    x = np.zeros((len(table), len(cells)))
    for c, row in enumerate(table[dims].astype(str).itertuples(index=False)):
        mask = np.ones(len(cells), dtype=bool)
        for d, code in zip(dims, row):
            if code != "Total":
                mapped = np.array([parent[d].get(v, v) if code.startswith("g") else v
                                   for v in codes[d]])
                mask &= mapped == code
        x[c, mask] = 1.0
    status = table["status"].astype(str).to_numpy()
    x_pub = x[status == "published"]
    for p in np.flatnonzero(status == "primary"):
        assert not _determined(x_pub, x[p])
    primaries = np.flatnonzero(status == "primary")
    for s in np.flatnonzero(status == "secondary"):
        more = np.vstack([x_pub, x[s]])
        assert any(_determined(more, x[p]) for p in primaries)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.integers(0, 6), st.integers(7, 40)), min_size=24, max_size=24),
       st.integers(1, 4))
def test_linked_tables_pass_a_joint_release(counts, max_n):
    """Three 2-way views of one 2x3x4 dataset: together, nothing hidden is recoverable."""
    idx = pd.MultiIndex.from_product([list("ab"), list("xyz"), list("pqrs")],
                                     names=["u", "v", "w"])
    base = idx.to_frame(index=False).assign(n=counts)
    specs = [kl.LinkedTable(("u", "v")), kl.LinkedTable(("u", "w")),
             kl.LinkedTable(("v", "w"))]
    results = kl.suppress_linked_tables(base, specs, count_col="n",
                                        rule=kl.SuppressionRule(max_n=max_n))
    session = kl.Release(base, count_col="n")
    for res in results:
        shown = res.table.loc[res.table["status"] == "published", "n"]
        assert not ((shown >= 0) & (shown <= max_n)).any()
        session.add(res)  # raises ReleaseRefusedError if differencing recovers a cell
    # the u margin is in the first two tables: suppressed alike
    a = results[0].table.loc[results[0].table["v"] == "Total"].set_index("u")["status"]
    b = results[1].table.loc[results[1].table["w"] == "Total"].set_index("u")["status"]
    assert a.astype(str).to_dict() == b.astype(str).to_dict()
