"""Hypothesis invariants of build_cohort on random small deliveries."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from kprlink.codes import CodeList
from kprlink.cohorts import CohortDefinition, EntryCriterion, CohortRule, build_cohort

# build_cohort costs ~0.1 s per call on tiny frames (pandas overhead), so examples are capped
# to keep this module near 10 s in every hypothesis profile.
CODES = ["F00", "F001", "F03", "G30", "I10", "E11", "J44", "S720"]
ICPC = ["P70", "P700001", "K86", "T90", "R95"]
START, END = pd.Timestamp("2016-07-01"), pd.Timestamp("2017-06-30")


@st.composite
def deliveries(draw):
    n_npr = draw(st.integers(0, 12))
    n_kpr = draw(st.integers(0, 12))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    days = lambda n: pd.to_datetime("2016-01-01") + pd.to_timedelta(  # noqa: E731
        rng.integers(0, 730, n), unit="D")
    n_ep, n_cl = int(rng.integers(0, 30)) * (n_npr > 0), int(rng.integers(0, 30)) * (n_kpr > 0)
    eps = pd.DataFrame({"npr_id": pd.array(rng.integers(1, n_npr + 1, n_ep), dtype="Int64"),
                        "episode_id": pd.array(np.arange(1, n_ep + 1), dtype="Int64"),
                        "date_in": days(n_ep),
                        "birth_year": pd.array(rng.integers(1920, 2000, n_ep), dtype="Int64")})
    nd = pd.DataFrame({"episode_id": eps["episode_id"].repeat(2).to_numpy(),
                       "code": pd.array(rng.choice(CODES, 2 * n_ep), dtype="string"),
                       "is_main": pd.array(np.tile([True, False], n_ep), dtype="boolean")})
    death = np.where(rng.random(n_cl) < 0.1, days(n_cl).to_numpy(), np.datetime64("NaT"))
    cl = pd.DataFrame({"kpr_id": pd.array(rng.integers(101, 101 + n_kpr, n_cl), dtype="Int64"),
                       "claim_id": pd.array(np.arange(1, n_cl + 1), dtype="Int64"),
                       "date": days(n_cl), "death_date": pd.to_datetime(death),
                       "birth_year": pd.array(rng.integers(1920, 2000, n_cl), dtype="Int64")})
    codes = rng.choice(ICPC, n_cl)
    kd = pd.DataFrame({"claim_id": cl["claim_id"].to_numpy(),
                       "code": pd.array(codes, dtype="string"),
                       "system": pd.Categorical(np.where(pd.Series(codes).str.len() > 3,
                                                         "ICPC-2B", "ICPC-2")),
                       "is_main": pd.array([True] * n_cl, dtype="boolean")})
    linked = rng.random(n_npr) < 0.6
    key = pd.DataFrame({"npr_id": pd.array(np.arange(1, n_npr + 1)[linked], dtype="Int64"),
                        "kpr_id": pd.array(np.arange(101, 101 + n_npr)[linked], dtype="Int64"),
                        "delivery": "k"})
    return {"npr_episodes": eps, "npr_diagnoses": nd, "kuhr_claims": cl,
            "kuhr_diagnoses": kd, "key": key}


def definition(npr_codes, kpr_codes, rules=()):
    return CohortDefinition("p", START.date(), END.date(),
                            [EntryCriterion("npr", [CodeList("n", "ICD-10", npr_codes)]),
                             EntryCriterion("kpr_kuhr", [CodeList("k", "ICPC-2", kpr_codes)])],
                            rules=rules)


def keys(res):
    return set(zip(res.persons["kpr_id"].fillna(-1), res.persons["npr_id"].fillna(-1),
                   strict=True))


@settings(max_examples=25)  # each example builds a cohort (~0.1 s)
@given(deliveries(), st.sets(st.sampled_from(CODES), min_size=1),
       st.sets(st.sampled_from(CODES), min_size=1))
def test_adding_codes_never_shrinks(data, base, extra):
    small = definition(sorted(base), ["P70"])
    large = definition(sorted(base | extra), ["P70", "K86"])
    assert keys(build_cohort(data, small)) <= keys(build_cohort(data, large))


@settings(max_examples=25)  # each example builds a cohort (~0.1 s)
@given(deliveries(), st.integers(0, 100))
def test_every_person_has_a_qualifying_event_in_window(data, min_age):
    d = definition(["F00-F03", "G30"], ["P70"],
                   rules=[CohortRule("age_at_index", params={"min_age": min_age})])
    res = build_cohort(data, d)
    ev = res.events
    assert set(res.persons["person_id"]) == set(ev["person_id"])
    assert ((ev["date"] >= START) & (ev["date"] <= END)).all()
    first = ev.groupby("person_id")["date"].min()
    assert (res.persons.set_index("person_id")["index_date"] == first).all()
    deaths = res.linkage.persons.set_index("person_id")["death_date"]
    # reindex, not map: pandas 3.0 cannot map through an empty datetime Series
    death = pd.Series(deaths.reindex(ev["person_id"].to_numpy()).to_numpy(), index=ev.index)
    assert not (ev["date"] > death).any()


@settings(max_examples=25)  # each example builds a cohort (~0.1 s)
@given(deliveries(), st.booleans())
def test_attrition_adds_up(data, exclude):
    d = definition(["F00-F03", "G30", "I10"], ["P70", "T90"],
                   rules=[CohortRule("linked", exclude=exclude),
                          CohortRule("lookback", exclude=True,
                               params={"codelists": [CodeList("x", "ICD-10", ["I10"])],
                                       "days": 180})])
    res = build_cohort(data, d)
    att = res.attrition
    assert (att["n_persons"].diff().fillna(0) == -att["n_persons_excluded"]).all()
    assert (att["n_records"].diff().fillna(0) == -att["n_records_excluded"]).all()
    assert (att["n_persons_excluded"] >= 0).all() and (att["n_records_excluded"] >= 0).all()
    assert att["n_persons"].iloc[-1] == len(res.persons)
    assert att["n_records"].iloc[-1] == len(res.events)
    assert dataclasses.replace(d, rules=()).digest != d.digest
