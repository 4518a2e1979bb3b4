"""Multi-year synthetic deliveries (``kprlink synth --years``), issue 14."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import kprlink as kl
from kprlink.cli import main
from kprlink.exceptions import SpecError
from kprlink.synth import SynthConfig
from kprlink.synth.years import generate_years, parse_years

STUDY = Path(__file__).resolve().parents[1] / "studies" / "dementia_2016_2017"


@pytest.fixture(scope="module")
def multi(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("years") / "d"
    generate_years(out, SynthConfig(scale=0.001, seed=5, fmt="parquet"),
                   years=(2016, 2017, 2018, 2019))
    return out


def test_parse_years() -> None:
    assert parse_years("2016-2024") == tuple(range(2016, 2025))
    assert parse_years("2020") == (2020,)
    for bad in ("2015-2017", "2019-2017", "abc", "2016-2099"):
        with pytest.raises(SpecError):
            parse_years(bad)


def test_files_by_register_and_year(multi: Path) -> None:
    names = sorted(p.name for p in multi.iterdir() if p.is_file())
    assert "kpr_ho_tjenester_2016.parquet" not in names  # KPR helse og omsorg from 2017
    for y in (2016, 2017, 2018, 2019):
        assert f"npr_episoder_{y}.parquet" in names
        assert f"kpr_kuhr_regninger_{y}.parquet" in names
        for stem in ("kpr_kuhr_regninger", "npr_episoder"):
            t = pq.read_table(multi / f"{stem}_{y}.parquet")
            date = "dato" if stem.startswith("kpr") else "inndato"
            years = {d.year for d in t.column(date).to_pylist()}
            assert years == {y} and set(t.column("aar").to_pylist()) == {y}
    kuhr16 = pq.read_table(multi / "kpr_kuhr_regninger_2016.parquet").column("dato")
    assert min(kuhr16.to_pylist()).isoformat() >= "2016-07-01"
    assert "kpr_ho_tjenester_2017.parquet" in names


def test_population_ages_and_grows(multi: Path) -> None:
    pop = pd.read_csv(multi / "ssb_07459_befolkning.csv")
    nat = pop[pop["granularity_geo"] == "nation"]
    total = nat.groupby("calyear")["pop_jan1_n"].sum()
    assert list(total.index) == [2016, 2017, 2018, 2019, 2020]
    assert total.is_monotonic_increasing  # births + immigration exceed deaths
    assert abs(total[2017] - 5_258_317 * 0.001) / (5_258_317 * 0.001) < 0.01
    # persons age: those 50 on 1 Jan 2017 are mostly the 49-year-olds of 2016
    a16 = nat[(nat["calyear"] == 2016) & (nat["age"] == 49)]["pop_jan1_n"].sum()
    a17 = nat[(nat["calyear"] == 2017) & (nat["age"] == 50)]["pop_jan1_n"].sum()
    assert 0.95 * a16 <= a17 <= 1.05 * a16 + 2
    # municipality codes follow the 2018 Trøndelag merger
    muni = pop[pop["granularity_geo"] == "municip"]
    assert not muni[muni["calyear"] == 2019]["location_code"].str.match(
        r"municip_nor1[67]").any()


def test_cohort_per_year_equals_truth(multi: Path, tmp_path: Path) -> None:
    truth = pd.read_parquet(multi / "truth" / "dementia_by_year.parquet")
    text = (STUDY / "cohort.toml").read_text()
    delivery = kl.read_delivery(multi)
    assert int(delivery.report.table["excluded"].sum()) == 0  # a clean delivery
    for year in (2017, 2019):
        lo = f"{year}-01-01"
        toml = tmp_path / f"c{year}.toml"
        toml.write_text(text.replace("2016-07-01", lo).replace("2017-06-30", f"{year}-12-31"))
        res = kl.build_cohort(delivery, kl.CohortDefinition.from_toml(toml))
        want = truth[truth["year"] == year]
        assert len(want) > 0
        assert sorted(res.persons["kpr_id"].astype("int64")) == sorted(want["kpr_id"])
        got = res.persons.set_index("kpr_id")["index_date"].dt.date
        assert (got.loc[want["kpr_id"]].to_numpy() ==
                pd.to_datetime(want["first_date"]).dt.date.to_numpy()).all()


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    cfg = SynthConfig(scale=0.0002, seed=9)
    a = generate_years(tmp_path / "a", cfg, years=(2016, 2017))
    b = generate_years(tmp_path / "b", cfg, years=(2016, 2017))
    pd.testing.assert_frame_equal(a.files, b.files)
    c = generate_years(tmp_path / "c", SynthConfig(scale=0.0002, seed=10), years=(2016, 2017))
    assert not a.files["sha256"].equals(c.files["sha256"])
    m = json.loads((tmp_path / "a" / "truth" / "manifest.json").read_text())
    assert m["years"] == [2016, 2017]


def test_calibration_by_year(multi: Path) -> None:
    cal = pd.read_csv(multi / "truth" / "calibration_by_year.csv", sep=";")
    assert sorted(set(cal["year"])) == [2016, 2017, 2018, 2019]
    reg = cal[cal["target"] == "registered_dementia_persons"].set_index("year")["generated"]
    truth = pd.read_parquet(multi / "truth" / "dementia_by_year.parquet")
    assert reg.to_dict() == truth.groupby("year").size().to_dict()


def test_panel_stays_calibrated() -> None:
    from kprlink.synth._panel import build_panel
    from kprlink.synth.world import day

    years = tuple(range(2016, 2025))
    p = build_panel(0.01, years, np.random.default_rng(3))
    for y in years:
        alive = p.alive_on(day(y, 1, 1))
        age = y - 1 - p.birth_year.astype(np.int64)
        dem = (p.onset_day >= 0) & (p.onset_day < day(y, 1, 1))
        assert 0.13 < dem[alive & (age >= 70)].mean() < 0.17  # HUNT4 14.6 % [V]
        deaths = ((p.death_day >= day(y, 1, 1)) & (p.death_day < day(y + 1, 1, 1))).sum()
        assert 0.85 * 407 < deaths < 1.2 * 407
        # about half of those living with dementia have a registered contact that year
        j = years.index(y)
        share = (p.registered[:, j] > 0)[dem & alive].mean()
        assert 0.3 < share < 0.65


def test_cli_years(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["synth", "--scale", "0.0002", "--seed", "1", "--years", "2016-2017",
                 "--out", str(tmp_path / "o"), "--quiet"]) == 0
    assert "years 2016-2017" in capsys.readouterr().out
    assert (tmp_path / "o" / "npr_episoder_2017.csv").exists()
    assert main(["synth", "--years", "2012-2014", "--out", str(tmp_path / "x")]) == 2


def test_multi_year_import_streams_file_by_file(multi: Path, tmp_path: Path) -> None:
    """No single file is large, together they are: the import goes file by file and
    gives the frames of a whole read."""
    from kprlink.sources._import_stream import streamable

    whole = kl.read_delivery(multi)
    n = len(whole.kuhr_claims)
    biggest = max(pq.ParquetFile(p).metadata.num_rows for p in multi.glob("*.parquet"))
    chunk = biggest + 1
    assert chunk < n and streamable(multi, chunk) and not streamable(multi, 10 * n)
    kl.import_delivery(multi, tmp_path / "imp", chunk_rows=chunk)
    back = kl.read_delivery(tmp_path / "imp")
    for name in ("kuhr_claims", "kuhr_diagnoses", "npr_episodes", "npr_diagnoses",
                 "ho_services", "key"):
        pd.testing.assert_frame_equal(getattr(back, name), getattr(whole, name))
