"""Witness points: feasible tables that prove hidden cells' intervals wide enough.

The audit must know, for each hidden cell, whether its feasible interval is at least the
rule's minimum width. Every table that reproduces the published numbers is a point of
every hidden cell's interval, so two such tables whose values of a cell differ by the
width settle that cell without solving its extremes. The true table is one; the LP
optimum of an objective that pushes every unsettled cell at once (each up or down, with
random weights) is another, and a few of them settle most cells of a large table. Only
the cells no point settles need LPs of their own (:mod:`kprlink.disclosure.audit`,
:mod:`kprlink.disclosure._joint_audit`).

Over the integers a cell is settled by two whole-number points ``w`` apart (a simplex
vertex of a totally unimodular system is one), or, as the exact audit does, by an LP
range that is still ``w + 2`` wide once rounded inwards. A settled cell's reported
interval is the range its witnesses span: its true interval contains it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from kprlink.disclosure._lp import integral

#: Pushes (each one LP per component with unsettled cells) before the per-cell LPs.
MAX_ROUNDS = 12
#: Pushes over the integers (MILPs with a loose gap) before the per-cell ones.
INTEGER_ROUNDS = 40
#: Seconds one integer push may take (past it the push finds nothing).
PUSH_LIMIT_S = 1.0
#: Pushes in a row that settle no new cell before giving up on them.
STALE = 2

#: minimise ``c'v`` over one component's variables; ``None`` when no point is found
Solve = Callable[[np.ndarray], "np.ndarray | None"]


class Witnesses:
    """The range of each hidden cell over the feasible points seen so far.

    Parameters
    ----------
    xh : scipy.sparse.csr_matrix
        (hidden cells x variables) weights of each hidden cell.
    base : numpy.ndarray
        A feasible whole-number point (the true table, with its slacks).
    min_width : float
    integer : bool
        Cells are counts: settle only on whole-number points, or on an LP range ``w + 2``
        wide after rounding inwards.
    offset : numpy.ndarray, optional
        A constant part of each cell (its published inner cells).
    """

    def __init__(self, xh: sparse.csr_matrix, base: np.ndarray, *, min_width: float,
                 integer: bool, offset: np.ndarray | None = None) -> None:
        self.xh = sparse.csr_matrix(xh, dtype=float)
        self.base = np.asarray(base, dtype=float)
        self.offset = np.zeros(self.xh.shape[0]) if offset is None else offset
        self.truth = self.xh @ self.base + self.offset
        self.lo, self.hi = self.truth.copy(), self.truth.copy()  # whole-number points
        self.flo, self.fhi = self.truth.copy(), self.truth.copy()  # any points
        self.min_width = float(min_width)
        self.integer = integer
        self.free = np.zeros(len(self.truth), dtype=bool)  # known unbounded above

    def observe(self, point: np.ndarray, *, whole: bool | None = None) -> None:
        """Take a feasible point (all variables) into every cell's range."""
        v = self.xh @ point + self.offset
        np.minimum(self.flo, v, out=self.flo)
        np.maximum(self.fhi, v, out=self.fhi)
        if integral(point) if whole is None else whole:
            np.minimum(self.lo, v, out=self.lo)
            np.maximum(self.hi, v, out=self.hi)

    def observe_part(self, cols: np.ndarray, values: np.ndarray) -> None:
        """Take the point that differs from the base on `cols` only (one component)."""
        point = self.base.copy()
        point[cols] = values
        self.observe(point)

    def settled(self) -> np.ndarray:
        """Cells whose witnesses already span the minimum width."""
        w = self.min_width - 1e-9
        ok = self.free | (self.hi - self.lo >= w)
        if not self.integer:
            return ok | (self.fhi - self.flo >= w)
        lo, hi = np.ceil(self.flo - 1e-7), np.floor(self.fhi + 1e-7)
        return ok | (hi - lo >= w + 2)

    def settled_one(self, i: int) -> bool:
        """:meth:`settled` for cell `i` alone."""
        w = self.min_width - 1e-9
        if self.free[i] or self.hi[i] - self.lo[i] >= w:
            return True
        if not self.integer:
            return bool(self.fhi[i] - self.flo[i] >= w)
        return bool(np.floor(self.fhi[i] + 1e-7) - np.ceil(self.flo[i] - 1e-7) >= w + 2)

    def by_integers(self) -> np.ndarray:
        """Cells settled by whole-number points (an integer check in its own right)."""
        return self.free | (self.hi - self.lo >= self.min_width - 1e-9)

    def interval(self) -> tuple[np.ndarray, np.ndarray]:
        """The range each cell's witnesses span (rounded inwards over the integers)."""
        if not self.integer:
            lo, hi = self.flo, self.fhi
        else:
            lo, hi = np.ceil(self.flo - 1e-7), np.floor(self.fhi + 1e-7)
            whole = self.hi - self.lo >= self.min_width - 1e-9
            lo, hi = np.where(whole, self.lo, lo), np.where(whole, self.hi, hi)
        return lo + 0.0, np.where(self.free, np.inf, hi) + 0.0  # no -0.0


