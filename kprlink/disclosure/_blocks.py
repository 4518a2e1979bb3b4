"""Witness points from small LPs over blocks of a large component.

A table that reproduces the published cells need not differ from the true one
everywhere: keep every variable outside a block ``P`` at its true value and any
solution of the restricted system ``A[:, P] z_P = b - A[:, ~P] z0_{~P}, z_P >= 0`` is a
feasible table. Its hidden cells are witnesses (:mod:`kprlink.disclosure._witness`) like
those of an LP over the whole component, at a fraction of the cost: a 200 x 20 x 10
table is one component of some 15,000 hidden inner cells, whose LPs take seconds each,
while a block of a few municipalities (every cell of theirs) solves in milliseconds. The
blocks are groups of codes of one dimension (`blocks_of_var`), at least two codes each:
in a three-way table one municipality alone is pinned by the other two dimensions'
margin. Cells no block point settles are left to the LPs over the whole component.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from scipy import sparse

from kprlink.disclosure._lp import ComponentLP
from kprlink.disclosure._witness import Witnesses

#: Variables per block (about) of each grouping of the codes tried, each a fresh random
#: partition: small blocks first (their LPs take milliseconds), then larger ones for the
#: cells that need room to move. A grouping whose blocks would hold half a component or
#: more is skipped (the LPs over the whole component do that).
SCALES = (300, 300, 1200, 4800)
#: Components smaller than this are left to the LPs over the whole component.
MIN_COMPONENT = 2 * SCALES[0]
#: Wall-clock budget (seconds) of the block witnesses of one audit.
BUDGET_S = 20.0


def _groups(labels: np.ndarray, rng: np.random.Generator,
            target: int) -> list[np.ndarray]:
    """A random partition of the variables by label into blocks of about `target`
    variables and at least two labels."""
    codes, inv, counts = np.unique(labels, return_inverse=True, return_counts=True)
    order = rng.permutation(len(codes))
    group_of_code = np.zeros(len(codes), dtype=np.int64)
    g, size, n_codes = 0, 0, 0
    for c in order:
        if size >= target and n_codes >= 2:
            g, size, n_codes = g + 1, 0, 0
        group_of_code[c] = g
        size += int(counts[c])
        n_codes += 1
    if n_codes < 2 and g > 0:  # a last block of one code joins the one before
        group_of_code[group_of_code == g] = g - 1
    group = group_of_code[inv]
    order = np.argsort(group, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(group[order])) + 1)


def block_witnesses(wit: Witnesses,
                    systems: Mapping[int, tuple[sparse.csr_matrix | None, np.ndarray | None]],
                    comp_vars: Sequence[np.ndarray], true_var: np.ndarray,
                    blocks_of_var: np.ndarray,
                    observe: Callable[[np.ndarray, np.ndarray], None], *,
                    seed: int = 3, budget_s: float = BUDGET_S) -> int:
    """Observe points of block LPs for the unsettled cells of large components.

    In each block: one LP that pushes every unsettled cell touching it (as
    :func:`kprlink.disclosure._witness.push` does over a component), then the smallest
    and largest value of each cell still unsettled, over the block. `observe` takes
    each point as (global variables, values). Returns the number of LPs solved.
    """
    rng = np.random.default_rng(seed)
    deadline = time.monotonic() + budget_s
    xh = sparse.csc_matrix(wit.xh)
    n_lp = 0
    for k, (a, b) in systems.items():
        if a is None or a.shape[1] < MIN_COMPONENT:
            continue
        cols = comp_vars[k]
        x0 = true_var[cols]
        ac = sparse.csc_matrix(a)
        for target in SCALES:
            if 2 * target > len(cols):
                break
            for p in _groups(blocks_of_var[cols], rng, target):
                if time.monotonic() > deadline:
                    return n_lp
                n_lp += _block(wit, ac, b, x0, cols, p, xh, observe, rng)
    return n_lp


def _block(wit: Witnesses, ac: sparse.csc_matrix, b: np.ndarray, x0: np.ndarray,
           cols: np.ndarray, p: np.ndarray, xh: sparse.csc_matrix,
           observe: Callable[[np.ndarray, np.ndarray], None],
           rng: np.random.Generator) -> int:
    gp = cols[p]
    touch = xh[:, gp].tocsr()
    cells = np.flatnonzero(np.diff(touch.indptr))
    pending = cells[~wit.settled()[cells]]
    if not len(pending):
        return 0
    sub = ac[:, p].tocsr()
    rows = np.flatnonzero(np.diff(sub.indptr))
    outside = np.ones(ac.shape[1], dtype=bool)
    outside[p] = False
    rhs = b[rows] - ac[rows][:, outside] @ x0[outside]
    lp = ComponentLP(sub[rows], rhs)
    truth = wit.truth[pending]
    up = wit.fhi[pending] > truth + 1e-9
    down = wit.flo[pending] < truth - 1e-9
    sign = np.where(up & ~down, 1.0, np.where(down & ~up, -1.0,
                                              np.where(rng.random(len(pending)) < 0.5,
                                                       -1.0, 1.0)))
    sign[truth <= 1e-9] = -1.0  # a sum of counts at 0 can only go up
    cost = touch[pending].T @ (sign * rng.uniform(0.5, 1.5, len(pending)))
    idx = np.flatnonzero(cost)
    n = 0
    if len(idx):
        lp.minimise(idx, 1.0, cost[idx])
        n += 1
        if lp.x is not None:
            observe(gp, lp.x)
    for c in pending:
        if wit.settled_one(int(c)):
            continue
        sel = touch.indices[touch.indptr[c]:touch.indptr[c + 1]]
        for sense in (-1.0, 1.0):
            lp.minimise(sel, sense)
            n += 1
            if lp.x is not None:
                observe(gp, lp.x)
            if wit.settled_one(int(c)):
                break
    return n
