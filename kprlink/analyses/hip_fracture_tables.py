"""Analysis steps of the hip-fracture study on the matched cohort (:mod:`.hip_fracture`).

- ``matched_baseline``: Table 1, one table per characteristic (age band,
  sex, Charlson score without dementia, municipal home care at the index
  date): persons by level and group, shares within the group and the
  standardised difference between the groups (from released counts); the
  notes give medians with IQR under the quantile rule
  (:func:`kprlink.release_quantiles`);
- ``matched_hip_fracture_rates``: hip fractures and person-time by group, age
  band and sex (Lexis split, age attained), with the rate per 1,000
  person-years; the notes give the Poisson rate ratio of dementia adjusted for
  age band and sex;
- ``matched_hip_fracture_curve``: cumulative incidence of hip fracture by
  group with death as a competing risk (Aalen-Johansen), coarsened by
  :func:`kprlink.release_curve`; the notes give the Cox hazard ratio
  (cause-specific, stratified by matched set).

A person drawn as a control for several cases is counted once per group in
the tables and the curve; the Cox model uses every set as matched.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from kprlink.analyses._context import StudyContext, age_bands, sex_label
from kprlink.analyses._registry import AnalysisTable, CurveTable, register
from kprlink.analyses.hip_fracture import GROUPS, LONG_TERM_STAY, distinct_members, matched_cohort
from kprlink.exceptions import SpecError

SEXES = ["female", "male"]
CHARLSON_BANDS = ((0, 0, "0"), (1, 2, "1-2"), (3, 99, "3+"))
VARIABLES = ("age_band", "sex", "charlson", "home_care")
_MIN_PERSONS = 20


def _bands_65(breaks: Sequence[int]) -> list[str]:
    """Band labels from the second break on (everyone is 65+; the first band is empty)."""
    return list(age_bands(breaks).labels)[1:]


def _members(ctx: StudyContext, breaks: Sequence[int]) -> pd.DataFrame:
    m = distinct_members(matched_cohort(ctx))
    bands = age_bands(breaks)
    m = m.assign(age=m["age_at_index"])
    import kprlink as kl

    m = kl.add_age_band(m, bands)
    m["age_band"] = m["age_band"].astype("string")
    m["sex"] = sex_label(m["sex"])
    return m


def _charlson(ctx: StudyContext, m: pd.DataFrame) -> pd.Series:
    """Charlson (Quan 2011) score without its dementia category, 180-day look-back."""
    import kprlink as kl

    key = "hip_charlson"
    if key not in ctx._cache:
        cci = kl.ComorbidityIndex.charlson_quan()
        persons = ctx._cache["hip_event_persons"]
        npr = {"npr_episodes": ctx.delivery.npr_episodes,  # NPR diagnoses only
               "npr_diagnoses": ctx.delivery.npr_diagnoses}
        ev = kl.diagnosis_events(npr, persons=persons, codelists=cci.codelists)
        ev = ev[ev["person_id"].isin(m["person_id"]).to_numpy(bool)]
        got = kl.add_comorbidity(m[["person_id", "index_date"]], ev, index=cci,
                                 lookback_days=180, include_index_date=False)
        dem_w = dict(zip([c.name for c in cci.categories], cci.weights["quan2011"],
                         strict=True))["dementia"]
        ctx._cache[key] = (got["charlson_score"]
                           - dem_w * got["charlson_dementia"].astype(int)).to_numpy()
    return pd.Series(ctx._cache[key], index=m.index)


def _home_care(ctx: StudyContext, m: pd.DataFrame) -> pd.Series:
    """Any KPR helse og omsorg service other than a long-term stay running on the index date."""
    svc = ctx.delivery.ho_services
    if svc is None:
        return pd.Series("unknown", index=m.index, dtype="string")
    s = svc[(svc["service_code"] != LONG_TERM_STAY).fillna(False).to_numpy(bool)
            & svc["kpr_id"].isin(m["kpr_id"].dropna()).to_numpy(bool)]
    q = pd.DataFrame({"kpr_id": pd.array(m["kpr_id"], dtype="Int64"),
                      "day": pd.to_datetime(m["index_date"]), "row": np.arange(len(m))})
    j = q.merge(s[["kpr_id", "start_date", "end_date"]].astype({"kpr_id": "Int64"}),
                on="kpr_id", how="inner")
    on = (pd.to_datetime(j["start_date"]) <= j["day"]) & (
        j["end_date"].isna() | (pd.to_datetime(j["end_date"]) >= j["day"]))
    has = np.zeros(len(m), dtype=bool)
    has[j.loc[on.fillna(False).to_numpy(bool), "row"].to_numpy(np.int64)] = True
    return pd.Series(np.where(has, "yes", "no"), index=m.index, dtype="string")


def _quantile_note(ctx: StudyContext, m: pd.DataFrame, col: str, label: str) -> str:
    import kprlink as kl

    both = pd.concat([m, m.drop_duplicates("person_id").assign(group="Total")],
                     ignore_index=True)
    q = kl.release_quantiles(both, value_col=col, group_col="group",
                             max_n=ctx.spec.disclosure.max_n, min_persons=_MIN_PERSONS)
    sym = ctx.spec.disclosure.symbol

    def f(x: float) -> str:
        return sym if np.isnan(x) else f"{x:g}"

    parts = [f"{r.group} {f(r.median)} ({f(r.q1)}-{f(r.q3)})" for r in q.itertuples()]
    return (f"Median {label} (IQR): " + "; ".join(parts) + ". A quantile is shown only "
            f"where more than {ctx.spec.disclosure.max_n} persons of a group of at least "
            f"{_MIN_PERSONS} hold exactly that value, so it singles out nobody.")


@register("matched_baseline")
def matched_baseline(ctx: StudyContext, *, variable: str = "sex",
                     breaks: Sequence[int] = (0, 65, 75, 85)) -> AnalysisTable:
    """Table 1 for one characteristic: persons by level and group (see module notes)."""
    if variable not in VARIABLES:
        raise SpecError(f"matched_baseline(variable={variable!r}): use one of "
                        f"{list(VARIABLES)}.", [f"variable={variable!r}"])
    m = _members(ctx, breaks)
    notes = ""
    if variable == "age_band":
        levels = _bands_65(breaks)
        notes = _quantile_note(ctx, m, "age_at_index", "age at the index date")
    elif variable == "sex":
        levels = SEXES
    elif variable == "charlson":
        score = _charlson(ctx, m)
        m["charlson_wo_dementia"] = score
        m["charlson"] = pd.Series(pd.NA, index=m.index, dtype="string")
        for lo, hi, lab in CHARLSON_BANDS:
            m.loc[((score >= lo) & (score <= hi)).to_numpy(), "charlson"] = lab
        levels = [lab for _, _, lab in CHARLSON_BANDS]
        notes = ("Charlson comorbidity score (Quan 2011 weights) from NPR diagnoses in the "
                 "180 days before the index date, without its dementia category. "
                 + _quantile_note(ctx, m, "charlson_wo_dementia", "score"))
    else:
        m["home_care"] = _home_care(ctx, m)
        levels = ["yes", "no"]
        notes = ("Any KPR helse og omsorg service other than a long-term stay (home "
                 "nursing, practical help, safety alarm, ...) running on the index date.")
    unknown = m[variable].isna()
    df = m.loc[~unknown, ["person_id", variable, "group"]]
    report = ctx._cache.get("hip_match_report")
    if report is not None and variable == "sex":
        r = report.iloc[0]
        notes = (f"Risk-set matching 1:{int(r['n_controls_wanted'])} on sex, birth year and "
                 "county at the case's index date (seeded); controls alive, home-dwelling, "
                 "without registered dementia and without a hip fracture then. " + notes)
    return AnalysisTable.from_persons(
        df, {variable: levels, "group": list(GROUPS)}, share_within=variable,
        smd_between="group", excluded={f"unknown {variable}": int(unknown.sum())},
        notes=notes.strip())


def _lexis_cells(ctx: StudyContext, breaks: Sequence[int]) -> pd.DataFrame:
    import kprlink as kl

    m = distinct_members(matched_cohort(ctx))
    # age = calendar year - birth year, as age_at_index (the birthday taken as 1 January)
    jan1 = pd.to_datetime(pd.to_numeric(m["birth_year"]).astype("int64").astype(str) + "-01-01")
    m = m.assign(sex=sex_label(m["sex"]), birth_jan1=jan1)
    s = kl.split_lexis(m, age_bands=age_bands(breaks), entry_col="index_date",
                       exit_col="exit_date", status_col="status", birth_date_col="birth_jan1")
    s = s.assign(age_band=s["age_band"].astype("string"),
                 hip_fractures=(s["status"] == 1).astype("int64"))
    per = s.groupby(["person_id", "group", "age_band", "sex"], observed=True, as_index=False
                    ).agg(hip_fractures=("hip_fractures", "sum"),
                          person_days=("time_days", "sum"))
    return per.astype({"hip_fractures": "int64", "person_days": "int64"})


@register("matched_hip_fracture_rates")
def matched_hip_fracture_rates(ctx: StudyContext, *,
                               breaks: Sequence[int] = (0, 65, 75, 85)) -> AnalysisTable:
    """Hip fractures, person-days and rates by group, attained age band and sex."""
    import kprlink as kl

    per = _lexis_cells(ctx, breaks)
    notes = ("Follow-up from the index date to hip fracture, death or the end of the "
             "period, split by attained age (Lexis; age = calendar year - birth year); "
             "n = persons with follow-up in the cell (a person who changes age band counts "
             "in both); rate per 1,000 person-years.")
    cells = per.groupby(["group", "age_band", "sex"], as_index=False)[
        ["hip_fractures", "person_days"]].sum()
    events = cells.groupby("group")["hip_fractures"].sum()
    if (events.reindex(list(GROUPS), fill_value=0) > ctx.spec.disclosure.max_n).all():
        cells = cells.assign(person_years=cells["person_days"] / 365.25)
        fit = kl.contact_rate_glm(cells[cells["person_years"] > 0],
                                  formula="C(group, Treatment('no dementia')) + "
                                          "C(age_band) + C(sex)",
                                  events_col="hip_fractures")
        rr = fit.rate_ratios
        row = rr[rr["term"].str.contains("dementia]")].iloc[0]
        notes += (f" Poisson rate ratio, dementia vs no dementia, adjusted for age band "
                  f"and sex: {row['rate_ratio']:.2f} (95 % CI {row['lower']:.2f}-"
                  f"{row['upper']:.2f}).")
    else:
        notes += " Too few hip fractures in a group for a rate ratio."
    return AnalysisTable.from_persons(
        per, {"group": list(GROUPS), "age_band": _bands_65(breaks),
              "sex": SEXES},
        value_cols=("hip_fractures", "person_days"),
        rates={"hip_fractures_per_1000_py": ("hip_fractures", "person_days", 365250.0)},
        notes=notes)


@register("matched_hip_fracture_curve")
def matched_hip_fracture_curve(ctx: StudyContext) -> CurveTable:
    """Cumulative incidence of hip fracture by group (death competing), and the Cox HR."""
    import kprlink as kl

    matched = matched_cohort(ctx)
    m = distinct_members(matched)
    rule = kl.SuppressionRule(max_n=ctx.spec.disclosure.max_n)
    ci = kl.cumulative_incidence(m, group_col="group", competing_values=[2])
    curve = kl.release_curve(ci, rule=rule, group_col="group")
    absent = [g for g in GROUPS if g not in set(curve["group"])]
    if absent:  # a group without persons: one row showing nothing
        none = pd.DataFrame({"group": absent}).reindex(columns=curve.columns)
        curve = none if not len(curve) else pd.concat([curve, none], ignore_index=True)
        curve = curve.astype({c: "Int64" for c in ("n_at_risk", "n_events", "n_competing",
                                                   "n_censored")})
        curve = curve.astype({c: float for c in ("time", "estimate", "lower", "upper")})
    notes = ("Aalen-Johansen cumulative incidence of a hip-fracture admission, death a "
             "competing risk; steps merged until every count shown (events, deaths, "
             "censored, left at risk) is 0 or above the rule, n = at risk at a step's start.")
    ev = matched.groupby("group")["status"].apply(lambda s: int((s == 1).sum()))
    if (ev.reindex(list(GROUPS), fill_value=0) > rule.max_n).all():
        d = matched.assign(dementia=matched["case"].astype(int))
        try:
            cox = kl.cox_model(d, formula="dementia", strata_col="set_id")
            hr = cox.hazard_ratios.iloc[0]
            notes += (f" Cox hazard ratio of hip fracture (cause-specific, stratified by "
                      f"matched set, Efron ties), dementia vs no dementia: "
                      f"{hr['hazard_ratio']:.2f} (95 % CI {hr['lower']:.2f}-"
                      f"{hr['upper']:.2f}).")
        except SpecError:
            notes += " The Cox model could not be fitted."
    else:
        notes += " Too few hip fractures in a group for a hazard ratio."
    from kprlink.stats.curve_release import curve_person_steps

    steps = curve_person_steps(m, curve, group_col="group")
    return CurveTable(curve, "group", notes=notes, persons=steps if len(steps) else None)
