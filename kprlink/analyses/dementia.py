"""Analysis steps of the dementia study (cohort from ``cohort.toml``).

- ``cohort_share_by_age_sex``: persons in the cohort per 100 population, by
  age band and sex (the reference bar chart). Numerator: cohort persons by
  age in completed years on the reference date (reference year − birth year
  − 1) and sex. Denominator: the delivery's SSB 07459 population on the
  reference date, national level. For the period 1 Jul 2016 – 30 Jun 2017
  the reference date is 1 Jan 2017, the middle of the period, so no averaging
  of two population years is needed.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from kprlink.analyses._context import StudyContext, age_band, sex_label
from kprlink.analyses._registry import AnalysisTable, register
from kprlink.exceptions import MissingColumnsError

#: Bands of the 2018 reference chart: Under 60, 60–64, …, 85–89, 90+.
REFERENCE_BREAKS = (0, 60, 65, 70, 75, 80, 85, 90)


def person_attributes(ctx: StudyContext, persons: pd.DataFrame) -> pd.DataFrame:
    """`persons` with ``sex`` (1/2) and ``birth_year``, filled from the registers.

    Columns already in `persons` win; otherwise the value comes from the
    person's KPR-KUHR claims (by ``kpr_id``), then NPR episodes (``npr_id``),
    taking the most frequent non-missing value. `persons` is not modified.
    """
    out = persons.copy()
    for col in ("sex", "birth_year"):
        if col not in out:
            out[col] = pd.array([pd.NA] * len(out), dtype="Int64")
        for frame, key in ((ctx.delivery.kuhr_claims, "kpr_id"),
                           (ctx.delivery.npr_episodes, "npr_id")):
            if frame is None or key not in out or col not in frame or key not in frame:
                continue
            vals = frame[[key, col]].dropna()
            mode = (vals.groupby([key, col]).size().rename("k").reset_index()
                    .sort_values([key, "k", col], ascending=[True, False, True], kind="stable")
                    .drop_duplicates(key).set_index(key)[col])
            fill = out[key].map(mode)
            out[col] = pd.array(out[col], dtype="Int64").fillna(
                pd.array(fill, dtype="Int64"))
    return out


def national_population(ctx: StudyContext, breaks: Sequence[int]) -> pd.DataFrame:
    """SSB population on the reference date by age band and sex (national)."""
    pop = ctx.delivery.population
    if pop is None:
        raise MissingColumnsError(f"study {ctx.spec.name!r} needs the population table "
                                  "(SSB 07459) in the delivery.", missing=["population"])
    year = ctx.spec.ref_date.year
    sel = pop[(pop["geo_level"].astype(str) == "nation") & (pop["year"] == year)
              & pop["sex"].astype(str).isin(["female", "male"])]
    if sel.empty:
        raise MissingColumnsError(f"the population table has no national rows for 1 Jan "
                                  f"{year}.", missing=[f"population {year}"])
    sel = sel.assign(age_band=age_band(sel["age"], breaks).astype("string"),
                     sex=sel["sex"].astype("string"))
    return (sel.groupby(["age_band", "sex"], sort=False)["population"].sum()
            .reset_index().astype({"population": "int64"}))


@register("cohort_share_by_age_sex")
def cohort_share_by_age_sex(ctx: StudyContext, *,
                            breaks: Sequence[int] = REFERENCE_BREAKS) -> AnalysisTable:
    """Cohort persons per 100 population, by age band and sex (see module notes)."""
    persons = person_attributes(ctx, ctx.cohort())
    age = ctx.spec.ref_date.year - 1 - persons["birth_year"]
    persons = persons.assign(age_band=age_band(age, breaks), sex=sex_label(persons["sex"]))
    unknown = persons["age_band"].isna() | persons["sex"].isna()
    labels = list(age_band(pd.Series([], dtype="Int64"), breaks).cat.categories)
    full = pd.MultiIndex.from_product([labels, ["female", "male"]], names=["age_band", "sex"])
    counts = (persons[~unknown].astype({"age_band": "string"})
              .groupby(["age_band", "sex"]).size().reindex(full, fill_value=0)
              .rename("n").reset_index().astype({"age_band": "string", "sex": "string",
                                                 "n": "int64"}))
    return AnalysisTable(
        counts, ("age_band", "sex"), population=national_population(ctx, breaks),
        excluded={"unknown age or sex": int(unknown.sum())},
        notes=(f"Persons with registered dementia per 100 population on "
               f"{ctx.spec.ref_date} (SSB 07459, national), by age in completed years on "
               "that date and sex."))
