"""The joint audit: every suppressed cell's interval over the atoms of a whole study.

Variables are the atoms' counts ``z >= 0`` (whole numbers). Every published cell is a
linear equation ``x_c z = y_c`` (the cell's row of the study's model matrix), every
public denominator an upper bound ``x_c z <= population_c`` (a slack variable makes it
an equation). For each suppressed cell the LP gives the smallest and largest value the
published numbers allow; where the interval rounded inwards is narrow, its ends are
re-solved over the integers (MILP), since integrality can pin a cell the LP leaves open.
Nothing here reads the suppression labels: the intervals are what an outsider holding
everything released could compute, except that the outsider also lacks our atoms (an
outsider's feasible set contains ours, so their intervals contain these).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from scipy.optimize import Bounds, LinearConstraint, milp

from kprlink.disclosure._integer import (MAX_VARS, TIME_LIMIT_S, integer_extreme, integral,
                                         Unimodular, round_inwards)
from kprlink.disclosure._lp import ComponentLP
from kprlink.disclosure._witness import Witnesses, push


#: Integer points sought to move many narrow cells at once.
ROUNDS = 16
#: Narrow cells left after them that get their own MILPs (the rest keep the LP interval,
#: flagged ``integer_checked = False`` for the checker).
MAX_SINGLE = 40
#: Wall-clock budget of the whole integer step (seconds); what it leaves unsettled keeps
#: the LP interval (rounded inwards), flagged ``integer_checked = False``.
INTEGER_BUDGET_S = 30.0


def joint_intervals(x: sparse.csr_matrix, z: np.ndarray, hidden: np.ndarray, *,
                    bound_rows: np.ndarray | None = None,
                    bound_values: np.ndarray | None = None,
                    min_width: float = 1.0, integer: bool = True,
                    exact: bool = True) -> pd.DataFrame:
    """Feasible interval of every hidden row of `x` given the others.

    Parameters
    ----------
    x : scipy.sparse.csr_matrix
        (cells x atoms) non-negative integer weights.
    z : numpy.ndarray
        True atom counts (the true table is a feasible point).
    hidden : numpy.ndarray of bool
        Cells not published.
    bound_rows, bound_values : numpy.ndarray, optional
        Cells with a public upper bound (a denominator) and the bound. A bound below
        the true value (the register and the population table disagree) is raised to it.
    min_width : float
        A hidden cell is ``ok`` when ``upper - lower >= min_width``.
    integer : bool
        Round inwards and re-solve narrow intervals over the integers.
    exact : bool, default True
        Solve both ends of every cell. With False, a cell that feasible points found on
        the way show ``min_width`` wide keeps the range they span (an inner bound of
        its interval, ``exact`` False), and while any cell is too narrow over the reals
        (the pattern fails either way) no interval is refined over the integers
        (:mod:`kprlink.disclosure._witness`).

    Returns
    -------
    pandas.DataFrame
        Indexed by cell: ``lower``, ``upper``, ``width``, ``ok``, ``integer_checked``,
        ``exact``.
    """
    x = sparse.csr_matrix(x, dtype=float)
    z = np.asarray(z, dtype=float)
    hidden = np.asarray(hidden, dtype=bool)
    n_atoms = x.shape[1]
    truth = x @ z
    pub = np.flatnonzero(~hidden)
    blocks = [x[pub]]
    rhs = [truth[pub]]
    n_slack = 0
    base = z
    if bound_rows is not None and len(bound_rows):
        rows = np.asarray(bound_rows, dtype=np.int64)
        ub = np.maximum(np.asarray(bound_values, dtype=float), truth[rows])
        keep = hidden[rows]  # a published cell's bound adds nothing
        rows, ub = rows[keep], ub[keep]
        base = np.concatenate([z, ub - truth[rows]])  # the true table and its slacks
        n_slack = len(rows)
        blocks = [sparse.hstack([blocks[0], sparse.csr_matrix((len(pub), n_slack))]),
                  sparse.hstack([x[rows], sparse.identity(n_slack, format="csr")])]
        rhs.append(ub)
    a = sparse.vstack(blocks, format="csr") if n_slack else blocks[0]
    b = np.concatenate(rhs)
    n_var = n_atoms + n_slack
    # components of the constraint graph (variables linked through a row)
    coo = a.tocoo()
    g = sparse.csr_matrix((np.ones(len(coo.row)), (coo.row, coo.col)),
                          shape=(a.shape[0], n_var))
    adj = sparse.bmat([[None, g], [g.T, None]], format="csr") if a.shape[0] else None
    if adj is not None:
        _, lab = connected_components(adj, directed=False)
        var_comp = lab[a.shape[0]:]
        row_comp = lab[:a.shape[0]]
    else:
        var_comp = np.arange(n_var)
        row_comp = np.zeros(0, dtype=np.int64)
    constrained = np.zeros(n_var, dtype=bool)
    constrained[np.unique(coo.col)] = True
    systems: dict[int, tuple[sparse.csr_matrix, np.ndarray, np.ndarray]] = {}
    solvers: dict[int, ComponentLP] = {}

    def system(k: int) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
        if k not in systems:
            vars_k = np.flatnonzero(var_comp == k)
            rows_k = np.flatnonzero(row_comp == k)
            systems[k] = (a[rows_k][:, vars_k], b[rows_k], vars_k)
        return systems[k]

    def extreme(k: int, obj: np.ndarray, sense: float, exact: bool,
                weights: np.ndarray | None = None) -> float:
        ak, bk, vars_k = system(k)
        local = obj if weights is not None else np.searchsorted(vars_k, obj)
        if exact:
            return integer_extreme(ak, bk, local, sense, fallback=-np.inf)
        if k not in solvers:
            solvers[k] = ComponentLP(ak, bk)
        value = solvers[k].minimise(local, sense, weights)
        if wit is not None and solvers[k].x is not None:
            wit.observe_part(vars_k, solvers[k].x)
        return value

    out = np.flatnonzero(hidden)
    lower = np.zeros(len(out))
    upper = np.zeros(len(out))
    objs = []
    # both ends of a cell's LP interval reached at whole-number vertices: the LP interval
    # is the integer interval (an integer point attains each LP bound)
    attained = np.ones(len(out), dtype=bool)
    parts: list[tuple[int, int, np.ndarray]] = []  # (cell, component, its atoms there)
    for pos, c in enumerate(out):
        row = x.getrow(c)
        obj = np.repeat(row.indices, np.rint(row.data).astype(np.int64))
        objs.append(obj)
        if (~constrained[obj]).any():
            upper[pos] = np.inf
        for k in np.unique(var_comp[obj[constrained[obj]]]):
            parts.append((pos, int(k), obj[constrained[obj] & (var_comp[obj] == k)]))
    # Every LP optimum (and the true table) is a feasible point: a part seen at 0 there
    # has minimum 0 and needs no LP of its own. Maxima go first: they push others down.
    floor_any = np.array([z[sel].sum() for _, _, sel in parts])
    floor_int = floor_any.copy()  # seen at whole-number points
    part_rows: dict[int, tuple[np.ndarray, sparse.csr_matrix]] = {}

    def observe(k: int) -> None:
        xk = solvers[k].x
        if xk is None:
            return
        if k not in part_rows:
            idx = np.array([q for q, (_, kk, _) in enumerate(parts) if kk == k])
            vars_k = system(k)[2]
            r = np.concatenate([np.full(len(parts[q][2]), i) for i, q in enumerate(idx)])
            cols = np.searchsorted(vars_k, np.concatenate([parts[q][2] for q in idx]))
            part_rows[k] = (idx, sparse.csr_matrix((np.ones(len(r)), (r, cols)),
                                                   shape=(len(idx), len(vars_k))))
        idx, m = part_rows[k]
        v = m @ xk
        floor_any[idx] = np.minimum(floor_any[idx], v)
        if integral(xk):
            floor_int[idx] = np.minimum(floor_int[idx], v)

    wit = None
    if not exact:
        wit = Witnesses(sparse.hstack([x[out], sparse.csr_matrix((len(out), n_slack))],
                                      format="csr"), base,
                        min_width=min_width, integer=integer)
        wit.free[:] = ~np.isfinite(upper)

        def point(k: int, cost: np.ndarray) -> np.ndarray | None:
            idx = np.flatnonzero(cost)
            extreme(k, idx, 1.0, False, cost[idx])
            return solvers[k].x
        push(wit, [(system(k)[2], lambda c, k=k: point(k, c))
                   for k in sorted({k for _, k, _ in parts})])
    witnessed = np.zeros(len(out), dtype=bool)

    def settled(pos: int) -> bool:
        if wit is not None and not witnessed[pos] and wit.settled_one(pos):
            witnessed[pos] = True
        return bool(witnessed[pos])

    for pos, k, sel in parts:
        if settled(pos):
            continue
        if np.isfinite(upper[pos]):
            upper[pos] -= extreme(k, sel, -1.0, False)
            attained[pos] &= integral(solvers[k].x)
            observe(k)
    for q, (pos, k, sel) in enumerate(parts):
        if settled(pos):
            continue
        if floor_any[q] <= 1e-9:
            attained[pos] &= bool(floor_int[q] <= 1e-9)
            continue
        lower[pos] += extreme(k, sel, 1.0, False)
        attained[pos] &= integral(solvers[k].x)
        observe(k)
    lower, upper = np.round(lower, 9), np.round(upper, 9)
    verified = np.zeros(len(out), dtype=bool)
    if wit is not None and witnessed.any():
        lo, hi = wit.interval()
        lower[witnessed], upper[witnessed] = lo[witnessed], hi[witnessed]
        verified[witnessed] = wit.by_integers()[witnessed]
    if integer:
        lower, upper = round_inwards(lower, upper)
        narrow = np.isfinite(upper) & (upper - lower < min_width + 2 - 1e-9) & ~witnessed
        if not exact:  # a cell too narrow already fails the pattern: refine nothing yet
            fails = upper - lower < min_width - 1e-9
            narrow &= ~fails & ~fails.any()
        narrow = np.flatnonzero(narrow)
        # totally unimodular components have integer LP extremes: nothing to refine
        unimodular = Unimodular(lambda k: system(k)[0])
        exact = np.array([attained[p] or all(unimodular(k)
                                             for k in np.unique(var_comp[objs[p]]))
                          for p in narrow], dtype=bool)
        verified[narrow[exact]] = True
        narrow = narrow[~exact]
        xo = x[out[narrow]] if len(narrow) else None
        t = truth[out[narrow]]
        seen_lo, seen_hi = t.copy(), t.copy()  # the true table is an integer point
        # systems (atoms and slacks) over _integer.MAX_VARS get no MILP: their narrow
        # cells keep the rounded LP interval, flagged integer_checked = False
        deadline = time.monotonic() + (INTEGER_BUDGET_S if n_var <= MAX_VARS
                                       else -np.inf)
        # whole-number points that move many narrow cells at once: each certifies
        # that every cell it moves takes at least two integer values
        rng = np.random.default_rng(7)
        stale = 0
        for r in range(ROUNDS):
            pending = seen_hi - seen_lo < min_width - 1e-9
            if not pending.any() or time.monotonic() > deadline:
                break
            # all pending cells at first; then random halves (pushes can conflict)
            pick = pending if r == 0 else pending & (rng.random(len(pending)) < 0.5)
            toward = np.where(lower[narrow] < t - 0.5, 1.0, -1.0) * pick
            cvec = np.zeros(n_var)
            cvec[:n_atoms] = xo.T @ toward  # minimise: push down where there is room
            zi = _integer_point(a, b, cvec)
            if zi is None:
                break
            v = xo @ zi[:n_atoms]
            moved = (v < seen_lo - 0.5) | (v > seen_hi + 0.5)
            seen_lo, seen_hi = np.minimum(seen_lo, v), np.maximum(seen_hi, v)
            stale = 0 if (moved & pending).any() else stale + 1
            if stale >= 3:
                break
        pending = seen_hi - seen_lo < min_width - 1e-9
        verified[narrow[~pending]] = True
        for q in np.flatnonzero(pending)[:MAX_SINGLE]:
            if time.monotonic() > deadline:
                break
            pos = narrow[q]
            obj = objs[pos]
            lo = hi = 0.0
            for k in np.unique(var_comp[obj]):
                sel = obj[var_comp[obj] == k]
                lo += extreme(int(k), sel, 1.0, True)
                hi -= extreme(int(k), sel, -1.0, True)
            # a MILP that does not finish leaves the (wider) LP interval
            if np.isfinite(lo):
                lower[pos] = max(lower[pos], lo)
            if np.isfinite(hi):
                upper[pos] = min(upper[pos], hi)
            verified[pos] = np.isfinite(lo) and np.isfinite(hi)
    width = upper - lower
    return pd.DataFrame({"lower": lower, "upper": upper, "width": width,
                         "ok": width >= min_width - 1e-9, "integer_checked": verified,
                         "exact": ~witnessed},
                        index=pd.Index(out, name="cell"))


def _integer_point(a: sparse.csr_matrix, b: np.ndarray, c: np.ndarray) -> np.ndarray | None:
    """A whole-number point of ``a v = b, v >= 0`` good for objective `c` (or None)."""
    res = milp(c, constraints=LinearConstraint(a, b, b), integrality=np.ones(a.shape[1]),
               bounds=Bounds(0, np.inf),
               options={"time_limit": TIME_LIMIT_S, "disp": False, "mip_rel_gap": 0.5})
    if res.x is None:
        return None
    v = np.round(res.x)
    return v if np.abs(a @ v - b).max(initial=0.0) < 1e-6 else None
