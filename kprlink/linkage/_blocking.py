"""Blocking: candidate pairs agreeing exactly on at least one rule's columns.

Rules are unioned. Pairs are returned as row positions (int64) so that later
steps never build a pandas MultiIndex of millions of string ids. Rows with a
missing value in any of a rule's columns take no part in that rule (a missing
value never "agrees"); the counts per rule are returned for the report. The
pair count is computed from block sizes *before* any join, so an exploding
rule fails fast instead of exhausting memory.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from kprlink.exceptions import LinkageError


def _block_codes(left: pd.DataFrame, right: pd.DataFrame | None,
                 columns: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Integer block code per row (-1 where any column is missing)."""
    frames = [left[list(columns)]] if right is None else [left[list(columns)],
                                                         right[list(columns)]]
    both = pd.concat(frames, ignore_index=True)
    codes = np.zeros(len(both), dtype=np.int64)
    miss = np.zeros(len(both), dtype=bool)
    for col in columns:
        c, u = pd.factorize(both[col], use_na_sentinel=True)
        miss |= c < 0
        codes = codes * (len(u) + 1) + c
        codes = pd.factorize(codes)[0].astype(np.int64)  # dense again: no overflow
    codes[miss] = -1
    n_left = len(left)
    return codes[:n_left], codes[n_left:] if right is not None else codes[:n_left]


def _pairs_for_codes(cl: np.ndarray, cr: np.ndarray, *, dedupe: bool
                     ) -> tuple[np.ndarray, np.ndarray]:
    ol = np.argsort(cl, kind="stable")
    orr = np.argsort(cr, kind="stable")
    sl, sr = cl[ol], cr[orr]
    keys = np.intersect1d(sl[sl >= 0], sr[sr >= 0])
    if len(keys) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    ls, le = np.searchsorted(sl, keys, "left"), np.searchsorted(sl, keys, "right")
    rs, re = np.searchsorted(sr, keys, "left"), np.searchsorted(sr, keys, "right")
    nl, nr = le - ls, re - rs
    per_block = nl * nr
    total = int(per_block.sum())
    block = np.repeat(np.arange(len(keys)), per_block)
    within = np.arange(total) - np.repeat(np.cumsum(per_block) - per_block, per_block)
    i = ls[block] + within // nr[block]
    j = rs[block] + within % nr[block]
    pl, pr = ol[i], orr[j]
    if dedupe:
        keep = pl < pr
        pl, pr = pl[keep], pr[keep]
    return pl.astype(np.int64), pr.astype(np.int64)


def count_block_pairs(left: pd.DataFrame, right: pd.DataFrame | None,
                      columns: Sequence[str]) -> int:
    """Number of pairs one rule would produce (before the union)."""
    cl, cr = _block_codes(left, right, columns)
    nl = np.bincount(cl[cl >= 0]) if (cl >= 0).any() else np.zeros(0, np.int64)
    nr = np.bincount(cr[cr >= 0]) if (cr >= 0).any() else np.zeros(0, np.int64)
    m = min(len(nl), len(nr))
    if right is None:
        return int((nl * (nl - 1) // 2).sum())
    return int((nl[:m] * nr[:m]).sum())


def block_pairs(left: pd.DataFrame, right: pd.DataFrame | None,
                rules: Sequence[Sequence[str]], *, max_pairs: int,
                max_pairs_per_rule: int | None = None
                ) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Union of the pairs of every rule, as sorted row positions.

    Returns
    -------
    pos_left, pos_right : numpy.ndarray
        Row positions of the candidate pairs (``right is None``: both in
        `left`, with ``pos_left < pos_right``).
    per_rule : pandas.DataFrame
        ``rule``, ``n_pairs`` (the rule alone), ``n_new_pairs`` (not found by an
        earlier rule), ``n_left_missing`` / ``n_right_missing`` (rows that take
        no part because a blocking column is missing), ``skipped`` (True for a
        rule after the first whose pair count exceeds `max_pairs_per_rule`:
        its pairs are not generated and count 0; ``n_pairs`` gives what it
        would have produced).
    """
    dedupe = right is None
    counts = [count_block_pairs(left, right, r) for r in rules]
    skipped = [i > 0 and max_pairs_per_rule is not None and c > max_pairs_per_rule
               for i, c in enumerate(counts)]
    if sum(c for c, s in zip(counts, skipped) if not s) > max_pairs:
        problems = [f"blocking rule {list(r)} gives {c:,} pairs" for r, c in zip(rules, counts)]
        raise LinkageError(
            f"Blocking would create {sum(counts):,} candidate pairs, more than "
            f"max_pairs={max_pairs:,}. Use stricter rules (more columns per rule).",
            problems)
    n_right = len(right) if right is not None else len(left)
    keys, rows = [], []
    for r, rule in enumerate(rules):
        cl, cr = _block_codes(left, right, rule)
        if skipped[r]:
            rows.append({"rule": "+".join(rule), "n_pairs": counts[r], "skipped": True,
                         "n_left_missing": int((cl < 0).sum()),
                         "n_right_missing": int((cr < 0).sum()) if right is not None else 0})
            continue
        pl, pr = _pairs_for_codes(cl, cr, dedupe=dedupe)
        keys.append((pl * n_right + pr) * len(rules) + r)
        rows.append({"rule": "+".join(rule), "n_pairs": len(pl), "skipped": False,
                     "n_left_missing": int((cl < 0).sum()),
                     "n_right_missing": int((cr < 0).sum()) if right is not None else 0})
    # one sort of all rules' pairs: the first copy of a pair names the rule
    # that found it first (the key's last digits are the rule number)
    allk = np.sort(np.concatenate(keys)) if keys else np.empty(0, np.int64)
    pair = allk // len(rules)
    first = np.r_[True, pair[1:] != pair[:-1]] if len(pair) else np.zeros(0, bool)
    n_new = np.bincount(allk[first] % len(rules), minlength=len(rules))
    for row, k in zip(rows, n_new):
        row["n_new_pairs"] = int(k)
    seen = pair[first]
    return seen // n_right, seen % n_right, pd.DataFrame(
        rows, columns=["rule", "n_pairs", "n_new_pairs", "n_left_missing", "n_right_missing",
                       "skipped"])


def rule_mask(left: pd.DataFrame, right: pd.DataFrame | None, rule: Sequence[str],
              pos_left: np.ndarray, pos_right: np.ndarray) -> np.ndarray:
    """Which candidate pairs agree on every column of `rule` (i.e. it found them)."""
    cl, cr = _block_codes(left, right, rule)
    a, b = cl[pos_left], cr[pos_right]
    return (a == b) & (a >= 0)
