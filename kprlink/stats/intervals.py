"""Confidence intervals for proportions, rates and rate ratios.

Methods and references are in ``docs/methods/epidemiology.md``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint

from kprlink.exceptions import SpecError

__all__ = ["proportion_ci", "rate_ci", "rate_ratio"]


def _level(level: float, func: str) -> float:
    if not 0 < level < 1:
        raise SpecError(f"{func}(level={level!r}): level must be in (0, 1).",
                        [f"level={level!r}"])
    return 1 - level


def _arrays(func: str, **named: object) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    problems: list[str] = []
    for name, value in named.items():
        arr = pd.to_numeric(pd.Series(np.atleast_1d(np.asarray(value, dtype=object))),
                            errors="coerce").to_numpy(float)
        if (arr[~np.isnan(arr)] < 0).any():
            problems.append(f"{name} has negative values")
        out[name] = arr
    sizes = {len(a) for a in out.values()}
    if len(sizes) > 1 and 1 not in sizes:
        problems.append(f"inputs have different lengths {sorted(sizes)}")
    if problems:
        raise SpecError(f"{func}(): invalid input.", problems)
    n = max(sizes)
    return {k: np.broadcast_to(v, (n,)).copy() for k, v in out.items()}


def proportion_ci(count: object, n: object, *, level: float = 0.95,
                  method: Literal["wilson", "exact"] = "wilson") -> pd.DataFrame:
    """Proportion and its confidence interval (Wilson score or Clopper-Pearson).

    Parameters
    ----------
    count, n : int or array-like
        Numerators and denominators (NA gives NA).
    level : float, default 0.95
        Confidence level.
    method : {"wilson", "exact"}
        Wilson score interval, or the exact Clopper-Pearson (beta) interval.

    Returns
    -------
    pandas.DataFrame
        ``proportion, lower, upper`` (NA where `n` is 0 or NA).

    Raises
    ------
    SpecError
        On a negative count, `count` > `n`, an unknown method or a bad level.

    Examples
    --------
    >>> proportion_ci(5, 20).round(4).values.tolist()
    [[0.25, 0.1119, 0.4687]]
    >>> float(proportion_ci(0, 298)["lower"].iloc[0])
    0.0
    """
    alpha = _level(level, "proportion_ci")
    if method not in ("wilson", "exact"):
        raise SpecError(f"proportion_ci(method={method!r}): use 'wilson' or 'exact'.",
                        [f"method={method!r}"])
    a = _arrays("proportion_ci", count=count, n=n)
    k, m = a["count"], a["n"]
    if (k > m).any():
        raise SpecError("proportion_ci(): count exceeds n.",
                        [f"count {c:g} > n {d:g}" for c, d in zip(k[k > m], m[k > m],
                                                                  strict=True)])
    ok = ~np.isnan(k) & ~np.isnan(m) & (m > 0)
    lo = np.full(len(k), np.nan)
    hi = np.full(len(k), np.nan)
    if ok.any():
        sm_method = "wilson" if method == "wilson" else "beta"
        lo[ok], hi[ok] = proportion_confint(k[ok], m[ok], alpha=alpha, method=sm_method)
        # the bounds of 0 of n and n of n are exactly 0 and 1 (statsmodels' Wilson
        # returns float noise there, e.g. 8.7e-17)
        lo[ok & (k == 0)] = 0.0
        hi[ok & (k == m)] = 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(ok, k / np.where(ok, m, 1), np.nan)
    return pd.DataFrame({"proportion": p, "lower": lo, "upper": hi})


def rate_ci(events: object, person_time: object, *, per: float = 1000.0,
            level: float = 0.95) -> pd.DataFrame:
    """Rate per `per` person-years with the exact Poisson (Garwood) interval.

    Parameters
    ----------
    events : int or array-like
        Event counts.
    person_time : float or array-like
        Person-years (or population for a one-year period).
    per : float, default 1000
        Rates are expressed per this many person-years.
    level : float, default 0.95
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        ``rate, lower, upper`` per `per` (NA where person-time is 0 or NA).

    Notes
    -----
    Lower limit ``chi2(alpha/2; 2k)/2``, upper ``chi2(1-alpha/2; 2k+2)/2``,
    divided by person-time (Garwood 1936); the lower limit is 0 for k = 0.

    Examples
    --------
    >>> rate_ci(10, 2000).round(3).values.tolist()
    [[5.0, 2.398, 9.195]]
    """
    alpha = _level(level, "rate_ci")
    a = _arrays("rate_ci", events=events, person_time=person_time)
    k, t = a["events"], a["person_time"]
    ok = ~np.isnan(k) & ~np.isnan(t) & (t > 0)
    kk = np.where(ok, k, 0)
    tt = np.where(ok, t, 1)
    lo = np.where(kk > 0, sps.chi2.ppf(alpha / 2, 2 * kk) / 2, 0.0)
    hi = sps.chi2.ppf(1 - alpha / 2, 2 * kk + 2) / 2
    nan = np.nan
    return pd.DataFrame({"rate": np.where(ok, kk / tt * per, nan),
                         "lower": np.where(ok, lo / tt * per, nan),
                         "upper": np.where(ok, hi / tt * per, nan)})


def rate_ratio(events: object, person_time: object, ref_events: object,
               ref_person_time: object, *, level: float = 0.95) -> pd.DataFrame:
    """Rate ratio of a group against a reference, with a log-normal interval.

    Parameters
    ----------
    events, person_time : array-like
        Events and person-time of the compared group(s).
    ref_events, ref_person_time : array-like
        The same for the reference group.
    level : float, default 0.95
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        ``rate_ratio, lower, upper``; NA where either count is 0.

    Notes
    -----
    ``exp(log(RR) ± z * sqrt(1/a + 1/b))`` (Rothman, Modern Epidemiology, 3rd ed.,
    ch. 14); undefined when a count is zero.

    Examples
    --------
    >>> rate_ratio(30, 1000, 15, 1000).round(3).values.tolist()
    [[2.0, 1.076, 3.717]]
    """
    alpha = _level(level, "rate_ratio")
    a = _arrays("rate_ratio", events=events, person_time=person_time,
                ref_events=ref_events, ref_person_time=ref_person_time)
    e1, t1, e0, t0 = a["events"], a["person_time"], a["ref_events"], a["ref_person_time"]
    ok = (e1 > 0) & (e0 > 0) & (t1 > 0) & (t0 > 0)
    z = sps.norm.ppf(1 - alpha / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        rr = np.where(ok, (e1 / t1) / (e0 / t0), np.nan)
        se = np.where(ok, np.sqrt(1 / e1 + 1 / e0), np.nan)
    return pd.DataFrame({"rate_ratio": rr, "lower": rr * np.exp(-z * se),
                         "upper": rr * np.exp(z * se)})
