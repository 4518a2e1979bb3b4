"""Suppression over several linked tables at once.

Tables cut from one dataset share cells (the same margin appears in age x sex and in
age x region). Protecting them one by one can hide a common cell in one table and show it
in the other, or let one table's published cells undo another's suppression. Here every
table is expressed over the dataset's finest cells (the base), cells with the same
content are one cell, and one elimination protects all primary cells of all tables, so
common cells are suppressed alike; the audit then runs over all tables together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kprlink.disclosure._cells import check_counts
from kprlink.disclosure._model import TableModel, build_model
from kprlink.disclosure.rules import SuppressionRule
from kprlink.disclosure.secondary import (
    STATUSES,
    SuppressionResult,
    _protect,
    candidate_order,
    input_digest,
    membership_matrix,
    singleton_sums,
)
from kprlink.exceptions import DisclosureError


@dataclass(frozen=True)
class LinkedTable:
    """One table of a linked set: its dimensions and hierarchies.

    Examples
    --------
    >>> LinkedTable(dims=("age", "sex")).dims
    ('age', 'sex')
    """

    dims: tuple[str, ...]
    hierarchies: Mapping[str, Mapping[object, object]] | None = None
    #: Published population of each inner cell (a pandas Series indexed by the cell's
    #: labels, a MultiIndex in `dims` order for several dims); margins get the sum.
    #: Released beside the counts and taken by the audit as upper bounds.
    populations: pd.Series | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "dims", tuple(self.dims))
        if not self.dims:
            raise DisclosureError("LinkedTable: dims is empty.", ["give at least one dim"])


def suppress_linked_tables(
    base: pd.DataFrame,
    tables: Sequence[LinkedTable],
    *,
    count_col: str,
    rule: SuppressionRule,
    audit: bool = True,
) -> list[SuppressionResult]:
    """Protect several tables from one dataset together.

    Parameters
    ----------
    base : pandas.DataFrame
        Finest cells: one row per combination of every dimension used, with counts.
    tables : sequence of LinkedTable
        The tables to release.
    count_col : str
    rule : SuppressionRule
    audit : bool, default True
        Audit all tables together (each result's ``audit`` holds its own cells).

    Returns
    -------
    list of SuppressionResult
        One per table, in order.

    Examples
    --------
    >>> base = pd.DataFrame({"age": ["young", "young", "old", "old"] * 2,
    ...                      "sex": list("FMFM") * 2, "region": ["N"] * 4 + ["S"] * 4,
    ...                      "n": [3, 20, 25, 30, 15, 18, 22, 40]})
    >>> a, b = suppress_linked_tables(base, [LinkedTable(("age", "sex")),
    ...                                      LinkedTable(("age", "region"))],
    ...                               count_col="n", rule=SuppressionRule(max_n=4))
    >>> a.n_primary, b.n_primary, a.ok and b.ok
    (0, 0, True)
    """
    if not tables:
        raise DisclosureError("suppress_linked_tables(): no tables.", ["give one or more"])
    used = sorted({d for t in tables for d in t.dims})
    counts = check_counts(base, used, count_col, [])
    models = [build_model(base, t.dims, hierarchies=t.hierarchies, where="base",
                          allow_duplicates=True) for t in tables]
    # unique cells over all tables, keyed by their set of base cells
    key_to_cell: dict[bytes, int] = {}
    members: list[np.ndarray] = []
    cell_of: list[np.ndarray] = []
    for model in models:
        ids = np.empty(len(model.cells), dtype=np.int64)
        for i, m in enumerate(model.inner_of_cell):
            m = np.sort(m)
            key = m.tobytes()
            if key not in key_to_cell:
                key_to_cell[key] = len(members)
                members.append(m)
            ids[i] = key_to_cell[key]
        cell_of.append(ids)
    x = membership_matrix(members, len(base))
    values = x @ counts
    pops = _populations(tables, models, cell_of, members, len(base), len(members))
    bounded = bool(np.isfinite(pops).any())
    primary, reason = rule.primary(values, pops if bounded else None)
    order = candidate_order(values, x, zeros_first=not rule.protect_zeros)
    virtual: list[np.ndarray] = []
    if rule.singletons:
        seen: set[bytes] = set()
        for model, ids in zip(models, cell_of):
            # the table's own leaf cells play the part of inner cells
            leaf = np.flatnonzero(model.cells["is_inner"].to_numpy())
            leaf_of_base = np.full(len(base), -1, dtype=np.int64)
            for pos, c in enumerate(leaf):
                leaf_of_base[members[ids[c]]] = pos
            view = TableModel(
                cells=model.cells,
                inner_of_cell=[np.unique(leaf_of_base[members[i]]) for i in ids],
                inner_cell=leaf)
            for sel in singleton_sums(view, values[ids], primary[ids], rule):
                v = np.unique(np.concatenate([members[ids[leaf[j]]] for j in sel]))
                if v.tobytes() not in seen:
                    seen.add(v.tobytes())
                    virtual.append(v)
    hidden, secondary, intervals, n_repairs = _protect(
        members, counts, values, primary, order, virtual, rule=rule, audit=audit,
        populations=pops if bounded else None)
    digest = input_digest(base, [*used, count_col])
    out = []
    for spec, model, ids in zip(tables, models, cell_of):
        dims = list(spec.dims)
        table = model.cells[dims].copy()
        table[count_col] = values[ids]
        status = np.where(primary[ids], "primary",
                          np.where(secondary[ids], "secondary", "published"))
        table["status"] = pd.Categorical(status, categories=list(STATUSES))
        table["reason"] = np.where(secondary[ids], "protects a primary cell", reason[ids])
        released = table.drop(columns=["reason"]).copy()
        released[count_col] = pd.array(values[ids], dtype="Int64")
        released.loc[hidden[ids], count_col] = pd.NA
        if spec.populations is not None:
            released["population"] = pd.array(pops[ids].astype(np.int64), dtype="Int64")
        aud = None
        if intervals is not None:
            rows = np.flatnonzero(hidden[ids])
            iv = intervals.loc[ids[rows]].reset_index(drop=True)
            aud = table.iloc[rows][[*dims, count_col, "status"]].reset_index(drop=True)
            aud = pd.concat([aud, iv], axis=1)
        out.append(SuppressionResult(
            table=table, released=released, audit=aud, dims=tuple(dims),
            count_col=count_col, rule=rule, input_digest=digest,
            hierarchies=dict(spec.hierarchies or {}), method="gauss-linked",
            n_repairs=n_repairs))
    return out


def _populations(tables: Sequence[LinkedTable], models: Sequence[TableModel],
                 cell_of: Sequence[np.ndarray], members: Sequence[np.ndarray],
                 n_base: int, n_cells: int) -> np.ndarray:
    """Each unique cell's published population (the smallest any table gives; inf if
    none): the sum of the populations of the table's inner cells it covers."""
    pops = np.full(n_cells, np.inf)
    for spec, model, ids in zip(tables, models, cell_of):
        if spec.populations is None:
            continue
        dims = list(spec.dims)
        leaf = np.flatnonzero(model.cells["is_inner"].to_numpy())
        labels = model.cells.iloc[leaf][dims].astype(str)
        given = spec.populations.copy()
        given.index = (given.index.astype(str) if given.index.nlevels == 1 else
                       given.index.set_levels([lv.astype(str) for lv in given.index.levels]))
        keys = (labels[dims[0]] if len(dims) == 1 else
                pd.MultiIndex.from_frame(labels))
        leaf_pop = given.reindex(keys).to_numpy(dtype=float)
        if np.isnan(leaf_pop).any():
            missing = [str(k) for k, v in zip(keys, leaf_pop) if np.isnan(v)][:10]
            raise DisclosureError(
                f"suppress_linked_tables(): table {dims}: no population for "
                f"{int(np.isnan(leaf_pop).sum())} inner cell(s).",
                [f"cell {m}" for m in missing] + ["give every inner cell a population"])
        leaf_of_base = np.full(n_base, -1, dtype=np.int64)
        for pos, c in enumerate(leaf):
            leaf_of_base[members[ids[c]]] = pos
        for i in ids:
            covered = np.unique(leaf_of_base[members[i]])
            pops[i] = min(pops[i], leaf_pop[covered[covered >= 0]].sum())
    return pops
