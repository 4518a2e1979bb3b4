"""The counts of a linkage flow diagram, from delivered rows to unlinked persons.

RECORD/GUILD ask for the flow from what was delivered, through what the readers
excluded, to what the key file and the model linked and what stayed unlinked.
:func:`flow_counts` puts the readers' report and the linkage report together, per
register (NPR episodes, KPR-KUHR claims).
"""

from __future__ import annotations

import pandas as pd

__all__ = ["flow_counts"]

_FILES = {"NPR": "npr.episodes", "KPR": "kpr_kuhr.claims"}


def flow_counts(read_summary: pd.DataFrame, linkage_flow: pd.DataFrame) -> pd.DataFrame:
    """``stage, register, n``: delivered rows, excluded at read, rows kept, persons,
    linked by key, linked by model, unlinked.

    Parameters
    ----------
    read_summary : pandas.DataFrame
        ``Delivery.report.summary()`` (``contract``, ``rows_in``, ``excluded``, ``kept``).
    linkage_flow : pandas.DataFrame
        ``LinkageReport.flow`` (with model links: the cohort's linkage report).

    Examples
    --------
    >>> read = pd.DataFrame({"contract": ["npr.episodes", "kpr_kuhr.claims"],
    ...                      "rows_in": [10, 20], "excluded": [1, 0], "kept": [9, 20]})
    >>> flow = pd.DataFrame({"step": ["NPR persons", "KPR persons",
    ...     "NPR persons found in key", "KPR persons with an NPR partner in key"],
    ...     "n": [5, 8, 4, 4]})
    >>> flow_counts(read, flow).query("register == 'NPR'")["n"].tolist()
    [10, 1, 9, 5, 4, 0, 1]
    """
    f = linkage_flow.set_index("step")["n"]
    model = int(f.get("persons linked by model", 0))
    rows = []
    for reg, contract in _FILES.items():
        r = read_summary[read_summary["contract"] == contract]
        rows_in = int(r["rows_in"].sum()) if len(r) else 0
        excl = int(r["excluded"].sum()) if len(r) else 0
        kept = int(r["kept"].sum()) if len(r) else 0
        persons = int(f.get(f"{reg} persons", 0))
        key = int(f.get("NPR persons found in key" if reg == "NPR"
                        else "KPR persons with an NPR partner in key", 0))
        rows += [("delivered rows", reg, rows_in), ("excluded at read", reg, excl),
                 ("rows kept", reg, kept), ("persons", reg, persons),
                 ("linked by key", reg, key), ("linked by model", reg, model),
                 ("unlinked", reg, max(persons - key - model, 0))]
    return pd.DataFrame(rows, columns=["stage", "register", "n"])
