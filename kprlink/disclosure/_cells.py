"""Checks and completion of a table's inner cells before suppression."""

from __future__ import annotations

import hashlib

from collections.abc import Sequence

import numpy as np
import pandas as pd

from kprlink.exceptions import DisclosureError, MissingColumnsError, Problem

#: Largest total a table may have: the audit solves in floating point, exact for whole
#: numbers up to 2**53; beyond it intervals (and int64 margins) would be wrong.
MAX_TOTAL = 2**53


def check_counts(cells: pd.DataFrame, dims: Sequence[str], count_col: str,
                  extra: Sequence[str]) -> np.ndarray:
    need = [*dims, count_col, *extra]
    missing = [c for c in dict.fromkeys(need) if c not in cells.columns]
    if missing:
        raise MissingColumnsError(
            f"suppress_table() needs column(s) {missing}; columns are {list(cells.columns)}.",
            missing=missing)
    problems: list[Problem | str] = []
    dup_dims = sorted({d for d in dims if list(dims).count(d) > 1})
    if dup_dims:
        problems.append(f"dims name {dup_dims} more than once; name each dimension once")
    for col in dict.fromkeys([count_col, *extra]):
        if col in dims:
            problems.append(f"{col!r} is both a dimension and a count column; a column "
                            "is either what the table is classified by or what it counts")
    if problems:
        raise DisclosureError("suppress_table(): invalid columns.", problems)
    arrays = []
    for col in [count_col, *extra]:
        raw = cells[col]
        num = pd.to_numeric(raw, errors="coerce")
        bad = num.isna() | (num < 0) | (num.fillna(0) % 1 != 0)
        if bad.any():
            rows = tuple(int(i) + 1 for i in np.flatnonzero(bad.to_numpy())[:5])
            problems.append(Problem("cells", col, "bad_count",
                                    "counts must be whole numbers >= 0", rows, int(bad.sum()),
                                    "Fix or drop these rows."))
        arrays.append(num)
        # summed as Python integers: an int64 sum would wrap silently
        total = sum(int(v) for v in num[~bad].to_numpy(dtype=object))
        if total > MAX_TOTAL:
            problems.append(Problem("cells", col, "overflow",
                                    f"counts sum to {total:,}, above 2**53 "
                                    f"({MAX_TOTAL:,}), where margins and the audit "
                                    "are no longer exact",
                                    tuple(range(1, min(len(num), 5) + 1)), int(len(num)),
                                    "Check the column holds counts; split the table."))
    if problems:
        raise DisclosureError("suppress_table(): invalid counts.", problems)
    return np.asarray(arrays[0], dtype=np.int64)


def complete_cells(cells: pd.DataFrame, dims: Sequence[str], count_col: str,
                   *, denominator_col: str | None = None,
                   primary_col: str | None = None) -> pd.DataFrame:
    """Add every absent combination of the dims' codes with a count of 0.

    A combination with no row is a zero an outsider reads off the margins (a margin
    equal to the sum of the other cells), so it must be a cell of the table and
    protected like any zero. With a denominator the absent rows' denominators are
    unknown, so they must be given.
    """
    dims = list(dims)
    levels = []
    for d in dims:
        col = cells[d]
        if isinstance(col.dtype, pd.CategoricalDtype):
            used = np.unique(col.cat.codes.to_numpy())
            levels.append(list(col.cat.categories[used[used >= 0]]))
        else:
            levels.append(list(pd.unique(col.dropna())))
    full = pd.MultiIndex.from_product(levels, names=dims)
    have = pd.MultiIndex.from_frame(cells[dims].astype("object"))
    absent = full.difference(have.unique(), sort=False)
    if not len(absent):
        return cells
    if denominator_col is not None:
        raise DisclosureError(
            f"suppress_table(): {len(absent)} combination(s) of {dims} have no row, and "
            f"their {denominator_col!r} is unknown.",
            ["give each combination a row (count 0 and its denominator), or pass "
             "absent_cells='structural' if those combinations cannot occur"])
    add = absent.to_frame(index=False)
    add[count_col] = 0
    if primary_col is not None:
        add[primary_col] = False
    for d in dims:
        if isinstance(cells[d].dtype, pd.CategoricalDtype):
            add[d] = pd.Categorical(add[d], categories=cells[d].cat.categories,
                                    ordered=cells[d].cat.ordered)
    keep = [*dims, count_col, *([primary_col] if primary_col else [])]
    return pd.concat([cells[keep], add[keep]], ignore_index=True)


def input_digest(cells: pd.DataFrame, cols: Sequence[str]) -> str:
    """Short SHA-256 of the input cells (order-independent)."""
    h = pd.util.hash_pandas_object(cells[list(cols)].astype("object"), index=False)
    return hashlib.sha256(np.sort(h.to_numpy()).tobytes()).hexdigest()[:16]
