"""``suppress_table``: primary and secondary suppression with an LP audit.

Secondary suppression follows Statistics Norway's GaussSuppression (Langsrud 2024): cells
are tried in publishing order, largest first (ties broken by the sizes of the margins a
cell lies in, zeros first when zeros are not protected), and a cell is suppressed only
when publishing it would let a primary cell be computed as a linear combination of the
published cells. See ``docs/methods/disclosure.md``.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from kprlink.disclosure._cells import check_counts, complete_cells, input_digest
from kprlink.disclosure._gauss import gauss_secondary
from kprlink.disclosure._joint_audit import joint_intervals
from kprlink.disclosure._log import table_log
from kprlink.disclosure._model import TOTAL, TableModel, build_model, membership_matrix
from kprlink.disclosure.audit import audit_intervals
from kprlink.disclosure.rules import SuppressionRule
from kprlink.exceptions import DisclosureError, MissingColumnsError

STATUSES = ("published", "primary", "secondary")


def model_matrix(model: TableModel) -> sparse.csr_matrix:
    """The (cells x inner) 0/1 matrix: row ``c`` marks the inner cells that cell ``c`` sums."""
    return membership_matrix(model.inner_of_cell, model.n_inner)


def candidate_order(values: np.ndarray, x: sparse.csr_matrix, *,
                    zeros_first: bool) -> np.ndarray:
    """Publishing order of GaussSuppression's default candidates (most wanted first)."""
    freq1 = values.astype(float) + 1.0
    tie = x @ (x.T @ freq1)
    if len(tie) and tie.max() > 0:
        tie = tie / tie.max()
    key = freq1 + 0.99 * tie
    if zeros_first and len(key):
        zero = values == 0
        key[zero] = 0.01 + key.max() + key[zero]
    return np.argsort(-key, kind="stable")


def singleton_sums(model: TableModel, values: np.ndarray, primary: np.ndarray,
                   rule: SuppressionRule) -> list[np.ndarray]:
    """Virtual protected sums within each margin (singleton handling).

    * Two or more suppressed zeros: a published sum of 0 would reveal each of them, so
      their sum is protected (only when zeros are protected).
    * Two or more suppressed ones: their sum is protected (a published sum of ones
      lets each contributor learn the others).
    * A suppressed 1 and exactly one other non-zero primary cell: the contributor of the
      1 knows their own value and would learn the other from the margin, so the pair's
      sum is protected and one more cell must be hidden. (With three or more, the
      contributor learns only a sum over two or more other cells.)
    """
    inner_values = values[model.inner_cell]
    inner_primary = primary[model.inner_cell]
    seen: set[bytes] = set()
    out = []
    for c, members in enumerate(model.inner_of_cell):
        if len(members) < 2:
            continue
        prim = members[inner_primary[members]]
        if len(prim) < 2:
            continue
        vals = inner_values[prim]
        groups = [prim[vals == 1]]
        nonzero = prim[vals > 0]
        if len(nonzero) == 2 and (vals == 1).any():
            groups.append(nonzero)
        if rule.protect_zeros:
            groups.append(prim[vals == 0])
        for sel in groups:
            if len(sel) >= 2:
                sel = np.sort(sel)
                key = sel.tobytes()
                if key not in seen:
                    seen.add(key)
                    out.append(sel)
    return out


@dataclass(frozen=True)
class SuppressionResult:
    """Outcome of :func:`suppress_table`.

    Attributes
    ----------
    table : pandas.DataFrame
        Full table with margins: dims, the true counts, ``status`` and ``reason``.
        Person-level truth; never release it.
    released : pandas.DataFrame
        The same rows with the count missing (``<NA>``) wherever suppressed.
    audit : pandas.DataFrame or None
        Per suppressed cell: dims, ``lower``, ``upper``, ``width``, ``ok``.
    """

    table: pd.DataFrame
    released: pd.DataFrame
    audit: pd.DataFrame | None
    dims: tuple[str, ...]
    count_col: str
    rule: SuppressionRule
    input_digest: str
    hierarchies: Mapping[str, Mapping[object, object]] = field(default_factory=dict)
    method: str = "gauss"
    n_repairs: int = 0

    @property
    def n_primary(self) -> int:
        return int((self.table["status"] == "primary").sum())

    @property
    def n_secondary(self) -> int:
        return int((self.table["status"] == "secondary").sum())

    @property
    def ok(self) -> bool:
        """True when audited and every suppressed cell is protected."""
        return self.audit is not None and bool(self.audit["ok"].all())

    def problems(self) -> list[str]:
        """Why release would be refused (empty when it may be released)."""
        if self.audit is None:
            return ["the pattern was not audited: run suppress_table(..., audit=True)"]
        bad = self.audit.loc[~self.audit["ok"]]
        return [
            "cell " + ", ".join(f"{d}={r[d]}" for d in self.dims)
            + f" has feasible interval [{r['lower']:g}, {r['upper']:g}], narrower than "
            "the rule requires"
            for _, r in bad.iterrows()
        ]

    def summary(self) -> pd.DataFrame:
        """One row per status: number of cells."""
        counts = self.table["status"].value_counts().reindex(list(STATUSES), fill_value=0)
        out = counts.rename("n_cells").rename_axis("status").reset_index()
        return out

    def release_log(self) -> dict[str, object]:
        """JSON-able record of this table for the output checker."""
        return table_log(self)

    def _repr_html_(self) -> str:
        head = html.escape(repr(self))
        return f"<p>{head}</p>" + self.summary().to_html(index=False)

    def __repr__(self) -> str:
        audit = ("not audited" if self.audit is None else
                 "audit ok" if self.ok else f"audit FAILED for {int((~self.audit['ok']).sum())}")
        return (f"<SuppressionResult {' x '.join(self.dims)}: {len(self.table):,} cells, "
                f"{self.n_primary:,} primary, {self.n_secondary:,} secondary "
                f"({self.rule.name}); {audit}>")


