"""Unique keys of several integer columns packed into one int64 per row (internal).

Used by the duplicate-id check of a file read in chunks
(:func:`kprlink.sources.validation.check_unique` with ``seen``) and by the
streaming import that decides which files can be read so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__: list[str] = []


#: Key columns after the first are packed in this many values each (positions, slots).
KEY_WIDTH = 1 << 12


def key_limits(n_keys: int) -> list[int]:
    """Upper bound (exclusive) of each key column for packing into one int64."""
    return [1 << (62 - 12 * (n_keys - 1))] + [KEY_WIDTH] * (n_keys - 1)


def packed_keys(df: pd.DataFrame, keys: tuple[str, ...]) -> np.ndarray | None:
    """The key columns as one int64 per row (-1 where incomplete), or None if they
    cannot be packed (not integers, or too large)."""
    cols = []
    for k in keys:
        if k not in df or not pd.api.types.is_integer_dtype(df[k].dtype):
            return None
        arr = pd.array(df[k], dtype="Int64", copy=False)
        cols.append((arr.to_numpy(np.int64, na_value=-1), np.asarray(arr.isna())))
    packed = np.zeros(len(df), dtype=np.int64)
    missing = np.zeros(len(df), dtype=bool)
    for i, ((v, na), limit) in enumerate(zip(cols, key_limits(len(cols)), strict=True)):
        if int(v[~na].min(initial=0)) < 0 or int(v[~na].max(initial=0)) >= limit:
            return None
        packed = packed * (KEY_WIDTH if i else 1) + np.where(na, 0, v)
        missing |= na
    packed[missing] = -1
    return packed
