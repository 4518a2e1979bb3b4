"""One calendar year's register rows for a chunk of the multi-year panel.

KPR-KUHR claims (GP and out-of-hours, from 1 July 2016), one ICPC-2 diagnosis
and one fee code per claim; NPR episodes (every year) with ICD-10 conditions;
KPR helse og omsorg service periods (from 2017). A registered dementia year
(:attr:`Panel.registered`) adds one GP claim coded P70 (KUHR), one hospital
episode coded G30 + F00 (NPR), or both, on a day while the person is alive
and living with dementia that year. Contact volumes follow
:data:`~kprlink.synth.calibration.GP_CONSULTATIONS_PER_YEAR` [V] and about 1.5
NPR episodes a person-year [E].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from kprlink.synth._common import choose, dates, take, times
from kprlink.synth._panel import Panel
from kprlink.synth.kuhr import GP_CODES, GP_W, LV_CODES, LV_W, _gp_base
from kprlink.synth.npr import MAIN_CODES, MAIN_W, SEC_CODES, SEC_W
from kprlink.synth.world import day

__all__: list[str] = []

#: First day of KPR-KUHR claims and first year of KPR helse og omsorg.
KUHR_START = day(2016, 7, 1)
HO_FIRST_YEAR = 2017

EPISODES_SCHEMA = pa.schema([
    ("lopenr", pa.int64()), ("episode_lnr", pa.int64()), ("aar", pa.int16()),
    ("inndato", pa.date32()), ("utdato", pa.date32()), ("inntid", pa.string()),
    ("omsorgsniva", pa.int8()), ("innmateHast", pa.int8()), ("institusjonid", pa.string()),
    ("komnrhjem2", pa.string()), ("kjonn", pa.int8()), ("fodselsar", pa.int16()),
    ("fodt_mnd", pa.int8()), ("doddato", pa.date32()), ("tilstand_1_1", pa.string()),
    ("tilstand_1_2", pa.string()), ("tilstand_2_1", pa.string()),
])
#: [E] fee codes of a GP claim and their weights (consultation, e-consultation,
#: simple contact, home visit); out-of-hours claims take the first two.
FEES = ["2ad", "2ae", "1bd", "11ad"]
FEES_W = [70, 10, 17, 3]
#: [E] NPR episodes a person-year by age (lower bounds) and level-of-care weights.
NPR_AGES = np.array([0, 20, 50, 67, 80])
NPR_RATE = np.array([0.8, 1.0, 1.5, 2.6, 3.2])


@dataclass
class YearRows:
    """Arrow tables of one chunk and year, and the qualifying dementia events."""

    claims: pa.Table | None
    diagnoses: pa.Table | None
    fees: pa.Table | None
    episodes: pa.Table
    services: pa.Table | None
    events: dict[str, np.ndarray]   # person (panel index), day, source (1 KUHR, 2 NPR)


def _spans(panel: Panel, persons: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, ...]:
    """Persons of ``persons`` present in [lo, hi] and their first/last day there."""
    a = np.maximum(lo, panel.entry_day[persons] + 1)
    dd = panel.death_day[persons]
    b = np.where(dd >= 0, np.minimum(hi, dd), hi)
    ok = b >= a
    return persons[ok], a[ok], b[ok]


def _days(rng: np.random.Generator, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a + np.floor(rng.random(len(a)) * (b - a + 1))).astype(np.int32)


def _codes(panel: Panel, person: np.ndarray, d: np.ndarray, year: int) -> np.ndarray:
    """Municipality code of residence on each day (the code valid that year)."""
    from kprlink.synth.population import municipalities

    col = "code" if year < 2018 else ("code_2018" if year < 2020 else "code_2020")
    return municipalities()[col].to_numpy().astype(str)[panel.residence(person, d)]


def _reg_days(rng: np.random.Generator, panel: Panel, persons: np.ndarray, a: np.ndarray,
              b: np.ndarray, j: int, source: int) -> tuple[np.ndarray, np.ndarray]:
    """Persons with a registered dementia contact of ``source`` in year ``j``, and its day."""
    reg = panel.registered[persons, j]
    hit = (reg == source) | (reg == 3)
    a2 = np.maximum(a, panel.onset_day[persons] + 1)
    hit &= a2 <= b
    return persons[hit], _days(rng, a2[hit], b[hit])


def year_rows(panel: Panel, persons: np.ndarray, year: int, rng: np.random.Generator, *,
              claim_id0: int, episode_id0: int) -> YearRows:
    """The chunk's rows for ``year`` (``persons``: panel indices, sorted)."""
    j = panel.years.index(year)
    lo, hi = day(year, 1, 1), day(year + 1, 1, 1) - 1
    ev_p, ev_d, ev_s = [], [], []
    claims = diagnoses = fees = services = None
    # KPR-KUHR -------------------------------------------------------------
    if hi >= KUHR_START:
        p, a, b = _spans(panel, persons, max(lo, KUHR_START), hi)
        age = np.clip(year - panel.birth_year[p].astype(np.int64), 0, 110)
        rate = _gp_base(age, panel.sex[p]) * 1.18 * panel.frailty[p] * (b - a + 1) / 365.25
        k = rng.poisson(rate)
        cp = np.repeat(p, k)
        cd = _days(rng, np.repeat(a, k), np.repeat(b, k))
        dp, dd = _reg_days(rng, panel, p, a, b, j, 1)
        cp, cd = np.concatenate([cp, dp]), np.concatenate([cd, dd])
        dem = np.r_[np.zeros(len(cp) - len(dp), bool), np.ones(len(dp), bool)]
        lv = ~dem & (rng.random(len(cp)) < 0.12)
        m = len(cp)
        ids = np.arange(claim_id0, claim_id0 + m, dtype=np.int64)
        code = np.where(lv, np.asarray(LV_CODES, object)[choose(rng, m, LV_W)],
                        np.asarray(GP_CODES, object)[choose(rng, m, GP_W)])
        code[dem] = "P70"
        fee = np.asarray(FEES, object)[choose(rng, m, FEES_W)]
        fee[lv] = np.where(rng.random(int(lv.sum())) < 0.8, "2ad", "2ae")
        muni = _codes(panel, cp, cd, year)
        ddp = panel.death_day[cp]
        claims = pa.table({
            "aar": pa.array(np.full(m, year, np.int16)), "kpr_lnr": panel.kpr_id[cp],
            "enkeltregning_lnr": ids, "dato": dates(cd),
            "klokkeslett": times(rng.integers(7 * 60, 23 * 60, m)),
            "kjonn": panel.sex[cp], "kjonnK": panel.sex[cp],
            "alder": pa.array(np.clip(year - panel.birth_year[cp].astype(np.int64)
                                      - (rng.random(m) < 0.5), 0, 125).astype(np.int16)),
            "fodselsaar": panel.birth_year[cp], "kommuneNr": pa.array(muni.tolist()),
            "bydel": pa.nulls(m, pa.string()), "kommunenrPB": pa.array(muni.tolist()),
            "tjenestetype": take(["Fastlege", "Legevakt"], lv.astype(np.int32)),
            "praksiskommune": pa.array(muni.tolist()), "doddato": dates(ddp)})
        diagnoses = pa.table({
            "aar": pa.array(np.full(m, year, np.int16)), "enkeltregning_lnr": ids,
            "diagnoseKode": pa.array(code.tolist(), pa.string()),
            "diagnoseTabell": pa.array(np.full(m, "ICPC-2", object).tolist(), pa.string()),
            "erHoveddiagnose": pa.array(np.ones(m, np.int8)),
            "kodenr": pa.array(np.ones(m, np.int8))})
        fees = pa.table({
            "aar": pa.array(np.full(m, year, np.int16)), "enkeltregning_lnr": ids,
            "takstkode": pa.array(fee.tolist(), pa.string()),
            "KPRantall": pa.array(np.ones(m, np.int16))})
        ev_p.append(dp)
        ev_d.append(dd)
        ev_s.append(np.ones(len(dp), np.int8))
    # NPR ------------------------------------------------------------------
    p, a, b = _spans(panel, persons, lo, hi)
    age = np.clip(year - panel.birth_year[p].astype(np.int64), 0, 110)
    rate = NPR_RATE[np.searchsorted(NPR_AGES, age, side="right") - 1] * panel.frailty[p]
    k = rng.poisson(rate * (b - a + 1) / 365.25)
    ep, ed = np.repeat(p, k), _days(rng, np.repeat(a, k), np.repeat(b, k))
    dp, dd = _reg_days(rng, panel, p, a, b, j, 2)
    ep, ed = np.concatenate([ep, dp]), np.concatenate([ed, dd])
    m = len(ep)
    dem = np.r_[np.zeros(m - len(dp), bool), np.ones(len(dp), bool)]
    level = np.where(dem, 1, choose(rng, m, [18, 12, 70]) + 1).astype(np.int8)
    length = np.where(level == 1, rng.geometric(0.25, m), 0)
    ddp = panel.death_day[ep]
    out_day = np.where(ddp >= 0, np.minimum(ed + length, np.maximum(ddp, ed)), ed + length)
    main = np.asarray(MAIN_CODES, object)[choose(rng, m, MAIN_W)]
    c12 = np.full(m, None, object)
    main[dem], c12[dem] = "G301", "F001"
    sec = np.where(rng.random(m) < 0.4, np.asarray(SEC_CODES, object)[choose(rng, m, SEC_W)],
                   None)
    muni = _codes(panel, ep, ed, year)
    episodes = pa.table({
        "lopenr": panel.npr_id[ep],
        "episode_lnr": np.arange(episode_id0, episode_id0 + m, dtype=np.int64),
        "aar": pa.array(np.full(m, year, np.int16)), "inndato": dates(ed),
        "utdato": dates(out_day), "inntid": times(rng.integers(0, 1440, m)),
        "omsorgsniva": level,
        "innmateHast": pa.array(np.where(level == 1, 1, 4).astype(np.int8)),
        "institusjonid": take([f"9740{i:05d}" for i in range(40)], rng.integers(0, 40, m)),
        "komnrhjem2": pa.array(muni.tolist()), "kjonn": panel.sex[ep],
        "fodselsar": panel.birth_year[ep], "fodt_mnd": panel.birth_month[ep],
        "doddato": dates(ddp), "tilstand_1_1": pa.array(main.tolist(), pa.string()),
        "tilstand_1_2": pa.array(c12.tolist(), pa.string()),
        "tilstand_2_1": pa.array(sec.tolist(), pa.string())}, schema=EPISODES_SCHEMA)
    ev_p.append(dp)
    ev_d.append(dd)
    ev_s.append(np.full(len(dp), 2, np.int8))
    # KPR helse og omsorg ------------------------------------------------------
    if year >= HO_FIRST_YEAR:
        services = _services(panel, p, a, b, year, rng)
    events = {"person": np.concatenate(ev_p), "day": np.concatenate(ev_d),
              "source": np.concatenate(ev_s)}
    return YearRows(claims, diagnoses, fees, episodes, services, events)


