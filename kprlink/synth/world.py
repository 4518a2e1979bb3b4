"""The synthetic world: persons, places, deaths, dementia and other conditions.

Persons are everyone alive in Norway on 1 January 2017 (SSB 07459 by sex and
single age, see :mod:`kprlink.synth.population`), plus the persons born in
2017 (for the 1 January 2018 table) and the persons who died in 2016 (for the
1 January 2016 table and contacts in July–December 2016). Migration is not
modelled. Every probability is vectorised over all persons with numpy.

Dates are held as ``int32`` days since 1970-01-01; ``-1`` means none.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from kprlink.synth import calibration as cal
from kprlink.synth.config import SynthConfig
from kprlink.synth.population import MAX_AGE, municipalities, single_age_counts

NONE = -1
EPOCH = dt.date(1970, 1, 1)


def day(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01.

    >>> day(1970, 1, 2)
    1
    """
    return (dt.date(y, m, d) - EPOCH).days


D2016, D2017, D2018 = day(2016, 1, 1), day(2017, 1, 1), day(2018, 1, 1)
DEC31_2017 = day(2017, 12, 31)


def _band_index(age: np.ndarray, breaks: list[int]) -> np.ndarray:
    return np.searchsorted(np.asarray(breaks), age, side="right") - 1


_DEM_BREAKS = [0, 45, 60, 65, 70, 75, 80, 85, 90]
_DEM_KEYS = ["<45", "45-59", "60-64", "65-69", "70-74", "75-79", "80-84", "85-89", "90+"]
# [E] long-term nursing-home residence during 2017 given dementia / not, by the
# same bands (calibrated so ~32,700 are resident on 31.12.2017, SSB 386288).
_NH_DEM = np.array([0.0, 0.02, 0.09, 0.17, 0.29, 0.40, 0.52, 0.63, 0.74])
_NH_NODEM = np.array([0.0, 0.0002, 0.0008, 0.0016, 0.003, 0.006, 0.014, 0.03, 0.085])


def _gompertz(age: np.ndarray) -> np.ndarray:
    # [E] annual death probability shape; level fitted to DEATHS_2017 below.
    q = np.exp(-10.4 + 0.096 * age.astype(float))
    q[age < 1] = 0.0025
    return np.minimum(q, 0.6)


def hip_fracture_probability(age: np.ndarray, sex: np.ndarray, dementia: np.ndarray
                             ) -> np.ndarray:
    """Each person's chance of one hip fracture in 1 Jul 2016 - 31 Dec 2017 (the truth).

    [E] yearly incidence by age (0.2 % at 65, 0.8 % at 75, 2.5 % from 85,
    interpolated), women x1.7, (true) dementia x2, times 0.9 for the 18 months
    (x0.6): about 8-9 000 a year at scale 1. Given a fracture, its day is
    uniform over the person's time alive in the period, so the expected number
    of fractures in a group is the sum of these probabilities over its persons
    alive on 1 July 2016.

    >>> hip_fracture_probability(np.array([75]), np.array([2]), np.array([True])).round(5)
    array([0.02448])
    """
    hf_inc = np.interp(age, [0, 64, 65, 75, 85], [0.00005, 0.00005, 0.002, 0.008, 0.025])
    hf_inc = hf_inc * np.where(sex == 2, 1.7, 1.0) * np.where(dementia, 2.0, 1.0)
    return hf_inc * 0.9  # 18 months x 0.6


