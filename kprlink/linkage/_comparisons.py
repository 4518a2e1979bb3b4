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

MISSING = -1



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


def _check_thresholds(owner: str, values: Sequence[float], *, increasing: bool,
                      lower: float, upper: float | None) -> list[str]:
    problems = []
    vals = list(values)
    if not vals:
        problems.append(f"{owner}: needs at least one threshold.")
    for v in vals:
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not np.isfinite(v):
            problems.append(f"{owner}: threshold {v!r} is not a finite number.")
        elif v < lower or (upper is not None and v > upper):
            problems.append(f"{owner}: threshold {v!r} lies outside [{lower}, {upper}].")
    if len(vals) > 1 and all(isinstance(v, (int, float)) for v in vals):
        d = np.diff(np.asarray(vals, dtype=float))
        if (increasing and not (d > 0).all()) or (not increasing and not (d < 0).all()):
            order = "increasing" if increasing else "decreasing"
            problems.append(f"{owner}: thresholds must be strictly {order}, got {vals}.")
    return problems


@dataclass(frozen=True)
class _Comparison:
    column: str
    right_column: str | None = field(default=None, kw_only=True)
    name: str | None = field(default=None, kw_only=True)

    @property
    def label(self) -> str:
        """Name used in the model table and the ``gamma_<label>`` columns."""
        return self.name or self.column

    @property
    def right(self) -> str:
        return self.right_column or self.column

    def level_labels(self) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _validate_common(self) -> list[str]:
        problems = []
        if not isinstance(self.column, str) or not self.column:
            problems.append(f"{type(self).__name__}: column must be a non-empty str, "
                            f"got {self.column!r}.")
        return problems


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


@dataclass(frozen=True)
class EventDatesComparison(_Comparison):
    """How many left events are followed by a right event within a window.

    The columns hold, per record, a sequence of event dates as integer days
    since 1970-01-01 (e.g. out-of-hours visits on the left, hospital
    admissions on the right). A left event *coincides* when some right event
    falls ``0 … max_days`` days after it (``min_days`` may be negative to
    allow either order). The level is the number of coinciding events, capped
    at ``max(counts)``; a record with no events is missing (neutral). With
    ``empty_right="none"`` only an empty left record is missing and an empty
    right one counts as "none coincide" (e.g. acute admissions on the left
    that an out-of-hours claim on the right should precede: a right record
    without any such claim is evidence, not missing).

    Examples
    --------
    >>> c = EventDatesComparison("days", counts=(1, 2), max_days=1)
    >>> a = pd.Series([[10, 20, 30], [10], [], [5]])
    >>> b = pd.Series([[11, 30], [40], [10], [5, 6]])
    >>> c.levels(a, b).tolist()
    [2, 0, -1, 1]
    >>> EventDatesComparison("days", counts=(1,), empty_right="none").levels(
    ...     pd.Series([[10], []]), pd.Series([[], []])).tolist()
    [0, -1]
    """

    counts: tuple[int, ...] = field(default=(1, 2), kw_only=True)
    min_days: int = field(default=0, kw_only=True)
    max_days: int = field(default=1, kw_only=True)
    empty_right: str = field(default="missing", kw_only=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "counts", tuple(self.counts))
        problems = self._validate_common()
        problems += _check_thresholds("EventDatesComparison", self.counts,
                                      increasing=True, lower=1, upper=None)
        if any(int(c) != c for c in self.counts if isinstance(c, (int, float))):
            problems.append(f"EventDatesComparison: counts must be integers, got {self.counts}.")
        if not (isinstance(self.min_days, int) and isinstance(self.max_days, int)
                and self.min_days <= self.max_days):
            problems.append("EventDatesComparison: need integers min_days <= max_days, "
                            f"got {self.min_days!r}, {self.max_days!r}.")
        if self.empty_right not in ("missing", "none"):
            problems.append("EventDatesComparison: empty_right must be 'missing' or 'none', "
                            f"got {self.empty_right!r}.")
        if problems:
            raise SpecError("EventDatesComparison is invalid.", problems)

    def level_labels(self) -> list[str]:
        return ["none coincide"] + [f">={c} coincide" for c in self.counts]

    def levels(self, a: pd.Series, b: pd.Series) -> np.ndarray:
        """Level per pair of aligned event-date sequences."""
        pos = np.arange(len(a), dtype=np.int64)
        return self.levels_at(a, b, pos, pos)

    def levels_at(self, a: pd.Series, b: pd.Series, pos_left: np.ndarray,
                  pos_right: np.ndarray) -> np.ndarray:
        """Level per pair ``(a[pos_left[i]], b[pos_right[i]])``.

        Each record's events are flattened once (not once per pair); for every
        left event of a pair, the right record's events in the window are
        counted by binary search on the sorted ``record * span + event`` keys,
        so a pair costs O(left events · log right events), whatever the window.
        """
        idx, out, n_hit = _coincidences(a, b, pos_left, pos_right,
                                        [(self.min_days, self.max_days)],
                                        empty_right_none=self.empty_right == "none")
        for i, c in enumerate(self.counts, start=1):
            out[idx[n_hit[0] >= c]] = i
        return out


