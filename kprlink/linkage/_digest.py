"""A short, deterministic digest of the frames a linkage model was fitted on."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd


def frames_digest(*frames: pd.DataFrame) -> str:
    """12 hex characters identifying the rows, columns and values of `frames`.

    Scalar columns are hashed with ``pandas.util.hash_pandas_object`` (stable
    across runs and platforms); columns of arrays (event-day profiles) by
    their concatenated values and lengths. The digest names the data, never
    holds it: nothing of a person can be read back from it.

    Examples
    --------
    >>> a = pd.DataFrame({"x": [1, 2], "d": [np.array([3, 4]), np.array([], np.int64)]})
    >>> frames_digest(a) == frames_digest(a.copy()), frames_digest(a) == frames_digest(a[:1])
    (True, False)
    """
    h = hashlib.sha256()
    for f in frames:
        h.update(f"{len(f)}|{list(map(str, f.columns))}".encode())
        for col in f.columns:
            s = f[col]
            if s.dtype == object and len(s) and isinstance(s.iloc[0], np.ndarray):
                arrays = [np.asarray(a, dtype=np.int64) for a in s]
                h.update(np.array([len(a) for a in arrays], np.int64).tobytes())
                if arrays:
                    h.update(np.concatenate(arrays).tobytes())
            else:
                h.update(pd.util.hash_pandas_object(s.astype("string") if s.dtype == object
                                                    else s, index=False).to_numpy().tobytes())
    return h.hexdigest()[:12]
