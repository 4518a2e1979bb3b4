"""Lexis expansion of person-time by age band and calendar year.

:func:`split_lexis` cuts each person's follow-up (entry to exit) at the
birthdays that start an age band and at each 1 January, as Stata's ``stsplit``
and R's ``Epi::splitLexis`` do; :func:`tabulate_person_time` sums events and
person-years per cell, ready for Poisson rate models with a log person-time
offset (:func:`kprlink.stats.contact_rate_glm`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from kprlink.demography.age import AgeBands
from kprlink.exceptions import MissingColumnsError, SpecError

__all__ = ["split_lexis", "tabulate_person_time"]

_DAYS_PER_YEAR = 365.25
_BIG = np.iinfo(np.int64).max


def _days(s: pd.Series) -> np.ndarray:
    """Dates as int64 days since 1970-01-01 (NaT as the int64 minimum)."""
    return pd.to_datetime(s).to_numpy("datetime64[ns]").astype("datetime64[D]").astype(np.int64)


def _birth_months(df: pd.DataFrame, birth_year_col: str, birth_month_col: str | None,
                  birth_date_col: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Birth as (months since 1970-01, day of month - 1) per row."""
    if birth_date_col is not None:
        b = pd.to_datetime(df[birth_date_col]).to_numpy("datetime64[ns]")
        months = b.astype("datetime64[M]")
        return months.astype(np.int64), (b.astype("datetime64[D]") - months).astype(np.int64)
    year = pd.array(df[birth_year_col], dtype="Int64").to_numpy(np.int64, na_value=-1)
    if birth_month_col is not None:
        month = pd.array(df[birth_month_col], dtype="Int64").to_numpy(np.int64, na_value=-1)
        known = (month >= 1) & (month <= 12)
        # 15th of the birth month where known, else 1 July (as kprlink.demography.age_at)
        return ((year - 1970) * 12 + np.where(known, month - 1, 6),
                np.where(known, 14, 0).astype(np.int64))
    return (year - 1970) * 12 + 6, np.zeros(len(df), dtype=np.int64)


