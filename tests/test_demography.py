"""Age, age bands, places/border changes and population denominators."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import kprlink as kl

# --- age -------------------------------------------------------------------------------


def test_age_at_year_only_exact_on_1_january_and_31_december():
    assert kl.age_at(1930, "2017-01-01") == 86
    assert kl.age_at(1930, "2017-06-30") == 86
    assert kl.age_at(1930, "2017-07-01") == 87
    assert kl.age_at(1930, "2017-12-31") == 87
    assert kl.age_at(None, "2017-01-01") is None


def test_age_at_with_birth_month_uses_the_15th():
    ages = kl.age_at(pd.Series([1950, 1950, 1950, 1950]), "2017-03-14",
                     birth_month=pd.Series([2, 3, 4, pd.NA], dtype="Int64"))
    # Feb: birthday passed; Mar 15 not yet; Apr not yet; NA month: 1 July rule
    assert ages.tolist() == [67, 66, 66, 66]
    assert str(ages.dtype) == "Int64"


def test_age_at_errors():
    with pytest.raises(kl.SpecError) as err:
        kl.age_at([1950], "2017-01-01", birth_month=[13])
    assert len(err.value.problems) == 1
    with pytest.raises(kl.SpecError):
        kl.age_at(1950, "not a date")
    with pytest.raises(kl.SpecError):
        kl.age_at(1950, None)


def test_add_age_keeps_input_and_index():
    df = pd.DataFrame({"birth_year": [1930, 2016, None], "bm": [1, 12, 5]}, index=[5, 6, 7])
    before = df.copy()
    out = kl.add_age(df, at="2017-01-01", birth_month_col="bm")
    pd.testing.assert_frame_equal(df, before)
    assert list(out.index) == [5, 6, 7]
    assert out["age"].tolist() == [86, 0, pd.NA]
    with pytest.raises(kl.MissingColumnsError) as err:
        kl.add_age(df, at="2017-01-01", birth_year_col="fodselsaar")
    assert err.value.missing == ["fodselsaar"]


def test_age_at_per_row_dates():
    df = pd.DataFrame({"birth_year": [1930, 1930, 1950],
                       "date": pd.to_datetime(["2017-01-01", "2017-08-01", None])},
                      index=[3, 4, 5])
    out = kl.add_age(df, at="date")
    assert out["age"].tolist() == [86, 87, pd.NA]
    assert list(out.index) == [3, 4, 5]
    assert kl.age_at(1930, ["2017-01-01", "2018-01-01"]).tolist() == [86, 87]
    with pytest.raises(kl.SpecError):
        kl.age_at([1930, 1931, 1932], ["2017-01-01", "2018-01-01"])


def test_add_age_empty_frame():
    out = kl.add_age(pd.DataFrame({"birth_year": pd.Series([], dtype="Int64")}), at="2017-01-01")
    assert len(out) == 0 and "age" in out


# --- age bands ---------------------------------------------------------------------------


def test_presets():
    ref = kl.AgeBands.reference_dementia()
    assert ref.labels == ("Under 60", "60-64", "65-69", "70-74", "75-79", "80-84", "85-89", "90+")
    assert kl.AgeBands.iplos().labels == ("0-14", "15-17", "18-49", "50-66", "67-79", "80-89",
                                          "90+")
    five = kl.AgeBands.five_year(top=90)
    assert five.labels[0] == "0-4" and five.labels[-1] == "90+" and len(five) == 19
    assert kl.AgeBands.from_breaks([0, 1, 5]).labels == ("0", "1-4", "5+")


def test_add_age_band_ordered_categorical_and_edges():
    df = pd.DataFrame({"age": pd.array([0, 59, 60, 89, 90, 130, pd.NA], dtype="Int64")})
    out = kl.add_age_band(df, kl.AgeBands.reference_dementia())
    assert out["age_band"].cat.ordered
    assert out["age_band"].tolist()[:6] == ["Under 60", "Under 60", "60-64", "85-89", "90+",
                                           "90+"]
    assert pd.isna(out["age_band"].iloc[6])


def test_add_age_band_all_na_and_empty():
    out = kl.add_age_band(pd.DataFrame({"age": [np.nan, np.nan]}), kl.AgeBands.iplos())
    assert out["age_band"].isna().all()
    assert len(kl.add_age_band(pd.DataFrame({"age": []}), kl.AgeBands.iplos())) == 0


def test_add_age_band_errors():
    with pytest.raises(kl.MissingColumnsError) as err:
        kl.add_age_band(pd.DataFrame({"alder": [1]}), kl.AgeBands.iplos())
    assert err.value.missing == ["age"]
    with pytest.raises(kl.SpecError) as err:
        kl.add_age_band(pd.DataFrame({"age": [-1, 131, 2.5]}), kl.AgeBands.iplos())
    assert len(err.value.problems) == 3


@pytest.mark.parametrize("breaks,n_problems", [([], 1), ([5, 10], 1), ([0, 10, 10], 1),
                                               ([1, 0], 2), ([0, 200], 1)])
def test_bad_breaks(breaks, n_problems):
    with pytest.raises(kl.SpecError) as err:
        kl.AgeBands.from_breaks(breaks)
    assert len(err.value.problems) == n_problems


def test_bad_labels_and_five_year_top():
    with pytest.raises(kl.SpecError):
        kl.AgeBands.from_breaks([0, 18], labels=["a"])
    with pytest.raises(kl.SpecError):
        kl.AgeBands.from_breaks([0, 18], labels=["a", "a"])
    with pytest.raises(kl.SpecError):
        kl.AgeBands.five_year(top=92)


@given(st.lists(st.integers(1, 130), min_size=0, max_size=8, unique=True))
def test_every_age_in_exactly_one_band(inner):
    bands = kl.AgeBands.from_breaks([0, *sorted(inner)])
    ages = pd.Series(range(131))
    got = bands.assign(ages)
    assert got.notna().all()
    for i, lab in enumerate(bands.labels):
        members = ages[got == lab]
        assert ((members >= bands.breaks[i]) & (members <= bands.upper(i))).all()
    assert sum((got == lab).sum() for lab in bands.labels) == 131


# --- places -------------------------------------------------------------------------------


def _klass(tmp_path, encoding="utf-8"):
    rows = [
        ("municip_nor5001", "municip_nor1601", 2017, 1.0),
        ("municip_nor5001", "municip_nor5001", 2018, 1.0),
        ("municip_nor0301", "municip_nor0301", 2017, 1.0),
        ("municip_nor0301", "municip_nor0301", 2018, 1.0),
        ("municip_nor1508", "municip_nor1504", 2017, 0.75),
        ("municip_nor1580", "municip_nor1504", 2017, 0.25),
    ]
    k = pd.DataFrame(rows, columns=["location_code_current", "location_code_original",
                                    "calyear", "weighting"])
    k["granularity_geo"] = "municip"
    names = pd.DataFrame({"location_code": ["municip_nor0301", "municip_nor5001", "county_nor03"],
                          "location_name": ["Oslo", "Trondheim", "Oslo"],
                          "granularity_geo": ["municip", "municip", "county"],
                          "county_code": ["county_nor03", "county_nor50", "county_nor03"]})
    k.to_csv(tmp_path / "k.csv", index=False)
    names.to_csv(tmp_path / "n.csv", index=False, encoding=encoding)
    return kl.read_places(tmp_path / "k.csv", tmp_path / "n.csv", border_year=2018)


def test_read_places_names_latin1(tmp_path):
    places = _klass(tmp_path, encoding="latin-1")
    assert places.name("0301") == "Oslo"
    assert places.name("municip_nor5001") == "Trondheim"
    assert places.name("9999") is None
    assert places.county_of("5001") == "county_nor50"
    assert "2018" in repr(places)


def _values(s: pd.Series) -> list:
    """Values with every missing marker as None (pandas 3 text columns hold NaN)."""
    return [None if pd.isna(v) else v for v in s.tolist()]


def test_add_place_names(tmp_path):
    places = _klass(tmp_path)
    df = pd.DataFrame({"municipality": ["0301", "5001", "9999", None]})
    out = kl.add_place_names(df, places)
    assert out["municipality_name"].tolist()[:3] == ["Oslo", "Trondheim", np.nan]
    assert _values(out["county_code"]) == ["03", "50", None, None]
    assert out["county_name"].tolist()[0] == "Oslo" and pd.isna(out["county_name"].iloc[1])
    with pytest.raises(kl.MissingColumnsError) as err:
        kl.add_place_names(df, places, municipality_col="kommune")
    assert err.value.missing == ["kommune"]


def test_harmonise_exact_and_weighted(tmp_path):
    places = _klass(tmp_path)
    df = pd.DataFrame({"year": [2017, 2018, 2019, 2017, 2017],
                       "municipality": ["1601", "5001", "0301", "1504", "9999"],
                       "n": [1, 2, 3, 4, 5]}, index=list("abcde"))
    before = df.copy()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = kl.harmonise_municipalities(df, places, to_year=2018)
    pd.testing.assert_frame_equal(df, before)
    assert sorted(str(x.message)[:40] for x in w)  # two warnings
    assert {x.category for x in w} == {kl.DataQualityWarning}
    assert len(w) == 2
    assert _values(out["municipality"]) == ["5001", "5001", "0301", "1508", "1580", None]
    assert out["weight"].tolist() == [1, 1, 1, 0.75, 0.25, 1]
    assert list(out.index) == list("abcdde")
    assert (out["n"] * out["weight"]).sum() == df["n"].sum()  # weights preserve totals
    assert out.attrs["harmonise_counts"] == {"n_rows": 5, "n_weighted": 1, "n_unmapped": 1}


def test_harmonise_errors(tmp_path):
    places = _klass(tmp_path)
    with pytest.raises(kl.SpecError):
        kl.harmonise_municipalities(pd.DataFrame({"year": [], "municipality": []}), places,
                                    to_year=2024)
    with pytest.raises(kl.MissingColumnsError) as err:
        kl.harmonise_municipalities(pd.DataFrame({"aar": [2017]}), places, to_year=2018)
    assert err.value.missing == ["year", "municipality"]


def test_places_bad_tables():
    k = pd.DataFrame({"location_code_current": ["a", "b"], "location_code_original": ["x", "x"],
                      "calyear": [2017, 2017], "weighting": [0.5, 0.4],
                      "granularity_geo": ["municip"] * 2})
    names = pd.DataFrame(columns=["location_code", "location_name", "granularity_geo"])
    with pytest.raises(kl.SpecError) as err:
        kl.Places(k, names, 2018)
    assert len(err.value.problems) == 1
    with pytest.raises(kl.MissingColumnsError) as err:
        kl.Places(k.drop(columns="weighting"), names, 2018)
    assert err.value.missing == ["weighting"]


# --- population ----------------------------------------------------------------------------


def _pop():
    rows = []
    for year, base in ((2016, 100), (2017, 120)):
        for sex in ("female", "male"):
            for age in (10, 59, 60, 95):
                rows.append(("nation", "nation_nor", age, sex, year, base + age))
                rows.append(("county", "county_nor03", age, sex, year, 1))
            rows.append(("nation", "nation_nor", 10, "total", year, 9999))
    return pd.DataFrame(rows, columns=["geo_level", "location_code", "age", "sex", "year",
                                       "population"]).drop_duplicates(
        ["geo_level", "location_code", "age", "sex", "year"])


def test_denominators_year_by_band_and_sex():
    pop = _pop()
    before = pop.copy()
    d = kl.population_denominators(pop, year=2017, bands=kl.AgeBands.reference_dementia())
    pd.testing.assert_frame_equal(pop, before)
    assert len(d) == 16  # every band x sex, zero where empty
    f = d.set_index(["sex", "age_band"])
    assert f.loc[("female", "Under 60"), "population"] == (120 + 10) + (120 + 59)
    assert f.loc[("male", "90+"), "population"] == 120 + 95
    assert f.loc[("male", "70-74"), "population"] == 0
    assert (d["person_years"] == d["population"]).all()


def test_denominators_mid_period_interpolates():
    pop = _pop()
    d = kl.population_denominators(pop, period=("2016-07-01", "2017-06-30"), by=["age"])
    # 365 days; midpoint 30 Dec 2016 12:00 -> weight 1.5/366 on 2016, the rest on 2017
    w16 = 1.5 / 366
    exp = (1 - w16) * 2 * (120 + 10) + w16 * 2 * (100 + 10)
    assert d.set_index("age").loc[10, "population"] == pytest.approx(exp)
    assert d["person_years"].iloc[0] == pytest.approx(d["population"].iloc[0] * 365 / 365.25)


def test_denominators_raw_export_names_and_location_filter():
    pop = _pop().rename(columns={"geo_level": "granularity_geo", "year": "calyear",
                                 "population": "pop_jan1_n"})
    d = kl.population_denominators(pop, year=2016, by=["location_code"], geo_level="county",
                                   locations=["county_nor03"])
    assert d["population"].tolist() == [8.0]
    tot = kl.population_denominators(pop, year=2016, by=[])
    assert tot["population"].tolist() == [2 * (400 + 10 + 59 + 60 + 95)]


def test_denominators_errors():
    pop = _pop()
    with pytest.raises(kl.SpecError) as err:
        kl.population_denominators(pop, by=["sex", "bogus", "age_band"])
    assert len(err.value.problems) == 3
    with pytest.raises(kl.SpecError) as err:
        kl.population_denominators(pop, year=2019, by=["sex"])
    assert err.value.problems == ["year 2019 missing"]
    with pytest.raises(kl.SpecError):
        kl.population_denominators(pop, period=("2017-01-01", "2016-01-01"), by=["sex"])
    with pytest.raises(kl.MissingColumnsError) as err:
        kl.population_denominators(pop.drop(columns="sex"), year=2016, by=[])
    assert err.value.missing == ["sex"]


def test_denominators_several_years():
    d = kl.population_denominators(_pop(), year=[2016, 2017], by=["sex"])
    assert d.columns.tolist() == ["year", "sex", "population", "person_years"]
    assert d["year"].tolist() == [2016, 2016, 2017, 2017]
    assert d["population"].tolist() == [4 * 100 + 224.0] * 2 + [4 * 120 + 224.0] * 2
    with pytest.raises(kl.SpecError):
        kl.population_denominators(_pop(), year=[], by=["sex"])
