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

#: Seconds HiGHS may spend on one integer extreme; past it the LP bound is kept (the
#: LP interval contains the integer one, so keeping it never hides a disclosure the
#: rounded LP interval would show).
TIME_LIMIT_S = 10.0


def round_inwards(lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The integer hull of ``[lower, upper]``: ``ceil(lower)``, ``floor(upper)``."""
    lo = np.where(np.isfinite(lower), np.ceil(np.asarray(lower) - 1e-7), lower)
    hi = np.where(np.isfinite(upper), np.floor(np.asarray(upper) + 1e-7), upper)
    return lo, hi


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
