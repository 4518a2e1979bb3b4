"""Value cells (contacts, events, days) protected by who contributes to them.

A cell holding 3 home visits says that at most 3 persons had one; a cell of 45 visits of
which one person made 40 says nearly as much about that person. A value cell is primary
when ``1..max_n`` distinct persons contribute to it, or when a few contributions dominate
it (the union of (1, 80) and (2, 99) dominance, as Statistics Norway's practice and
tau-Argus combine them); the cell's count being hidden hides its value too. Secondary
suppression and the audit then run over the table's own margins.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import sparse

from kprlink.disclosure._model import TableModel
from kprlink.disclosure.magnitude import _sensitive
from kprlink.disclosure.rules import DominanceRule, SuppressionRule
from kprlink.disclosure.secondary import _protect, candidate_order, model_matrix

#: Dominance rules applied together to person contributions.
DOMINANCE = (DominanceRule(n=1, k=80.0), DominanceRule(n=2, k=99.0))


def protect_values(model: TableModel, cells: pd.DataFrame, persons: pd.DataFrame | None,
                   dims: Sequence[str], col: str, count_hidden: np.ndarray,
                   rule: SuppressionRule, *, audit: bool = True,
                   dominance: Sequence[DominanceRule] = DOMINANCE) -> pd.DataFrame:
    """Status of every cell's value `col` (cells in `model` order).

    Returns a frame with ``value``, ``status`` (published/primary/secondary),
    ``reason``, ``contributors``, ``lower`` and ``upper``.
    """
    dims = list(dims)
    mm = model_matrix(model)
    inner_vals = cells[col].to_numpy(dtype=np.int64)
    values = mm @ inner_vals
    n_cells = len(values)
    reason = np.full(n_cells, "", dtype=object)
    contributors = np.full(n_cells, -1, dtype=np.int64)
    if persons is not None:
        idx = cells[dims].astype("string").reset_index(drop=True).assign(
            _inner=np.arange(len(cells)))
        p = persons[["person_id", *dims, col]].astype({d: "string" for d in dims}).merge(
            idx, on=dims, how="inner")
        p = p[p[col].to_numpy() != 0]
        pid, row = np.unique(p["person_id"].to_numpy(np.int64), return_inverse=True)
        pm = sparse.csr_matrix((p[col].to_numpy(float), (row, p["_inner"].to_numpy())),
                               shape=(len(pid), len(cells)))
        per_cell = (pm @ mm.T.astype(float)).tocsc()
        per_cell.eliminate_zeros()
        contributors = np.diff(per_cell.indptr).astype(np.int64)
        few = (contributors >= 1) & (contributors <= rule.max_n)
        reason[few] = f"contributors<={rule.max_n}"
        pc = per_cell.tocoo()
        long = pd.DataFrame({"cell": pc.col, "contributor": pc.row, "x": pc.data})
        for d in dominance:
            dom = (reason == "") & _sensitive(long, n_cells, d)
            reason[dom] = d.name
    else:
        # without person rows a value of 1..max_n is all that can be judged
        few = (values >= 1) & (values <= rule.max_n)
        reason[few] = f"value<={rule.max_n}"
    primary = reason != ""
    reason[(reason == "") & count_hidden] = "count hidden"
    protected = primary | count_hidden
    order = candidate_order(values, mm, zeros_first=True)
    hidden, secondary, intervals, _ = _protect(
        model.inner_of_cell, inner_vals, values, protected, order, [], rule=rule,
        audit=audit)
    status = np.where(protected, "primary", np.where(hidden, "secondary", "published"))
    reason = np.where(protected, reason, np.where(hidden, "secondary", ""))
    lower = np.full(n_cells, np.nan)
    upper = np.full(n_cells, np.nan)
    if intervals is not None:
        lower[intervals.index] = intervals["lower"].to_numpy()
        upper[intervals.index] = intervals["upper"].to_numpy()
    return pd.DataFrame({"value": values, "status": status, "reason": reason,
                         "contributors": contributors, "lower": lower, "upper": upper})
