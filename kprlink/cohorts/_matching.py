"""Risk-set (incidence-density) matching of controls to cases.

At each case's index date, controls are drawn from the persons of the same
stratum (sex, birth year, municipality or county …) who are then under
observation and not yet cases themselves. Sampling is with replacement across
cases (a person may serve several cases, and be a control before becoming a
case), without replacement within a case, seeded and independent of row order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kprlink.exceptions import MissingColumnsError, SpecError

__all__ = ["MatchResult", "match_risk_set"]

_MAX_ROUNDS = 30
_EXACT_BELOW = 4  # enumerate every eligible control when fewer than 4 k remain
_ENUMERATE_UP_TO = 10_000  # after the rounds, enumerate blocks up to this size


@dataclass(frozen=True)
class MatchResult:
    """Result of :func:`match_risk_set`.

    Attributes
    ----------
    sets : pandas.DataFrame
        One row per case and per control drawn: ``set_id`` (one per case),
        ``person_id``, ``case`` (bool), ``index_date`` (the case's), and the
        matching columns. Person-level: never release it.
    report : pandas.DataFrame
        ``n_cases, n_controls_wanted, n_full_sets, n_short_sets, n_no_controls,
        n_control_rows, n_distinct_controls, n_controls_later_cases`` and the
        seed.
    """

    sets: pd.DataFrame
    report: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """The matching report."""
        return self.report.copy()

    def __repr__(self) -> str:
        r = self.report.iloc[0]
        return (f"<MatchResult {int(r['n_cases']):,} cases, 1:{int(r['n_controls_wanted'])}: "
                f"{int(r['n_full_sets']):,} full sets, {int(r['n_short_sets']):,} short, "
                f"{int(r['n_no_controls']):,} without controls>")


def _stratum_codes(cases: pd.DataFrame, pop: pd.DataFrame, on: Sequence[str]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """One integer per stratum, shared by cases and population (-1: missing key)."""
    both = pd.concat([cases[list(on)], pop[list(on)]], ignore_index=True)
    codes = (both.groupby(list(on), sort=True, dropna=True).ngroup()
             .fillna(-1).to_numpy(np.int64))  # NaN where a key is missing
    return codes[:len(cases)], codes[len(cases):]


def match_risk_set(cases: pd.DataFrame, population: pd.DataFrame, *, on: Sequence[str],
                   n_controls: int, seed: int, person_col: str = "person_id",
                   index_col: str = "index_date", entry_col: str | None = None,
                   exit_col: str | None = "exit_date",
                   event_col: str | None = "event_date") -> MatchResult:
    """Draw `n_controls` controls per case from its risk set.

    Parameters
    ----------
    cases : pandas.DataFrame
        One row per case: `person_col`, `index_col` and the `on` columns. Not modified.
    population : pandas.DataFrame
        Candidate controls (cases may be among them): `person_col`, the `on`
        columns and, as given, `entry_col` (start of observation), `exit_col`
        (end: death, emigration, end of data) and `event_col` (their own case
        date; NaT if never a case). Not modified.
    on : sequence of str
        Matching columns, e.g. ``["sex", "birth_year", "county"]``.
    n_controls : int
        Controls per case (k >= 1).
    seed : int
        Seed of the random draw; same inputs and seed, same sets (whatever the
        row order).
    person_col, index_col, entry_col, exit_col, event_col : str or None
        Column names; None where the population has no such column.

    Returns
    -------
    MatchResult

    Raises
    ------
    MissingColumnsError, SpecError

    Notes
    -----
    A person is eligible for a case with index date ``t`` if in the case's
    stratum, ``entry <= t < exit``, not a case by ``t`` (``event > t``; on the
    same day they are not a control), and not the case. Within a stratum the
    population is sorted by the end of eligibility ``min(exit, event)``, so the
    persons still eligible at ``t`` are a contiguous block; controls are drawn
    uniformly from it by vectorised rounds of rejection (entry after ``t``,
    the case itself, repeats), and enumerated exactly where few remain. No
    loop over persons or cases.

    Examples
    --------
    >>> cases = pd.DataFrame({"person_id": [1], "index_date": pd.to_datetime(["2017-06-01"]),
    ...                       "sex": [2]})
    >>> pop = pd.DataFrame({"person_id": [1, 2, 3, 4], "sex": [2, 2, 2, 1],
    ...                     "exit_date": pd.to_datetime(["2020-01-01", "2017-01-01",
    ...                                                  "2020-01-01", "2020-01-01"])})
    >>> res = match_risk_set(cases, pop, on=["sex"], n_controls=2, seed=1, event_col=None)
    >>> res.sets["person_id"].tolist()
    [1, 3]
    """
    if isinstance(n_controls, bool) or not isinstance(n_controls, int) or n_controls < 1:
        raise SpecError("match_risk_set(): n_controls must be an int >= 1.",
                        [f"n_controls={n_controls!r}"])
    MissingColumnsError.require(cases, [person_col, index_col, *on], "match_risk_set")
    opt = [c for c in (entry_col, exit_col, event_col) if c]
    MissingColumnsError.require(population, [person_col, *on, *opt], "match_risk_set")
    if cases[index_col].isna().any():
        raise SpecError("match_risk_set(): every case needs an index date.",
                        [f"{int(cases[index_col].isna().sum())} case(s) lack {index_col}"])
    k = n_controls
    # deterministic order whatever the input order
    cases = cases.sort_values([index_col, person_col], kind="stable").reset_index(drop=True)
    c_str, p_str = _stratum_codes(cases, population, on)
    big = np.iinfo(np.int64).max

    def ns(col: str | None, default: int) -> np.ndarray:
        if col is None:
            return np.full(len(population), default, dtype=np.int64)
        v = pd.to_datetime(population[col]).to_numpy("datetime64[ns]").view(np.int64)
        return np.where(v == np.iinfo(np.int64).min, default, v)

    entry = ns(entry_col, np.iinfo(np.int64).min)
    stop = np.minimum(ns(exit_col, big), ns(event_col, big))
    p_id = population[person_col].to_numpy(np.int64)
    order = np.lexsort((p_id, stop, p_str))
    p_str, entry, stop, p_id = p_str[order], entry[order], stop[order], p_id[order]
    keep = p_str >= 0
    p_str, entry, stop, p_id = p_str[keep], entry[keep], stop[keep], p_id[keep]
    n_strata = int(max(c_str.max(initial=-1), p_str.max(initial=-1))) + 1
    s_lo = np.searchsorted(p_str, np.arange(n_strata), side="left")
    s_hi = np.searchsorted(p_str, np.arange(n_strata), side="right")

    t = pd.to_datetime(cases[index_col]).to_numpy("datetime64[ns]").view(np.int64)
    cid = cases[person_col].to_numpy(np.int64)
    valid_case = c_str >= 0
    cs = np.where(valid_case, c_str, 0)
    # eligible block per case: stop > t, within the stratum (stop is sorted there)
    lo = np.zeros(len(cases), dtype=np.int64)
    hi = np.zeros(len(cases), dtype=np.int64)
    if n_strata and len(p_str):
        lo = _block_start(p_str, stop, cs, t, s_lo, s_hi)
        hi = s_hi[cs]
    lo = np.where(valid_case, lo, 0)
    hi = np.where(valid_case, hi, 0)

    rng = np.random.default_rng(seed)
    chosen_case: list[np.ndarray] = []
    chosen_pos: list[np.ndarray] = []
    got = np.zeros(len(cases), dtype=np.int64)

    def ok(case: np.ndarray, pos: np.ndarray) -> np.ndarray:
        return (entry[pos] <= t[case]) & (p_id[pos] != cid[case])

    def take(case: np.ndarray, pos: np.ndarray) -> None:
        """Keep new, valid, distinct draws up to k per case."""
        if not len(case):
            return
        m = ok(case, pos)
        case, pos = case[m], pos[m]
        width = np.int64(len(p_id) + 1)
        prior = (np.concatenate(chosen_case) * width + np.concatenate(chosen_pos)
                 if chosen_case else np.zeros(0, np.int64))
        _, first = np.unique(np.concatenate([prior, case * width + pos]), return_index=True)
        fresh = np.zeros(len(prior) + len(case), dtype=bool)
        fresh[first] = True
        fresh = fresh[len(prior):]
        case, pos = case[fresh], pos[fresh]
        # random order within a case already; cap at k
        order_ = np.argsort(case, kind="stable")
        case, pos = case[order_], pos[order_]
        rank = np.arange(len(case)) - np.searchsorted(case, case, side="left")
        room = k - got[case]
        sel = rank < room
        chosen_case.append(case[sel])
        chosen_pos.append(pos[sel])
        np.add.at(got, case[sel], 1)

    size = hi - lo

    def enumerate_all(ex: np.ndarray) -> None:
        """Every eligible position of the cases `ex`, in random order."""
        ex = ex[size[ex] > 0]
        if len(ex):
            rep = np.repeat(ex, size[ex])
            offs = np.arange(len(rep)) - np.repeat(np.cumsum(size[ex]) - size[ex], size[ex])
            perm = np.lexsort((rng.random(len(rep)), rep))
            take(rep[perm], (lo[rep] + offs)[perm])

    exact = size <= _EXACT_BELOW * k
    enumerate_all(np.flatnonzero(exact))
    todo = np.flatnonzero(~exact)
    for _ in range(_MAX_ROUNDS):
        todo = todo[got[todo] < k]
        if not len(todo):
            break
        need = 2 * (k - got[todo])
        rep = np.repeat(todo, need)
        pos = lo[rep] + (rng.random(len(rep)) * size[rep]).astype(np.int64)
        take(rep, pos)
    # blocks where rejection kept failing (most entered after t): enumerate the moderate ones
    short = todo[(got[todo] < k) & (size[todo] <= _ENUMERATE_UP_TO)]
    enumerate_all(short)
    cc = np.concatenate(chosen_case) if chosen_case else np.zeros(0, np.int64)
    cp = np.concatenate(chosen_pos) if chosen_pos else np.zeros(0, np.int64)
    return _result(cases, population, on, person_col, index_col, cc, p_id[cp], got, k, seed,
                   event_col)


def _block_start(p_str: np.ndarray, stop: np.ndarray, cs: np.ndarray, t: np.ndarray,
                 s_lo: np.ndarray, s_hi: np.ndarray) -> np.ndarray:
    """First position in each case's stratum whose stop is after t (stop sorted within)."""
    # composite sort key: stratum, then stop; t searched within the case's stratum
    rank = np.searchsorted(np.unique(np.concatenate([stop, t])), stop)
    width = int(rank.max(initial=0)) + 2
    key = p_str * width + rank
    t_rank = np.searchsorted(np.unique(np.concatenate([stop, t])), t)
    # stop > t  <=>  rank(stop) > rank(t)
    return np.searchsorted(key, cs * width + t_rank, side="right").clip(s_lo[cs], s_hi[cs])


def _result(cases: pd.DataFrame, population: pd.DataFrame, on: Sequence[str],
            person_col: str, index_col: str, cc: np.ndarray, ctrl: np.ndarray,
            got: np.ndarray, k: int, seed: int, event_col: str | None) -> MatchResult:
    n = len(cases)
    set_id = np.arange(1, n + 1, dtype=np.int64)
    case_rows = pd.DataFrame({"set_id": set_id, person_col: cases[person_col].to_numpy(np.int64),
                              "case": True, index_col: cases[index_col].to_numpy()})
    ctrl_rows = pd.DataFrame({"set_id": set_id[cc], person_col: ctrl, "case": False,
                              index_col: cases[index_col].to_numpy()[cc]})
    sets = pd.concat([case_rows, ctrl_rows], ignore_index=True)
    sets = sets.sort_values(["set_id", "case", person_col], ascending=[True, False, True],
                            kind="stable").reset_index(drop=True)
    for c in on:
        sets[c] = cases[c].to_numpy()[sets["set_id"].to_numpy() - 1]
    later = 0
    if event_col is not None and len(ctrl):
        ev = population.drop_duplicates(person_col).set_index(person_col)[event_col]
        later = int(pd.Series(ctrl).map(ev).notna().sum())
    report = pd.DataFrame([{
        "n_cases": n, "n_controls_wanted": k, "n_full_sets": int((got == k).sum()),
        "n_short_sets": int(((got > 0) & (got < k)).sum()),
        "n_no_controls": int((got == 0).sum()), "n_control_rows": int(len(ctrl)),
        "n_distinct_controls": int(len(np.unique(ctrl))),
        "n_controls_later_cases": later, "seed": seed}])
    return MatchResult(sets, report)
