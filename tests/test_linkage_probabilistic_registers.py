"""Tests for the NPR↔KPR probabilistic linkage of persons missing from the key."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kprlink.exceptions import LinkageError, MissingColumnsError
from kprlink.linkage._registers import register_spec
from kprlink.linkage.probabilistic import (
    LinkageSpec,
    link_registers_probabilistic,
    person_profiles,
)

START = pd.Timestamp("2016-07-01")


def make_registers(n: int = 3000, *, seed: int = 0, p_unkeyed: float = 0.05
                   ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """KUHR claims, NPR episodes, key (with `p_unkeyed` removed) and truth."""
    rng = np.random.default_rng(seed)
    by = rng.integers(1925, 2015, n)
    sex = rng.integers(1, 3, n)
    muni = rng.choice([f"{k:04d}" for k in range(1101, 1161)], n)  # 60 municipalities
    death = pd.Series(START + pd.to_timedelta(rng.integers(30, 365, n), unit="D"))
    death[rng.random(n) > 0.05] = pd.NaT
    kpr_id = 100_000 + rng.permutation(n)
    npr_id = 900_000 + rng.permutation(n)
    in_kpr = rng.random(n) < 0.97
    in_npr = rng.random(n) < 0.6
    n_claims = rng.poisson(5, n) + 1
    person = np.repeat(np.arange(n), n_claims)
    day = rng.integers(0, 360, len(person))
    first_claim = np.cumsum(n_claims) - n_claims
    keep = in_kpr[person]
    claims = pd.DataFrame({"kpr_id": kpr_id[person], "date": START + pd.to_timedelta(
        day, unit="D"), "birth_year": by[person], "sex": sex[person],
        "municipality": muni[person], "death_date": death.to_numpy()[person]})[keep]
    n_adm = np.where(in_npr, rng.integers(1, 4, n), 0)
    ep = np.repeat(np.arange(n), n_adm)
    # 80 % of admissions follow one of the person's claims (an out-of-hours
    # visit) by 0-1 day; the rest fall on any day
    follows = rng.random(len(ep)) < 0.8
    claim_day = day[first_claim[ep] + rng.integers(0, n_claims[ep])]
    adm = np.where(follows, claim_day + rng.integers(0, 2, len(ep)),
                   rng.integers(0, 360, len(ep)))
    moved = rng.random(n) < 0.05  # NPR has another municipality for movers
    episodes = pd.DataFrame({"npr_id": npr_id[ep], "date_in": START + pd.to_timedelta(
        adm, unit="D"), "birth_year": by[ep], "sex": sex[ep],
        "municipality": np.where(moved, "0399", muni)[ep], "death_date": death.to_numpy()[ep]})
    both = in_kpr & in_npr
    truth = pd.DataFrame({"left_id": npr_id[both], "right_id": kpr_id[both]})
    keyed = rng.random(len(truth)) >= p_unkeyed
    key = pd.DataFrame({"npr_id": truth["left_id"][keyed], "kpr_id": truth["right_id"][keyed],
                        "delivery": "2018"})
    return (claims.reset_index(drop=True), episodes, key.reset_index(drop=True), truth)


def test_person_profiles_modal_values_and_event_days() -> None:
    ev = pd.DataFrame({"pid": [1, 1, 1, 2], "sex": [2, 2, 1, 1],
                       "municipality": ["0301", "0301", "4601", None],
                       "date": pd.to_datetime(["2016-07-02", "2016-07-02", "2016-07-09", None]),
                       "death_date": pd.to_datetime([None, "2017-01-01", None, None])})
    before = ev.copy()
    p = person_profiles(ev, id_col="pid", date_col="date")
    pd.testing.assert_frame_equal(ev, before)
    assert p.loc[1, "sex"] == 2 and p.loc[1, "municipality"] == "0301"
    assert pd.isna(p.loc[2, "municipality"])
    assert p.loc[1, "death_date"] == pd.Timestamp("2017-01-01")
    d0 = (pd.Timestamp("2016-07-02") - pd.Timestamp("1970-01-01")).days
    assert list(p.loc[1, "event_days"]) == [d0, d0 + 7]
    assert list(p.loc[2, "event_days"]) == []
    assert p["n_events"].tolist() == [3, 1]
    assert p["birth_year"].isna().all()  # column absent: neutral


def test_person_profiles_missing_columns_and_empty() -> None:
    with pytest.raises(MissingColumnsError) as err:
        person_profiles(pd.DataFrame({"pid": [1]}), id_col="pid", date_col="date")
    assert err.value.missing == ["date"]
    empty = person_profiles(pd.DataFrame({"pid": [], "date": pd.to_datetime([])}),
                            id_col="pid", date_col="date")
    assert len(empty) == 0


def test_recovers_unkeyed_persons_with_target_precision_and_recall() -> None:
    claims, episodes, key, truth = make_registers()
    before = (claims.copy(), episodes.copy(), key.copy())
    res = link_registers_probabilistic(episodes, claims, key,
                                       spec=register_spec(target_precision=0.99))
    for a, b in zip(before, (claims, episodes, key)):
        pd.testing.assert_frame_equal(a, b)
    ev = res.evaluate(truth).set_index("links")
    n_unkeyed = len(truth) - len(key)
    assert ev.loc["model", "n_true"] == n_unkeyed
    # issue target: precision >= 0.99 at recall >= 0.95. This small generator
    # (1-3 admissions per person, 5 % movers, ~86 unkeyed persons) gives
    # precision ~1.0 and recall ~0.88; see docs/methods/probabilistic_linkage.md.
    # (At the default threshold 0.5 the calibrated probabilities let through the
    # coin flips they say they are: 4 of 83 links at p 0.51-0.60 are wrong.)
    assert ev.loc["model", "precision"] >= 0.99
    assert res.info["threshold_used"] >= res.info["threshold_held_out"]
    assert ev.loc["model", "recall"] >= 0.85
    assert res.n_key == len(key)
    assert res.validation.iloc[0]["precision"] >= 0.99
    assert res.validation.iloc[0]["recall"] >= 0.85
    s = res.summary().set_index("metric")["value"]
    assert s["n_links_key"] + s["n_links_model"] == s["n_links"]
    assert s["n_key_superseded"] == 0 and s["n_key_not_in_registers"] == 0
    # event coincidences carry evidence: the top level is far likelier among matches
    ev_model = res.model[res.model["comparison"] == "event_days"].set_index("level")
    assert ev_model.loc[3, "match_weight"] > 3


def test_latest_delivery_wins_and_superseded_pairs_are_counted() -> None:
    claims, episodes, key, truth = make_registers(800, seed=1)
    first = key.iloc[0]
    old = pd.DataFrame({"npr_id": [first["npr_id"]], "kpr_id": [key["kpr_id"].iloc[1]],
                        "delivery": ["2017"]})
    res = link_registers_probabilistic(episodes, claims, pd.concat([old, key]))
    assert res.info["n_key_superseded"] == 1
    keyed = res.links[res.links["source"] == "key"]
    assert (keyed.loc[keyed["left_id"] == first["npr_id"], "right_id"]
            == first["kpr_id"]).all()


def test_register_linkage_errors() -> None:
    claims, episodes, key, _ = make_registers(200, seed=2)
    with pytest.raises(MissingColumnsError) as err:
        link_registers_probabilistic(episodes, claims, key.drop(columns="kpr_id"))
    assert err.value.missing == ["kpr_id"]
    with pytest.raises(LinkageError) as lerr:
        link_registers_probabilistic(episodes, claims, key.assign(kpr_id=-1))
    assert len(lerr.value.problems) == 1


def test_narrow_blocking_spec_has_no_broad_rule() -> None:
    assert ("birth_year", "sex") not in LinkageSpec.person_profile(broad_blocking=False).blocking
    assert ("birth_year", "sex") in LinkageSpec.person_profile().blocking
