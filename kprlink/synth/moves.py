"""Moves between municipalities during the period (municipality over time).

A share of persons moves once between 1 July 2016 and 31 December 2017; KUHR
``kommuneNr`` (and ``kommunenrPB``, ``praksiskommune``, ``bydel``) and NPR
``komnrhjem2`` (and ``bydel2``, the institution's county) follow the residence
at each event's date, and the population table counts persons where they
lived on 1 January. Drawn from a stream of its own, so the other columns keep
their bytes.

Rates are estimates [E] shaped after SSB's internal-migration statistics
(statistikkbanken table 09588, "Innenlandske flyttinger"): about 4 % of the
population moves to another municipality each year, most in their twenties
and thirties, few after 67; about half of the moves stay in the county.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kprlink.synth.config import PERIOD_END, PERIOD_START
from kprlink.synth.world import EPOCH, exposure

P_LO, P_HI = (PERIOD_START - EPOCH).days, (PERIOD_END - EPOCH).days

#: [E] yearly probability of moving to another municipality, by age (lower
#: bounds of the bands, age at the end of 2017).
MOVE_RATE_AGES = np.array([0, 20, 30, 40, 67, 80])
MOVE_RATE = np.array([0.03, 0.09, 0.05, 0.025, 0.012, 0.015])
#: [E] share of moves within the county.
P_SAME_COUNTY = 0.5


def draw_moves(persons: pd.DataFrame, munis: pd.DataFrame, rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray]:
    """Move day (-1: none) and destination municipality index per person.

    A person moves at most once, on a uniform day while alive in the period
    (after the first day); the destination is another municipality of the
    same county with probability ``P_SAME_COUNTY``, otherwise any other one,
    weighted by population share.
    """
    n = len(persons)
    age = np.maximum(persons["age17"].to_numpy(), 0)
    rate = MOVE_RATE[np.searchsorted(MOVE_RATE_AGES, age, side="right") - 1]
    lo, hi = exposure(persons, P_LO + 1, P_HI)
    years = np.clip(hi - lo + 1, 0, None) / 365.25
    moves = rng.random(n) < 1 - np.exp(-rate * years)
    day = np.where(moves, lo + np.floor(rng.random(n) * np.maximum(hi - lo + 1, 1)), -1)
    origin = persons["municipality"].to_numpy().astype(np.int64)
    county = munis["county"].to_numpy()
    share = munis["pop_share"].to_numpy(dtype=float)
    same = rng.random(n) < P_SAME_COUNTY
    u = rng.random(n)
    dest = origin.copy()
    order = np.argsort(county, kind="stable")
    for c in np.unique(county):
        idx = order[county[order] == c]
        w = np.cumsum(share[idx]) / share[idx].sum()
        sel = np.flatnonzero(moves & same & (county[origin] == c))
        dest[sel] = idx[np.searchsorted(w, u[sel], side="right").clip(0, len(idx) - 1)]
    other = np.flatnonzero(moves & ~same)
    w = np.cumsum(share) / share.sum()
    dest[other] = np.searchsorted(w, u[other], side="right").clip(0, len(share) - 1)
    # a draw of the own municipality (or a one-municipality county): no move
    stay = dest == origin
    day = np.where(stay, -1, day).astype(np.int32)
    return day, dest.astype(np.int16)


def residence(municipality: np.ndarray, move_day: np.ndarray | None,
              move_to: np.ndarray | None, day: np.ndarray) -> np.ndarray:
    """Municipality index at `day` (all arrays aligned per event).

    >>> residence(np.array([1, 1, 2]), np.array([10, 10, -1]), np.array([5, 5, 2]),
    ...           np.array([9, 10, 50])).tolist()
    [1, 5, 2]
    """
    if move_day is None or move_to is None:
        return municipality
    moved = (move_day >= 0) & (day >= move_day)
    return np.where(moved, move_to, municipality)
