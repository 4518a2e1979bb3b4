"""Integer refinement of audit intervals (HiGHS MILP through ``scipy.optimize.milp``).

Counts are whole numbers, so an outsider who knows the published cells can round the
LP interval of a suppressed count inwards, and, where the table is not totally
unimodular (three-way tables, linked tables, hierarchies), integrality can pin a cell
the LP leaves open. :func:`integer_extreme` solves min or max of a sum of variables
over the integer points of ``A z = b, z >= 0``; the audit calls it only for cells whose
rounded LP interval is narrow, where a narrower integer interval would matter.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from kprlink.disclosure._flow import laminar_split
from kprlink.disclosure._lp import integral
from kprlink.disclosure._witness import Witnesses, push_integers

#: Seconds HiGHS may spend on one integer extreme; past it the LP bound is kept (the
#: LP interval contains the integer one, so keeping it never hides a disclosure the
#: rounded LP interval would show).
TIME_LIMIT_S = 10.0
#: Largest system (variables) given to a MILP. Above it HiGHS can spend minutes on a root
#: node without honouring its time limit (the joint audit at scale 0.2: 280 s against
#: 10 s); those cells keep their rounded LP interval, with no clock deciding it.
MAX_VARS = 3000
#: Narrow cells of one table given MILPs, narrowest first (the rest keep the rounded LP
#: interval): a 3-way table has hundreds, each up to two MILPs of TIME_LIMIT_S.
MAX_CELLS = 40
#: Wall-clock budget (seconds) of one table's integer step; past it the LP intervals stay.
BUDGET_S = 30.0
#: The same for the audit that only decides (witnesses, ``exact=False``): it runs once
#: per repair round, and settles most cells by points that move many at once.
DECIDE_BUDGET_S = 10.0
#: Seconds one whole-number point for one cell may take.
POINT_LIMIT_S = 2.0


def round_inwards(lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The integer hull of ``[lower, upper]``: ``ceil(lower)``, ``floor(upper)``."""
    lo = np.where(np.isfinite(lower), np.ceil(np.asarray(lower) - 1e-7), lower)
    hi = np.where(np.isfinite(upper), np.floor(np.asarray(upper) + 1e-7), upper)
    return lo, hi


def two_laminar(a: sparse.spmatrix) -> bool:
    """True when `a` is certainly totally unimodular: its rows are 0/1 sets (unit
    columns such as slacks allowed) that split into two laminar families.

    A family is laminar when any two of its sets are nested or disjoint; the incidence
    matrix of the union of two laminar families is totally unimodular (it is a network
    matrix; Schrijver, *Combinatorial Optimization*, 2003, thm 41.11). Then ``A z = b,
    z >= 0`` with whole-number `b` has whole-number vertices, every LP extreme of a sum
    of variables is already the integer extreme, and no MILP is needed. A two-way table
    with its margins (and a hierarchy in one dimension) is of this kind; three-way
    tables, and linked tables cut differently, are usually not.

    The split itself is :func:`kprlink.disclosure._flow.laminar_split`.
    """
    return laminar_split(a) is not None


def integer_extreme(a: sparse.csr_matrix, b: np.ndarray, obj: np.ndarray, sense: float,
                    *, fallback: float) -> float:
    """``min sense * sum(z[obj])`` over integer ``z >= 0`` with ``A z = b``.

    Returns the optimum (as ``sense * value``, like the LP solver), or `fallback` when
    HiGHS does not prove optimality within :data:`TIME_LIMIT_S`.
    """
    n = a.shape[1]
    c = np.zeros(n)
    np.add.at(c, obj, sense)
    res = milp(c, constraints=LinearConstraint(a, b, b), integrality=np.ones(n),
               bounds=Bounds(0, np.inf),
               options={"time_limit": TIME_LIMIT_S, "disp": False})
    if res.status != 0 or res.fun is None:
        return fallback
    fun = float(res.fun)
    return float(math.floor(fun + 0.5)) if abs(fun - round(fun)) < 1e-6 else fun


