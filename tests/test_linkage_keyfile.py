"""Key-file linkage and its report, on frames built in code."""

from __future__ import annotations

import pandas as pd
import pytest

from kprlink.exceptions import LinkageError, MissingColumnsError
from kprlink.linkage import LinkageReport, link_extracts

D = pd.Timestamp


def frames():
    """NPR ids 1-5, KPR ids 11-15 (+16 KPR-only); defects injected on purpose."""
    npr = pd.DataFrame({
        "npr_id": pd.array([1, 1, 2, 3, 4, 5, 5], dtype="Int64"),
        "date_in": pd.to_datetime(["2016-08-01", "2017-01-01", "2016-09-01", "2016-10-01",
                                   "2007-05-01", "2016-11-01", "2017-03-01"]),
        "sex": pd.array([1, 1, 2, 2, 1, 1, 1], dtype="Int16"),          # 3: sex conflict
        "birth_year": pd.array([1930, 1930, 1940, 1950, 1960, 1971, 1971], dtype="Int64"),
        "death_date": pd.to_datetime([None] * 7),
    })
    kpr = pd.DataFrame({
        "kpr_id": pd.array([11, 12, 13, 14, 15, 16], dtype="Int64"),
        "date": pd.to_datetime(["2016-08-02", "2016-09-02", "2016-10-02", "2016-12-01",
                                "2016-11-02", "2016-12-01"]),
        "sex": pd.array([1, 2, 1, 1, 1, 2], dtype="Int16"),
        "birth_year": pd.array([1930, 1940, 1950, 1960, 1970, 1980], dtype="Int64"),  # 5: year
        # person 12 died before their NPR event of 2016-09-01? no: before a later one
        "death_date": pd.to_datetime([None, None, None, None, "2017-01-31", None]),
    })
    key = pd.DataFrame({
        "npr_id": pd.array([1, 2, 3, 5, 5, 4], dtype="Int64"),
        "kpr_id": pd.array([11, 12, 13, 99, 15, 14], dtype="Int64"),      # 5: key conflict
        "delivery": ["k2021", "k2021", "k2021", "k2019", "k2021", "k2021"],
    })
    return npr, kpr, key


def test_link_extracts_persons_and_report():
    npr, kpr, key = frames()
    key = key[key["npr_id"] != 2].reset_index(drop=True)        # NPR 2 missing from key
    before = [f.copy() for f in (npr, kpr, key)]
    res = link_extracts(npr, kpr, key=key)
    for b, f in zip(before, (npr, kpr, key), strict=True):
        pd.testing.assert_frame_equal(b, f)
    p = res.persons.set_index("npr_id", drop=False)
    assert p.loc[5, "kpr_id"] == 15                              # latest delivery wins
    assert p.loc[2, "status"] == "npr_only" and pd.isna(p.loc[2, "kpr_id"])
    assert set(res.persons.loc[res.persons["status"] == "kpr_only", "kpr_id"]) == {12, 16}
    assert res.persons["person_id"].is_unique and len(res.persons) == 7
    rep = res.report
    assert isinstance(rep, LinkageReport)
    kc = rep.key_conflicts
    assert kc[["side", "id", "chosen"]].values.tolist() == [["npr_id", 5, 15]]
    assert kc.loc[0, "partners"] == [15, 99]
    dc = rep.demographic_conflicts.set_index("variable")
    assert p.loc[3, "sex_conflict"] and dc.loc["sex", "value_npr"] == 2
    assert dc.loc["sex", "resolved"] == 1 and p.loc[3, "sex"] == 1       # KPR wins
    assert dc.loc["birth_year", "value_kpr"] == 1970 and p.loc[5, "birth_year"] == 1970
    assert len(rep.demographic_conflicts) == 2
    after = rep.events_after_death.set_index("source")
    assert after.loc["npr", "n_rows"] == 1 and after.loc["kpr_kuhr", "n_rows"] == 0
    assert rep.outside_coverage.set_index("source").loc["npr", "n_rows"] == 1   # 2007 episode
    assert rep.n("NPR persons not in key (NPR-only)") == 1
    assert rep.n("key ids with more than one partner") == 1
    assert rep.n("persons in total") == len(res.persons)
    u = rep.unlinked_by_year.set_index(["source", "year"])
    assert u.loc[("npr", 2016), "n_rows_unlinked"] == 1
    assert u.loc[("kpr_kuhr", 2016), "n_persons_unlinked"] == 2     # 12 (no key) and 16
    assert repr(res) == "<LinkageResult npr×kpr: 4 linked, 1 unmatched left, 2 unmatched right>"
    s = res.summary()
    assert list(s.columns) == ["section", "item", "n"] and (s["n"] >= 0).all()