def suppress_table(
    cells: pd.DataFrame,
    dims: Sequence[str],
    *,
    count_col: str,
    rule: SuppressionRule,
    audit: bool = True,
    hierarchies: Mapping[str, Mapping[object, object]] | None = None,
    denominator_col: str | None = None,
    primary_col: str | None = None,
    absent_cells: str = "zero",
) -> SuppressionResult:
    """Protect a frequency table: margins, primary and secondary suppression, audit.

    Parameters
    ----------
    cells : pandas.DataFrame
        Inner cells, one row per combination of `dims`. Not modified.
    dims : sequence of str
        Dimension columns. Ordered categoricals keep their order; margins come first.
    count_col : str
        Column with the counts (whole numbers >= 0).
    rule : SuppressionRule
        Primary rule.
    audit : bool, default True
        Compute each suppressed cell's feasible interval by linear programming.
    hierarchies : mapping, optional
        ``{dim: {child: parent}}`` for nested codes (municipality -> county).
    denominator_col : str, optional
        Denominator of a percentage; with ``rule.protect_differences``, cells whose
        ``denominator - count`` is small are primary too. Denominators are released as
        given: pass only public ones (population tables), never register counts.
    primary_col : str, optional
        Boolean column marking inner cells primary for another reason (e.g. dominance).
    absent_cells : {"zero", "structural"}, default "zero"
        Combinations of the dims' codes with no row: ``"zero"`` makes them cells with
        count 0 (protected like any zero; otherwise the margins would reveal them),
        ``"structural"`` treats them as impossible combinations that are not cells.

    Returns
    -------
    SuppressionResult

    Raises
    ------
    MissingColumnsError
        If a named column is absent.
    DisclosureError
        If counts are not whole numbers >= 0, or dims do not identify the cells.

    Notes
    -----
    Secondary suppression by Gaussian elimination (Langsrud 2024, GaussSuppression);
    the audit solves min/max per suppressed cell with HiGHS.

    Examples
    --------
    >>> cells = pd.DataFrame({"sex": ["F", "F", "M", "M"], "age": ["<60", "60+"] * 2,
    ...                       "n": [2, 10, 12, 15]})
    >>> res = suppress_table(cells, ["sex", "age"], count_col="n",
    ...                      rule=SuppressionRule(max_n=4))
    >>> int(res.released["n"].isna().sum())
    4
    >>> res.ok
    True
    """
    if not isinstance(rule, SuppressionRule):
        raise DisclosureError("suppress_table(): rule must be a SuppressionRule.",
                              [f"got {type(rule).__name__}"])
    dims = list(dims)
    extra = [c for c in (denominator_col, primary_col) if c is not None]
    if absent_cells not in ("zero", "structural"):
        raise DisclosureError("suppress_table(): absent_cells must be 'zero' or "
                              f"'structural', got {absent_cells!r}.")
    check_counts(cells, dims, count_col, [denominator_col] if denominator_col else [])
    if primary_col is not None and primary_col not in cells.columns:
        raise MissingColumnsError(f"suppress_table() needs column {primary_col!r}.",
                                  missing=[primary_col])
    if absent_cells == "zero" and not cells[dims].isna().any().any():
        cells = complete_cells(cells, dims, count_col, denominator_col=denominator_col,
                               primary_col=primary_col)
    counts = check_counts(cells, dims, count_col,
                           [denominator_col] if denominator_col else [])
    model = build_model(cells, dims, hierarchies=hierarchies)
    x = model_matrix(model)
    values = x @ counts
    denominators = None
    if denominator_col is not None:
        denominators = x @ pd.to_numeric(cells[denominator_col]).to_numpy(dtype=np.int64)
    primary, reason = rule.primary(values, denominators)
    if primary_col is not None:
        flag = cells[primary_col].fillna(False).astype(bool).to_numpy()
        user = np.zeros(len(values), dtype=bool)
        user[model.inner_cell[flag]] = True
        reason[user & ~primary] = primary_col
        primary = primary | user
    order = candidate_order(values, x, zeros_first=not rule.protect_zeros)
    virtual = singleton_sums(model, values, primary, rule) if rule.singletons else []
    # witnesses of the audit from blocks of codes of the longest dimension
    longest = max(dims, key=lambda d: cells[d].nunique())
    blocks = pd.factorize(cells[longest])[0]
    hidden, secondary, intervals, n_repairs = _protect(
        model.inner_of_cell, counts, values, primary, order, virtual, rule=rule,
        audit=audit, populations=denominators, blocks=blocks)
    status = np.where(primary, "primary", np.where(secondary, "secondary", "published"))
    reason = np.where(secondary, "protects a primary cell", reason)
    table = model.cells[dims].copy()
    table[count_col] = values
    if denominators is not None:
        table[denominator_col] = denominators
    table["status"] = pd.Categorical(status, categories=list(STATUSES))
    table["reason"] = reason.astype(str)
    released = table.drop(columns=["reason"]).copy()
    released[count_col] = pd.array(np.where(hidden, 0, values), dtype="Int64")
    released.loc[hidden, count_col] = pd.NA
    if denominators is not None:
        released[denominator_col] = pd.array(denominators, dtype="Int64")
    aud = None
    if intervals is not None:
        aud = table.loc[intervals.index, [*dims, count_col, "status"]].join(intervals)
        aud = aud.reset_index(drop=True)
    digest = input_digest(cells, [*dims, count_col, *extra])
    return SuppressionResult(table=table, released=released, audit=aud, dims=tuple(dims),
                             count_col=count_col, rule=rule, input_digest=digest,
                             hierarchies=dict(hierarchies or {}), n_repairs=n_repairs)


