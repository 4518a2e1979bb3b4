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
from scipy.optimize import linprog

from kprlink.disclosure._integer import integer_intervals, integral
from kprlink.disclosure._model import TOTAL, build_model
from kprlink.exceptions import DisclosureError, MissingColumnsError


#: Use scipy's private HiGHS bindings for warm-started re-solves when they load; the
#: tests switch this off to check the public ``linprog`` path gives the same intervals.
_USE_PRIVATE_HIGHS = True


class _ComponentLP:
    """min c'z subject to A z = b, z >= 0, re-solved for many objectives.

    Uses the HiGHS instance that ships with scipy, warm-started from the previous basis
    (one model per component); falls back to ``scipy.optimize.linprog(method="highs")``.
    """

    def __init__(self, a: sparse.csr_matrix, b: np.ndarray) -> None:
        self.a = a
        self.b = b
        self.n = a.shape[1]
        self.x: np.ndarray | None = None  # solution of the last solve
        self.prev = np.zeros(0, dtype=np.int32)  # nonzero costs of the last objective
        self.h = None
        if not _USE_PRIVATE_HIGHS:
            return
        try:
            self._setup_highs(a, b)
        except (ImportError, AttributeError, TypeError, ValueError):
            # scipy's bundled HiGHS bindings are private and change between releases:
            # fall back to the public linprog(method="highs"), slower but the same LP
            self.h = None

    def _setup_highs(self, a: sparse.csr_matrix, b: np.ndarray) -> None:
        from scipy.optimize._highspy import _core as hc

        self.hc = hc
        h = hc._Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("presolve", "off")
        h.setOptionValue("simplex_strategy", 4)  # primal: the basis stays feasible
        csc = a.tocsc()
        lp = hc.HighsLp()
        lp.num_col_ = self.n
        lp.num_row_ = a.shape[0]
        lp.col_cost_ = np.zeros(self.n)
        lp.col_lower_ = np.zeros(self.n)
        lp.col_upper_ = np.full(self.n, np.inf)
        lp.row_lower_ = b.astype(float)
        lp.row_upper_ = b.astype(float)
        lp.a_matrix_.format_ = hc.MatrixFormat.kColwise
        lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
        lp.a_matrix_.index_ = csc.indices.astype(np.int32)
        lp.a_matrix_.value_ = csc.data.astype(float)
        h.passModel(lp)
        self.h = h

    def minimise(self, obj_local: np.ndarray, sense: float,
                 weights: np.ndarray | None = None) -> float:
        cvec = np.zeros(self.n)
        np.add.at(cvec, obj_local, sense if weights is None else sense * weights)
        if self.h is None:
            res = linprog(cvec, A_eq=self.a, b_eq=self.b, bounds=(0, None), method="highs")
            self.x = None
            if res.status == 3:
                return -np.inf
            if res.status != 0:
                raise DisclosureError(f"audit LP failed: {res.message}", [str(res.status)])
            self.x = np.asarray(res.x, dtype=float)
            return float(res.fun)
        hc = self.hc
        # change only the costs that differ from the previous objective
        new = np.flatnonzero(cvec).astype(np.int32)
        idx = np.union1d(self.prev, new).astype(np.int32)
        self.h.changeColsCost(len(idx), idx, cvec[idx])
        self.prev = new
        self.h.run()
        status = self.h.getModelStatus()
        if status == hc.HighsModelStatus.kUnbounded:
            self.x = None
            return -np.inf
        if status != hc.HighsModelStatus.kOptimal:  # pragma: no cover - feasible by construction
            raise DisclosureError("audit LP failed: " + self.h.modelStatusToString(status),
                                  [f"component of {self.n} suppressed inner cells"])
        self.x = np.asarray(self.h.getSolution().col_value, dtype=float)
        return float(self.h.getInfo().objective_function_value)


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, a: int) -> int:
        parent = self.parent
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[ra] = rb


def audit_intervals(
    inner_of_cell: Sequence[np.ndarray],
    values: np.ndarray,
    suppressed: np.ndarray,
    *,
    inner_values: np.ndarray,
    min_width: float = 1.0,
    integer: bool = False,
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

    Returns
    -------
    pandas.DataFrame
        Indexed by cell position: ``lower``, ``upper``, ``width``, ``ok``.
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
    uf = _UnionFind(n_var)
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

    solvers: dict[int, _ComponentLP] = {}

    def extreme(k: int, obj_local: np.ndarray, sense: float,
                weights: np.ndarray | None = None) -> float:
        a, b = systems[k]
        if a is None:  # no published margin constrains these cells
            return 0.0 if sense > 0 else -np.inf
        if k not in solvers:
            solvers[k] = _ComponentLP(a, b)
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

    def solve(k: int, obj_local: np.ndarray, sense: float,
              weights: np.ndarray | None = None) -> float:
        value = extreme(k, obj_local, sense, weights)
        solver = solvers.get(k)
        if solver is not None and solver.x is not None:
            g = comp_vars[k]
            np.minimum.at(obs_lo, g, solver.x)
            np.maximum.at(obs_hi, g, solver.x)
            if integral(solver.x):
                np.minimum.at(int_lo, g, solver.x)
                np.maximum.at(int_hi, g, solver.x)
        return value

    def whole(k: int) -> bool:  # the last LP of component k ended at a whole-number point
        return k in solvers and integral(solvers[k].x)

    out_idx = np.flatnonzero(suppressed)
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
        for k in np.unique(local_comp[v]):
            sel = v[local_comp[v] == k]
            lower[pos] += solve(int(k), local[sel], 1.0)
            attained[pos] &= whole(int(k))
            upper[pos] -= solve(int(k), local[sel], -1.0)
            attained[pos] &= whole(int(k))
    for pos, g in single:  # maxima first: they push other cells to 0
        k = int(local_comp[g])
        if obs_hi[g] >= hi_triv[g] - 1e-9:
            upper[pos] += hi_triv[g]
            attained[pos] &= bool(int_hi[g] >= hi_triv[g] - 1e-9)
        else:
            upper[pos] -= solve(k, local[[g]], -1.0)
            attained[pos] &= whole(k)
    for pos, g in single:
        k = int(local_comp[g])
        if obs_lo[g] > 1e-9:
            lower[pos] += solve(k, local[[g]], 1.0)
            attained[pos] &= whole(k)
        else:
            attained[pos] &= bool(int_lo[g] <= 1e-9)
    lower = np.round(lower, 9)
    upper = np.round(upper, 9)
    if integer:
        lower, upper = integer_intervals(out_idx, lower, upper, attained, inner_of_cell,
                                         var_of_inner, inner_values, local_comp, local,
                                         systems, min_width)
    width = upper - lower
    return pd.DataFrame(
        {"lower": lower, "upper": upper, "width": width, "ok": width >= min_width - 1e-9},
        index=pd.Index(out_idx, name="cell"),
    )


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
