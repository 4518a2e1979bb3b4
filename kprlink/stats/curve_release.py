"""Survival and cumulative-incidence curves made safe to release.

A Kaplan-Meier step reveals how many persons had the event at that time, and
the number at risk below it how many were censored; a curve with one event per
step publishes every event time. :func:`release_curve` merges consecutive
steps until every count it publishes (events, competing events, censored, the
number left at risk) is 0 or above the rule's ``max_n``, and stops the curve
where that cannot be done. :func:`release_risk_table` reads its figures off the
released steps only, so the risk table reveals nothing the curve does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from kprlink.exceptions import MissingColumnsError, SpecError

__all__ = ["release_curve", "release_risk_table"]

_COUNTS = ("n_events", "n_competing", "n_censored")
_VALUES = ("estimate", "lower", "upper")


def _max_n(rule: Any) -> int:
    m = getattr(rule, "max_n", rule)
    if isinstance(m, bool) or not isinstance(m, int | np.integer) or m < 0:
        raise SpecError("release_curve(): pass a SuppressionRule (or its max_n, an int >= 0).",
                        [f"rule={rule!r}"])
    return int(m)


def _safe(x: np.ndarray | int, m: int) -> np.ndarray | bool:
    return (x == 0) | (x > m)


def _steps(tab: pd.DataFrame, m: int) -> pd.DataFrame:
    """Greedy release steps of one curve (rows sorted by time).

    A loop over the curve's distinct times (not over persons): a step closes at
    the first time where its events exceed `m` and its competing and censored
    counts and the number left at risk are each 0 or above `m`.
    """
    n_risk = tab["n_at_risk"].to_numpy(np.int64)
    counts = {c: tab[c].to_numpy(np.int64) for c in _COUNTS}
    rows, start = [], 0
    if not len(tab) or not _safe(int(n_risk[0]), m):
        return pd.DataFrame(columns=["time", "n_at_risk", *_COUNTS, *_VALUES])
    acc = dict.fromkeys(_COUNTS, 0)
    for j in range(len(tab)):
        for c in _COUNTS:
            acc[c] += int(counts[c][j])
        left = int(n_risk[start]) - sum(acc.values())
        if acc["n_events"] > m and all(_safe(acc[c], m) for c in _COUNTS[1:]) and _safe(left, m):
            rows.append((j, int(n_risk[start]), *(acc[c] for c in _COUNTS)))
            start, acc = j + 1, dict.fromkeys(_COUNTS, 0)
    if not rows:
        return pd.DataFrame(columns=["time", "n_at_risk", *_COUNTS, *_VALUES])
    at = np.array([r[0] for r in rows])
    out = pd.DataFrame(rows, columns=["_row", "n_at_risk", *_COUNTS]).drop(columns="_row")
    out.insert(0, "time", tab["time"].to_numpy()[at])
    for v in _VALUES:
        out[v] = tab[v].to_numpy(float)[at]
    return out


def release_curve(curve: pd.DataFrame, *, rule: Any, group_col: str | None = None
                  ) -> pd.DataFrame:
    """Coarsen a Kaplan-Meier or cumulative-incidence table for release.

    Parameters
    ----------
    curve : pandas.DataFrame
        Output of :func:`kprlink.stats.kaplan_meier` or
        :func:`kprlink.stats.cumulative_incidence`. Not modified.
    rule : SuppressionRule or int
        Counts ``1 .. rule.max_n`` may not be published (zeros may).
    group_col : str, optional
        The curves' group column.

    Returns
    -------
    pandas.DataFrame
        One row per released step: ``time`` (the step's last time: the curve
        takes ``estimate`` from there), ``n_at_risk`` at the step's start, the
        step's ``n_events, n_competing, n_censored``, and ``estimate, lower,
        upper`` at ``time``. A group whose curve cannot be released at all (too
        few persons or events) gets one row of NA, shown with the suppression
        symbol.

    Notes
    -----
    Steps grow greedily over time: a step ends at the first time where its
    events exceed ``max_n`` and its competing events, its censorings and the
    number left at risk after it are each 0 or above ``max_n``. Every released
    count, and every difference between released numbers at risk, is then 0 or
    above ``max_n``. The estimates are the exact estimator's values at the
    step's end; the tail after the last step is not released. Counts are per
    group: release the curves of a whole and its parts together only through
    the study's joint protection.

    Examples
    --------
    >>> from kprlink.stats import kaplan_meier
    >>> d = pd.DataFrame({"time_days": range(1, 21), "status": [1] * 20})
    >>> rel = release_curve(kaplan_meier(d), rule=4)
    >>> rel["time"].tolist(), rel["n_at_risk"].tolist(), rel["n_events"].tolist()
    ([5.0, 10.0, 15.0, 20.0], [20, 15, 10, 5], [5, 5, 5, 5])
    """
    need = ["time", "n_at_risk", *_COUNTS, *_VALUES] + ([group_col] if group_col else [])
    MissingColumnsError.require(curve, need, "release_curve")
    m = _max_n(rule)
    if group_col is None:
        return _steps(curve.sort_values("time", kind="stable"), m).pipe(_typed)
    parts = []
    for key, tab in curve.groupby(group_col, sort=False, dropna=True):
        out = _steps(tab.sort_values("time", kind="stable"), m)
        if not len(out):
            out = pd.DataFrame({c: [np.nan] for c in ["time", "n_at_risk", *_COUNTS,
                                                       *_VALUES]})
        out.insert(0, group_col, key)
        parts.append(out)
    if not parts:
        return _typed(pd.DataFrame(columns=[group_col, "time", "n_at_risk", *_COUNTS,
                                            *_VALUES]))
    return _typed(pd.concat(parts, ignore_index=True))


def _typed(out: pd.DataFrame) -> pd.DataFrame:
    for c in ("n_at_risk", *_COUNTS):
        out[c] = pd.array(pd.to_numeric(out[c]), dtype="Int64")
    for c in ("time", *_VALUES):
        out[c] = pd.to_numeric(out[c]).astype(float)
    return out.reset_index(drop=True)


def release_risk_table(released: pd.DataFrame, *, times: Sequence[float],
                       group_col: str | None = None) -> pd.DataFrame:
    """Numbers at risk and cumulative events at `times`, read off a released curve.

    Parameters
    ----------
    released : pandas.DataFrame
        Output of :func:`release_curve`.
    times : sequence of float
        Times to report (e.g. ``[0, 365, 730]``).
    group_col : str, optional

    Returns
    -------
    pandas.DataFrame
        ``[group_col,] time, as_of, n_at_risk, n_events`` where ``as_of`` is the
        last released step boundary at or before ``time`` (0 before the first
        step) and the counts are the number at risk just after it and the
        events up to it. NA beyond the released curve.

    Notes
    -----
    Every figure is a sum of released counts, so the risk table is suppressed
    exactly as the curve is and adds nothing to it.

    Examples
    --------
    >>> from kprlink.stats import kaplan_meier
    >>> d = pd.DataFrame({"time_days": range(1, 21), "status": [1] * 20})
    >>> rel = release_curve(kaplan_meier(d), rule=4)
    >>> risk = release_risk_table(rel, times=[0, 12])
    >>> risk["as_of"].tolist(), risk["n_at_risk"].tolist(), risk["n_events"].tolist()
    ([0.0, 10.0], [20, 10], [0, 10])
    """
    MissingColumnsError.require(released, ["time", "n_at_risk", *_COUNTS]
                                + ([group_col] if group_col else []), "release_risk_table")
    tp = np.asarray(times, dtype=float)
    groups = ([(None, released)] if group_col is None
              else list(released.groupby(group_col, sort=False, dropna=True)))
    parts = []
    for key, r in groups:
        r = r.dropna(subset=["time"]).sort_values("time")
        bound = r["time"].to_numpy(float)
        n0 = r["n_at_risk"].to_numpy(np.int64)
        removed = sum(r[c].to_numpy(np.int64) for c in _COUNTS)
        after = n0 - removed
        cum_ev = np.cumsum(r["n_events"].to_numpy(np.int64))
        k = np.searchsorted(bound, tp, side="right") - 1  # last boundary <= tp
        if not len(r):
            beyond = np.ones(len(tp), dtype=bool)
            as_of = at_risk = events = np.zeros(len(tp))
        else:
            kk = np.maximum(k, 0)
            as_of = np.where(k >= 0, bound[kk], 0.0)
            at_risk = np.where(k >= 0, after[kk], n0[0])
            events = np.where(k >= 0, cum_ev[kk], 0)
            # past the last released step while persons were still at risk
            beyond = (tp > bound[-1]) & (after[-1] > 0)
        out = pd.DataFrame({"time": tp, "as_of": np.where(beyond, np.nan, as_of),
                            "n_at_risk": pd.array(np.where(beyond, 0, at_risk).astype(np.int64),
                                                  dtype="Int64"),
                            "n_events": pd.array(np.where(beyond, 0, events).astype(np.int64),
                                                 dtype="Int64")})
        out.loc[beyond, ["n_at_risk", "n_events"]] = pd.NA
        if group_col is not None:
            out.insert(0, group_col, key)
        parts.append(out)
    return pd.concat(parts, ignore_index=True)


#: Outcomes of a person in a released step (:func:`curve_person_steps`).
STEP_OUTCOMES = ("event", "competing", "censored", "continues")


def curve_person_steps(persons: pd.DataFrame, released: pd.DataFrame, *, group_col: str,
                       time_col: str = "time_days", status_col: str = "status",
                       competing_values: Sequence[int] = (2,)) -> pd.DataFrame:
    """Who a released curve counts in each step, for the study's joint protection.

    Parameters
    ----------
    persons : pandas.DataFrame
        The persons the curve was estimated on: ``person_id``, `group_col`,
        `time_col` and `status_col` (1 event, `competing_values` competing, else
        censored). Person level: never release it.
    released : pandas.DataFrame
        Output of :func:`release_curve` with `group_col`.

    Returns
    -------
    pandas.DataFrame
        One row per person and released step they are at risk in: ``person_id``,
        `group_col`, ``step`` (``"1"`` ...: the step ending at the curve's k-th
        ``time``) and ``outcome`` (:data:`STEP_OUTCOMES`; ``continues``: still at
        risk after it). Per step, the rows are the step's ``n_at_risk`` and
        their outcomes its ``n_events, n_competing, n_censored``: each released
        count is a cell of this table or its margin over ``outcome``.

    Raises
    ------
    ValueError
        If these counts differ from `released` (the curve is not this one).

    Examples
    --------
    >>> from kprlink.stats import kaplan_meier
    >>> d = pd.DataFrame({"person_id": range(20), "g": "a", "time_days": range(1, 21),
    ...                   "status": [1] * 20})
    >>> rel = release_curve(kaplan_meier(d), rule=4).assign(g="a")
    >>> s = curve_person_steps(d, rel, group_col="g")
    >>> s.groupby("step").size().tolist()
    [20, 15, 10, 5]
    """
    parts = [pd.DataFrame({"person_id": pd.Series(dtype="int64"), group_col: [],
                           "step": [], "outcome": []})]
    shown = released.dropna(subset=["time"])
    for g, rows in shown.groupby(group_col, sort=False):
        who = persons[(persons[group_col] == g).to_numpy(bool)]
        bounds = rows["time"].to_numpy(float)
        t = pd.to_numeric(who[time_col]).to_numpy(float)
        st = pd.to_numeric(who[status_col]).to_numpy(np.int64)
        k = np.searchsorted(bounds, t, side="left")  # exit step (len(bounds): after)
        n_steps = np.minimum(k + 1, len(bounds))  # steps at risk in
        rep = np.repeat(np.arange(len(who)), n_steps)
        step = np.arange(len(rep)) - np.repeat(np.cumsum(n_steps) - n_steps, n_steps)
        last = step == k[rep]
        kind = np.where(st == 1, 0, np.where(np.isin(st, list(competing_values)), 1, 2))
        outcome = np.where(last, kind[rep], 3)
        part = pd.DataFrame({"person_id": who["person_id"].to_numpy(np.int64)[rep],
                             group_col: g, "step": (step + 1).astype(str),
                             "outcome": np.asarray(STEP_OUTCOMES, dtype=object)[outcome]})
        got = pd.crosstab(part["step"].astype(int), part["outcome"]).reindex(
            index=range(1, len(bounds) + 1), columns=list(STEP_OUTCOMES), fill_value=0)
        want = rows[["n_events", "n_competing", "n_censored"]].to_numpy(np.int64)
        if not (np.array_equal(got.iloc[:, :3].to_numpy(), want)
                and np.array_equal(got.sum(axis=1).to_numpy(),
                                   rows["n_at_risk"].to_numpy(np.int64))):
            raise ValueError(f"curve_person_steps(): the persons of group {g!r} do not "
                             "give the released curve's counts; pass the persons and "
                             "the curve estimated on them.")
        parts.append(part)
    return pd.concat(parts, ignore_index=True)
