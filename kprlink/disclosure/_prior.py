"""Earlier releases from the same delivery in the joint model (ACRO's differencing case).

A release ledger keeps, per delivery, every number earlier runs published and the persons
each counted. Those numbers join the new run's model as cells that are already public:
published first, never suppressed. A cohort and the same cohort minus one criterion are
nested populations of one delivery, not "another dataset": where a new cell and the
earlier cell with the same label differ by ``1..max_n`` persons, that difference is a
protected (virtual) cell, so secondary suppression hides what would reveal it and the
audit checks its interval like any hidden cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from kprlink.exceptions import DisclosureError

#: Name of the block holding earlier releases' cells in the joint model.
PRIOR = "__earlier_releases__"


@dataclass(frozen=True)
class PriorRelease:
    """Numbers earlier releases published, with the persons each counted.

    Parameters
    ----------
    cells : pandas.DataFrame
        ``label`` ("table: dim=value; ...") and ``value`` per published number.
    members : pandas.DataFrame
        ``cell`` (row of `cells`), ``person_id`` and ``weight`` (times counted).
    """

    cells: pd.DataFrame
    members: pd.DataFrame


def prior_table(prior: PriorRelease) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The earlier cells as one table of the joint model: (inner cells, person rows)."""
    ids = [f"p{i}" for i in range(len(prior.cells))]
    m = prior.members
    m = m.loc[m.index.repeat(m["weight"].to_numpy(np.int64))]
    cell = m["cell"].to_numpy(np.int64)
    n = np.bincount(cell, minlength=len(ids))
    if not np.array_equal(n, prior.cells["value"].to_numpy(np.int64)):
        raise DisclosureError("the release ledger does not match this delivery's persons; "
                              "it was kept for another delivery.",
                              ["remove the ledger folder or choose another --ledger"])
    persons = pd.DataFrame({"person_id": m["person_id"].to_numpy(np.int64),
                            "_cell": np.asarray(ids, dtype=object)[cell]})
    cells = pd.DataFrame({"_cell": ids, "n": n.astype(np.int64)})
    return cells.astype({"_cell": "string"}), persons.astype({"_cell": "string"})


def difference_rows(x: sparse.csr_matrix, z: np.ndarray, labels: list[str],
                    prior_rows: np.ndarray, prior_labels: list[str], max_n: int, *,
                    against: str = "an earlier release",
                    sides: tuple[str, str] = ("earlier, not now", "now, not earlier")
                    ) -> tuple[list[sparse.csr_matrix], list[str]]:
    """Protected differences between earlier cells and new cells with the same label.

    Also used for a study's variants (the same tables on a nested population, e.g.
    without model links): `prior_rows` are then the variant's cells, `prior_labels`
    their labels under the base table's name, `against` and `sides` say so.
    """
    index = {lab: i for i, lab in enumerate(labels)}
    rows, names = [], []
    for r, lab in zip(prior_rows.tolist(), prior_labels, strict=True):
        c = index.get(lab)
        if c is None:
            continue
        xp = x.getrow(r).toarray().ravel()
        xc = x.getrow(c).toarray().ravel()
        for d, what in ((np.maximum(xp - xc, 0), sides[0]),
                        (np.maximum(xc - xp, 0), sides[1])):
            k = float(d @ z)
            if 1 <= k <= max_n:
                rows.append(sparse.csr_matrix(d.astype(np.int64)))
                names.append(f"{lab}: difference with {against} ({what})")
    return rows, names
