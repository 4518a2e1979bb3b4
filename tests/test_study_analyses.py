"""Analysis steps on tiny hand-built deliveries: every count checked by hand."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from kprlink.analyses import StudyContext, get_step
from kprlink.analyses.dementia import count_cells, icd10_chapter
from kprlink.exceptions import MissingColumnsError
from kprlink.study import StudySpec

NA = pd.NA


def _spec(kind: str) -> StudySpec:
    return StudySpec.from_dict({"kprlink_spec": 1, "name": "t", "title": "T",
                                "period": {"start": "2016-07-01", "end": "2017-06-30"},
                                "reference_date": "2017-01-01",
                                "tables": [{"name": "x", "kind": kind}]})


def _ctx(kind: str, tmp_path: Path, cohort: pd.DataFrame | None = None,
         **frames: pd.DataFrame) -> StudyContext:
    names = ("kuhr_claims", "kuhr_fees", "npr_episodes", "npr_diagnoses", "ho_services",
             "ho_functions", "ho_indicators", "population")
    delivery = SimpleNamespace(path=tmp_path, **{n: frames.get(n) for n in names})
    ctx = StudyContext(spec=_spec(kind), delivery=delivery, work_dir=tmp_path)  # type: ignore[arg-type]
    if cohort is not None:
        ctx._cache["cohort"] = cohort
    return ctx


def _cohort(rows: list[tuple[object, object, int, int]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["kpr_id", "npr_id", "birth_year", "sex"])
    return df.assign(person_id=range(1, len(df) + 1),
                     kpr_id=df["kpr_id"].astype("Int64"), npr_id=df["npr_id"].astype("Int64"),
                     birth_year=df["birth_year"].astype("Int64"), sex=df["sex"].astype("Int64"),
                     sources="npr", municipality_at_index="0301")


def _services(rows: list[tuple[int, int, str, object]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["kpr_id", "service_code", "start_date", "end_date"])
    return df.assign(start_date=pd.to_datetime(df["start_date"]),
                     end_date=pd.to_datetime(df["end_date"]), service_subcode=pd.NA)


def _n(table: pd.DataFrame, **where: str) -> int:
    m = pd.Series(True, index=table.index)
    for k, v in where.items():
        m &= table[k] == v
    return int(table.loc[m, "n"].iloc[0])


def test_hip_fracture_by_residence(tmp_path: Path) -> None:
    cohort = _cohort([(1, 11, 1930, 2), (2, 12, 1930, 2), (3, 13, 1930, 1), (NA, 14, 1930, 1),
                      (5, 15, 1930, 2), (6, 16, 1930, 1)])
    ep = pd.DataFrame({"npr_id": [11, 12, 13, 14, 15, 16], "episode_id": [1, 2, 3, 4, 5, 6],
                       "care_level": [1, 1, 1, 1, 3, 1],
                       "date_in": pd.to_datetime(["2017-03-01", "2017-02-01", "2016-10-01",
                                                  "2017-04-01", "2017-03-01", "2017-03-01"])})
    dx = pd.DataFrame({"episode_id": [1, 2, 3, 4, 5, 6, 6], "condition": [1, 1, 1, 1, 1, 1, 2],
                       "slot": 1, "code": ["S720", "S7210", "S720", "S722", "S720", "I10",
                                           "S720"],
                       "is_main": [True] * 6 + [False]})
    svc = _services([(2, 21, "2016-01-01", None), (1, 21, "2017-04-01", None)])
    ctx = _ctx("hip_fracture_by_residence", tmp_path, cohort, npr_episodes=ep,
               npr_diagnoses=dx, ho_services=svc)
    at = get_step("hip_fracture_by_residence")(ctx)
    t = at.cells
    assert _n(t, hip_fracture="hip fracture, home-dwelling") == 1          # person 1
    assert _n(t, hip_fracture="hip fracture, nursing-home resident") == 1  # person 2
    assert _n(t, hip_fracture="hip fracture, residence unknown") == 2      # 2016; no KPR id
    assert _n(t, hip_fracture="no hip-fracture admission") == 2            # outpatient; secondary
    assert t["n"].sum() == len(cohort)


def test_care_step_and_no_service(tmp_path: Path) -> None:
    cohort = _cohort([(1, NA, 1930, 2), (2, NA, 1950, 2), (3, NA, 1930, 1), (4, NA, 1960, 1),
                      (5, NA, 1930, 2), (NA, 9, 1930, 1)])
    svc = _services([(1, 21, "2016-05-01", None), (1, 15, "2017-01-05", "2017-02-01"),
                     (2, 6, "2017-02-01", None), (3, 14, "2017-01-01", "2017-01-31"),
                     (4, 15, "2016-01-01", "2016-12-31"), (5, 21, "2017-07-01", None)])
    ctx = _ctx("care_step_in_period", tmp_path, cohort, ho_services=svc)
    t = get_step("care_step_in_period")(ctx).cells
    assert _n(t, care_step="long-term stay") == 1
    assert _n(t, care_step="safety alarm") == 1
    assert _n(t, care_step="other services only") == 1
    # ended before KPR-HO coverage, starts after the period, no KPR id
    assert _n(t, care_step="no municipal service") == 3
    at = get_step("municipal_service_by_age")(ctx, breaks=[0, 65, 80])
    cells = at.cells
    assert _n(cells, age_band="80+", municipal_service="yes") == 2   # born 1930: 86
    assert _n(cells, age_band="80+", municipal_service="no") == 2
    assert _n(cells, age_band="65-79", municipal_service="yes") == 1
    assert _n(cells, age_band="0-64", municipal_service="no") == 1
    assert at.excluded == {"unknown age": 0}


def test_care_step_empty_cohort(tmp_path: Path) -> None:
    ctx = _ctx("care_step_in_period", tmp_path, _cohort([]),
               ho_services=_services([(1, 21, "2016-05-01", None)]))
    t = get_step("care_step_in_period")(ctx).cells
    assert t["n"].sum() == 0 and len(t) == 8


def test_missing_delivery_file(tmp_path: Path) -> None:
    ctx = _ctx("care_step_in_period", tmp_path, _cohort([(1, NA, 1930, 2)]))
    with pytest.raises(MissingColumnsError) as exc:
        get_step("care_step_in_period")(ctx)
    assert exc.value.missing == ["ho_services"]
    with pytest.raises(MissingColumnsError) as exc2:
        get_step("hospital_diagnoses")(ctx)
    assert exc2.value.missing == ["npr_episodes", "npr_diagnoses"]


def test_gp_contacts_by_age(tmp_path: Path) -> None:
    cohort = _cohort([(1, NA, 1930, 2), (2, NA, 1950, 1), (3, NA, None, 1)])
    claims = pd.DataFrame({
        "kpr_id": [1, 1, 1, 2, 2, 2], "claim_id": [1, 2, 3, 4, 5, 6],
        "service_type": ["Fastlege"] * 4 + ["Legevakt", "Fastlege"],
        "date": pd.to_datetime(["2016-08-01", "2017-01-02", "2017-02-02", "2017-03-01",
                                "2017-03-01", "2017-08-01"]),
        "death_date": pd.to_datetime([None, None, "2017-01-31", None, None, None])})
    fees = pd.DataFrame({"claim_id": [1, 2, 3, 4, 5, 6],
                         "fee_code": ["2ad", "11ak", "2ad", "2ae", "2ad", "2ad"],
                         "n_fee": 1, "year": [2016, 2017, 2017, 2017, 2017, 2017]})
    ctx = _ctx("gp_contacts_by_age", tmp_path, cohort, kuhr_claims=claims, kuhr_fees=fees)
    at = get_step("gp_contacts_by_age")(ctx, breaks=[0, 80])
    t = at.cells.set_index("age_band")
    # person 1 (86): consultation + home visit; claim 3 is after death
    assert t.loc["80+", ["n", "consultation", "home_visit"]].tolist() == [1, 1, 1]
    # person 2 (66): e-consultation; out-of-hours and after-period claims not counted
    assert t.loc["0-79", ["n", "e_consultation", "consultation"]].tolist() == [1, 1, 0]
    assert at.excluded == {"unknown age": 1, "claims dated after death (not counted)": 1}


def test_function_change(tmp_path: Path) -> None:
    svc = _services([(1, 19, "2017-01-10", "2017-02-10"), (2, 19, "2017-03-01", "2017-03-20"),
                     (1, 19, "2017-05-01", "2017-05-20")])
    rows = []
    for day, score in (("2017-01-11", 4), ("2017-02-09", 2)):
        rows += [(1, day, v, score) for v in ("personlig_hygiene", "paakledning")]
        rows += [(1, day, "husarbeid", 3), (1, day, "ivareta_helse", 9)]
    rows += [(2, "2017-03-02", "husarbeid", 2)]
    fn = pd.DataFrame(rows, columns=["kpr_id", "assessment_date", "variable", "score"])
    fn["assessment_date"] = pd.to_datetime(fn["assessment_date"])
    ctx = _ctx("function_change", tmp_path, ho_services=svc, ho_functions=fn)
    at = get_step("function_change")(ctx)
    t = at.cells
    assert _n(t, function_group="self_care", change="improved") == 1
    assert _n(t, function_group="household_functions", change="unchanged") == 1
    assert _n(t, function_group="own_health", change="not scored") == 1
    assert _n(t, function_group="self_care", change="not assessed at both") == 1
    assert at.excluded == {"later stays of the same person": 1}
    timing = get_step("function_assessment")(ctx).cells.set_index("assessment")["n"]
    assert timing.to_dict() == {"admission only": 1, "discharge only": 0, "both": 1,
                                "neither": 1}


def test_count_cells_and_chapters() -> None:
    empty = count_cells(pd.DataFrame({"a": pd.Series([], dtype="string")}), {"a": ["x", "y"]})
    assert empty["n"].tolist() == [0, 0]
    na = count_cells(pd.DataFrame({"a": pd.Series([NA, NA], dtype="string")}), {"a": ["x"]})
    assert na["n"].tolist() == [0]
    assert icd10_chapter(pd.Series([NA, "Z000", "T98"], dtype="string")).tolist() == [
        NA, "XXI Health services", "XIX Injury"]
