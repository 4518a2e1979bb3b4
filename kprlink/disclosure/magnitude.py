"""Magnitude tables (sums of a value, e.g. bed-days or costs): dominance and p% rules.

A magnitude cell is sensitive when a few contributors dominate it, so that one of them
(or an outsider) could estimate another's contribution closely. Sensitive cells are
primary; secondary suppression and the audit are those of frequency tables, with the
audit requiring each suppressed cell's interval to be at least a percentage of its value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kprlink.disclosure._gauss import gauss_secondary
from kprlink.disclosure._model import build_model
from kprlink.disclosure.audit import audit_intervals
from kprlink.disclosure.rules import DominanceRule, PPercentRule
from kprlink.disclosure.secondary import (
    STATUSES,
    SuppressionResult,
    candidate_order,
    input_digest,
    model_matrix,
)
from kprlink.exceptions import DisclosureError, MissingColumnsError, Problem


def _sensitive(long: pd.DataFrame, n_cells: int, rule: DominanceRule | PPercentRule) -> np.ndarray:
    """Per cell: does `rule` flag it? `long` has cell, contributor, x (summed)."""
    ranked = long.sort_values(["cell", "x"], ascending=[True, False], kind="stable")
    rank = ranked.groupby("cell", sort=False).cumcount().to_numpy()
    cell = ranked["cell"].to_numpy()
    x = ranked["x"].to_numpy()
    total = np.bincount(cell, weights=x, minlength=n_cells)
    if isinstance(rule, DominanceRule):
        top = np.bincount(cell, weights=np.where(rank < rule.n, x, 0.0), minlength=n_cells)
        return (total > 0) & (top > rule.k / 100.0 * total)
    x1 = np.bincount(cell, weights=np.where(rank == 0, x, 0.0), minlength=n_cells)
    x2 = np.bincount(cell, weights=np.where(rank == 1, x, 0.0), minlength=n_cells)
    return (x1 > 0) & (total - x1 - x2 < rule.p / 100.0 * x1)


def suppress_magnitude_table(
    microdata: pd.DataFrame,
    dims: Sequence[str],
    *,
    value_col: str,
    contributor_col: str,
    rule: DominanceRule | PPercentRule | Sequence[DominanceRule | PPercentRule],
    hierarchies: Mapping[str, Mapping[object, object]] | None = None,
    audit: bool = True,
    singletons: bool = True,
) -> SuppressionResult:
    """Protect a table of sums of `value_col` over `dims`.

    Parameters
    ----------
    microdata : pandas.DataFrame
        One row per record; several rows of one contributor are summed. Not modified.
    dims : sequence of str
    value_col : str
        Non-negative magnitudes.
    contributor_col : str
        Who contributed (hospital, practice, person): the unit the rule protects.
    rule : DominanceRule, PPercentRule, or a sequence of them
        Several rules apply together (a cell is sensitive when any flags it), e.g.
        ``[DominanceRule(1, 80), DominanceRule(2, 99)]``; the audit asks the widest
        interval any of them asks.
    hierarchies : mapping, optional
    singletons : bool, default True
        No single contributor may pin a neighbour: a contributor knows what it put
        into each hidden cell, so within each published margin the hidden cells a
        contributor does not fully own must stay protected once its own share is
        subtracted (their sum is a protected virtual cell, as GaussSuppression's
        singleton handling does for magnitude tables).
    audit : bool, default True
        The audit requires each suppressed cell's interval to be at least
        ``rule.min_width_for(value)`` wide.

    Returns
    -------
    SuppressionResult
        ``count_col`` is `value_col`; reasons name the rule.

    Raises
    ------
    MissingColumnsError
        If a column is absent.
    DisclosureError
        If values are missing or negative.

    Examples
    --------
    >>> df = pd.DataFrame({"region": list("NNNSSS"), "kind": list("ababab"),
    ...                    "hosp": [1, 2, 3, 4, 5, 6], "days": [900, 40, 30, 35, 30, 40]})
    >>> res = suppress_magnitude_table(df, ["region", "kind"], value_col="days",
    ...                                contributor_col="hosp", rule=DominanceRule(n=1, k=80))
    >>> res.table.set_index(["region", "kind"]).loc[("N", "a"), "status"]
    'primary'
    """
    dims = list(dims)
    need = [*dims, value_col, contributor_col]
    missing = [c for c in dict.fromkeys(need) if c not in microdata.columns]
    if missing:
        raise MissingColumnsError(
            f"suppress_magnitude_table() needs column(s) {missing}.", missing=missing)
    rules = ([rule] if isinstance(rule, DominanceRule | PPercentRule)
             else list(rule) if isinstance(rule, list | tuple) else [rule])
    if not rules or not all(isinstance(r, DominanceRule | PPercentRule) for r in rules):
        raise DisclosureError("suppress_magnitude_table(): rule must be a DominanceRule or "
                              "PPercentRule, or a sequence of them.",
                              [f"got {type(rule).__name__}"])
    vals = pd.to_numeric(microdata[value_col], errors="coerce")
    bad = vals.isna() | (vals < 0)
    if bad.any():
        rows = tuple(int(i) + 1 for i in np.flatnonzero(bad.to_numpy())[:5])
        raise DisclosureError("suppress_magnitude_table(): invalid values.", [
            Problem("microdata", value_col, "bad_value", "values must be numbers >= 0",
                    rows, int(bad.sum()), "Fix or drop these rows.")])
    na = microdata[[*dims, contributor_col]].isna()
    if na.any(axis=None):
        problems = []
        for col in na.columns[na.any()]:
            rows = tuple(int(i) + 1 for i in np.flatnonzero(na[col].to_numpy())[:5])
            problems.append(Problem("microdata", col, "missing_code", "value is missing",
                                    rows, int(na[col].sum()),
                                    "Fill or drop these rows before tabulating."))
        raise DisclosureError("suppress_magnitude_table(): missing codes.", problems)
    data = microdata[[*dims, contributor_col]].assign(_x=vals.to_numpy(dtype=float))
    per = data.groupby([*dims, contributor_col], observed=True, sort=False)["_x"].sum()
    per = per.reset_index()
    inner = per.groupby(dims, observed=True, sort=True)["_x"].sum().reset_index()
    model = build_model(inner, dims, hierarchies=hierarchies, where="microdata")
    x = model_matrix(model)
    inner_values = inner["_x"].to_numpy()
    values = x @ inner_values
    # every contribution, repeated for each cell containing its inner cell
    pos = inner.reset_index().merge(per, on=dims, suffixes=("", "_c"))
    xt = x.T.tocsr()
    counts = np.diff(xt.indptr)[pos["index"].to_numpy()]
    starts = xt.indptr[pos["index"].to_numpy()]
    cell_ids = np.concatenate([xt.indices[s:s + c] for s, c in zip(starts, counts)]) \
        if len(pos) else np.zeros(0, dtype=np.int64)
    long = pd.DataFrame({"cell": cell_ids,
                         "contributor": np.repeat(pos[contributor_col].to_numpy(), counts),
                         "x": np.repeat(pos["_x_c"].to_numpy(), counts)})
    long = long.groupby(["cell", "contributor"], sort=False)["x"].sum().reset_index()
    flags = [_sensitive(long, len(values), r) for r in rules]
    primary = np.logical_or.reduce(flags)
    names = np.array([", ".join(r.name for r, f in zip(rules, col, strict=True) if f)
                      for col in np.column_stack(flags)], dtype=object)
    order = candidate_order(values, x, zeros_first=True)
    virtual = (_contributor_sums(model, per, dims, contributor_col, primary)
               if singletons else [])
    secondary = gauss_secondary(model.inner_of_cell, model.n_inner, protected=primary,
                                order=order, virtual=virtual)
    hidden = primary | secondary
    status = np.where(primary, "primary", np.where(secondary, "secondary", "published"))
    table = model.cells[dims].copy()
    table[value_col] = values
    table["status"] = pd.Categorical(status, categories=list(STATUSES))
    table["reason"] = np.where(primary, names,
                               np.where(secondary, "protects a primary cell", ""))
    released = table.drop(columns=["reason"]).copy()
    released[value_col] = pd.array(values, dtype="Float64")
    released.loc[hidden, value_col] = pd.NA
    aud = None
    if audit:
        iv = audit_intervals(model.inner_of_cell, values, hidden, inner_values=inner_values,
                             min_width=0.0)
        need_w = np.max([r.min_width_for(values[iv.index.to_numpy()]) for r in rules],
                        axis=0)
        iv["ok"] = iv["width"].to_numpy() >= need_w - 1e-9
        aud = table.loc[iv.index, [*dims, value_col, "status"]].join(iv)
        aud = aud.reset_index(drop=True)
    return SuppressionResult(
        table=table, released=released, audit=aud, dims=tuple(dims), count_col=value_col,
        rule=rules[0] if len(rules) == 1 else _Union(tuple(rules)),
        input_digest=input_digest(microdata, need),
        hierarchies=dict(hierarchies or {}), method="gauss-magnitude")


def _contributor_sums(model: Any, per: pd.DataFrame, dims: Sequence[str],
                      contributor_col: str, primary: np.ndarray) -> list[np.ndarray]:
    """Protected sums no single contributor may learn from a margin.

    A contributor owning a primary cell outright (its only contributor) knows that
    cell; in a margin holding exactly one other primary inner cell it would learn
    that cell from the margin once everything else there is known. The pair's sum
    is then protected, so a third cell of the margin is hidden (with three or more
    primary cells the contributor learns only a sum of two or more others).
    """
    key = per[list(dims)].astype(str).apply(tuple, axis=1)
    inner_key = {tuple(r): i for i, r in enumerate(
        model.cells.loc[model.inner_cell, list(dims)].astype(str).itertuples(index=False))}
    idx = key.map(lambda k: inner_key.get(tuple(k), -1)).to_numpy()
    n_contrib = np.bincount(idx[idx >= 0], minlength=model.n_inner)
    inner_primary = primary[model.inner_cell]
    owned = inner_primary & (n_contrib == 1)
    out, seen = [], set()
    for members in model.inner_of_cell:
        prim = members[inner_primary[members]]
        if len(prim) != 2 or not owned[prim].any():
            continue
        pair = np.sort(prim)
        if pair.tobytes() not in seen:
            seen.add(pair.tobytes())
            out.append(pair)
    return out


@dataclass(frozen=True)
class _Union:
    """Several magnitude rules applied together (a cell is sensitive if any flags it)."""

    rules: tuple[DominanceRule | PPercentRule, ...]

    @property
    def name(self) -> str:
        return " or ".join(r.name for r in self.rules)

    def to_dict(self) -> dict[str, object]:
        return {"kind": "union", "rules": [r.to_dict() for r in self.rules]}

    @property
    def digest(self) -> str:
        import hashlib
        import json

        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def min_width_for(self, value: np.ndarray) -> np.ndarray:
        return np.max([r.min_width_for(value) for r in self.rules], axis=0)
