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
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse.csgraph import connected_components

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


def round_inwards(lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The integer hull of ``[lower, upper]``: ``ceil(lower)``, ``floor(upper)``."""
    lo = np.where(np.isfinite(lower), np.ceil(np.asarray(lower) - 1e-7), lower)
    hi = np.where(np.isfinite(upper), np.floor(np.asarray(upper) + 1e-7), upper)
    return lo, hi


def integral(v: np.ndarray | None) -> bool:
    """The LP solution `v` is a whole-number point (``None``: no solution kept)."""
    return v is not None and bool(np.all(np.abs(v - np.round(v)) < 1e-7))


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

    Two rows *cross* when they intersect and neither contains the other; the rows split
    into two laminar families exactly when the crossing graph is bipartite, checked on
    its double cover (a graph is bipartite iff no node shares a component with its twin).
    """
    a = sparse.csr_matrix(a)
    if a.nnz == 0:
        return True
    if not np.all(a.data == 1.0):
        return False
    size = np.diff(a.indptr)
    inter = (a @ a.T).tocoo()
    i, j, k = inter.row, inter.col, inter.data
    cross = (i < j) & (k < np.minimum(size[i], size[j]))
    i, j = i[cross], j[cross]
    if not len(i):
        return True
    m = a.shape[0]
    rows = np.concatenate([i, i + m])
    cols = np.concatenate([j + m, j])
    cover = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(2 * m, 2 * m))
    _, lab = connected_components(cover, directed=False)
    return not np.any(lab[:m] == lab[m:])


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


def integer_intervals(out_idx: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                      attained: np.ndarray, inner_of_cell: Sequence[np.ndarray],
                      var_of_inner: np.ndarray, inner_values: np.ndarray,
                      local_comp: np.ndarray, local: np.ndarray,
                      systems: Mapping[int, tuple[sparse.csr_matrix | None, np.ndarray | None]],
                      min_width: float, *, decide_only: bool = False
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Round LP intervals inwards; re-solve the narrow ones over the integers.

    Components whose constraints are totally unimodular (:func:`two_laminar`: a two-way
    table, or one hierarchy) have integer LP extremes, so their cells need no MILP; nor do
    cells whose LP ends were `attained` at whole-number points. Components of more than
    :data:`MAX_VARS` variables, and narrow cells past the :data:`MAX_CELLS` narrowest,
    keep the rounded LP interval. With `decide_only`, cells already too narrow over the
    reals are left alone too (integrality can only narrow them further).
    """
    lower, upper = round_inwards(lower, upper)
    narrow = np.isfinite(upper) & (upper - lower < min_width + 2 - 1e-9)
    if decide_only:
        narrow &= upper - lower >= min_width - 1e-9
    narrow = np.flatnonzero(narrow)
    narrow = narrow[np.argsort(upper[narrow] - lower[narrow], kind="stable")]
    solved = 0
    deadline = time.monotonic() + BUDGET_S
    unimodular: dict[int, bool] = {}

    def exact(k: int) -> bool:
        if k not in unimodular:
            a = systems[k][0]
            unimodular[k] = a is None or two_laminar(a)
        return unimodular[k]

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
        if solved >= MAX_CELLS or time.monotonic() > deadline:
            break
        solved += 1
        const = float(inner_values[members[vars_ < 0]].sum())
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
