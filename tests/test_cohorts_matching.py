"""Risk-set matching (issue 18 item 5) and outcomes after the index date (item 3)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from kprlink.cohorts import (
    add_outcomes,
    admission_events,
    death_events,
    match_risk_set,
    service_events,
)
from kprlink.exceptions import MissingColumnsError, SpecError

T = pd.Timestamp("2017-06-01")


def small() -> tuple[pd.DataFrame, pd.DataFrame]:
    """One case (id 1, women born 1930 in county 03) and who may control it."""
    cases = pd.DataFrame({"person_id": [1], "index_date": [T], "sex": [2],
                          "birth_year": [1930], "county": ["03"]})
    pop = pd.DataFrame({
        "person_id": [1, 2, 3, 4, 5, 6, 7, 8, 9],
        "sex": [2, 2, 2, 2, 2, 2, 1, 2, 2],
        "birth_year": [1930, 1930, 1930, 1930, 1930, 1930, 1930, 1931, 1930],
        "county": ["03", "03", "03", "03", "03", "03", "03", "03", "46"],
        "entry_date": pd.to_datetime(["2016-01-01"] * 5 + ["2017-07-01"] + ["2016-01-01"] * 3),
        "exit_date": pd.to_datetime(["2020-01-01", "2017-05-31", "2020-01-01", "2020-01-01",
                                     "2017-06-02", "2020-01-01", "2020-01-01", "2020-01-01",
                                     "2020-01-01"]),
        "event_date": pd.to_datetime([T, None, "2017-06-01", "2018-01-01", None, None, None,
                                      None, None]),
    })
    return cases, pop


def test_eligibility_by_hand():
    cases, pop = small()
    # 2 left before t; 3 becomes a case on t; 6 enters after t; 7, 8, 9 other strata;
    # 1 is the case: only 4 (a case later) and 5 (under observation on t) are eligible
    res = match_risk_set(cases, pop, on=["sex", "birth_year", "county"], n_controls=5, seed=3,
                         entry_col="entry_date")
    s = res.sets
    assert s.loc[~s["case"], "person_id"].tolist() == [4, 5]
    assert s["set_id"].tolist() == [1, 1, 1] and (s["index_date"] == T).all()
    r = res.report.iloc[0]
    assert (r["n_short_sets"], r["n_full_sets"], r["n_control_rows"]) == (1, 0, 2)
    assert r["n_controls_later_cases"] == 1  # person 4 controls before their own event
    assert "1 short" in repr(res)


def _big(seed: int = 0, n_cases: int = 3000, n_pop: int = 40):
    rng = np.random.default_rng(seed)
    pop = pd.DataFrame({"person_id": np.arange(100, 100 + n_pop), "sex": 1,
                        "exit_date": pd.Timestamp("2030-01-01"), "event_date": pd.NaT})
    cases = pd.DataFrame({"person_id": np.arange(1, n_cases + 1), "sex": 1,
                          "index_date": T + pd.to_timedelta(rng.integers(0, 300, n_cases), "D")})
    return cases, pop


@pytest.mark.parametrize("k", [2, 10])  # rejection rounds (40 > 4k) and exact enumeration
def test_controls_are_drawn_uniformly_without_repeats(k):
    cases, pop = _big()
    res = match_risk_set(cases, pop, on=["sex"], n_controls=k, seed=11)
    ctrl = res.sets[~res.sets["case"]]
    assert res.report["n_full_sets"].iloc[0] == len(cases)
    assert not ctrl.duplicated(["set_id", "person_id"]).any()
    counts = ctrl["person_id"].value_counts().reindex(pop["person_id"], fill_value=0)
    assert sps.chisquare(counts).pvalue > 1e-3
    assert res.report["n_distinct_controls"].iloc[0] == 40  # with replacement across sets


def test_reproducible_whatever_the_row_order():
    cases, pop = _big(n_cases=500, n_pop=300)
    a = match_risk_set(cases, pop, on=["sex"], n_controls=4, seed=5).sets
    b = match_risk_set(cases.sample(frac=1, random_state=1), pop.sample(frac=1, random_state=2),
                       on=["sex"], n_controls=4, seed=5).sets
    pd.testing.assert_frame_equal(a, b)
    c = match_risk_set(cases, pop, on=["sex"], n_controls=4, seed=6).sets
    assert not a["person_id"].equals(c["person_id"])


def test_time_varying_risk_sets():
    # controls leave in turn; each case's controls must still be at risk on its date
    n = 200
    pop = pd.DataFrame({"person_id": np.arange(n), "g": 0,
                        "exit_date": T + pd.to_timedelta(np.arange(n), "D"),
                        "event_date": pd.NaT})
    cases = pd.DataFrame({"person_id": np.arange(1000, 1100), "g": 0,
                          "index_date": T + pd.to_timedelta(np.arange(0, 200, 2), "D")})
    res = match_risk_set(cases, pop, on=["g"], n_controls=3, seed=1)
    s = res.sets[~res.sets["case"]].merge(pop[["person_id", "exit_date"]], on="person_id")
    assert (s["exit_date"] > s["index_date"]).all()
    # the last cases have fewer than 3 at risk
    assert res.report["n_short_sets"].iloc[0] + res.report["n_no_controls"].iloc[0] >= 1
    assert res.report["n_full_sets"].iloc[0] >= 95


def test_matching_errors():
    cases, pop = small()
    with pytest.raises(SpecError):
        match_risk_set(cases, pop, on=["sex"], n_controls=0, seed=1)
    with pytest.raises(MissingColumnsError) as err:
        match_risk_set(cases, pop.drop(columns="exit_date"), on=["sex"], n_controls=1, seed=1)
    assert err.value.missing == ["exit_date"]
    with pytest.raises(SpecError):
        match_risk_set(cases.assign(index_date=pd.NaT), pop, on=["sex"], n_controls=1, seed=1)
    none = match_risk_set(cases.assign(county="99"), pop, on=["county"], n_controls=2, seed=1)
    assert none.report["n_no_controls"].iloc[0] == 1 and len(none.sets) == 1


def test_outcomes_first_event_counts_and_competing_death():
    persons = pd.DataFrame({
        "person_id": [1, 2, 3], "kpr_id": pd.array([11, 12, 13], dtype="Int64"),
        "npr_id": pd.array([21, pd.NA, 23], dtype="Int64"),
        "index_date": pd.to_datetime(["2017-01-01"] * 3),
        "death_date": pd.to_datetime([None, "2017-04-01", "2017-08-01"])})
    delivery = {
        "npr_episodes": pd.DataFrame({
            "npr_id": pd.array([21, 21, 21, 23, 23], dtype="Int64"),
            "date_in": pd.to_datetime(["2016-12-01", "2017-02-01", "2017-09-01", "2017-03-01",
                                       "2017-09-01"]),
            "care_level": pd.array([1, 1, 1, 3, 1], dtype="Int16")}),
        "ho_services": pd.DataFrame({
            "kpr_id": pd.array([12, 13, 13], dtype="Int64"),
            "service_code": pd.array([21, 15, 21], dtype="Int16"),
            "start_date": pd.to_datetime(["2017-05-01", "2017-02-01", "2017-06-01"])})}
    adm = admission_events(delivery, persons=persons)
    assert len(adm) == 4  # the outpatient visit is not an admission
    out = add_outcomes(persons, {"admission": adm,
                                 "nursing_home": service_events(delivery, persons=persons),
                                 "death": death_events(persons)},
                       end_of_data="2017-12-31")
    # 1: admitted 2017-02-01 (31 days) and again 2017-09-01 -> 2 admissions after index
    # 2: dies 2017-04-01 before any admission; nursing home after death does not count
    # 3: its admission 2017-09-01 is after death 2017-08-01 -> death first (212 days)
    assert out["admission_status"].tolist() == [1, 2, 2]
    assert out["admission_days"].tolist() == [31, 90, 212]
    assert out["admission_n"].tolist() == [2, 0, 0]
    assert out["nursing_home_status"].tolist() == [0, 2, 1]
    assert out["nursing_home_first_date"].iloc[2] == pd.Timestamp("2017-06-01")
    assert out["death_status"].tolist() == [0, 1, 1] and out["death_n"].tolist() == [0, 1, 1]
    with pytest.raises(SpecError):
        add_outcomes(out, {"death": death_events(persons)}, end_of_data="2017-12-31")
    h = add_outcomes(persons, {"admission": adm}, end_of_data="2017-12-31", horizon_days=60)
    assert h["admission_n"].tolist() == [1, 0, 0] and h["admission_days"].tolist() == [31, 60, 60]


def test_population_rows_with_a_missing_key_are_never_drawn() -> None:
    cases = pd.DataFrame({"person_id": [1], "index_date": pd.to_datetime(["2017-03-01"]),
                          "county": ["03"]})
    pop = pd.DataFrame({"person_id": [1, 2, 3, 4], "county": ["03", None, "03", None],
                        "exit_date": pd.to_datetime(["2020-01-01"] * 4)})
    res = match_risk_set(cases, pop, on=["county"], n_controls=3, seed=1, event_col=None)
    assert res.sets.loc[~res.sets["case"], "person_id"].tolist() == [3]
