"""NPR somatic episodes (wide ``tilstand_<n>_<k>`` diagnoses) for one chunk.

The share of persons with a hospital contact per year follows SSB's 2017
figures by age and sex (69 % at 80+); contacts have on average 3.7 episodes a
year (≈ 7.2 million episodes / 1.95 million patients, SSB 353135/302961), of
which about 11 % inpatient stays (longer for the old), 5 % day treatment and
the rest outpatient. Dementia is coded as a dagger/asterisk pair in the main
condition (``tilstand_1_1 = G30x``, ``tilstand_1_2 = F00x``), as a main F01/F03
or as a secondary F03/F00x/G30x; hip fractures (S72.0–S72.2) are inpatient
stays with an NCSP procedure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from kprlink.synth import calibration as cal
from kprlink.synth._common import WIN_HI, WIN_LO, choose, dates, take, times, uniform_days
from kprlink.synth.kuhr import H2_2017, P_HI, P_LO
from kprlink.synth.moves import residence
from kprlink.synth.world import exposure

N_COND = 20
DIAG_COLS = ["tilstand_1_1", "tilstand_1_2"] + [f"tilstand_{i}_1" for i in range(2, N_COND + 1)]
PROC_COLS = ["ncsp_1", "ncsp_2", "ncmp_1"]
_BASE_SCHEMA = pa.schema(
    [("lopenr", pa.int64()), ("aar", pa.int16()), ("inndato", pa.date32()),
     ("utdato", pa.date32()), ("inntid", pa.string()), ("uttid", pa.string()),
     ("omsorgsniva", pa.int8()), ("innmateHast", pa.int8()), ("kontaktType", pa.int8()),
     ("institusjonid", pa.string()), ("sektor", pa.string()), ("fagomrade", pa.string()),
     ("komnrhjem2", pa.string()), ("kjonn", pa.int8()), ("fodselsar", pa.int16()),
     ("aggrshoppID_Lnr", pa.int64()), ("doddato", pa.date32()), ("bydel2", pa.string())]
    + [(c, pa.string()) for c in DIAG_COLS] + [(c, pa.string()) for c in PROC_COLS]
)
#: Columns :func:`person_columns` appends (birth month, age in days, referral date).
EXTRA_FIELDS = [("fodt_mnd", pa.int8()), ("alderIDager", pa.int32()),
                ("mottaksdato", pa.date32())]
EPISODES_SCHEMA = pa.schema(list(_BASE_SCHEMA) + [pa.field(n, t) for n, t in EXTRA_FIELDS])
# [E] common main/secondary ICD-10 codes in somatic hospitals.
MAIN_CODES = ["Z098", "I489", "I209", "J189", "N390", "C509", "C61", "M170", "K802", "R074",
              "E119", "I109", "J449", "I500", "M545", "H251", "Z470", "R104", "S525", "O800",
              "Z380", "K359", "G409", "D649", "L031"]
MAIN_W = [10, 5, 4, 4, 3, 3, 2, 3, 2, 4, 3, 2, 2, 2, 2, 3, 2, 3, 2, 2, 2, 1, 1, 2, 1]
SEC_CODES = ["I109", "E119", "I489", "J449", "E785", "I251", "N179", "Z921", "E039", "F171"]
SEC_W = [8, 5, 4, 3, 4, 3, 2, 2, 2, 2]
_LONG_TAIL = ["Z864", "Z951", "E669", "M819", "H919", "Z880", "K219", "E559", "D509",
              "M199", "G473", "I739", "L309", "R263", "Z966", "N401"]
FAG = ["MED", "KIR", "ORT", "GER", "NEV", "GYN", "PED", "ONK", "OYE", "ONH"]
SPELL = {1: ("G301", "F001"), 2: ("G300", "F000"), 3: ("G309", "F009")}


@dataclass
class NprChunk:
    """One chunk of NPR episodes plus what truth needs."""

    episodes: pa.Table
    person: np.ndarray  # chunk position of each row
    events: pd.DataFrame
    after_death_rows: np.ndarray
    dotted_rows: np.ndarray
    stats: dict[str, float]
    #: chunk position and day of each acute episode (urgency 1) while alive:
    #: the contacts a GP or legevakt claim refers on the same day
    acute_person: np.ndarray
    acute_day: np.ndarray
    #: admission minute after midnight (``inntid``) of each acute episode
    acute_minute: np.ndarray


def _contact_share(age: np.ndarray, sex: np.ndarray) -> np.ndarray:
    lows = np.array([r[0] for r in cal.NPR_CONTACT_SHARE])
    i = np.searchsorted(lows, age, side="right") - 1
    men = np.array([r[1] for r in cal.NPR_CONTACT_SHARE])
    women = np.array([r[2] for r in cal.NPR_CONTACT_SHARE])
    return np.where(sex == 1, men[i], women[i])


def generate_npr(chunk: pd.DataFrame, rng: np.random.Generator, *, muni_codes: np.ndarray,
                 stay_id0: int, defect_rate: float,
                 district: np.ndarray | None = None,
                 moves: tuple[np.ndarray, np.ndarray] | None = None) -> NprChunk:
    """NPR episodes of the persons in ``chunk`` (see :func:`kuhr.generate_kuhr`).

    `district` (1–15 per person) gives Oslo residents' ``bydel2`` (``0301xx``);
    other episodes have none. Without it no episode has a district. With
    `moves` (move day, destination per person) ``komnrhjem2``, ``bydel2`` and
    the institution's county follow the residence at ``inndato``.
    """
    n = len(chunk)
    age = np.maximum(chunk["age17"].to_numpy(), 0)
    sex = chunk["sex"].to_numpy()
    dd = chunk["death_day"].to_numpy()
    reg = chunk["registered"].to_numpy()
    late = chunk["registered_late"].to_numpy()
    npr_reg = np.isin(reg, (2, 3))
    hip = chunk["hip_fracture_day"].to_numpy()
    share = _contact_share(age, sex)
    share = np.minimum(share * np.where(chunk["heart_failure"].to_numpy() | chunk["copd"]
                                        .to_numpy(), 1.2, 1.0), 0.97)
    persons, days = [], []
    for lo_d, hi_d, frac in ((P_LO, H2_2017 - 182, 0.62), (H2_2017 - 181, P_HI, 1.0)):
        lo, hi = exposure(chunk, lo_d, hi_d)
        alive_frac = np.clip(hi - lo + 1, 0, None) / (hi_d - lo_d + 1)
        contact = rng.random(n) < share * frac * np.sqrt(alive_frac)
        k = np.where(contact, 1 + rng.poisson(2.7 * frac, n), 0)
        p = np.repeat(np.arange(n), k)
        persons.append(p)
        days.append(uniform_days(rng, lo[p], hi[p]))
    # dementia-coded episode for NPR-registered persons (in the window, or
    # after it for late registrations)
    lo, hi = exposure(chunk, P_LO, P_HI)
    dlo = np.where(late, np.maximum(lo, H2_2017), np.maximum(lo, WIN_LO))
    dhi = np.where(late, hi, np.minimum(hi, WIN_HI))
    has_dem = npr_reg & (dhi >= dlo)
    pd_ = np.flatnonzero(has_dem)
    persons.append(pd_)
    days.append(uniform_days(rng, dlo[pd_], dhi[pd_]))
    has_hip = hip >= 0
    persons.append(np.flatnonzero(has_hip))
    days.append(hip[has_hip])
    # contacts after death (defect)
    cand = (dd >= P_LO) & (dd < P_HI)
    ad = cand & (rng.random(n) < min(1.0, 5 * defect_rate))
    pa_ = np.flatnonzero(ad)
    persons.append(pa_)
    days.append((dd[pa_] + 1 + np.floor(rng.random(len(pa_)) * np.minimum(30, P_HI - dd[pa_])))
                .astype(np.int32))
    kind = np.concatenate([np.zeros(sum(len(p) for p in persons[:2]), np.int8),
                           np.full(len(pd_), 1, np.int8), np.full(has_hip.sum(), 2, np.int8),
                           np.full(len(pa_), 3, np.int8)])
    person = np.concatenate(persons)
    day = np.concatenate(days).astype(np.int32)
    order = np.lexsort((day, person))
    person, day, kind = person[order], day[order], kind[order]
    m = len(person)
    a = age[person]

    # care level, dates, urgency ------------------------------------------
    p_in = 0.08 + 0.10 * (a >= 70)
    u = rng.random(m)
    level = np.where(u < p_in, 1, np.where(u < p_in + 0.05, 2, 3)).astype(np.int8)
    level[kind == 2] = 1
    los = np.where(level == 1, rng.geometric(1 / (3.5 + 2.0 * (a >= 70))), 0)
    dout = np.minimum(day + los, np.where(dd[person] >= day, dd[person], day + los))
    acute = np.where(level == 1, rng.random(m) < 0.7, rng.random(m) < 0.08)
    urg = np.where(acute, 1, 4).astype(np.int8)
    contact_type = np.where(level == 3, choose(rng, m, [4, 5, 3]) + 1, 2).astype(np.int8)
    tin = np.where(acute, rng.integers(0, 1440, m), rng.integers(7 * 60, 15 * 60, m))
    tout = np.where(level == 1, rng.integers(9 * 60, 17 * 60, m),
                    np.minimum(tin + rng.integers(15, 120, m), 1439))
    home = residence(chunk["municipality"].to_numpy()[person],
                     None if moves is None else moves[0][person],
                     None if moves is None else moves[1][person], day)
    county = np.array([c[:2] for c in muni_codes])[home]
    inst = np.char.add("97", np.char.add(county.astype(str), "0000"))
    stay = np.where(level == 1, stay_id0 + np.cumsum(level == 1), 0)

    # diagnoses -----------------------------------------------------------
    cols: dict[str, np.ndarray] = {c: np.full(m, None, dtype=object) for c in DIAG_COLS}
    cols["tilstand_1_1"] = np.array(MAIN_CODES, dtype=object)[choose(rng, m, MAIN_W)]
    n_sec = np.minimum(rng.poisson(np.where(level == 1, 2.5, 0.6)), N_COND - 1)
    sec_all = np.array(SEC_CODES, dtype=object)[choose(rng, m * 3, SEC_W)].reshape(m, 3)
    for i in range(3):
        cols[f"tilstand_{i + 2}_1"] = np.where(n_sec > i, sec_all[:, i], None)
    for j in range(3, N_COND - 1):  # rare long lists
        cols[f"tilstand_{j + 2}_1"] = np.where(n_sec > j, _LONG_TAIL[j - 3], None)
    for flag, code in (("diabetes", "E119"), ("copd", "J449"), ("heart_failure", "I500")):
        has = chunk[flag].to_numpy()[person] & (rng.random(m) < 0.35)
        cols["tilstand_1_1"] = np.where(has, code, cols["tilstand_1_1"])
    hipk = kind == 2
    cols["tilstand_1_1"][hipk] = np.array(["S720", "S721", "S722"], dtype=object)[
        rng.integers(0, 3, hipk.sum())]
    ncsp1 = np.where(hipk, np.where(rng.random(m) < 0.5, "NFB12", "NFJ52"), None)
    ncsp2 = np.where(hipk & (rng.random(m) < 0.3), "ZXA10", None)
    # NCMP codes have four letters and two digits (RXGD25); an invalid shape would be a
    # defect the reader repairs (invalid_code), and the generator injects none
    ncmp1 = np.where((level != 1) & (rng.random(m) < 0.15), "AAFX00", None)
    # dementia codes: dedicated episode + 30 % of NPR-registered persons'
    # other episodes (late ones after the window) + half of after-death ones
    p_reg = npr_reg[person]
    dem_ep = (kind == 1) | ((kind == 0) & p_reg & (~late[person] | (day > WIN_HI))
                            & (rng.random(m) < 0.3)) | ((kind == 3) & p_reg & (rng.random(m)
                                                                                 < 0.5))
    u = rng.random(m)
    pair = dem_ep & (u < 0.35)
    sp = rng.integers(1, 4, m)
    for k_, (g, f) in SPELL.items():
        sel = pair & (sp == k_)
        cols["tilstand_1_1"][sel] = g
        cols["tilstand_1_2"][sel] = f
    main_other = dem_ep & (u >= 0.35) & (u < 0.55)
    cols["tilstand_1_1"][main_other] = np.where(rng.random(main_other.sum()) < 0.5, "F039",
                                                "F019")
    sec_dem = dem_ep & (u >= 0.55)
    slot = np.where(n_sec[sec_dem] < N_COND - 1, n_sec[sec_dem] + 2, N_COND)
    sec_code = np.array(["F03", "F039", "F001", "G309"], dtype=object)[
        choose(rng, int(sec_dem.sum()), [3, 4, 2, 1])]
    rows = np.flatnonzero(sec_dem)
    for s in np.unique(slot):
        cols[f"tilstand_{s}_1"][rows[slot == s]] = sec_code[slot == s]
    # dotted codes (defect): main codes written with a dot
    main = cols["tilstand_1_1"]
    lens = np.fromiter((len(c) for c in main), np.int64, m)
    dotted = (rng.random(m) < defect_rate) & (lens >= 4)
    main[dotted] = np.array([c[:3] + "." + c[3:] for c in main[dotted]], dtype=object)

    # qualifying events ----------------------------------------------------
    is_dem = np.zeros(m, bool)
    for c in DIAG_COLS:
        v = pd.Series(cols[c], dtype=object).str.replace(".", "", regex=False)
        is_dem |= v.str.startswith(("F00", "F01", "F02", "F03", "G30"), na=False).to_numpy(bool)
    ddp = dd[person]
    ok = is_dem & (day >= WIN_LO) & (day <= WIN_HI) & ((ddp < 0) | (day <= ddp))
    events = pd.DataFrame({"person": person[ok], "day": day[ok]})

    yr = np.where(day >= H2_2017 - 181, 2017, 2016).astype(np.int16)
    fag = np.where(hipk, 2, np.where(a >= 80, choose(rng, m, [5, 1, 1, 2, 1, 0.5, 0, 1, 1, 0.5]),
                                     choose(rng, m, [5, 2, 1, 0, 1, 1, 1, 1, 1, 1])))
    data = {
        "lopenr": pa.array(chunk["npr_id"].to_numpy()[person]), "aar": pa.array(yr),
        "inndato": dates(day), "utdato": dates(dout), "inntid": times(tin),
        "uttid": times(tout), "omsorgsniva": pa.array(level), "innmateHast": pa.array(urg),
        "kontaktType": pa.array(contact_type), "institusjonid": pa.array(inst.tolist()),
        "sektor": pa.array(np.where(rng.random(m) < 0.01, "5", "4").tolist()),
        "fagomrade": take(FAG, fag),
        "komnrhjem2": take(muni_codes.tolist(), home),
        "kjonn": pa.array(sex[person].astype(np.int8)),
        "fodselsar": pa.array(chunk["birth_year"].to_numpy()[person].astype(np.int16)),
        "aggrshoppID_Lnr": pa.array(stay.astype(np.int64), mask=stay == 0),
        "doddato": dates(dd[person]),
        "bydel2": _district(muni_codes[home],
                            None if district is None else district[person]),
    }
    for c in DIAG_COLS:
        data[c] = pa.array(cols[c].tolist(), pa.string())
    for c, v in zip(PROC_COLS, (ncsp1, ncsp2, ncmp1), strict=True):
        data[c] = pa.array(v.tolist(), pa.string())
    table = pa.table(data, schema=_BASE_SCHEMA)
    alive80 = (chunk["group"].to_numpy() == 0) & (age >= 80)
    pat17 = np.zeros(n, bool)
    pat17[person[(day >= H2_2017 - 181) & (kind != 3)]] = True
    stats = {"npr_patients_2017": float(pat17.sum()),
             "npr_patients_80plus_2017": float((pat17 & alive80).sum()),
             "npr_episodes": float(m), "stays": float((level == 1).sum())}
    referred = acute & (kind != 3)
    return NprChunk(table, person, events, np.flatnonzero(kind == 3), np.flatnonzero(dotted),
                    stats, person[referred].astype(np.int64), day[referred].astype(np.int32),
                    tin[referred].astype(np.int32))


def _district(muni: np.ndarray, district: np.ndarray | None) -> pa.Array:
    """Oslo city district code ``0301xx`` (null outside Oslo or without districts)."""
    if district is None:
        return pa.nulls(len(muni), pa.string())
    code = np.char.add("0301", np.char.zfill(np.asarray(district).astype(str), 2))
    return pa.array(np.where(muni == "0301", code, None), pa.string())

#: [E] share of persons without a birth month (``fodt_mnd``), e.g. temporary ids.
P_NO_BIRTH_MONTH = 0.005
#: [E] share of new planned referrals written by the person's GP (fastlege); the
#: rest come from other referrers (private specialists, other hospitals,
#: legevakt, the hospital itself) and follow no GP claim.
P_GP_REFERRAL = 0.7
#: [E] share of planned episodes without ``mottaksdato``.
P_NO_REFERRAL_DATE = 0.02
#: [E] days from the GP contact to the referral's receipt (``mottaksdato``):
#: electronic referrals mostly arrive the same or the next days.
REFERRAL_DELAY_DAYS = np.arange(15)
REFERRAL_DELAY_W = np.array([40, 15, 10, 10] + [25 / 11] * 11)
#: [E] mean wait (days) from receipt to the episode; SSB/Helsedirektoratet
#: report mean waits of about two months for somatic care in 2017.
MEAN_WAIT_DAYS = 60


def person_columns(episodes: pa.Table, person: np.ndarray, chunk: pd.DataFrame,
                   gp_person: np.ndarray, gp_day: np.ndarray,
                   rng: np.random.Generator) -> pa.Table:
    """Append ``fodt_mnd``, ``alderIDager`` and ``mottaksdato`` to `episodes`.

    Drawn from their own random stream, so the other columns keep their bytes.
    ``fodt_mnd`` is the person's birth month (missing for a share
    ``P_NO_BIRTH_MONTH`` of persons); ``alderIDager`` the age in days at
    ``inndato`` for children under one year (birth day of month drawn for
    persons born before 2017); ``mottaksdato`` (the date the referral was
    received) is set on planned episodes (``innmateHast`` 4): an outpatient
    control (``kontaktType`` 3) after an earlier planned episode of the person
    shares that episode's referral; a new referral is written by the GP with
    probability ``P_GP_REFERRAL`` when the person has a GP claim
    (`gp_person`, `gp_day`: chunk position and day of each ``Fastlege`` claim)
    in the year before: the latest such claim before ``inndato`` minus a drawn
    wait, received ``REFERRAL_DELAY_DAYS`` after it (never after ``inndato``).
    Other referrals are received a drawn wait before the episode.
    """
    n, m = len(chunk), episodes.num_rows
    day = episodes.column("inndato").cast(pa.int32()).to_numpy(zero_copy_only=False)
    urg = episodes.column("innmateHast").to_numpy(zero_copy_only=False)
    ktype = episodes.column("kontaktType").to_numpy(zero_copy_only=False)
    # birth month and birth day --------------------------------------------
    bm = chunk["birth_month"].to_numpy().astype(np.int64)
    by = chunk["birth_year"].to_numpy().astype(np.int64)
    no_bm = rng.random(n) < P_NO_BIRTH_MONTH
    dom = rng.integers(0, 28, n)
    first = ((by - 1970) * 12 + bm - 1).astype("datetime64[M]").astype("datetime64[D]")
    bday = first.astype(np.int64) + dom
    given = chunk["birth_day"].to_numpy()
    bday = np.where(given >= 0, given, bday)
    age_days = day - bday[person]
    infant = (age_days >= 0) & (age_days < 365)
    # referrals --------------------------------------------------------------
    planned = (urg == 4) & (rng.random(m) >= P_NO_REFERRAL_DATE)
    rows = np.flatnonzero(planned)
    same_prev = np.r_[False, person[rows][1:] == person[rows][:-1]]
    new = ~(same_prev & (ktype[rows] == 3))
    wait = np.minimum(rng.geometric(1 / MEAN_WAIT_DAYS, len(rows)) - 1, 365)
    delay = REFERRAL_DELAY_DAYS[choose(rng, len(rows), REFERRAL_DELAY_W)]
    by_gp = rng.random(len(rows)) < P_GP_REFERRAL
    span = np.int64(1 << 20)
    order = np.lexsort((gp_day, gp_person))
    keys_gp = gp_person[order].astype(np.int64) * span + gp_day[order]
    p_r, d_r = person[rows].astype(np.int64), day[rows].astype(np.int64)
    at = np.searchsorted(keys_gp, p_r * span + (d_r - wait), "right") - 1
    claim = np.where(at >= 0, keys_gp[np.maximum(at, 0)] - p_r * span, -1)
    has_claim = (at >= 0) & (claim >= d_r - 365) & (claim < d_r)
    gp_ref = new & by_gp & has_claim
    recv = np.where(gp_ref, np.minimum(claim + delay, d_r), d_r - wait)
    # controls share the referral of the person's latest new one
    idx = np.maximum.accumulate(np.where(new, np.arange(len(rows)), 0))
    recv = recv[idx]
    mottak = np.full(m, -1, np.int64)
    mottak[rows] = recv
    fodt = pa.array(bm[person].astype(np.int8), mask=no_bm[person])
    alder = pa.array(age_days.astype(np.int32), mask=~infant)
    out = episodes
    for (name, typ), arr in zip(EXTRA_FIELDS, (fodt, alder, dates(mottak)), strict=True):
        out = out.append_column(pa.field(name, typ), arr.cast(typ))
    return out
