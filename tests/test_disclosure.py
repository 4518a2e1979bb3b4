"""Unit tests of kprlink.disclosure: rules, suppress_table, audit, frequency tables."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import kprlink as kl
from kprlink.disclosure._gauss import gauss_secondary


def _cells():
    return pd.DataFrame({
        "sex": ["F", "F", "F", "M", "M", "M"],
        "age": ["<60", "60-79", "80+"] * 2,
        "n": [2, 40, 55, 30, 61, 12],
    })


def _published_values_are_true(res):
    rel = res.released[res.count_col]
    shown = rel.notna().to_numpy()
    np.testing.assert_array_equal(rel[shown].to_numpy(dtype=np.int64),
                                  res.table[res.count_col].to_numpy()[shown])
    return shown


# --- SuppressionRule ---------------------------------------------------------------

def test_rule_presets_and_name():
    assert kl.SuppressionRule.ssb_fewer_than_3().max_n == 2
    assert kl.SuppressionRule.under_5().max_n == 4
    assert kl.SuppressionRule.under_5().name == "under 5"
    rule = kl.SuppressionRule(max_n=3, protect_zeros=False)
    assert rule.name == "counts 1-3 suppressed, zeros published"
    assert rule.digest != kl.SuppressionRule(max_n=3).digest
    assert rule.to_dict()["max_n"] == 3


@pytest.mark.parametrize("kwargs", [
    {"max_n": -1}, {"max_n": 2.5}, {"max_n": True}, {"max_n": 3, "protect_zeros": "yes"},
    {"max_n": 3, "min_width": -1},
])
def test_rule_invalid(kwargs):
    with pytest.raises(kl.SpecError) as err:
        kl.SuppressionRule(**kwargs)
    assert len(err.value.problems) == 1


def test_rule_collects_all_problems():
    with pytest.raises(kl.SpecError) as err:
        kl.SuppressionRule(max_n=-2, protect_zeros=None, singletons=1)
    assert len(err.value.problems) == 3


def test_rule_primary_reasons():
    rule = kl.SuppressionRule(max_n=4)
    mask, reason = rule.primary(np.array([0, 1, 4, 5, 20, 97]), np.array([9, 9, 9, 9, 21, 100]))
    assert mask.tolist() == [True, True, True, True, True, True]
    assert reason.tolist() == ["zero", "count<=4", "count<=4", "denominator-count<=4",
                               "denominator-count<=4", "denominator-count<=4"]
    mask, _ = kl.SuppressionRule(max_n=4, protect_zeros=False).primary(np.array([0, 5]))
    assert mask.tolist() == [False, False]


def test_magnitude_rules():
    assert kl.DominanceRule(n=2, k=90).sensitive(np.array([50.0, 45.0, 5.0])) is True
    assert kl.DominanceRule(n=1, k=60).sensitive(np.array([50.0, 45.0, 5.0])) is False
    assert kl.DominanceRule().sensitive(np.array([0.0, 0.0])) is False
    assert kl.PPercentRule(p=10).sensitive(np.array([80.0])) is True
    assert kl.PPercentRule(p=10).sensitive(np.array([])) is False
    with pytest.raises(kl.SpecError) as err:
        kl.DominanceRule(n=0, k=120)
    assert len(err.value.problems) == 2
    with pytest.raises(kl.SpecError):
        kl.PPercentRule(p=0)


# --- suppress_table ----------------------------------------------------------------

def test_suppress_table_happy_path():
    cells = _cells()
    before = cells.copy()
    res = kl.suppress_table(cells, ["sex", "age"], count_col="n",
                            rule=kl.SuppressionRule(max_n=4))
    pd.testing.assert_frame_equal(cells, before)
    assert len(res.table) == 3 * 4  # (Total, F, M) x (Total + 3 ages)
    assert res.table.iloc[0][["sex", "age"]].tolist() == ["Total", "Total"]
    assert res.table.iloc[0]["n"] == cells["n"].sum()
    assert res.n_primary == 1 and res.n_secondary == 3
    shown = _published_values_are_true(res)
    assert not ((res.table["n"].to_numpy()[shown] >= 1)
                & (res.table["n"].to_numpy()[shown] <= 4)).any()
    assert res.ok and (res.audit["width"] >= 1).all()
    assert "1 primary, 3 secondary" in repr(res)
    assert res.summary().set_index("status")["n_cells"].to_dict() == {
        "published": 8, "primary": 1, "secondary": 3}
    assert set(res.table["status"].astype(str)) <= {"published", "primary", "secondary"}


def test_ordered_categorical_keeps_order_margins_first():
    cells = _cells()
    cells["age"] = pd.Categorical(cells["age"], categories=["80+", "60-79", "<60"],
                                  ordered=True)
    res = kl.suppress_table(cells, ["sex", "age"], count_col="n",
                            rule=kl.SuppressionRule(max_n=4))
    assert list(res.table["age"].cat.categories) == ["Total", "80+", "60-79", "<60"]
    assert res.table["age"].iloc[:4].tolist() == ["Total", "80+", "60-79", "<60"]


def test_missing_columns():
    with pytest.raises(kl.MissingColumnsError) as err:
        kl.suppress_table(_cells(), ["sex", "region"], count_col="count",
                          rule=kl.SuppressionRule(max_n=4))
    assert err.value.missing == ["region", "count"]


def test_bad_counts_collected():
    cells = _cells()
    cells["n"] = cells["n"].astype(float)
    cells.loc[0, "n"] = -1
    cells.loc[1, "n"] = 2.5
    cells.loc[2, "n"] = np.nan
    with pytest.raises(kl.DisclosureError) as err:
        kl.suppress_table(cells, ["sex", "age"], count_col="n",
                          rule=kl.SuppressionRule(max_n=4))
    (problem,) = err.value.problems
    assert problem.reason == "bad_count" and problem.n_rows == 3
    assert problem.rows == (1, 2, 3)


def test_all_na_counts():
    cells = _cells().assign(n=np.nan)
    with pytest.raises(kl.DisclosureError) as err:
        kl.suppress_table(cells, ["sex", "age"], count_col="n",
                          rule=kl.SuppressionRule(max_n=4))
    assert err.value.problems[0].n_rows == 6


def test_duplicate_cells_reserved_label_and_missing_codes():
    cells = pd.concat([_cells(), _cells().iloc[[0]]], ignore_index=True)
    with pytest.raises(kl.DisclosureError) as err:
        kl.suppress_table(cells, ["sex", "age"], count_col="n",
                          rule=kl.SuppressionRule(max_n=4))
    assert err.value.problems[0].reason == "duplicate_cell"
    assert err.value.problems[0].rows == (1, 7)
    cells = _cells()
    cells.loc[0, "age"] = "Total"
    cells.loc[1, "sex"] = None
    with pytest.raises(kl.DisclosureError) as err:
        kl.suppress_table(cells, ["sex", "age"], count_col="n",
                          rule=kl.SuppressionRule(max_n=4))
    assert sorted(p.reason for p in err.value.problems) == ["missing_code", "reserved_label"]


def test_rule_must_be_a_rule():
    with pytest.raises(kl.DisclosureError):
        kl.suppress_table(_cells(), ["sex", "age"], count_col="n", rule=4)


def test_empty_frame():
    cells = _cells().iloc[0:0]
    res = kl.suppress_table(cells, ["sex", "age"], count_col="n",
                            rule=kl.SuppressionRule(max_n=4))
    assert len(res.table) == 0 and len(res.audit) == 0 and res.ok


def test_single_group():
    cells = pd.DataFrame({"sex": ["F"], "n": [3]})
    res = kl.suppress_table(cells, ["sex"], count_col="n", rule=kl.SuppressionRule(max_n=4))
    # the total equals the only cell: both primary
    assert res.table["status"].astype(str).tolist() == ["primary", "primary"]
    assert res.released["n"].isna().all()


def test_one_dim_needs_a_second_suppression():
    cells = pd.DataFrame({"g": list("abcd"), "n": [3, 10, 20, 30]})
    res = kl.suppress_table(cells, ["g"], count_col="n", rule=kl.SuppressionRule(max_n=4))
    status = dict(zip(res.table["g"].astype(str), res.table["status"].astype(str)))
    assert status == {"Total": "published", "a": "primary", "b": "secondary",
                      "c": "published", "d": "published"}
    row = res.audit.set_index("g").loc["a"]
    # the audit stops once feasible tables show the cell wide enough: an inner bound
    assert 0.0 <= row["lower"] <= 3 <= row["upper"] <= 13.0
    assert row["exact"] or row["upper"] - row["lower"] >= 1
    t = res.table.assign(suppressed=res.table["status"] != "published")
    exact = kl.audit_table(t, ["g"], count_col="n").set_index("g").loc["a"]
    assert (exact["lower"], exact["upper"]) == (0.0, 13.0)


def test_zeros_not_protected_are_published_and_not_secondary():
    cells = pd.DataFrame({"g": ["a", "a", "b", "b"], "h": ["x", "y"] * 2, "n": [0, 3, 8, 9]})
    res = kl.suppress_table(cells, ["g", "h"], count_col="n",
                            rule=kl.SuppressionRule(max_n=4, protect_zeros=False))
    st = res.table.set_index(["g", "h"])["status"].astype(str)
    assert st[("a", "x")] == "published"
    assert st[("a", "y")] == "primary"
    assert res.ok
    res = kl.suppress_table(cells, ["g", "h"], count_col="n",
                            rule=kl.SuppressionRule(max_n=4))
    assert res.table.set_index(["g", "h"]).loc[("a", "x"), "reason"] == "zero"


def test_denominator_rule():
    cells = pd.DataFrame({"g": list("abc"), "n": [48, 30, 25], "pop": [50, 60, 70]})
    res = kl.suppress_table(cells, ["g"], count_col="n", rule=kl.SuppressionRule(max_n=4),
                            denominator_col="pop")
    t = res.table.set_index("g")
    assert t.loc["a", "status"] == "primary"
    assert t.loc["a", "reason"] == "denominator-count<=4"
    assert res.released["pop"].notna().all()
    off = kl.SuppressionRule(max_n=4, protect_differences=False)
    res = kl.suppress_table(cells, ["g"], count_col="n", rule=off, denominator_col="pop")
    assert res.n_primary == 0


def test_primary_col_marks_more_cells():
    cells = _cells().assign(dominated=[False, False, True, False, False, False])
    res = kl.suppress_table(cells, ["sex", "age"], count_col="n",
                            rule=kl.SuppressionRule(max_n=4), primary_col="dominated")
    t = res.table.set_index(["sex", "age"])
    assert t.loc[("F", "80+"), "status"] == "primary"
    assert t.loc[("F", "80+"), "reason"] == "dominated"
    with pytest.raises(kl.MissingColumnsError) as err:
        kl.suppress_table(_cells(), ["sex", "age"], count_col="n",
                          rule=kl.SuppressionRule(max_n=4), primary_col="nope")
    assert err.value.missing == ["nope"]


def test_hierarchy_municipality_in_county():
    hier = {"0301": "03", "1101": "11", "1103": "11", "1106": "11"}
    cells = pd.DataFrame({
        "kommune": ["0301", "0301", "1101", "1101", "1103", "1103", "1106", "1106"],
        "sex": ["F", "M"] * 4,
        "n": [120, 110, 2, 14, 40, 38, 25, 27],
    })
    res = kl.suppress_table(cells, ["kommune", "sex"], count_col="n",
                            rule=kl.SuppressionRule(max_n=4), hierarchies={"kommune": hier})
    t = res.table.set_index(["kommune", "sex"])
    order = list(res.table["kommune"].cat.categories)
    assert order == ["Total", "03", "0301", "11", "1101", "1103", "1106"]
    assert t.loc[("11", "F"), "n"] == 2 + 40 + 25
    assert t.loc[("03", "Total"), "n"] == 230
    assert t.loc[("1101", "F"), "status"] == "primary"
    assert res.ok
    assert (res.audit["width"] >= 1).all()
    # the county 03 has one municipality: its cells equal the municipality's cells
    assert t.loc[("03", "F"), "status"] == t.loc[("0301", "F"), "status"]


def test_hierarchy_errors():
    with pytest.raises(kl.DisclosureError):
        kl.suppress_table(_cells(), ["sex", "age"], count_col="n",
                          rule=kl.SuppressionRule(max_n=4), hierarchies={"region": {}})
    with pytest.raises(kl.DisclosureError):
        kl.suppress_table(_cells(), ["sex", "age"], count_col="n",
                          rule=kl.SuppressionRule(max_n=4),
                          hierarchies={"age": {"<60": "x", "x": "<60"}})


def test_three_way_table():
    rng = np.random.default_rng(7)
    idx = pd.MultiIndex.from_product([list("abc"), list("FM"), list("xyz")],
                                     names=["a", "s", "r"])
    cells = idx.to_frame(index=False).assign(n=rng.integers(0, 12, len(idx)))
    res = kl.suppress_table(cells, ["a", "s", "r"], count_col="n",
                            rule=kl.SuppressionRule(max_n=3))
    assert len(res.table) == 4 * 3 * 4
    assert res.ok
    shown = _published_values_are_true(res)
    vals = res.table["n"].to_numpy()[shown]
    assert not ((vals >= 0) & (vals <= 3)).any()


def test_no_audit_is_not_ok():
    res = kl.suppress_table(_cells(), ["sex", "age"], count_col="n",
                            rule=kl.SuppressionRule(max_n=4), audit=False)
    assert res.audit is None and not res.ok
    assert res.problems() and "not audited" in repr(res)


def test_gauss_parallel_check_with_scaled_rows():
    # cells: a, b, a+b, a+2b-like via duplicate margins; protected a; candidate a+b then b
    members = [np.array([0]), np.array([1]), np.array([0, 1])]
    sec = gauss_secondary(members, 2, protected=np.array([True, False, False]),
                          order=np.array([2, 1, 0]))
    assert sec.tolist() == [False, True, False]


def test_no_warnings_raised():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kl.suppress_table(_cells(), ["sex", "age"], count_col="n",
                          rule=kl.SuppressionRule(max_n=4))


# --- audit_table ---------------------------------------------------------------------

def test_audit_table_detects_exact_disclosure():
    t = pd.DataFrame({"g": ["Total", "a", "b", "c"], "n": [12, 2, 4, 6],
                      "suppressed": [False, True, False, False]})
    aud = kl.audit_table(t, ["g"], count_col="n")
    assert aud[["lower", "upper", "width"]].iloc[0].tolist() == [2.0, 2.0, 0.0]
    assert not aud["ok"].iloc[0]


def test_audit_table_errors():
    t = pd.DataFrame({"g": ["Total", "a", "b"], "n": [12, 2, 4], "suppressed": [0, 1, 1]})
    with pytest.raises(kl.DisclosureError) as err:
        kl.audit_table(t, ["g"], count_col="n")
    assert len(err.value.problems) == 1
    with pytest.raises(kl.MissingColumnsError) as err:
        kl.audit_table(t, ["g"], count_col="n", suppressed_col="hidden")
    assert err.value.missing == ["hidden"]


def test_audit_unbounded_when_no_margin_published():
    t = pd.DataFrame({"g": ["Total", "a", "b"], "n": [6, 2, 4],
                      "suppressed": [True, True, True]})
    aud = kl.audit_table(t, ["g"], count_col="n")
    assert np.isinf(aud["upper"]).all() and (aud["lower"] == 0).all() and aud["ok"].all()


# --- frequency_table -------------------------------------------------------------------

def test_frequency_table_contacts_and_persons():
    ev = pd.DataFrame({"pid": [1, 1, 2, 3, 4, None], "sex": ["F", "F", "F", "M", None, "M"],
                       "kind": ["gp", "gp", "gp", "er", "gp", "gp"]})
    before = ev.copy()
    contacts = kl.frequency_table(ev, ["sex", "kind"])
    assert contacts["n"].tolist() == [0, 3, 1, 1]
    assert contacts.attrs["excluded"] == {"missing_dim": 1}
    persons = kl.frequency_table(ev, ["sex", "kind"], person_col="pid", count_col="persons")
    assert persons["persons"].tolist() == [0, 2, 1, 0]
    pd.testing.assert_frame_equal(ev, before)


def test_frequency_table_categorical_zero_cells_and_margins():
    ev = pd.DataFrame({"age": pd.Categorical(["60", "61"], categories=["60", "61", "62"],
                                             ordered=True), "sex": ["F", "M"]})
    full = kl.frequency_table(ev, ["age", "sex"], margins=True,
                              hierarchies={"age": {"60": "60-64", "61": "60-64",
                                                   "62": "60-64"}})
    t = full.set_index(["age", "sex"])["n"]
    assert t[("Total", "Total")] == 2 and t[("60-64", "F")] == 1 and t[("62", "M")] == 0
    inner = kl.frequency_table(ev, ["age", "sex"])
    assert len(inner) == 6 and list(inner["age"].cat.categories) == ["60", "61", "62"]


def test_frequency_table_errors():
    ev = pd.DataFrame({"pid": [1, 1], "sex": ["F", "M"]})
    with pytest.raises(kl.DisclosureError) as err:
        kl.frequency_table(ev, ["sex"], person_col="pid")
    assert err.value.problems[0].reason == "person_in_several_cells"
    assert err.value.problems[0].n_rows == 1
    with pytest.raises(kl.MissingColumnsError) as err:
        kl.frequency_table(ev, ["sex", "age"], person_col="id")
    assert err.value.missing == ["age", "id"]
    with pytest.raises(kl.DisclosureError):
        kl.frequency_table(ev, [])


def test_frequency_table_empty():
    ev = pd.DataFrame({"sex": pd.Series([], dtype=object)})
    assert len(kl.frequency_table(ev, ["sex"])) == 0


# --- magnitude tables ----------------------------------------------------------------

def _hospital_days():
    return pd.DataFrame({"region": list("NNNNSSSS"), "kind": list("abababab"),
                         "hosp": [1, 2, 3, 7, 4, 5, 6, 8],
                         "days": [900, 40, 30, 45, 35, 30, 40, 50]})


def test_magnitude_dominance_and_p_percent():
    df = _hospital_days()
    before = df.copy()
    res = kl.suppress_magnitude_table(df, ["region", "kind"], value_col="days",
                                      contributor_col="hosp",
                                      rule=kl.DominanceRule(n=1, k=80))
    pd.testing.assert_frame_equal(df, before)
    t = res.table.set_index(["region", "kind"])
    assert t.loc[("N", "a"), "days"] == 930
    assert t.loc[("N", "a"), "status"] == "primary"  # 900 of 930 from one hospital
    assert t.loc[("S", "b"), "status"] != "primary"  # 40 and 50: no dominance
    assert t.loc[("N", "a"), "reason"] == "(1,80)-dominance"
    assert res.ok and res.released.loc[res.table["status"] != "published", "days"].isna().all()
    need = 0.10 * res.audit["days"]
    assert (res.audit["width"] >= need).all()
    p = kl.suppress_magnitude_table(df, ["region", "kind"], value_col="days",
                                    contributor_col="hosp", rule=kl.PPercentRule(p=10))
    pt = p.table.set_index(["region", "kind"])
    # two contributors: each can recover the other exactly -> sensitive
    assert pt.loc[("S", "b"), "status"] == "primary"
    # Total,b: 165 - 50 - 45 = 70 >= 10% of 50 -> not sensitive
    assert pt.loc[("Total", "b"), "reason"] != "p%-rule (p=10)"
    assert p.ok


def test_magnitude_errors():
    df = _hospital_days()
    with pytest.raises(kl.MissingColumnsError) as err:
        kl.suppress_magnitude_table(df, ["region"], value_col="cost", contributor_col="hosp",
                                    rule=kl.DominanceRule())
    assert err.value.missing == ["cost"]
    with pytest.raises(kl.DisclosureError):
        kl.suppress_magnitude_table(df, ["region"], value_col="days", contributor_col="hosp",
                                    rule=kl.SuppressionRule(max_n=4))
    bad = df.assign(days=df["days"].astype(float))
    bad.loc[2, "days"] = -5.0
    with pytest.raises(kl.DisclosureError) as err:
        kl.suppress_magnitude_table(bad, ["region"], value_col="days", contributor_col="hosp",
                                    rule=kl.DominanceRule())
    assert err.value.problems[0].rows == (3,)


def test_magnitude_missing_codes_are_reported():
    df = _hospital_days().astype({"region": object})
    df.loc[[1, 4], "region"] = None
    with pytest.raises(kl.DisclosureError) as err:
        kl.suppress_magnitude_table(df, ["region", "kind"], value_col="days",
                                    contributor_col="hosp", rule=kl.DominanceRule())
    (problem,) = err.value.problems
    assert problem.column == "region" and problem.rows == (2, 5) and problem.n_rows == 2


def test_repr_html_states_what_happened():
    res = kl.suppress_table(_cells(), ["sex", "age"], count_col="n",
                            rule=kl.SuppressionRule(max_n=4))
    page = res._repr_html_()
    assert "1 primary, 3 secondary" in page and "<table" in page


def _attacker_knows(res, known):
    """Audit as the contributor of `known` (a dims tuple) sees it: that cell is known."""
    t = res.table.copy()
    for d in res.dims:
        t[d] = t[d].astype(str)
    t["suppressed"] = (t["status"] != "published").to_numpy()
    key = t.set_index(list(res.dims)).index
    t.loc[(key == known), "suppressed"] = False
    return kl.audit_table(t, list(res.dims), count_col=res.count_col).set_index(
        list(res.dims))


@pytest.mark.parametrize("singletons", [True, False])
def test_singleton_cannot_recover_its_neighbour(singletons):
    cells = pd.DataFrame({"g": ["a"] * 4 + ["b"] * 4, "h": list("wxyz") * 2,
                          "n": [1, 3, 20, 30, 12, 15, 25, 40]})
    rule = kl.SuppressionRule(max_n=4, singletons=singletons)
    res = kl.suppress_table(cells, ["g", "h"], count_col="n", rule=rule)
    seen = _attacker_knows(res, ("a", "w"))
    width = seen.loc[("a", "x"), "width"]
    if singletons:
        assert width >= 1 and res.n_secondary == 4
    else:  # without singleton handling the contributor of the 1 learns the 3 exactly
        assert width == 0 and res.n_secondary == 2


def test_audit_public_linprog_path_gives_the_same_intervals(monkeypatch):
    # the warm-started solver uses scipy's private HiGHS bindings; the public
    # linprog(method="highs") fallback must give the same pattern and intervals
    from kprlink.disclosure import _lp as audit_mod

    rng = np.random.default_rng(3)
    cells = pd.DataFrame([(f"r{i}", f"c{j}", int(rng.choice([0, 1, 2, 3, 7, 12, 30])))
                          for i in range(6) for j in range(5)], columns=["r", "c", "n"])
    rule = kl.SuppressionRule(max_n=3)
    fast = kl.suppress_table(cells, ["r", "c"], count_col="n", rule=rule)
    monkeypatch.setattr(audit_mod, "_USE_PRIVATE_HIGHS", False)
    slow = kl.suppress_table(cells, ["r", "c"], count_col="n", rule=rule)
    assert (fast.table["status"].astype(str) == slow.table["status"].astype(str)).all()
    assert len(fast.audit) > 0
    assert (fast.audit["ok"] == slow.audit["ok"]).all()
    # the exact intervals (both ends solved) agree; the suppression's own audit stops
    # at feasible tables, which may differ between the solvers
    t = fast.table.assign(suppressed=fast.table["status"] != "published")
    slow_exact = kl.audit_table(t, ["r", "c"], count_col="n")
    monkeypatch.setattr(audit_mod, "_USE_PRIVATE_HIGHS", True)
    fast_exact = kl.audit_table(t, ["r", "c"], count_col="n")
    pd.testing.assert_frame_equal(fast_exact, slow_exact)
    inside = ((fast_exact["lower"].to_numpy() <= fast.audit["lower"].to_numpy() + 1e-9)
              & (fast.audit["upper"].to_numpy() <= fast_exact["upper"].to_numpy() + 1e-9))
    assert inside.all()
