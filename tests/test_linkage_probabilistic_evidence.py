"""Birth month (NPR fodt_mnd against the KUHR age interval), referral receipt against
GP claims, the shared empty_right check, and the held-out validation with decoys."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import kprlink as kl
from kprlink.exceptions import SpecError
from kprlink.linkage._birth_month import birth_month_interval
from kprlink.linkage._holdout import threshold_for_precision
from kprlink.linkage.probabilistic import (
    BirthMonthComparison,
    EventDatesComparison,
    EventWindowComparison,
    LinkageSpec,
    link_probabilistic,
    person_profiles,
)


def _interval(rows: list[tuple[int, str, float | None, float | None]]) -> list[list[float]]:
    ids, dates, age, by = zip(*rows)
    out = birth_month_interval(pd.Series(ids), pd.Series(pd.to_datetime(list(dates))),
                               pd.Series(age, dtype="Float64"), pd.Series(by, dtype="Float64"),
                               pd.Index(sorted(set(ids))))
    return out.astype("float").values.tolist()


def test_interval_january_birthday() -> None:
    # born January 1960: every claim after mid-January has the new age
    got = _interval([(1, "2016-08-10", 56, 1960), (1, "2017-01-05", 56, 1960),
                     (1, "2017-01-30", 57, 1960), (1, "2017-06-01", 57, 1960)])
    assert got == [[1.0, 1.0]]
    # claims only after the birthday: the lower bound stays January
    assert _interval([(1, "2017-03-01", 57, 1960)]) == [[1.0, 3.0]]


def test_interval_december_birthday() -> None:
    # born December: all 2017 claims before it have the old age
    got = _interval([(1, "2016-11-20", 55, 1960), (1, "2017-02-01", 56, 1960),
                     (1, "2017-11-02", 56, 1960)])
    assert got == [[11.0, 12.0]]
    # a claim on 24 December with the new age: birthday in December
    assert _interval([(1, "2017-12-20", 56, 1960), (1, "2017-12-24", 57, 1960)]) == [
        [12.0, 12.0]]


def test_interval_without_a_claim_across_the_birthday() -> None:
    # all claims before the birthday: only the lower bound
    assert _interval([(1, "2017-04-10", 40, 1976), (1, "2017-06-30", 40, 1976)]) == [
        [6.0, 12.0]]


def test_interval_ignores_inconsistent_ages_and_drops_contradictions() -> None:
    # age 50 fits neither 2017 - 1960 = 57 nor 56: that claim is ignored
    assert _interval([(1, "2017-03-01", 50, 1960), (1, "2017-05-01", 57, 1960)]) == [
        [1.0, 5.0]]
    # birthday passed in February but still ahead in September: contradiction, missing
    got = _interval([(1, "2017-02-01", 57, 1960), (1, "2017-09-01", 56, 1960),
                     (2, "2017-09-01", None, 1960), (3, "2017-09-01", 56, None)])
    assert all(np.isnan(v) for row in got for v in row)


def test_birth_month_comparison_levels_and_missing() -> None:
    c = BirthMonthComparison("birth_month", widths=(1, 3))
    month = pd.Series([5, 5, 5, 5, 5, None, 5, 5], dtype="Int8")
    lo = pd.Series([5, 4, 2, 6, None, 5, 1, 3], dtype="Int8")
    hi = pd.Series([5, 6, 9, 8, None, 5, 12, 3], dtype="Int8")
    # agree (1 month), within 3, within a wider interval, outside; missing month or
    # interval, and an interval of all twelve months, are neutral (never disagreement)
    assert c.levels(month, lo, hi).tolist() == [3, 2, 1, 0, -1, -1, -1, 0]
    assert len(c.level_labels()) == 4
    assert c.right == "birth_month_lo" and c.right_hi_column == "birth_month_hi"
    s = LinkageSpec(comparisons=[c], blocking=["sex"])
    assert {"birth_month_lo", "birth_month_hi", "sex"} == s.required_right_columns


@pytest.mark.parametrize("kw, n_problems", [
    ({"widths": ()}, 1),
    ({"widths": (3, 1)}, 1),
    ({"widths": (0, 12)}, 2),
    ({"widths": (1.5,), "right_hi_column": ""}, 2),
])
def test_birth_month_comparison_validation(kw: dict, n_problems: int) -> None:
    with pytest.raises(SpecError) as err:
        BirthMonthComparison("birth_month", **kw)
    assert len(err.value.problems) == n_problems


def test_empty_right_is_checked_once_for_every_event_comparison() -> None:
    for cls in (EventDatesComparison, EventWindowComparison):
        with pytest.raises(SpecError) as err:
            cls("d", empty_right="zero")
        assert len(err.value.problems) == 1
        assert err.value.problems[0].startswith(cls.__name__)


def test_event_dates_outer_window_level() -> None:
    c = EventDatesComparison("ref", right_column="gp", counts=(1, 2), min_days=-3,
                             max_days=0, outer=(-14, 0), empty_right="none")
    assert c.level_labels() == ["none coincide", "only in [-14, 0]", ">=1 coincide",
                                ">=2 coincide"]
    ref = pd.Series([[100, 200], [100], [100], [100], []])
    gp = pd.Series([[99, 197], [99, 90], [90], [], [99]])
    assert c.levels(ref, gp).tolist() == [3, 2, 1, 0, -1]
    with pytest.raises(SpecError) as err:
        EventDatesComparison("ref", min_days=-3, max_days=0, outer=(-2, 0))
    assert len(err.value.problems) == 1


def test_event_dates_inner_window_splits_each_count_level() -> None:
    c = EventDatesComparison("ref", right_column="gp", counts=(1, 2), min_days=-3,
                             max_days=0, outer=(-14, 0), inner=(0, 0), empty_right="none")
    assert c.level_labels() == ["none coincide", "only in [-14, 0]", ">=1 coincide",
                                ">=1 coincide, one in [0, 0]", ">=2 coincide",
                                ">=2 coincide, one in [0, 0]"]
    ref = pd.Series([[100, 200], [100, 200], [100], [100], [100], []])
    gp = pd.Series([[100, 197], [99, 197], [100], [99], [90], [99]])
    assert c.levels(ref, gp).tolist() == [5, 4, 3, 2, 1, -1]
    # round-trips through the spec's JSON form
    spec = LinkageSpec(comparisons=[c], blocking=[("x",)])
    assert LinkageSpec.from_dict(spec.to_dict()) == spec
    for bad in ((-5, 0), (0,), (1, 0)):
        with pytest.raises(SpecError):
            EventDatesComparison("ref", min_days=-3, max_days=0, inner=bad)


def test_event_dates_levels_split_by_left_density() -> None:
    c = EventDatesComparison("ref", right_column="gp", counts=(1,), min_days=-3, max_days=0,
                             left_density=(2, 4), right_density=(5,), empty_right="none")
    assert len(c.level_labels()) == 2 * 3 * 2
    ref = pd.Series([[100], [100, 200], [100, 200, 300, 400], [100]])
    gp = pd.Series([[99], [99], [99], [10, 20, 30, 40, 99]])
    # (count level x 3 + left class) x 2 + right class (sparse last)
    assert c.levels(ref, gp).tolist() == [(1 * 3 + 0) * 2 + 1, (1 * 3 + 1) * 2 + 1,
                                          (1 * 3 + 2) * 2 + 1, (1 * 3 + 0) * 2 + 0]
    with pytest.raises(SpecError):
        EventDatesComparison("ref", left_density=(1,))


def test_event_dates_levels_split_by_right_density() -> None:
    c = EventDatesComparison("ref", right_column="gp", counts=(1,), min_days=-3,
                             max_days=0, empty_right="none", right_density=(2, 4))
    labels = c.level_labels()
    assert labels[0] == "none coincide, right events >=4"
    assert labels[-1] == ">=1 coincide, right events <2" and len(labels) == 6
    ref = pd.Series([[100]] * 5 + [[]])
    gp = pd.Series([[99], [1, 99], [1, 2, 3, 99], [1, 2, 3, 4], [], [5]])
    # sparse hit, middle hit, dense hit, dense none, no claims (none, sparsest), missing
    assert c.levels(ref, gp).tolist() == [5, 4, 3, 0, 2, -1]
    with pytest.raises(SpecError) as err:
        EventDatesComparison("ref", right_density=(4, 2))
    assert len(err.value.problems) == 1


def test_person_profiles_birth_month_interval_and_referral_dates() -> None:
    claims = pd.DataFrame({"pid": [1, 1, 2], "age": [56, 57, 30],
                           "birth_year": [1960, 1960, 1987],
                           "date": pd.to_datetime(["2017-03-01", "2017-05-01", "2017-05-01"])})
    before = claims.copy()
    p = person_profiles(claims, id_col="pid", date_col="date", age_col="age")
    pd.testing.assert_frame_equal(claims, before)
    assert p[["birth_month_lo", "birth_month_hi"]].astype("float").values.tolist() == [
        [3.0, 5.0], [1.0, 5.0]]
    assert p["birth_month"].isna().all()
    episodes = pd.DataFrame({"pid": [7, 7, 8], "birth_month": [4, 4, None],
                             "date": pd.to_datetime(["2017-01-10", "2017-02-10",
                                                     "2017-01-10"]),
                             "received": pd.to_datetime(["1970-01-02", "1970-01-02", None])})
    q = person_profiles(episodes, id_col="pid", date_col="date",
                        date_sets={"referral_days": "received", "other": "absent"})
    assert q["birth_month"].tolist()[0] == 4 and pd.isna(q["birth_month"].iloc[1])
    assert [list(x) for x in q["referral_days"]] == [[1], []]
    assert all(len(x) == 0 for x in q["other"])
    assert q["birth_month_lo"].isna().all()


def test_register_spec_has_birth_month_and_referral_dates() -> None:
    s = LinkageSpec.person_profile(birth_month=True, referral_dates=True)
    assert {"birth_month", "referral_days"} <= s.required_columns
    assert {"birth_month_lo", "birth_month_hi", "gp_days"} <= s.required_right_columns
    assert "birth_month" not in LinkageSpec.person_profile().required_columns


def test_threshold_for_precision() -> None:
    spec = LinkageSpec.person_profile(target_precision=0.99)
    prob = np.array([0.99, 0.95, 0.95, 0.9, 0.8])
    ok = np.array([True, True, True, False, True])
    assert threshold_for_precision(prob, ok, spec) == 0.95
    assert threshold_for_precision(prob[:0], ok[:0], spec) == spec.threshold
    assert threshold_for_precision(prob[3:4], ok[3:4], spec) == 1.0


def _population(n: int, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame({"by": rng.integers(1940, 1945, n), "sex": rng.integers(1, 3, n),
                         "m": rng.integers(0, 3, n)})


def test_held_out_validation_includes_unkeyed_right_records_as_decoys() -> None:
    rng = np.random.default_rng(4)
    # 400 persons in both files (300 keyed, 100 not), 1,600 right persons without a
    # partner: few quasi-identifier values, so the decoys are real competitors
    people = _population(500, rng)
    left = people.iloc[:400].reset_index(drop=True)
    right = pd.concat([people.iloc[:400], _population(1600, rng)], ignore_index=True)
    labels = pd.DataFrame({"left_id": np.arange(300), "right_id": np.arange(300)})
    spec = LinkageSpec(comparisons=[kl.NumericComparison("by", distances=(0,)),
                                    kl.ExactComparison("sex"), kl.ExactComparison("m")],
                       blocking=[("by", "sex")], competition=True, one_to_one=True,
                       n_random_pairs=2000, target_precision=0.9)
    res = link_probabilistic(left, right, spec, labels=labels, validation_fraction=0.5)
    v = res.validation.iloc[0]
    assert v["n_decoys"] == 1700 and v["n_batches"] == 2
    assert v["n_validation_labels"] == 150
    # thirty look-alike candidates per person: the held-out persons are found about
    # as rarely as the unkeyed ones would be, not as if alone with their partners
    assert v["recall"] < 0.3


def test_event_window_levels_count_the_coinciding_events() -> None:
    c = EventWindowComparison("adm", right_column="lv", windows=((-1440, 60), (-360, 0)),
                              counts=(1, 2, 3))
    assert c.level_labels() == ["none", "in [-1440, 60]", "in [-360, 0]",
                                "in [-360, 0] x>=2", "in [-360, 0] x>=3"]
    adm = pd.Series([[5000, 9000, 20000]] * 4 + [[5000]])
    lv = pd.Series([[4900, 8900, 19900], [4900, 8900], [4900], [4000], []])
    assert c.levels(adm, lv).tolist() == [4, 3, 2, 1, 0]
    # the default keeps one level per window
    assert EventWindowComparison("adm").level_labels() == ["none", "in [-1440, 60]",
                                                           "in [-360, 0]"]
    with pytest.raises(SpecError) as err:
        EventWindowComparison("adm", counts=(2, 3))
    assert len(err.value.problems) == 1


def test_register_spec_counts_acute_coincidences_and_has_discharge_follow_up() -> None:
    s = LinkageSpec.person_profile(referral_days=True, referral_times=True,
                                   discharge_dates=True)
    by_name = {c.name: c for c in s.comparisons}
    assert by_name["acute_gp"].counts == (1, 2, 3)
    assert by_name["acute_out_of_hours_time"].counts == (1, 2, 3)
    d = by_name["discharge_gp"]
    assert (d.column, d.right, d.min_days, d.max_days, d.outer) == (
        "discharge_days", "gp_days", 0, 3, (0, 14))
    assert d.right_density == (5, 15, 40)
    assert "discharge_days" not in LinkageSpec.person_profile().required_columns


@pytest.mark.filterwarnings("ignore::kprlink.exceptions.LinkageQualityWarning")
def test_register_profiles_carry_discharge_days_of_inpatient_stays() -> None:
    day = pd.Timestamp("2017-03-01")
    npr = pd.DataFrame({"npr_id": [1, 1, 2, 3], "date_in": [day] * 4,
                        "date_out": [day + pd.Timedelta(days=d) for d in (4, 0, 2, 6)],
                        "care_level": [1, 3, 1, 1], "birth_year": 1950, "sex": 1,
                        "municipality": "0301"})
    kpr = pd.DataFrame({"kpr_id": [11, 12, 13], "date": [day + pd.Timedelta(days=d)
                                                         for d in (5, 30, 7)],
                        "service_type": "Fastlege", "birth_year": 1950, "sex": 1,
                        "municipality": "0301"})
    key = pd.DataFrame({"npr_id": [1, 2], "kpr_id": [11, 12]})
    res = kl.link_registers_probabilistic(npr, kpr, key, validation_fraction=0.0)
    m = res.model[res.model["comparison"] == "discharge_gp"].set_index("level")
    assert len(m) == 1 + 5 * 4  # missing + (none, 4-14, 1, 2, 3) x 4 densities
    # keyed pair 1: stay discharged day 4, GP claim day 5 (0-3 days after, a person
    # with < 5 GP claim days: level 1 * 4 + 3); pair 2: day 2, claim day 30 (none)
    assert m.loc[2 * 4 + 3, "m"] > m.loc[2 * 4 + 0, "m"]
    assert m.loc[0 * 4 + 3, "m"] > m.loc[0 * 4 + 0, "m"]


def test_person_profiles_move_from_first_and_last_municipality() -> None:
    ev = pd.DataFrame({"pid": [1, 1, 1, 2, 2, 3],
                       "date": pd.to_datetime(["2017-05-01", "2017-01-01", "2017-03-01",
                                               "2017-01-01", "2017-02-01", "2017-01-01"]),
                       "municipality": ["5001", "0301", None, "0301", "0301", "1103"]})
    p = person_profiles(ev, id_col="pid", date_col="date")
    assert p["move"].tolist()[0] == "0301>5001"
    assert p["move"].isna().tolist() == [False, True, True]
    s = LinkageSpec.person_profile(moves=True)
    assert "move" in s.required_columns and ("birth_year", "move") in s.blocking
    assert "move" not in LinkageSpec.person_profile().required_columns
