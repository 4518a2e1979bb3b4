"""A synthetic Norway followed over several calendar years (the multi-year panel).

Everyone alive on 1 January of the first year (SSB 07459 shape, scaled to the
year's total), then year by year: deaths (Gompertz, calibrated to about
:data:`~kprlink.synth.calibration.DEATHS_2017` a year, dementia x2.2),
births, immigration, moves between municipalities and incident dementia.
Registered dementia (a coded GP/out-of-hours or hospital contact) is drawn per
person and year: the first registration with :data:`P_FIRST_REG` a year while
the person has dementia, later years with :data:`P_REPEAT_REG`.

Estimates are marked [E]; the calibration they were fitted to is in
``truth/calibration_by_year.csv`` of each delivery.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kprlink.synth import calibration as cal
from kprlink.synth.moves import MOVE_RATE, MOVE_RATE_AGES
from kprlink.synth.population import MAX_AGE, municipalities, single_age_counts
from kprlink.synth.world import _DEM_BREAKS, _DEM_KEYS, _band_index, _gompertz, day

__all__: list[str] = []

#: [V] SSB 07459 population on 1 January 2016 (the first year's total).
POP_2016 = 5_213_985
#: [E] births a year relative to 2017 (SSB: 2017 56 633, 2020 52 979, 2023 51 980).
BIRTH_TREND = -0.012
#: [E] net immigration a year, share of the population (SSB: 2016-2024 about 0.3-0.8 %).
IMMIGRATION = 0.004
#: [E] yearly dementia incidence by the bands of ``_DEM_KEYS`` (HUNT4 70+:
#: 43.9 per 1 000 person-years [V], spread over age so the prevalence by band
#: stays near :data:`~kprlink.synth.calibration.DEMENTIA_PREVALENCE`).
INCIDENCE = np.array([0.00002, 0.0003, 0.0013, 0.0043, 0.011, 0.02, 0.038, 0.064, 0.094])
#: [E] yearly chance of a first registration while living with dementia, and
#: of a registered contact in a later year (about half registered, Helsedir. 2022).
P_FIRST_REG = 0.24
P_REPEAT_REG = 0.55
#: [E] share of those with dementia on the first day registered before it.
P_EARLIER_REG = 0.6
#: [E] source of a registered year: KUHR only / NPR only / both.
REG_SOURCE = (0.55, 0.15, 0.30)


@dataclass
class Panel:
    """Every person present in any year; dates as int32 days since 1970 (-1: none)."""

    years: tuple[int, ...]
    sex: np.ndarray
    birth_year: np.ndarray
    birth_month: np.ndarray
    entry_day: np.ndarray      # birth or immigration; first day - 1 for the first population
    death_day: np.ndarray
    home0: np.ndarray          # municipality index at entry
    onset_day: np.ndarray      # dementia onset (before the first year: prevalent)
    registered: np.ndarray     # (n, n_years) int8: 0 none, 1 KUHR, 2 NPR, 3 both
    frailty: np.ndarray
    kpr_id: np.ndarray
    npr_id: np.ndarray
    move_person: np.ndarray    # moves, sorted by (person, day)
    move_day: np.ndarray
    move_to: np.ndarray

    def __len__(self) -> int:
        return len(self.sex)

    def residence(self, person: np.ndarray, at: np.ndarray) -> np.ndarray:
        """Municipality index of each ``person`` on day ``at``."""
        key = (self.move_person.astype(np.int64) << 15) | self.move_day
        q = (np.asarray(person, np.int64) << 15) | np.asarray(at, np.int64)
        pos = np.searchsorted(key, q, side="right") - 1
        ok = pos >= 0
        ok[ok] = self.move_person[pos[ok]] == person[ok]
        return np.where(ok, self.move_to[np.maximum(pos, 0)], self.home0[person])

    def alive_on(self, d: int) -> np.ndarray:
        """Persons present on day ``d``."""
        return (self.entry_day < d) & ((self.death_day < 0) | (self.death_day >= d))


def _age_on_jan1(birth_year: np.ndarray, year: int) -> np.ndarray:
    return np.minimum(year - 1 - birth_year.astype(np.int64), MAX_AGE)


def build_panel(scale: float, years: tuple[int, ...], rng: np.random.Generator) -> Panel:
    """Draw the panel for ``years`` (consecutive) at ``scale`` (see module notes)."""
    first = years[0]
    counts = single_age_counts(scale * POP_2016 / cal.POP_2017_TOTAL)
    sex = [np.repeat(np.array([1, 2], np.int8), counts.sum(axis=1))]
    age0 = np.concatenate([np.repeat(np.arange(MAX_AGE + 1), counts[i]) for i in range(2)])
    by = [(first - 1 - age0).astype(np.int16)]
    entry = [np.full(len(age0), day(first, 1, 1) - 1, np.int32)]
    munis = municipalities()
    share = munis["pop_share"].to_numpy() / munis["pop_share"].sum()
    home = [rng.choice(len(munis), len(age0), p=share).astype(np.int16)]
    # prevalent dementia on the first day
    bi = _band_index(np.maximum(age0, 0), _DEM_BREAKS)
    prev = np.array([cal.DEMENTIA_PREVALENCE[k] for k in _DEM_KEYS])[bi]
    prev = prev * np.where(sex[0] == 2, cal.DEMENTIA_SEX_FACTOR[2], cal.DEMENTIA_SEX_FACTOR[1])
    onset = [np.where(rng.random(len(age0)) < prev, day(first, 1, 1) - 1, -1).astype(np.int32)]
    n = len(age0)
    death = np.full(n, -1, np.int32)
    # year by year: deaths, incident dementia, births, immigrants
    for y in years:
        lo, hi = day(y, 1, 1), day(y + 1, 1, 1)
        s_all, by_all = np.concatenate(sex), np.concatenate(by)
        ent, ons = np.concatenate(entry), np.concatenate(onset)
        death = np.concatenate([death, np.full(len(s_all) - len(death), -1, np.int32)])
        alive = (ent < lo) & (death < 0)
        age = np.clip(y - by_all.astype(np.int64), 0, MAX_AGE + 5)
        b = _band_index(np.minimum(age, 100), _DEM_BREAKS)
        inc = INCIDENCE[b] * np.where(s_all == 2, 1.06, 0.93)
        new = alive & (ons < 0) & (rng.random(len(s_all)) < inc)
        ons[new] = rng.integers(lo, hi, int(new.sum()))
        q = _gompertz(age) * np.where((ons >= 0) & (ons < hi), 2.2, 1.0)
        q = q * (cal.DEATHS_2017 * scale * (1 + 0.005 * (y - 2017)) / q[alive].sum())
        dies = alive & (rng.random(len(s_all)) < np.minimum(q, 0.9))
        dd = rng.integers(lo, hi, int(dies.sum())).astype(np.int32)
        death[dies] = np.where(ons[dies] >= 0, np.maximum(dd, ons[dies]), dd)
        onset = [ons]
        entry, sex, by = [ent], [s_all], [by_all]
        nb = round(cal.BIRTHS_2017 * scale * (1 + BIRTH_TREND * (y - 2017)))
        ni = round(IMMIGRATION * float(alive.sum()))
        born_day = rng.integers(lo, hi, nb).astype(np.int32)
        imm_day = rng.integers(lo, hi, ni).astype(np.int32)
        imm_age = rng.integers(18, 45, ni)
        sex += [np.where(rng.random(nb) < 0.513, 1, 2).astype(np.int8),
                rng.integers(1, 3, ni).astype(np.int8)]
        by += [np.full(nb, y, np.int16), (y - imm_age).astype(np.int16)]
        entry += [born_day, imm_day]
        onset += [np.full(nb + ni, -1, np.int32)]
        home.append(rng.choice(len(munis), nb + ni, p=share).astype(np.int16))
    s_all, by_all = np.concatenate(sex), np.concatenate(by)
    ent, ons, home0 = np.concatenate(entry), np.concatenate(onset), np.concatenate(home)
    n = len(s_all)
    death = np.concatenate([death, np.full(n - len(death), -1, np.int32)])
    bm = rng.integers(1, 13, n).astype(np.int8)
    # registered dementia by year
    reg = np.zeros((n, len(years)), np.int8)
    # [E] most of those living with dementia on the first day were diagnosed before it
    ever = (ons >= 0) & (ons < day(first, 1, 1)) & (rng.random(n) < P_EARLIER_REG)
    for j, y in enumerate(years):
        lo, hi = day(y, 1, 1), day(y + 1, 1, 1)
        living = (ons >= 0) & (ons < hi) & (ent < hi) & ((death < 0) | (death >= lo))
        p = np.where(ever, P_REPEAT_REG, P_FIRST_REG)
        hit = living & (rng.random(n) < p)
        u = rng.random(n)
        src = np.select([u < REG_SOURCE[0], u < REG_SOURCE[0] + REG_SOURCE[1]], [1, 2], 3)
        reg[hit, j] = src[hit]
        ever |= hit
    # moves: at most one a year
    mp, md, mt = [], [], []
    for y in years:
        lo, hi = day(y, 1, 1), day(y + 1, 1, 1)
        present = (ent < hi - 1) & ((death < 0) | (death > lo))
        age = np.clip(y - by_all.astype(np.int64), 0, None)
        rate = MOVE_RATE[np.searchsorted(MOVE_RATE_AGES, age, side="right") - 1]
        mv = np.flatnonzero(present & (rng.random(n) < rate))
        first_day = np.maximum(lo, ent[mv] + 1)
        last_day = np.where(death[mv] >= 0, np.minimum(death[mv], hi - 1), hi - 1)
        ok = last_day > first_day
        mv, first_day, last_day = mv[ok], first_day[ok], last_day[ok]
        mp.append(mv)
        md.append((first_day + np.floor(rng.random(len(mv)) * (last_day - first_day))
                   ).astype(np.int32))
        mt.append(rng.choice(len(munis), len(mv), p=share).astype(np.int16))
    move_person, move_day, move_to = (np.concatenate(x) for x in (mp, md, mt))
    o = np.lexsort((move_day, move_person))
    frailty = rng.gamma(1.6, 1 / 1.6, n).astype(np.float32)
    kpr_id = (10_000_000 + rng.permutation(n)).astype(np.int64)
    npr_id = (50_000_000 + rng.permutation(n)).astype(np.int64)
    return Panel(tuple(years), s_all, by_all, bm, ent, death, home0, ons, reg, frailty,
                 kpr_id, npr_id, move_person[o].astype(np.int64), move_day[o], move_to[o])
