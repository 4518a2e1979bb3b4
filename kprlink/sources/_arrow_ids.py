"""Person-id columns of Arrow tables as numpy, and the key file's resolved pairs.

Shared by the imported-folder readers (:mod:`kprlink.sources.lazy`, the
partitioned import) and the cohort builder's fast path.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__: list[str] = []

#: Rows per block: numpy temporaries stay a few MB and are reused by the
#: allocator instead of being mapped (and page-faulted) afresh for every step.
_BLOCK = 1 << 20


def _blocks(col: Any) -> list[np.ndarray]:
    """An Arrow id column as int64 numpy blocks (zero-copy views; -1 where missing)."""
    import pyarrow.compute as pc

    out = []
    for chunk in col.chunks:
        if chunk.null_count:
            chunk = pc.fill_null(chunk, -1)
        a = chunk.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
        out += [a[i:i + _BLOCK] for i in range(0, len(a), _BLOCK)]
    return out


def _ids(col: Any) -> np.ndarray:
    """An Arrow id column as one int64 numpy array (-1 where missing)."""
    return np.concatenate([np.zeros(0, np.int64), *_blocks(col)])


def _member(values: np.ndarray, test: np.ndarray) -> np.ndarray:
    """``np.isin(values, test)`` for int64 ids: a seen-table over the id range when
    it is not far wider than the ids (register serial numbers), else a hash of `test`."""
    if not len(values) or not len(test):
        return np.zeros(len(values), dtype=bool)
    v_lo, v_hi = int(values.min()), int(values.max())
    lo, hi = int(test.min()), int(test.max())
    if lo < v_lo or hi > v_hi:  # a few far-off ids (new pseudonyms) must not widen the table
        test = test[(test >= v_lo) & (test <= v_hi)]
        if not len(test):
            return np.zeros(len(values), dtype=bool)
        lo, hi = int(test.min()), int(test.max())
    # a table of up to 64 MB (pages of zeros: only those touched cost) beats a hash
    if hi - lo <= max(4 * (len(values) + len(test)), 1 << 26):
        table = np.zeros(hi - lo + 1, dtype=bool)
        table[test - lo] = True
        inside = (values >= lo) & (values <= hi)
        out = np.zeros(len(values), dtype=bool)
        out[inside] = table[values[inside] - lo]
        return out
    return np.asarray(pd.Index(pd.unique(test)).get_indexer(values) >= 0)


def _delivery_rank(key: Any) -> np.ndarray:
    """Rank of each key row's delivery name (sorted by name; missing as "")."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if "delivery" not in key.column_names:
        return np.zeros(key.num_rows, dtype=np.int64)
    d = key["delivery"]
    if not pa.types.is_dictionary(d.type):
        d = pc.dictionary_encode(d)
    d = d.unify_dictionaries()
    names = ["" if x is None else x for x in
             (d.chunk(0).dictionary.to_pylist() if d.num_chunks else [])]
    order = sorted(set(names) | {""})
    lut = np.array([order.index(x) for x in names] + [order.index("")], dtype=np.int64)
    parts = [np.zeros(0, np.int64)]
    for chunk in d.chunks:  # a missing name takes the last entry of the table
        parts.append(lut[pc.fill_null(chunk.indices, -1).to_numpy(zero_copy_only=False)])
    return np.concatenate(parts)


def _chosen_pairs(key: Any) -> tuple[np.ndarray, np.ndarray]:
    """Key pairs after conflict resolution, as :func:`link_extracts` resolves them.

    The latest delivery (by name) wins for an ``npr_id`` (of two pairs in one
    delivery, the larger ``kpr_id``); then, of several ``npr_id`` s on one
    ``kpr_id``, the smallest keeps the link. Sorted by ``kpr_id``.
    """
    n, k = _ids(key["npr_id"]), _ids(key["kpr_id"])
    r = _delivery_rank(key)
    ok = (n >= 0) & (k >= 0)
    n, k, r = n[ok], k[ok], r[ok]
    if not len(n):
        return n, k
    if bool(np.all(n[1:] >= n[:-1])) and int(k.max()) < 1 << 32 and int(r.max()) < 1 << 30:
        # key sorted by npr_id (an imported key is): the largest (rank, kpr_id) per
        # npr_id in one pass, no sort
        start = np.flatnonzero(np.r_[True, n[1:] != n[:-1]])
        best = np.maximum.reduceat((r << 32) | k, start)
        n, k = n[start], best & ((1 << 32) - 1)
    else:
        o = np.lexsort((k, r, n))
        n, k = n[o], k[o]
        last = np.r_[n[1:] != n[:-1], True]
        n, k = n[last], k[last]
    o = np.lexsort((n, k))
    n, k = n[o], k[o]
    first = np.r_[True, k[1:] != k[:-1]]
    return n[first], k[first]


