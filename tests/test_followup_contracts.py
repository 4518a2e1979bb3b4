"""Contract checks for the follow-up, comorbidity, outcome, Lexis and survival functions:
inputs unchanged, the index kept (or repeated per piece), no warnings, empty frames work."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import kprlink as kl

PERSONS = pd.DataFrame({
    "person_id": [3, 1, 2, 4],
    "index_date": pd.to_datetime(["2017-01-01", "2017-02-01", "2017-03-01", "2017-04-01"]),
    "death_date": pd.to_datetime([None, "2017-06-01", None, None]),
    "birth_year": pd.array([1930, 1940, 1950, 1960], dtype="Int64"),
    "sex": pd.array([1, 2, 2, 1], dtype="Int64"),
}, index=[40, 10, 20, 30])
EVENTS = pd.DataFrame({"person_id": [3, 1, 2, 2], "date": pd.to_datetime(
    ["2017-03-01", "2017-01-15", "2017-05-01", "2016-10-01"]), "source": "npr",
    "system": "ICD-10", "code": ["I500", "F001", "C787", "I219"]})

KEEPS_INDEX = {
    "add_follow_up": lambda p: kl.add_follow_up(p, EVENTS, end_of_data="2017-12-31"),
    "add_comorbidity": lambda p: kl.add_comorbidity(
        p, EVENTS, index=kl.ComorbidityIndex.charlson_quan(), lookback_days=365),
    "add_outcomes": lambda p: kl.add_outcomes(p, {"dx": EVENTS}, end_of_data="2017-12-31",
                                              horizon_days=90),
}


def followed() -> pd.DataFrame:
    return kl.add_follow_up(PERSONS, EVENTS, end_of_data="2017-12-31")


ON_FOLLOW_UP = {
    "split_lexis": lambda f: kl.split_lexis(f, age_bands=kl.AgeBands.reference_dementia(),
                                            years=[2017]),
    "kaplan_meier": lambda f: kl.kaplan_meier(f, group_col="sex"),
    "cumulative_incidence": lambda f: kl.cumulative_incidence(f),
}


@pytest.mark.parametrize("name", sorted(KEEPS_INDEX))
def test_person_functions_keep_input_and_index(name):
    p = PERSONS.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = KEEPS_INDEX[name](p)
        empty = KEEPS_INDEX[name](p.iloc[:0])
    pd.testing.assert_frame_equal(p, PERSONS)
    assert list(out.index) == list(PERSONS.index)
    assert out[list(PERSONS.columns)].equals(PERSONS)
    assert len(empty) == 0 and set(out.columns) == set(empty.columns)


@pytest.mark.parametrize("name", sorted(ON_FOLLOW_UP))
def test_follow_up_functions_keep_input(name):
    f = followed()
    before = f.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = ON_FOLLOW_UP[name](f)
        empty = ON_FOLLOW_UP[name](f.iloc[:0])
    pd.testing.assert_frame_equal(f, before)
    assert len(out) > 0 and len(empty) == 0
    if name == "split_lexis":
        assert set(out.index) <= set(f.index)
        np.testing.assert_array_equal(out.groupby(level=0)["time_days"].sum().sort_index(),
                                      f["time_days"].sort_index())
