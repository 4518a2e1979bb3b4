"""Magnitude tables as the reference treats them (issue 13 item 10)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import linprog

import kprlink as kl

RULES = [kl.DominanceRule(n=1, k=80), kl.DominanceRule(n=2, k=99)]


def _micro() -> pd.DataFrame:
    # region x kind of bed-days by hospital; hospital 1 alone makes N/a, and N/b is
    # dominated by two hospitals (2, 3) together (99 %) but by neither alone (80 %)
    rows = [("N", "a", 1, 500), ("N", "b", 2, 300), ("N", "b", 3, 298), ("N", "b", 4, 2),
            ("N", "c", 5, 90), ("N", "c", 6, 80), ("N", "c", 7, 70),
            ("S", "a", 8, 60), ("S", "a", 9, 55), ("S", "a", 10, 50),
            ("S", "b", 11, 70), ("S", "b", 12, 65), ("S", "b", 13, 60),
            ("S", "c", 14, 80), ("S", "c", 15, 75), ("S", "c", 16, 70)]
    return pd.DataFrame(rows, columns=["region", "kind", "hosp", "days"])


def test_union_of_dominance_rules() -> None:
    res = kl.suppress_magnitude_table(_micro(), ["region", "kind"], value_col="days",
                                      contributor_col="hosp", rule=RULES)
    t = res.table.set_index(["region", "kind"])
    assert t.loc[("N", "a"), "status"] == "primary"
    assert "(1,80)" in t.loc[("N", "a"), "reason"]
    assert t.loc[("N", "b"), "status"] == "primary"   # only (2,99) flags it
    assert t.loc[("N", "b"), "reason"] == "(2,99)-dominance"
    one = kl.suppress_magnitude_table(_micro(), ["region", "kind"], value_col="days",
                                      contributor_col="hosp", rule=RULES[0])
    assert one.table.set_index(["region", "kind"]).loc[("N", "b"), "status"] != "primary"
    assert res.ok


def test_no_single_contributor_pins_a_neighbour() -> None:
    """Hospital 1 owns N/a: knowing its own 500 days it must not learn N/b from a margin."""
    res = kl.suppress_magnitude_table(_micro(), ["region", "kind"], value_col="days",
                                      contributor_col="hosp", rule=RULES)
    t = res.table
    cells = t[["region", "kind"]].astype(str)
    inner = [(r, k) for r in "NS" for k in "abc"]
    truth = _micro().groupby(["region", "kind"])["days"].sum()
    a_eq, b_eq = [], []
    for row, (r, k) in zip(t.itertuples(index=False), cells.itertuples(index=False),
                           strict=True):
        if row.status != "published":
            continue
        a_eq.append([float((r in ("Total", i[0])) and (k in ("Total", i[1]))) for i in inner])
        b_eq.append(float(row.days))
    # the contributor's own knowledge: N/a = 500
    a_eq.append([float(i == ("N", "a")) for i in inner])
    b_eq.append(float(truth[("N", "a")]))
    target = [float(i == ("N", "b")) for i in inner]
    lo = linprog(target, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs").fun
    hi = -linprog(-np.array(target), A_eq=a_eq, b_eq=b_eq, bounds=(0, None),
                  method="highs").fun
    # the (2,99) rule protects N/b by at least 10 % of its value (protection_pct)
    assert hi - lo >= 0.1 * truth[("N", "b")] - 1e-6
    off = kl.suppress_magnitude_table(_micro(), ["region", "kind"], value_col="days",
                                      contributor_col="hosp", rule=RULES, singletons=False)
    # without it hospital 1 subtracts its own 500 from the N margin and pins N/b
    st = off.table.set_index(["region", "kind"])["status"]
    assert st[("N", "c")] == "published" and st[("N", "a")] != "published"
