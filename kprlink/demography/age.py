"""Age at a date from birth year (and month), and age bands.

KPR and NPR deliver birth year (sometimes birth month), never the birth date, so
age at a date is an approximation; see ``docs/methods/epidemiology.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kprlink.exceptions import MissingColumnsError, SpecError

__all__ = ["age_at", "add_age", "AgeBands", "add_age_band"]

#: Oldest age any band must cover (every age 0..MAX_AGE falls in exactly one band).
MAX_AGE = 130


def _as_date(value: object) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise SpecError(f"age_at(): cannot read {value!r} as a date.",
                        [f"date {value!r} is not a date"]) from exc
    if pd.isna(ts):
        raise SpecError("age_at(): the reference date is missing.", ["date is NA"])
    return ts


def age_at(birth_year: object, date: object, *, birth_month: object = None) -> object:
    """Age in completed years on `date`, from birth year (and month if known).

    Parameters
    ----------
    birth_year : int, array-like or pandas.Series
        Birth year(s); NA gives NA.
    date : date-like or array-like of dates
        Reference date: one for all persons, or one per person (e.g. event dates;
        NA gives NA).
    birth_month : int, array-like or pandas.Series, optional
        Birth month 1-12 where delivered; NA falls back to the year-only rule.

    Returns
    -------
    int, pandas.Series (Int64) or None
        A scalar for scalar input, otherwise a nullable-integer Series.

    Notes
    -----
    With birth year only, the birthday is taken to be 1 July: age is
    ``year(date) - birth_year``, minus one before 1 July. This is exact on
    1 January (age in SSB's population tables) and on 31 December, and wrong by
    at most one year in between. With a birth month the birthday is taken to be
    the 15th of that month, so the result can only be wrong within that month.

    Examples
    --------
    >>> age_at(1930, "2017-01-01")
    86
    >>> age_at(1930, "2017-12-31")
    87
    >>> age_at(1930, "2017-03-20", birth_month=3)
    87
    """
    scalar = np.isscalar(birth_year) or birth_year is None
    by = pd.Series(pd.array([birth_year] if scalar else list(birth_year), dtype="Float64"))
    if isinstance(birth_year, pd.Series):
        by.index = birth_year.index
    if isinstance(date, (pd.Series, np.ndarray, list, tuple, pd.Index)):
        when = pd.Series(pd.to_datetime(pd.Series(list(date)), errors="coerce").to_numpy(),
                         index=by.index if len(date) == len(by) else None)
        if len(when) != len(by):
            if not scalar:
                raise SpecError("age_at(): dates and birth years differ in length.",
                                [f"{len(when)} dates, {len(by)} birth years"])
            by = pd.Series(np.repeat(by.to_numpy(), len(when)), dtype="Float64",
                           index=when.index)
            scalar = False
        year = when.dt.year.astype("Float64")
        tmonth = when.dt.month.astype("Float64")
        tday = when.dt.day.astype("Float64")
    else:
        ts = _as_date(date)
        year = pd.Series(float(ts.year), index=by.index, dtype="Float64")
        tmonth = pd.Series(float(ts.month), index=by.index, dtype="Float64")
        tday = pd.Series(float(ts.day), index=by.index, dtype="Float64")
    if birth_month is None:
        bm = pd.Series(pd.NA, index=by.index, dtype="Float64")
    else:
        m_scalar = np.isscalar(birth_month)
        bm = pd.Series(pd.array([birth_month] * len(by) if m_scalar else list(birth_month),
                                dtype="Float64"), index=by.index)
        bad = bm.notna() & ~bm.between(1, 12)
        if bad.any():
            raise SpecError("age_at(): birth_month must be 1-12.",
                            [f"birth_month {v!r} is not 1-12" for v in bm[bad].unique()])
    # birthday: 15th of the month if known, else 1 July
    month = bm.fillna(7)
    day = bm.where(bm.isna(), 15).fillna(1)
    before = (tmonth < month) | ((tmonth == month) & (tday < day))
    age = year - by - before.astype("Float64")
    age = age.round().astype("Int64")
    if scalar:
        value = age.iloc[0]
        return None if pd.isna(value) else int(value)
    return age


def add_age(df: pd.DataFrame, *, at: object, birth_year_col: str = "birth_year",
            birth_month_col: str | None = None, out_col: str = "age") -> pd.DataFrame:
    """Add age in completed years on date `at` (see :func:`age_at`).

    Parameters
    ----------
    df : pandas.DataFrame
        One row per person or event. Not modified.
    at : date-like or str
        Reference date, or the name of a date column in `df` (age at each row's date).
    birth_year_col, birth_month_col : str
        Birth year column and optional birth month column.
    out_col : str, default "age"
        Name of the new column (nullable Int64).

    Returns
    -------
    pandas.DataFrame
        A copy of `df` with `out_col` added.

    Raises
    ------
    MissingColumnsError
        If a named column is not in `df`.

    Examples
    --------
    >>> add_age(pd.DataFrame({"birth_year": [1930, None]}), at="2017-01-01")["age"].tolist()
    [86, <NA>]
    """
    need = [birth_year_col] + ([birth_month_col] if birth_month_col else [])
    by_row = isinstance(at, str) and at in df.columns
    _require(df, need + ([at] if by_row else []), "add_age")  # type: ignore[list-item]
    month = df[birth_month_col] if birth_month_col else None
    out = df.copy()
    when = df[at] if by_row else at  # type: ignore[index]
    out[out_col] = age_at(df[birth_year_col], when, birth_month=month)
    return out


_require = MissingColumnsError.require


@dataclass(frozen=True)
class AgeBands:
    """Left-closed age bands covering every age from 0; the last band is open.

    Parameters
    ----------
    breaks : tuple of int
        Strictly increasing lower limits, the first 0.
    labels : tuple of str, optional
        One label per band; default ``"a-b"`` and ``"c+"``.
    name : str
        Short name recorded in outputs.

    Examples
    --------
    >>> AgeBands.from_breaks([0, 18, 65]).labels
    ('0-17', '18-64', '65+')
    >>> AgeBands.reference_dementia().labels[:2]
    ('Under 60', '60-64')
    """

    breaks: tuple[int, ...]
    labels: tuple[str, ...] = ()
    name: str = "custom"

    def _repr_html_(self) -> str:
        from kprlink._html import definition_card

        return definition_card(self)

    def __post_init__(self) -> None:
        problems: list[str] = []
        b = tuple(self.breaks)
        if not b:
            problems.append("breaks is empty")
        if any(not isinstance(x, (int, np.integer)) or isinstance(x, bool) for x in b):
            problems.append(f"breaks must be integers, got {b!r}")
        elif b:
            if b[0] != 0:
                problems.append(f"the first break must be 0 so every age has a band, got {b[0]}")
            if any(y <= x for x, y in zip(b, b[1:], strict=False)):
                problems.append(f"breaks must be strictly increasing, got {b!r}")
            if b[-1] > MAX_AGE:
                problems.append(f"the last break must be <= {MAX_AGE}, got {b[-1]}")
        if problems:
            raise SpecError(f"AgeBands(breaks={b!r}) is invalid.", problems)
        object.__setattr__(self, "breaks", tuple(int(x) for x in b))
        labels = tuple(self.labels) or self._default_labels()
        if len(labels) != len(b) or len(set(labels)) != len(labels):
            raise SpecError(f"AgeBands: need {len(b)} distinct labels, got {labels!r}.",
                            [f"labels {labels!r} do not match breaks {b!r}"])
        object.__setattr__(self, "labels", labels)

    def _default_labels(self) -> tuple[str, ...]:
        b = self.breaks
        out = [f"{lo}-{hi - 1}" if hi - 1 > lo else str(lo)
               for lo, hi in zip(b, b[1:], strict=False)]
        return tuple(out + [f"{b[-1]}+"])

    @classmethod
    def from_breaks(cls, breaks: Sequence[int], *, labels: Sequence[str] = (),
                    name: str = "custom") -> AgeBands:
        """Bands from lower limits, e.g. ``[0, 18, 65]`` gives 0-17, 18-64, 65+."""
        return cls(tuple(breaks), tuple(labels), name)

    @classmethod
    def reference_dementia(cls) -> AgeBands:
        """The reference study's bands: Under 60, 60-64, ..., 85-89, 90+."""
        breaks = (0, 60, 65, 70, 75, 80, 85, 90)
        labels = ("Under 60", "60-64", "65-69", "70-74", "75-79", "80-84", "85-89", "90+")
        return cls(breaks, labels, "reference_dementia")

    @classmethod
    def five_year(cls, *, top: int = 90) -> AgeBands:
        """Five-year bands 0-4, 5-9, ... up to an open band `top`+."""
        if top % 5 or top <= 0:
            raise SpecError(f"AgeBands.five_year(top={top!r}): top must be a positive "
                            "multiple of 5.", [f"top={top!r}"])
        return cls(tuple(range(0, top + 1, 5)), (), f"five_year_{top}")

    @classmethod
    def iplos(cls) -> AgeBands:
        """SSB/IPLOS bands 0-14, 15-17, 18-49, 50-66, 67-79, 80-89, 90+."""
        return cls((0, 15, 18, 50, 67, 80, 90), (), "iplos")

    @property
    def dtype(self) -> pd.CategoricalDtype:
        """The ordered categorical dtype of the labels."""
        return pd.CategoricalDtype(list(self.labels), ordered=True)

    def assign(self, ages: pd.Series) -> pd.Series:
        """Band label of each age (NA stays NA); see :func:`add_age_band`."""
        a = pd.to_numeric(ages, errors="coerce").astype("Float64")
        bad = a.notna() & ((a < 0) | (a > MAX_AGE) | (a != a.round()))
        if bad.any():
            vals = sorted({float(v) for v in a[bad]})[:10]
            raise SpecError("AgeBands: ages must be whole numbers 0-130.",
                            [f"age {v:g} is outside 0-{MAX_AGE} or not whole" for v in vals])
        codes = np.searchsorted(np.asarray(self.breaks), a.fillna(-1).to_numpy(float),
                                side="right") - 1
        codes = np.where(a.isna().to_numpy(), -1, codes)
        return pd.Series(pd.Categorical.from_codes(codes, dtype=self.dtype), index=ages.index)

    def __len__(self) -> int:
        return len(self.breaks)

    def upper(self, i: int) -> float:
        """Upper limit (inclusive) of band `i`; ``inf`` for the open band."""
        return math.inf if i == len(self.breaks) - 1 else self.breaks[i + 1] - 1


def add_age_band(df: pd.DataFrame, bands: AgeBands, *, age_col: str = "age",
                 out_col: str = "age_band") -> pd.DataFrame:
    """Add an ordered categorical age-band column.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per person or event. Not modified.
    bands : AgeBands
        Left-closed bands; the last band is open-ended.
    age_col : str, default "age"
        Column holding age in completed years.
    out_col : str, default "age_band"
        Name of the new column.

    Returns
    -------
    pandas.DataFrame
        A copy of `df` with `out_col` added.

    Raises
    ------
    MissingColumnsError
        If `age_col` is not in `df`.
    SpecError
        If an age is negative, above 130 or not whole.

    Examples
    --------
    >>> people = pd.DataFrame({"age": [3, 18, 90]})
    >>> add_age_band(people, AgeBands.from_breaks([0, 18, 65]))["age_band"].tolist()
    ['0-17', '18-64', '65+']
    """
    _require(df, [age_col], "add_age_band")
    out = df.copy()
    out[out_col] = bands.assign(df[age_col])
    return out
