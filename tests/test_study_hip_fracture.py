"""The shipped hip-fracture study end to end on a small synthetic delivery."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kprlink as kl
from kprlink.disclosure.outsider import check_release
from kprlink.tables import standardised_difference

pytestmark = pytest.mark.slow

STUDY = "hip_fracture_dementia_2017"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("hip")
    data = root / "data"
    kl.generate_delivery(data, kl.SynthConfig(scale=0.01, seed=7))
    res = kl.run_study(STUDY, data=data, out=root / "out", work=root / "work")
    matched = pd.read_parquet(root / "work" / "hip_fracture_matched.parquet")
    truth = pd.read_parquet(data / "truth" / "persons.parquet")
    return {"res": res, "matched": matched, "truth": truth, "data": data, "out": root / "out"}


def test_release_passes_the_outsider_check(run: dict) -> None:
    assert check_release(run["out"]).empty
    rel = Path(run["out"]) / "release"
    assert {p.stem for p in (rel / "tables").glob("*.csv")} == {
        "baseline_sex", "baseline_age", "baseline_charlson", "baseline_home_care",
        "hip_fracture_rates", "hip_fracture_curve"}
    assert (rel / "figures" / "hip_fracture_curve.png").is_file()


def test_matched_sets_follow_the_design(run: dict) -> None:
    m, truth = run["matched"], run["truth"]
    cases = m[m["case"]]
    ctrl = m[~m["case"]].merge(cases[["set_id", "sex", "birth_year", "county", "index_date"]],
                               on="set_id", suffixes=("", "_case"))
    assert len(cases) > 50 and len(ctrl) >= 4 * len(cases)
    for c in ("sex", "birth_year", "county", "index_date"):
        assert (ctrl[c] == ctrl[f"{c}_case"]).all(), c
    assert (cases["age_at_index"] >= 65).all()
    # controls alive and without a hip fracture on the index date (truth)
    t = truth.astype({"kpr_id": "Int64"}).set_index("kpr_id")
    k = ctrl.dropna(subset=["kpr_id"]).astype({"kpr_id": "Int64"})
    death = t["death_date"].reindex(k["kpr_id"]).to_numpy()
    assert not (pd.to_datetime(death) <= k["index_date"].to_numpy()).any()
    # follow-up: status 1 only for true hip fractures; exits inside the period
    m2 = m.dropna(subset=["kpr_id"]).astype({"kpr_id": "Int64"})
    hip = t["hip_fracture"].reindex(m2["kpr_id"]).to_numpy(bool)
    assert hip[(m2["status"] == 1).to_numpy()].all()
    assert (m["exit_date"] <= pd.Timestamp("2017-12-31")).all()
    assert (m["time_days"] == (m["exit_date"] - m["index_date"]).dt.days).all()


def test_released_tables_agree_with_the_person_data(run: dict) -> None:
    res, m = run["res"], run["matched"]
    members = m.sort_values(["set_id", "person_id"]).drop_duplicates(["group", "person_id"])
    sex = res.tables["baseline_sex"].set_index(["sex", "group"])
    for g in ("dementia", "no dementia"):
        assert sex.at[("Total", g), "n"] == (members["group"] == g).sum()
    # the SMD shown is the formula on the released shares
    sh = [sex.at[("female", g), "n"] / sex.at[("Total", g), "n"]
          for g in ("dementia", "no dementia")]
    want = standardised_difference([sh[0], 1 - sh[0]], [sh[1], 1 - sh[1]])
    assert sex.at[("Total", "Total"), "smd"] == pytest.approx(want, abs=1e-3)
    # person-time of the rates table is the members' follow-up
    rates = res.tables["hip_fracture_rates"]
    tot = rates[(rates["group"] == "Total") & (rates["age_band"] == "Total")
                & (rates["sex"] == "Total")].iloc[0]
    assert int(tot["person_days"]) == int(members["time_days"].sum())
    shown = rates["hip_fractures_per_1000_py"].notna()
    r = rates[shown]
    np.testing.assert_allclose(
        r["hip_fractures_per_1000_py"].astype(float),
        (r["hip_fractures"].astype(float) / r["person_days"].astype(float) * 365250).round(3),
        atol=1e-6)
    assert rates.loc[rates["hip_fractures"].isna(), "hip_fractures_per_1000_py"].isna().all()
    curve = res.tables["hip_fracture_curve"]
    counts = curve[["n", "n_events", "n_competing", "n_censored"]].dropna().astype(int)
    assert ((counts == 0) | (counts > 4)).all(axis=None)


def test_a_delivery_without_cases_still_releases(tmp_path: Path) -> None:
    """No one qualifies: empty groups show '.', the curve a hidden row per group."""
    data = tmp_path / "data"
    kl.generate_delivery(data, kl.SynthConfig(scale=0.0001, seed=3))
    res = kl.run_study(STUDY, data=data, out=tmp_path / "out", work=tmp_path / "work")
    assert check_release(tmp_path / "out").empty
    sex = pd.read_csv(tmp_path / "out" / "release" / "tables" / "baseline_sex.csv", dtype=str)
    assert (sex["n"] == "0").all() and (sex["share_pct"] == ".").all()
    assert res.tables["hip_fracture_curve"]["group"].tolist() == ["dementia", "no dementia"]


def test_an_imported_partitioned_delivery_gives_the_same_study(run: dict,
                                                               tmp_path: Path) -> None:
    """On an import the controls come from the person table and the coded dates, not
    from linking the whole delivery: the matched sets and the release are the same."""
    imp = tmp_path / "imp"
    kl.import_delivery(run["data"], imp, partitions=3)
    res = kl.run_study(STUDY, data=imp, out=tmp_path / "out", work=tmp_path / "work")
    got = pd.read_parquet(tmp_path / "work" / "hip_fracture_matched.parquet")
    pd.testing.assert_frame_equal(got, run["matched"], check_dtype=False,
                                  check_categorical=False)
    for name, table in run["res"].tables.items():
        pd.testing.assert_frame_equal(res.tables[name], table, check_dtype=False)
