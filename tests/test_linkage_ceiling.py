"""The exact evidence oracle (kprlink.linkage._ceiling) on a hand-built tiny example."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kprlink.linkage._ceiling import bayes_reach, level_strength, oracle_reach, two_sided_reach
from kprlink.linkage._comparisons import comparison_matrix
from kprlink.linkage.probabilistic import EventDatesComparison, ExactComparison


def _days(*d: int) -> np.ndarray:
    return np.array(d, dtype=np.int64)


def _example() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Three NPR persons, each with their partner and one decoy in their block.

    - A: partner and decoy both have a claim on A's contact day and the same
      district: identical evidence, a tie.
    - B: only the partner has a claim on B's day: reachable.
    - C: the decoy has a claim on C's day and the partner does not: dominated.
    Five more NPR persons (D-H) with a coinciding partner and a non-coinciding
    decoy make the level strengths clear.
    """
    n_extra = 5
    left = pd.DataFrame({
        "district": ["x", "y", "z"] + ["w"] * n_extra,
        "event_days": [_days(10), _days(20), _days(30)]
        + [_days(100 + 10 * k) for k in range(n_extra)]})
    right_rows = [("x", _days(10)), ("x", _days(10)),      # A's partner, A's decoy
                  ("y", _days(20)), ("y", _days(50)),      # B's partner, decoy
                  ("z", _days(90)), ("z", _days(30))]      # C's partner, C's decoy
    for k in range(n_extra):
        right_rows += [("w", _days(100 + 10 * k)), ("w", _days(500))]
    right = pd.DataFrame({"district": [r[0] for r in right_rows],
                          "event_days": [r[1] for r in right_rows]})
    pl = np.repeat(np.arange(len(left)), 2)
    pr = np.arange(len(right))
    comps = [ExactComparison("district"),
             EventDatesComparison("event_days", counts=(1,), min_days=0, max_days=0)]
    gamma = comparison_matrix(comps, left, right, pl, pr)
    is_true = np.tile([True, False], len(left))
    return pl, gamma, is_true, np.array([len(c.level_labels()) for c in comps])


def test_oracle_ties_dominance_and_reach() -> None:
    pl, gamma, is_true, n_levels = _example()
    strength = level_strength(gamma, is_true, n_levels)
    # a coinciding contact day is stronger evidence than none
    assert strength[2, 1] > strength[3, 1]
    r = oracle_reach(pl, strength, is_true)
    assert len(r) == 8
    a, b, c = r.iloc[0], r.iloc[1], r.iloc[2]
    assert (a["n_tied"], a["n_stronger"], a["reachable"], a["credit"]) == (1, 0, False, 0.5)
    assert (b["n_tied"], b["n_stronger"], b["reachable"], b["credit"]) == (0, 0, True, 1.0)
    assert (c["n_tied"], c["n_stronger"], c["reachable"], c["credit"]) == (0, 1, False, 0.0)
    assert r["reachable"].sum() == 6  # B and D-H
    # the other side: each KPR person has one NPR candidate, so no rival
    assert oracle_reach(np.arange(len(pl)), strength, is_true)["reachable"].all()


def test_bayes_reach_counts_a_tie_as_a_guess() -> None:
    pl, gamma, is_true, n_levels = _example()
    log_lr = level_strength(gamma, is_true, n_levels).sum(axis=1)
    n, post = bayes_reach(pl, log_lr, is_true, target_precision=0.85)
    # A's two candidates share one posterior; C's decoy beats C's partner
    assert np.isclose(post[0], post[1])
    assert post[2] > post[3] and post[5] > post[4]
    # B, C and D-H have one best posterior, so they are linked all or none: 6 true of 7
    assert n == 6.0 == bayes_reach(pl, log_lr, is_true, target_precision=0.85)[0]
    assert bayes_reach(pl, log_lr, is_true, target_precision=0.99)[0] == 0.0
    # at a lax target the guess for A (0.5) and C's false link are taken too
    n_lax, _ = bayes_reach(pl, log_lr, is_true, target_precision=0.5)
    assert n_lax == 6.5


def test_oracle_no_true_pairs() -> None:
    r = oracle_reach(np.array([0, 0]), np.zeros((2, 1)), np.array([False, False]))
    assert r.empty
    n, post = bayes_reach(np.zeros(0, np.int64), np.zeros(0), np.zeros(0, bool))
    assert n == 0.0 and len(post) == 0


def test_two_sided_reach_matches_one_sided_without_right_rivals() -> None:
    pl, gamma, is_true, n_levels = _example()
    log_lr = level_strength(gamma, is_true, n_levels).sum(axis=1)
    pr = np.arange(len(pl))  # every KPR record is a candidate of one NPR record only
    for target in (0.5, 0.85, 0.99):
        assert two_sided_reach(pl, pr, log_lr, is_true, target_precision=target)[0] == \
            bayes_reach(pl, log_lr, is_true, target_precision=target)[0]


def test_two_sided_reach_a_shared_right_record_links_once() -> None:
    # NPR 0 and 1 both have KPR 0 as their only, equally strong candidate: one of them
    # is its partner, so neither link reaches precision 0.99; NPR 2 is alone
    left, right = np.array([0, 1, 2]), np.array([0, 0, 1])
    log_lr = np.array([10.0, 10.0, 10.0])
    is_true = np.array([True, False, True])
    n, post = two_sided_reach(left, right, log_lr, is_true, target_precision=0.99)
    assert np.isclose(post[0], post[1]) and post[2] > post[0]
    assert n == 1.0
    assert bayes_reach(left, log_lr, is_true, target_precision=0.99)[0] < 2.0
