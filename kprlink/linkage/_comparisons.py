"""Multi-level comparisons for probabilistic linkage (the gamma vectors).

Each comparison turns a column of candidate pairs into an ``int8`` level:
``-1`` when either value is missing (a neutral level: it adds no weight, and
is not counted as disagreement), ``0`` for the lowest agreement ("else") and
``1 … K`` for increasing agreement, ``K`` being the closest agreement (exact).
String similarities use recordlinkage's jellyfish-backed comparators, computed
once per distinct pair of strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import jellyfish

from kprlink.exceptions import SpecError
from kprlink.linkage._birth_month import BirthMonthComparison
from kprlink.linkage._comparisons_base import MISSING, _check_thresholds, _Comparison
from kprlink.linkage._event_comparisons import EventDatesComparison, EventWindowComparison


def _edit_similarity(dist: object) -> object:
    def sim(a: str, b: str) -> float:
        n = max(len(a), len(b))
        return 1.0 - dist(a, b) / n if n else 1.0  # type: ignore[operator]
    return sim


# The jellyfish functions behind recordlinkage's string comparators, with the
# same normalisation (edit distances: 1 - distance / longer length), called
# directly because recordlinkage's wrappers cost ~10 µs per pair in pandas.
_STRING_METHODS = {
    "jarowinkler": jellyfish.jaro_winkler_similarity,
    "jaro": jellyfish.jaro_similarity,
    "levenshtein": _edit_similarity(jellyfish.levenshtein_distance),
    "damerau_levenshtein": _edit_similarity(jellyfish.damerau_levenshtein_distance),
}


@dataclass(frozen=True)
class ExactComparison(_Comparison):
    """Two levels: values equal, or not (plus the neutral missing level).

    Examples
    --------
    >>> c = ExactComparison("sex")
    >>> c.levels(pd.Series([1, 2, None]), pd.Series([1, 1, 2])).tolist()
    [1, 0, -1]

    With ``term_frequency=True`` the weight of exact agreement uses the
    frequency of the agreed value among the right records instead of the
    average u (agreeing on a small municipality is stronger evidence than
    agreeing on Oslo).
    """

    term_frequency: bool = field(default=False, kw_only=True)

    def __post_init__(self) -> None:
        problems = self._validate_common()
        if problems:
            raise SpecError("ExactComparison is invalid.", problems)

    def level_labels(self) -> list[str]:
        return ["else", "exact"]

    def levels(self, a: pd.Series, b: pd.Series) -> np.ndarray:
        """Level per pair of aligned values ``a[i]``, ``b[i]``."""
        miss = (a.isna().to_numpy() | b.isna().to_numpy())
        eq = np.zeros(len(miss), dtype=bool)  # compared where both present (NA == NA is NA)
        eq[~miss] = (a.to_numpy(dtype=object)[~miss] == b.to_numpy(dtype=object)[~miss])
        out = np.where(eq, 1, 0).astype(np.int8)
        out[miss] = MISSING
        return out


@dataclass(frozen=True)
class StringComparison(_Comparison):
    """Exact, then similarity at or above each threshold, else disagreement.

    Parameters
    ----------
    column : str
        Column in the left frame (and the right one unless `right_column`).
    method : {"jarowinkler", "jaro", "levenshtein", "damerau_levenshtein"}
        recordlinkage string comparator (jellyfish).
    thresholds : sequence of float
        Strictly decreasing similarity cut-offs in (0, 1).

    Examples
    --------
    >>> c = StringComparison("surname", thresholds=(0.9, 0.7))
    >>> c.level_labels()
    ['else', 'jarowinkler>=0.7', 'jarowinkler>=0.9', 'exact']
    >>> a = pd.Series(["hansen", "hansen", "olsen", None])
    >>> b = pd.Series(["hansen", "hanssen", "berg", "berg"])
    >>> c.levels(a, b).tolist()
    [3, 2, 0, -1]
    """

    method: str = field(default="jarowinkler", kw_only=True)
    thresholds: tuple[float, ...] = field(default=(0.92, 0.8), kw_only=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "thresholds", tuple(self.thresholds))
        problems = self._validate_common()
        if self.method not in _STRING_METHODS:
            problems.append(f"StringComparison: method must be one of "
                            f"{sorted(_STRING_METHODS)}, got {self.method!r}.")
        problems += _check_thresholds("StringComparison", self.thresholds,
                                      increasing=False, lower=0.0, upper=1.0)
        if problems:
            raise SpecError("StringComparison is invalid.", problems)

    def level_labels(self) -> list[str]:
        return (["else"] + [f"{self.method}>={t:g}" for t in reversed(self.thresholds)]
                + ["exact"])

    def levels(self, a: pd.Series, b: pd.Series) -> np.ndarray:
        """Level per pair; similarity computed once per distinct string pair."""
        sa = a.astype("string").to_numpy(dtype=object, na_value=None)
        sb = b.astype("string").to_numpy(dtype=object, na_value=None)
        miss = pd.isna(a).to_numpy() | pd.isna(b).to_numpy()
        out = np.full(len(sa), MISSING, dtype=np.int8)
        ok = ~miss
        if not ok.any():
            return out
        codes, uniques = pd.factorize(np.concatenate([sa[ok], sb[ok]]))
        n_ok = int(ok.sum())
        ca, cb = codes[:n_ok].astype(np.int64), codes[n_ok:].astype(np.int64)
        pair_key = ca * len(uniques) + cb
        upair, inverse = np.unique(pair_key, return_inverse=True)
        ua = uniques[upair // len(uniques)]
        ub = uniques[upair % len(uniques)]
        f = _STRING_METHODS[self.method]
        sim = np.fromiter((f(x, y) for x, y in zip(ua, ub)), dtype=float,
                          count=len(upair))[inverse]
        lev = np.zeros(n_ok, dtype=np.int8)
        for i, t in enumerate(reversed(self.thresholds), start=1):
            lev[sim >= t] = i
        lev[ca == cb] = len(self.thresholds) + 1
        out[ok] = lev
        return out


@dataclass(frozen=True)
class NumericComparison(_Comparison):
    """Absolute difference at or below each distance (0 = exact), else disagreement.

    Parameters
    ----------
    distances : sequence of float
        Strictly increasing, >= 0; the first level is the closest.
    term_frequency : bool, default False
        As :class:`ExactComparison` (exact level only).

    Examples
    --------
    >>> c = NumericComparison("birth_year", distances=(0, 1))
    >>> c.levels(pd.Series([1950, 1950, 1950, None]),
    ...          pd.Series([1950, 1951, 1960, 1950])).tolist()
    [2, 1, 0, -1]
    """

    distances: tuple[float, ...] = field(default=(0, 1), kw_only=True)
    term_frequency: bool = field(default=False, kw_only=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "distances", tuple(self.distances))
        problems = self._validate_common()
        problems += _check_thresholds(type(self).__name__, self.distances,
                                      increasing=True, lower=0.0, upper=None)
        if problems:
            raise SpecError(f"{type(self).__name__} is invalid.", problems)

    def level_labels(self) -> list[str]:
        unit = "days" if isinstance(self, DateComparison) else "abs diff"
        return ["else"] + [f"{unit}<={d:g}" for d in reversed(self.distances)]

    def _as_float(self, s: pd.Series) -> np.ndarray:
        return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)

    def levels(self, a: pd.Series, b: pd.Series) -> np.ndarray:
        """Level per pair of aligned values."""
        diff = np.abs(self._as_float(a) - self._as_float(b))
        out = np.zeros(len(diff), dtype=np.int8)
        k = len(self.distances)
        for i, d in enumerate(reversed(self.distances), start=1):
            out[diff <= d] = i
        out[np.isnan(diff)] = MISSING
        assert out.max(initial=0) <= k
        return out


@dataclass(frozen=True)
class DateComparison(NumericComparison):
    """Difference in days between two dates at or below each distance.

    Examples
    --------
    >>> c = DateComparison("death_date", distances=(0, 3))
    >>> a = pd.Series(pd.to_datetime(["2017-01-01", "2017-01-01", None]))
    >>> b = pd.Series(pd.to_datetime(["2017-01-01", "2017-01-03", "2017-01-01"]))
    >>> c.levels(a, b).tolist()
    [2, 1, -1]
    """

    def _as_float(self, s: pd.Series) -> np.ndarray:
        d = pd.to_datetime(s, errors="coerce")
        days = (d - pd.Timestamp("1970-01-01")).dt.days
        return days.to_numpy(dtype=float, na_value=np.nan)


Comparison = (ExactComparison | StringComparison | NumericComparison | EventDatesComparison
              | EventWindowComparison | BirthMonthComparison)


def comparison_matrix(comparisons: Sequence[Comparison], left: pd.DataFrame,
                      right: pd.DataFrame, pos_left: np.ndarray,
                      pos_right: np.ndarray) -> np.ndarray:
    """Gamma matrix (pairs × comparisons, int8) for pairs given by row positions."""
    out = np.empty((len(pos_left), len(comparisons)), dtype=np.int8)
    for j, c in enumerate(comparisons):
        if isinstance(c, (EventDatesComparison, EventWindowComparison)):
            out[:, j] = c.levels_at(left[c.column], right[c.right], pos_left, pos_right)
            continue
        if isinstance(c, BirthMonthComparison):
            out[:, j] = c.levels(left[c.column].iloc[pos_left].reset_index(drop=True),
                                 right[c.right].iloc[pos_right].reset_index(drop=True),
                                 right[c.right_hi_column].iloc[pos_right]
                                 .reset_index(drop=True))
            continue
        a = left[c.column].iloc[pos_left].reset_index(drop=True)
        b = right[c.right].iloc[pos_right].reset_index(drop=True)
        out[:, j] = c.levels(a, b)
    return out


def term_frequency_adjustment(comparisons: Sequence[Comparison], right: pd.DataFrame,
                              pos_right: np.ndarray, gamma: np.ndarray,
                              u: Sequence[np.ndarray], *,
                              joint: Sequence[str] = ()) -> np.ndarray:
    """log2 weight correction per pair for term-frequency comparisons.

    For a pair at the top (exact) level of a comparison with
    ``term_frequency``, the average ``u`` of that level is replaced by the
    share of right records holding the agreed value: the correction is
    ``log2(u_top / f_value)``. Other pairs get 0.

    With `joint` (comparison labels), a pair agreeing exactly on all of them
    is weighed by the share of right records holding that *combination*
    instead of the product of the single shares (or average u): a birth year,
    sex and municipality each common but rare together are strong evidence,
    which the product of marginal frequencies understates.

    Examples
    --------
    >>> right = pd.DataFrame({"m": ["0301", "0301", "0301", "1151"]})
    >>> c = [ExactComparison("m", term_frequency=True)]
    >>> g = np.array([[1], [1], [0]], dtype=np.int8)
    >>> term_frequency_adjustment(c, right, np.array([0, 3, 1]), g,
    ...                           [np.array([0.5, 0.5])]).round(3).tolist()
    [-0.585, 1.0, 0.0]
    """
    per = np.zeros((len(comparisons), len(pos_right)))
    for k, c in enumerate(comparisons):
        if not getattr(c, "term_frequency", False) or len(pos_right) == 0:
            continue
        col = right[c.right]
        freq = col.map(col.value_counts(normalize=True, dropna=True)).to_numpy(
            dtype=float, na_value=np.nan)
        top = gamma[:, k] == len(u[k]) - 1
        f = freq[pos_right[top]]
        ok = np.isfinite(f) & (f > 0)
        vals = np.zeros(int(top.sum()))
        vals[ok] = np.log2(u[k][-1] / f[ok])
        per[k, top] = vals
    ks = [k for k, c in enumerate(comparisons) if c.label in set(joint)]
    if ks and len(pos_right):
        cols = [comparisons[k].right for k in ks]
        n = right.groupby(cols, dropna=True, sort=False, observed=True)[cols[0]].transform("size") if len(cols) > 1 \
            else right[cols[0]].map(right[cols[0]].value_counts(dropna=True))
        f_joint = pd.to_numeric(pd.Series(np.asarray(n).ravel()), errors="coerce").to_numpy(
            dtype=float, na_value=np.nan) / len(right)
        top = np.logical_and.reduce([gamma[:, k] == len(u[k]) - 1 for k in ks])
        f = f_joint[pos_right[top]]
        ok = np.isfinite(f) & (f > 0)
        rows = np.flatnonzero(top)[ok]
        # the combination's share replaces the single shares / average u
        per[ks[0], rows] = sum(np.log2(u[k][-1]) for k in ks) - np.log2(f[ok])
        for k in ks[1:]:
            per[k, rows] = 0.0
    return per.sum(axis=0)
