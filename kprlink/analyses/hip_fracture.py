"""The matched cohort of the hip-fracture study (home-dwelling persons with and without dementia).

Cases are the study cohort (``cohort.toml``: registered dementia, first
registration in the window as the index date, aged 65+), kept when
home-dwelling at the index date (no long-term institutional stay, KPR helse
og omsorg service 21, started on or before it) and without a hip fracture
since the delivery starts. Controls are drawn by risk-set matching
(:func:`kprlink.match_risk_set`) on sex, birth year and county from every
person in the delivery (of a case's sex and birth year) who, on the case's
index date, is alive, has no registered dementia yet, no long-term stay
started and no hip fracture.

Follow-up runs from the index date to the first hip-fracture admission
(inpatient NPR episode with main diagnosis ICD-10 S72.0-S72.2), death (a
competing event) or the end of the study period, whichever comes first.
Controls who are later registered with dementia stay controls (as matched).
Everything here is person level: it goes to the work folder only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from kprlink.analyses._context import StudyContext, delivery_frame
from kprlink.codes import CodeList
from kprlink.cohorts._person_table import first_coded_dates, person_table

log = logging.getLogger(__name__)

#: Hip fracture: femoral neck, pertrochanteric, subtrochanteric (ICD-10).
HIP_FRACTURE = ("S720", "S721", "S722")
_HIP_LIST = CodeList("hip_fracture", "ICD-10", list(HIP_FRACTURE))
LONG_TERM_STAY = 21
GROUPS = ("dementia", "no dementia")
_NAT = np.datetime64("NaT", "ns")


_frame = delivery_frame


def _per_person(ids: np.ndarray, dates: np.ndarray, n: int) -> np.ndarray:
    """Earliest date per person row (ids are row positions, -1 none); NaT if none."""
    ok = (ids >= 0) & ~np.isnat(dates)
    out = np.full(n, _NAT)
    if ok.any():
        s = pd.Series(dates[ok]).groupby(ids[ok]).min()
        out[s.index.to_numpy()] = s.to_numpy("datetime64[ns]")
    return out


def _rows_of(keys: pd.Series, ids: pd.Series) -> np.ndarray:
    """Row of `keys` (first where repeated) holding each of `ids`; -1 where none or NA."""
    k = pd.array(keys, dtype="Int64")
    ok = np.flatnonzero(~k.isna())
    vals = k[ok].to_numpy(np.int64)
    u, first = np.unique(vals, return_index=True)
    q = pd.array(ids, dtype="Int64")
    qv = q.to_numpy(np.int64, na_value=-1)
    pos = np.minimum(np.searchsorted(u, qv), max(len(u) - 1, 0))
    found = (len(u) > 0) & ~np.asarray(q.isna())
    if len(u):
        found &= u[pos] == qv
    return np.where(found, ok[first[pos]] if len(u) else -1, -1)


def hip_fracture_dates(ctx: StudyContext, persons: pd.DataFrame) -> np.ndarray:
    """First hip-fracture admission (inpatient, main diagnosis S72.0-S72.2) per person row."""
    ep, dx = _frame(ctx, "npr_episodes"), _frame(ctx, "npr_diagnoses")
    main = dx[(dx["condition"] == 1).to_numpy(bool)
              & dx["is_main"].fillna(False).astype(bool).to_numpy()
              & dx["code"].astype("string").str.slice(0, 4).isin(list(HIP_FRACTURE))
              .fillna(False).to_numpy(bool)]
    adm = ep[(ep["care_level"] == 1).fillna(False).to_numpy(bool)
             & ep["episode_id"].isin(main["episode_id"]).to_numpy(bool)]
    rows = _rows_of(persons["npr_id"], adm["npr_id"])
    return _per_person(rows, pd.to_datetime(adm["date_in"]).to_numpy("datetime64[ns]"),
                       len(persons))


def _long_term_start(ctx: StudyContext, persons: pd.DataFrame) -> np.ndarray:
    svc = _frame(ctx, "ho_services")
    lt = svc[(svc["service_code"] == LONG_TERM_STAY).fillna(False).to_numpy(bool)]
    rows = _rows_of(persons["kpr_id"], lt["kpr_id"])
    return _per_person(rows, pd.to_datetime(lt["start_date"]).to_numpy("datetime64[ns]"),
                       len(persons))


def _county(ctx: StudyContext, persons: pd.DataFrame) -> pd.Series:
    """County (first two digits of the municipality) of each person's first record."""
    parts = []
    for name, id_col, date_col in (("kuhr_claims", "kpr_id", "date"),
                                   ("npr_episodes", "npr_id", "date_in")):
        f = getattr(ctx.delivery, name, None)
        if f is None or "municipality" not in f:
            continue
        row = _rows_of(persons[id_col], f[id_col])
        sel = np.flatnonzero(row >= 0)  # records of the candidates only
        parts.append(pd.DataFrame({
            "row": row[sel], "date": pd.to_datetime(f[date_col].iloc[sel]).to_numpy(),
            "muni": f["municipality"].iloc[sel].astype("string").to_numpy()}))
    out = pd.Series(pd.NA, index=persons.index, dtype="string")
    if not parts:
        return out
    rec = pd.concat(parts, ignore_index=True)
    rec = rec[rec["muni"].notna().to_numpy()]
    first = rec.sort_values(["row", "date"], kind="stable").drop_duplicates("row")
    muni = first["muni"].str.zfill(4).str.slice(0, 2)
    out.iloc[first["row"].to_numpy()] = muni.to_numpy()
    return out