def _protect(
    inner_of_cell: Sequence[np.ndarray], counts: np.ndarray, values: np.ndarray,
    primary: np.ndarray, order: np.ndarray, virtual: list[np.ndarray], *,
    rule: SuppressionRule, audit: bool, max_repairs: int = 5,
    populations: np.ndarray | None = None, blocks: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame | None, int]:
    """Secondary suppression, then audit; repair cells the audit finds too narrow.

    With `populations` (a published upper bound per cell: its denominator), the audit
    takes them as bounds, as an outsider would (:func:`joint_intervals` over the inner
    cells as atoms).

    Gaussian elimination rules out linear recovery only. A cell can still be pinned by
    non-negativity (a margin whose suppressed cells sum to 0 or 1). For each such cell,
    the sum of the suppressed inner cells of every published margin containing it becomes
    a protected virtual cell, and the elimination runs again (at most `max_repairs` times).
    """
    virtual = list(virtual)
    seen = {np.sort(v).tobytes() for v in virtual}
    n_repairs = 0
    x = (membership_matrix(inner_of_cell, len(counts))
         if audit and populations is not None else None)  # built once for every round
    while True:
        secondary = gauss_secondary(inner_of_cell, len(counts), protected=primary,
                                    order=order, virtual=virtual)
        hidden = primary | secondary
        if not audit:
            return hidden, secondary, None, n_repairs
        if populations is None:
            intervals = audit_intervals(inner_of_cell, values, hidden,
                                        inner_values=counts, min_width=rule.min_width,
                                        integer=True, exact=False, blocks=blocks)
        else:
            intervals = _bounded_intervals(x, counts, hidden, populations, rule.min_width)
        bad = intervals.index[~intervals["ok"].to_numpy()]
        if not len(bad) or n_repairs >= max_repairs:
            return hidden, secondary, intervals, n_repairs
        # inner cells not published on their own are unknown to a user
        unknown = np.ones(len(counts), dtype=bool)
        for c in np.flatnonzero(~hidden):
            if len(inner_of_cell[c]) == 1:
                unknown[inner_of_cell[c][0]] = False
        added = 0
        for f in bad:
            inner_f = set(inner_of_cell[f].tolist())
            for m in np.flatnonzero(~hidden):
                members = inner_of_cell[m]
                if len(members) < 2 or not inner_f.intersection(members.tolist()):
                    continue
                sel = np.sort(members[unknown[members]])
                key = sel.tobytes()
                if len(sel) and key not in seen:
                    seen.add(key)
                    virtual.append(sel)
                    added += 1
        if not added:
            return hidden, secondary, intervals, n_repairs
        n_repairs += 1


def _bounded_intervals(x: sparse.csr_matrix, counts: np.ndarray, hidden: np.ndarray,
                       populations: np.ndarray, min_width: float) -> pd.DataFrame:
    """The audit with every cell's population as a public upper bound (`x`: cells x
    inner cells)."""
    pops = np.asarray(populations, dtype=float)
    rows = np.flatnonzero(np.isfinite(pops))
    return joint_intervals(x, counts, hidden, bound_rows=rows, bound_values=pops[rows],
                           min_width=min_width, exact=False)


__all__ = ["SuppressionResult", "suppress_table", "TOTAL"]
