"""The reference cases of ../shared/sdc-cases (GaussSuppression runs), embedded as data.

Each case is the full table GaussSuppression wrote (margins labelled Total), with the
primary and suppressed flags and, where given, the LP intervals of its pattern. The inner
cells are the rows without Total. When ../shared/sdc-cases is present, the files there are
checked too.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kprlink as kl

CASES = {
    "C01": (
        ['age', 'geo'], 'freq', 1,
        """\
"age","geo","freq","primary","suppressed","audit_lo","audit_up","audit_lo_int","audit_up_int"
"Total","Total",20,FALSE,FALSE,,,,
"Total","Iceland",5,FALSE,FALSE,,,,
"Total","Portugal",4,FALSE,FALSE,,,,
"Total","Spain",11,FALSE,FALSE,,,,
"old","Total",13,FALSE,FALSE,,,,
"old","Iceland",3,FALSE,TRUE,3,5,3,5
"old","Portugal",4,FALSE,TRUE,2,4,2,4
"old","Spain",6,FALSE,FALSE,,,,
"young","Total",7,FALSE,FALSE,,,,
"young","Iceland",2,FALSE,TRUE,0,2,0,2
"young","Portugal",0,TRUE,TRUE,0,2,0,2
"young","Spain",5,FALSE,FALSE,,,,
""",
    ),
    "C06": (
        ['region', 'hovedint'], 'ant', 3,
        """\
"region","hovedint","ant","primary","suppressed"
"Total","Total",596,FALSE,FALSE
"Total","annet",72,FALSE,FALSE
"Total","arbeid",52,FALSE,FALSE
"Total","soshjelp",283,FALSE,FALSE
"Total","trygd",189,FALSE,FALSE
"A","Total",113,FALSE,FALSE
"A","annet",11,FALSE,FALSE
"A","arbeid",11,FALSE,FALSE
"A","soshjelp",55,FALSE,FALSE
"A","trygd",36,FALSE,FALSE
"B","Total",55,FALSE,FALSE
"B","annet",7,FALSE,TRUE
"B","arbeid",1,TRUE,TRUE
"B","soshjelp",29,FALSE,FALSE
"B","trygd",18,FALSE,FALSE
"C","Total",73,FALSE,FALSE
"C","annet",5,FALSE,FALSE
"C","arbeid",8,FALSE,FALSE
"C","soshjelp",35,FALSE,FALSE
"C","trygd",25,FALSE,FALSE
"D","Total",45,FALSE,FALSE
"D","annet",13,FALSE,TRUE
"D","arbeid",2,TRUE,TRUE
"D","soshjelp",17,FALSE,FALSE
"D","trygd",13,FALSE,FALSE
"E","Total",138,FALSE,FALSE
"E","annet",9,FALSE,FALSE
"E","arbeid",14,FALSE,FALSE
"E","soshjelp",63,FALSE,FALSE
"E","trygd",52,FALSE,FALSE
"F","Total",67,FALSE,FALSE
"F","annet",12,FALSE,FALSE
"F","arbeid",9,FALSE,FALSE
"F","soshjelp",24,FALSE,FALSE
"F","trygd",22,FALSE,FALSE
"G","Total",40,FALSE,FALSE
"G","annet",6,FALSE,FALSE
"G","arbeid",4,FALSE,FALSE
"G","soshjelp",22,FALSE,FALSE
"G","trygd",8,FALSE,FALSE
"H","Total",65,FALSE,FALSE
"H","annet",9,FALSE,TRUE
"H","arbeid",3,TRUE,TRUE
"H","soshjelp",38,FALSE,FALSE
"H","trygd",15,FALSE,FALSE
""",
    ),
    "C08": (
        ['kommune', 'diag'], 'freq', 4,
        """\
