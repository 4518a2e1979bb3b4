"""Referral-day, vital-status, term-frequency and competing-probability parts of the
NPR↔KPR linkage, and one end-to-end run on a tiny synthetic delivery."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kprlink as kl
from kprlink.exceptions import LinkageError, SpecError
from kprlink.linkage._comparisons import EventWindowComparison, term_frequency_adjustment
from kprlink.linkage._fs_em import competing_probability
from kprlink.linkage.probabilistic import (
    EventDatesComparison,
    ExactComparison,
    LinkageSpec,
    NumericComparison,
    link_registers_probabilistic,
    person_profiles,
)


def test_event_dates_empty_right_counts_as_no_coincidence() -> None:
    a = pd.Series([[100, 200], [100], [], [300]])
    b = pd.Series([[], [100], [5], [299]])
    missing = EventDatesComparison("d", counts=(1,), min_days=0, max_days=0)
    none = EventDatesComparison("d", counts=(1,), min_days=0, max_days=0, empty_right="none")
    assert missing.levels(a, b).tolist() == [-1, 1, -1, 0]
    assert none.levels(a, b).tolist() == [0, 1, -1, 0]
    # a GP claim dated the Friday before a Sunday admission (-2 days) coincides
    gp = EventDatesComparison("d", counts=(1,), min_days=-2, max_days=0, empty_right="none")
    assert gp.levels(pd.Series([[300]]), pd.Series([[298]])).tolist() == [1]
    assert gp.levels(pd.Series([[300]]), pd.Series([[297, 301]])).tolist() == [0]
    assert none.levels(pd.Series([], dtype=object), pd.Series([], dtype=object)).size == 0


def test_event_dates_empty_right_validation() -> None:
    with pytest.raises(SpecError) as err:
        EventDatesComparison("d", empty_right="zero")
    assert len(err.value.problems) == 1


def test_term_frequency_weights_rare_values_higher() -> None:
    right = pd.DataFrame({"m": ["0301"] * 8 + ["1151", None]})
    comps = [ExactComparison("m", term_frequency=True), ExactComparison("x")]
    gamma = np.array([[1, 1], [1, 0], [0, 1], [-1, 1]], dtype=np.int8)
    u = [np.array([0.75, 0.25]), np.array([0.5, 0.5])]
    adj = term_frequency_adjustment(comps, right, np.array([0, 8, 0, 9]), gamma, u)
    # 0301 held by 8 of 9 non-missing: log2(0.25 / (8/9)); 1151 by 1 of 9: log2(0.25 * 9)
    assert adj[0] == pytest.approx(np.log2(0.25 * 9 / 8))
    assert adj[1] == pytest.approx(np.log2(0.25 * 9))
    assert adj[2] == 0 and adj[3] == 0
    off = term_frequency_adjustment([ExactComparison("m"), ExactComparison("x")], right,
                                    np.array([0, 8, 0, 9]), gamma, u)
    assert (off == 0).all()
    assert NumericComparison("y", term_frequency=True).term_frequency


def test_competing_probability_shares_evidence_between_candidates() -> None:
    w = np.full(4, np.log2(1e6))
    # left 0 has three equally good candidates, left 1 one
    p = competing_probability(np.array([0, 0, 0, 1]), np.array([0, 1, 2, 3]), w, 1e-4,
                              n_left=2, n_right=10)
    assert p[:3].sum() < 1 and np.allclose(p[:3], p[0])
    assert p[3] > 0.98 and p[0] < 0.34
    # a strong and a weak candidate: the strong one keeps nearly all probability
    q = competing_probability(np.array([0, 0]), np.array([0, 1]), np.log2([1e8, 1e2]), 1e-4,
                              n_left=1, n_right=10)
    assert q[0] > 0.99 and q[1] < 1e-5
    assert competing_probability(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0),
                                 0.1, n_left=0, n_right=0).size == 0


def test_person_profiles_vital_status_and_day_sets() -> None:
    ev = pd.DataFrame({"pid": [1, 1, 2, 3], "urgency": [1, 4, 4, 1],
                       "date": pd.to_datetime(["1970-01-03", "1970-01-05", "1970-01-02",
                                               None]),
                       "death_date": pd.to_datetime([None, "1971-01-01", None, None])})
    before = ev.copy()
    p = person_profiles(ev, id_col="pid", date_col="date",
                        day_sets={"acute_days": ev["urgency"] == 1})
    pd.testing.assert_frame_equal(ev, before)
    assert p["dead"].tolist() == [1, 0, 0]
    assert [list(x) for x in p["acute_days"]] == [[2], [], []]
    assert [list(x) for x in p["event_days"]] == [[2, 4], [1], []]
    no_death = person_profiles(ev.drop(columns="death_date"), id_col="pid", date_col="date")
    assert no_death["dead"].isna().all()
    with pytest.raises(LinkageError) as err:
        person_profiles(ev, id_col="pid", date_col="date",
                        day_sets={"acute_days": pd.Series([True])})
    assert len(err.value.problems) == 1


def test_spec_new_options_validated() -> None:
    with pytest.raises(SpecError) as err:
        LinkageSpec.person_profile(competition="yes", target_precision=1.5)
    assert len(err.value.problems) == 2
    s = LinkageSpec.person_profile(referral_days=True)
    assert {"acute_days", "dead"} <= s.required_columns
    assert {"out_of_hours_days", "gp_days"} <= s.required_right_columns
    assert "acute_days" not in LinkageSpec.person_profile().required_columns


@pytest.fixture(scope="module")
def tiny_delivery(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, pd.DataFrame]:
    root = tmp_path_factory.mktemp("synth") / "d"
    kl.generate_delivery(root, kl.SynthConfig(scale=0.002, seed=11, fmt="parquet"))
    d = kl.read_delivery(root)
    truth = pd.read_parquet(Path(root) / "truth" / "linkage_pairs.parquet")
    return d, truth


def test_end_to_end_synthetic_delivery(tiny_delivery: tuple[object, pd.DataFrame]) -> None:
    d, truth = tiny_delivery
    rng = np.random.default_rng(3)
    keyed = pd.unique(d.key["npr_id"].dropna())
    removed = rng.choice(keyed, int(round(0.05 * len(keyed))), replace=False)
    key = d.key[~d.key["npr_id"].isin(removed)]
    spec = LinkageSpec.person_profile(referral_days=True, referral_times=True, district=True,
                                      birth_month=True, referral_dates=True,
                                      discharge_dates=True, moves=True, competition=True,
                                      target_precision=0.99)
    res = link_registers_probabilistic(d.npr_episodes, d.kuhr_claims, key, spec=spec)
    model = res.links[res.links["source"] == "model"]
    npr = set(d.npr_episodes["npr_id"]); kpr = set(d.kuhr_claims["kpr_id"])
    target = truth[~truth["npr_id"].isin(key["npr_id"]) & truth["npr_id"].isin(npr)
                   & truth["kpr_id"].isin(kpr)]
    t = set(zip(target["npr_id"], target["kpr_id"]))
    found = set(zip(model["left_id"], model["right_id"]))
    tp = len(found & t)
    assert len(t) > 50
    # measured (scale 0.002, seed 11, threshold from the held-out batches with decoys):
    # precision 0.996, recall 0.835 (held-out 0.990 / 0.837); 0.996 / 0.845 without the
    # discharge and move comparisons (316 persons: 3 of them); before the GP follow-up
    # claims and moves in the synthetic delivery 0.993 / 0.889 (more GP claim days make
    # a referral coincidence weaker evidence); without birth month and referral dates
    # 0.984 / 0.576; floors with margin
    assert tp / len(found) >= 0.98
    assert tp / len(t) >= 0.8
    assert res.info["threshold_used"] >= spec.threshold
    assert res.validation.iloc[0]["precision"] >= 0.97
    # persons keyed to someone without KUHR claims are left out, and counted
    assert res.info["n_left_keyed_partner_absent"] > 0
    assert not model["left_id"].isin(key["npr_id"]).any()
    acute = res.model[res.model["comparison"] == "acute_out_of_hours_time"].set_index("level")
    # a legevakt claim 0-6 h before the admission is much stronger evidence than
    # one within the day before (about neutral: -0.1 bits), which is stronger than none
    assert acute.loc[2, "match_weight"] > acute.loc[1, "match_weight"] + 2 > 1
    assert acute.loc[0, "match_weight"] < acute.loc[1, "match_weight"]
    assert acute.loc[0, "match_weight"] < 0
    # the discharge comparison is in the model: a GP claim 0-3 days after a discharge
    # of a person with few GP claim days is evidence for the match
    dis = res.model[res.model["comparison"] == "discharge_gp"].set_index("level")
    assert dis.loc[2 * 4 + 3, "match_weight"] > 0 > dis.loc[0 * 4 + 3, "match_weight"]
    district = res.model[res.model["comparison"] == "district"].set_index("level")
    assert district.loc[1, "match_weight"] > 3 and district.loc[0, "match_weight"] < -3
    month = res.model[res.model["comparison"] == "birth_month"].set_index("level")
    assert month.loc[0, "match_weight"] < -5 < 0 < month.loc[1, "match_weight"] < month.loc[
        2, "match_weight"] < month.loc[3, "match_weight"]
    ref = res.model[res.model["comparison"] == "referral_gp"].set_index("label")[
        "match_weight"]
    # a referral received 0-3 days after a GP claim is evidence, the more so the
    # fewer GP claims the KPR person has; no such claim at all is evidence against
    # (levels also split by a claim the day of receipt and by the number of referrals)
    one = ">=1 coincide, one in [0, 0], left events <2"
    assert ref[f"{one}, right events <5"] > ref[f"{one}, right events >=40"] + 1
    assert ref[">=2 coincide, left events 2-3, right events 15-39"] > \
        ref[">=1 coincide, left events 2-3, right events 15-39"]
    assert ref["none coincide, left events <2, right events 5-14"] < 0
    # one coincidence of one referral is stronger evidence than one of four or more
    assert ref[f"{one}, right events 5-14"] > \
        ref[">=1 coincide, one in [0, 0], left events >=4, right events 5-14"]
    # the same run without birth month and referral dates finds far fewer, and
    # comparing legevakt claims by day only, without district, fewer again
    fewer = []
    for kw in ({"referral_times": True, "district": True}, {}):
        other = link_registers_probabilistic(d.npr_episodes, d.kuhr_claims, key,
                                             spec=LinkageSpec.person_profile(
                                                 referral_days=True, competition=True,
                                                 target_precision=0.99, **kw))
        m2 = other.links[other.links["source"] == "model"]
        fewer.append(len(set(zip(m2["left_id"], m2["right_id"])) & t))
    assert tp > fewer[0] + 0.2 * len(t) and fewer[0] > fewer[1]


def test_event_window_levels_are_the_tightest_window_hit() -> None:
    c = EventWindowComparison("adm", right_column="lv", windows=((-1440, 60), (-360, 0)))
    adm = pd.Series([[10_000], [10_000], [10_000], [10_000], [], [10_000, 20_000]])
    lv = pd.Series([[9_700], [9_000], [10_061], [], [1], [9_000, 19_990]])
    # 300 min before: tight; 1000 before: broad; 61 after: none; no claims: none;
    # no admissions: missing; two admissions, the second hit tightly
    assert c.levels(adm, lv).tolist() == [2, 1, 0, 0, -1, 2]
    missing = EventWindowComparison("adm", windows=((0, 0),), empty_right="missing")
    assert missing.levels(pd.Series([[5], [5]]), pd.Series([[], [5]])).tolist() == [-1, 1]
    assert c.levels(pd.Series([], dtype=object), pd.Series([], dtype=object)).size == 0


@pytest.mark.parametrize("kw, n_problems", [
    ({"windows": ()}, 1),
    ({"windows": ((5, 1),)}, 1),
    ({"windows": ((-60, 0), (-120, 0))}, 1),   # second not inside the first
    ({"windows": ((0.5, 1),), "empty_right": "zero"}, 2),
])
def test_event_window_validation(kw: dict, n_problems: int) -> None:
    with pytest.raises(SpecError) as err:
        EventWindowComparison("adm", **kw)
    assert len(err.value.problems) == n_problems


def test_person_profiles_minutes_and_district() -> None:
    ev = pd.DataFrame({"pid": [1, 1, 2, 3], "lv": [True, True, True, False],
                       "date": pd.to_datetime(["1970-01-02", "1970-01-03", "1970-01-02",
                                               "1970-01-02"]),
                       "time": pd.array(["00:30", "bad", "23:59", "12:00"], dtype="string"),
                       "district": pd.array(["030101", "030101", None, "030102"],
                                            dtype="string")})
    before = ev.copy()
    p = person_profiles(ev, id_col="pid", date_col="date", time_col="time",
                        minute_sets={"lv_minutes": ev["lv"]})
    pd.testing.assert_frame_equal(ev, before)
    # the unreadable time is left out, not guessed
    assert [list(x) for x in p["lv_minutes"]] == [[1440 + 30], [1440 + 1439], []]
    assert p["district"].tolist()[0] == "030101" and pd.isna(p["district"].iloc[1])
    no_time = person_profiles(ev, id_col="pid", date_col="date",
                              minute_sets={"lv_minutes": ev["lv"]})
    assert all(len(x) == 0 for x in no_time["lv_minutes"])
    assert person_profiles(ev.drop(columns="district"), id_col="pid",
                           date_col="date")["district"].isna().all()
    with pytest.raises(LinkageError) as err:
        person_profiles(ev, id_col="pid", date_col="date", time_col="time",
                        minute_sets={"lv_minutes": pd.Series([True])})
    assert len(err.value.problems) == 1


def test_district_agreement_only_counts_where_both_have_one() -> None:
    c = ExactComparison("district")
    a = pd.Series(["030101", "030101", None, None], dtype="string")
    b = pd.Series(["030101", "030102", "030101", None], dtype="string")
    assert c.levels(a, b).tolist() == [1, 0, -1, -1]
    s = LinkageSpec.person_profile(referral_days=True, referral_times=True, district=True)
    assert {"acute_minutes", "district"} <= s.required_columns
    assert {"out_of_hours_minutes", "gp_days"} <= s.required_right_columns
    assert "out_of_hours_days" not in s.required_right_columns


def test_partner_share_counts_each_left_record_once() -> None:
    from kprlink.linkage._fs_em import fit_partner_share
    # 6 left records: 3 with one strong candidate, 1 with two strong ones,
    # 2 with only a weak candidate (evidence against)
    pl = np.array([0, 1, 2, 3, 3, 4, 5])
    w = np.array([30.0, 30, 30, 30, 30, -20, -20])
    rho, n_iter = fit_partner_share(pl, w, n_left=6, n_right=1000)
    assert rho == pytest.approx(4 / 6, abs=1e-3) and n_iter > 1
    assert fit_partner_share(pl[:0], w[:0], n_left=0, n_right=10) == (0.0, 0)


def test_joint_frequency_replaces_the_product_of_single_frequencies() -> None:
    right = pd.DataFrame({"by": [1950, 1950, 1950, 1960], "sex": [1, 1, 2, 1],
                          "m": ["a", "a", "a", "b"]}, index=[10, 11, 12, 13])
    comps = [NumericComparison("by", term_frequency=True), ExactComparison("sex"),
             ExactComparison("m", term_frequency=True)]
    gamma = np.array([[2, 1, 1], [2, 1, 1], [2, 1, 1], [2, 1, 1], [1, 1, 1]], dtype=np.int8)
    u = [np.array([0.9, 0.05, 0.05]), np.array([0.5, 0.5]), np.array([0.8, 0.2])]
    pos = np.array([0, 1, 2, 3, 0])
    adj = term_frequency_adjustment(comps, right, pos, gamma, u, joint=("by", "sex", "m"))
    # (1950, 1, a) is held by 2 of 4 right records, (1950, 2, a) and (1960, 1, b) by 1
    top_u = 0.05 * 0.5 * 0.2
    assert adj[:4] == pytest.approx(np.log2(top_u / np.array([0.5, 0.5, 0.25, 0.25])))
    # not agreeing on all three: only the single term frequency of m applies
    assert adj[4] == pytest.approx(np.log2(0.2 / 0.75))
    with pytest.raises(SpecError) as err:
        LinkageSpec(comparisons=comps, blocking=["by"], joint_frequency=("by", "nope"))
    assert len(err.value.problems) == 1


def test_term_frequency_corrections_of_two_comparisons_add_up() -> None:
    right = pd.DataFrame({"by": [1950, 1950, 1960, 1970], "m": ["a", "b", "b", "b"]})
    comps = [NumericComparison("by", term_frequency=True),
             ExactComparison("m", term_frequency=True)]
    gamma = np.array([[2, 1]], dtype=np.int8)
    u = [np.array([0.8, 0.1, 0.1]), np.array([0.6, 0.4])]
    adj = term_frequency_adjustment(comps, right, np.array([0]), gamma, u)
    # 1950 held by 2 of 4, "a" by 1 of 4: both corrections, not only the last
    assert adj[0] == pytest.approx(np.log2(0.1 / 0.5) + np.log2(0.4 / 0.25))
