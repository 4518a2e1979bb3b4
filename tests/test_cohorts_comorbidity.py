"""Charlson comorbidity (Quan codes and weights; issue 18 item 2) on events built in code."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from kprlink.cohorts import ComorbidityIndex, add_comorbidity
from kprlink.exceptions import MissingColumnsError, SpecError

CCI = ComorbidityIndex.charlson_quan()
INDEX = pd.Timestamp("2017-06-01")

#: One code per category as delivered (dot-free, Norwegian 5-character where they exist).
ONE_CODE = {"mi": "I2190", "chf": "I500", "pvd": "I702", "cevd": "I639", "dementia": "F001",
            "cpd": "J449", "rheumd": "M069", "pud": "K259", "mld": "K703", "diab": "E119",
            "diabwc": "E112", "hp": "G819", "rend": "N184", "canc": "C509",
            "msld": "K704", "metacanc": "C787", "aids": "B24"}


def events(rows: list[tuple[int, str, str]], *, source: str = "npr",
           system: str = "ICD-10") -> pd.DataFrame:
    return pd.DataFrame({"person_id": [r[0] for r in rows],
                         "date": pd.to_datetime([r[1] for r in rows]),
                         "source": source, "system": system,
                         "code": pd.Categorical([r[2] for r in rows])})


def persons(n: int) -> pd.DataFrame:
    return pd.DataFrame({"person_id": np.arange(1, n + 1),
                         "index_date": [INDEX] * n}, index=np.arange(n) * 10)


def test_each_category_and_the_maximum_scores():
    ev = events([(1, "2017-01-01", c) for c in ONE_CODE.values()])
    p = persons(1)
    got = add_comorbidity(p, ev, index=CCI, lookback_days=365)
    flags = {k: bool(got[f"charlson_{k}"].iloc[0]) for k in ONE_CODE}
    # the milder of each hierarchy pair is not counted
    assert {k for k, v in flags.items() if not v} == {"mld", "diab", "canc"}
    assert got["charlson_score"].iloc[0] == 24  # Quan 2011 maximum
    orig = add_comorbidity(p, ev, index=CCI, lookback_days=365, weights="charlson1987")
    assert orig["charlson_score"].iloc[0] == 29  # Charlson 1987 maximum
    # each code alone flags its category only
    ev1 = events([(i + 1, "2017-01-01", c) for i, c in enumerate(ONE_CODE.values())])
    alone = add_comorbidity(persons(len(ONE_CODE)), ev1, index=CCI, lookback_days=365)
    cols = [f"charlson_{k}" for k in ONE_CODE]
    np.testing.assert_array_equal(alone[cols].to_numpy(), np.eye(len(ONE_CODE), dtype=bool))
    quan = dict(zip([c.name for c in CCI.categories], CCI.weights["quan2011"], strict=True))
    assert alone["charlson_score"].tolist() == [quan[k] for k in ONE_CODE]


def test_hand_computed_scores_and_dagger_asterisk_pair():
    # person 1: heart failure, Alzheimer's as a G30 dagger with F00 asterisk,
    # diabetes with and without complications -> CHF 2 + dementia 2 + diabwc 1
    ev = events([(1, "2017-05-01", "I509"), (1, "2016-09-01", "G301"),
                 (1, "2016-09-01", "F001"), (1, "2017-02-01", "E119"),
                 (1, "2017-02-01", "E1120"),
                 # person 2: tricky heads -- old MI I25.2 yes, I25.1 no; melanoma C43 yes,
                 # other skin C44 no; I42.1 no (I42.0, I42.5-I42.9 only); K76.5 severe liver
                 (2, "2017-01-01", "I252"), (2, "2017-01-01", "I251"), (2, "2017-01-01", "C439"),
                 (2, "2017-01-01", "C449"), (2, "2017-01-01", "I421"), (2, "2017-01-01", "K765")])
    got = add_comorbidity(persons(2), ev, index=CCI, lookback_days=365)
    assert got["charlson_score"].tolist() == [2 + 2 + 1, 0 + 2 + 4]
    assert got["charlson_dementia"].tolist() == [True, False]
    assert got["charlson_chf"].tolist() == [True, False]
    assert got[["charlson_diab", "charlson_diabwc"]].to_numpy().tolist() == [[False, True],
                                                                            [False, False]]
    orig = add_comorbidity(persons(2), ev, index=CCI, lookback_days=365,
                           weights="charlson1987")
    assert orig["charlson_score"].tolist() == [1 + 1 + 2, 1 + 2 + 3]


def test_window_sources_and_systems():
    p = persons(1)
    rows = [(1, "2016-05-31", "I21"),   # 366 days before: outside a 365-day look-back
            (1, "2017-06-02", "I50"),   # after the index date
            (1, "2017-06-01", "F03")]   # on the index date
    ev = events(rows)
    got = add_comorbidity(p, ev, index=CCI, lookback_days=365)
    assert got["charlson_score"].iloc[0] == 2 and got["charlson_dementia"].iloc[0]
    strict = add_comorbidity(p, ev, index=CCI, lookback_days=365, include_index_date=False)
    assert strict["charlson_score"].iloc[0] == 0
    wider = add_comorbidity(p, ev, index=CCI, lookback_days=366, weights="charlson1987")
    assert wider["charlson_mi"].iloc[0] and wider["charlson_score"].iloc[0] == 2
    gp = pd.concat([events([(1, "2017-01-01", "I50")], source="kpr_kuhr"),
                    events([(1, "2017-01-01", "K77")], source="kpr_kuhr", system="ICPC-2")])
    assert add_comorbidity(p, gp, index=CCI, lookback_days=365)["charlson_score"].iloc[0] == 0
    both = add_comorbidity(p, gp, index=CCI, lookback_days=365, sources=["npr", "kpr_kuhr"])
    assert both["charlson_score"].iloc[0] == 2  # the ICD-10 claim only


def test_contract_and_errors():
    p = persons(3)
    before = p.copy()
    out = add_comorbidity(p, events([(9, "2017-01-01", "I50")]), index=CCI, lookback_days=30)
    pd.testing.assert_frame_equal(p, before)
    assert list(out.index) == list(p.index) and (out["charlson_score"] == 0).all()
    assert out["charlson_score"].dtype == np.int64
    assert len(add_comorbidity(p.iloc[:0], events([]), index=CCI, lookback_days=30)) == 0
    with pytest.raises(SpecError):
        add_comorbidity(p, events([]), index=CCI, lookback_days=30, weights="elixhauser")
    with pytest.raises(SpecError):
        add_comorbidity(p, events([]), index=CCI, lookback_days=-1)
    with pytest.raises(MissingColumnsError) as err:
        add_comorbidity(p, events([]).drop(columns="source"), index=CCI, lookback_days=1)
    assert err.value.missing == ["source"]
    with pytest.raises(SpecError) as err:
        ComorbidityIndex("x", CCI.categories[:2], {"w": [1]}, [("mi", "nope")])
    assert {q.reason for q in err.value.problems} == {"bad_weights", "bad_hierarchy"}


def test_index_file_round_trips_and_cites_its_sources(tmp_path):
    d = CCI.to_dict()
    assert "Med Care 2005;43(11):1130-9" in d["source"]
    assert "Am J Epidemiol 2011;173(6):676-82" in d["source"]
    path = tmp_path / "cci.json"
    path.write_text(json.dumps(d), encoding="utf-8")
    back = ComorbidityIndex.from_json(path)
    assert back == CCI and back.digest == CCI.digest
    with pytest.raises(SpecError):
        ComorbidityIndex.from_dict({**d, "kind": "codelist"})


ELIX = ComorbidityIndex.elixhauser_quan()
#: One code per Elixhauser category, as delivered.
ELIX_CODE = {"chf": "I509", "carit": "I480", "valv": "I350", "pcd": "I269", "pvd": "I739",
             "hypunc": "I10", "hypc": "I129", "para": "G819", "ond": "G209", "cpd": "J449",
             "diabunc": "E119", "diabc": "E1150", "hypothy": "E039", "rf": "N185",
             "ld": "K746", "pud": "K259", "aids": "B24", "lymph": "C833", "metacanc": "C787",
             "solidtum": "C509", "rheumd": "M059", "coag": "D689", "obes": "E669",
             "wloss": "R64", "fed": "E871", "blane": "D500", "dane": "D509",
             "alcohol": "F102", "drug": "F112", "psycho": "F209", "depre": "F329"}


def test_elixhauser_van_walraven():
    assert len(ELIX.categories) == 31 and ELIX.weight_sets == ("van_walraven2009", "count")
    assert "Med Care 2009;47(6):626-33" in ELIX.source
    ev1 = events([(i + 1, "2017-01-01", c) for i, c in enumerate(ELIX_CODE.values())])
    alone = add_comorbidity(persons(len(ELIX_CODE)), ev1, index=ELIX, lookback_days=365)
    np.testing.assert_array_equal(alone[[f"elix_{k}" for k in ELIX_CODE]].to_numpy(),
                                  np.eye(len(ELIX_CODE), dtype=bool))
    # van Walraven 2009, table 3, one condition at a time
    vw = {"chf": 7, "carit": 5, "valv": -1, "pcd": 4, "pvd": 2, "hypunc": 0, "hypc": 0,
          "para": 7, "ond": 6, "cpd": 3, "diabunc": 0, "diabc": 0, "hypothy": 0, "rf": 5,
          "ld": 11, "pud": 0, "aids": 0, "lymph": 9, "metacanc": 12, "solidtum": 4,
          "rheumd": 0, "coag": 3, "obes": -4, "wloss": 6, "fed": 5, "blane": -2, "dane": -2,
          "alcohol": 0, "drug": -7, "psycho": 0, "depre": -3}
    assert alone["elix_score"].tolist() == [vw[k] for k in ELIX_CODE]
    # by hand: heart failure 7, metastatic 12 (the breast tumour is not counted beside it),
    # obesity -4, depression -3 -> 12; as a count: 4 conditions
    ev = events([(1, "2017-03-01", c) for c in ("I509", "C787", "C509", "E669", "F329")])
    p = persons(1)
    assert add_comorbidity(p, ev, index=ELIX, lookback_days=365)["elix_score"].iloc[0] == 12
    assert add_comorbidity(p, ev, index=ELIX, lookback_days=365,
                           weights="count")["elix_score"].iloc[0] == 4
    every = events([(1, "2017-01-01", c) for c in ELIX_CODE.values()])
    allf = add_comorbidity(p, every, index=ELIX, lookback_days=365)
    assert allf["elix_score"].iloc[0] == 89 - 19 - 4  # all but the solid tumour
