"""Calibration of match probabilities and honest precision, on held-out keyed pairs.

The held-out keyed persons are linked as if unkeyed (``_holdout``); every candidate
pair of theirs is labelled by the key. Those persons are split in two halves:

* **calibration**: a Platt map ``logit(p') = a + b·logit(p)`` is fitted on one half's
  candidates and the expected calibration error (ECE) of the raw and the mapped
  probabilities measured on the other half;
* **threshold**: the threshold for the target precision is chosen on one half and its
  precision and recall measured on the other, both ways (two-fold); the pooled
  precision at the pooled threshold (chosen on the same pairs) is optimistic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: candidates scored below this are left out of the ECE and reliability bins (they are
#: nearly all non-matches and would swamp the error with a well-calibrated zero bin)
MIN_P = 0.05
_EPS = 1e-12


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, float), 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def platt_fit(p: np.ndarray, ok: np.ndarray, *, n_iter: int = 50) -> tuple[float, float]:
    """``(a, b)`` of ``logit(p') = a + b·logit(p)`` by maximum likelihood (Newton).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.01, 0.99, 4000)
    >>> ok = rng.random(4000) < 1 / (1 + np.exp(-2 * _logit(p)))  # under-confident p
    >>> a, b = platt_fit(p, ok)
    >>> round(b, 1), abs(a) < 0.2
    (2.0, True)
    """
    x = _logit(p)
    y = np.asarray(ok, float)
    if len(x) < 2 or y.min(initial=1) == y.max(initial=0):
        return 0.0, 1.0
    from scipy.special import expit

    # a weak pull towards the identity map (a = 0, b = 1) keeps the fit finite when the
    # classes separate perfectly (few held-out pairs)
    w0 = np.array([0.0, 1.0])
    w = w0.copy()
    ridge = 1e-2
    X = np.column_stack([np.ones_like(x), x])
    for _ in range(n_iter):
        q = expit(X @ w)
        g = X.T @ (y - q) - ridge * (w - w0)
        h = X.T @ (X * (q * (1 - q))[:, None]) + ridge * np.eye(2)
        step = np.linalg.solve(h, g)
        w = w + step
        if np.abs(step).max() < 1e-10:
            break
    return float(w[0]), float(w[1])


def platt_apply(p: np.ndarray, a: float, b: float) -> np.ndarray:
    """Mapped probabilities ``1 / (1 + exp(-(a + b·logit(p))))``."""
    from scipy.special import expit

    return np.asarray(expit(a + b * _logit(p)), float)


def reliability(p: np.ndarray, ok: np.ndarray, *, n_bins: int = 10,
                min_p: float = MIN_P) -> pd.DataFrame:
    """Equal-width bins of `p` (``p >= min_p``): ``bin_lo, bin_hi, n, mean_p, observed``.

    Examples
    --------
    >>> t = reliability(np.array([0.95, 0.95, 0.3, 0.02]), np.array([1, 1, 0, 0]), n_bins=2)
    >>> t[["n", "observed"]].values.tolist()
    [[1.0, 0.0], [2.0, 1.0]]
    """
    p = np.asarray(p, float)
    ok = np.asarray(ok, float)
    keep = p >= min_p
    p, ok = p[keep], ok[keep]
    edges = np.linspace(min_p, 1, n_bins + 1)
    b = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, n_bins - 1)
    n = np.bincount(b, minlength=n_bins).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.bincount(b, weights=p, minlength=n_bins) / n
        obs = np.bincount(b, weights=ok, minlength=n_bins) / n
    out = pd.DataFrame({"bin_lo": edges[:-1], "bin_hi": edges[1:], "n": n,
                        "mean_p": mean_p, "observed": obs})
    return out[out["n"] > 0].reset_index(drop=True)


def ece(p: np.ndarray, ok: np.ndarray, *, n_bins: int = 10, min_p: float = MIN_P) -> float:
    """Expected calibration error over pairs scored ``>= min_p``: the count-weighted mean
    of ``|observed - mean_p|`` over equal-width bins (NaN without such pairs)."""
    t = reliability(p, ok, n_bins=n_bins, min_p=min_p)
    if t["n"].sum() == 0:
        return float("nan")
    return float((t["n"] * (t["observed"] - t["mean_p"]).abs()).sum() / t["n"].sum())


def calibrate_halves(cand_p: np.ndarray, cand_ok: np.ndarray, cand_half: np.ndarray
                     ) -> tuple[dict[str, float], pd.DataFrame]:
    """Platt map fitted on half 0, measured on half 1.

    Returns the figures (``calibration_a``, ``calibration_b``, ``ece_raw``,
    ``ece_calibrated``, ``n_calibration_pairs``: pairs scored ``>= MIN_P`` in the
    measuring half) and the measuring half's reliability table with the mapped
    probabilities' ``mean_p_calibrated`` / ``observed_calibrated`` beside.
    """
    fit, test = cand_half == 0, cand_half == 1
    a, b = platt_fit(cand_p[fit], cand_ok[fit])
    raw, ok = cand_p[test], cand_ok[test]
    mapped = platt_apply(raw, a, b)
    table = reliability(raw, ok).assign(kind="raw")
    cal = reliability(mapped, ok).assign(kind="calibrated")
    figures = {"calibration_a": a, "calibration_b": b, "ece_raw": ece(raw, ok),
               "ece_calibrated": ece(mapped, ok),
               "n_calibration_pairs": int((raw >= MIN_P).sum())}
    return figures, pd.concat([table, cal], ignore_index=True)


def cross_fitted_precision(prob: np.ndarray, ok: np.ndarray, half: np.ndarray,
                           n_true: tuple[int, int], choose: object) -> dict[str, float]:
    """Threshold chosen on one half, precision and recall measured on the other (both ways).

    `choose(prob, ok)` returns a threshold; `n_true` the true pairs of each half.
    Returns ``precision_other_half``, ``recall_other_half`` (pooled over the two
    folds) and ``threshold_half0``, ``threshold_half1``.
    """
    tp = found = 0
    out: dict[str, float] = {}
    for h in (0, 1):
        t = float(choose(prob[half == h], ok[half == h]))  # type: ignore[operator]
        other = (half != h) & (prob >= t)
        tp += int(ok[other].sum())
        found += int(other.sum())
        out[f"threshold_half{h}"] = t
    n = sum(n_true)
    out["precision_other_half"] = tp / found if found else float("nan")
    out["recall_other_half"] = tp / n if n else float("nan")
    return out