def _month_days(months: np.ndarray) -> np.ndarray:
    """Day number of the first of each month (months since 1970-01)."""
    return months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def split_lexis(df: pd.DataFrame, *, age_bands: AgeBands | None = None,
                years: Sequence[int] | None = None, entry_col: str = "index_date",
                exit_col: str = "exit_date", status_col: str = "status",
                birth_year_col: str = "birth_year", birth_month_col: str | None = None,
                birth_date_col: str | None = None) -> pd.DataFrame:
    """Split follow-up into pieces by age band and calendar year.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per person (or spell) with entry and exit dates, a status
        (0 censored, other values events at exit) and birth information, e.g.
        a cohort with follow-up (:func:`kprlink.cohorts.add_follow_up`). Not
        modified.
    age_bands : AgeBands, optional
        Split at the birthday that starts each band. None: no age split.
    years : sequence of int, optional
        Consecutive calendar years to split by (at each 1 January). Follow-up
        outside them is dropped. None: no calendar split, nothing dropped.
    entry_col, exit_col, status_col : str
        Entry and exit dates (follow-up is the days ``[entry, exit)``) and the
        exit status.
    birth_year_col, birth_month_col, birth_date_col : str
        Birth year (birthday taken as 1 July), optionally the birth month (the
        15th of that month), or an exact birth date column instead.

    Returns
    -------
    pandas.DataFrame
        One row per piece, keeping every column of `df` and its index (repeated
        for each piece of a row), with ``lexis_start, lexis_end`` (dates),
        ``age_band`` (ordered categorical, with `age_bands`), ``year`` (int, with
        `years`), ``time_days`` and ``person_years`` (days / 365.25); the status
        is kept on the piece ending at exit and 0 on the others.

    Raises
    ------
    MissingColumnsError
        If a column is missing.
    SpecError
        On missing or reversed entry/exit dates, missing birth information for
        an age split, or years that are not consecutive integers.

    Notes
    -----
    Rows with zero follow-up (exit on the entry date) give no piece, as in
    Stata. The pieces of a row add up to its follow-up (within `years`), so
    events and person-years summed per cell are the sufficient statistics of
    a Poisson model with one rate per cell. Vectorised: one matrix of
    candidate cut dates per row, no loop per person.

    Examples
    --------
    >>> p = pd.DataFrame({"index_date": pd.to_datetime(["2014-03-01"]),
    ...                   "exit_date": pd.to_datetime(["2016-09-01"]), "status": [1],
    ...                   "birth_year": [1950]})
    >>> s = split_lexis(p, age_bands=AgeBands.from_breaks([0, 65, 70]),
    ...                 years=[2014, 2015, 2016])
    >>> s[["age_band", "year", "time_days", "status"]].to_numpy().tolist()
    [['0-64', 2014, 306, 0], ['0-64', 2015, 181, 0], ['65-69', 2015, 184, 0], ['65-69', 2016, 244, 1]]
    """
    need = [entry_col, exit_col, status_col]
    if age_bands is not None:
        need += [birth_date_col] if birth_date_col else [birth_year_col] + (
            [birth_month_col] if birth_month_col else [])
    MissingColumnsError.require(df, need, "split_lexis")
    entry, exit_ = _days(df[entry_col]), _days(df[exit_col])
    problems = []
    na = pd.isna(df[entry_col]).to_numpy() | pd.isna(df[exit_col]).to_numpy()
    if na.any():
        problems.append(f"{int(na.sum())} row(s) lack {entry_col} or {exit_col}")
    if (~na & (exit_ < entry)).any():
        problems.append(f"{int((~na & (exit_ < entry)).sum())} row(s) exit before entry")
    if years is not None:
        ys = [int(y) for y in years]
        if not ys or any(b - a != 1 for a, b in zip(ys, ys[1:], strict=False)):
            problems.append(f"years must be consecutive integers, got {list(years)!r}")
    if problems:
        raise SpecError("split_lexis(): cannot split these rows.", problems)

    cuts = [np.zeros((len(df), 0), dtype=np.int64)]
    start, end = entry.copy(), exit_.copy()
    age_cuts = np.zeros((len(df), 0), dtype=np.int64)
    if age_bands is not None:
        months, day = _birth_months(df, birth_year_col, birth_month_col, birth_date_col)
        bad = (months < -1970 * 12 + 1) if birth_date_col is None else pd.isna(
            df[birth_date_col]).to_numpy()
        if bad.any():
            raise SpecError("split_lexis(): an age split needs birth information.",
                            [f"{int(bad.sum())} row(s) lack a birth year or date"])
        br = np.asarray(age_bands.breaks[1:], dtype=np.int64)
        age_cuts = _month_days(months[:, None] + 12 * br[None, :]) + day[:, None]
        cuts.append(age_cuts)
    if years is not None:
        jan1 = _month_days((np.asarray(ys, dtype=np.int64) - 1970) * 12)
        start = np.maximum(start, jan1[0])
        end = np.minimum(end, _month_days(np.array([(ys[-1] + 1 - 1970) * 12]))[0])
        cuts.append(np.broadcast_to(jan1[1:], (len(df), len(jan1) - 1)))
    c = np.concatenate(cuts, axis=1)
    c = np.sort(np.where((c > start[:, None]) & (c < end[:, None]), c, _BIG), axis=1)
    keep = end > start
    k = np.where(keep, (c < _BIG).sum(axis=1), -1)  # cuts inside; -1: no piece at all
    n_pieces = k + 1
    row = np.repeat(np.arange(len(df)), n_pieces)
    first = np.cumsum(n_pieces) - n_pieces
    j = np.arange(len(row)) - np.repeat(first, n_pieces)
    width = max(c.shape[1], 1)
    cpad = np.concatenate([c, np.full((len(df), 1), _BIG)], axis=1) if c.shape[1] == 0 else c
    lo = np.where(j == 0, start[row], cpad[row, np.clip(j - 1, 0, width - 1)])
    hi = np.where(j == k[row], end[row], cpad[row, np.clip(j, 0, width - 1)])

    out = df.iloc[row].copy()
    out["lexis_start"] = lo.astype("datetime64[D]").astype("datetime64[ns]")
    out["lexis_end"] = hi.astype("datetime64[D]").astype("datetime64[ns]")
    if age_bands is not None:
        band = (age_cuts[row] <= lo[:, None]).sum(axis=1)
        out["age_band"] = pd.Categorical.from_codes(band, dtype=age_bands.dtype)
    if years is not None:
        out["year"] = out["lexis_start"].dt.year.astype(np.int64)
    status = df[status_col].to_numpy()[row]
    at_exit = hi == exit_[row]
    out[status_col] = np.where(at_exit, status, np.zeros_like(status))
    out["time_days"] = (hi - lo).astype(np.int64)
    out["person_years"] = out["time_days"] / _DAYS_PER_YEAR
    return out


def tabulate_person_time(split: pd.DataFrame, *, by: Sequence[str],
                         status_col: str = "status", event_value: int = 1,
                         person_years_col: str = "person_years") -> pd.DataFrame:
    """Events and person-years per cell of a split (or any person-time) frame.

    Parameters
    ----------
    split : pandas.DataFrame
        Output of :func:`split_lexis` (any frame with a status and person-years).
    by : sequence of str
        Cell columns, e.g. ``["age_band", "year", "sex"]``.
    status_col, event_value : str, int
        An event is a piece whose status equals `event_value` (1 the outcome;
        2 death, for the competing rate).
    person_years_col : str

    Returns
    -------
    pandas.DataFrame
        ``*by, n_events, person_years`` for each observed cell (unused
        categories dropped, so a ``C(age_band)`` model term has no empty level;
        nullable integer keys as int64). Rows with a missing key are left out.

    Examples
    --------
    >>> s = pd.DataFrame({"g": ["a", "a", "b"], "status": [0, 1, 1],
    ...                   "person_years": [1.0, 0.5, 2.0]})
    >>> tabulate_person_time(s, by=["g"]).to_numpy().tolist()
    [['a', 1, 1.5], ['b', 1, 2.0]]
    """
    MissingColumnsError.require(split, [*by, status_col, person_years_col],
                                "tabulate_person_time")
    ev = (split[status_col] == event_value).astype(np.int64)
    g = pd.DataFrame({**{b: split[b] for b in by}, "n_events": ev,
                      "person_years": split[person_years_col].astype(float)})
    out = g.groupby(list(by), observed=True, sort=True).sum().reset_index()
    for b in by:
        if isinstance(out[b].dtype, pd.CategoricalDtype):
            out[b] = out[b].cat.remove_unused_categories()
        elif pd.api.types.is_integer_dtype(out[b].dtype):
            out[b] = out[b].astype(np.int64)  # cells never have NA keys; patsy needs numpy
    return out
