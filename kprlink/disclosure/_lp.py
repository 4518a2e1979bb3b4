"""Warm-started LP solves over one component of an audit's constraint system."""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from kprlink.exceptions import DisclosureError


#: Use scipy's private HiGHS bindings for warm-started re-solves when they load; the
#: tests switch this off to check the public ``linprog`` path gives the same intervals.
_USE_PRIVATE_HIGHS = True


class ComponentLP:
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


class UnionFind:
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


def integral(v: np.ndarray | None) -> bool:
    """The LP solution `v` is a whole-number point (``None``: no solution kept)."""
    return v is not None and bool(np.all(np.abs(v - np.round(v)) < 1e-7))
