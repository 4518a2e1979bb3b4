"""KPR-KUHR claims (regninger), their diagnoses and fee codes for one chunk.

Volumes follow SSB's GP statistics (see :mod:`kprlink.synth.calibration`):
consultations by age and sex, simple contacts about as many as consultations,
home visits concentrated at 80+ and in persons with dementia at home, a small
share of e-consultations (``2ae``), out-of-hours (``Legevakt``) contacts and
physiotherapy series. Diagnoses are ICPC-2 (``P70`` dementia, ``T90``
diabetes, ``R95`` COPD, ``K77`` heart failure, ``L75`` hip fracture …), with
a little ICPC-2B and ICD-10.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from kprlink.synth import calibration as cal
from kprlink.synth._common import (
    WIN_HI,
    WIN_LO,
    age_at,
    choose,
    dates,
    take,
    times,
    uniform_days,
    year_month,
)
from kprlink.synth.config import PERIOD_END, PERIOD_START
from kprlink.synth.moves import residence
from kprlink.synth.world import EPOCH, exposure

P_LO, P_HI = (PERIOD_START - EPOCH).days, (PERIOD_END - EPOCH).days
H2_2017 = WIN_HI + 1

CLAIMS_SCHEMA = pa.schema([
    ("aar", pa.int16()), ("kpr_lnr", pa.int64()), ("enkeltregning_lnr", pa.int64()),
    ("dato", pa.date32()), ("klokkeslett", pa.string()), ("kjonn", pa.int8()),
    ("kjonnK", pa.int8()), ("alder", pa.int16()), ("fodselsaar", pa.int16()),
    ("kommuneNr", pa.string()), ("bydel", pa.string()), ("kommunenrPB", pa.string()),
    ("tjenestetype", pa.string()), ("praksiskommune", pa.string()), ("doddato", pa.date32()),
])
DIAGNOSES_SCHEMA = pa.schema([
    ("aar", pa.int16()), ("enkeltregning_lnr", pa.int64()), ("diagnoseKode", pa.string()),
    ("diagnoseTabell", pa.string()), ("erHoveddiagnose", pa.int8()), ("kodenr", pa.int8()),
])
FEES_SCHEMA = pa.schema([
    ("aar", pa.int16()), ("enkeltregning_lnr", pa.int64()), ("takstkode", pa.string()),
    ("KPRantall", pa.int16()),
])

# claim kinds
CONS, ECONS, SIMPLE, HOME, LV_CONS, LV_PHONE, LV_HOME, PHYSIO, DEM, AFTER_DEATH = range(10)
SERVICE = ["Fastlege", "Legevakt", "Fysioterapeut privat", "Fysioterapeut kommunal"]

# [E] common GP diagnoses (ICPC-2) with relative frequencies.
GP_CODES = ["R74", "K86", "L03", "A97", "P76", "T90", "R05", "L86", "P74", "S87", "U71",
            "L92", "A04", "R78", "K87", "T93", "D11", "L84", "N01", "P06", "A98", "S88",
            "H71", "F70", "W11", "Y07", "R96", "K74", "L15", "P29"]
GP_W = [8, 7, 6, 4, 5, 3, 4, 4, 3, 3, 3, 3, 3, 2, 2, 2, 2, 3, 2, 2, 3, 2, 2, 1, 2, 1, 2, 1,
        2, 2]
LV_CODES = ["R74", "S18", "L81", "D11", "U71", "R78", "A04", "H71", "S17", "N17", "R83"]
LV_W = [8, 5, 5, 3, 4, 3, 2, 3, 2, 1, 1]
PHYSIO_CODES = ["L03", "L02", "L01", "L08", "L15", "L84", "L86", "L92", "L18", "N89"]
PHYSIO_W = [10, 5, 5, 5, 4, 4, 4, 4, 2, 1]
ICD_GP = ["J069", "I109", "M545", "F329", "E119", "J449", "N390", "M796"]
DEM_ICD10 = ["F039", "F001", "F009", "F019", "G301"]
SIMPLE_FEES = ["1ad", "1bd", "1be", "1g", "1i", "1f", "14"]
SIMPLE_W = [15, 50, 8, 12, 5, 8, 2]


@dataclass
class KuhrChunk:
    """One chunk of KPR-KUHR output plus what truth needs."""

    claims: pa.Table
    diagnoses: pa.Table
    fees: pa.Table
    events: pd.DataFrame  # person (chunk position), day: qualifying dementia events
    after_death_rows: np.ndarray  # 0-based claim rows dated after death
    after_death_persons: np.ndarray
    dotted_rows: np.ndarray  # 0-based diagnosis rows with a dotted code
    dotted_persons: np.ndarray
    stats: dict[str, float]


def _gp_base(age: np.ndarray, sex: np.ndarray) -> np.ndarray:
    lows = np.array([a for a, _ in cal.GP_CONSULTATIONS_PER_YEAR])
    rates = np.array([r for _, r in cal.GP_CONSULTATIONS_PER_YEAR])
    r = rates[np.searchsorted(lows, age, side="right") - 1]
    k = cal.GP_WOMEN_MEN_RATIO_UNDER_67
    f = np.where(sex == 2, 2 * k / (1 + k), 2 / (1 + k))
    return r * np.where(age < 67, f, 1.0)


def generate_kuhr(chunk: pd.DataFrame, rng: np.random.Generator, *, muni_codes: np.ndarray,
                  muni_factor: np.ndarray, claim_id0: int, defect_rate: float,
                  referrals: tuple[np.ndarray, ...] | None = None,
                  district: np.ndarray | None = None,
                  moves: tuple[np.ndarray, np.ndarray] | None = None) -> KuhrChunk:
    """Claims, diagnoses and fee codes of the persons in ``chunk``.

    Parameters
    ----------
    chunk : pandas.DataFrame
        Persons (see :func:`kprlink.synth.world.build_persons`). Not modified.
    rng : numpy.random.Generator
        Randomness for this chunk.
    muni_codes : numpy.ndarray
        Municipality code per municipality index (4-digit strings).
    muni_factor : numpy.ndarray
        Relative GP use per municipality (municipal variation).
    claim_id0 : int
        First claim id of this chunk.
    defect_rate : float
        Rate of injected defects (contacts after death, dotted ICD-10 codes).
    referrals : tuple of numpy.ndarray, optional
        Chunk position and day of each acute NPR episode. A share
        (``cal.REFERRAL_LEGEVAKT``, ``cal.REFERRAL_GP``) gets a legevakt or GP
        consultation on the same day, which is what lets probabilistic
        linkage match contact dates across registers. The person's other
        legevakt and GP claims are reduced by as many, so the published
        contact rates still hold. With a third array (the admission minute,
        ``inntid``) the referring claim's ``klokkeslett`` lies 20–240 minutes
        before it on the same day (at 00:00 up to the admission when it is
        earlier than 00:20); otherwise its time is drawn like other claims'.
    district : numpy.ndarray, optional
        City district 1–15 per person: Oslo residents' claims carry ``bydel``
        ``0301xx``. Without it each Oslo claim gets a random district.
    moves : tuple of numpy.ndarray, optional
        Move day (-1: none) and destination municipality per person
        (:func:`kprlink.synth.moves.draw_moves`): ``kommuneNr`` and the other
        municipality columns follow the residence at the claim's date.
    """
    n = len(chunk)
    age = np.maximum(chunk["age17"].to_numpy(), 0)
    sex = chunk["sex"].to_numpy()
    nh = chunk["nursing_home"].to_numpy()
    dem = chunk["dementia"].to_numpy()
    lo, hi = exposure(chunk, P_LO, P_HI)
    years = np.clip(hi - lo + 1, 0, None) / 365.25
    mods = (np.where(nh, 0.15, 1.0) * np.where(dem & ~nh, 1.1, 1.0)
            * np.where(chunk["diabetes"].to_numpy(), 1.3, 1.0)
            * np.where(chunk["copd"].to_numpy(), 1.3, 1.0)
            * np.where(chunk["heart_failure"].to_numpy(), 1.3, 1.0))
    band = np.searchsorted([0, 6, 16, 20, 30, 50, 67, 80, 90], age, side="right")
    band_mean = np.bincount(band, mods, minlength=10) / np.maximum(np.bincount(band,
                                                                               minlength=10), 1)
    mods = mods / band_mean[band]
    intensity = chunk["frailty"].to_numpy() * muni_factor[chunk["municipality"].to_numpy()]
    gp = _gp_base(age, sex) * mods * intensity * years
    home_rate = np.where(nh, 0.0, np.select([dem, age >= 80, age >= 67], [0.2, 0.15, 0.02],
                                            0.004))
    lv_rate = cal.LEGEVAKT_PER_YEAR * np.select([age < 6, age >= 80], [1.6, 1.4], 1.0)
    phys_p = np.interp(age, [0, 15, 16, 40, 65, 85, 90], [0.04, 0.04, 0.10, 0.14, 0.18, 0.15,
                                                           0.08]) * years
    if referrals is None:
        referrals = (np.zeros(0, np.int64), np.zeros(0, np.int32))
    r_person, r_day = referrals[0], referrals[1]
    u_r = rng.random(len(r_person))
    if len(referrals) > 2:  # 20–240 minutes before admission, not before midnight
        adm = np.asarray(referrals[2], dtype=np.int64)
        gap = 20 + np.floor(rng.random(len(r_person)) * (np.clip(adm, 20, 240) - 19))
        r_minute = np.where(adm >= 20, adm - gap, np.floor(rng.random(len(r_person))
                                                           * (adm + 1))).astype(np.int64)
    else:
        r_minute = np.full(len(r_person), -1, np.int64)
    d_r = chunk["death_day"].to_numpy()[r_person]
    covered = (r_day >= P_LO) & (r_day <= P_HI) & ((d_r < 0) | (r_day <= d_r))
    to_lv = covered & (u_r < cal.REFERRAL_LEGEVAKT)
    to_gp = covered & ~to_lv & (u_r < cal.REFERRAL_LEGEVAKT + cal.REFERRAL_GP)
    counts = {
        CONS: np.maximum(rng.poisson(gp * 0.985) - np.bincount(r_person[to_gp], minlength=n),
                         0),
        ECONS: rng.poisson(gp * 0.015),
        SIMPLE: rng.poisson(gp * cal.GP_SIMPLE_PER_CONSULTATION),
        HOME: rng.poisson(home_rate * years * np.sqrt(intensity)),
    }
    n_lv = np.maximum(rng.poisson(lv_rate * years * np.sqrt(intensity))
                      - np.bincount(r_person[to_lv], minlength=n), 0)
    u = rng.random(n_lv.sum()) if n_lv.sum() else np.zeros(0)
    lv_person = np.repeat(np.arange(n), n_lv)
    lv_kind = np.where(u < 0.70, LV_CONS, np.where(u < 0.92 - 0.06 * (age[lv_person] >= 80),
                                                   LV_PHONE, LV_HOME))
    n_phys = np.where(rng.random(n) < phys_p, 1 + rng.poisson(7, n), 0)
    reg = chunk["registered"].to_numpy()
    late = chunk["registered_late"].to_numpy()
    kuhr_reg = np.isin(reg, (1, 3))
    dlo = np.where(late, np.maximum(lo, H2_2017), np.maximum(lo, WIN_LO))
    dhi = np.where(late, hi, np.minimum(hi, WIN_HI))
    n_dem = (kuhr_reg & (dhi >= dlo)).astype(np.int64)

    persons = [np.repeat(np.arange(n), counts[k]) for k in (CONS, ECONS, SIMPLE, HOME)]
    kinds = [np.full(counts[k].sum(), k, np.int8) for k in (CONS, ECONS, SIMPLE, HOME)]
    person = np.concatenate([*persons, lv_person, np.repeat(np.arange(n), n_dem)])
    kind = np.concatenate([*kinds, lv_kind.astype(np.int8), np.full(n_dem.sum(), DEM, np.int8)])
    day = uniform_days(rng, lo[person], hi[person])
    dem_sel = kind == DEM
    day[dem_sel] = uniform_days(rng, dlo[person[dem_sel]], dhi[person[dem_sel]])
    person = np.concatenate([person, r_person[to_lv], r_person[to_gp]])
    kind = np.concatenate([kind, np.full(int(to_lv.sum()), LV_CONS, np.int8),
                           np.full(int(to_gp.sum()), CONS, np.int8)])
    day = np.concatenate([day, r_day[to_lv], r_day[to_gp]])
    fixed_minute = np.concatenate([np.full(len(day) - int(to_lv.sum() + to_gp.sum()), -1),
                                   r_minute[to_lv], r_minute[to_gp]])
    # GP day-time contacts fall on weekdays: move Saturday/Sunday back to Friday
    wd = (day + 3) % 7  # 0 = Monday
    gp_day = np.isin(kind, (CONS, ECONS, SIMPLE, HOME, DEM))
    shift = np.where(gp_day & (wd >= 5), wd - 4, 0)
    day = np.where(day - shift >= lo[person], day - shift, day).astype(np.int32)
    # physiotherapy series: weekly sessions from a uniform start
    pp = np.repeat(np.arange(n), n_phys)
    if len(pp):
        first = np.repeat(uniform_days(rng, lo[n_phys > 0], hi[n_phys > 0]), n_phys[n_phys > 0])
        k = np.arange(len(pp)) - np.repeat(np.cumsum(n_phys[n_phys > 0]) - n_phys[n_phys > 0],
                                           n_phys[n_phys > 0])
        pday = first + 7 * k + rng.integers(0, 3, len(pp))
        keep = pday <= hi[pp]
        pp, pday = pp[keep], pday[keep].astype(np.int32)
    else:
        pday = np.zeros(0, np.int32)
    person = np.concatenate([person, pp])
    kind = np.concatenate([kind, np.full(len(pp), PHYSIO, np.int8)])
    day = np.concatenate([day, pday])
    fixed_minute = np.concatenate([fixed_minute, np.full(len(pp), -1)])
    # contacts after death (defect): 1–2 GP claims up to 60 days after death
    dd = chunk["death_day"].to_numpy()
    cand = (dd >= P_LO) & (dd < P_HI) & (np.bincount(person, minlength=n) > 0)
    ad = cand & (rng.random(n) < min(1.0, 10 * defect_rate))
    n_ad = np.where(ad, rng.integers(1, 3, n), 0)
    ap = np.repeat(np.arange(n), n_ad)
    aday = (dd[ap] + 1 + np.floor(rng.random(len(ap)) * np.minimum(60, P_HI - dd[ap]))
            ).astype(np.int32)
    person = np.concatenate([person, ap])
    kind = np.concatenate([kind, np.full(len(ap), AFTER_DEATH, np.int8)])
    day = np.concatenate([day, aday])
    fixed_minute = np.concatenate([fixed_minute, np.full(len(ap), -1)])

    order = np.lexsort((person, day))
    person, kind, day = person[order], kind[order], day[order]
    fixed_minute = fixed_minute[order]
    m = len(person)
    claim_id = claim_id0 + np.arange(m, dtype=np.int64)
    year, _ = year_month(day)

    # fee codes and time of day ------------------------------------------
    fee_vocab = ["2ad", "2ak", "2ae", "11ad", "11ak", "1bk", "A2a", "A2b", "A3a", "1e",
                 *SIMPLE_FEES]
    fee = np.zeros(m, np.int32)
    u = rng.random(m)
    fee[np.isin(kind, (CONS, DEM, AFTER_DEATH))] = np.where(u < 0.9, 0, 1)[
        np.isin(kind, (CONS, DEM, AFTER_DEATH))]
    fee[kind == ECONS] = 2
    fee[kind == SIMPLE] = 10 + choose(rng, int((kind == SIMPLE).sum()), SIMPLE_W)
    fee[kind == HOME] = np.where(u < 0.7, 3, 4)[kind == HOME]
    fee[kind == LV_CONS] = np.where(u < 0.75, 1, 0)[kind == LV_CONS]
    fee[kind == LV_PHONE] = 5
    fee[kind == LV_HOME] = 4
    fee[kind == PHYSIO] = choose(rng, int((kind == PHYSIO).sum()), [7, 2, 1]) + 6
    evening = np.isin(fee, (1, 4, 5))
    minute = np.where(evening, rng.integers(16 * 60, 23 * 60, m), rng.integers(8 * 60, 16 * 60,
                                                                                  m))
    minute = np.where(fixed_minute >= 0, fixed_minute, minute)
    extra = np.isin(kind, (CONS, DEM)) & (rng.random(m) < 0.08)
    fee_claim = np.concatenate([claim_id, claim_id[extra]])
    fee_code = np.concatenate([fee, np.full(extra.sum(), 9, np.int32)])
    fo = np.argsort(fee_claim, kind="stable")
    fee_claim, fee_code = fee_claim[fo], fee_code[fo]
    fee_year, _ = year_month(day[np.searchsorted(claim_id, fee_claim)])

    # diagnoses -----------------------------------------------------------
    c_sex = sex[person]
    by = chunk["birth_year"].to_numpy()[person]
    bm = chunk["birth_month"].to_numpy()[person]
    alder = age_at(day, by, bm)
    codes = np.empty(m, dtype=object)
    system = np.full(m, "ICPC-2", dtype=object)
    gp_kind = np.isin(kind, (CONS, ECONS, SIMPLE, HOME, AFTER_DEATH))
    codes[gp_kind] = np.array(GP_CODES, dtype=object)[choose(rng, int(gp_kind.sum()), GP_W)]
    lv = np.isin(kind, (LV_CONS, LV_PHONE, LV_HOME))
    codes[lv] = np.array(LV_CODES, dtype=object)[choose(rng, int(lv.sum()), LV_W)]
    ph = kind == PHYSIO
    codes[ph] = np.array(PHYSIO_CODES, dtype=object)[choose(rng, int(ph.sum()), PHYSIO_W)]
    hip = chunk["hip_fracture_day"].to_numpy()[person]
    codes[ph & (hip >= 0) & (day >= hip) & (rng.random(m) < 0.6)] = "L75"
    u = rng.random(m)
    for flag, code in (("diabetes", "T90"), ("copd", "R95"), ("heart_failure", "K77")):
        has = chunk[flag].to_numpy()[person]
        codes[gp_kind & has & (u < 0.3)] = code
        u = rng.random(m)
    icd = gp_kind & (rng.random(m) < 0.03)
    codes[icd] = np.array(ICD_GP, dtype=object)[rng.integers(0, len(ICD_GP), int(icd.sum()))]
    system[icd] = "ICD-10"
    # dementia codes: the dedicated claim, 30 % of other GP claims of KUHR-
    # registered persons (late ones only after the window), half of their
    # claims after death
    p_reg = kuhr_reg[person]
    p_late = late[person]
    dem_claim = (kind == DEM) | (
        gp_kind & (kind != AFTER_DEATH) & p_reg & (~p_late | (day > WIN_HI))
        & (rng.random(m) < 0.3)) | ((kind == AFTER_DEATH) & p_reg & (rng.random(m) < 0.5))
    u = rng.random(m)
    codes[dem_claim] = "P70"
    system[dem_claim] = "ICPC-2"
    b = dem_claim & (u < 0.10)
    codes[b] = "P700006"
    system[b] = "ICPC-2B"
    i10 = dem_claim & (u >= 0.10) & (u < 0.15)
    codes[i10] = np.array(DEM_ICD10, dtype=object)[rng.integers(0, len(DEM_ICD10),
                                                               int(i10.sum()))]
    system[i10] = "ICD-10"
    # secondary diagnosis on 20 % of claims (the dementia code moves to
    # position 2 behind a general code on a third of dementia claims)
    sec = rng.random(m) < 0.20
    swap = dem_claim & (rng.random(m) < 0.33)
    sec |= swap
    sec_code = np.array(GP_CODES, dtype=object)[choose(rng, m, GP_W)]
    main_code = np.where(swap, sec_code, codes)
    main_sys = np.where(swap, "ICPC-2", system)
    second_code = np.where(swap, codes, sec_code)
    second_sys = np.where(swap, system, "ICPC-2")
    d_claim = np.concatenate([claim_id, claim_id[sec]])
    d_code = np.concatenate([main_code, second_code[sec]])
    d_sys = np.concatenate([main_sys, second_sys[sec]])
    d_pos = np.concatenate([np.ones(m, np.int8), np.full(sec.sum(), 2, np.int8)])
    do = np.lexsort((d_pos, d_claim))
    d_claim, d_code, d_sys, d_pos = d_claim[do], d_code[do], d_sys[do], d_pos[do]
    d_row_claim = np.searchsorted(claim_id, d_claim)
    # dotted ICD-10 codes (defect, repaired by readers)
    dotted = (d_sys == "ICD-10") & (rng.random(len(d_code)) < defect_rate)
    d_code[dotted] = np.array([c[:3] + "." + c[3:] for c in d_code[dotted]], dtype=object)

    # qualifying events (the reference rule) --------------------------------
    codes_up = pd.Series(d_code, dtype=object).str.replace(".", "", regex=False)
    is_dem = np.where(np.isin(d_sys, ("ICPC-2", "ICPC-2B")), codes_up.str.startswith("P70"),
                      codes_up.str.startswith(("F00", "F01", "F02", "F03", "G30")))
    ev_day = day[d_row_claim]
    ev_person = person[d_row_claim]
    ddp = dd[ev_person]
    ok = is_dem & (ev_day >= WIN_LO) & (ev_day <= WIN_HI) & ((ddp < 0) | (ev_day <= ddp))
    events = pd.DataFrame({"person": ev_person[ok], "day": ev_day[ok]})

    mv_day, mv_to = (None, None) if moves is None else (moves[0][person], moves[1][person])
    muni = residence(chunk["municipality"].to_numpy()[person], mv_day, mv_to, day)
    mcode = muni_codes[muni]
    is_oslo = mcode == "0301"
    bydel_n = rng.integers(1, 16, m) if district is None else np.asarray(district)[person]
    bydel = pa.array(np.where(is_oslo, np.char.add("0301", np.char.zfill(
        bydel_n.astype(str), 2)), None), pa.string())
    prax = np.where(rng.random(m) < 0.9, muni, rng.integers(0, len(muni_codes), m))
    svc = np.where(np.isin(kind, (LV_CONS, LV_PHONE, LV_HOME)), 1,
                   np.where(kind == PHYSIO, np.where(rng.random(m) < 0.75, 2, 3), 0))
    death = dd[person]
    sex_a = pa.array(c_sex.astype(np.int8))
    claims = pa.table({
        "aar": pa.array(year), "kpr_lnr": pa.array(chunk["kpr_id"].to_numpy()[person]),
        "enkeltregning_lnr": pa.array(claim_id), "dato": dates(day),
        "klokkeslett": times(minute), "kjonn": sex_a, "kjonnK": sex_a,
        "alder": pa.array(alder), "fodselsaar": pa.array(by.astype(np.int16)),
        "kommuneNr": take(muni_codes.tolist(), muni), "bydel": bydel,
        "kommunenrPB": take(muni_codes.tolist(), muni),
        "tjenestetype": take(SERVICE, svc), "praksiskommune": take(muni_codes.tolist(), prax),
        "doddato": dates(death),
    }, schema=CLAIMS_SCHEMA)
    diagnoses = pa.table({
        "aar": pa.array(year[d_row_claim]), "enkeltregning_lnr": pa.array(d_claim),
        "diagnoseKode": pa.array(d_code.tolist(), pa.string()),
        "diagnoseTabell": pa.array(d_sys.tolist(), pa.string()),
        "erHoveddiagnose": pa.array((d_pos == 1).astype(np.int8)), "kodenr": pa.array(d_pos),
    }, schema=DIAGNOSES_SCHEMA)
    fees = pa.table({
        "aar": pa.array(fee_year), "enkeltregning_lnr": pa.array(fee_claim),
        "takstkode": take(fee_vocab, fee_code),
        "KPRantall": pa.array(np.ones(len(fee_claim), np.int16)),
    }, schema=FEES_SCHEMA)

    in17 = (day >= (H2_2017 - 181)) & (day <= P_HI)
    cons17 = np.isin(kind, (CONS, ECONS, DEM)) & in17
    gp17 = gp_kind | (kind == DEM)
    alive17 = (chunk["group"].to_numpy() == 0)
    cons_p = np.bincount(person[cons17], minlength=n)
    stats = {
        "gp_consultations_2017": float(cons17.sum()),
        "gp_claims_2017": float((gp17 & in17 & (kind != AFTER_DEATH)).sum()),
        "cons_80_89": float(cons_p[alive17 & (age >= 80) & (age < 90)].sum()),
        "cons_women": float(cons_p[alive17 & (sex == 2)].sum()),
        "cons_men": float(cons_p[alive17 & (sex == 1)].sum()),
        "claims": float(m),
    }
    ad_rows = np.flatnonzero(kind == AFTER_DEATH)
    return KuhrChunk(claims, diagnoses, fees, events, ad_rows, person[ad_rows],
                     np.flatnonzero(dotted), person[d_row_claim[dotted]], stats)
