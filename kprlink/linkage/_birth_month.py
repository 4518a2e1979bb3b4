"""Birth-month evidence: a delivered month against an interval inferred from ages.

NPR delivers the birth month (``fodt_mnd``) beside the birth year; KUHR claims
carry only the birth year (``fodselsaar``) and the age in completed years at the
claim (``alder``). A person's claims before and after a birthday therefore bound
the birth month: a claim in month *m* whose age already equals ``year - birth
year`` had the birthday behind it (birth month <= *m*); one whose age is a year
less had it ahead (birth month >= *m*). :func:`birth_month_interval` combines a
person's claims into ``[lo, hi]``, and :class:`BirthMonthComparison` compares a
month with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kprlink.exceptions import SpecError
from kprlink.linkage._comparisons_base import MISSING, _check_thresholds, _Comparison


def birth_month_interval(ids: pd.Series, dates: pd.Series, age: pd.Series,
                         birth_year: pd.Series, index: pd.Index) -> pd.DataFrame:
    """Birth-month bounds ``lo``, ``hi`` (1–12) per id from dated ages.

    Parameters
    ----------
    ids, dates, age, birth_year : pandas.Series
        Aligned, one value per event: person id, event date, age in completed
        years at the event, birth year.
    index : pandas.Index
        Ids of the output rows.

    Returns
    -------
    pandas.DataFrame
        ``birth_month_lo``, ``birth_month_hi`` (``Int8``), indexed by `index`.
        Both are missing for an id without a usable event, and where the events
        contradict each other (``lo > hi``). Events whose age is neither
        ``year - birth_year`` nor one less (a wrong age or birth year) and
        events with a missing value are ignored.

    Notes
    -----
    The age steps up on the birthday, so an event on the birthday counts as
    "after". An id whose events never straddle a birthday keeps the bound of
    one side only (e.g. claims in August–December after a March birthday give
    ``[1, 8]``).

    Examples
    --------
    >>> ids = pd.Series([1, 1, 2, 3, 4, 4])
    >>> dates = pd.Series(pd.to_datetime(["2017-03-10", "2017-05-02", "2017-01-20",
    ...                                   "2017-06-01", "2017-02-01", "2017-09-01"]))
    >>> age = pd.Series([40, 41, 0, 50, 30, 29])
    >>> by = pd.Series([1976, 1976, 2017, 1960, 1987, 1987])
    >>> birth_month_interval(ids, dates, age, by, pd.Index([1, 2, 3, 4, 5])).astype(
    ...     "float").values.tolist()
    [[3.0, 5.0], [1.0, 1.0], [nan, nan], [nan, nan], [nan, nan]]
    """
    d = pd.to_datetime(dates, errors="coerce")
    a = pd.to_numeric(age, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    y = pd.to_numeric(birth_year, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    year = d.dt.year.to_numpy(dtype=float, na_value=np.nan)
    month = d.dt.month.to_numpy(dtype=float, na_value=np.nan)
    step = a - (year - y)  # 0: birthday passed this year, -1: still ahead
    after, before = step == 0, step == -1
    frame = pd.DataFrame({"id": ids.to_numpy(),
                          "hi": np.where(after, month, 12.0),
                          "lo": np.where(before, month, 1.0)})[after | before]
    g = frame.groupby("id", sort=False)
    lo = g["lo"].max().reindex(index)
    hi = g["hi"].min().reindex(index)
    bad = (lo > hi).to_numpy()
    out = pd.DataFrame({"birth_month_lo": lo.to_numpy(), "birth_month_hi": hi.to_numpy()},
                       index=index)
    out.loc[bad, :] = np.nan
    return out.astype("Int8")


@dataclass(frozen=True)
class BirthMonthComparison(_Comparison):
    """A birth month (left) against a birth-month interval ``[lo, hi]`` (right).

    Levels: ``0`` the month lies outside the interval; ``1`` inside an
    interval wider than ``max(widths)`` months; then, for each width (largest
    first), inside an interval of at most that many months; the last level
    (width 1 when ``widths`` starts with 1) is agreement on the month. Missing
    (neutral): the month or the interval is missing, or the interval spans all
    twelve months (no information) — never disagreement.

    Parameters
    ----------
    column : str
        Left birth month (1–12).
    right_column, right_hi_column : str
        Right interval bounds, default ``birth_month_lo`` / ``birth_month_hi``
        (see :func:`birth_month_interval`).
    widths : sequence of int
        Strictly increasing interval widths in months, 1–11.

    Examples
    --------
    >>> c = BirthMonthComparison("birth_month", widths=(1, 3))
    >>> c.level_labels()
    ['outside', 'inside (>3 months)', 'inside (<=3 months)', 'inside (<=1 months)']
    >>> c.levels(pd.Series([3, 3, 3, 3, None, 3]), pd.Series([3, 2, 1, 4, 3, 1]),
    ...          pd.Series([3, 4, 8, 6, 3, 12])).tolist()
    [3, 2, 1, 0, -1, -1]
    """

    right_hi_column: str = field(default="birth_month_hi", kw_only=True)
    widths: tuple[int, ...] = field(default=(1, 3), kw_only=True)

    def __post_init__(self) -> None:
        if self.right_column is None:
            object.__setattr__(self, "right_column", "birth_month_lo")
        object.__setattr__(self, "widths", tuple(self.widths))
        problems = self._validate_common()
        problems += _check_thresholds("BirthMonthComparison", self.widths,
                                      increasing=True, lower=1, upper=11)
        if any(isinstance(w, float) and int(w) != w for w in self.widths):
            problems.append(f"BirthMonthComparison: widths must be integers, got "
                            f"{self.widths}.")
        if not isinstance(self.right_hi_column, str) or not self.right_hi_column:
            problems.append("BirthMonthComparison: right_hi_column must be a non-empty str, "
                            f"got {self.right_hi_column!r}.")
        if problems:
            raise SpecError("BirthMonthComparison is invalid.", problems)

    def level_labels(self) -> list[str]:
        return (["outside", f"inside (>{max(self.widths)} months)"]
                + [f"inside (<={w} months)" for w in reversed(self.widths)])

    def levels(self, a: pd.Series, lo: pd.Series, hi: pd.Series) -> np.ndarray:
        """Level per pair of aligned month ``a[i]`` and interval ``[lo[i], hi[i]]``."""
        def num(s: pd.Series) -> np.ndarray:
            return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)

        m, l_, h = num(a), num(lo), num(hi)
        width = h - l_ + 1
        inside = (m >= l_) & (m <= h)
        out = np.where(inside, 1, 0).astype(np.int8)
        for i, w in enumerate(reversed(self.widths), start=2):
            out[inside & (width <= w)] = i
        out[np.isnan(m) | np.isnan(width) | (width >= 12) | (width < 1)] = MISSING
        return out
