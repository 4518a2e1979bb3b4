"""Sorted distinct values of an array, by sorting (internal).

NumPy 2.4's ``np.unique(a)`` without ``return_*`` takes a hash-table path that
is some 15x slower than sorting for millions of distinct integers (5.3 s
against 0.3 s for 3 million ids); the import and the cohort builder call it on
every chunk of ids, so they use :func:`unique` instead (the same result).
"""

from __future__ import annotations

import numpy as np

__all__ = ["unique"]


def unique(a: np.ndarray) -> np.ndarray:
    """``np.unique(a)`` for a 1-d array without NaN (sorted distinct values).

    >>> unique(np.array([3, 1, 3, 2])).tolist()
    [1, 2, 3]
    """
    s = np.sort(np.asarray(a).ravel())
    if len(s) < 2:
        return s
    keep = np.empty(len(s), dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]
