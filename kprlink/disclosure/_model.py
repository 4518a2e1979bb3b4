"""The model matrix of a table with margins: which inner cells each published cell sums.

A table over dimensions ``d_1 .. d_k`` is described by its inner cells (one row per
combination of leaf codes). Every dimension has the code ``Total`` above its leaves and,
optionally, a hierarchy of aggregate codes in between (municipality within county; single
ages within bands). The cells of the full table are all combinations of codes (leaf,
aggregate or ``Total``) that contain at least one inner cell; cell ``c`` is the sum of the
inner cells it contains, so the table is ``y = X' z`` with ``X`` the (inner x cells) 0/1
model matrix of Langsrud (2024).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from kprlink.exceptions import DisclosureError, MissingColumnsError, Problem

TOTAL = "Total"


@dataclass(frozen=True)
class TableModel:
    """Cells of a full table and their inner-cell membership.

    Attributes
    ----------
    cells : pandas.DataFrame
        One row per cell of the full table (dims, ``is_inner``), in display order.
    inner_of_cell : list of numpy.ndarray
        For each cell, the positions (0..n_inner-1) of the inner cells it sums.
    inner_cell : numpy.ndarray
        For each inner cell, its row position in ``cells``.
    """

    cells: pd.DataFrame
    inner_of_cell: list[np.ndarray]
    inner_cell: np.ndarray

    @property
    def n_inner(self) -> int:
        return len(self.inner_cell)


def _ancestors(code: object, parent: Mapping[object, object]) -> list[object]:
    out = [code]
    seen = {code}
    while code in parent:
        code = parent[code]
        if code in seen:
            raise DisclosureError(f"hierarchy has a cycle through {code!r}.")
        seen.add(code)
        out.append(code)
    return out


def _dim_codes(
    leaves: pd.Series, dim: str, parent: Mapping[object, object] | None
) -> tuple[list[object], dict[object, list[object]]]:
    """Display order of a dimension's codes and each leaf's containing codes."""
    if isinstance(leaves.dtype, pd.CategoricalDtype):
        used = np.unique(leaves.cat.codes.to_numpy())
        leaf_order = list(leaves.cat.categories[used[used >= 0]])
    else:
        leaf_order = list(pd.unique(leaves.dropna()))
        try:
            leaf_order = sorted(leaf_order)
        except TypeError:
            pass
    parent = dict(parent or {})
    contains: dict[object, list[object]] = {}
    for leaf in leaf_order:
        contains[leaf] = [*_ancestors(leaf, parent), TOTAL]
    # display order: Total, then depth-first from the top, children in leaf order
    children: dict[object, list[object]] = {}
    for leaf in leaf_order:
        chain = contains[leaf][::-1]  # Total, top, ..., leaf
        for up, down in zip(chain[:-1], chain[1:]):
            kids = children.setdefault(up, [])
            if down not in kids:
                kids.append(down)
    order: list[object] = []

    def visit(node: object) -> None:
        order.append(node)
        for kid in children.get(node, []):
            visit(kid)

    visit(TOTAL)
    return order, contains


def build_model(
    inner: pd.DataFrame,
    dims: Sequence[str],
    *,
    hierarchies: Mapping[str, Mapping[object, object]] | None = None,
    where: str = "cells",
    allow_duplicates: bool = False,
) -> TableModel:
    """Build the full table (all margins) over the inner cells of `inner`.

    Parameters
    ----------
    inner : pandas.DataFrame
        One row per inner cell; the `dims` columns hold leaf codes.
    dims : sequence of str
        Dimension columns.
    hierarchies : mapping, optional
        ``{dim: {child: parent}}``; codes with no parent sit directly under ``Total``.
    where : str
        Name used in error messages.
    allow_duplicates : bool
        Let several rows share one combination (the rows are then finer cells of a base
        that the table aggregates; ``inner_cell`` is -1 for them).
    """
    dims = list(dims)
    missing = [d for d in dims if d not in inner.columns]
    if missing:
        raise MissingColumnsError(
            f"{where} lacks dimension column(s) {missing}; columns are {list(inner.columns)}.",
            missing=missing,
        )
    problems: list[Problem | str] = []
    if not dims:
        problems.append("dims is empty: give at least one dimension column.")
    for d in dims:
        n_na = int(inner[d].isna().sum())
        if n_na:
            rows = tuple(int(i) + 1 for i in np.flatnonzero(inner[d].isna().to_numpy())[:5])
            problems.append(Problem(where, d, "missing_code", "dimension code is missing",
                                    rows, n_na, "Fill or drop these rows before tabulating."))
        # "total", " Total", "TOTAL" would sit beside the margin and read as it
        text = inner[d].dropna().astype(str).str.strip().str.casefold()
        clash = (text == TOTAL.casefold()).to_numpy()
        if clash.any():
            rows = tuple(int(i) + 1 for i in np.flatnonzero(clash)[:5])
            problems.append(Problem(where, d, "reserved_label",
                                    f"a code reads as the margin label {TOTAL!r}",
                                    rows, int(clash.sum()), "Rename that category."))
    if dims and not problems and not allow_duplicates:
        dup = inner.duplicated(subset=dims, keep=False).to_numpy()
        if dup.any():
            rows = tuple(int(i) + 1 for i in np.flatnonzero(dup)[:5])
            problems.append(Problem(where, ",".join(dims), "duplicate_cell",
                                    "several rows for one combination of dims",
                                    rows, int(dup.sum()),
                                    "Give one row per inner cell (sum them first)."))
    if problems:
        raise DisclosureError(f"{where}: cannot build the table.", problems)
    hierarchies = dict(hierarchies or {})
    unknown = [d for d in hierarchies if d not in dims]
    if unknown:
        raise DisclosureError(f"hierarchies given for {unknown}, which are not in dims {dims}.",
                              [f"hierarchy for unknown dimension {d!r}" for d in unknown])
    n = len(inner)
    # expand each inner cell to every cell containing it, one dim at a time
    expanded = pd.DataFrame({"_inner": np.arange(n, dtype=np.int64)})
    rank_cols = []
    orders = {}
    for d in dims:
        order, contains = _dim_codes(inner[d], d, hierarchies.get(d))
        orders[d] = order
        rank = {code: i for i, code in enumerate(order)}
        pairs = pd.DataFrame(
            [(leaf, rank[c]) for leaf, cs in contains.items() for c in cs],
            columns=["_leaf", f"_r_{d}"],
        )
        codes = inner[d].astype("object").to_numpy()
        expanded["_leaf"] = codes[expanded["_inner"].to_numpy()]
        expanded = expanded.merge(pairs, on="_leaf", how="inner").drop(columns="_leaf")
        rank_cols.append(f"_r_{d}")
    expanded = expanded.sort_values([*rank_cols, "_inner"], kind="stable")
    keys = expanded[rank_cols].to_numpy()
    if len(keys):
        new = np.ones(len(keys), dtype=bool)
        new[1:] = (keys[1:] != keys[:-1]).any(axis=1)
        starts = np.flatnonzero(new)
    else:
        starts = np.zeros(0, dtype=np.int64)
    inner_idx = expanded["_inner"].to_numpy()
    inner_of_cell = np.split(inner_idx, starts[1:]) if len(starts) else []
    cell_keys = keys[starts] if len(starts) else np.zeros((0, len(dims)), dtype=np.int64)
    cells = pd.DataFrame(index=pd.RangeIndex(len(starts)))
    for j, d in enumerate(dims):
        order = orders[d]
        labels = [order[r] for r in cell_keys[:, j]]
        cats = [str(c) for c in order]
        if len(set(cats)) != len(cats):
            raise DisclosureError(f"codes of {d!r} collide when written as text: {order}.")
        cells[d] = pd.Categorical([str(x) for x in labels], categories=cats, ordered=True)
    depth = np.zeros(len(starts), dtype=bool)
    inner_pos = np.full(n, -1, dtype=np.int64)
    # a cell is inner when every code is a leaf of its inner cell
    leaf_rank = np.column_stack([
        inner[d].astype("object").map({c: i for i, c in enumerate(orders[d])}).to_numpy()
        for d in dims
    ]) if dims else np.zeros((n, 0))
    lookup = {tuple(k): c for c, k in enumerate(map(tuple, cell_keys))}
    for i in range(n):
        c = lookup[tuple(leaf_rank[i])]
        inner_pos[i] = c
        depth[c] = True
    if allow_duplicates:
        inner_pos[:] = -1
    cells["is_inner"] = depth
    return TableModel(cells=cells, inner_of_cell=[np.asarray(a) for a in inner_of_cell],
                      inner_cell=inner_pos)


def membership_matrix(inner_of_cell: Sequence[np.ndarray], n_inner: int) -> sparse.csr_matrix:
    """The (cells x inner) 0/1 matrix of cells given as arrays of their inner cells."""
    lengths = np.array([len(m) for m in inner_of_cell], dtype=np.int64)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    indices = (np.concatenate(inner_of_cell) if len(lengths)
               else np.zeros(0, dtype=np.int64))
    return sparse.csr_matrix((np.ones(len(indices), dtype=np.int64), indices, indptr),
                             shape=(len(lengths), n_inner))
