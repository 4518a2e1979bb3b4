"""Rates and shares per group, and direct age(-sex) standardisation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from kprlink.exceptions import MissingColumnsError, SpecError
from kprlink.stats.intervals import _level, proportion_ci, rate_ci

__all__ = ["add_rates", "add_proportions", "standardise_direct"]


_require = MissingColumnsError.require


def add_rates(df: pd.DataFrame, *, events_col: str = "n",
              person_time_col: str = "person_years", per: float = 1000.0,
              level: float = 0.95, prefix: str = "rate") -> pd.DataFrame:
    """Add rates per `per` person-years with exact Poisson intervals.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per group with events and person-time. Not modified.
    events_col, person_time_col : str
        Column names.
    per : float, default 1000
        Rate unit.
    level : float, default 0.95
        Confidence level.
    prefix : str, default "rate"
        New columns ``<prefix>``, ``<prefix>_lower``, ``<prefix>_upper``.

    Returns
    -------
    pandas.DataFrame
        A copy with the three columns added (NA where person-time is 0/NA).

    Examples
    --------
    >>> df = pd.DataFrame({"n": [10], "person_years": [2000]})
    >>> add_rates(df)["rate"].tolist()
    [5.0]
    """
    _require(df, [events_col, person_time_col], "add_rates")
    ci = rate_ci(df[events_col].to_numpy(object), df[person_time_col].to_numpy(object),
                 per=per, level=level)
    out = df.copy()
    out[prefix] = ci["rate"].to_numpy()
    out[prefix + "_lower"] = ci["lower"].to_numpy()
    out[prefix + "_upper"] = ci["upper"].to_numpy()
    return out


def add_proportions(df: pd.DataFrame, *, count_col: str = "n", denom_col: str = "population",
                    level: float = 0.95, method: str = "wilson", scale: float = 1.0,
                    prefix: str = "share") -> pd.DataFrame:
    """Add shares with Wilson (or exact) intervals; ``scale=100`` gives percent.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per group. Not modified.
    count_col, denom_col : str
        Numerator and denominator columns.
    level : float, default 0.95
        Confidence level.
    method : {"wilson", "exact"}
        See :func:`proportion_ci`.
    scale : float, default 1
        Multiply share and limits (100 for percent, 1000 per thousand).
    prefix : str, default "share"
        New columns ``<prefix>``, ``<prefix>_lower``, ``<prefix>_upper``.

    Returns
    -------
    pandas.DataFrame
        A copy with the three columns added.

    Examples
    --------
    >>> df = pd.DataFrame({"n": [5], "population": [20]})
    >>> add_proportions(df, scale=100)["share"].tolist()
    [25.0]
    """
    _require(df, [count_col, denom_col], "add_proportions")
    ci = proportion_ci(df[count_col].to_numpy(object), df[denom_col].to_numpy(object),
                       level=level, method=method)  # type: ignore[arg-type]
    out = df.copy()
    out[prefix] = ci["proportion"].to_numpy() * scale
    out[prefix + "_lower"] = ci["lower"].to_numpy() * scale
    out[prefix + "_upper"] = ci["upper"].to_numpy() * scale
    return out


def standardise_direct(df: pd.DataFrame, standard: pd.DataFrame, *,
                       strata: Sequence[str] = ("age_band",), by: Sequence[str] = (),
                       events_col: str = "n", person_time_col: str = "person_years",
                       standard_col: str = "population", per: float = 1000.0,
                       level: float = 0.95) -> pd.DataFrame:
    """Directly standardised rates with Fay-Feuer gamma intervals.

    Parameters
    ----------
    df : pandas.DataFrame
        Events and person-time per stratum (and per `by` group). Not modified.
    standard : pandas.DataFrame
        Standard population: `strata` columns and `standard_col`.
    strata : sequence of str, default ("age_band",)
        Standardisation strata, e.g. ``["age_band", "sex"]``.
    by : sequence of str
        Groups compared (one standardised rate each).
    events_col, person_time_col, standard_col : str
        Column names.
    per : float, default 1000
        Rate unit.
    level : float, default 0.95
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        Per `by` group: ``events, person_time, crude_rate, std_rate, lower, upper``.

    Raises
    ------
    MissingColumnsError
        If a column is missing.
    SpecError
        If the standard lacks a stratum present in `df`, has duplicate strata,
        or a stratum has events but no person-time.

    Notes
    -----
    ``DSR = sum_i w_i d_i / n_i`` with ``w_i`` the standard's share in stratum
    ``i``. The interval is Fay & Feuer (1997): gamma limits with variance
    ``v = sum w_i^2 d_i / n_i^2`` and ``w_M = max w_i / n_i``; exact when the
    standard is proportional to the study population. Strata of the standard
    absent from `df` count as zero events with no person-time and make the
    rate undefined (NA) rather than silently re-weighting.

    Examples
    --------
    >>> df = pd.DataFrame({"age_band": ["young", "old"], "n": [10, 40],
    ...                    "person_years": [10_000, 4_000]})
    >>> std = pd.DataFrame({"age_band": ["young", "old"], "population": [50, 50]})
    >>> round(float(standardise_direct(df, std)["std_rate"].iloc[0]), 6)
    5.5
    """
    strata, by = list(strata), list(by)
    alpha = _level(level, "standardise_direct")
    _require(df, strata + by + [events_col, person_time_col], "standardise_direct")
    _require(standard, strata + [standard_col], "standardise_direct")
    problems: list[str] = []
    std = standard[strata + [standard_col]].copy()
    for c in strata:
        std[c] = std[c].astype(str)
    if std.duplicated(strata).any():
        problems.append("the standard population repeats a stratum")
    d = df[strata + by + [events_col, person_time_col]].copy()
    for c in strata:
        d[c] = d[c].astype(str)
    known = set(map(tuple, std[strata].to_numpy().tolist()))
    absent = {tuple(r) for r in d[strata].to_numpy().tolist()} - known
    problems += [f"stratum {s} is not in the standard" for s in sorted(absent)]
    bad = (d[events_col] > 0) & ~(d[person_time_col] > 0)
    problems += [f"{int(bad.sum())} stratum row(s) have events but no person-time"] if bad.any() \
        else []
    if problems:
        raise SpecError("standardise_direct(): cannot standardise.", problems)
    std["_w"] = std[standard_col].astype(float) / float(std[standard_col].sum())
    groups = [((), d)] if not by else list(d.groupby(by, observed=True, sort=True))
    z_lo, z_hi = alpha / 2, 1 - alpha / 2
    rows = []
    for key, g in groups:
        m = std.merge(g, on=strata, how="left")
        e = m[events_col].astype(float).to_numpy()
        t = m[person_time_col].astype(float).to_numpy()
        w = m["_w"].to_numpy()
        row = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
        row["events"] = float(np.nansum(e))
        row["person_time"] = float(np.nansum(t))
        row["crude_rate"] = row["events"] / row["person_time"] * per \
            if row["person_time"] > 0 else np.nan
        if np.isnan(t).any() or (t <= 0).any():
            row.update(std_rate=np.nan, lower=np.nan, upper=np.nan)
        else:
            y = float(np.sum(w * e / t))
            v = float(np.sum(w**2 * e / t**2))
            wm = float(np.max(w / t))
            lo = 0.0 if v == 0 else v / (2 * y) * sps.chi2.ppf(z_lo, 2 * y**2 / v)
            hi = (v + wm**2) / (2 * (y + wm)) * sps.chi2.ppf(z_hi, 2 * (y + wm)**2 / (v + wm**2))
            row.update(std_rate=y * per, lower=lo * per, upper=hi * per)
        rows.append(row)
    cols = by + ["events", "person_time", "crude_rate", "std_rate", "lower", "upper"]
    return pd.DataFrame(rows, columns=cols)
