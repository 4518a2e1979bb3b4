"""Analysis steps of the dementia study on the cohort (``cohort.toml``) and the registers.

- ``cohort_share_by_age_sex``: cohort persons per 100 population by age band
  and sex (the reference bar chart). Age in completed years on the reference
  date; denominator the delivery's SSB 07459 population on that date
  (:func:`kprlink.population_denominators`, national). For 1 Jul 2016 – 30 Jun
  2017 the reference date is 1 Jan 2017, the middle of the period.
- ``cohort_by_source``: persons registered via GP/out-of-hours only, hospital
  only, or both, by sex.
- ``cohort_by_municipality``: persons aged `min_age`+ per 100 population of
  that age, by municipality of residence at the index date (funnel plot).
- ``hospital_diagnoses``: persons with a hospital episode in the period, by
  ICD-10 chapter of the main diagnosis of their first episode.

Every step returns person counts; persons left out (unknown age, sex or
municipality) are counted in ``excluded``.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from kprlink.analyses._context import StudyContext, age_bands, sex_label, with_age_band
from kprlink.analyses._registry import AnalysisTable, count_cells, register  # noqa: F401
from kprlink.exceptions import MissingColumnsError

#: Bands of the 2018 reference chart: Under 60, 60–64, …, 85–89, 90+.
REFERENCE_BREAKS = (0, 60, 65, 70, 75, 80, 85, 90)
SEXES = ["female", "male"]
#: Cohort ``sources`` values to the labels of the "via GP, hospital or both" table.
SOURCE_LABELS = {"kpr_kuhr": "GP/out-of-hours only", "npr": "hospital only",
                 "kpr_kuhr+npr": "both"}
#: ICD-10 (WHO 2019) chapters: (first, last) three-character code, label.
ICD10_CHAPTERS = (
    ("A00", "B99", "I Infectious"), ("C00", "D48", "II Neoplasms"),
    ("D50", "D89", "III Blood"), ("E00", "E90", "IV Endocrine"),
    ("F00", "F99", "V Mental"), ("G00", "G99", "VI Nervous"),
    ("H00", "H59", "VII Eye"), ("H60", "H95", "VIII Ear"),
    ("I00", "I99", "IX Circulatory"), ("J00", "J99", "X Respiratory"),
    ("K00", "K93", "XI Digestive"), ("L00", "L99", "XII Skin"),
    ("M00", "M99", "XIII Musculoskeletal"), ("N00", "N99", "XIV Genitourinary"),
    ("O00", "O99", "XV Pregnancy"), ("P00", "P96", "XVI Perinatal"),
    ("Q00", "Q99", "XVII Congenital"), ("R00", "R99", "XVIII Symptoms"),
    ("S00", "T98", "XIX Injury"), ("V01", "Y98", "XX External causes"),
    ("Z00", "Z99", "XXI Health services"), ("U00", "U99", "XXII Special purposes"),
)


def icd10_chapter(codes: pd.Series) -> pd.Series:
    """ICD-10 chapter label of each normalised code (NA when outside every chapter).

    Examples
    --------
    >>> icd10_chapter(pd.Series(["F001", "S720", "G30", "??"])).tolist()
    ['V Mental', 'XIX Injury', 'VI Nervous', <NA>]
    """
    three = codes.astype("string").str.upper().str.slice(0, 3)
    out = pd.Series(pd.NA, index=codes.index, dtype="string")
    for lo, hi, label in ICD10_CHAPTERS:
        out = out.mask(three.ge(lo).fillna(False) & three.le(hi).fillna(False)
                       & out.isna(), label)
    return out


def cohort_persons(ctx: StudyContext, breaks: Sequence[int]) -> tuple[pd.DataFrame, int]:
    """Cohort persons with ``age_band`` and ``sex`` labels; and the number unknown."""
    persons = with_age_band(ctx, ctx.cohort(), breaks)
    persons["sex"] = sex_label(persons["sex"])
    unknown = persons["age_band"].isna() | persons["sex"].isna()
    return persons[~unknown], int(unknown.sum())


def _population(ctx: StudyContext, *, by: Sequence[str], bands: object,
                geo_level: str = "nation") -> pd.DataFrame:
    import kprlink as kl

    pop = ctx.delivery.population
    if pop is None:
        raise MissingColumnsError(f"study {ctx.spec.name!r} needs the population table "
                                  "(SSB 07459) in the delivery.", missing=["population"])
    den = kl.population_denominators(pop, year=ctx.spec.ref_date.year, by=list(by),
                                     bands=bands, geo_level=geo_level)
    den["population"] = den["population"].round().astype("int64")
    return den.drop(columns=[c for c in ("person_years",) if c in den])


@register("cohort_share_by_age_sex", cohort_persons_only=True)
def cohort_share_by_age_sex(ctx: StudyContext, *,
                            breaks: Sequence[int] = REFERENCE_BREAKS) -> AnalysisTable:
    """Cohort persons per 100 population, by age band and sex (see module notes)."""
    persons, unknown = cohort_persons(ctx, breaks)
    bands = age_bands(breaks)
    pop = _population(ctx, by=("age_band", "sex"), bands=bands)
    pop = pop.astype({"age_band": "string", "sex": "string"})
    return AnalysisTable.from_persons(
        persons, {"age_band": list(bands.labels), "sex": SEXES}, population=pop,
        excluded={"unknown age or sex": unknown},
        notes=(f"Persons with registered dementia per 100 population on "
               f"{ctx.spec.ref_date} (SSB 07459, national), by age in completed years on "
               "that date and sex; 95 % Wilson intervals."))


@register("cohort_by_source", cohort_persons_only=True)
def cohort_by_source(ctx: StudyContext) -> AnalysisTable:
    """Cohort persons by where the dementia diagnosis was registered, by sex."""
    persons = ctx.cohort()
    src = persons["sources"].astype("string").map(SOURCE_LABELS).astype("string")
    sex = sex_label(persons["sex"])
    unknown = src.isna() | sex.isna()
    df = pd.DataFrame({"person_id": persons["person_id"], "registered_in": src,
                       "sex": sex})[~unknown]
    return AnalysisTable.from_persons(
        df, {"registered_in": list(SOURCE_LABELS.values()), "sex": SEXES},
        share_within="registered_in",
                         excluded={"unknown source or sex": int(unknown.sum())},
                         notes="Persons with registered dementia by the registers holding a "
                               "qualifying event in the period (KPR-KUHR: GP or "
                               "out-of-hours; NPR: hospital).")


@register("cohort_by_municipality", cohort_persons_only=True)
def cohort_by_municipality(ctx: StudyContext, *, min_age: int = 65) -> AnalysisTable:
    """Persons aged `min_age`+ per 100 population aged `min_age`+, by municipality."""
    persons = with_age_band(ctx, ctx.cohort(), (0, min_age))
    bands = age_bands((0, min_age))
    old = bands.labels[-1]
    muni = persons["municipality_at_index"].astype("string")
    pop = _population(ctx, by=("location_code", "age_band"), bands=bands, geo_level="municip")
    pop = pop[pop["age_band"].astype("string") == old]
    pop = pop.assign(municipality=pop["location_code"].astype("string").str.slice(-4))
    pop = pop.groupby("municipality", as_index=False)["population"].sum()
    known = set(pop["municipality"])
    in_age = persons["age_band"] == old
    unknown = in_age & (muni.isna() | ~muni.isin(known).fillna(False))
    df = pd.DataFrame({"person_id": persons["person_id"], "municipality": muni})[
        in_age.fillna(False) & ~unknown.fillna(False)]
    return AnalysisTable.from_persons(
        df, {"municipality": sorted(known)}, population=pop,
        excluded={f"aged {min_age}+ with unknown municipality or one not in the "
                  "population table": int(unknown.fillna(False).sum()),
                  f"under {min_age} or unknown age": int((~in_age.fillna(False)).sum())},
        notes=(f"Persons aged {min_age}+ with registered dementia per 100 population of "
               f"that age on {ctx.spec.ref_date}, by municipality of residence at the index "
               "date. Crude shares: differences in age structure within the band remain."))


@register("hospital_diagnoses", cohort_persons_only=True)
def hospital_diagnoses(ctx: StudyContext) -> AnalysisTable:
    """Cohort persons by ICD-10 chapter of the main diagnosis of their first hospital episode.

    Hospital episodes: NPR episodes (any care level) starting in the period,
    not after the person's death, of cohort persons (by ``npr_id``). Persons
    with no such episode are shown as ``no hospital episode``.
    """
    persons = ctx.cohort()[["person_id", "npr_id"]]
    ep = ctx.delivery.npr_episodes
    dx = ctx.delivery.npr_diagnoses
    if ep is None or dx is None:
        raise MissingColumnsError("hospital_diagnoses needs the NPR episodes and diagnoses.",
                                  missing=["npr_episodes", "npr_diagnoses"])
    d = pd.to_datetime(ep["date_in"])
    sel = ep[(d >= pd.Timestamp(ctx.spec.period_start)) & (d <= pd.Timestamp(ctx.spec.period_end))
             & ep["npr_id"].isin(persons["npr_id"].dropna())]
    if "death_date" in sel:
        after = pd.to_datetime(sel["date_in"]) > pd.to_datetime(sel["death_date"])
        sel = sel[~after.fillna(False)]
    first = (sel.sort_values(["npr_id", "date_in", "episode_id"], kind="stable")
             .drop_duplicates("npr_id")[["npr_id", "episode_id"]])
    main = dx[(dx["condition"] == 1) & dx["is_main"].fillna(False).astype(bool)]
    main = main.sort_values(["episode_id", "slot"], kind="stable").drop_duplicates("episode_id")
    first = first.merge(main[["episode_id", "code"]], on="episode_id", how="left")
    first["chapter"] = icd10_chapter(first["code"]).fillna("no valid main diagnosis")
    res = persons.merge(first[["npr_id", "chapter"]], on="npr_id", how="left")
    res["chapter"] = res["chapter"].astype("string").fillna("no hospital episode")
    order = [lab for _, _, lab in ICD10_CHAPTERS]
    return AnalysisTable.from_persons(
        res, {"chapter": order + ["no valid main diagnosis", "no hospital episode"]},
        share_within="chapter",
                         notes="Main diagnosis (condition 1) of each person's first NPR "
                               "episode starting in the period; one row per person.",
                         excluded={})
