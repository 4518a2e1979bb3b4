"""Follow-up after the index date: exit, time at risk, first outcome.

A cohort's follow-up starts at the index date and ends at the earliest of

* the first outcome event after the index date (``status`` 1),
* death (``status`` 2: a competing event when an outcome is defined),
* the fixed horizon ``index + horizon_days`` (censored, ``status`` 0),
* the end of the delivery's coverage (censored, ``status`` 0).

:class:`FollowUp` declares this as data (the ``[follow_up]`` table of a cohort
TOML); :func:`add_follow_up` computes it on any person frame, for
statisticians who bring their own cohort.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kprlink.exceptions import MissingColumnsError, Problem, SpecError

__all__ = ["EXIT_REASONS", "FollowUp", "add_follow_up", "coverage_of"]

#: Exit reasons, in the order that breaks ties on the same date.
EXIT_REASONS = ("outcome", "death", "horizon", "end_of_data")
#: Columns :func:`add_follow_up` adds.
FOLLOW_UP_COLUMNS = ("outcome_date", "exit_date", "exit_reason", "status", "time_days",
                     "person_years")
_DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class FollowUp:
    """How a cohort is followed after its index date.

    Parameters
    ----------
    outcome : sequence of EntryCriterion, optional
        Events that end follow-up as the outcome (any criterion qualifies); the
        first such event dated after the index date counts. Empty: follow-up
        ends only at death, the horizon or the end of data.
    outcome_name : str, default "outcome"
        Label of the outcome (reports, the TOML file).
    horizon_days : int, optional
        Follow-up ends at most this many days after the index date.
    end_of_data : datetime.date or ISO str, optional
        Last day the delivery covers; by default the latest claim or episode
        date in the delivery.

    Raises
    ------
    SpecError
        On a bad horizon, date or outcome; ``err.problems`` lists them all.

    Examples
    --------
    >>> FollowUp(horizon_days=365).horizon_days
    365
    """

    outcome: Sequence[Any] = ()
    outcome_name: str = "outcome"
    horizon_days: int | None = None
    end_of_data: dt.date | str | None = None

    def __post_init__(self) -> None:
        from kprlink.cohorts._criteria import EntryCriterion

        where = "follow_up"
        problems: list[Problem] = []
        h = self.horizon_days
        if h is not None and (isinstance(h, bool) or not isinstance(h, int) or h < 1):
            problems.append(Problem(where, "horizon_days", "bad_horizon",
                                    f"horizon_days must be an int >= 1, got {h!r}"))
        end = self.end_of_data
        if end is not None and not isinstance(end, dt.date):
            try:
                end = dt.date.fromisoformat(str(end))
            except ValueError:
                problems.append(Problem(where, "end_of_data", "bad_date",
                                        f"end_of_data {end!r} is not an ISO date"))
        if isinstance(end, dt.datetime):
            end = end.date()
        if not all(isinstance(e, EntryCriterion) for e in self.outcome):
            problems.append(Problem(where, "outcome", "bad_outcome",
                                    "outcome needs EntryCriterion objects"))
        if not str(self.outcome_name):
            problems.append(Problem(where, "outcome_name", "bad_name", "outcome_name is empty"))
        if problems:
            raise SpecError("invalid follow-up", problems)
        object.__setattr__(self, "end_of_data", end)
        object.__setattr__(self, "outcome", tuple(self.outcome))

    @property
    def codelists(self) -> list[Any]:
        """The outcome's code lists."""
        return [c for e in self.outcome for c in e.codelists]

    def to_dict(self) -> dict[str, Any]:
        """The ``[follow_up]`` table of a cohort file."""
        d: dict[str, Any] = {"outcome_name": self.outcome_name}
        if self.horizon_days is not None:
            d["horizon_days"] = self.horizon_days
        if self.end_of_data is not None:
            d["end_of_data"] = self.end_of_data
        if self.outcome:
            d["outcome"] = [e.to_dict() for e in self.outcome]
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, base: Path | None = None,
                  where: str = "follow_up") -> FollowUp:
        """Read the ``[follow_up]`` table; code-list references resolve against `base`."""
        from kprlink.cohorts._criteria import _criteria

        problems: list[Problem] = []
        extra = sorted(set(data) - {"outcome_name", "horizon_days", "end_of_data", "outcome"})
        if extra:
            problems.append(Problem(where, None, "unknown_keys", f"unknown keys {extra}"))
        outcome = _criteria(data.get("outcome", []), base, f"{where} outcome", problems)
        if problems:
            raise SpecError(f"cannot read {where}", problems)
        return cls(outcome, str(data.get("outcome_name", "outcome")),
                   data.get("horizon_days"), data.get("end_of_data"))


