"""Validation on held-out keyed pairs, at the density of the unkeyed records.

The held-out keyed persons are linked by the model as if they had no key, and
the links are scored against their key. Linking them *among themselves only*
(every right record the partner of some left record) overstates precision:
the unkeyed records compete with many right records without a partner (KPR
persons who never had a hospital episode). So the held-out left records are
linked in batches as large as the unkeyed left set, each against their own
partners *plus every unkeyed right record* (decoys: a keyed left record's
partner is its key partner, so these are non-matches for it), with the partner
share fitted on the unkeyed run. A batch then has about the candidate density,
competition and prior of the unkeyed problem. Only the key decides what is a
true link; nothing about the unkeyed records' partners is used.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kprlink.linkage._calibration import calibrate_halves, cross_fitted_precision
from kprlink.linkage._result import _score
from kprlink.linkage._scoring import _Scored
from kprlink.linkage._spec import LinkageSpec

#: At most this many batches are linked (each costs about one unkeyed run).
MAX_BATCHES = 10


def validate_held_out(spec: LinkageSpec, left: pd.DataFrame, right: pd.DataFrame,
                      m: list[np.ndarray], u: list[np.ndarray], hold_l: np.ndarray,
                      hold_r: np.ndarray, decoys: np.ndarray, *, n_batch: int,
                      partner_share: float | None, lid: pd.Series, rid: pd.Series,
                      rng: np.random.Generator) -> tuple[pd.DataFrame, float]:
    """Link held-out pairs in decoy batches; validation table and chosen threshold.

    Parameters
    ----------
    hold_l, hold_r : numpy.ndarray
        Row positions of the held-out key pairs in `left` and `right`.
    decoys : numpy.ndarray
        Row positions of the right records without a key (added to every batch).
    n_batch : int
        Held-out left records per batch (the number of unkeyed left records);
        below 1, or without decoys, one batch holds all held-out pairs.

    Returns
    -------
    (pandas.DataFrame, float, pandas.DataFrame)
        One row: ``n_links``, ``n_true``, ``tp``, ``fp``, ``fn``, ``precision``,
        ``recall``, ``f1`` at the threshold, ``n_validation_labels``,
        ``n_batches``, ``n_decoys``, ``threshold``, the two-fold
        ``precision_other_half`` / ``recall_other_half`` (threshold chosen on
        one half of the held-out persons, measured on the other) and the
        calibration figures (``ece_raw``, ``ece_calibrated``, ``calibration_a``,
        ``calibration_b``, see :mod:`kprlink.linkage._calibration`); the
        threshold (the lowest probability whose pooled held-out precision
        reaches ``spec.target_precision``; ``spec.threshold`` without a
        target); and the reliability table of the measuring half.
    """
    order = rng.permutation(len(hold_l))
    size = len(order) if n_batch < 1 or len(decoys) == 0 else n_batch
    n_batches = min(int(np.ceil(len(order) / max(size, 1))), MAX_BATCHES)
    if len(decoys) == 0:
        decoys = np.empty(0, np.int64)
    probs, pairs, used, halves = [], [], [], []
    cand_p, cand_ok, cand_half = [], [], []
    for b in range(n_batches):
        sel = order[b * size:(b + 1) * size]
        bl, br = hold_l[sel], np.concatenate([hold_r[sel], decoys])
        sc = _Scored(spec, left.iloc[bl], right.iloc[br], m, u, partner_share=partner_share)
        idx, _ = sc.accepted(spec)
        probs.append(sc.prob[idx])
        pairs.append(pd.DataFrame({"left_id": lid.to_numpy()[bl[sc.pl[idx]]],
                                   "right_id": rid.to_numpy()[br[sc.pr[idx]]]}))
        used.append(sel)
        # held-out left record i's partner is right record i of the batch; its half is
        # the parity of its place in the (random) order
        halves.append((b * size + sc.pl[idx]) % 2)
        cand_p.append(sc.prob)
        cand_ok.append(sc.pl == sc.pr)
        cand_half.append((b * size + sc.pl) % 2)
    sel = np.concatenate(used) if used else np.empty(0, np.int64)
    truth = pd.DataFrame({"left_id": lid.to_numpy()[hold_l[sel]],
                          "right_id": rid.to_numpy()[hold_r[sel]]})
    prob = np.concatenate(probs) if probs else np.empty(0)
    found = pd.concat(pairs, ignore_index=True) if pairs else truth.iloc[:0]
    ok = pd.MultiIndex.from_frame(found).isin(pd.MultiIndex.from_frame(truth))
    threshold = spec.threshold
    if spec.target_precision is not None:
        threshold = threshold_for_precision(prob, ok, spec)
    keep = prob >= threshold
    row = {**_score(found[keep], truth), "n_validation_labels": len(truth),
           "n_batches": n_batches, "n_decoys": len(decoys), "threshold": threshold}
    half = np.concatenate(halves) if halves else np.zeros(0, np.int64)
    n_true = (int((np.arange(len(sel)) % 2 == 0).sum()), int((np.arange(len(sel)) % 2).sum()))

    def choose(p: np.ndarray, o: np.ndarray) -> float:
        return (threshold_for_precision(p, o, spec) if spec.target_precision is not None
                else spec.threshold)

    row.update(cross_fitted_precision(prob, ok, half, n_true, choose))
    figures, table = calibrate_halves(
        np.concatenate(cand_p) if cand_p else np.zeros(0),
        np.concatenate(cand_ok) if cand_ok else np.zeros(0, bool),
        np.concatenate(cand_half) if cand_half else np.zeros(0, np.int64))
    row.update(figures)
    return pd.DataFrame([row]), threshold, table


def threshold_for_precision(prob: np.ndarray, ok: np.ndarray, spec: LinkageSpec) -> float:
    """Lowest probability (>= spec.threshold) whose held-out precision meets the target.

    `prob` are the held-out links' probabilities (one-to-one above
    ``spec.threshold``) and `ok` whether each is a key pair. The precision of
    the links at or above each probability is computed, and the lowest
    probability where it is at least ``spec.target_precision`` is returned
    (1.0 when none is; ``spec.threshold`` without links).

    Examples
    --------
    >>> spec = LinkageSpec.person_profile(target_precision=0.75)
    >>> threshold_for_precision(np.array([0.9, 0.8, 0.7, 0.6]),
    ...                         np.array([True, True, True, False]), spec)
    0.6
    """
    if len(prob) == 0:
        return spec.threshold
    order = np.argsort(-prob, kind="stable")
    prec = np.cumsum(np.asarray(ok)[order]) / np.arange(1, len(order) + 1)
    p_sorted = prob[order]
    # precision of "all links with p >= t" is defined at the last link of each tie
    last = np.r_[p_sorted[1:] != p_sorted[:-1], True]
    meets = np.flatnonzero(last & (prec >= spec.target_precision))
    return float(p_sorted[meets[-1]]) if len(meets) else 1.0
