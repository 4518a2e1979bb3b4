"""Follow-up, Lexis splits and survival end to end on a small synthetic delivery."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kprlink.codes import load_phenotype
from kprlink.cohorts import (
    CohortDefinition,
    ComorbidityIndex,
    EntryCriterion,
    FollowUp,
    add_comorbidity,
    build_cohort,
    diagnosis_events,
)
from kprlink.demography import AgeBands
from kprlink.disclosure import SuppressionRule
from kprlink.sources import read_delivery
from kprlink.stats import (
    contact_rate_glm,
    cumulative_incidence,
    kaplan_meier,
    release_curve,
    split_lexis,
    tabulate_person_time,
)
from kprlink.synth import SynthConfig, generate_delivery

COHORT_TOML = Path(__file__).parents[1] / "studies" / "dementia_2016_2017" / "cohort.toml"


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth_followup")
    generate_delivery(out, SynthConfig(scale=0.002, seed=11))
    base = CohortDefinition.from_toml(COHORT_TOML)
    follow = FollowUp(outcome=[EntryCriterion("npr", [load_phenotype("hip_fracture_icd10")])],
                      outcome_name="hip_fracture")
    d = dataclasses.replace(base, follow_up=follow,
                            attributes=(*base.attributes, "death_date"))
    delivery = read_delivery(out)
    res = build_cohort(delivery, d)
    truth = pd.read_parquet(out / "truth" / "persons.parquet")
    return {"persons": res.persons, "truth": truth, "result": res, "delivery": delivery}


def test_follow_up_matches_truth(cohort):
    p, truth = cohort["persons"], cohort["truth"]
    assert len(p) > 20
    tr = truth[["kpr_id", "death_date", "hip_fracture"]].astype({"kpr_id": "Int64"})
    t = p.dropna(subset=["kpr_id"]).merge(tr, on="kpr_id", how="left",
                                          suffixes=("", "_truth"))
    assert t["hip_fracture"].notna().all()
    died = t["exit_reason"] == "death"
    assert died.sum() > 0
    assert (t.loc[died, "exit_date"] == t.loc[died, "death_date_truth"]).all()
    # every recorded outcome is a true hip fracture; no exit after the delivery ends
    assert t.loc[t["status"] == 1, "hip_fracture"].all()
    assert (t["exit_date"] <= pd.Timestamp("2017-12-31")).all()
    assert (t["time_days"] == (t["exit_date"] - t["index_date"]).dt.days).all()


def test_lexis_and_survival_on_the_cohort(cohort):
    p = cohort["persons"]
    s = split_lexis(p, age_bands=AgeBands.reference_dementia(), years=[2016, 2017])
    assert s.groupby(level=0)["time_days"].sum().equals(p.loc[p["time_days"] > 0,
                                                              "time_days"])
    assert (s.groupby(level=0)["status"].sum() == p.loc[p["time_days"] > 0, "status"]).all()
    cells = tabulate_person_time(s, by=["year", "sex"], event_value=2)  # death rates
    np.testing.assert_allclose(cells["person_years"].sum(), p["person_years"].sum())
    assert cells["n_events"].sum() == (p["status"] == 2).sum()
    fit = contact_rate_glm(cells, formula="C(sex)", events_col="n_events")
    assert fit.rate_ratios["rate_ratio"].iloc[0] > 0
    rule = SuppressionRule(max_n=4)
    for curve in (kaplan_meier(p, event_value=2), cumulative_incidence(p, event_value=2,
                                                                       competing_values=[1])):
        rel = release_curve(curve, rule=rule)
        assert len(rel) >= 1
        v = rel[["n_at_risk", "n_events", "n_competing", "n_censored"]].to_numpy(int)
        assert ((v == 0) | (v > 4)).all()


def test_charlson_on_the_cohort(cohort):
    res, delivery = cohort["result"], cohort["delivery"]
    cci = ComorbidityIndex.charlson_quan()
    ev = diagnosis_events(delivery, persons=res.linkage.persons, codelists=cci.codelists)
    out = add_comorbidity(res.persons, ev, index=cci, lookback_days=365)
    # whoever entered through an NPR dementia diagnosis has Charlson dementia (index day counts)
    first = res.events.sort_values(["person_id", "date", "source"]).drop_duplicates("person_id")
    npr_first = set(first.loc[first["source"] == "npr", "person_id"])
    assert npr_first
    got = out.set_index("person_id")["charlson_dementia"]
    assert got.loc[sorted(npr_first)].all()
    assert (out["charlson_score"] >= 2 * out["charlson_dementia"]).all()
    assert out["charlson_score"].max() <= 24