def coverage_of(frames: Mapping[str, Any]) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """First and last event date of a delivery's claims and episodes (None if empty)."""
    lo, hi = [], []
    for name, col in (("kuhr_claims", "date"), ("npr_episodes", "date_in")):
        f = frames.get(name)
        if f is not None and col in f and len(f):
            s = f[col]
            if s.notna().any():
                lo.append(s.min())
                hi.append(s.max())
    return (min(lo) if lo else None), (max(hi) if hi else None)


def _washout(people: pd.DataFrame, entry_events: pd.DataFrame, days: int,
             coverage_start: Any) -> np.ndarray:
    """No entry event in [index − days, index) and the data cover that look-back."""
    idx = people["index_date"]
    start = idx - pd.Timedelta(days=days)
    covered = (np.ones(len(people), dtype=bool) if coverage_start is None
               else (start >= pd.Timestamp(coverage_start)).to_numpy(bool))
    ev = entry_events[["person_id", "date"]]
    # reindex, not map: pandas 3.0 cannot map through an empty datetime Series
    dates = people.set_index("person_id")["index_date"]
    at = pd.Series(dates.reindex(ev["person_id"].to_numpy()).to_numpy(), index=ev.index)
    prior = ((ev["date"] < at) & (ev["date"] >= at - pd.Timedelta(days=days))).fillna(False)
    seen = people["person_id"].isin(ev.loc[prior.to_numpy(bool), "person_id"]).to_numpy(bool)
    return covered & ~seen


def _needs_coverage(definition: Any) -> bool:
    return definition.follow_up is not None or any(r.kind == "washout"
                                                   for r in definition.rules)


def _imported_coverage(root: Path, definition: Any) -> tuple[Any, Any]:
    """First and last claim/episode date over the whole imported delivery."""
    if not _needs_coverage(definition):
        return None, None
    import pyarrow.compute as pc

    from kprlink.sources._folder import _Folder

    folder = _Folder(root)
    lo, hi = [], []
    for field, col in (("kuhr_claims", "date"), ("npr_episodes", "date_in")):
        t = folder.read(field, (col,))
        if t is not None and t.num_rows:
            mm = pc.min_max(t[col])
            if mm["min"].is_valid:
                lo.append(pd.Timestamp(mm["min"].as_py()))
                hi.append(pd.Timestamp(mm["max"].as_py()))
    return (min(lo) if lo else None), (max(hi) if hi else None)


def _first_after(events: pd.DataFrame, persons: pd.DataFrame, index: pd.Series,
                 person_col: str, date_col: str) -> np.ndarray:
    """Each person's first event date strictly after their index date (NaT if none)."""
    pid = persons[person_col].to_numpy(np.int64)
    out = np.full(len(persons), np.datetime64("NaT"), dtype="datetime64[ns]")
    if events is None or not len(events) or not len(persons):
        return out
    order = np.argsort(pid, kind="stable")
    ev_pid = pd.array(events[person_col], dtype="Int64").to_numpy(np.int64, na_value=-1)
    pos = np.minimum(np.searchsorted(pid[order], ev_pid), len(pid) - 1)
    row = order[pos]
    found = pid[row] == ev_pid
    ev_date = pd.to_datetime(events[date_col]).to_numpy("datetime64[ns]")
    idx = index.to_numpy("datetime64[ns]")
    ok = found & (ev_date > idx[row])
    first = pd.Series(ev_date[ok]).groupby(row[ok]).min()
    out[first.index.to_numpy()] = first.to_numpy("datetime64[ns]")
    return out


