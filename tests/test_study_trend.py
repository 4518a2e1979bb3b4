"""The multi-year study ``dementia_trend_2016_2024`` against the synthetic truth (issue 14)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import kprlink as kl
from kprlink.exceptions import SpecError
from kprlink.synth.years import generate_years

YEARS = (2016, 2017, 2018, 2019)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, kl.StudyResult]:
    root = tmp_path_factory.mktemp("trend")
    generate_years(root / "d", kl.SynthConfig(scale=0.003, seed=11, fmt="parquet"), years=YEARS)
    kl.import_delivery(root / "d", root / "imp", partitions=2)
    res = kl.run_study("dementia_trend_2016_2024", data=root / "imp", out=root / "out")
    return root, res


def _year_totals(table: pd.DataFrame) -> dict[int, int]:
    t = table[(table["age_band"] == "Total") & (table["sex"] == "Total")
              & (table["year"] != "Total")]
    return {int(y): int(n) for y, n in zip(t["year"], t["n"], strict=True)}


def test_prevalence_by_year_equals_truth(run: tuple[Path, kl.StudyResult]) -> None:
    root, res = run
    truth = pd.read_parquet(root / "d" / "truth" / "dementia_by_year.parquet")
    want = truth.groupby("year").size()
    got = _year_totals(res.tables["registered_by_year"])
    assert sorted(got) == [2017, 2018, 2019]  # 2016 is half a year of KUHR
    assert got == {y: int(want[y]) for y in got}
    t = res.tables["registered_by_year"]
    row = t[(t["year"] == "2018") & (t["age_band"] == "Total") & (t["sex"] == "Total")].iloc[0]
    assert row["per_1000"] == pytest.approx(1000 * row["n"] / row["population"], abs=1e-3)
    pop = pd.read_csv(root / "d" / "ssb_07459_befolkning.csv")
    nat = pop[(pop["granularity_geo"] == "nation") & (pop["calyear"] == 2018)]
    assert row["population"] == nat["pop_jan1_n"].sum()


def test_incidence_after_washout_equals_truth(run: tuple[Path, kl.StudyResult]) -> None:
    root, res = run
    first = pd.read_parquet(root / "d" / "truth" / "dementia_first.parquet")
    year = pd.to_datetime(first["first_date"]).dt.year
    got = _year_totals(res.tables["first_registered_by_year"])
    assert sorted(got) == [2018, 2019]
    assert got == {y: int((year == y).sum()) for y in got}
    assert all(v > 0 for v in got.values())


def test_trend_figures_and_rates_released(run: tuple[Path, kl.StudyResult]) -> None:
    root, _ = run
    rel = root / "out" / "release"
    for name in ("registered_by_year", "first_registered_by_year"):
        assert (rel / "figures" / f"{name}.png").is_file()
        csv = pd.read_csv(rel / "tables" / f"{name}.csv", dtype=str, keep_default_na=False)
        assert {"per_1000", "per_1000_lower", "per_1000_upper"} <= set(csv.columns)
        hidden = csv["n"] == ":"
        assert hidden.any() and (csv.loc[hidden, "per_1000"] == ":").all()


def test_single_year_delivery_is_refused(tmp_path: Path) -> None:
    kl.generate_delivery(tmp_path / "d", kl.SynthConfig(scale=0.001, seed=3))
    with pytest.raises(SpecError) as err:
        kl.run_study("dementia_trend_2016_2024", data=tmp_path / "d", out=tmp_path / "o")
    assert "multi-year" in str(err.value)