def build_persons(config: SynthConfig, rng: np.random.Generator) -> pd.DataFrame:
    """Draw every synthetic person.

    Parameters
    ----------
    config : SynthConfig
        Scale and seed.
    rng : numpy.random.Generator
        Source of randomness (consumed).

    Returns
    -------
    pandas.DataFrame
        One row per person (shuffled): ``sex`` (1 male, 2 female),
        ``birth_year``, ``birth_month``, ``age17`` (age on 1 Jan 2017; -1 for
        2017 births), ``group`` ("alive2017", "born2017", "died2016"),
        ``municipality`` (index into :func:`municipalities`), ``death_day``,
        ``dementia``, ``nursing_home``, ``registered`` (0 none, 1 KUHR,
        2 NPR, 3 both), ``registered_late`` (first registration after the
        window), ``diabetes``, ``copd``, ``heart_failure``,
        ``hip_fracture_day``, ``kpr_id``, ``npr_id``, ``frailty``.
    """
    s = config.scale
    counts = single_age_counts(s)
    sex = np.repeat(np.array([1, 2], dtype=np.int8), counts.sum(axis=1))
    age = np.concatenate([np.repeat(np.arange(MAX_AGE + 1), counts[i]) for i in range(2)])
    n0 = len(age)
    age = age + np.where(age == MAX_AGE, rng.geometric(0.45, n0) - 1, 0)
    group = np.zeros(n0, dtype=np.int8)
    # births 2017 (age -1 on 1 Jan 2017); 51.3 % boys [E]
    nb = round(cal.BIRTHS_2017 * s)
    sex_b = np.where(rng.random(nb) < 0.513, 1, 2).astype(np.int8)
    # deaths 2016: ages drawn from the mortality-weighted 2016 population
    nd = round(cal.DEATHS_2016 * s)
    pool_w = counts.astype(float) * _gompertz(np.arange(MAX_AGE + 1))[None, :]
    pick = rng.choice(pool_w.size, nd, p=(pool_w / pool_w.sum()).ravel())
    sex_d = (pick // (MAX_AGE + 1) + 1).astype(np.int8)
    age_d = (pick % (MAX_AGE + 1)).astype(np.int64) + 1  # age the 2017 table would show
    sex = np.concatenate([sex, sex_b, sex_d])
    age = np.concatenate([age, np.full(nb, -1), age_d])
    group = np.concatenate([group, np.ones(nb, np.int8), np.full(nd, 2, np.int8)])
    n = len(sex)
    order = rng.permutation(n)
    sex, age, group = sex[order], age[order], group[order]

    birth_year = (2016 - age).astype(np.int16)
    birth_month = rng.integers(1, 13, n).astype(np.int8)
    munis = municipalities()
    muni = rng.choice(len(munis), n, p=munis["pop_share"].to_numpy() / munis["pop_share"].sum())

    # dementia (prevalent) ------------------------------------------------
    a = np.maximum(age, 0)
    bi = _band_index(a, _DEM_BREAKS)
    prev = np.array([cal.DEMENTIA_PREVALENCE[k] for k in _DEM_KEYS])[bi]
    prev = prev * np.where(sex == 2, cal.DEMENTIA_SEX_FACTOR[2], cal.DEMENTIA_SEX_FACTOR[1])
    dementia = rng.random(n) < np.minimum(prev, 0.95)
    nursing_home = rng.random(n) < np.where(dementia, _NH_DEM[bi], _NH_NODEM[bi])

    # other conditions [E] prevalence by age -----------------------------
    diabetes = rng.random(n) < np.interp(a, [0, 29, 30, 50, 67, 80], [0.002, 0.002, 0.02, 0.07,
                                                                        0.13, 0.15])
    copd = rng.random(n) < np.interp(a, [0, 39, 40, 60, 75], [0.0, 0.0, 0.02, 0.06, 0.09])
    heart_failure = rng.random(n) < np.interp(a, [0, 59, 60, 70, 80, 90],
                                              [0.002, 0.002, 0.01, 0.03, 0.07, 0.12])

    # deaths --------------------------------------------------------------
    q = _gompertz(a) * np.where(dementia, 2.2, 1.0) * np.where(nursing_home, 1.8, 1.0)
    q = q * np.where(heart_failure, 1.6, 1.0)
    alive = group == 0
    q = q * (cal.DEATHS_2017 * s / q[alive].sum())
    q = np.minimum(q, 0.9)
    death_day = np.full(n, NONE, dtype=np.int32)
    dies17 = alive & (rng.random(n) < q)
    death_day[dies17] = rng.integers(D2017, D2018, dies17.sum())
    d16 = group == 2
    death_day[d16] = rng.integers(D2016, D2017, d16.sum())
    born = group == 1
    bday = np.full(n, NONE, dtype=np.int32)
    bday[born] = np.array([day(2017, int(m), 1) for m in range(1, 13)])[birth_month[born] - 1]
    bday[born] += rng.integers(0, 28, born.sum()).astype(np.int32)
    # infants who die in 2017 [E]: 2.3 per 1 000 (SSB infant mortality 2017)
    inf = born & (rng.random(n) < 0.0023)
    death_day[inf] = np.minimum(bday[inf] + rng.integers(1, 60, inf.sum()), DEC31_2017)

    # registered dementia diagnosis -------------------------------------
    rate = np.where(nursing_home, cal.REGISTERED_NURSING_HOME, cal.REGISTERED_HOME)
    rate = rate * np.array([cal.REGISTERED_AGE_FACTOR[k] for k in _DEM_KEYS])[bi]
    registered_any = dementia & (rng.random(n) < np.minimum(rate, 0.95))
    # [E] source: home 55 % KUHR only / 15 % NPR only / 30 % both; nursing
    # homes (physicians mostly not KUHR-billed) 30 / 40 / 30.
    u = rng.random(n)
    src = np.where(nursing_home, np.select([u < 0.30, u < 0.70], [1, 2], 3),
                   np.select([u < 0.55, u < 0.70], [1, 2], 3))
    registered = np.where(registered_any, src, 0).astype(np.int8)
    # [E] 6 % of unregistered persons with dementia are first registered in
    # July–December 2017 (after the reference window).
    late = dementia & ~registered_any & (rng.random(n) < 0.06)
    registered = np.where(late, src, registered).astype(np.int8)

    hip = rng.random(n) < hip_fracture_probability(a, sex, dementia)
    start = day(2016, 7, 1)
    end = np.where(death_day >= 0, death_day, DEC31_2017)
    hip &= end > start
    hip_day = np.full(n, NONE, dtype=np.int32)
    hip_day[hip] = start + (rng.random(hip.sum()) * (end[hip] - start)).astype(np.int32)

    kpr_id = (10_000_000 + rng.permutation(n)).astype(np.int64)
    npr_id = (50_000_000 + rng.permutation(n)).astype(np.int64)
    frailty = rng.gamma(1.6, 1 / 1.6, n).astype(np.float32)  # [E] overdispersion of contacts

    return pd.DataFrame(
        {
            "sex": sex, "birth_year": birth_year, "birth_month": birth_month,
            "age17": age.astype(np.int16), "group": group, "municipality": muni.astype(np.int16),
            "birth_day": bday, "death_day": death_day, "dementia": dementia,
            "nursing_home": nursing_home, "registered": registered, "registered_late": late,
            "diabetes": diabetes, "copd": copd, "heart_failure": heart_failure,
            "hip_fracture_day": hip_day, "kpr_id": kpr_id, "npr_id": npr_id,
            "frailty": frailty,
        }
    )


def exposure(persons: pd.DataFrame, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
    """First and last day (inclusive) each person is alive within [start, end].

    Returns ``(lo, hi)``; ``hi < lo`` where the person is not alive then.
    """
    lo = np.maximum(start, np.where(persons["birth_day"].to_numpy() >= 0,
                                    persons["birth_day"].to_numpy(), start))
    dd = persons["death_day"].to_numpy()
    hi = np.minimum(end, np.where(dd >= 0, dd, end))
    return lo.astype(np.int32), hi.astype(np.int32)