def add_follow_up(persons: pd.DataFrame, outcome_events: pd.DataFrame | None = None, *,
                  end_of_data: dt.date | str | pd.Timestamp,
                  horizon_days: int | None = None, person_col: str = "person_id",
                  index_col: str = "index_date", death_col: str | None = "death_date",
                  date_col: str = "date") -> pd.DataFrame:
    """Add exit date, exit reason, status and time at risk to a person frame.

    Parameters
    ----------
    persons : pandas.DataFrame
        One row per person with `person_col`, `index_col` and (unless
        `death_col` is None) `death_col`. Not modified.
    outcome_events : pandas.DataFrame, optional
        Outcome events (already restricted to the outcome's codes), with
        `person_col` and `date_col`; the first dated after the index date ends
        follow-up. None: no outcome.
    end_of_data : date, ISO str or Timestamp
        Last day of the delivery's coverage.
    horizon_days : int, optional
        Follow-up ends at most this many days after the index date.
    person_col, index_col, death_col, date_col : str
        Column names; ``death_col=None`` ignores death.

    Returns
    -------
    pandas.DataFrame
        A copy with ``outcome_date`` (NaT if none), ``exit_date``,
        ``exit_reason`` (categorical :data:`EXIT_REASONS`), ``status`` (int8:
        0 censored, 1 outcome, 2 death), ``time_days`` (int64, exit − index,
        never negative) and ``person_years`` (time_days / 365.25).

    Raises
    ------
    MissingColumnsError
        If a column is missing.
    SpecError
        If `horizon_days` is not an int >= 1.

    Notes
    -----
    Ties on one date resolve in the order of :data:`EXIT_REASONS`: an outcome
    on the day of death counts as the outcome. An outcome on the index date
    itself does not count (it is not *after* the index date). A person who died
    before the index date gets zero time at risk and ``status`` 2.

    Examples
    --------
    >>> p = pd.DataFrame({"person_id": [1, 2], "index_date": pd.to_datetime(
    ...     ["2017-01-01", "2017-01-01"]), "death_date": pd.to_datetime([None, "2017-03-02"])})
    >>> ev = pd.DataFrame({"person_id": [1], "date": pd.to_datetime(["2017-02-01"])})
    >>> out = add_follow_up(p, ev, end_of_data="2017-12-31")
    >>> out[["exit_reason", "status", "time_days"]].to_numpy().tolist()
    [['outcome', 1, 31], ['death', 2, 60]]
    """
    need = [person_col, index_col] + ([death_col] if death_col else [])
    MissingColumnsError.require(persons, need, "add_follow_up")
    if outcome_events is not None:
        MissingColumnsError.require(outcome_events, [person_col, date_col], "add_follow_up")
    if horizon_days is not None:
        FollowUp(horizon_days=horizon_days)  # validates
    out = persons.copy()
    n = len(out)
    index = pd.to_datetime(out[index_col])
    idx = index.to_numpy("datetime64[ns]")
    nat = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    outcome = (_first_after(outcome_events, out, index, person_col, date_col)
               if outcome_events is not None else nat)
    death = (pd.to_datetime(out[death_col]).to_numpy("datetime64[ns]") if death_col else nat)
    horizon = (idx + np.timedelta64(int(horizon_days), "D") if horizon_days is not None
               else nat)
    end = np.full(n, np.datetime64(pd.Timestamp(end_of_data).normalize(), "ns"))
    # candidates in tie-break order; NaT never wins
    cand = np.stack([outcome, death, horizon, end]).view(np.int64)
    cand = np.where(cand == np.iinfo(np.int64).min, np.iinfo(np.int64).max, cand)
    which = np.argmin(cand, axis=0)  # first minimum = tie-break order
    exit_ = cand[which, np.arange(n)].view("datetime64[ns]")
    days = ((exit_ - idx) // np.timedelta64(1, "D")).astype(np.int64)
    out["outcome_date"] = np.where(which == 0, outcome, nat)
    out["exit_date"] = np.maximum(exit_, idx) if n else exit_
    out["exit_reason"] = pd.Categorical.from_codes(which, categories=list(EXIT_REASONS))
    out["status"] = np.select([which == 0, which == 1], [1, 2], 0).astype(np.int8)
    out["time_days"] = np.maximum(days, 0)
    out["person_years"] = out["time_days"] / _DAYS_PER_YEAR
    return out