@dataclass(frozen=True)
class EventWindowComparison(_Comparison):
    """The tightest window in which some left event has a right event.

    Like :class:`EventDatesComparison`, but the levels are nested windows
    (broadest first) of right events relative to a left event, in the
    columns' own unit, e.g. minutes: ``windows=((-1440, 60), (-360, 0))``
    gives "a legevakt claim within 24 hours before the admission (or up to
    an hour after)" and "0–6 hours before". Level 0: no right event in the
    broadest window; an empty left record is missing; an empty right record
    is missing or, with ``empty_right="none"`` (default), level 0.

    Examples
    --------
    >>> c = EventWindowComparison("adm", right_column="lv", windows=((-1440, 60), (-360, 0)))
    >>> c.level_labels()
    ['none', 'in [-1440, 60]', 'in [-360, 0]']
    >>> c.levels(pd.Series([[1000], [1000], [1000], []]),
    ...          pd.Series([[900, 2000], [100], [], [5]])).tolist()
    [2, 1, 0, -1]
    """

    windows: tuple[tuple[int, int], ...] = field(default=((-1440, 60), (-360, 0)),
                                                 kw_only=True)
    empty_right: str = field(default="none", kw_only=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "windows", tuple(tuple(w) for w in self.windows))
        problems = self._validate_common()
        if not self.windows:
            problems.append("EventWindowComparison: needs at least one window.")
        for w in self.windows:
            if not (len(w) == 2 and all(isinstance(x, int) and not isinstance(x, bool)
                                        for x in w) and w[0] <= w[1]):
                problems.append(f"EventWindowComparison: window {w!r} must be two integers "
                                "lo <= hi.")
        for outer, inner in zip(self.windows, self.windows[1:]):
            if len(outer) == len(inner) == 2 and not (outer[0] <= inner[0] and
                                                      inner[1] <= outer[1]):
                problems.append(f"EventWindowComparison: window {inner!r} must lie inside "
                                f"the one before it, {outer!r} (broadest first).")
        if self.empty_right not in ("missing", "none"):
            problems.append("EventWindowComparison: empty_right must be 'missing' or "
                            f"'none', got {self.empty_right!r}.")
        if problems:
            raise SpecError("EventWindowComparison is invalid.", problems)

    def level_labels(self) -> list[str]:
        return ["none"] + [f"in [{lo}, {hi}]" for lo, hi in self.windows]

    def levels(self, a: pd.Series, b: pd.Series) -> np.ndarray:
        """Level per pair of aligned event sequences."""
        pos = np.arange(len(a), dtype=np.int64)
        return self.levels_at(a, b, pos, pos)

    def levels_at(self, a: pd.Series, b: pd.Series, pos_left: np.ndarray,
                  pos_right: np.ndarray) -> np.ndarray:
        """Level per pair ``(a[pos_left[i]], b[pos_right[i]])`` (binary search)."""
        idx, out, n_hit = _coincidences(a, b, pos_left, pos_right, list(self.windows),
                                        empty_right_none=self.empty_right == "none")
        for i, h in enumerate(n_hit, start=1):
            out[idx[h > 0]] = i
        return out