"kommune","diag","freq","primary","suppressed","audit_lo","audit_up","audit_lo_int","audit_up_int"
"Total","Total",191,FALSE,FALSE,,,,
"Total","v",30,FALSE,FALSE,,,,
"Total","w",34,FALSE,FALSE,,,,
"Total","x",38,FALSE,FALSE,,,,
"Total","y",42,FALSE,FALSE,,,,
"Total","z",47,FALSE,FALSE,,,,
"K1","Total",10,FALSE,FALSE,,,,
"K1","v",0,TRUE,TRUE,0,5,0,5
"K1","w",1,TRUE,TRUE,0,7,0,7
"K1","x",2,TRUE,TRUE,0,9,0,9
"K1","y",3,TRUE,TRUE,0,10,0,10
"K1","z",4,TRUE,TRUE,0,10,0,10
"K2","Total",35,FALSE,FALSE,,,,
"K2","v",5,FALSE,TRUE,0,5,0,5
"K2","w",6,FALSE,TRUE,0,7,0,7
"K2","x",7,FALSE,TRUE,0,9,0,9
"K2","y",8,FALSE,TRUE,1,11,1,11
"K2","z",9,FALSE,TRUE,3,13,3,13
"K3","Total",60,FALSE,FALSE,,,,
"K3","v",10,FALSE,FALSE,,,,
"K3","w",11,FALSE,FALSE,,,,
"K3","x",12,FALSE,FALSE,,,,
"K3","y",13,FALSE,FALSE,,,,
"K3","z",14,FALSE,FALSE,,,,
"K4","Total",86,FALSE,FALSE,,,,
"K4","v",15,FALSE,FALSE,,,,
"K4","w",16,FALSE,FALSE,,,,
"K4","x",17,FALSE,FALSE,,,,
"K4","y",18,FALSE,FALSE,,,,
"K4","z",20,FALSE,FALSE,,,,
""",
    ),
    "C11": (
        ['var1', 'var2'], 'values', 4,
        """\
