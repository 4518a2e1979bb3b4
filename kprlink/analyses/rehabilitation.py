"""Rehabilitation stays (KPR service 19): functional assessment and change in function.

- ``function_assessment``: stays ending in the period by whether the IPLOS
  functional variables were assessed at admission, at discharge, both or
  neither (counts are stays);
- ``function_change``: persons with a stay ending in the period (their first)
  assessed at both admission and discharge, by IPLOS function group
  (:data:`kprlink.FUNCTION_GROUPS`) and change in the group's mean score.

An assessment within `window_days` (default 7) of the admission day counts
as *at admission*, one within `window_days` of the discharge day as *at
discharge*. Scores run 1 (no need of help) to 5 (full help); 9 (not
relevant) is left out of the means, so a *lower* mean at discharge is an
improvement.
"""

from __future__ import annotations


import numpy as np
import pandas as pd

from kprlink.analyses._context import StudyContext, kpr_person_id
from kprlink.analyses._registry import AnalysisTable, register
from kprlink.analyses.services import _frame

REHABILITATION_STAY = 19
CHANGES = ["improved", "unchanged", "worse", "not scored", "not assessed at both"]


def _stays(ctx: StudyContext) -> pd.DataFrame:
    svc = _frame(ctx, "ho_services", ["kpr_id", "service_code", "start_date", "end_date"])
    stays = svc[(svc["service_code"] == REHABILITATION_STAY) & svc["end_date"].notna()]
    e = pd.to_datetime(stays["end_date"])
    stays = stays[(e >= pd.Timestamp(ctx.spec.period_start))
                  & (e <= pd.Timestamp(ctx.spec.period_end))]
    stays = stays.sort_values(["kpr_id", "end_date", "start_date"], kind="stable")
    stays = stays[["kpr_id", "start_date", "end_date"]].reset_index(drop=True)
    stays["stay"] = np.arange(len(stays))
    return stays


def _nearest(stays: pd.DataFrame, dates: pd.DataFrame, at: str, days: int) -> pd.Series:
    """Per stay, the assessment date nearest to `at` within `days` (NaT if none)."""
    pairs = stays[["stay", "kpr_id", at]].merge(dates, on="kpr_id", how="inner")
    dist = (pd.to_datetime(pairs["assessment_date"]) - pd.to_datetime(pairs[at])).abs()
    pairs = pairs.assign(dist=dist)[dist <= pd.Timedelta(days=days)]
    best = pairs.sort_values(["stay", "dist", "assessment_date"], kind="stable") \
        .drop_duplicates("stay").set_index("stay")["assessment_date"]
    return stays["stay"].map(best)


@register("function_assessment")
def function_assessment(ctx: StudyContext, *, window_days: int = 7) -> AnalysisTable:
    """Rehabilitation stays ending in the period, by assessment timing (see module notes)."""
    stays = _stays(ctx)
    fn = _frame(ctx, "ho_functions", ["kpr_id", "assessment_date"])
    dates = fn[["kpr_id", "assessment_date"]].drop_duplicates()
    flag_in = _nearest(stays, dates, "start_date", window_days).notna()
    flag_out = _nearest(stays, dates, "end_date", window_days).notna()
    timing = np.select([flag_in & flag_out, flag_in, flag_out],
                       ["both", "admission only", "discharge only"], "neither")
    rows = pd.DataFrame({"person_id": kpr_person_id(stays["kpr_id"]), "assessment": timing})
    return AnalysisTable.from_persons(
        rows, {"assessment": ["admission only", "discharge only", "both", "neither"]},
        share_within="assessment",
                         notes=f"Stays ending in the period; assessment within {window_days} "
                               "days of admission or discharge. Counts are stays, not persons.")


def _group_means(fn: pd.DataFrame, when: pd.Series, stays: pd.DataFrame,
                 groups: dict[str, tuple[str, ...]]) -> pd.DataFrame:
    """Mean score (9 left out) per stay and function group at the assessment `when`."""
    key = stays.assign(assessment_date=when)[["stay", "kpr_id", "assessment_date"]].dropna()
    rows = key.merge(fn, on=["kpr_id", "assessment_date"], how="inner")
    var_group = {v: g for g, vs in groups.items() for v in vs}
    rows = rows.assign(group=rows["variable"].astype("string").map(var_group),
                       score=pd.to_numeric(rows["score"], errors="coerce"))
    rows = rows[rows["group"].notna() & rows["score"].between(1, 5)]
    return rows.groupby(["stay", "group"])["score"].mean().rename("mean").reset_index()


@register("function_change")
def function_change(ctx: StudyContext, *, window_days: int = 7, min_change: float = 0.5
                    ) -> AnalysisTable:
    """Persons by function group and change in mean score, admission → discharge.

    Improved: the group mean fell by at least `min_change`; worse: rose by at
    least `min_change`; unchanged otherwise. ``not scored``: no valid score
    (1–5) in the group at admission or at discharge; ``not assessed at both``:
    no assessment at admission or no later one at discharge. One stay per
    person (the first ending in the period).
    """
    import kprlink as kl

    groups = {g: tuple(v) for g, v in kl.FUNCTION_GROUPS.items()}
    stays = _stays(ctx)
    n_stays = len(stays)
    stays = stays.drop_duplicates("kpr_id").reset_index(drop=True)
    fn = _frame(ctx, "ho_functions", ["kpr_id", "assessment_date", "variable", "score"])
    fn = fn[["kpr_id", "assessment_date", "variable", "score"]]
    dates = fn[["kpr_id", "assessment_date"]].drop_duplicates()
    first = _nearest(stays, dates, "start_date", window_days)
    last = _nearest(stays, dates, "end_date", window_days)
    both = first.notna() & last.notna() & (pd.to_datetime(last) > pd.to_datetime(first))
    a = _group_means(fn, first.where(both), stays, groups)
    b = _group_means(fn, last.where(both), stays, groups)
    grid = pd.MultiIndex.from_product([stays["stay"], list(groups)], names=["stay", "group"])
    m = (a.set_index(["stay", "group"])["mean"].rename("before").to_frame()
         .join(b.set_index(["stay", "group"])["mean"].rename("after"), how="outer")
         .reindex(grid).reset_index())
    diff = (m["after"].astype(float) - m["before"].astype(float)).to_numpy()
    change = np.select([diff <= -min_change, diff >= min_change, ~np.isnan(diff)],
                       ["improved", "worse", "unchanged"], "not scored")
    both_by_stay = pd.Series(both.to_numpy(bool), index=stays["stay"].to_numpy())
    assessed = m["stay"].map(both_by_stay).to_numpy(bool)
    m["change"] = np.where(assessed, change, "not assessed at both")
    m = m.merge(stays[["stay", "kpr_id"]], on="stay", how="left")
    m = m.assign(person_id=kpr_person_id(m["kpr_id"])).rename(
        columns={"group": "function_group"})
    return AnalysisTable.from_persons(
        m, {"function_group": list(groups), "change": CHANGES}, share_within="change",
        excluded={"later stays of the same person": n_stays - len(stays)},
        notes=(f"One row per person and function group; mean IPLOS score of the group's "
               f"variables at the assessment nearest admission and nearest discharge (within "
               f"{window_days} days); improved/worse = change of at least {min_change}. The "
               "Total over function groups counts person-groups."))
