"""Exact audit extremes on network components by maximum flow (no LP).

A component of the audit whose published constraints ``A z = b`` (0/1 rows) split into
two laminar families (:func:`laminar_split`: a two-way table with its margins, and a
hierarchy in one dimension) is a network: each family is a forest of nested sets, and a
table ``z >= 0`` that reproduces the published cells is a circulation on

* an arc from the source into each set of family A (from its parent set, if any), and
  from each set of family B to the sink (or its parent set), carrying the set's sum:
  fixed at ``b`` for a published cell, free (``[0, inf)``) for a hidden one;
* an arc per variable, from the smallest A-set holding it to the smallest B-set;
* a free arc from the sink back to the source.

Given the true table as a feasible circulation ``f``, a hidden cell whose variables form
arc ``q = (u, v)`` (a variable, or a hidden set added to either family) reaches
``f_q + maxflow(v -> u)`` at most and ``f_q - min(f_q, maxflow(u -> v))`` at least, both
flows in the residual network without ``q`` (every augmenting path closes a cycle with
``q``). These are the LP extremes exactly: the system is totally unimodular, so they are
also the integer extremes (Ahuja, Magnanti, Orlin, *Network Flows*, 1993, ch. 6 and 9).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components, maximum_flow

#: scipy's maximum flow works in int32: capacities (and the flow) must stay below it.
_INT_MAX = 2**31 - 2


def laminar_split(a: sparse.spmatrix) -> np.ndarray | None:
    """Family (0 or 1) of each row when the 0/1 rows of `a` split into two laminar
    families; None when they do not (or `a` is not 0/1).

    Two rows *cross* when they intersect and neither contains the other; the rows split
    into two laminar families exactly when the crossing graph is bipartite, checked on
    its double cover (a graph is bipartite iff no node shares a component with its twin),
    whose components also give the two colours.
    """
    a = sparse.csr_matrix(a)
    m = a.shape[0]
    if a.nnz == 0:
        return np.zeros(m, dtype=np.int8)
    if not np.all(a.data == 1.0):
        return None
    size = np.diff(a.indptr)
    inter = (a @ a.T).tocoo()
    i, j, k = inter.row, inter.col, inter.data
    cross = (i < j) & (k < np.minimum(size[i], size[j]))
    i, j = i[cross], j[cross]
    rows = np.concatenate([i, i + m])
    cols = np.concatenate([j + m, j])
    cover = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(2 * m, 2 * m))
    _, lab = connected_components(cover, directed=False)
    if np.any(lab[:m] == lab[m:]):
        return None
    return (lab[:m] > lab[m:]).astype(np.int8)


def _deepest(a: sparse.csr_matrix, key: np.ndarray, among: np.ndarray) -> np.ndarray:
    """For each column of `a`, the row of `among` last in the order `key` (the smallest
    set of a laminar family) holding it (-1 if none)."""
    coo = a[among].tocoo()
    out = np.full(a.shape[1], -1, dtype=np.int64)
    if coo.nnz:
        rows = among[coo.row]
        order = np.lexsort((-key[rows], coo.col))
        col, rows = coo.col[order], rows[order]
        first = np.ones(len(col), dtype=bool)
        first[1:] = col[1:] != col[:-1]
        out[col[first]] = rows[first]
    return out


def _parents(a: sparse.csr_matrix, key: np.ndarray, among: np.ndarray) -> np.ndarray:
    """Parent of each row of `among` in its laminar family: the smallest (by `key`) other
    row of the family that contains it (-1 if none)."""
    sub = a[among]
    size = np.diff(sub.indptr)
    inter = (sub @ sub.T).tocoo()
    i, j = inter.row, inter.col
    kin = key[among]
    # j contains i: i lies in j, and j comes before i in the family's order
    keep = (i != j) & (inter.data == size[i]) & (kin[j] < kin[i])
    i, j = i[keep], j[keep]
    out = np.full(len(among), -1, dtype=np.int64)
    if len(i):
        order = np.lexsort((-kin[j], i))  # the last container in the order is the parent
        i, j = i[order], j[order]
        first = np.ones(len(i), dtype=bool)
        first[1:] = i[1:] != i[:-1]
        out[i[first]] = among[j[first]]
    return out


class FlowAudit:
    """Extremes of sums of variables of one network component, by maximum flow.

    Parameters
    ----------
    a : scipy.sparse.csr_matrix
        The component's published constraints ``A z = b`` (0/1 rows).
    x0 : numpy.ndarray
        A feasible whole-number point (the true table).
    split : numpy.ndarray
        Family of each row of `sets` (:func:`laminar_split`).
    sets : scipy.sparse.csr_matrix
        The rows of `a`, then the variable sets of hidden sums (free arcs).
    query_rows : dict
        Row of `sets` of each hidden sum, keyed by its sorted variables' bytes.

    Use :func:`flow_audit`, which returns None where the component is not a network.
    """

    def __init__(self, a: sparse.csr_matrix, x0: np.ndarray, split: np.ndarray,
                 sets: sparse.csr_matrix, query_rows: dict[bytes, int]) -> None:
        m_all, n = sets.shape
        m = a.shape[0]
        size = np.diff(sets.indptr)
        # order of each family: larger sets first, then by row (duplicates nest in order)
        key = np.empty(m_all, dtype=np.float64)
        key[np.lexsort((np.arange(m_all), -size))] = np.arange(m_all)
        fam_a = np.flatnonzero(split == 0)
        fam_b = np.flatnonzero(split == 1)
        par = np.full(m_all, -1, dtype=np.int64)
        par[fam_a] = _parents(sets, key, fam_a)
        par[fam_b] = _parents(sets, key, fam_b)
        node = np.arange(m_all) + 2  # 0: source, 1: sink, 2..: sets; then the super source
        self.n_nodes = m_all + 3
        pnode = np.where(par >= 0, node[np.maximum(par, 0)], -1)
        in_a = split == 0
        row_tail = np.where(in_a, np.where(par >= 0, pnode, 0), node)
        row_head = np.where(in_a, node, np.where(par >= 0, pnode, 1))
        da = _deepest(sets, key, fam_a)
        db = _deepest(sets, key, fam_b)
        var_tail = np.where(da >= 0, node[np.maximum(da, 0)], 0)
        var_head = np.where(db >= 0, node[np.maximum(db, 0)], 1)
        row_flow = sets @ x0
        # arcs: variables, then sets, then sink -> source
        tail = np.concatenate([var_tail, row_tail, [1]])
        head = np.concatenate([var_head, row_head, [0]])
        flow = np.concatenate([x0, row_flow, [x0.sum()]]).astype(np.int64)
        free = np.ones(len(tail), dtype=bool)
        free[n:n + m] = False  # published cells are fixed arcs
        self.var_arc = np.arange(n)
        self.query_arc = {k: n + r for k, r in query_rows.items()}
        self.f = flow
        total = int(flow[free].sum())
        self.inf = total + 1
        self.ok = self.inf < _INT_MAX
        if not self.ok:
            return
        ss = self.n_nodes - 1
        fa = np.flatnonzero(free)
        fb = fa[flow[fa] > 0]
        # residual entries: forward of free arcs (infinite), backward where flow > 0,
        # and a super source linked to every node (capacity set per query)
        codes = np.concatenate([tail[fa] * self.n_nodes + head[fa],
                                head[fb] * self.n_nodes + tail[fb],
                                ss * self.n_nodes + np.arange(self.n_nodes)])
        uniq, inv = np.unique(codes, return_inverse=True)
        n_f, n_b = len(fa), len(fb)
        self.fwd = np.full(len(tail), -1, dtype=np.int64)
        self.bwd = np.full(len(tail), -1, dtype=np.int64)
        self.fwd[fa] = inv[:n_f]
        self.bwd[fb] = inv[n_f:n_f + n_b]
        self.ss_entry = inv[n_f + n_b:]
        self.n_inf = np.bincount(inv[:n_f], minlength=len(uniq))
        self.fin = np.bincount(inv[n_f:n_f + n_b], weights=flow[fb],
                               minlength=len(uniq)).astype(np.int64)
        rows, cols = uniq // self.n_nodes, uniq % self.n_nodes
        indptr = np.searchsorted(rows, np.arange(self.n_nodes + 1)).astype(np.int32)
        self.cap = np.where(self.n_inf > 0, self.inf, self.fin).astype(np.int32)
        self.graph = sparse.csr_array((self.cap.copy(), cols.astype(np.int32), indptr),
                                      shape=(self.n_nodes, self.n_nodes))
        self.tail, self.head = tail, head
        self.ss = ss

    def arc(self, sel: np.ndarray) -> int | None:
        """The arc of the variable set `sel` (local indices), None if not asked for."""
        if len(sel) == 1:
            return int(self.var_arc[sel[0]])
        return self.query_arc.get(np.sort(sel).tobytes())

    def _maxflow(self, q: int, src: int, dst: int) -> int:
        data = self.graph.data
        fe, be = self.fwd[q], self.bwd[q]
        # without q: one infinite forward arc fewer, its flow off the backward capacity
        data[fe] = self.inf if self.n_inf[fe] > 1 else self.fin[fe]
        if be >= 0:
            rest = self.fin[be] - self.f[q]
            data[be] = self.inf if self.n_inf[be] > 0 else rest
        se = self.ss_entry[src]
        data[se] = self.inf
        try:
            value = int(maximum_flow(self.graph, self.ss, dst).flow_value)
        finally:
            data[fe], data[se] = self.cap[fe], 0
            if be >= 0:
                data[be] = self.cap[be]
        return value

    def extreme(self, q: int, sense: float) -> float:
        """``min sense * z_q`` over the component (like :class:`ComponentLP`:
        ``-inf`` when unbounded)."""
        u, v, f = int(self.tail[q]), int(self.head[q]), int(self.f[q])
        if sense > 0:
            return float(f - min(f, self._maxflow(q, u, v))) if f > 0 else 0.0
        up = self._maxflow(q, v, u)
        return -np.inf if up >= self.inf else -float(f + up)


def flow_audit(a: sparse.csr_matrix, b: np.ndarray, x0: np.ndarray,
               queries: Sequence[np.ndarray]) -> FlowAudit | None:
    """A :class:`FlowAudit` of the component, or None when it is not a network (or its
    numbers do not fit scipy's int32 maximum flow).

    `queries` are the variable sets whose extremes will be asked (the hidden cells'
    parts in this component); a set of two or more variables joins a laminar family as
    a free arc, unless the sets cross it (those are left to the LP: :meth:`arc` is None).
    """
    a = sparse.csr_matrix(a)
    n = a.shape[1]
    x0 = np.round(np.asarray(x0, dtype=float))
    if not np.all(np.isfinite(b)) or np.any(np.abs(a @ x0 - b) > 1e-6):
        return None
    multi: dict[bytes, np.ndarray] = {}
    for sel in queries:
        if len(sel) > 1:
            multi.setdefault(np.sort(sel).tobytes(), np.sort(sel))
    keys = list(multi)
    extra = (sparse.csr_matrix((np.ones(sum(len(multi[k]) for k in keys)),
                                (np.repeat(np.arange(len(keys)),
                                           [len(multi[k]) for k in keys]),
                                 np.concatenate([multi[k] for k in keys]))),
                               shape=(len(keys), n)) if keys else None)
    sets = a if extra is None else sparse.vstack([a, extra], format="csr")
    sets = sparse.csr_matrix(sets, dtype=float)
    split = laminar_split(sets)
    if split is None and extra is not None:  # sums that cross: those stay LPs
        sets, keys = a, []
        split = laminar_split(sets)
    if split is None:
        return None
    rows = {k: a.shape[0] + i for i, k in enumerate(keys)}
    fa = FlowAudit(a, x0, split, sets, rows)
    return fa if fa.ok else None
