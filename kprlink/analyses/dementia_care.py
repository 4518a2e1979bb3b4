"""Dementia study: GP contacts, hip fractures and municipal care of the cohort.

- ``gp_contacts_by_age``: cohort persons by age band, with their GP contacts
  in the period by contact type (from fee codes, :func:`kprlink.contact_types`)
  summed, so the runner releases contacts per person where the count is shown;
- ``hip_fracture_by_residence``: persons admitted (inpatient) with a hip
  fracture (ICD-10 S72.0–S72.2, main diagnosis) in the period, by residence on
  the admission day (home-dwelling or long-term nursing-home resident, from
  KPR helse og omsorg; unknown before its coverage starts on 1 Jan 2017);
- ``care_step_in_period``: persons by the highest step of the care staircase
  (:class:`kprlink.CareStaircase`) with a service running in the covered part
  of the period, ``no municipal service`` included;
- ``municipal_service_by_age``: persons with and without any municipal
  service in the covered part of the period, by age band.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

from kprlink.analyses._context import StudyContext, age_bands, delivery_frame, with_age_band
from kprlink.analyses._registry import AnalysisTable, register

#: kprlink contact types grouped as in the reference questions.
CONTACT_GROUPS = {"consultation": "consultation", "home_visit": "home_visit",
                  "e_consultation": "e_consultation", "simple_remote": "simple_contact",
                  "simple_present": "simple_contact"}
CONTACT_COLS = ("consultation", "home_visit", "e_consultation", "simple_contact", "other")
#: Hip fracture: femoral neck, pertrochanteric, subtrochanteric (ICD-10).
HIP_FRACTURE = ("S720", "S721", "S722")
LONG_TERM_STAY = 21
KPR_HO_START = dt.date(2017, 1, 1)
NO_SERVICE = "no municipal service"


_need = delivery_frame


def _in_period(dates: pd.Series, ctx: StudyContext) -> pd.Series:
    d = pd.to_datetime(dates)
    return (d >= pd.Timestamp(ctx.spec.period_start)) & (d <= pd.Timestamp(ctx.spec.period_end))


@register("gp_contacts_by_age", cohort_persons_only=True)
def gp_contacts_by_age(ctx: StudyContext, *, breaks: Sequence[int] = (0, 65, 75, 85, 90),
                       service_types: Sequence[str] = ("Fastlege",)) -> AnalysisTable:
    """Cohort persons by age band with their GP contacts in the period, by contact type.

    A claim is one contact; its type comes from its fee codes. Claims after
    the person's death are not counted (delivery defect, see the linkage
    report). ``other`` holds interdisciplinary, administrative and unknown.
    """
    import kprlink as kl

    persons = with_age_band(ctx, ctx.cohort(), breaks)
    unknown = persons["age_band"].isna()
    persons = persons[~unknown]
    claims = _need(ctx, "kuhr_claims")
    sel = claims[claims["kpr_id"].isin(persons["kpr_id"].dropna())
                 & claims["service_type"].astype("string").isin(list(service_types))
                 & _in_period(claims["date"], ctx)]
    after = pd.to_datetime(sel["date"]) > pd.to_datetime(sel["death_date"])
    n_after = int(after.fillna(False).sum())
    sel = sel[~after.fillna(False)]
    fees = _need(ctx, "kuhr_fees")
    types = kl.contact_types(fees[fees["claim_id"].isin(sel["claim_id"])])
    sel = sel[["kpr_id", "claim_id"]].merge(types[["claim_id", "contact_type"]],
                                            on="claim_id", how="left")
    group = sel["contact_type"].astype("string").map(CONTACT_GROUPS).fillna("other")
    wide = pd.crosstab(sel["kpr_id"], group).reindex(columns=list(CONTACT_COLS), fill_value=0)
    per = persons[["person_id", "kpr_id", "age_band"]].merge(
        wide, left_on="kpr_id", right_index=True, how="left")
    per[list(CONTACT_COLS)] = per[list(CONTACT_COLS)].fillna(0).astype("int64")
    return AnalysisTable.from_persons(
        per, {"age_band": list(age_bands(breaks).labels)}, value_cols=CONTACT_COLS,
        excluded={"unknown age": int(unknown.sum()),
                  "claims dated after death (not counted)": n_after},
        notes=(f"All cohort persons (also those without a GP contact); contacts are "
               f"{', '.join(service_types)} claims in the period by contact type from the "
               "fee codes; `<type>_per_person` = contacts per person."))


def _long_term_on(services: pd.DataFrame, kpr_ids: pd.Series, days: pd.Series) -> pd.Series:
    """True where person `kpr_ids[i]` had a long-term stay running on `days[i]`."""
    lt = services[services["service_code"] == LONG_TERM_STAY][["kpr_id", "start_date",
                                                               "end_date"]]
    q = pd.DataFrame({"kpr_id": kpr_ids.to_numpy(), "day": pd.to_datetime(days).to_numpy(),
                      "row": range(len(kpr_ids))})
    m = q.merge(lt, on="kpr_id", how="inner")
    on = (pd.to_datetime(m["start_date"]) <= m["day"]) & (
        m["end_date"].isna() | (pd.to_datetime(m["end_date"]) >= m["day"]))
    out = np.zeros(len(kpr_ids), dtype=bool)
    out[m.loc[on.fillna(False).astype(bool), "row"].to_numpy(dtype=np.int64)] = True
    return pd.Series(out, index=kpr_ids.index)


@register("hip_fracture_by_residence", cohort_persons_only=True)
def hip_fracture_by_residence(ctx: StudyContext) -> AnalysisTable:
    """Cohort persons by hip-fracture admission in the period and residence then."""
    persons = ctx.cohort()[["person_id", "kpr_id", "npr_id"]]
    ep = _need(ctx, "npr_episodes")
    dx = _need(ctx, "npr_diagnoses")
    svc = _need(ctx, "ho_services")
    main = dx[(dx["condition"] == 1) & dx["is_main"].fillna(False).astype(bool)
              & dx["code"].astype("string").str.slice(0, 4).isin(list(HIP_FRACTURE))]
    adm = ep[(ep["care_level"] == 1) & _in_period(ep["date_in"], ctx)
             & ep["episode_id"].isin(main["episode_id"])
             & ep["npr_id"].isin(persons["npr_id"].dropna())]
    first = (adm.sort_values(["npr_id", "date_in", "episode_id"], kind="stable")
             .drop_duplicates("npr_id")[["npr_id", "date_in"]])
    res = persons.merge(first, on="npr_id", how="left")
    has = res["date_in"].notna()
    covered = has & (pd.to_datetime(res["date_in"]) >= pd.Timestamp(KPR_HO_START))
    linked = res["kpr_id"].notna()
    lt = pd.Series(False, index=res.index)
    idx = covered & linked
    lt[idx] = _long_term_on(svc, res.loc[idx, "kpr_id"], res.loc[idx, "date_in"]).to_numpy()
    status = pd.Series("no hip-fracture admission", index=res.index, dtype="string")
    status[has] = "hip fracture, residence unknown"
    status[covered & linked & ~lt] = "hip fracture, home-dwelling"
    status[covered & linked & lt] = "hip fracture, nursing-home resident"
    return AnalysisTable.from_persons(
        pd.DataFrame({"person_id": res["person_id"], "hip_fracture": status}),
        {"hip_fracture": ["hip fracture, home-dwelling", "hip fracture, nursing-home resident",
                          "hip fracture, residence unknown", "no hip-fracture admission"]},
        share_within="hip_fracture",
        notes=("Inpatient NPR admission with main diagnosis S72.0-S72.2 in the period (first "
               "per person). Home-dwelling: no long-term nursing-home stay (KPR service 21) "
               f"on the admission day; unknown before {KPR_HO_START} (KPR helse og omsorg "
               "coverage) or for persons without a KPR id."))


def _services_in_period(ctx: StudyContext) -> tuple[pd.DataFrame, dt.date]:
    svc = _need(ctx, "ho_services")
    start = max(ctx.spec.period_start, KPR_HO_START)
    s, e = pd.Timestamp(start), pd.Timestamp(ctx.spec.period_end)
    run = (pd.to_datetime(svc["start_date"]) <= e) & (
        svc["end_date"].isna() | (pd.to_datetime(svc["end_date"]) >= s))
    return svc[run.fillna(False)], start


@register("care_step_in_period", cohort_persons_only=True)
def care_step_in_period(ctx: StudyContext) -> AnalysisTable:
    """Cohort persons by their highest care-staircase step in the covered period."""
    import kprlink as kl

    stairs = kl.CareStaircase.default()
    svc, start = _services_in_period(ctx)
    persons = ctx.cohort()[["person_id", "kpr_id"]]
    step_of = {c: i for i, (_, codes) in enumerate(stairs.steps) for c in codes}
    code = pd.to_numeric(svc["service_code"], errors="coerce")
    s = svc.assign(step=code.map(step_of))
    other = s["step"].isna()
    best = s[~other].groupby("kpr_id")["step"].max()
    labels = [lab for lab, _ in stairs.steps]
    got = persons["kpr_id"].map(best)
    any_other = persons["kpr_id"].isin(s.loc[other, "kpr_id"])
    step = got.map(lambda i: labels[int(i)] if pd.notna(i) else pd.NA).astype("string")
    step = step.mask(step.isna() & any_other, "other services only").fillna(NO_SERVICE)
    return AnalysisTable.from_persons(
        pd.DataFrame({"person_id": persons["person_id"], "care_step": step}),
        {"care_step": [NO_SERVICE, "other services only", *labels]},
        share_within="care_step",
        notes=(f"Highest step of the care staircase with a KPR helse og omsorg service running "
               f"between {start} and {ctx.spec.period_end} (the register starts "
               f"{KPR_HO_START}). NPR-only persons (no KPR id) count as having no service."))


@register("municipal_service_by_age", cohort_persons_only=True)
def municipal_service_by_age(ctx: StudyContext, *, breaks: Sequence[int] = (0, 65, 80, 90)
                             ) -> AnalysisTable:
    """Cohort persons with and without any municipal service, by age band."""
    svc, start = _services_in_period(ctx)
    persons = with_age_band(ctx, ctx.cohort(), breaks)
    unknown = persons["age_band"].isna()
    persons = persons[~unknown]
    has = persons["kpr_id"].isin(svc["kpr_id"]).map({True: "yes", False: "no"})
    df = pd.DataFrame({"person_id": persons["person_id"], "age_band": persons["age_band"],
                       "municipal_service": has})
    return AnalysisTable.from_persons(
        df, {"age_band": list(age_bands(breaks).labels), "municipal_service": ["yes", "no"]},
        share_within="municipal_service",
        excluded={"unknown age": int(unknown.sum())},
        notes=(f"Any KPR helse og omsorg service running between {start} and "
               f"{ctx.spec.period_end}; 'no' includes persons without a KPR id."))
