"""Lexis splitting (issue 18 item 4): a hand-computed worked example, then Poisson rates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kprlink.demography import AgeBands
from kprlink.exceptions import MissingColumnsError, SpecError
from kprlink.stats import contact_rate_glm, split_lexis, tabulate_person_time

BANDS = AgeBands.from_breaks([0, 65, 70])
YEARS = [2014, 2015, 2016]


def cohort() -> pd.DataFrame:
    """Four persons; the pieces below are computed by hand on a calendar.

    A born 1950 (1 July assumed): 65 on 2015-07-01; 2014-03-01 to 2016-09-01, event.
      0-64 2014: 2014-03-01..2015-01-01 = 306 d; 0-64 2015: ..2015-07-01 = 181 d;
      65-69 2015: ..2016-01-01 = 184 d; 65-69 2016: ..2016-09-01 = 244 d (event).
    B born March 1945 (15th assumed): 70 on 2015-03-15, before entry 2015-06-01;
      to 2016-11-01, event. 70+ 2015: 214 d; 70+ 2016: 305 d (event).
    C born 1960: 2014-07-01 to 2015-07-01, event. 0-64 2014: 184 d; 0-64 2015: 181 d.
    D born 1930: 2016-10-01 to 2017-03-01, censored. 70+ 2016: 92 d (2017 is dropped).
    """
    return pd.DataFrame({
        "who": ["A", "B", "C", "D"],
        "index_date": pd.to_datetime(["2014-03-01", "2015-06-01", "2014-07-01",
                                      "2016-10-01"]),
        "exit_date": pd.to_datetime(["2016-09-01", "2016-11-01", "2015-07-01", "2017-03-01"]),
        "status": np.array([1, 1, 1, 0], dtype=np.int8),
        "birth_year": [1950, 1945, 1960, 1930],
        "birth_month": pd.array([pd.NA, 3, pd.NA, pd.NA], dtype="Int64"),
    }, index=[7, 8, 9, 10])


def test_worked_example_pieces():
    df = cohort()
    before = df.copy()
    s = split_lexis(df, age_bands=BANDS, years=YEARS, birth_month_col="birth_month")
    pd.testing.assert_frame_equal(df, before)
    got = list(zip(s["who"], s["age_band"].astype(str), s["year"], s["time_days"],
                   s["status"], strict=True))
    assert got == [("A", "0-64", 2014, 306, 0), ("A", "0-64", 2015, 181, 0),
                   ("A", "65-69", 2015, 184, 0), ("A", "65-69", 2016, 244, 1),
                   ("B", "70+", 2015, 214, 0), ("B", "70+", 2016, 305, 1),
                   ("C", "0-64", 2014, 184, 0), ("C", "0-64", 2015, 181, 1),
                   ("D", "70+", 2016, 92, 0)]
    assert list(s.index) == [7, 7, 7, 7, 8, 8, 9, 9, 10]
    assert s.loc[7, "lexis_start"].iloc[2] == pd.Timestamp("2015-07-01")  # A's 65th birthday
    # without a calendar split nothing is dropped: pieces add up to each follow-up
    whole = split_lexis(df, age_bands=BANDS, birth_month_col="birth_month")
    per = whole.groupby("who")["time_days"].sum()
    assert per.tolist() == (df["exit_date"] - df["index_date"]).dt.days.tolist()
    assert whole.groupby("who")["status"].sum().tolist() == [1, 1, 1, 0]


def test_person_years_per_band_and_poisson_rates():
    s = split_lexis(cohort(), age_bands=BANDS, years=YEARS, birth_month_col="birth_month")
    t = tabulate_person_time(s, by=["age_band"])
    days = {"0-64": 306 + 181 + 184 + 181, "65-69": 184 + 244, "70+": 214 + 305 + 92}
    assert t["age_band"].astype(str).tolist() == list(days)
    np.testing.assert_allclose(t["person_years"], [d / 365.25 for d in days.values()])
    assert t["n_events"].tolist() == [1, 1, 1]
    # a Poisson model with one rate per band, fitted on the band x year cells,
    # reproduces the band's events / person-years (its sufficient statistics)
    cells = tabulate_person_time(s, by=["age_band", "year"])
    assert len(cells) == 6
    fit = contact_rate_glm(cells, formula="C(age_band)", events_col="n_events").rate_ratios
    base = 1 / (days["0-64"] / 365.25)
    np.testing.assert_allclose(fit["rate_ratio"].iloc[0], base, rtol=1e-6)
    np.testing.assert_allclose(fit["rate_ratio"].iloc[1:],
                               [days["0-64"] / days["65-69"], days["0-64"] / days["70+"]],
                               rtol=1e-6)
    by_year = tabulate_person_time(s, by=["year"])
    assert by_year["year"].tolist() == YEARS
    np.testing.assert_allclose(by_year["person_years"] * 365.25,
                               [306 + 184, 181 + 184 + 214 + 181, 244 + 305 + 92])


def test_exact_birth_dates_and_leap_days():
    df = pd.DataFrame({"index_date": pd.to_datetime(["2015-01-01"]),
                       "exit_date": pd.to_datetime(["2018-01-01"]), "status": [0],
                       "born": pd.to_datetime(["1952-02-29"])})
    s = split_lexis(df, age_bands=AgeBands.from_breaks([0, 65]), birth_date_col="born")
    # 65th birthday of a leap-day child falls on 1 March 2017
    assert s["lexis_start"].tolist() == [pd.Timestamp("2015-01-01"), pd.Timestamp("2017-03-01")]
    assert s["time_days"].sum() == 1096


def test_zero_time_rows_and_errors():
    df = cohort()
    df.loc[9, "exit_date"] = df.loc[9, "index_date"]
    s = split_lexis(df, years=YEARS)
    assert "C" not in set(s["who"])
    with pytest.raises(SpecError) as err:
        split_lexis(cohort(), years=[2014, 2016])
    assert "consecutive" in str(err.value.problems[0])
    bad = cohort()
    bad.loc[7, "exit_date"] = pd.NaT
    bad.loc[8, "exit_date"] = pd.Timestamp("2000-01-01")
    with pytest.raises(SpecError) as err:
        split_lexis(bad)
    assert len(err.value.problems) == 2
    with pytest.raises(MissingColumnsError) as err:
        split_lexis(cohort().drop(columns="birth_year"), age_bands=BANDS)
    assert err.value.missing == ["birth_year"]
    nob = cohort().assign(birth_year=pd.array([1950, pd.NA, 1960, 1930], dtype="Int64"))
    with pytest.raises(SpecError):
        split_lexis(nob, age_bands=BANDS)
    assert len(split_lexis(cohort().iloc[:0], age_bands=BANDS, years=YEARS)) == 0
