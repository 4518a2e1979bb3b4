"""Analysis steps of the multi-year dementia study (``dementia_trend_2016_2024``).

- ``registered_by_year`` (prevalence of registered dementia): persons with a
  qualifying contact (the cohort's entry events: a dementia code at a GP,
  out-of-hours or hospital contact) in calendar year *y*, per 1,000
  population on 1 January of *y*, by age on that day and sex.
- ``first_registered_by_year`` (incidence of registration): persons whose
  first qualifying contact since the start of the data (1 July 2016, the
  cohort's index date) falls in year *y*, after a washout in which earlier
  registrations are seen and set aside (default 1 July 2016 – 31 December
  2017), per 1,000 population on 1 January of *y*.

Years run from `first_year` to `last_year`, limited to those the delivery
covers: the population table holds 1 January of the year, and the cohort's
persons have claims or episodes to December of it (a delivery ending earlier
gives fewer years; none is an error naming what is missing). A person counts
once a year in the prevalence table, so its year margin counts person-years;
the released figure is the trend by year.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

from kprlink.analyses._context import StudyContext, age_bands, sex_label
from kprlink.analyses._registry import AnalysisTable, register
from kprlink.exceptions import MissingColumnsError, SpecError

#: Bands of the trend tables (few, so that yearly cells stay publishable).
TREND_BREAKS = (0, 65, 75, 85)
SEXES = ["female", "male"]


def _last_day(ctx: StudyContext) -> pd.Timestamp | None:
    """Last claim or episode date among the cohort's persons (the data's reach)."""
    last = []
    for name, col in (("kuhr_claims", "date"), ("npr_episodes", "date_in")):
        frame = getattr(ctx.delivery, name, None)
        if frame is not None and len(frame):
            d = pd.to_datetime(frame[col]).max()
            if pd.notna(d):
                last.append(d)
    return max(last) if last else None


def _years(ctx: StudyContext, first_year: int, last_year: int, what: str) -> list[int]:
    pop = ctx.delivery.population
    if pop is None:
        raise MissingColumnsError(f"study {ctx.spec.name!r} needs the population table "
                                  "(SSB 07459) in the delivery.", missing=["population"])
    col = "calyear" if "calyear" in pop else "year"
    have = {int(y) for y in pd.unique(pop[col])}
    end = _last_day(ctx)
    years = [y for y in range(first_year, last_year + 1) if y in have
             and end is not None and end >= pd.Timestamp(dt.date(y, 12, 1))]
    if not years:
        reach = "no claims or episodes" if end is None else f"data to {end:%Y-%m-%d}"
        raise SpecError(
            f"study {ctx.spec.name!r}, {what}: the delivery covers none of the years "
            f"{first_year}-{last_year} ({reach}; population on 1 January of "
            f"{sorted(have)}). Run it on a multi-year delivery (kprlink synth --years "
            "2016-2024 for a synthetic one).", [f"{what}: years {first_year}-{last_year}"])
    return years


def _table(ctx: StudyContext, rows: pd.DataFrame, years: list[int], breaks: Sequence[int],
           notes: str, excluded: dict[str, int]) -> AnalysisTable:
    """Cells year × age band × sex of `rows` (person_id, year, birth_year, sex)."""
    import kprlink as kl

    bands = age_bands(breaks)
    age = pd.array(rows["year"], dtype="Int64") - pd.array(rows["birth_year"], dtype="Int64") - 1
    age = pd.Series(age, index=rows.index)  # completed years on 1 January (exact from the year)
    ok = (age >= 0) & (age <= 130)
    df = pd.DataFrame({"person_id": rows["person_id"].to_numpy(np.int64),
                       "year": rows["year"].astype("string"),
                       "age": age.where(ok.fillna(False)),
                       "sex": sex_label(rows["sex"])}, index=rows.index)
    df = kl.add_age_band(df, bands)
    df["age_band"] = df["age_band"].astype("string")
    unknown = df["age_band"].isna() | df["sex"].isna()
    pop = kl.population_denominators(ctx.delivery.population, year=years,
                                     by=["age_band", "sex"], bands=bands)
    pop["population"] = pop["population"].round().astype("int64")
    pop = pop.astype({"year": "string", "age_band": "string", "sex": "string"})
    levels = {"year": [str(y) for y in years], "age_band": list(bands.labels), "sex": SEXES}
    return AnalysisTable.from_persons(
        df.loc[~unknown, ["person_id", "year", "age_band", "sex"]], levels,
        population=pop[["year", "age_band", "sex", "population"]], rate_per=1000,
        excluded={**excluded, "unknown age or sex": int(unknown.sum())}, notes=notes)


def _cohort_rows(ctx: StudyContext) -> tuple[pd.DataFrame, pd.DataFrame]:
    persons = ctx.cohort()
    events = ctx.cohort_events()
    return persons, events


@register("registered_by_year", cohort_persons_only=True)
def registered_by_year(ctx: StudyContext, *, breaks: Sequence[int] = TREND_BREAKS,
                       first_year: int = 2017, last_year: int = 2024) -> AnalysisTable:
    """Persons with a registered dementia contact per year, per 1,000 (see module notes)."""
    years = _years(ctx, first_year, last_year, "registered_by_year")
    persons, events = _cohort_rows(ctx)
    year = pd.to_datetime(events["date"]).dt.year
    pairs = (pd.DataFrame({"person_id": events["person_id"].to_numpy(np.int64),
                           "year": year.to_numpy()})
             .drop_duplicates().sort_values(["year", "person_id"], kind="stable"))
    pairs = pairs[pairs["year"].isin(years)]
    info = persons.set_index("person_id")[["birth_year", "sex"]]
    rows = pairs.join(info, on="person_id").reset_index(drop=True)
    return _table(ctx, rows, years, breaks, excluded={}, notes=(
        "Persons with a dementia diagnosis (ICD-10 F00-F03, G30; ICPC-2 P70) at a GP, "
        "out-of-hours or hospital contact in the year, per 1,000 population on 1 January "
        "(SSB 07459, national), by age in completed years on that day and sex; 95 % Wilson "
        "intervals. A person counts once in each year with a contact."))


@register("first_registered_by_year", cohort_persons_only=True)
def first_registered_by_year(ctx: StudyContext, *, breaks: Sequence[int] = TREND_BREAKS,
                             washout_end: str = "2017-12-31",
                             last_year: int = 2024) -> AnalysisTable:
    """Persons first registered in each year after the washout, per 1,000 (module notes)."""
    end = pd.Timestamp(washout_end)
    if end.month != 12 or end.day != 31:
        raise SpecError(f"first_registered_by_year: washout_end must be a 31 December, got "
                        f"{washout_end!r}.", [f"washout_end={washout_end!r}"])
    years = _years(ctx, end.year + 1, last_year, "first_registered_by_year")
    persons = ctx.cohort()
    first = pd.to_datetime(persons["index_date"])
    in_washout = first <= end
    year = first.dt.year
    keep = ~in_washout & year.isin(years)
    rows = pd.DataFrame({"person_id": persons["person_id"].to_numpy(np.int64),
                         "year": year.to_numpy(), "birth_year": persons["birth_year"],
                         "sex": persons["sex"]})[keep.to_numpy()].reset_index(drop=True)
    return _table(ctx, rows, years, breaks,
                  excluded={"first registered in the washout": int(in_washout.sum())},
                  notes=(f"Persons whose first registered dementia contact since the start "
                         f"of the data ({ctx.spec.period_start}) falls in the year, after a "
                         f"washout to {end:%Y-%m-%d} (those registered in it are set aside), "
                         "per 1,000 population on 1 January (SSB 07459), by age on that day "
                         "and sex; 95 % Wilson intervals."))
