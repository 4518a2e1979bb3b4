"""Compute a row-wise function once per distinct value, then spread it back (internal).

Register columns repeat a few thousand distinct values over millions of rows
(diagnosis codes, municipality numbers, service types, code systems). A pure
row-wise conversion — its result for a row depends only on that row's values —
gives the same frame when it is computed on the distinct values and taken back
to every row, which is what :func:`on_distinct` does. Missing values are one
distinct value of their own, so their handling is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pandas as pd

__all__ = ["distinct_key", "on_distinct"]

#: Below this many rows the conversion runs on the rows directly.
MIN_ROWS = 4096

T = TypeVar("T", pd.Series, pd.DataFrame)


def distinct_key(*columns: pd.Series) -> np.ndarray:
    """Dense int64 codes ``0 … k-1``, equal exactly where every column's value is equal.

    Missing values (None, NaN, <NA>) are equal to each other.

    >>> distinct_key(pd.Series(["a", "b", "a", None]), pd.Series([1, 1, 1, None])).tolist()
    [0, 1, 0, 2]
    """
    key = np.zeros(len(columns[0]) if columns else 0, dtype=np.int64)
    for col in columns:
        codes, uniques = pd.factorize(col, use_na_sentinel=True)
        if int(key.max(initial=0)) * (len(uniques) + 1) > 2**62:  # keep it in int64
            key = pd.factorize(key)[0].astype(np.int64)
        key = key * (len(uniques) + 1) + (codes.astype(np.int64) + 1)
    return pd.factorize(key)[0].astype(np.int64)


def on_distinct(fn: Callable[[np.ndarray], T], key: np.ndarray,
                index: pd.Index) -> T:
    """``fn`` of one row per distinct `key`, spread to every row.

    `key` holds dense codes ``0 … k-1`` (:func:`distinct_key`). `fn` receives
    row positions (one row of each distinct key, or every row when that saves
    little) and returns a Series or DataFrame with one row per position, in
    order; `fn` must be row-wise (a row's result depends on that row alone).
    The result has `index`.

    >>> s = pd.Series([" x", "y", " x", "y"])
    >>> on_distinct(lambda pos: s.iloc[pos].str.strip().reset_index(drop=True),
    ...             distinct_key(s), s.index).tolist()
    ['x', 'y', 'x', 'y']
    """
    n = len(key)
    k = int(key.max(initial=-1)) + 1
    if n < MIN_ROWS or k * 2 > n:
        out = fn(np.arange(n))
    else:
        rep = np.empty(k, dtype=np.int64)
        rep[key] = np.arange(n)  # some row of each key (which one does not matter)
        out = fn(rep).take(key)
    out.index = index
    return out
