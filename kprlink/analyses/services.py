"""Analysis steps on KPR helse og omsorg alone (no cohort, no linkage).

- ``welfare_technology_by_age_sex``: recipients of a welfare-technology
  service (safety alarm ``06.01``, GPS ``06.02``) by age band and sex;
- ``indicator_by_county``: long-term residents with a quality indicator
  (medication review, nutrition screening/risk/plan) by county.

Each returns person counts only; the runner suppresses and derives shares.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

from kprlink.analyses._context import (
    StudyContext,
    age_bands,
    delivery_frame,
    kpr_person_id,
    sex_label,
    with_age_band,
)
from kprlink.analyses._registry import AnalysisTable, register

#: Welfare-technology sub-codes of service 6 (kprlink.sources.kpr_ho).
WELFARE_TECHNOLOGY = {"06.01": "Safety alarm", "06.02": "GPS"}
LONG_TERM_STAY = 21
INDICATORS = ("medication_review", "nutrition_screening", "nutrition_risk",
              "nutrition_plan")


_frame = delivery_frame


def _active(df: pd.DataFrame, start: dt.date, end: dt.date) -> pd.Series:
    s = pd.Timestamp(start)
    e = pd.Timestamp(end)
    begins = pd.to_datetime(df["start_date"])
    ends = pd.to_datetime(df["end_date"])
    return (begins <= e) & (ends.isna() | (ends >= s))


@register("welfare_technology_by_age_sex")
def welfare_technology_by_age_sex(ctx: StudyContext, *, breaks: Sequence[int] = (0, 67, 80, 90)
                                  ) -> AnalysisTable:
    """Persons with a safety alarm or GPS active in the period, by age band and sex.

    A person counts once per technology (several decisions do not add up);
    age in completed years on the study reference date from the birth year
    (:func:`kprlink.add_age`).
    """
    svc = _frame(ctx, "ho_services", ["kpr_id", "service_code", "service_subcode",
                                      "start_date", "end_date", "sex", "birth_year"])
    sel = svc[(svc["service_code"] == 6)
              & svc["service_subcode"].isin(list(WELFARE_TECHNOLOGY))
              & _active(svc, ctx.spec.period_start, ctx.spec.period_end)]
    persons = (sel.sort_values(["kpr_id", "start_date"], kind="stable")
               .drop_duplicates(["kpr_id", "service_subcode"])
               .loc[:, ["kpr_id", "service_subcode", "sex", "birth_year"]])
    persons = with_age_band(ctx, persons, breaks)
    persons = persons.assign(technology=persons["service_subcode"].map(WELFARE_TECHNOLOGY),
                             sex=sex_label(persons["sex"]))
    unknown = persons["age_band"].isna() | persons["sex"].isna()
    excluded = {"unknown age or sex": int(unknown.sum())}
    kept = persons[~unknown].assign(person_id=lambda d: kpr_person_id(d["kpr_id"]))
    return AnalysisTable.from_persons(
        kept, {"technology": list(WELFARE_TECHNOLOGY.values()),
               "age_band": list(age_bands(breaks).labels), "sex": ["female", "male"]},
        excluded=excluded,
                         notes="Persons with the service active on at least one day of the "
                               "period; age at the reference date.")


@register("indicator_by_county")
def indicator_by_county(ctx: StudyContext, *, indicator: str = "medication_review"
                        ) -> AnalysisTable:
    """Long-term residents (service 21) with `indicator` true, by county.

    A person's latest indicator report in the period counts; residents with
    no report or the indicator not reported are counted as ``not reported``.
    """
    svc = _frame(ctx, "ho_services", ["kpr_id", "service_code", "start_date", "end_date",
                                      "municipality"])
    ind = _frame(ctx, "ho_indicators", ["kpr_id", "date", indicator])
    lt = svc[(svc["service_code"] == LONG_TERM_STAY)
             & _active(svc, ctx.spec.period_start, ctx.spec.period_end)]
    lt = lt.sort_values(["kpr_id", "start_date"], kind="stable").drop_duplicates(
        "kpr_id", keep="last")[["kpr_id", "municipality"]]
    d = pd.to_datetime(ind["date"])
    rep = ind[(d >= pd.Timestamp(ctx.spec.period_start))
              & (d <= pd.Timestamp(ctx.spec.period_end))]
    rep = rep.sort_values(["kpr_id", "date"], kind="stable").drop_duplicates(
        "kpr_id", keep="last")[["kpr_id", indicator]]
    res = lt.merge(rep, on="kpr_id", how="left")
    value = res[indicator].astype("boolean")
    status = np.where(value.isna(), "not reported", np.where(value.fillna(False), "yes", "no"))
    county = res["municipality"].astype("string").str.slice(0, 2)
    res = res.assign(county=county.fillna("unknown"), indicator=status)
    res = res.assign(person_id=kpr_person_id(res["kpr_id"]))
    return AnalysisTable.from_persons(
        res, {"county": sorted(res["county"].unique()),
              "indicator": ["yes", "no", "not reported"]}, share_within="indicator",
                         excluded={"no indicator report (shown as 'not reported')":
                                   int(value.isna().sum())},
                         notes=f"Long-term residents in the period; share with "
                               f"{indicator.replace('_', ' ')} among all residents.")


