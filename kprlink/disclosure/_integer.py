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

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse.csgraph import connected_components

#: Seconds HiGHS may spend on one integer extreme; past it the LP bound is kept (the
#: LP interval contains the integer one, so keeping it never hides a disclosure the
#: rounded LP interval would show).
TIME_LIMIT_S = 10.0


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
