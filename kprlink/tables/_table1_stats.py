"""Quantiles and standardised differences for Table 1 (:mod:`kprlink.tables.table1`).

**The quantile rule.** A median or quartile computed on a group's values can be one person's value
(the middle person of an odd group) or the mean of two. A quantile is released
only where

1. the group has at least ``min_persons`` persons with a known value, and
2. values are first rounded to ``precision`` (one year of age, one Charlson
   point), the quantile is taken as an observed rounded value (the inverted
   empirical distribution, no interpolation), and more than ``max_n`` persons
   of the group hold exactly that rounded value.

A released quantile is then a value that more than ``max_n`` persons share:
it singles out nobody. Other quantiles are shown with the suppression symbol.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from kprlink.exceptions import MissingColumnsError, SpecError

__all__ = ["continuous_difference", "release_quantiles", "standardised_difference"]

QUANTILES = (("q1", 0.25), ("median", 0.5), ("q3", 0.75))


def release_quantiles(values: pd.DataFrame, *, value_col: str, group_col: str, max_n: int,
                      min_persons: int = 20, precision: float = 1.0) -> pd.DataFrame:
    """Medians and quartiles per group under the quantile rule (module notes).

    Parameters
    ----------
    values : pandas.DataFrame
        One row per person and group with `value_col` (NaN unknown). Not modified.
    value_col, group_col : str
    max_n : int
        More than `max_n` persons must hold a released quantile's value.
    min_persons : int, default 20
        Fewest persons with a known value for any quantile of the group.
    precision : float, default 1.0
        Values are rounded to multiples of this first.

    Returns
    -------
    pandas.DataFrame
        ``group, q1, median, q3`` (NaN where not released).

    Examples
    --------
    >>> v = pd.DataFrame({"g": ["a"] * 30, "age": [70] * 10 + [80] * 11 + [90] * 9})
    >>> release_quantiles(v, value_col="age", group_col="g", max_n=4).to_numpy().tolist()
    [['a', 70.0, 80.0, 90.0]]
    >>> q = release_quantiles(v.iloc[:8], value_col="age", group_col="g", max_n=4)
    >>> bool(q["median"].isna().all())
    True
    """
    MissingColumnsError.require(values, [value_col, group_col], "release_quantiles")
    if isinstance(min_persons, bool) or not isinstance(min_persons, int) or min_persons < 1:
        raise SpecError("release_quantiles(): min_persons must be an int >= 1.",
                        [f"min_persons={min_persons!r}"])
    if not precision > 0:
        raise SpecError("release_quantiles(): precision must be > 0.",
                        [f"precision={precision!r}"])
    v = pd.to_numeric(values[value_col]).astype(float)
    df = pd.DataFrame({"group": values[group_col].astype("string").to_numpy(),
                       "x": (np.round(v.to_numpy() / precision) * precision)}).dropna()
    ties = df.groupby(["group", "x"]).size().rename("holders")
    size = df.groupby("group").size()
    out = pd.DataFrame({"group": pd.unique(values[group_col].astype("string"))})
    for name, q in QUANTILES:
        got = (df.groupby("group")["x"].quantile(q, interpolation="lower").rename("x")
               if len(df) else pd.Series(dtype=float, name="x"))
        key = pd.MultiIndex.from_arrays([got.index, got.to_numpy()])
        holders = ties.reindex(key).to_numpy() if len(got) else np.zeros(0)
        ok = (holders > max_n) & (size.reindex(got.index).to_numpy() >= min_persons)
        out[name] = out["group"].map(got.where(ok)).astype(float)
    return out


def standardised_difference(share_a: Sequence[float] | np.ndarray,
                            share_b: Sequence[float] | np.ndarray) -> float:
    """Standardised difference of a categorical variable between two groups.

    `share_a`, `share_b` are the proportions (0-1) of each level in the two
    groups (summing to 1). Two levels: the usual difference of proportions over
    the pooled standard deviation; more: the Mahalanobis form of Yang and
    Dalton (2012) over the first K-1 levels. NaN where a share is missing.

    Examples
    --------
    >>> round(standardised_difference([0.5, 0.5], [0.4, 0.6]), 4)
    0.202
    """
    a, b = np.asarray(share_a, float), np.asarray(share_b, float)
    if a.shape != b.shape or len(a) < 2 or np.isnan(a).any() or np.isnan(b).any():
        return float("nan")
    if len(a) == 2:
        den = np.sqrt((a[0] * (1 - a[0]) + b[0] * (1 - b[0])) / 2)
        return float(abs(a[0] - b[0]) / den) if den > 0 else 0.0
    t, c = a[:-1], b[:-1]
    s = (np.diag(t + c) - np.outer(t, t) - np.outer(c, c)) / 2
    d = t - c
    if not d.any():
        return 0.0
    return float(np.sqrt(max(d @ np.linalg.pinv(s) @ d, 0.0)))


def continuous_difference(values: pd.DataFrame, *, value_col: str, group_col: str,
                          groups: Sequence[str], min_persons: int) -> float:
    """(mean a − mean b) / pooled SD, when both groups have `min_persons` known values."""
    x = pd.to_numeric(values[value_col]).astype(float)
    g = values[group_col].astype("string")
    stats = []
    for lab in groups[:2]:
        v = x[(g == lab).to_numpy()].dropna()
        if len(v) < min_persons:
            return float("nan")
        stats.append((v.mean(), v.var(ddof=1)))
    (m1, v1), (m2, v2) = stats
    den = np.sqrt((v1 + v2) / 2)
    return float(abs(m1 - m2) / den) if den > 0 else 0.0
