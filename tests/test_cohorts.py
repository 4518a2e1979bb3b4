"""Cohort definitions, events and build_cohort on a delivery built in code."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from kprlink.codes import CodeList, load_phenotype
from kprlink.cohorts import (
    EVENT_COLUMNS,
    CohortDefinition,
    EntryCriterion,
    CohortRule,
    build_cohort,
    diagnosis_events,
)
from kprlink.exceptions import DataQualityWarning, LinkageError, MissingColumnsError, SpecError
from kprlink.linkage import link_extracts

DEM = load_phenotype("dementia_icd10")
P70 = load_phenotype("dementia_icpc2")


def delivery() -> dict[str, pd.DataFrame]:
    """Eight KPR claims and four NPR episodes; expected cohort in the tests below."""
    claims = pd.DataFrame({
        "kpr_id": pd.array([11, 12, 13, 14, 14, 15, 16, 18], dtype="Int64"),
        "claim_id": pd.array([101, 102, 103, 104, 105, 106, 107, 108], dtype="Int64"),
        "year": pd.array([2016, 2017, 2017, 2016, 2016, 2016, 2016, 2016], dtype="Int64"),
        "date": pd.to_datetime(["2016-09-01", "2017-06-30", "2017-07-01", "2016-09-01",
                                "2016-12-01", "2016-09-01", "2016-11-11", "2016-09-09"]),
        "sex": pd.array([2, 1, 2, 1, 1, 2, 2, 1], dtype="Int16"),
        "birth_year": pd.array([1930, 1950, 1940, 1930, 1930, 1935, 1925, 1945], dtype="Int64"),
        "municipality": pd.array(["0301", "5001", "0301", "1103", "1103", "0301", "4601",
                                  "0301"], dtype="string"),
        "service_type": pd.Categorical(["Fastlege", "Legevakt", "Fastlege", "Fastlege",
                                        "Fastlege", "Fastlege", "Fastlege", "Fastlege"]),
        "death_date": pd.to_datetime([None, None, None, None, "2016-10-01", None, None, None]),
    })
    kd = pd.DataFrame({
        "claim_id": pd.array([101, 101, 102, 103, 104, 105, 106, 107, 108], dtype="Int64"),
        "code": pd.array(["P70", "K86", "P700001", "P70", "A04", "P70", "K86", "F001", "R05"],
                         dtype="string"),
        "system": pd.Categorical(["ICPC-2", "ICPC-2", "ICPC-2B", "ICPC-2", "ICPC-2", "ICPC-2",
                                  "ICPC-2", "ICD-10", "ICPC-2"]),
        "is_main": pd.array([True, False, False, True, True, True, True, True, True],
                            dtype="boolean"),
        "position": pd.array([1, 2, 1, 1, 1, 1, 1, 1, 1], dtype="Int64"),
    })
    fees = pd.DataFrame({"claim_id": pd.array([101, 102, 103, 104, 105, 106, 107, 108],
                                              dtype="Int64"),
                         "fee_code": pd.array(["2ad", "11ak", "2ad", "2ad", "1bd", "2ad", "2ae",
                                               "2ad"], dtype="string"),
                         "year": pd.array([2016] * 8, dtype="Int64")})
    eps = pd.DataFrame({
        "npr_id": pd.array([1, 2, 3, 3], dtype="Int64"),
        "episode_id": pd.array([1, 2, 3, 4], dtype="Int64"),
        "date_in": pd.to_datetime(["2016-08-01", "2016-07-01", "2016-03-01", "2016-10-10"]),
        "care_level": pd.array([1, 3, 3, 1], dtype="Int16"),
        "municipality": pd.array(["0301", "1103", "0301", "0301"], dtype="string"),
        "sex": pd.array([2, 1, 1, 1], dtype="Int16"),
        "birth_year": pd.array([1930, 1990, 1945, 1945], dtype="Int64"),
        "death_date": pd.to_datetime([None] * 4),
    })
    nd = pd.DataFrame({
        "episode_id": pd.array([1, 1, 2, 3, 4, 4], dtype="Int64"),
        "npr_id": pd.array([1, 1, 2, 3, 3, 3], dtype="Int64"),
        "condition": pd.array([1, 2, 1, 1, 1, 1], dtype="Int16"),
        "slot": pd.array([1, 1, 1, 1, 1, 2], dtype="Int16"),
        "code": pd.array(["I10", "F03", "G30", "F03", "G309", "F001"], dtype="string"),
        "is_main": pd.array([True, False, True, True, True, True], dtype="boolean"),
    })
    key = pd.DataFrame({"npr_id": pd.array([1, 3], dtype="Int64"),
                        "kpr_id": pd.array([11, 18], dtype="Int64"), "delivery": ["k", "k"]})
    return {"kuhr_claims": claims, "kuhr_diagnoses": kd, "kuhr_fees": fees,
            "npr_episodes": eps, "npr_diagnoses": nd, "key": key}


def reference(**kw) -> CohortDefinition:
    return CohortDefinition(
        "dem", "2016-07-01", "2017-06-30",
        [EntryCriterion("npr", [DEM]), EntryCriterion("kpr_kuhr", [P70, DEM])],
        attributes=("age_at_index", "sex", "municipality_at_index", "sources", "n_events"),
        **kw)


def ids(res) -> set[tuple]:
    return {(None if pd.isna(k) else int(k), None if pd.isna(n) else int(n))
            for k, n in zip(res.persons["kpr_id"], res.persons["npr_id"], strict=True)}


def test_reference_cohort():
    data = delivery()
    before = {k: v.copy() for k, v in data.items()}
    res = build_cohort(data, reference())
    for k, v in data.items():
        pd.testing.assert_frame_equal(before[k], v)
    assert ids(res) == {(11, 1), (12, None), (16, None), (18, 3), (None, 2)}
    p = res.persons.set_index("kpr_id")
    assert p.loc[11, "index_date"] == pd.Timestamp("2016-08-01")      # NPR earlier than KUHR
    assert p.loc[11, "sources"] == "kpr_kuhr+npr" and p.loc[11, "n_events"] == 2
    assert p.loc[11, "age_at_index"] == 86 and p.loc[11, "sex"] == 2
    assert p.loc[12, "index_date"] == pd.Timestamp("2017-06-30")      # window end included
    assert p.loc[18, "n_events"] == 1                                 # dagger pair: 1 episode
    assert p.loc[12, "municipality_at_index"] == "5001"
    att = res.attrition.set_index("step")
    assert att.loc["entry events (any date)", "n_persons"] == 7     # + 13 (late), 14 (dead)
    assert att.loc["in study window", "n_persons_excluded"] == 1
    assert att.loc["not after death", "n_records_excluded"] == 1
    assert "dem" in repr(res) and res.summary()["digest"].nunique() == 1


def test_attrition_adds_up_and_rules_in_order():
    rules = [CohortRule("age_at_index", "age 65+", params={"min_age": 65}),
             CohortRule("residence", "Oslo", exclude=True, params={"municipalities": ["03"]}),
             CohortRule("linked", "in both registers")]
    res = build_cohort(delivery(), reference(rules=rules))
    att = res.attrition
    assert att["step"].tolist()[-3:] == ["age 65+", "Oslo", "in both registers"]
    assert (att["n_persons"].diff().fillna(0) == -att["n_persons_excluded"]).all()
    assert (att["n_records"].diff().fillna(0) == -att["n_records_excluded"]).all()
    # age: NPR-only person 2 (born 1990) and 12 (born 1950 -> 67 ok); Oslo drops 11 and 18
    assert att.set_index("step").loc["age 65+", "n_persons_excluded"] == 1
    assert ids(res) == set()                     # remaining 12, 16 are not linked
    assert att["n_persons"].iloc[-1] == 0


@pytest.mark.parametrize("rule,expected", [
    (CohortRule("sex", params={"values": [1]}), {(12, None), (18, 3), (None, 2)}),
    (CohortRule("alive_at_index"), {(11, 1), (12, None), (16, None), (18, 3), (None, 2)}),
    (CohortRule("lookback", exclude=True, params={"codelists": [DEM], "days": 365}),
     {(11, 1), (12, None), (16, None), (None, 2)}),
    (CohortRule("lookback", exclude=True, params={"codelists": [DEM], "days": 30}),
     {(11, 1), (12, None), (16, None), (18, 3), (None, 2)}),
    (CohortRule("age_at_index", params={"min_age": 90, "max_age": 95}), {(16, None)}),
])
def test_single_rules(rule, expected):
    assert ids(build_cohort(delivery(), reference(rules=[rule]))) == expected


def test_position_contact_and_service_filters():
    main_only = CohortDefinition("m", "2016-07-01", "2017-06-30",
                                 [EntryCriterion("npr", [DEM], position="main"),
                                  EntryCriterion("kpr_kuhr", [P70], position="secondary")])
    assert ids(build_cohort(delivery(), main_only)) == {(12, None), (18, 3), (None, 2)}
    home = CohortDefinition("h", "2016-07-01", "2017-06-30",
                            [EntryCriterion("kpr_kuhr", [P70], contact_types=["home_visit"])])
    assert ids(build_cohort(delivery(), home)) == {(12, None)}
    gp = CohortDefinition("g", "2016-07-01", "2017-06-30",
                          [EntryCriterion("kpr_kuhr", [P70], service_types=["Fastlege"]),
                           EntryCriterion("npr", [DEM], care_levels=[1])])
    assert ids(build_cohort(delivery(), gp)) == {(11, 1), (18, 3)}


def test_empty_and_missing_frames():
    data = {k: v.iloc[:0] for k, v in delivery().items()}
    res = build_cohort(data, reference())
    assert res.persons.empty and (res.attrition[["n_records", "n_persons"]] == 0).all().all()
    npr_only = {k: v for k, v in delivery().items() if k.startswith("npr")}
    with pytest.warns(DataQualityWarning, match="no KPR-KUHR diagnosis file"):
        res = build_cohort(npr_only, reference())
    assert ids(res) == {(None, 1), (None, 2), (None, 3)}
    assert len(res.warnings) == 1 and "NPR diagnosis" not in res.warnings[0]
    assert "1 warning" in repr(res) and "no KPR-KUHR diagnosis file" in res._repr_html_()
    no_key = {k: v for k, v in delivery().items() if k != "key"}
    with pytest.warns(DataQualityWarning, match="no key file"):
        assert any("no key file" in w for w in build_cohort(no_key, reference()).warnings)


def test_events_table():
    data = delivery()
    link = link_extracts(data["npr_episodes"], data["kuhr_claims"], key=data["key"])
    ev = diagnosis_events(data, persons=link.persons)
    assert list(ev.columns) == EVENT_COLUMNS and len(ev) == 15
    assert isinstance(ev["code"].dtype, pd.CategoricalDtype)
    only = diagnosis_events(data, persons=link.persons, codelists=[P70])
    assert set(only["code"].astype(str)) == {"P70", "P700001"}
    with pytest.raises(LinkageError) as ei:
        diagnosis_events(data, persons=link.persons.iloc[:2])
    assert ei.value.problems[0].reason == "unmapped_id"
    with pytest.raises(MissingColumnsError) as ei:
        diagnosis_events({**data, "kuhr_claims": data["kuhr_claims"].drop(columns="date")},
                         persons=link.persons)
    assert ei.value.missing == ["date"]


def test_adding_codes_reaches_more_people():
    wider = dataclasses.replace(reference(), entry=[
        EntryCriterion("npr", [DEM]),
        EntryCriterion("kpr_kuhr", [P70.with_codes(add=["K86"]), DEM])])
    assert ids(build_cohort(delivery(), wider)) > ids(build_cohort(delivery(), reference()))


def test_toml_round_trip(tmp_path):
    hip = CodeList("hip", "ICD-10", ["S72.0-S72.2"])
    d = reference(rules=[CohortRule("lookback", "no prior", True, {"codelists": [hip], "days": 365,
                                                             "sources": ["npr"]}),
                         CohortRule("age_at_index", "adults", params={"min_age": 18})])
    back = CohortDefinition.from_toml(d.to_toml(tmp_path / "c.toml"))
    assert back == d and back.digest == d.digest
    (tmp_path / "defs").mkdir()
    hip.to_json(tmp_path / "defs" / "hip.json")
    (tmp_path / "f.toml").write_text(
        'kprlink_spec = 1\nkind = "cohort"\nname = "h"\n[window]\nstart = 2016-01-01\n'
        'end = 2016-12-31\n[[entry]]\nsource = "npr"\ncodelists = ["defs/hip.json", '
        '{name = "x", system = "ICD-10", codes = ["S73"]}]\n')
    f = CohortDefinition.from_toml(tmp_path / "f.toml")
    assert [c.name for c in f.entry[0].codelists] == ["hip", "x"]


def test_shipped_reference_definition():
    from pathlib import Path
    path = Path(__file__).parents[1] / "studies" / "dementia_2016_2017" / "cohort.toml"
    d = CohortDefinition.from_toml(path)
    assert str(d.window_start) == "2016-07-01" and str(d.window_end) == "2017-06-30"
    assert {e.source for e in d.entry} == {"npr", "kpr_kuhr"}
    assert ids(build_cohort(delivery(), d)) == ids(build_cohort(delivery(), reference()))


BAD = [
    ('kprlink_spec = 9\nname = "x"\n[window]\nstart = 2016-01-01\nend = 2016-02-01\n',
     "unknown_spec"),
    ('kprlink_spec = 1\nname = "x"\ncolour = 1\n[window]\nstart = 2016-01-01\n'
     'end = 2016-02-01\n[[entry]]\nsource = "npr"\ncodelists = ["dementia_icd10"]\n',
     "unknown_keys"),
    ('kprlink_spec = 1\nname = "x"\n[window]\nstart = 2016-01-01\nend = 2016-02-01\n'
     '[[entry]]\nsource = "npr"\ncodelists = ["no_such_list"]\n', "bad_codelist"),
    ('kprlink_spec = 1\nname = "x"\n[window]\nstart = 2016-01-01\nend = 2016-02-01\n'
     '[[entry]]\nsource = "npr"\ncodelists = ["dementia_icd10"]\n[[rule]]\nkind = "moon"\n',
     "bad_rule_kind"),
    ('kprlink_spec = 1\nname = "x"\n[window]\nstart = 2016-01-01\nend = 2016-02-01\n'
     '[[entry]]\nsource = "npr"\ncodelists = ["dementia_icd10"]\n[[rule]]\nkind = "lookback"\n',
     "missing_param"),
    ('kprlink_spec = 1\nname = "x"\n[window]\nstart = 2016-01-01\nend = 2016-02-01\n'
     '[[entry]]\nsource = "npr"\ncodelists = ["dementia_icd10"]\ncontact_types = ["x"]\n',
     "bad_contact_type"),
    ('kprlink_spec = 1\nname = "x"\n[window]\nstart = 2016-01-01\n', "missing_keys"),
    ('kprlink_spec = 1\nname = ', "bad_toml"),
]


@pytest.mark.parametrize("text,reason", BAD)
def test_from_toml_errors(tmp_path, text, reason):
    (tmp_path / "c.toml").write_text(text)
    with pytest.raises(SpecError) as ei:
        CohortDefinition.from_toml(tmp_path / "c.toml")
    assert reason in [p.reason for p in ei.value.problems]


@pytest.mark.parametrize("kwargs,reason", [
    ({"window_start": "2017-01-01", "window_end": "2016-01-01"}, "empty_window"),
    ({"window_start": "July"}, "bad_date"),
    ({"entry": []}, "no_entry"),
    ({"attributes": ["shoe_size"]}, "bad_attribute"),
    ({"rules": [CohortRule("linked"), CohortRule("linked")]}, "duplicate_rule_name"),
])
def test_definition_errors(kwargs, reason):
    base = {"name": "x", "window_start": "2016-01-01", "window_end": "2016-12-31",
            "entry": [EntryCriterion("npr", [DEM])]}
    with pytest.raises(SpecError) as ei:
        CohortDefinition(**{**base, **kwargs})
    assert [p.reason for p in ei.value.problems] == [reason]


@pytest.mark.parametrize("kwargs,reason", [
    ({"source": "ssb"}, "bad_source"), ({"position": "first"}, "bad_position"),
    ({"codelists": []}, "bad_codelist"), ({"contact_types": ["home_visit"]}, "kuhr_only"),
])
def test_entry_errors(kwargs, reason):
    with pytest.raises(SpecError) as ei:
        EntryCriterion(**{"source": "npr", "codelists": [DEM], **kwargs})
    assert [p.reason for p in ei.value.problems] == [reason]


def test_rule_errors():
    with pytest.raises(SpecError) as ei:
        CohortRule("age_at_index", params={"min_age": 90, "max_age": 60})
    assert ei.value.problems[0].reason == "bad_age_range"
    with pytest.raises(SpecError) as ei:
        CohortRule("lookback", params={"codelists": [DEM], "days": 0})
    assert ei.value.problems[0].reason == "bad_days"
    with pytest.raises(SpecError) as ei:
        CohortRule("linked", params={"days": 3})
    assert ei.value.problems[0].reason == "unknown_param"
    with pytest.raises(SpecError) as ei:
        EntryCriterion("kpr_kuhr", [DEM], care_levels=[1])
    assert ei.value.problems[0].reason == "npr_only"


def test_reuses_a_given_linkage():
    data = delivery()
    link = link_extracts(data["npr_episodes"], data["kuhr_claims"], key=data["key"])
    res = build_cohort(data, reference(), linkage=link)
    assert res.linkage is link
    assert ids(res) == ids(build_cohort(data, reference()))
    # person ids come from the linkage's person map
    assert set(res.persons["person_id"]) <= set(link.persons["person_id"])


def test_contact_type_filter_needs_fees():
    home = CohortDefinition("h", "2016-07-01", "2017-06-30",
                            [EntryCriterion("kpr_kuhr", [P70], contact_types=["home_visit"])])
    data = {k: v for k, v in delivery().items() if k != "kuhr_fees"}
    with pytest.raises(MissingColumnsError) as ei:
        build_cohort(data, home)
    assert ei.value.missing == ["kuhr_fees"]


@pytest.mark.parametrize("entry,frame,col", [
    (EntryCriterion("kpr_kuhr", [P70], service_types=["Fastlege"]), "kuhr_claims", "service_type"),
    (EntryCriterion("npr", [DEM], care_levels=[1]), "npr_episodes", "care_level"),
])
def test_filters_need_their_columns(entry, frame, col):
    data = delivery()
    data[frame] = data[frame].drop(columns=col)
    with pytest.raises(MissingColumnsError) as ei:
        build_cohort(data, CohortDefinition("f", "2016-07-01", "2017-06-30", [entry]))
    assert ei.value.missing == [col]