class Unimodular:
    """Per-component memo of :func:`two_laminar`; `matrix` gives component ``k``'s
    constraint matrix (None: unconstrained, trivially unimodular)."""

    def __init__(self, matrix: Callable[[int], sparse.spmatrix | None]) -> None:
        self._matrix = matrix
        self._seen: dict[int, bool] = {}

    def __call__(self, k: int) -> bool:
        k = int(k)
        if k not in self._seen:
            a = self._matrix(k)
            self._seen[k] = a is None or two_laminar(a)
        return self._seen[k]


__all__ = ["Unimodular", "integral", "integer_extreme", "integer_intervals", "integer_point",
           "round_inwards", "two_laminar"]


def integer_intervals(out_idx: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                      attained: np.ndarray, inner_of_cell: Sequence[np.ndarray],
                      var_of_inner: np.ndarray, inner_values: np.ndarray,
                      local_comp: np.ndarray, local: np.ndarray,
                      systems: Mapping[int, tuple[sparse.csr_matrix | None, np.ndarray | None]],
                      min_width: float, *, witnesses: Witnesses | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Round LP intervals inwards; re-solve the narrow ones over the integers.

    Components whose constraints are totally unimodular (:func:`two_laminar`: a two-way
    table, or one hierarchy) have integer LP extremes, so their cells need no MILP; nor do
    cells whose LP ends were `attained` at whole-number points. Components of more than
    :data:`MAX_VARS` variables, and narrow cells past the :data:`MAX_CELLS` narrowest,
    keep the rounded LP interval. With `witnesses` (the audit that decides, not the
    exact one), nothing is refined while any cell is too narrow over the reals (the
    pattern fails either way, and is audited again after its repair), and a narrow cell of one component is first settled by a
    whole-number point ``min_width`` away from those seen (:func:`integer_point`).
    """
    lower, upper = round_inwards(lower, upper)
    narrow = np.isfinite(upper) & (upper - lower < min_width + 2 - 1e-9)
    if witnesses is not None:
        fails = upper - lower < min_width - 1e-9
        # a cell too narrow over the reals already fails the pattern: it is repaired and
        # audited again, so the integer step waits for a round without such cells
        narrow &= ~fails & ~fails.any()
    narrow = np.flatnonzero(narrow)
    narrow = narrow[np.argsort(upper[narrow] - lower[narrow], kind="stable")]
    solved = 0
    deadline = time.monotonic() + (BUDGET_S if witnesses is None else DECIDE_BUDGET_S)
    exact = Unimodular(lambda k: systems[k][0])

    if witnesses is not None and len(narrow):
        pending = np.zeros(len(lower), dtype=bool)
        ks: set[int] = set()
        for pos in narrow:
            v = var_of_inner[inner_of_cell[out_idx[pos]]]
            comps = {int(k) for k in np.unique(local_comp[v[v >= 0]])}
            if attained[pos] or all(exact(k) for k in comps) or any(
                    systems[k][0] is not None and systems[k][0].shape[1] > MAX_VARS
                    for k in comps):
                continue
            pending[pos] = True
            ks |= comps
        push_integers(witnesses, pending, lower, upper,
                      [(np.flatnonzero(local_comp == k), *systems[k]) for k in sorted(ks)],
                      deadline=deadline)

    for pos in narrow:
        members = inner_of_cell[out_idx[pos]]
        vars_ = var_of_inner[members]
        v = vars_[vars_ >= 0]
        comps = [int(k) for k in np.unique(local_comp[v])]
        if attained[pos] or all(exact(k) for k in comps):
            continue  # the rounded LP interval is the integer interval
        if any(systems[k][0] is not None and systems[k][0].shape[1] > MAX_VARS
               for k in comps):
            continue  # too large for a MILP in bounded time: the LP interval stays
        if time.monotonic() > deadline:
            break
        const = float(inner_values[members[vars_ < 0]].sum())
        if witnesses is not None and len(comps) == 1 and systems[comps[0]][0] is not None:
            k = comps[0]
            a, b = systems[k]
            found = _settle(witnesses, pos, a, b, local[v], np.flatnonzero(local_comp == k),
                            const, lower[pos], upper[pos], deadline)
            if found is not None:
                lower[pos], upper[pos] = found
                continue
        if solved >= MAX_CELLS:
            break
        solved += 1
        lo = hi = const
        for k in comps:
            a, b = systems[k]
            sel = local[v[local_comp[v] == k]]
            if a is None:  # unconstrained: [0, inf)
                hi = np.inf
                continue
            lo += integer_extreme(a, b, sel, 1.0, fallback=-np.inf)
            hi -= integer_extreme(a, b, sel, -1.0, fallback=-np.inf)
        # the integer optimum lies inside the LP interval; keep the LP end on a timeout
        lower[pos] = max(lower[pos], lo) if np.isfinite(lo) else lower[pos]
        upper[pos] = min(upper[pos], hi) if np.isfinite(hi) else upper[pos]
    return lower, upper


def integer_point(a: sparse.csr_matrix, b: np.ndarray, sel: np.ndarray, lo: float,
                  hi: float, *, time_limit: float = TIME_LIMIT_S
                  ) -> tuple[str, np.ndarray | None]:
    """A whole-number point of ``A z = b, z >= 0`` with ``lo <= sum(z[sel]) <= hi``.

    Returns ``("found", z)``, ``("none", None)`` when HiGHS proves there is none, or
    ``("unknown", None)`` past `time_limit` (a feasibility problem: no objective, so
    HiGHS stops at its first point).
    """
    n = a.shape[1]
    row = np.zeros((1, n))
    np.add.at(row[0], sel, 1.0)
    res = milp(np.zeros(n), integrality=np.ones(n), bounds=Bounds(0, np.inf),
               constraints=[LinearConstraint(a, b, b), LinearConstraint(row, lo, hi)],
               options={"time_limit": max(time_limit, 0.1), "disp": False})
    if res.status == 2:
        return "none", None
    if res.x is None:
        return "unknown", None
    v = np.round(res.x)
    ok = np.abs(a @ v - b).max(initial=0.0) < 1e-6 and lo - 1e-6 <= v[sel].sum() <= hi + 1e-6
    return ("found", v) if ok else ("unknown", None)


def _settle(wit: Witnesses, pos: int, a: sparse.csr_matrix, b: np.ndarray,
            sel: np.ndarray, cols: np.ndarray, const: float, lp_lo: float, lp_hi: float,
            deadline: float) -> tuple[float, float] | None:
    """Settle hidden cell `pos` (one component) by whole-number points, or pin it.

    Looks for a point at least ``min_width`` above the lowest whole-number value seen,
    then below the highest. Returns the cell's interval when that decides it (the range
    of the points, or the true value when no other value is possible and
    ``min_width <= 1``); None when it does not (a timeout, or ``min_width > 1``).
    """
    w = wit.min_width
    proved_none = 0
    for up in (True, False):
        if wit.hi[pos] - wit.lo[pos] >= w - 1e-9:
            break
        lo, hi = (wit.lo[pos] + w, lp_hi) if up else (lp_lo, wit.hi[pos] - w)
        if lo > hi + 1e-9:  # the LP interval already rules it out
            proved_none += 1
            continue
        status, z = integer_point(a, b, sel, lo - const, hi - const,
                                  time_limit=min(POINT_LIMIT_S, deadline - time.monotonic()))
        if status == "found":
            wit.observe_part(cols, z)
        elif status == "none":
            proved_none += 1
        else:
            return None
    if wit.hi[pos] - wit.lo[pos] >= w - 1e-9:
        return float(wit.lo[pos]), float(wit.hi[pos])
    if proved_none == 2 and w <= 1 + 1e-9:
        return float(wit.lo[pos]), float(wit.hi[pos])  # no other whole value: pinned
    return None
