"""The evidence oracle: which true pairs a method that sees the comparisons can pick.

A benchmark aid (``benchmarks/bench_linkage_ceiling.py``), not used by the model.
The oracle knows, for every candidate pair, the level of each comparison (the
comparison vector the model sees) and how strong each level is as evidence (its
likelihood ratio among true and false candidate pairs, estimated from truth), but
not which pair is true. It cannot prefer a record's true partner to another
candidate of the same record whose vector is identical (a tie), nor to one that is
at least as strong on every comparison and stronger on one (dominated): any
method that treats stronger evidence as stronger ranks that candidate as high or
higher. A true pair tied with ``k`` other candidates is reachable with
probability ``1 / (k + 1)`` at most (a guess), which at precision 0.99 is no
link; a dominated one not at all. Reachable pairs are those neither tied nor
dominated; the ceiling is an upper bound (an undominated pair may still be too
weak to link at precision 0.99).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from kprlink.linkage._fs_em import competing_probability

__all__ = ["bayes_reach", "level_strength", "oracle_reach", "two_sided_reach"]


def level_strength(gamma: np.ndarray, is_true: np.ndarray, n_levels: Sequence[int], *,
                   fit: np.ndarray | None = None) -> np.ndarray:
    """log2 likelihood ratio of each pair's level, per comparison (pairs × comparisons).

    Level ``-1`` (missing) is a level like the others here. Counts are smoothed by
    one per level, so a level seen only among false pairs is weak, not impossible.
    With `fit` (a boolean mask), the ratios are estimated on those pairs only.

    Examples
    --------
    >>> g = np.array([[1], [0], [0], [1]], dtype=np.int8)
    >>> level_strength(g, np.array([True, False, False, False]), [2]).round(2).ravel().tolist()
    [0.58, -1.0, -1.0, 0.58]
    """
    gamma = np.asarray(gamma)
    is_true = np.asarray(is_true, dtype=bool)
    fit = np.ones(len(gamma), bool) if fit is None else np.asarray(fit, dtype=bool)
    out = np.zeros(gamma.shape, dtype=np.float64)
    for c, n in enumerate(n_levels):
        idx = gamma[:, c].astype(np.int64) + 1  # 0 = missing
        t = np.bincount(idx[is_true & fit], minlength=n + 1) + 1.0
        f = np.bincount(idx[~is_true & fit], minlength=n + 1) + 1.0
        out[:, c] = np.log2(t / t.sum())[idx] - np.log2(f / f.sum())[idx]
    return out


def oracle_reach(group: np.ndarray, strength: np.ndarray, is_true: np.ndarray, *,
                 chunk: int = 2_000_000) -> pd.DataFrame:
    """Ties and dominating rivals of each true pair among its record's candidates.

    Parameters
    ----------
    group : numpy.ndarray
        Per candidate pair, the record whose candidates compete (the left row
        position: the NPR person's candidates; the right one for the other side).
    strength : numpy.ndarray
        Pairs × comparisons, from :func:`level_strength`.
    is_true : numpy.ndarray of bool
        True pairs. Other true pairs of the same record are not rivals.

    Returns
    -------
    pandas.DataFrame
        One row per true pair (in order of ``np.flatnonzero(is_true)``): ``pair``
        (its position), ``n_tied`` (rivals equal on every comparison),
        ``n_stronger`` (rivals at least as strong on every comparison and
        stronger on one), ``reachable`` (neither) and ``credit`` (``1 / (1 +
        n_tied)`` when not dominated, else 0: what a guess among the ties gets).

    Examples
    --------
    Record 0 has its true partner (row 0) and a rival with the same vector; record 1's
    true partner (row 2) is stronger than its rival; record 2's (row 4) is beaten.

    >>> s = np.array([[1.0, 2.0], [1.0, 2.0], [3.0, 0.0], [1.0, 0.0], [0.0, 1.0],
    ...               [0.0, 2.0]])
    >>> r = oracle_reach(np.array([0, 0, 1, 1, 2, 2]), s,
    ...                  np.array([True, False, True, False, True, False]))
    >>> r[["n_tied", "n_stronger", "reachable", "credit"]].values.tolist()
    [[1, 0, False, 0.5], [0, 0, True, 1.0], [0, 1, False, 0.0]]
    """
    group = np.asarray(group, dtype=np.int64)
    is_true = np.asarray(is_true, dtype=bool)
    true_rows = np.flatnonzero(is_true)
    order = np.argsort(group, kind="stable")
    sg = group[order]
    lo = np.searchsorted(sg, group[true_rows], "left")
    hi = np.searchsorted(sg, group[true_rows], "right")
    n_tied = np.zeros(len(true_rows), np.int64)
    n_strong = np.zeros(len(true_rows), np.int64)
    counts = hi - lo
    ends = np.cumsum(counts)
    start = 0
    while start < len(true_rows):  # chunks of about `chunk` (true, rival) rows
        stop = int(np.searchsorted(ends, ends[start] - counts[start] + chunk, "right"))
        stop = max(stop, start + 1)
        t = np.arange(start, stop)
        c = counts[t]
        rep = np.repeat(t, c)
        off = np.arange(int(c.sum())) - np.repeat(np.cumsum(c) - c, c)
        rival = order[np.repeat(lo[t], c) + off]
        mine = true_rows[rep]
        keep = (rival != mine) & ~is_true[rival]
        rep, rival, mine = rep[keep], rival[keep], mine[keep]
        a, b = strength[rival], strength[mine]
        ge = (a >= b).all(axis=1)
        eq = (a == b).all(axis=1)
        n_tied += np.bincount(rep[eq], minlength=len(true_rows))
        n_strong += np.bincount(rep[ge & ~eq], minlength=len(true_rows))
        start = stop
    reachable = (n_tied == 0) & (n_strong == 0)
    credit = np.where(n_strong == 0, 1.0 / (1 + n_tied), 0.0)
    return pd.DataFrame({"pair": true_rows, "n_tied": n_tied, "n_stronger": n_strong,
                         "reachable": reachable, "credit": credit})


def bayes_reach(group: np.ndarray, log_lr: np.ndarray, is_true: np.ndarray, *,
                target_precision: float = 0.99) -> tuple[float, np.ndarray]:
    """True pairs a Bayes rule with known level strengths links at `target_precision`.

    Each record's partner is, a priori, one of its candidates with probability
    ``rho`` (the share of records with a true candidate: known to the oracle),
    each equally; a candidate's posterior is
    ``(rho / n) LR / ((1 - rho) + (rho / n) Σ_k LR_k)`` over the record's `n`
    candidates, with ``log2 LR`` = `log_lr` (e.g. the row sums of
    :func:`level_strength`, fitted on other records). Each record's best candidate
    is linked, best posterior first, as far as the true precision of the links
    (truth: the threshold an oracle would choose) stays at or above the target.

    Where a record's best posterior is shared by ``k + 1`` candidates the link is a
    guess and counts ``1 / (k + 1)`` true (expected). Records whose best posteriors
    are equal are linked all or none (no threshold separates them).

    Returns
    -------
    n_reached : float
        Expected true pairs among those links.
    posterior : numpy.ndarray
        Per candidate pair.

    Examples
    --------
    Two records with one strong candidate each, one with two equal candidates:

    >>> n, p = bayes_reach(np.array([0, 1, 2, 2]), np.array([20.0, 20.0, 20.0, 20.0]),
    ...                    np.array([True, True, True, False]))
    >>> n, p.round(3).tolist()
    (2.0, [1.0, 1.0, 0.5, 0.5])
    """
    group = np.asarray(group, dtype=np.int64)
    is_true = np.asarray(is_true, dtype=bool)
    if len(group) == 0:
        return 0, np.zeros(0)
    _, g = np.unique(group, return_inverse=True)
    n = np.bincount(g).astype(float)
    rho = min(float(np.bincount(g, weights=is_true).clip(0, 1).sum() / len(n)), 1 - 1e-12)
    # scaled by the record's largest LR so that exp2 does not overflow
    top = np.full(len(n), -np.inf)
    np.maximum.at(top, g, log_lr)
    a = rho / n[g] * np.exp2(log_lr - top[g])
    rest = (1 - rho) * np.exp2(-top[g])
    post = a / (rest + np.bincount(g, weights=a)[g])
    best = np.full(len(n), -np.inf)
    np.maximum.at(best, g, post)
    is_max = post >= best[g] * (1 - 1e-9)  # ties: a guess among them
    credit = (np.bincount(g, weights=is_true & is_max)
              / np.bincount(g, weights=is_max))
    order = np.argsort(-best, kind="stable")
    hits = np.cumsum(credit[order])
    # a threshold cannot split records of one posterior: cut only at a block's end
    b = best[order]
    ends = np.r_[b[1:] < b[:-1] * (1 - 1e-9), True]
    ok = np.flatnonzero(ends & (hits >= target_precision * np.arange(1, len(order) + 1) - 1e-9))
    return (float(hits[ok[-1]]) if len(ok) else 0.0), post


def two_sided_reach(left: np.ndarray, right: np.ndarray, log_lr: np.ndarray,
                    is_true: np.ndarray, *, target_precision: float = 0.99
                    ) -> tuple[float, np.ndarray]:
    """True pairs the model's own decision rule reaches with the true level strengths.

    The oracle of :func:`bayes_reach` with competitors on both sides, as the model
    weighs them (:func:`kprlink.linkage._fs_em.competing_probability`): a pair's
    odds among the candidates are ``T / F · LR`` (``T`` true and ``F`` false
    candidate pairs, ``log2 LR`` = `log_lr`), the share of left records with a
    partner is known, and a pair is linked when it is the best of both its
    records, best first, as far as the true precision stays at or above the
    target (records of one posterior all or none, ties within a record a guess).
    What is lost against it is lost to estimating m, u and the threshold.

    Examples
    --------
    Left 0 and 1 both point at right 0 (only one is true); left 2 has one candidate.

    >>> n, p = two_sided_reach(np.array([0, 1, 2]), np.array([0, 0, 1]),
    ...                        np.array([10.0, 2.0, 10.0]), np.array([True, False, True]))
    >>> n, bool(p[0] > p[1])
    (2.0, True)
    """
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    is_true = np.asarray(is_true, dtype=bool)
    n_true, n_false = int(is_true.sum()), int((~is_true).sum())
    if n_true == 0:
        return 0.0, np.zeros(len(left))
    _, gl = np.unique(left, return_inverse=True)
    _, gr = np.unique(right, return_inverse=True)
    n_left, n_right = int(gl.max()) + 1, int(gr.max()) + 1
    prior = n_true / (n_left * n_right)
    log_odds = np.log2(n_true / max(n_false, 1)) + np.asarray(log_lr, dtype=np.float64)
    post = competing_probability(gl, gr, log_odds - np.log2(prior), prior,
                                 n_left=n_left, n_right=n_right)
    best_l = np.full(n_left, -np.inf)
    np.maximum.at(best_l, gl, post)
    best_r = np.full(n_right, -np.inf)
    np.maximum.at(best_r, gr, post)
    mutual = (post >= best_l[gl] * (1 - 1e-9)) & (post >= best_r[gr] * (1 - 1e-9))
    n_mut = np.bincount(gl, weights=mutual, minlength=n_left)
    has = n_mut > 0
    credit = np.bincount(gl, weights=mutual & is_true, minlength=n_left)[has] / n_mut[has]
    b = best_l[has]
    order = np.argsort(-b, kind="stable")
    hits = np.cumsum(credit[order])
    bo = b[order]
    ends = np.r_[bo[1:] < bo[:-1] * (1 - 1e-9), True]
    ok = np.flatnonzero(ends & (hits >= target_precision * np.arange(1, len(order) + 1) - 1e-9))
    return (float(hits[ok[-1]]) if len(ok) else 0.0), post
