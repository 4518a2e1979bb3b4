"""One linear model over common atoms for the released tables of one population.

Part of :mod:`kprlink.disclosure.outsider`. Tables whose grand totals agree are
taken to count the same persons. A dimension of the same name in two of them is
taken to be one variable when what both show of it agrees (one-way margins on
their common coarsening); age bands with different cuts are refined to the
elementary intervals of all cuts. Each table gets one non-negative unknown per
combination of atoms of its dimensions; every released cell (margins labelled
``Total`` included) is the sum of its atoms; tables sharing variables must have
equal margins over those variables (exact for tree-shaped designs, a relaxation,
so never narrower than the truth, otherwise).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from kprlink.disclosure._outsider_read import TOTAL, ReleasedTable, interval_labels

_TOL = 1e-6


def _one_way(t: ReleasedTable, dim: str, values: np.ndarray) -> dict[str, float]:
    others = [d for d in t.dims if d != dim]
    mask = np.ones(len(t.frame), bool)
    for d in others:
        mask &= (t.frame[d] == TOTAL).to_numpy()
    labels = t.frame[dim].to_numpy()
    return {lab: values[i] for i, lab in enumerate(labels) if mask[i] and lab != TOTAL}


def _labels(t: ReleasedTable, dim: str) -> list[str]:
    return [x for x in dict.fromkeys(t.frame[dim]) if x != TOTAL]


def compatible(t: ReleasedTable, u: ReleasedTable, dim: str) -> bool:
    """Whether `dim` may be one variable in `t` and `u`.

    Bands (ages) are one variable unless what both tables show of them disagrees;
    categories only when both show at least one equal non-zero one-way margin and
    none that differs (two indicators of the same residents share a name and labels).
    """
    lt, lu = _labels(t, dim), _labels(u, dim)
    it, iu = interval_labels(lt), interval_labels(lu)
    if (it is None) != (iu is None):
        return False
    mt, mu = _one_way(t, dim, t.n), _one_way(u, dim, u.n)
    if it is None:
        agree = False
        for lab in set(lt) | set(lu):
            a = mt.get(lab, math.nan) if lab in lt else 0.0
            b = mu.get(lab, math.nan) if lab in lu else 0.0
            if not (math.isnan(a) or math.isnan(b)):
                if abs(a - b) > _TOL:
                    return False
                agree = agree or a > 0
        return agree  # categories are one variable only on evidence
    bounds = sorted({e for v in it.values() for e in v} & {e for v in iu.values() for e in v})
    for lo, hi in zip(bounds, bounds[1:]):
        sums = []
        for ivs, m in ((it, mt), (iu, mu)):
            inside = [lab for lab, (a, b) in ivs.items() if a >= lo and b <= hi]
            sums.append(sum(m.get(lab, math.nan) for lab in inside))
        if not any(math.isnan(s) for s in sums) and abs(sums[0] - sums[1]) > _TOL:
            return False
    return True


@dataclass
class _Var:
    """One variable of the model: its atoms and which atoms each label covers."""

    key: str
    atoms: list[str] = field(default_factory=list)
    by_label: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # table -> label


def _make_var(key: str, members: list[tuple[ReleasedTable, str]]) -> _Var:
    var = _Var(key)
    ivs = {t.name: interval_labels(_labels(t, d)) for t, d in members}
    if all(v is not None for v in ivs.values()):
        ends = sorted({e for v in ivs.values() for iv in (v or {}).values() for e in iv})
        spans = [(a, b) for a, b in zip(ends, ends[1:])
                 if any(lo <= a and b <= hi for v in ivs.values()
                        for lo, hi in (v or {}).values())]
        var.atoms = [f"[{a:g},{b:g})" for a, b in spans]
        for t, _d in members:
            var.by_label[t.name] = {lab: [k for k, (a, b) in enumerate(spans)
                                          if lo <= a and b <= hi]
                                    for lab, (lo, hi) in (ivs[t.name] or {}).items()}
    else:
        labels = list(dict.fromkeys(x for t, d in members for x in _labels(t, d)))
        var.atoms = labels
        for t, d in members:
            var.by_label[t.name] = {lab: [labels.index(lab)] for lab in _labels(t, d)}
    return var


@dataclass
class _TableVars:
    table: ReleasedTable
    keys: list[str]  # variable key per dim
    covered: list[list[int]]  # atoms per dim this table covers
    offset: int
    size: int
    rows: list[np.ndarray] = field(default_factory=list)  # model columns of each row


class Model:
    """The linear model of a set of tables of one population."""

    def __init__(self, tables: list[ReleasedTable], values: dict[str, str] | None = None):
        """`values` maps a table name to the column to model (default: the count)."""
        self.tables = tables
        self.values = values or {}
        self.vars: dict[str, _Var] = {}
        groups: dict[str, list[list[tuple[ReleasedTable, str]]]] = {}
        for t in tables:
            for d in t.dims:
                comps = groups.setdefault(d, [])
                for comp in comps:
                    if all(compatible(t, u, d) for u, _ in comp):
                        comp.append((t, d))
                        break
                else:
                    comps.append([(t, d)])
        keyof: dict[tuple[str, str], str] = {}
        for d, comps in groups.items():
            for k, comp in enumerate(comps):
                key = d if k == 0 else f"{d}#{k}"
                self.vars[key] = _make_var(key, comp)
                for t, _ in comp:
                    keyof[(t.name, d)] = key
        self.tv: list[_TableVars] = []
        offset = 0
        for t in tables:
            keys = [keyof[(t.name, d)] for d in t.dims]
            covered = [sorted({a for atoms in self.vars[k].by_label[t.name].values()
                               for a in atoms}) for k in keys]
            size = int(np.prod([len(c) for c in covered])) if covered else 1
            tv = _TableVars(t, keys, covered, offset, size)
            for i in range(len(t.frame)):
                tv.rows.append(self._row_columns(tv, i))
            self.tv.append(tv)
            offset += size
        self.n_cols = offset
        self._eq: list[tuple[np.ndarray, np.ndarray, float]] = []
        self._ub: list[tuple[np.ndarray, np.ndarray, float]] = []
        self.integer = True
        for tv in self.tv:
            vals = self.column(tv.table)
            if np.any(np.abs(vals[~np.isnan(vals)] % 1) > _TOL):
                self.integer = False
            for i, cols in enumerate(tv.rows):
                if not np.isnan(vals[i]):
                    self._eq.append((cols, np.ones(len(cols)), float(vals[i])))
                pop = tv.table.population
                if pop is not None and not np.isnan(pop[i]) and tv.table.name not in self.values:
                    self._ub.append((cols, np.ones(len(cols)), float(pop[i])))
        for a, tv in enumerate(self.tv):
            for tu in self.tv[a + 1:]:
                self._link(tv, tu)

    def column(self, t: ReleasedTable) -> np.ndarray:
        col = self.values.get(t.name)
        return t.n if col is None else t.numbers(col)

    def _row_columns(self, tv: _TableVars, i: int) -> np.ndarray:
        t = tv.table
        if not tv.keys:
            return np.array([tv.offset])
        axes = []
        for d, key, cov in zip(t.dims, tv.keys, tv.covered):
            lab = t.frame.at[i, d]
            if lab == TOTAL:
                axes.append(np.arange(len(cov)))
            else:
                atoms = self.vars[key].by_label[t.name].get(lab, [])
                axes.append(np.array([cov.index(a) for a in atoms], dtype=int))
        shape = tuple(len(c) for c in tv.covered)
        grid = np.meshgrid(*axes, indexing="ij")
        return tv.offset + np.ravel_multi_index([g.ravel() for g in grid], shape)

    def _atoms_on(self, tv: _TableVars, shared: list[str]) -> dict[tuple, list[int]]:
        """Model columns of `tv` grouped by their atoms on the shared variables."""
        shape = tuple(len(c) for c in tv.covered)
        pos = [tv.keys.index(k) for k in shared]
        idx = np.unravel_index(np.arange(tv.size), shape) if shape else ()
        out: dict[tuple, list[int]] = {}
        for j in range(tv.size):
            key = tuple(tv.covered[p][idx[p][j]] for p in pos)
            out.setdefault(key, []).append(tv.offset + j)
        return out

    def _link(self, tv: _TableVars, tu: _TableVars) -> None:
        shared = [k for k in tv.keys if k in tu.keys]
        a, b = self._atoms_on(tv, shared), self._atoms_on(tu, shared)
        for key in a.keys() | b.keys():
            ca, cb = a.get(key, []), b.get(key, [])
            cols = np.array(ca + cb, dtype=int)
            coef = np.concatenate([np.ones(len(ca)), -np.ones(len(cb))])
            self._eq.append((cols, coef, 0.0))

    def add_bounds(self, t: ReleasedTable, i: int, lo: float, hi: float) -> None:
        """Bound row `i` of `t` (known from a share shown beside it)."""
        cols = self.tv[self.tables.index(t)].rows[i]
        ones = np.ones(len(cols))
        if hi < math.inf:
            self._ub.append((cols, ones, hi))
        if lo > 0:
            self._ub.append((cols, -ones, -lo))

    def _matrix(self, rows: list[tuple[np.ndarray, np.ndarray, float]]
                ) -> tuple[sparse.csr_matrix | None, np.ndarray | None]:
        if not rows:
            return None, None
        r = np.concatenate([np.full(len(c), k) for k, (c, _, _) in enumerate(rows)])
        c = np.concatenate([c for c, _, _ in rows])
        v = np.concatenate([v for _, v, _ in rows])
        mat = sparse.csr_matrix((v, (r, c)), shape=(len(rows), self.n_cols))
        return mat, np.array([b for _, _, b in rows])

    def solver(self) -> _Solver:
        return _Solver(self, *self._matrix(self._eq), *self._matrix(self._ub))


class _Solver:
    def __init__(self, model: Model, a_eq: sparse.csr_matrix | None, b_eq: np.ndarray | None,
                 a_ub: sparse.csr_matrix | None, b_ub: np.ndarray | None) -> None:
        self.m, self.a_eq, self.b_eq, self.a_ub, self.b_ub = model, a_eq, b_eq, a_ub, b_ub

    def _lp(self, c: np.ndarray) -> tuple[int, float, bool]:
        """Status, optimum, and whether the optimal vertex found is integral."""
        res = linprog(c, A_ub=self.a_ub, b_ub=self.b_ub, A_eq=self.a_eq, b_eq=self.b_eq,
                      bounds=(0, None), method="highs")
        if res.status != 0:
            return res.status, math.nan, False
        integral = bool(np.all(np.abs(res.x - np.round(res.x)) < 1e-7))
        return res.status, float(res.fun), integral

    def feasible(self) -> bool:
        return self._lp(np.zeros(self.m.n_cols))[0] == 0

    def interval(self, cols: np.ndarray) -> tuple[float, float, bool, bool]:
        """LP interval of the sum of `cols`; whether each end is met by an integer point."""
        c = np.zeros(self.m.n_cols)
        c[cols] = 1.0
        s1, lo, int_lo = self._lp(c)
        s2, hi, int_hi = self._lp(-c)
        return (lo if s1 == 0 else math.nan,
                -hi if s2 == 0 else (math.inf if s2 == 3 else math.nan), int_lo, int_hi)

    def integer_bound(self, cols: np.ndarray, sign: float) -> float:
        """Minimum (sign 1) or maximum (sign -1) of the sum of `cols` over integer atoms."""
        cons = []
        if self.a_eq is not None:
            cons.append(LinearConstraint(self.a_eq, self.b_eq, self.b_eq))
        if self.a_ub is not None:
            cons.append(LinearConstraint(self.a_ub, -np.inf, self.b_ub))
        c = np.zeros(self.m.n_cols)
        c[cols] = sign
        res = milp(c, constraints=cons, integrality=np.ones(self.m.n_cols),
                   bounds=Bounds(0, np.inf), options={"time_limit": 20})
        return sign * res.fun if res.status == 0 else math.nan