def push(w: Witnesses, comps: Sequence[tuple[np.ndarray, Solve]], *, seed: int = 7) -> int:
    """Solve LPs that move many unsettled cells at once; returns the number of pushes.

    `comps` are the independent components: the variables of each, and a function that
    minimises a cost vector over them (warm-started). Each push gives every unsettled
    cell a random weight and a direction: up for a cell at 0 or one seen only below its
    true value, down for one seen only above it, and the other way from the last push
    for a cell that has not moved.
    """
    rng = np.random.default_rng(seed)
    n = len(w.truth)
    sign = np.where((w.truth <= 1e-9) | (rng.random(n) < 0.5), -1.0, 1.0)
    stale = 0
    rounds = 0
    left = int((~w.settled()).sum())
    while left and rounds < MAX_ROUNDS and stale < STALE:
        pending = ~w.settled()
        if rounds:
            up = w.fhi > w.truth + 1e-9
            down = w.flo < w.truth - 1e-9
            sign = np.where(up & ~down, 1.0, np.where(down & ~up, -1.0, -sign))
            sign[w.truth <= 1e-9] = -1.0  # a sum of counts at 0 can only go up
        cost = w.xh.T @ (sign * rng.uniform(0.5, 1.5, n) * pending)
        point = w.base.copy()
        whole = True
        for cols, solve in comps:
            ck = cost[cols]
            if not ck.any():
                continue
            xk = solve(ck)
            if xk is None:
                continue
            point[cols] = xk
            whole = whole and integral(xk)
        w.observe(point, whole=whole)
        rounds += 1
        now = int((~w.settled()).sum())
        stale = stale + 1 if now >= left else 0
        left = now
    return rounds


def push_integers(w: Witnesses, pending: np.ndarray, lp_lo: np.ndarray, lp_hi: np.ndarray,
                  comps: Sequence[tuple[np.ndarray, sparse.csr_matrix, np.ndarray]], *,
                  deadline: float, seed: int = 11) -> None:
    """Whole-number points that move many `pending` cells at once (MILPs, loose gap).

    Each push asks every pending cell to go where its LP interval leaves room for a
    whole-number value ``min_width`` away from those seen (up, else down), with random
    weights; HiGHS stops within half of the optimum, which is all a witness needs.
    `comps` are the components (variables, ``A``, ``b``) the pending cells lie in.
    """
    rng = np.random.default_rng(seed)
    stale = 0
    for r in range(INTEGER_ROUNDS):
        left = pending & ~(w.hi - w.lo >= w.min_width - 1e-9)
        if not left.any() or stale >= STALE + 1 or time.monotonic() > deadline:
            return
        up = lp_hi >= w.lo + w.min_width - 1e-9
        pick = left if r < 3 else left & (rng.random(len(left)) < 0.5)  # pushes conflict
        sign = np.where(up, -1.0, 1.0) * rng.uniform(0.5, 1.5, len(left)) * pick
        cost = w.xh.T @ sign
        point = w.base.copy()
        for cols, a, b in comps:
            ck = cost[cols]
            if not ck.any():
                continue
            res = milp(ck, constraints=LinearConstraint(a, b, b), bounds=Bounds(0, np.inf),
                       integrality=np.ones(len(cols)),
                       options={"time_limit": max(0.1, min(PUSH_LIMIT_S,
                                                           deadline - time.monotonic())),
                                "disp": False, "mip_rel_gap": 0.5})
            if res.x is not None:
                v = np.round(res.x)
                if np.abs(a @ v - b).max(initial=0.0) < 1e-6:
                    point[cols] = v
        w.observe(point, whole=True)
        now = left & ~(w.hi - w.lo >= w.min_width - 1e-9)
        stale = stale + 1 if now.sum() >= left.sum() else 0