def _coincidences(a: pd.Series, b: pd.Series, pos_left: np.ndarray, pos_right: np.ndarray,
                  windows: list[tuple[int, int]], *, empty_right_none: bool
                  ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Pairs with events on both sides, initial levels, coinciding left events per window.

    Returns ``idx`` (pairs with events on both sides), ``out`` (-1 missing, 0
    where evaluable) and, per window ``(lo, hi)``, the number of distinct left
    events of each ``idx`` pair with a right event at ``left + lo … left + hi``.
    """
    la, sa, va = _flatten(a)
    lb, _, vb = _flatten(b)
    na, nb = la[pos_left], lb[pos_right]
    out = np.full(len(pos_left), MISSING, dtype=np.int8)
    if empty_right_none:
        out[na > 0] = 0
    idx = np.flatnonzero((na > 0) & (nb > 0))
    out[idx] = 0
    if len(idx) == 0:
        return idx, out, [np.zeros(0, np.int64) for _ in windows]
    reach = max(max(abs(lo), abs(hi)) for lo, hi in windows)
    lo_v = min(va.min(initial=0), vb.min(initial=0))
    span = np.int64(max(va.max(initial=0), vb.max(initial=0)) - lo_v + 2 * reach + 3)
    shift = -lo_v + reach + 1  # shifted values are positive and records never overlap
    rec_b = np.repeat(np.arange(len(lb), dtype=np.int64), lb)
    right_keys = rec_b * span + (vb + shift)  # sorted: records in order, events sorted
    k = na[idx]
    pair = np.repeat(np.arange(len(idx)), k)
    within = np.arange(len(pair)) - np.repeat(np.cumsum(k) - k, k)
    base = pos_right[idx[pair]].astype(np.int64) * span + va[sa[pos_left[idx[pair]]] + within]
    base += shift
    hits = []
    for lo, hi in windows:
        n_in = (np.searchsorted(right_keys, base + hi, "right")
                - np.searchsorted(right_keys, base + lo, "left"))
        hits.append(np.bincount(pair[n_in > 0], minlength=len(idx)))
    return idx, out, hits


def _flatten(s: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-record event counts, start offsets and the flat distinct sorted events."""
    empty = np.empty(0, np.int64)
    arrs = [empty if _empty(x) else np.asarray(x, dtype=np.int64).ravel()
            for x in s.to_numpy(dtype=object)]
    lens = np.fromiter((len(x) for x in arrs), dtype=np.int64, count=len(arrs))
    flat = np.concatenate(arrs) if arrs else empty
    starts = np.cumsum(lens) - lens
    same_rec = np.ones(len(flat), dtype=bool)
    same_rec[starts[lens > 0]] = False  # first event of each record
    if (np.diff(flat, prepend=0)[same_rec] <= 0).any():  # unsorted or repeated: fix
        arrs = [np.unique(x) for x in arrs]
        lens = np.fromiter((len(x) for x in arrs), dtype=np.int64, count=len(arrs))
        flat, starts = np.concatenate(arrs), np.cumsum(lens) - lens
    return lens, starts, flat


def _empty(x: object) -> bool:
    if x is None:
        return True
    if isinstance(x, float) and np.isnan(x):
        return True
    try:
        return len(x) == 0  # type: ignore[arg-type]
    except TypeError:
        return True


Comparison = (ExactComparison | StringComparison | NumericComparison | EventDatesComparison
              | EventWindowComparison)


def comparison_matrix(comparisons: Sequence[Comparison], left: pd.DataFrame,
                      right: pd.DataFrame, pos_left: np.ndarray,
                      pos_right: np.ndarray) -> np.ndarray:
    """Gamma matrix (pairs × comparisons, int8) for pairs given by row positions."""
    out = np.empty((len(pos_left), len(comparisons)), dtype=np.int8)
    for j, c in enumerate(comparisons):
        if isinstance(c, (EventDatesComparison, EventWindowComparison)):
            out[:, j] = c.levels_at(left[c.column], right[c.right], pos_left, pos_right)
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
