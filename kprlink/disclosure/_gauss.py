"""Secondary suppression by exact Gaussian elimination (the GaussSuppression method).

Candidates are visited in publishing order (largest first). A candidate is published
unless publishing it would make a protected cell (primary, or a virtual singleton sum)
a linear combination of what is published so far; then it is suppressed (secondary).

The elimination works on the dual: ``W = X' B`` where the columns of ``B`` span the
inner-cell perturbations that leave every published cell unchanged. Row ``q`` of ``W``
is cell ``q``'s functional on that space; a cell is determined by the published cells
exactly when its row is zero, and publishing cell ``c`` makes protected cell ``p``
determined exactly when rows ``c`` and ``p`` are parallel. Publishing ``c`` is a
fraction-free column operation on ``W`` (integers only, so decisions are exact), and
publishing an inner cell touches only the few columns it appears in, so large tables
with many inner cells run in near-linear time.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import gcd

import numpy as np


def _parallel(w: dict[int, int], wp: dict[int, int], j0: int) -> bool:
    if len(w) != len(wp):
        return False
    a0 = w[j0]
    p0 = wp.get(j0, 0)
    if p0 == 0:
        return False
    for j, v in w.items():
        if wp.get(j, 0) * a0 != v * p0:
            return False
    return True


def gauss_secondary(
    inner_of_cell: Sequence[np.ndarray],
    n_inner: int,
    *,
    protected: np.ndarray,
    order: np.ndarray,
    virtual: Sequence[np.ndarray] = (),
    weights: Sequence[np.ndarray] | None = None,
    published: Sequence[int] = (),
) -> np.ndarray:
    """Return a boolean mask of cells suppressed as secondary.

    Parameters
    ----------
    inner_of_cell : sequence of numpy.ndarray
        For each cell, the inner cells (0..n_inner-1) it sums.
    n_inner : int
        Number of inner cells.
    protected : numpy.ndarray of bool
        Primary-suppressed cells.
    order : numpy.ndarray of int
        Candidate cells in publishing order (most wanted first); protected cells are skipped.
    virtual : sequence of numpy.ndarray
        Extra protected sums of inner cells (singleton handling); never published.
    weights : sequence of numpy.ndarray, optional
        Integer multiplicity of each member, aligned with ``inner_of_cell`` then
        `virtual` (default 1): a joint study model counts a person once per inner
        cell of a table, so a margin can hold an atom of persons twice.
    published : sequence of int
        Cells already public (an earlier release): published first, never suppressed.
    """
    n_cells = len(inner_of_cell)
    rows: list[dict[int, int]] = []
    cols: list[dict[int, int]] = [{} for _ in range(n_inner)]
    members_all = list(inner_of_cell) + list(virtual)
    for k, members in enumerate(members_all):
        q = len(rows)
        if weights is None:
            row = dict.fromkeys(members.tolist(), 1)
        else:
            row = {int(i): int(w) for i, w in zip(members.tolist(), weights[k].tolist())
                   if w}
        rows.append(row)
        for i, w in row.items():
            cols[i][q] = w
    is_protected = np.zeros(len(rows), dtype=bool)
    is_protected[:n_cells] = protected
    is_protected[n_cells:] = True
    prot = is_protected.tolist()
    secondary = np.zeros(n_cells, dtype=bool)
    for c in published:
        if rows[c]:
            _publish(rows, cols, int(c))
    done = set(int(c) for c in published)
    for c in order.tolist():
        if prot[c] or c in done:
            continue
        w = rows[c]
        if not w:
            continue  # already determined: publishing adds nothing
        j0 = next(iter(w))
        if any(prot[p] and _parallel(w, rows[p], j0) for p in cols[j0]):
            secondary[c] = True
            continue
        _publish(rows, cols, c)
    return secondary


def _publish(rows: list[dict[int, int]], cols: list[dict[int, int]], c: int) -> None:
    """Restrict the perturbation space to those leaving cell ``c`` unchanged."""
    w = dict(rows[c])
    k = min(w, key=lambda j: len(cols[j]))
    a = w.pop(k)
    colk = cols[k]
    cols[k] = {}
    for q in colk:
        del rows[q][k]
    if a in (1, -1):  # the usual case: no scaling, so loop over the short column outside
        factors = [(cols[j], j, b * a) for j, b in w.items()]
        for q, v in colk.items():
            rowq = rows[q]
            for colj, j, f in factors:
                nv = colj.get(q, 0) - f * v
                if nv:
                    colj[q] = nv
                    rowq[j] = nv
                else:  # f * v != 0, so the entry existed and cancels
                    del colj[q]
                    del rowq[j]
        return
    for j, b in w.items():
        colj = cols[j]
        if a != 1:
            for q in colj:
                colj[q] *= a
                rows[q][j] = colj[q]
        for q, v in colk.items():
            nv = colj.get(q, 0) - b * v
            if nv:
                colj[q] = nv
                rows[q][j] = nv
            elif q in colj:
                del colj[q]
                del rows[q][j]
        if a not in (1, -1) and colj:
            g = 0
            for v in colj.values():
                g = gcd(g, v)
                if g == 1:
                    break
            if g > 1:
                for q in colj:
                    colj[q] //= g
                    rows[q][j] = colj[q]
