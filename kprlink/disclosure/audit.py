"""Audit of a suppression pattern by linear programming (HiGHS).

For every suppressed cell, the feasible interval of its value given everything published:
``min`` and ``max`` of the cell over all non-negative inner tables that reproduce each
published cell. Published inner cells are constants; the LP runs only over suppressed
inner cells, split into independent components (suppressed inner cells linked through a
published margin), so a large table with scattered suppressions solves many tiny LPs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import sparse

from kprlink.disclosure._blocks import block_witnesses
from kprlink.disclosure._flow import FlowAudit, flow_audit
from kprlink.disclosure._integer import integer_intervals, integral
from kprlink.disclosure._lp import ComponentLP, UnionFind
from kprlink.disclosure._model import TOTAL, build_model, membership_matrix
from kprlink.disclosure._witness import Witnesses, push
from kprlink.exceptions import DisclosureError, MissingColumnsError

#: Solve network components (:mod:`kprlink.disclosure._flow`) by maximum flow; the tests
#: switch it off to check the LPs give the same intervals.
_USE_FLOW = True


def audit_intervals(
    inner_of_cell: Sequence[np.ndarray],
    values: np.ndarray,
    suppressed: np.ndarray,
    *,
    inner_values: np.ndarray,
    min_width: float = 1.0,
    integer: bool = False,
    exact: bool = True,
    blocks: np.ndarray | None = None,
) -> pd.DataFrame:
    """Feasible interval of every suppressed cell.

    Parameters
    ----------
    inner_of_cell : sequence of numpy.ndarray
        For each cell, the inner cells it sums.
    values : numpy.ndarray
        True value of every cell.
    suppressed : numpy.ndarray of bool
        Suppressed cells.
    inner_values : numpy.ndarray
        True value of every inner cell. An inner cell is a constant when some published
        cell consists of it alone; otherwise it is an LP variable.
    min_width : float
        A suppressed cell is ``ok`` when ``upper - lower >= min_width``.
    integer : bool, default False
        The inner values are whole numbers (counts): intervals are rounded inwards,
        and where the rounded interval is narrow (under ``min_width + 2``) its ends are
        re-solved over the integers (MILP), since integrality can pin a cell the LP
        leaves open (three-way and linked tables are not totally unimodular).
    exact : bool, default True
        Solve both extremes of every cell. With False, only what ``ok`` needs: cells
        that feasible points found on the way (:mod:`kprlink.disclosure._witness`)
        already show to be ``min_width`` wide keep the range those points span, an inner
        bound of their interval (``exact`` False); cells too narrow are solved exactly,
        and while any cell is too narrow over the reals (the pattern fails either way)
        no interval is refined over the integers.
    blocks : numpy.ndarray, optional
        A label per inner cell (the codes of one dimension): with ``exact=False``, large
        components first take witnesses from LPs over blocks of a few labels
        (:mod:`kprlink.disclosure._blocks`).

    Returns
    -------
    pandas.DataFrame
        Indexed by cell position: ``lower``, ``upper``, ``width``, ``ok``, ``exact``.
    """
    values = np.asarray(values, dtype=float)
    inner_values = np.asarray(inner_values, dtype=float)
    n_inner = len(inner_values)
    inner_supp = np.ones(n_inner, dtype=bool)
    for c in np.flatnonzero(~np.asarray(suppressed)):
        if len(inner_of_cell[c]) == 1:
            inner_supp[inner_of_cell[c][0]] = False
    var_of_inner = np.full(n_inner, -1, dtype=np.int64)
    var_of_inner[inner_supp] = np.arange(int(inner_supp.sum()))
    n_var = int(inner_supp.sum())
    uf = UnionFind(n_var)
    constraints: list[tuple[np.ndarray, float]] = []
    for c in np.flatnonzero(~suppressed):
        members = inner_of_cell[c]
        if len(members) == 1:
            continue  # a published inner cell is a constant
        vars_ = var_of_inner[members]
        free = vars_ >= 0
        if not free.any():
            continue
        rhs = values[c] - inner_values[members[~free]].sum()
        v = vars_[free]
        constraints.append((v, float(rhs)))
        for other in v[1:]:
            uf.union(int(v[0]), int(other))
    comp = np.array([uf.find(i) for i in range(n_var)], dtype=np.int64)
    # local variable numbering and constraint matrices per component
    comp_ids, local_comp = np.unique(comp, return_inverse=True)
    local = np.zeros(n_var, dtype=np.int64)
    sizes = np.zeros(len(comp_ids), dtype=np.int64)
    for i, k in enumerate(local_comp):
        local[i] = sizes[k]
        sizes[k] += 1
    by_comp: dict[int, list[tuple[np.ndarray, float]]] = {}
    for v, rhs in constraints:
        by_comp.setdefault(int(local_comp[v[0]]), []).append((local[v], rhs))
    systems: dict[int, tuple[sparse.csr_matrix | None, np.ndarray | None]] = {}
    for k in range(len(comp_ids)):
        cons = by_comp.get(k, [])
        if not cons:
            systems[k] = (None, None)
            continue
        r = np.concatenate([np.full(len(v), j) for j, (v, _) in enumerate(cons)])
        cidx = np.concatenate([v for v, _ in cons])
        a = sparse.csr_matrix((np.ones(len(r)), (r, cidx)), shape=(len(cons), int(sizes[k])))
        systems[k] = (a, np.array([rhs for _, rhs in cons]))

    solvers: dict[int, ComponentLP] = {}
    # network components (two-way tables, one hierarchy) are solved by maximum flow
    parts: dict[int, list[np.ndarray]] = {}
    for c in np.flatnonzero(suppressed):
        v = var_of_inner[inner_of_cell[c]]
        v = v[v >= 0]
        for k in np.unique(local_comp[v]):
            parts.setdefault(int(k), []).append(local[v[local_comp[v] == k]])
    flows: dict[int, FlowAudit | None] = {}

    def extreme(k: int, obj_local: np.ndarray, sense: float,
                weights: np.ndarray | None = None) -> float:
        a, b = systems[k]
        if a is None:  # no published margin constrains these cells
            return 0.0 if sense > 0 else -np.inf
        if k not in solvers:
            solvers[k] = ComponentLP(a, b)
        return solvers[k].minimise(obj_local, sense, weights)

    # Shortcuts that keep the answers exact: the true table and every LP optimum are
    # feasible points, so each variable's observed range is inside its interval; when
    # it reaches a trivial bound (0 below; the smallest right-hand side of a constraint
    # containing it above) that bound is the optimum and no LP is needed.
    true_var = inner_values[np.flatnonzero(inner_supp)]
    obs_lo = true_var.copy()
    obs_hi = true_var.copy()
    hi_triv = np.full(n_var, np.inf)
    for v, rhs in constraints:
        np.minimum.at(hi_triv, v, rhs)
    comp_vars = [np.zeros(int(sz), dtype=np.int64) for sz in sizes]
    for g in range(n_var):
        comp_vars[local_comp[g]][local[g]] = g

    int_lo, int_hi = true_var.copy(), true_var.copy()  # seen at whole-number points

    out_idx = np.flatnonzero(suppressed)
    wit = None if exact else _witnesses(inner_of_cell, out_idx, var_of_inner, inner_values,
                                        true_var, local_comp, systems, min_width, integer)

    def observe(g: np.ndarray, x: np.ndarray) -> None:  # a feasible point, on vars g
        if wit is not None:
            wit.observe_part(g, x)
        np.minimum.at(obs_lo, g, x)
        np.maximum.at(obs_hi, g, x)
        if integral(x):
            np.minimum.at(int_lo, g, x)
            np.maximum.at(int_hi, g, x)

    def solve(k: int, obj_local: np.ndarray, sense: float,
              weights: np.ndarray | None = None) -> float:
        value = extreme(k, obj_local, sense, weights)
        solver = solvers.get(k)
        if solver is not None and solver.x is not None:
            observe(comp_vars[k], solver.x)
        return value

    def whole(k: int) -> bool:  # the last LP of component k ended at a whole-number point
        return k in solvers and integral(solvers[k].x)

    def cell_extreme(k: int, sel: np.ndarray, sense: float) -> tuple[float, bool]:
        """min sense * (the cell's part in component k), and whether it is whole."""
        a, b = systems[k]
        if a is not None and _USE_FLOW and k not in flows:
            flows[k] = flow_audit(a, b, true_var[comp_vars[k]], parts.get(k, []))
        net = flows.get(k)
        q = None if net is None else net.arc(sel)
        if q is not None:
            return net.extreme(q, sense), True  # a network's extremes are whole numbers
        return solve(k, sel, sense), whole(k)

    if wit is not None and blocks is not None:
        block_witnesses(wit, systems, comp_vars, true_var,
                        np.asarray(blocks)[np.flatnonzero(inner_supp)], observe)
    if wit is not None:
        def point(k: int, cost: np.ndarray) -> np.ndarray | None:
            idx = np.flatnonzero(cost)
            solve(k, idx, 1.0, cost[idx])
            return solvers[k].x
        push(wit, [(comp_vars[k], lambda c, k=k: point(k, c))
                   for k in range(len(comp_ids)) if systems[k][0] is not None])
    witnessed = np.zeros(len(out_idx), dtype=bool)

    def settled(pos: int) -> bool:  # the witnesses settle the cell: no more LPs for it
        if wit is not None and wit.settled_one(pos):
            witnessed[pos] = True
        return bool(witnessed[pos])

    lower = np.zeros(len(out_idx))
    upper = np.zeros(len(out_idx))
    single: list[tuple[int, int]] = []
    # both ends reached at whole-number points: the LP interval is the integer interval
    attained = np.ones(len(out_idx), dtype=bool)
    for pos, c in enumerate(out_idx):
        members = inner_of_cell[c]
        vars_ = var_of_inner[members]
        free = vars_ >= 0
        const = float(inner_values[members[~free]].sum())
        v = vars_[free]
        lower[pos] = upper[pos] = const
        if len(v) == 1:
            single.append((pos, int(v[0])))
            continue
        if settled(pos):
            continue
        for k in np.unique(local_comp[v]):
            sel = local[v[local_comp[v] == k]]
            lo, lo_whole = cell_extreme(int(k), sel, 1.0)
            hi, hi_whole = cell_extreme(int(k), sel, -1.0)
            lower[pos] += lo
            upper[pos] -= hi
            attained[pos] &= lo_whole and hi_whole
    for pos, g in single:  # maxima first: they push other cells to 0
        k = int(local_comp[g])
        if settled(pos):
            continue
        if obs_hi[g] >= hi_triv[g] - 1e-9:
            upper[pos] += hi_triv[g]
            attained[pos] &= bool(int_hi[g] >= hi_triv[g] - 1e-9)
        else:
            hi, hi_whole = cell_extreme(k, local[[g]], -1.0)
            upper[pos] -= hi
            attained[pos] &= hi_whole
    for pos, g in single:
        k = int(local_comp[g])
        if settled(pos):
            continue
        if obs_lo[g] > 1e-9:
            lo, lo_whole = cell_extreme(k, local[[g]], 1.0)
            lower[pos] += lo
            attained[pos] &= lo_whole
        else:
            attained[pos] &= bool(int_lo[g] <= 1e-9)
    lower = np.round(lower, 9)
    upper = np.round(upper, 9)
    if wit is not None and witnessed.any():
        lo, hi = wit.interval()
        lower[witnessed], upper[witnessed] = lo[witnessed], hi[witnessed]
        attained[witnessed] = True  # settled by whole-number points, or wide enough
    if integer:
        lower, upper = integer_intervals(out_idx, lower, upper, attained, inner_of_cell,
                                         var_of_inner, inner_values, local_comp, local,
                                         systems, min_width, witnesses=wit)
    width = upper - lower
    return pd.DataFrame(
        {"lower": lower, "upper": upper, "width": width, "ok": width >= min_width - 1e-9,
         "exact": ~witnessed}, index=pd.Index(out_idx, name="cell"),
    )


def _witnesses(inner_of_cell: Sequence[np.ndarray], out_idx: np.ndarray,
               var_of_inner: np.ndarray, inner_values: np.ndarray, true_var: np.ndarray,
               local_comp: np.ndarray,
               systems: Mapping[int, tuple[sparse.csr_matrix | None, np.ndarray | None]],
               min_width: float, integer: bool) -> Witnesses:
    """Witnesses over the LP variables (suppressed inner cells) of the hidden cells."""
    members = [var_of_inner[inner_of_cell[c]] for c in out_idx]
    const = np.array([inner_values[inner_of_cell[c][m < 0]].sum()
                      for c, m in zip(out_idx, members, strict=True)], dtype=float)
    members = [m[m >= 0] for m in members]
    xh = membership_matrix(members, len(true_var))
    wit = Witnesses(xh, true_var, min_width=min_width, integer=integer, offset=const)
    loose = np.array([systems[int(k)][0] is None for k in range(len(systems))], dtype=bool)
    for pos, m in enumerate(members):  # a cell no published margin bounds: [.., inf)
        wit.free[pos] = bool(len(m) and loose[local_comp[m]].any())
    return wit


def audit_table(
    table: pd.DataFrame,
    dims: Sequence[str],
    *,
    count_col: str,
    suppressed_col: str = "suppressed",
    hierarchies: Mapping[str, Mapping[object, object]] | None = None,
    min_width: float = 1.0,
) -> pd.DataFrame:
    """Audit any suppression pattern given as a full table with margins.

    Use it to check a pattern made elsewhere (GaussSuppression, a hand-made table).

    Parameters
    ----------
    table : pandas.DataFrame
        Every cell of the table, margins labelled ``Total`` (and hierarchy codes),
        with true counts and a boolean `suppressed_col`. Not modified.
    dims : sequence of str
    count_col : str
    suppressed_col : str, default "suppressed"
    hierarchies : mapping, optional
    min_width : float, default 1.0

    Returns
    -------
    pandas.DataFrame
        One row per suppressed cell: dims, `count_col`, ``lower``, ``upper``, ``width``,
        ``ok``.

    Raises
    ------
    MissingColumnsError
        If a column is absent.
    DisclosureError
        If a cell of the table is not a sum of its inner cells, or is missing.

    Examples
    --------
    >>> t = pd.DataFrame({"g": ["Total", "a", "b", "c"], "n": [12, 2, 4, 6],
    ...                   "suppressed": [False, True, True, False]})
    >>> audit_table(t, ["g"], count_col="n")[["g", "lower", "upper"]].values.tolist()
    [['a', 0.0, 6.0], ['b', 0.0, 6.0]]
    """
    dims = list(dims)
    need = [*dims, count_col, suppressed_col]
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise MissingColumnsError(f"audit_table() needs column(s) {missing}.", missing=missing)
    hierarchies = dict(hierarchies or {})
    parents = {d: set(map(str, hierarchies.get(d, {}).values())) | {TOTAL} for d in dims}
    text = pd.DataFrame({d: table[d].astype(str) for d in dims})
    is_inner = np.ones(len(table), dtype=bool)
    for d in dims:
        is_inner &= ~text[d].isin(parents[d]).to_numpy()
    inner = text.loc[is_inner].reset_index(drop=True)
    hier_text = {d: {str(k): str(v) for k, v in h.items()} for d, h in hierarchies.items()}
    model = build_model(inner, dims, hierarchies=hier_text, where="audit_table")
    keyed = {tuple(str(model.cells[d].iat[i]) for d in dims): i for i in range(len(model.cells))}
    counts = pd.to_numeric(table[count_col]).to_numpy(dtype=float)
    inner_values = counts[is_inner]
    pos = [keyed.get(tuple(r)) for r in text.itertuples(index=False)]
    problems = [f"cell {tuple(r)} is not a cell of the table"
                for r, p in zip(text.itertuples(index=False), pos) if p is None]
    if problems:
        raise DisclosureError("audit_table(): unknown cells.", problems[:20])
    members = [model.inner_of_cell[p] for p in pos]
    sums = np.array([inner_values[m].sum() for m in members])
    off = np.flatnonzero(np.abs(sums - counts) > 1e-9)
    if len(off):
        raise DisclosureError("audit_table(): margins do not add up.",
                              [f"cell {tuple(text.iloc[i])}: {counts[i]:g} given, "
                               f"{sums[i]:g} from its inner cells" for i in off[:20]])
    supp = table[suppressed_col].astype(bool).to_numpy()
    iv = audit_intervals(members, counts, supp, inner_values=inner_values,
                         min_width=min_width)
    out = table.iloc[iv.index][[*dims, count_col]].reset_index(drop=True)
    return pd.concat([out, iv.reset_index(drop=True)], axis=1)
