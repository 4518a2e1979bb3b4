"""GP follow-up consultations after an NPR inpatient stay (epikrise follow-up).

After discharge from a somatic inpatient stay the discharge summary (epikrise)
goes to the regular GP, who sees a share of the patients within two weeks:
medication changes, wound control, blood tests. These consultations are extra
KUHR ``Fastlege`` claims, drawn from their own random stream and appended to
the chunk's claims, so every earlier claim keeps its bytes and id.

No Norwegian figure for the share seen within 14 days was found; the values
below are estimates [E]. International register studies report that roughly
half of older patients see their GP within two weeks of discharge, and that
most of those visits fall in the second week.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from kprlink.synth._common import age_at, choose, dates, take, times, year_month
from kprlink.synth.kuhr import (
    CLAIMS_SCHEMA,
    DIAGNOSES_SCHEMA,
    FEES_SCHEMA,
    GP_CODES,
    GP_W,
    H2_2017,
    P_HI,
    SERVICE,
)
from kprlink.synth.moves import residence

#: [E] share of inpatient stays (discharged alive, home-dwelling) followed by a
#: GP consultation within 14 days.
P_FOLLOWUP = 0.5
#: [E] days from discharge (``utdato``) to the follow-up, 1–14: few the next
#: days (the summary has to arrive), most in the second week.
FOLLOWUP_DELAY_DAYS = np.arange(1, 15)
FOLLOWUP_DELAY_W = np.array([3, 5, 6, 7, 8, 9, 9, 9, 9, 8, 8, 7, 6, 6], dtype=float)


@dataclass
class FollowupClaims:
    """Follow-up claims of one chunk (appended to the KUHR files)."""

    claims: pa.Table
    diagnoses: pa.Table
    fees: pa.Table
    person: np.ndarray  # chunk position per claim
    day: np.ndarray
    stats: dict[str, float]


def followup_claims(chunk: pd.DataFrame, episodes: pa.Table, person: np.ndarray,
                    rng: np.random.Generator, *, muni_codes: np.ndarray, claim_id0: int,
                    district: np.ndarray | None = None,
                    moves: tuple[np.ndarray, np.ndarray] | None = None) -> FollowupClaims:
    """GP consultations 1–14 days after the inpatient stays in `episodes`.

    Parameters
    ----------
    chunk : pandas.DataFrame
        Persons of the chunk. Not modified.
    episodes : pyarrow.Table
        The chunk's NPR episodes (``omsorgsniva``, ``utdato``); `person` gives
        each row's chunk position.
    rng : numpy.random.Generator
        A stream of its own (the other files keep their bytes).
    muni_codes : numpy.ndarray
        Municipality code per municipality index.
    claim_id0 : int
        First claim id (after the chunk's other claims).
    district : numpy.ndarray, optional
        City district 1–15 per person (Oslo claims get ``bydel``).
    moves : tuple of numpy.ndarray, optional
        Move day and destination per person: municipality at the claim date.

    Notes
    -----
    Only stays of home-dwelling persons (not nursing-home residents, whom the
    nursing-home doctor follows up) discharged alive get a follow-up, with
    probability ``P_FOLLOWUP``, on a weekday (a Saturday/Sunday moves to the
    Monday after), before the end of the period and the person's death. The
    claims are ordinary consultations (``2ad``), day time, with a common
    ICPC-2 diagnosis (never a dementia code: the reference cohort does not
    change).
    """
    level = episodes.column("omsorgsniva").to_numpy(zero_copy_only=False)
    out = episodes.column("utdato").cast(pa.int32()).to_numpy(zero_copy_only=False)
    out = out.astype(np.int64)
    m = len(level)
    u = rng.random(m)
    delay = FOLLOWUP_DELAY_DAYS[choose(rng, m, FOLLOWUP_DELAY_W)]
    day = out + delay
    wd = (day + 3) % 7  # 0 = Monday
    day = np.where(wd >= 5, day + (7 - wd), day)
    dd = chunk["death_day"].to_numpy()[person]
    nh = chunk["nursing_home"].to_numpy()[person]
    alive = (dd < 0) | (dd > day)
    sel = (level == 1) & (u < P_FOLLOWUP) & ~nh & alive & (day <= P_HI)
    p, day = person[sel].astype(np.int64), day[sel].astype(np.int32)
    order = np.lexsort((p, day))
    p, day = p[order], day[order]
    k = len(p)
    claim_id = claim_id0 + np.arange(k, dtype=np.int64)
    year, _ = year_month(day)
    minute = rng.integers(8 * 60, 16 * 60, k)
    code = np.array(GP_CODES, dtype=object)[choose(rng, k, GP_W)]
    by = chunk["birth_year"].to_numpy()[p]
    bm = chunk["birth_month"].to_numpy()[p]
    muni = residence(chunk["municipality"].to_numpy()[p],
                     None if moves is None else moves[0][p],
                     None if moves is None else moves[1][p], day)
    mcode = muni_codes[muni]
    bydel_n = (rng.integers(1, 16, k) if district is None else np.asarray(district)[p])
    bydel = pa.array(np.where(mcode == "0301", np.char.add("0301", np.char.zfill(
        bydel_n.astype(str), 2)), None), pa.string())
    sex = pa.array(chunk["sex"].to_numpy()[p].astype(np.int8))
    munis = muni_codes.tolist()
    claims = pa.table({
        "aar": pa.array(year), "kpr_lnr": pa.array(chunk["kpr_id"].to_numpy()[p]),
        "enkeltregning_lnr": pa.array(claim_id), "dato": dates(day),
        "klokkeslett": times(minute), "kjonn": sex, "kjonnK": sex,
        "alder": pa.array(age_at(day, by, bm)), "fodselsaar": pa.array(by.astype(np.int16)),
        "kommuneNr": take(munis, muni), "bydel": bydel, "kommunenrPB": take(munis, muni),
        "tjenestetype": take(SERVICE, np.zeros(k, np.int32)),
        "praksiskommune": take(munis, muni),
        "doddato": dates(chunk["death_day"].to_numpy()[p]),
    }, schema=CLAIMS_SCHEMA)
    diagnoses = pa.table({
        "aar": pa.array(year), "enkeltregning_lnr": pa.array(claim_id),
        "diagnoseKode": pa.array(code.tolist(), pa.string()),
        "diagnoseTabell": pa.array(["ICPC-2"] * k, pa.string()),
        "erHoveddiagnose": pa.array(np.ones(k, np.int8)),
        "kodenr": pa.array(np.ones(k, np.int8)),
    }, schema=DIAGNOSES_SCHEMA)
    fees = pa.table({
        "aar": pa.array(year), "enkeltregning_lnr": pa.array(claim_id),
        "takstkode": pa.array(["2ad"] * k, pa.string()),
        "KPRantall": pa.array(np.ones(k, np.int16)),
    }, schema=FEES_SCHEMA)
    in17 = (day >= (H2_2017 - 181)) & (day <= P_HI)
    n = len(chunk)
    age = np.maximum(chunk["age17"].to_numpy(), 0)
    sex_c = chunk["sex"].to_numpy()
    alive17 = chunk["group"].to_numpy() == 0
    cons_p = np.bincount(p[in17], minlength=n)
    stats = {
        "gp_consultations_2017": float(in17.sum()), "gp_claims_2017": float(in17.sum()),
        "cons_80_89": float(cons_p[alive17 & (age >= 80) & (age < 90)].sum()),
        "cons_women": float(cons_p[alive17 & (sex_c == 2)].sum()),
        "cons_men": float(cons_p[alive17 & (sex_c == 1)].sum()),
        "claims": float(k), "gp_followups": float(k),
    }
    return FollowupClaims(claims, diagnoses, fees, p, day, stats)
