"""Follow-up, exit and washout (issue 18 item 1) on a delivery built in code."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from kprlink.codes import load_phenotype
from kprlink.cohorts import (
    CohortDefinition,
    CohortRule,
    EntryCriterion,
    FollowUp,
    add_follow_up,
    build_cohort,
    build_incident_cohort,
)
from kprlink.exceptions import MissingColumnsError, SpecError

P70 = load_phenotype("dementia_icpc2")
HIP = load_phenotype("hip_fracture_icd10")


def delivery() -> dict[str, pd.DataFrame]:
    """Six persons with dementia (P70) in 2017; hip fractures in NPR for two of them.

    kpr 1 (npr 101): index 2017-01-10, hip fracture 2017-03-01 -> outcome, 50 days
    kpr 2: index 2017-02-01, dies 2017-04-01 -> death, 59 days
    kpr 3: index 2017-05-01 -> end of data 2017-12-31, 244 days
    kpr 4: P70 2016-10-01 and 2017-02-01 -> index 2017-02-01, not incident, 333 days
    kpr 5: index 2017-01-02 -> 363 days
    kpr 6 (npr 106): hip fracture 2016-12-01 before index 2017-01-15 -> censored, 350 days
    kpr 7: a cough on 2016-07-01 and 2017-12-31 (the delivery's coverage)
    """
    claims = pd.DataFrame({
        "kpr_id": pd.array([1, 2, 3, 4, 4, 5, 6, 7, 7], dtype="Int64"),
        "claim_id": pd.array(range(1, 10), dtype="Int64"),
        "date": pd.to_datetime(["2017-01-10", "2017-02-01", "2017-05-01", "2016-10-01",
                                "2017-02-01", "2017-01-02", "2017-01-15", "2016-07-01",
                                "2017-12-31"]),
        "sex": pd.array([2, 1, 2, 1, 1, 2, 2, 1, 1], dtype="Int16"),
        "birth_year": pd.array([1930] * 9, dtype="Int64"),
        "municipality": pd.array(["0301"] * 9, dtype="string"),
        "death_date": pd.to_datetime([None, "2017-04-01"] + [None] * 7),
    })
    kd = pd.DataFrame({
        "claim_id": pd.array(range(1, 10), dtype="Int64"),
        "code": pd.array(["P70"] * 7 + ["R05", "R05"], dtype="string"),
        "system": pd.Categorical(["ICPC-2"] * 9),
        "is_main": pd.array([True] * 9, dtype="boolean"),
    })
    eps = pd.DataFrame({
        "npr_id": pd.array([101, 106], dtype="Int64"),
        "episode_id": pd.array([1, 2], dtype="Int64"),
        "date_in": pd.to_datetime(["2017-03-01", "2016-12-01"]),
        "sex": pd.array([2, 2], dtype="Int16"),
        "birth_year": pd.array([1930, 1930], dtype="Int64"),
        "death_date": pd.to_datetime([None, None]),
    })
    nd = pd.DataFrame({
        "episode_id": pd.array([1, 2], dtype="Int64"), "npr_id": pd.array([101, 106],
                                                                           dtype="Int64"),
        "condition": pd.array([1, 1], dtype="Int16"), "slot": pd.array([1, 1], dtype="Int16"),
        "code": pd.array(["S720", "S7210"], dtype="string"),
        "is_main": pd.array([True, True], dtype="boolean"),
    })
    key = pd.DataFrame({"npr_id": pd.array([101, 106], dtype="Int64"),
                        "kpr_id": pd.array([1, 6], dtype="Int64"), "delivery": ["k", "k"]})
    return {"kuhr_claims": claims, "kuhr_diagnoses": kd, "npr_episodes": eps,
            "npr_diagnoses": nd, "key": key}


def definition(**fu) -> CohortDefinition:
    follow = FollowUp(outcome=[EntryCriterion("npr", [HIP])], outcome_name="hip_fracture",
                      **fu)
    return CohortDefinition("dem", "2017-01-01", "2017-06-30",
                            [EntryCriterion("kpr_kuhr", [P70])], follow_up=follow)


def by_kpr(res) -> pd.DataFrame:
    return res.persons.set_index(res.persons["kpr_id"].astype(int)).sort_index()


def test_exit_at_outcome_death_and_end_of_data():
    p = by_kpr(build_cohort(delivery(), definition()))
    assert list(p.index) == [1, 2, 3, 4, 5, 6]
    assert p["time_days"].tolist() == [50, 59, 244, 333, 363, 350]
    assert p["exit_reason"].astype(str).tolist() == ["outcome", "death"] + ["end_of_data"] * 4
    assert p["status"].tolist() == [1, 2, 0, 0, 0, 0]
    assert p.loc[1, "outcome_date"] == pd.Timestamp("2017-03-01")
    assert p["outcome_date"].isna().sum() == 5  # kpr 6's fracture was before the index
    assert (p["exit_date"] == pd.Timestamp("2017-12-31")).sum() == 4
    np.testing.assert_allclose(p["person_years"], p["time_days"] / 365.25)


def test_horizon_and_explicit_end_of_data():
    p = by_kpr(build_cohort(delivery(), definition(horizon_days=100)))
    assert p["time_days"].tolist() == [50, 59, 100, 100, 100, 100]
    assert p["exit_reason"].astype(str).tolist() == ["outcome", "death"] + ["horizon"] * 4
    p = by_kpr(build_cohort(delivery(), definition(end_of_data="2017-06-30")))
    assert p["time_days"].tolist() == [50, 59, 60, 149, 179, 166]


def test_incident_cohort_washout():
    prevalent = build_cohort(delivery(), definition())
    incident = build_incident_cohort(delivery(), definition(), washout_days=180)
    assert set(by_kpr(prevalent).index) - set(by_kpr(incident).index) == {4}
    att = incident.attrition
    assert att["step"].iloc[-1] == "washout 180 days"
    assert att["n_persons_excluded"].iloc[-1] == 1
    # a look-back reaching before the delivery's coverage is not a washout
    late = build_incident_cohort(delivery(), definition(), washout_days=180,
                                 coverage_start="2016-07-12")
    # kpr 5 (index 2017-01-02) looks back to 2016-07-06; kpr 1 (2017-01-10) to 2016-07-14
    assert set(by_kpr(late).index) == {1, 2, 3, 6}
    # by default coverage starts at the first claim (2016-07-01): 200 days excludes kpr 5
    assert 5 not in set(by_kpr(build_incident_cohort(delivery(), definition(),
                                                     washout_days=200)).index)


def test_follow_up_round_trips_through_toml(tmp_path):
    d = definition(horizon_days=730, end_of_data="2017-12-31")
    d = dataclasses.replace(d, rules=[CohortRule("washout", params={"days": 180})])
    back = CohortDefinition.from_toml(d.to_toml(tmp_path / "c.toml"))
    assert back == d and back.digest == d.digest
    assert "[follow_up]" in (tmp_path / "c.toml").read_text()
    # a definition without follow-up keeps its digest form (no follow_up key)
    assert "follow_up" not in dataclasses.replace(d, follow_up=None).to_dict()
    pd.testing.assert_frame_equal(build_cohort(delivery(), back).persons,
                                  build_cohort(delivery(), d).persons)


def test_bad_follow_up_definitions():
    with pytest.raises(SpecError) as err:
        FollowUp(horizon_days=0, end_of_data="soon", outcome=["S72"])
    assert {p.reason for p in err.value.problems} == {"bad_horizon", "bad_date", "bad_outcome"}
    with pytest.raises(SpecError) as err:
        CohortDefinition.from_dict({
            "kprlink_spec": 1, "name": "x", "window": {"start": "2017-01-01",
                                                       "end": "2017-12-31"},
            "entry": [{"source": "npr", "codelists": ["hip_fracture_icd10"]}],
            "follow_up": {"horizon": 3, "outcome": [{"source": "nowhere",
                                                     "codelists": ["hip_fracture_icd10"]}]}})
    assert {p.reason for p in err.value.problems} == {"unknown_keys", "bad_source"}
    with pytest.raises(SpecError):
        CohortRule("washout", params={"days": 0})


def test_add_follow_up_on_a_plain_frame():
    persons = pd.DataFrame({
        "person_id": [5, 3, 9, 4],
        "index_date": pd.to_datetime(["2020-01-01", "2020-01-01", "2020-06-01", "2020-03-01"]),
        "death_date": pd.to_datetime(["2020-02-01", None, "2020-05-01", None]),
    }, index=[10, 11, 12, 13])
    events = pd.DataFrame({"person_id": [5, 3, 3, 3, 4],
                           "date": pd.to_datetime(["2020-02-01", "2019-12-01", "2020-01-01",
                                                   "2020-04-01", "2020-03-01"])})
    before = persons.copy()
    out = add_follow_up(persons, events, end_of_data="2020-12-31", horizon_days=366)
    pd.testing.assert_frame_equal(persons, before)
    assert list(out.index) == [10, 11, 12, 13]
    # 5: outcome and death on one day -> outcome; 3: first event after index (not on it);
    # 9: died before index -> 0 days; 4: event on index day only -> end of data
    assert out["exit_reason"].astype(str).tolist() == ["outcome", "outcome", "death",
                                                       "end_of_data"]
    assert out["time_days"].tolist() == [31, 91, 0, 305]
    assert out["status"].tolist() == [1, 1, 2, 0]
    no_outcome = add_follow_up(persons, end_of_data="2020-12-31", death_col=None,
                               horizon_days=30)
    assert no_outcome["time_days"].tolist() == [30, 30, 30, 30]
    empty = add_follow_up(persons.iloc[:0], events, end_of_data="2020-12-31")
    assert len(empty) == 0 and "time_days" in empty
    with pytest.raises(MissingColumnsError) as err:
        add_follow_up(persons.drop(columns="death_date"), end_of_data="2020-12-31")
    assert err.value.missing == ["death_date"]


def test_outcome_with_contact_types_reads_fee_codes():
    from kprlink.cohorts import cohort_columns

    d = definition()
    follow = FollowUp(outcome=[EntryCriterion("kpr_kuhr", [P70],
                                              contact_types=["home_visit"])])
    assert "kuhr_fees" not in cohort_columns(d)
    assert "kuhr_fees" in cohort_columns(dataclasses.replace(d, follow_up=follow))
