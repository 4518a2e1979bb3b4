"""Outcomes after the index date: first event, counts, competing death.

Outcome events are any frame of ``person_id, date``: diagnoses from code lists
(:func:`kprlink.cohorts.diagnosis_events`), hospital admissions
(:func:`admission_events`), entry into a municipal service such as a
long-term nursing-home stay (:func:`service_events`), or death
(:func:`death_events`). :func:`add_outcomes` adds, per outcome, the first
event, its status against competing death, the time to it and the number of
events during follow-up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from kprlink.cohorts._followup import add_follow_up
from kprlink.exceptions import MissingColumnsError, SpecError

__all__ = ["add_outcomes", "admission_events", "death_events", "service_events"]


def _person_rows(persons: pd.DataFrame, id_col: str, ids: pd.Series) -> np.ndarray:
    """person_id of each register id (-1 where the person map has none)."""
    pmap = persons.dropna(subset=[id_col]).drop_duplicates(id_col)
    key = pd.array(pmap[id_col], dtype="Int64").to_numpy(np.int64)
    pos = pd.Index(key).get_indexer(pd.array(ids, dtype="Int64").to_numpy(np.int64,
                                                                          na_value=-1))
    return np.where(pos >= 0, pmap["person_id"].to_numpy(np.int64)[np.maximum(pos, 0)], -1)


def _frame(data: Any, name: str) -> pd.DataFrame | None:
    """One canonical frame of a Delivery or mapping (None when absent)."""
    return data.get(name) if isinstance(data, Mapping) else getattr(data, name, None)


def _events(pid: np.ndarray, date: pd.Series, keep: np.ndarray) -> pd.DataFrame:
    ok = keep & (pid >= 0) & date.notna().to_numpy(bool)
    return pd.DataFrame({"person_id": pid[ok],
                         "date": pd.to_datetime(date).to_numpy("datetime64[ns]")[ok]})


def admission_events(data: Any, *, persons: pd.DataFrame,
                     care_levels: Sequence[int] = (1,),
                     urgency: Sequence[int] | None = None) -> pd.DataFrame:
    """NPR episodes as outcome events (``person_id, date`` = admission date).

    Parameters
    ----------
    data : Delivery or mapping
        Canonical frames with ``npr_episodes``.
    persons : pandas.DataFrame
        Person map (``LinkageResult.persons``: ``person_id, npr_id``).
    care_levels : sequence of int, default (1,)
        NPR ``omsorgsniva``: 1 inpatient, 2 day, 3 outpatient.
    urgency : sequence of int, optional
        Keep these urgency codes only (e.g. emergency admissions).
    """
    ep = _frame(data, "npr_episodes")
    if ep is None:
        return _events(np.zeros(0, np.int64), pd.Series([], dtype="datetime64[ns]"),
                       np.zeros(0, bool))
    need = ["npr_id", "date_in", "care_level"] + (["urgency"] if urgency else [])
    MissingColumnsError.require(ep, need, "admission_events")
    keep = ep["care_level"].isin(list(care_levels)).to_numpy(bool)
    if urgency:
        keep &= ep["urgency"].isin(list(urgency)).to_numpy(bool)
    return _events(_person_rows(persons, "npr_id", ep["npr_id"]), ep["date_in"], keep)


def service_events(data: Any, *, persons: pd.DataFrame,
                   service_codes: Sequence[int] = (21,)) -> pd.DataFrame:
    """KPR helse og omsorg service starts as outcome events (``person_id, date``).

    The default, service 21, is a long-term stay in an institution (nursing
    home entry). Persons are found by ``kpr_id``.
    """
    ho = _frame(data, "ho_services")
    if ho is None:
        return _events(np.zeros(0, np.int64), pd.Series([], dtype="datetime64[ns]"),
                       np.zeros(0, bool))
    MissingColumnsError.require(ho, ["kpr_id", "service_code", "start_date"], "service_events")
    keep = ho["service_code"].isin(list(service_codes)).to_numpy(bool)
    return _events(_person_rows(persons, "kpr_id", ho["kpr_id"]), ho["start_date"], keep)


def death_events(persons: pd.DataFrame, *, death_col: str = "death_date") -> pd.DataFrame:
    """Deaths as outcome events (``person_id, date``)."""
    MissingColumnsError.require(persons, ["person_id", death_col], "death_events")
    return _events(persons["person_id"].to_numpy(np.int64), persons[death_col],
                   np.ones(len(persons), dtype=bool))


def add_outcomes(persons: pd.DataFrame, outcomes: Mapping[str, pd.DataFrame], *,
                 end_of_data: dt.date | str | pd.Timestamp, horizon_days: int | None = None,
                 person_col: str = "person_id", index_col: str = "index_date",
                 death_col: str | None = "death_date") -> pd.DataFrame:
    """Add, per outcome, the first event after the index date, its status and a count.

    Parameters
    ----------
    persons : pandas.DataFrame
        One row per person with `person_col`, `index_col`, `death_col`. Not modified.
    outcomes : mapping of str to pandas.DataFrame
        Outcome name → its events (``person_id, date``).
    end_of_data, horizon_days
        End of follow-up besides death, as for :func:`kprlink.cohorts.add_follow_up`.
    person_col, index_col, death_col : str

    Returns
    -------
    pandas.DataFrame
        A copy with, for each outcome ``o``: ``o_first_date`` (first event after the
        index date within follow-up, NaT if none), ``o_status`` (1 event,
        2 death first, 0 censored), ``o_days`` (index to event, death or end of
        follow-up) and ``o_n`` (events after the index date up to death, the
        horizon or the end of data: recurrent events, not stopped by the first).

    Raises
    ------
    SpecError
        If an outcome name would overwrite a column.

    Notes
    -----
    With ``death_events`` as an outcome, death is the event (status 1), not
    a competing one. Events on the index date do not count.

    Examples
    --------
    >>> p = pd.DataFrame({"person_id": [1, 2], "index_date": pd.to_datetime(
    ...     ["2017-01-01"] * 2), "death_date": pd.to_datetime([None, "2017-02-01"])})
    >>> adm = pd.DataFrame({"person_id": [1, 1, 2], "date": pd.to_datetime(
    ...     ["2017-03-01", "2017-05-01", "2017-03-01"])})
    >>> out = add_outcomes(p, {"admission": adm}, end_of_data="2017-12-31")
    >>> out[["admission_status", "admission_days", "admission_n"]].to_numpy().tolist()
    [[1, 59, 2], [2, 31, 0]]
    """
    clash = [c for name in outcomes for c in (f"{name}_first_date", f"{name}_status",
                                             f"{name}_days", f"{name}_n")
             if c in persons.columns]
    if clash:
        raise SpecError("add_outcomes(): outcome names would overwrite columns.",
                        [f"column {c!r} exists" for c in clash])
    out = persons.copy()
    # the end of follow-up without any outcome: death, horizon, end of data
    base = add_follow_up(persons, None, end_of_data=end_of_data, horizon_days=horizon_days,
                         person_col=person_col, index_col=index_col, death_col=death_col)
    end = base["exit_date"].to_numpy("datetime64[ns]")
    idx = pd.to_datetime(persons[index_col]).to_numpy("datetime64[ns]")
    pid = persons[person_col].to_numpy(np.int64)
    order = np.argsort(pid, kind="stable")
    for name, ev in outcomes.items():
        MissingColumnsError.require(ev, [person_col, "date"], "add_outcomes")
        fu = add_follow_up(persons, ev, end_of_data=end_of_data, horizon_days=horizon_days,
                           person_col=person_col, index_col=index_col, death_col=death_col)
        out[f"{name}_first_date"] = fu["outcome_date"].to_numpy()
        out[f"{name}_status"] = fu["status"].to_numpy()
        out[f"{name}_days"] = fu["time_days"].to_numpy()
        n = np.zeros(len(persons), dtype=np.int64)
        if len(persons) and len(ev):
            ev_pid = pd.array(ev[person_col], dtype="Int64").to_numpy(np.int64, na_value=-1)
            pos = np.minimum(np.searchsorted(pid[order], ev_pid), len(pid) - 1)
            row = order[pos]
            d = pd.to_datetime(ev["date"]).to_numpy("datetime64[ns]")
            ok = (pid[row] == ev_pid) & (d > idx[row]) & (d <= end[row])
            n = np.bincount(row[ok], minlength=len(persons)).astype(np.int64)
        out[f"{name}_n"] = n
    return out
