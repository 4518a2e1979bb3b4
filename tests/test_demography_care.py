"""IPLOS function groups, need level and the care staircase."""

from __future__ import annotations

import pandas as pd
import pytest

import kprlink as kl
from kprlink.sources.kpr_ho import FUNCTION_VARIABLES, SERVICE_CODES, SERVICE_SUBCODES


def test_groups_use_real_variables_and_codes():
    grouped = {v for vs in kl.FUNCTION_GROUPS.values() for v in vs}
    assert grouped <= set(FUNCTION_VARIABLES)
    assert set(FUNCTION_VARIABLES) - grouped == {"syn", "horsel"}
    stairs = kl.CareStaircase.default()
    assert {c for _, codes in stairs.steps for c in codes} <= set(SERVICE_CODES)
    assert set(kl.REGISTER_START) <= set(SERVICE_SUBCODES)


def _functions():
    d1, d2 = pd.Timestamp("2017-02-01"), pd.Timestamp("2018-02-01")
    rows = [
        (1, d1, "husarbeid", 2), (1, d1, "lage_mat", 4), (1, d1, "skaffe_varer", 9),
        (1, d2, "husarbeid", 5),  # after `at`: not used
        (1, d1, "personlig_hygiene", 1), (1, d1, "hukommelse", 4),
        (1, d1, "kommunikasjon", 3),
        (2, d1, "syn", 3), (2, d1, "spise", 9),
        (3, d2, "husarbeid", 3),  # first assessed after `at`
    ]
    return pd.DataFrame(rows, columns=["kpr_id", "assessment_date", "variable", "score"])


def test_function_groups_latest_before_date_and_9_excluded():
    f = _functions()
    before = f.copy()
    g = kl.iplos_function_groups(f, at="2017-12-31").set_index("kpr_id")
    pd.testing.assert_frame_equal(f, before)
    assert list(g.index) == [1, 2]
    assert g.loc[1, "household_functions"] == 3.0  # (2 + 4) / 2, the 9 left out
    assert g.loc[1, "cognitive_impairment"] == 3.5
    assert g.loc[1, "self_care"] == 1.0
    assert pd.isna(g.loc[1, "own_health"])
    assert g.loc[1, "n_scored"] == 5
    assert g.loc[2].drop(["n_scored", "assessment_date"]).isna().all()  # only syn / 9
    later = kl.iplos_function_groups(f, at="2018-06-30").set_index("kpr_id")
    assert later.loc[1, "household_functions"] == 4.5 and 3 in later.index


def test_function_groups_errors_and_empty():
    with pytest.raises(kl.SpecError) as err:
        kl.iplos_function_groups(_functions().assign(score=[0, 6, 6, 1, 1, 1, 1, 1, 1, 1]),
                                 at="2017-12-31")
    assert len(err.value.problems) == 2
    with pytest.raises(kl.MissingColumnsError) as err:
        kl.iplos_function_groups(_functions().drop(columns="score"), at="2017-12-31")
    assert err.value.missing == ["score"]
    assert len(kl.iplos_function_groups(_functions(), at="2000-01-01")) == 0


def test_need_level_thresholds_edges():
    g = pd.DataFrame({name: [1.0, 2.49, 2.5, 3.49, 3.5, None]
                      for name in kl.FUNCTION_GROUPS})
    out = kl.need_level(g)
    assert out["need_level"].cat.ordered
    assert out["need_level"].astype(str).tolist()[:5] == [
        "some/limited", "some/limited", "medium to large", "medium to large", "extensive"]
    assert pd.isna(out["need_level"].iloc[5])
    with pytest.raises(kl.SpecError):
        kl.NeedScoring(medium=4, extensive=3)
    with pytest.raises(kl.MissingColumnsError):
        kl.need_level(g[["self_care"]])


def _services():
    rows = [
        (1, 6, "06.01", "2016-01-01", None),
        (1, 15, None, "2017-03-01", "2017-12-31"),
        (2, 21, None, "2017-06-01", None),
        (2, 1, None, "2016-01-01", None),
        (3, 6, "06.03", "2017-06-01", None),  # digital supervision: in the register from 2019
        (4, 6, "06.04", "2019-02-01", None),
        (5, 15, None, "2016-01-01", "2017-06-01"),  # ended before the date
    ]
    df = pd.DataFrame(rows, columns=["kpr_id", "service_code", "service_subcode", "start_date",
                                     "end_date"])
    df["start_date"] = pd.to_datetime(df["start_date"])
    df["end_date"] = pd.to_datetime(df["end_date"])
    return df


def test_care_step_at():
    s = _services()
    before = s.copy()
    res = kl.care_step_at(s, "2017-06-30")
    pd.testing.assert_frame_equal(s, before)
    steps = res.steps.set_index("kpr_id")
    assert steps.loc[1, "care_step"] == "home health care"
    assert steps.loc[2, "care_step"] == "long-term stay" and steps.loc[2, "round_the_clock"]
    assert steps.loc[3, "care_step"] == "none"
    assert steps.loc[5, "care_step"] == "none"
    assert steps["care_step"].cat.ordered and len(steps) == 5
    assert res.excluded["kpr_id"].tolist() == [3]
    assert "1 service rows" in repr(res)
    assert res.summary()["n_persons"].sum() == 5
    later = kl.care_step_at(s, "2019-03-01")
    assert later.steps.set_index("kpr_id").loc[4, "care_step"] == "safety alarm"
    assert later.steps.set_index("kpr_id").loc[3, "care_step"] == "safety alarm"
    assert len(later.excluded) == 0


def test_care_step_round_the_clock_from_indicators():
    ind = pd.DataFrame({"kpr_id": [1, 1, 5], "date": pd.to_datetime(["2017-01-01", "2018-01-01",
                                                                       "2017-01-01"]),
                        "round_the_clock": pd.array([True, False, pd.NA], dtype="boolean")})
    steps = kl.care_step_at(_services(), "2017-06-30", indicators=ind).steps.set_index("kpr_id")
    assert steps.loc[1, "round_the_clock"] and not steps.loc[5, "round_the_clock"]
    with pytest.raises(kl.MissingColumnsError):
        kl.care_step_at(_services(), "2017-06-30", indicators=ind.drop(columns="date"))


def test_care_staircase_invalid_and_services_missing_column():
    with pytest.raises(kl.SpecError) as err:
        kl.CareStaircase((("a", (1, 2)), ("b", (2,)), ("a", (3,))))
    assert len(err.value.problems) == 2
    with pytest.raises(kl.MissingColumnsError) as err:
        kl.care_step_at(_services().drop(columns="end_date"), "2017-01-01")
    assert err.value.missing == ["end_date"]