def _services(panel: Panel, p: np.ndarray, a: np.ndarray, b: np.ndarray, year: int,
              rng: np.random.Generator) -> pa.Table:
    """One service period a user-year [E]: home nursing (15), or a long-term place (21)."""
    from kprlink.synth.care import SERVICES_SCHEMA

    age = np.clip(year - panel.birth_year[p].astype(np.int64), 0, 110)
    dem = (panel.onset_day[p] >= 0) & (panel.onset_day[p] <= b)
    pr = np.interp(age, [0, 66, 67, 80, 90], [0.01, 0.02, 0.05, 0.2, 0.5])
    pr = np.minimum(pr * np.where(dem, 2.5, 1.0), 0.97)
    use = rng.random(len(p)) < pr
    p, a, b, age, dem = p[use], a[use], b[use], age[use], dem[use]
    m = len(p)
    nh = rng.random(m) < np.where(dem, np.interp(age, [60, 80, 90], [0.1, 0.35, 0.6]), 0.05)
    muni = _codes(panel, p, a, year)
    return pa.table({
        "aar": pa.array(np.full(m, year, np.int16)), "kpr_lnr": panel.kpr_id[p],
        "tjeneste": pa.array(np.where(nh, 21, 15).astype(np.int8)),
        "undertjeneste": pa.nulls(m, pa.string()), "vedtaksdato": dates(a),
        "fradato": dates(a), "tildato": dates(b),
        "timer_per_uke": pa.array(np.where(nh, np.nan, np.round(rng.gamma(2.0, 2.5, m), 1)),
                                  mask=nh),
        "kommuneNr": pa.array(muni.tolist()), "kjonn": panel.sex[p],
        "fodselsaar": panel.birth_year[p], "doddato": dates(panel.death_day[p])},
        schema=SERVICES_SCHEMA)
