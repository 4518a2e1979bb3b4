"""Joint protection of a study's tables over common atoms of persons (issue 13, items 3-6).

The outsider here is written independently of the suppression code: it knows only the
released numbers, that both tables count the same persons, and how the age bands nest,
and solves its own LP over the finest cells (age band of the finer cut x sex).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from kprlink.analyses._registry import AnalysisTable
from kprlink.disclosure import SuppressionRule, suppress_table
from kprlink.disclosure.joint import StudyTable, protect_study

RULE = SuppressionRule(max_n=4, protect_zeros=False)
FINE = ["Under 60", "60-64", "65-74", "75+"]
COARSE = {"0-64": ["Under 60", "60-64"], "65-74": ["65-74"], "75+": ["75+"]}
SEXES = ["f", "m"]


def _persons(counts: dict[tuple[str, str], int]) -> pd.DataFrame:
    rows = [(a, s) for (a, s), k in counts.items() for _ in range(k)]
    p = pd.DataFrame(rows, columns=["age", "sex"])
    p["person_id"] = np.arange(len(p), dtype=np.int64)
    p["age_coarse"] = p["age"].map({f: c for c, fs in COARSE.items() for f in fs})
    return p


COUNTS = {("Under 60", "f"): 2, ("Under 60", "m"): 1, ("60-64", "f"): 17,
          ("60-64", "m"): 11, ("65-74", "f"): 12, ("65-74", "m"): 6,
          ("75+", "f"): 6, ("75+", "m"): 5}


def _tables(p: pd.DataFrame) -> tuple[AnalysisTable, AnalysisTable]:
    a = AnalysisTable.from_persons(p, {"age": FINE, "sex": SEXES})
    b = AnalysisTable.from_persons(p.rename(columns={"age_coarse": "band"})
                                   [["person_id", "band"]], {"band": list(COARSE)})
    return a, b


def _outsider(a_shown: pd.DataFrame, b_shown: pd.DataFrame) -> dict[tuple[str, str], tuple]:
    """Interval of every hidden cell of both tables from everything shown."""
    var = [(f, s) for f in FINE for s in SEXES]

    def row_a(age: str, sex: str) -> np.ndarray:
        return np.array([(age in ("Total", f)) and (sex in ("Total", s)) for f, s in var],
                        dtype=float)

    def row_b(band: str) -> np.ndarray:
        fs = FINE if band == "Total" else COARSE[band]
        return np.array([f in fs for f, _ in var], dtype=float)

    eqs, hidden = [], {}
    for r in a_shown.itertuples(index=False):
        (eqs.append((row_a(r.age, r.sex), r.n)) if pd.notna(r.n)
         else hidden.__setitem__(("a", f"{r.age}/{r.sex}"), row_a(r.age, r.sex)))
    for r in b_shown.itertuples(index=False):
        (eqs.append((row_b(r.band), r.n)) if pd.notna(r.n)
         else hidden.__setitem__(("b", r.band), row_b(r.band)))
    a_eq = np.array([e for e, _ in eqs])
    b_eq = np.array([float(v) for _, v in eqs])
    out = {}
    for key, c in hidden.items():
        lo = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs").fun
        hi = -linprog(-c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs").fun
        out[key] = (lo, hi)
    return out


def _shown(df: pd.DataFrame, hidden: pd.Series, count: str = "n") -> pd.DataFrame:
    out = df.copy()
    out[count] = out[count].astype("Int64").mask(hidden.to_numpy())
    return out


def test_tables_protected_one_by_one_leak_and_jointly_do_not() -> None:
    p = _persons(COUNTS)
    a, b = _tables(p)
    # one by one: each table alone is safe, together they are not
    ra = suppress_table(a.cells, ["age", "sex"], count_col="n", rule=RULE)
    rb = suppress_table(b.cells, ["band"], count_col="n", rule=RULE)
    a1 = ra.released.astype({"age": str, "sex": str})
    b1 = rb.released.astype({"band": str})
    one_by_one = _outsider(a1, b1)
    assert min(hi - lo for lo, hi in one_by_one.values()) < 1 - 1e-9
    # jointly: nothing the outsider computes is narrower than 1
    res = protect_study([StudyTable("a", a.cells, a.dims, persons=a.persons),
                         StudyTable("b", b.cells, b.dims, persons=b.persons)], RULE)
    ja, jb = res.tables["a"], res.tables["b"]
    joint = _outsider(_shown(ja, ja["status"] != "published"),
                      _shown(jb, jb["status"] != "published"))
    assert joint and min(hi - lo for lo, hi in joint.values()) >= 1 - 1e-9
    assert res.ok
    # our own audit agrees with the outsider's intervals (the outsider may see wider)
    for t, df in (("a", ja), ("b", jb)):
        for r in df[df["status"] != "published"].itertuples(index=False):
            key = (t, f"{r.age}/{r.sex}") if t == "a" else (t, r.band)
            lo, hi = joint[key]
            assert lo <= r.lower + 1e-6 and r.upper <= hi + 1e-6


def test_left_out_count_is_protected_with_the_tables() -> None:
    p = _persons(COUNTS)
    a, b = _tables(p)
    # table b leaves out the two youngest persons (say, unknown municipality)
    keep = ~p["person_id"].isin(p.loc[p["age"] == "60-64", "person_id"].iloc[:2])
    b2 = AnalysisTable.from_persons(p[keep].rename(columns={"age_coarse": "band"})
                                    [["person_id", "band"]], {"band": list(COARSE)})
    res = protect_study([StudyTable("a", a.cells, a.dims, persons=a.persons),
                         StudyTable("b", b2.cells, b2.dims, persons=b2.persons)], RULE,
                        universe=p["person_id"])
    lo = res.left_out["b"]
    assert lo["n"] == 2 and lo["status"] == "primary"
    assert lo["upper"] - lo["lower"] >= 1
    # the grand totals of a and b differ by the left-out count: one must be hidden
    tot_a = res.tables["a"].query("age == 'Total' and sex == 'Total'")["status"].iloc[0]
    tot_b = res.tables["b"].query("band == 'Total'")["status"].iloc[0]
    assert "published" in (tot_a, tot_b) and (tot_a, tot_b) != ("published", "published")


def test_value_cells_are_judged_by_their_contributors() -> None:
    rng = np.random.default_rng(3)
    p = pd.DataFrame({"person_id": np.arange(60, dtype=np.int64),
                      "age": np.repeat(["65-74", "75-84", "85+"], 20)})
    visits = np.zeros(60, dtype=np.int64)
    visits[[0, 1, 2]] = 2           # 65-74: 3 persons, 6 visits: too few contributors
    visits[20] = 40                 # 75-84: one person with 40 of 45 visits: dominance
    visits[21:26] = 1
    visits[40:60] = rng.integers(1, 4, 20)  # 85+: 20 persons: publishable
    p["home_visit"] = visits
    t = AnalysisTable.from_persons(p, {"age": ["65-74", "75-84", "85+"]},
                                   value_cols=("home_visit",))
    res = protect_study([StudyTable("t", t.cells, t.dims, persons=t.persons,
                                    value_cols=("home_visit",))], RULE)
    df = res.tables["t"].set_index("age")
    assert df.loc["65-74", "home_visit_reason"] == "contributors<=4"
    assert df.loc["75-84", "home_visit_reason"].startswith("(1,80")
    # two hidden values under a shown total: each stays open
    hidden = df[df["home_visit_status"] != "published"]
    assert len(hidden) == 2 and ((hidden["home_visit_upper"]
                                  - hidden["home_visit_lower"]) >= 1).all()
    assert (df["status"] == "published").all()  # the person counts are large


def test_population_bounds_narrow_the_audit() -> None:
    p = _persons({("Under 60", "f"): 3, ("Under 60", "m"): 40, ("60-64", "f"): 50,
                  ("60-64", "m"): 60})
    a = AnalysisTable.from_persons(p, {"age": ["Under 60", "60-64"], "sex": SEXES})
    pop = a.cells[["age", "sex"]].assign(population=[3, 200, 400, 400])
    res = protect_study([StudyTable("a", a.cells, a.dims, persons=a.persons,
                                    population=pop)], RULE)
    df = res.tables["a"].set_index(["age", "sex"])
    # 3 of a population of 3: primary by count and complement; its interval stops at 3
    assert df.loc[("Under 60", "f"), "status"] == "primary"
    assert df.loc[("Under 60", "f"), "upper"] <= 3
    assert res.ok


def test_empty_cells_are_not_pinned_by_the_model() -> None:
    # an empty municipality whose population is 2: the complement 2 - 0 is small,
    # so the 0 is hidden, and it must stay open although no person lives there
    p = pd.DataFrame({"person_id": np.arange(30, dtype=np.int64),
                      "muni": ["0301"] * 20 + ["1103"] * 10})
    t = AnalysisTable.from_persons(p, {"muni": ["0301", "1103", "1811"]})
    pop = pd.DataFrame({"muni": ["0301", "1103", "1811"], "population": [500, 300, 2]})
    res = protect_study([StudyTable("m", t.cells, t.dims, persons=t.persons,
                                    population=pop)], RULE)
    row = res.tables["m"].set_index("muni").loc["1811"]
    assert row["status"] == "primary" and row["upper"] - row["lower"] >= 1
    assert res.ok


def test_stays_count_contributors_not_rows() -> None:
    # 6 stays of 2 persons in one cell: the count 6 is shown only if 5+ persons
    p = pd.DataFrame({"person_id": np.array([1, 1, 1, 2, 2, 2] + list(range(10, 30)),
                                            dtype=np.int64),
                      "timing": ["both"] * 6 + ["neither"] * 20})
    t = AnalysisTable.from_persons(p, {"timing": ["both", "neither"]})
    res = protect_study([StudyTable("s", t.cells, t.dims, persons=t.persons)], RULE)
    row = res.tables["s"].set_index("timing").loc["both"]
    assert row["n"] == 6 and row["contributors"] == 2
    assert row["reason"] == "contributors<=4"


@pytest.mark.parametrize("seed", range(5))
def test_random_studies_leave_nothing_narrow(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(40, 200))
    age = rng.choice(FINE, n, p=[0.05, 0.15, 0.3, 0.5])
    p = pd.DataFrame({"person_id": np.arange(n, dtype=np.int64), "age": age,
                      "sex": rng.choice(SEXES, n)})
    p["age_coarse"] = p["age"].map({f: c for c, fs in COARSE.items() for f in fs})
    a, b = _tables(p)
    res = protect_study([StudyTable("a", a.cells, a.dims, persons=a.persons),
                         StudyTable("b", b.cells, b.dims, persons=b.persons)], RULE)
    ja, jb = res.tables["a"], res.tables["b"]
    got = _outsider(_shown(ja, ja["status"] != "published"),
                    _shown(jb, jb["status"] != "published"))
    assert all(hi - lo >= 1 - 1e-9 for lo, hi in got.values())
    small = pd.concat([ja["n"], jb["n"]])
    shown = pd.concat([ja["status"], jb["status"]]) == "published"
    assert not (shown & (small >= 1) & (small <= 4)).any()


def test_disclosure_imports_run_one_way() -> None:
    """Audit and suppression below, release on top: no module imports one above it."""
    import ast
    from pathlib import Path

    import kprlink.disclosure as d

    root = Path(d.__file__).parent

    def imports(name: str) -> set[str]:
        tree = ast.parse((root / f"{name}.py").read_text())
        out = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                out.add(node.module.rsplit(".", 1)[-1])
        return out

    assert "release" not in imports("secondary")
    assert "secondary" not in imports("release")
    assert not {"release", "joint", "outsider"} & imports("audit")
    assert "outsider" not in imports("joint")


def test_a_later_release_of_a_nested_population_does_not_reveal_the_difference() -> None:
    from kprlink.disclosure.joint import PriorRelease

    counts = {(a, s): 12 + 3 * i for i, (a, s) in enumerate(
        (a, s) for a in FINE for s in SEXES)}
    p = _persons(counts)
    a = AnalysisTable.from_persons(p, {"age": FINE, "sex": SEXES})
    first = protect_study([StudyTable("a", a.cells, a.dims, persons=a.persons)], RULE)
    assert (first.tables["a"]["status"] == "published").all()
    ledger = PriorRelease(first.published, first.members)
    # the same cohort minus one exclusion criterion that hits one person (75+, f)
    gone = p.loc[(p["age"] == "75+") & (p["sex"] == "f"), "person_id"].iloc[0]
    a2 = AnalysisTable.from_persons(p[p["person_id"] != gone], {"age": FINE, "sex": SEXES})
    alone = protect_study([StudyTable("a", a2.cells, a2.dims, persons=a2.persons)], RULE)
    assert (alone.tables["a"]["status"] == "published").all()  # alone it looks safe
    second = protect_study([StudyTable("a", a2.cells, a2.dims, persons=a2.persons)], RULE,
                           prior=ledger)
    t = second.tables["a"].set_index(["age", "sex"])
    for cell in [("75+", "f"), ("75+", "Total"), ("Total", "f"), ("Total", "Total")]:
        assert t.loc[cell, "status"] != "published", cell  # else new - old = 1 person
    assert second.ok
    # cells the person was never in may still be published
    assert (t["status"] == "published").any()


def test_the_ledger_must_match_the_delivery() -> None:
    from kprlink.disclosure.joint import PriorRelease
    from kprlink.exceptions import DisclosureError

    p = _persons(COUNTS)
    a, _ = _tables(p)
    first = protect_study([StudyTable("a", a.cells, a.dims, persons=a.persons)], RULE)
    wrong = PriorRelease(first.published.assign(value=first.published["value"] + 1),
                         first.members)
    with pytest.raises(DisclosureError, match="ledger"):
        protect_study([StudyTable("a", a.cells, a.dims, persons=a.persons)], RULE,
                      prior=wrong)


def test_left_out_counts_only_persons_of_the_universe() -> None:
    # a table of cases (universe: persons 0-29) and controls (100-159) drawn from outside it
    persons = pd.DataFrame({"person_id": [*range(20), *range(100, 160)],
                            "group": ["case"] * 20 + ["control"] * 60})
    t = StudyTable("t", pd.DataFrame({"group": ["case", "control"], "n": [20, 60]}),
                   ("group",), persons=persons)
    res = protect_study([t], RULE, universe=np.arange(30))
    assert res.left_out["t"]["n"] == 10  # persons 20-29; the controls are no cohort members
    assert res.ok