var1,var2,values,primary,suppressed,suppressed_singletonNone,audit_lo[suppressed],audit_up[suppressed],audit_lo[suppressed_singletonNone],audit_up[suppressed_singletonNone]
Total,Total,72,False,False,False,,,,
Total,A,10,False,False,False,,,,
Total,B,10,False,False,False,,,,
Total,C,10,False,False,False,,,,
Total,D,21,False,False,False,,,,
Total,E,21,False,False,False,,,,
1,Total,13,False,False,False,,,,
1,A,1,True,True,True,0.0,1.0,1.0,1.0
1,B,1,True,True,True,0.0,1.0,1.0,1.0
1,C,1,True,True,True,0.0,1.0,1.0,1.0
1,D,5,False,False,False,,,,
1,E,5,False,True,False,5.0,8.0,,
2,Total,45,False,False,False,,,,
2,A,9,False,False,False,,,,
2,B,9,False,False,False,,,,
2,C,9,False,False,False,,,,
2,D,9,False,False,False,,,,
2,E,9,False,False,False,,,,
3,Total,14,False,False,False,,,,
3,A,0,True,True,True,0.0,1.0,0.0,-0.0
3,B,0,True,True,True,0.0,1.0,0.0,-0.0
3,C,0,True,True,True,0.0,1.0,0.0,-0.0
3,D,7,False,False,False,,,,
3,E,7,False,True,False,4.0,7.0,,
""",
    ),
}

SHARED = Path(__file__).resolve().parents[2] / "shared" / "sdc-cases"


def _case(case_id):
    dims, count_col, max_n, text = CASES[case_id]
    full = pd.read_csv(io.StringIO(text), dtype={d: str for d in dims})
    for col in ("primary", "suppressed", "suppressed_singletonNone"):
        if col in full:
            full[col] = full[col].astype(str).str.upper().eq("TRUE")
    inner = full.loc[~full[dims].eq("Total").any(axis=1), [*dims, count_col]]
    return dims, count_col, max_n, full, inner.reset_index(drop=True)


def _merged(res, full, dims):
    table = res.table.copy()
    for d in dims:
        table[d] = table[d].astype(str)
    merged = full.merge(table, on=dims, suffixes=("_ref", ""), validate="one_to_one")
    assert len(merged) == len(full) == len(table)
    return merged


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_pattern_matches_gauss_suppression(case_id):
    dims, count_col, max_n, full, inner = _case(case_id)
    res = kl.suppress_table(inner, dims, count_col=count_col,
                            rule=kl.SuppressionRule(max_n=max_n))
    m = _merged(res, full, dims)
    np.testing.assert_array_equal(m[f"{count_col}_ref"], m[count_col])
    np.testing.assert_array_equal(m["primary"], m["status"].eq("primary"))
    np.testing.assert_array_equal(m["suppressed"], m["status"].ne("published"))
    assert res.ok
    assert (res.audit["width"] > 0).all()


@pytest.mark.parametrize("case_id", ["C01", "C08"])
def test_own_audit_matches_reference_intervals(case_id):
    dims, count_col, max_n, full, inner = _case(case_id)
    res = kl.suppress_table(inner, dims, count_col=count_col,
                            rule=kl.SuppressionRule(max_n=max_n))
    # the exact audit of the pattern (both ends of every cell) gives the reference's
    # intervals; the suppression's own audit, which stops once feasible tables show a
    # cell wide enough, gives intervals inside them
    exact = kl.audit_table(res.table.assign(suppressed=res.table["status"] != "published"),
                           dims, count_col=count_col)
    for is_exact, aud in ((True, exact), (False, res.audit)):
        aud = aud.astype({d: str for d in dims})
        m = full.loc[full["suppressed"]].merge(aud, on=dims, validate="one_to_one")
        assert len(m) == int(full["suppressed"].sum())
        if not is_exact:
            assert (m["lower"] >= m["audit_lo"] - 1e-9).all()
            assert (m["upper"] <= m["audit_up"] + 1e-9).all()
            assert (m["width"] >= 1).all()
            continue
        np.testing.assert_allclose(m["lower"], m["audit_lo"])
        np.testing.assert_allclose(m["upper"], m["audit_up"])
        np.testing.assert_allclose(m["lower"], m["audit_lo_int"])
        np.testing.assert_allclose(m["upper"], m["audit_up_int"])


@pytest.mark.parametrize(("column", "lo", "up"), [
    ("suppressed", "audit_lo[suppressed]", "audit_up[suppressed]"),
    ("suppressed_singletonNone", "audit_lo[suppressed_singletonNone]",
     "audit_up[suppressed_singletonNone]"),
])
def test_audit_table_reproduces_reference_intervals_c11(column, lo, up):
    dims, count_col, _, full, _ = _case("C11")
    aud = kl.audit_table(full, dims, count_col=count_col, suppressed_col=column)
    ref = full.loc[full[column]].reset_index(drop=True)
    np.testing.assert_array_equal(aud[dims].to_numpy(), ref[dims].to_numpy())
    np.testing.assert_allclose(aud["lower"], ref[lo].astype(float) + 0.0)
    np.testing.assert_allclose(aud["upper"], ref[up].astype(float) + 0.0)
    # without singleton handling every suppressed cell is exactly disclosed
    assert aud["ok"].all() == (column == "suppressed")


def test_c11_singletons_off_pattern_is_primaries_only_and_refused():
    dims, count_col, max_n, full, inner = _case("C11")
    rule = kl.SuppressionRule(max_n=max_n, singletons=False)
    plain = kl.suppress_table(inner, dims, count_col=count_col, rule=rule, audit=False)
    m = _merged(plain, full, dims)
    np.testing.assert_array_equal(m["suppressed_singletonNone"], m["status"].ne("published"))
    assert not plain.ok  # not audited: never ok
    with pytest.raises(kl.ReleaseRefusedError):
        kl.render_table(plain)
    # with the audit, the repair loop finds more cells to hide until nothing is pinned
    repaired = kl.suppress_table(inner, dims, count_col=count_col, rule=rule)
    assert repaired.ok and repaired.n_repairs >= 1
    assert (repaired.audit["width"] >= 1).all()


def test_c06_secondary_set_as_in_gauss_suppression_test():
    dims, count_col, max_n, full, inner = _case("C06")
    res = kl.suppress_table(inner, dims, count_col=count_col,
                            rule=kl.SuppressionRule(max_n=max_n))
    hidden = res.table.loc[res.table["status"] == "secondary", dims].astype(str)
    assert sorted(map(tuple, hidden.to_numpy())) == [
        ("B", "annet"), ("D", "annet"), ("H", "annet")]


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/sdc-cases not present")
@pytest.mark.parametrize("case_id", sorted(CASES))
def test_shared_files_agree(case_id):
    dims, count_col, max_n, full, _ = _case(case_id)
    files = sorted(SHARED.glob(f"{case_id}_*_input.csv"))
    assert files
    inner = pd.read_csv(files[0], dtype={d: str for d in dims})
    res = kl.suppress_table(inner, dims, count_col=count_col,
                            rule=kl.SuppressionRule(max_n=max_n))
    m = _merged(res, full, dims)
    np.testing.assert_array_equal(m["suppressed"], m["status"].ne("published"))


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_linked_with_one_table_equals_suppress_table(case_id):
    dims, count_col, max_n, full, inner = _case(case_id)
    rule = kl.SuppressionRule(max_n=max_n)
    single = kl.suppress_table(inner, dims, count_col=count_col, rule=rule)
    (linked,) = kl.suppress_linked_tables(inner, [kl.LinkedTable(tuple(dims))],
                                          count_col=count_col, rule=rule)
    np.testing.assert_array_equal(single.table["status"].astype(str),
                                  linked.table["status"].astype(str))
    np.testing.assert_allclose(single.audit["lower"], linked.audit["lower"])
    np.testing.assert_allclose(single.audit["upper"], linked.audit["upper"])