def _dementia_dates(ctx: StudyContext, persons: pd.DataFrame, codelists: Sequence[Any]
                    ) -> np.ndarray:
    """Each person's first registered dementia (any date in the delivery)."""
    import kprlink as kl

    ev = kl.diagnosis_events(ctx.delivery, persons=persons[["person_id", "kpr_id", "npr_id"]],
                             codelists=codelists)
    rows = pd.Index(persons["person_id"].to_numpy(np.int64)).get_indexer(
        ev["person_id"].to_numpy(np.int64))
    return _per_person(rows, pd.to_datetime(ev["date"]).to_numpy("datetime64[ns]"),
                       len(persons))


def _county_of(municipality: pd.Series) -> pd.Series:
    """County (first two digits) of municipality numbers."""
    return municipality.astype("string").str.zfill(4).str.slice(0, 2)


def _restrict_to(ctx: StudyContext, persons: pd.DataFrame,
                 npr_ids: np.ndarray | None = None) -> None:
    """Load only `persons`' rows from now on (NPR: only those among `npr_ids`)."""
    npr = persons["npr_id"]
    if npr_ids is not None:
        npr = npr[npr.isin(npr_ids).to_numpy(bool)]
    ctx.delivery.restrict(kpr_ids=persons["kpr_id"], npr_ids=npr)
    ctx._cache["hip_event_persons"] = persons[["person_id", "kpr_id", "npr_id"]]


def _imported_dementia_dates(ctx: StudyContext, pop: pd.DataFrame,
                             codelists: Sequence[Any]) -> np.ndarray:
    """:func:`_dementia_dates` of `pop` from the import's codes, ids and dates only."""
    k, n = first_coded_dates(ctx.delivery.path, codelists, engine=ctx.delivery.engine)
    both = [s.reindex(pd.array(pop[c], dtype="Int64").to_numpy(np.int64, na_value=-1))
            .to_numpy("datetime64[ns]") for s, c in ((k, "kpr_id"), (n, "npr_id"))]
    return np.fmin(*both)