def test_kpr_id_with_two_npr_ids_keeps_smallest():
    npr, kpr, key = frames()
    key.loc[key["npr_id"] == 4, "kpr_id"] = 13                  # 3 and 4 both -> 13
    res = link_extracts(npr, kpr, key=key)
    kc = res.report.key_conflicts.set_index("side")
    assert kc.loc["kpr_id", "id"] == 13 and kc.loc["kpr_id", "chosen"] == 3
    p = res.persons.set_index("npr_id", drop=False)
    assert p.loc[3, "kpr_id"] == 13 and p.loc[4, "status"] == "npr_only"
    assert p.loc[4, "key_conflict"]


def test_delivery_order_overrides_names():
    npr, kpr, key = frames()
    res = link_extracts(npr, kpr, key=key, delivery_order=["k2021", "k2019"])
    assert res.persons.set_index("npr_id").loc[5, "kpr_id"] == 99
    with pytest.raises(LinkageError) as ei:
        link_extracts(npr, kpr, key=key, delivery_order=["k2021"])
    assert ei.value.problems[0].reason == "unknown_delivery"


def test_shared_pseudonym():
    npr, kpr, _ = frames()
    npr = npr.assign(pid=npr["npr_id"] + 10)
    kpr = kpr.assign(pid=kpr["kpr_id"])
    res = link_extracts(npr, kpr, shared_id_col="pid")
    assert res.report.method == "shared pseudonym 'pid'"
    assert (res.persons["kpr_id"] == res.persons["npr_id"]).all()
    assert res.persons["in_kpr"].sum() == 6 and res.persons["in_npr"].sum() == 5


def test_errors():
    npr, kpr, key = frames()
    with pytest.raises(LinkageError) as ei:
        link_extracts(npr, kpr)
    assert ei.value.problems[0].reason == "no_key"
    with pytest.raises(MissingColumnsError) as ei:
        link_extracts(npr.drop(columns="date_in"), kpr, key=key)
    assert ei.value.missing == ["date_in"]
    with pytest.raises(MissingColumnsError) as ei:
        link_extracts(npr, kpr, key=key.drop(columns="kpr_id"))
    assert ei.value.missing == ["kpr_id"]
    with pytest.raises(MissingColumnsError) as ei:
        link_extracts(npr, kpr, shared_id_col="pid")
    assert ei.value.missing == ["pid"]


def test_empty_frames_and_empty_key():
    npr, kpr, key = frames()
    res = link_extracts(npr.iloc[:0], kpr.iloc[:0], key=key.iloc[:0])
    assert res.persons.empty and res.report.n("persons in total") == 0
    res = link_extracts(npr, kpr, key=key.iloc[:0])
    assert (res.persons["status"] != "linked").all() and len(res.persons) == 11
    assert res.report.key_conflicts.empty


def test_all_na_demographics_give_no_conflicts():
    npr, kpr, key = frames()
    npr = npr.assign(sex=pd.array([pd.NA] * len(npr), dtype="Int16"))
    res = link_extracts(npr, kpr, key=key)
    assert (res.report.demographic_conflicts["variable"] == "sex").sum() == 0
    assert res.persons.set_index("npr_id").loc[3, "sex"] == 1