def matched_cohort(ctx: StudyContext, *, n_controls: int = 5,
                   match_on: Sequence[str] = ("sex", "birth_year", "county")) -> pd.DataFrame:
    """The matched sets with follow-up, one row per set member (cached per study run).

    Columns: ``set_id, person_id, case, group, index_date, sex, birth_year,
    county, kpr_id, npr_id, death_date, age_at_index, exit_date, exit_reason,
    status, time_days, person_years`` (``status`` 1 hip fracture, 2 death).
    The matching report is ``ctx._cache["hip_match_report"]``.
    """
    key = ("hip_matched", int(n_controls), tuple(match_on))
    if key in ctx._cache:
        return ctx._cache[key]  # type: ignore[no-any-return]
    import kprlink as kl

    cohort = ctx.cohort()
    result = ctx._cache["cohort_result"]
    from kprlink.sources.lazy import ImportedDelivery

    imported = isinstance(ctx.delivery, ImportedDelivery)
    # every person of the delivery: the import's person table, else the whole linkage
    everyone = (person_table(ctx.delivery.path, engine=ctx.delivery.engine) if imported
                else result.linkage.persons)
    # candidates: persons of a case's sex and birth year (every stratum key includes both)
    strata = pd.MultiIndex.from_frame(cohort[["sex", "birth_year"]].astype("Int64"))
    in_strata = np.flatnonzero(pd.MultiIndex.from_frame(
        everyone[["sex", "birth_year"]].astype("Int64")).isin(strata))
    cols = ["person_id", "kpr_id", "npr_id", "sex", "birth_year", "death_date"]
    pop = everyone.iloc[in_strata][cols + (["municipality"] if imported else [])
                                   ].reset_index(drop=True)
    if imported:
        pop["dementia_date"] = _imported_dementia_dates(ctx, pop, result.definition.codelists)
        hip = first_coded_dates(ctx.delivery.path, [_HIP_LIST], engine=ctx.delivery.engine,
                                sources=("npr",))[1]
        _restrict_to(ctx, pop, npr_ids=hip.index.to_numpy())
    else:  # the event map needs every person of the delivery; keep the candidates'
        ctx._cache["hip_event_persons"] = everyone[["person_id", "kpr_id", "npr_id"]]
        pop["dementia_date"] = _dementia_dates(ctx, everyone,
                                               result.definition.codelists)[in_strata]
    pop["hip_date"] = hip_fracture_dates(ctx, pop)
    pop["lt_start"] = _long_term_start(ctx, pop)
    if "county" in match_on:
        pop["county"] = (_county_of(pop["municipality"]) if imported
                         else _county(ctx, pop))
    death = pd.to_datetime(pop["death_date"]).to_numpy("datetime64[ns]")
    pop["exit_elig"] = np.fmin(np.fmin(death, pop["lt_start"].to_numpy("datetime64[ns]")),
                               pop["hip_date"].to_numpy("datetime64[ns]"))
    by_id = pop.set_index("person_id")
    cases = cohort[["person_id", "index_date"]].copy()
    at = pd.to_datetime(cases["index_date"]).to_numpy("datetime64[ns]")
    exit_c = by_id["exit_elig"].reindex(cases["person_id"].to_numpy()).to_numpy(
        "datetime64[ns]")
    nh = by_id["lt_start"].reindex(cases["person_id"].to_numpy()).to_numpy("datetime64[ns]")
    hip = by_id["hip_date"].reindex(cases["person_id"].to_numpy()).to_numpy("datetime64[ns]")
    in_home = ~(nh <= at)
    no_hip = ~(hip <= at)
    for c in match_on:
        cases[c] = by_id[c].reindex(cases["person_id"].to_numpy()).to_numpy()
    known = cases[list(match_on)].notna().all(axis=1).to_numpy()
    keep = in_home & no_hip & known & ~(exit_c < at)
    ctx._cache["hip_case_exclusions"] = {
        "in a long-term institutional stay at the index date": int((~in_home).sum()),
        "hip fracture before the index date": int((in_home & ~no_hip).sum()),
        "unknown sex, birth year or county": int((in_home & no_hip & ~known).sum())}
    cases = cases[keep].reset_index(drop=True)
    res = kl.match_risk_set(cases, pop, on=list(match_on), n_controls=n_controls,
                            seed=ctx.spec.seed, exit_col="exit_elig",
                            event_col="dementia_date")
    ctx._cache["hip_match_report"] = res.report
    sets = res.sets
    sets = sets[sets["set_id"].isin(sets.loc[~sets["case"], "set_id"])].reset_index(drop=True)
    if imported:  # later steps (comorbidity, home care) need the set members only
        _restrict_to(ctx, pop.iloc[pd.Index(pop["person_id"].to_numpy(np.int64)).get_indexer(
            np.unique(sets["person_id"].to_numpy(np.int64)))])
    rows = pd.Index(pop["person_id"].to_numpy(np.int64)).get_indexer(
        sets["person_id"].to_numpy(np.int64))
    for c in ("kpr_id", "npr_id", "death_date", *(c for c in ("sex", "birth_year")
                                                  if c not in match_on)):
        sets[c] = pop[c].to_numpy()[rows]
    sets["group"] = np.where(sets["case"].to_numpy(bool), GROUPS[0], GROUPS[1])
    sets["age_at_index"] = (pd.to_datetime(sets["index_date"]).dt.year
                            - pd.to_numeric(sets["birth_year"])).astype("int64")
    sets["row_id"] = np.arange(len(sets), dtype=np.int64)
    outcome = pd.DataFrame({"row_id": sets["row_id"],
                            "date": pop["hip_date"].to_numpy("datetime64[ns]")[rows]}).dropna()
    out = kl.add_follow_up(sets, outcome, end_of_data=ctx.spec.period_end,
                           person_col="row_id").drop(columns=["row_id", "outcome_date"])
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    out.to_parquet(ctx.work_dir / "hip_fracture_matched.parquet", index=False)
    log.info("matched cohort: %s sets, %s rows", f"{out['set_id'].nunique():,}",
             f"{len(out):,}")
    ctx._cache[key] = out
    return out


def distinct_members(matched: pd.DataFrame) -> pd.DataFrame:
    """One row per person and group (a control drawn for several cases counted once)."""
    return matched.sort_values(["set_id", "person_id"], kind="stable").drop_duplicates(
        ["group", "person_id"]).reset_index(drop=True)
