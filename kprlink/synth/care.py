"""KPR helse og omsorg: service periods, function scores and indicators.

Service periods overlap 2017 (they may start earlier). Long-term stays (21)
go to the persons flagged ``nursing_home``; other recipients are drawn by age
(SSB 2018/26: 12.6 % at 67–79, about half at 80–89, 90 % at 90+, 40 % of
recipients under 67) and get home nursing (15), practical help (1), safety
alarms (06.01) and GPS (06.02), day activities (4), meals (5), short stays
(18–20, 19 = rehabilitation, with function assessments at admission and
discharge), KAD (23) and, for the young, BPA (3), respite (7) and support
contacts (9). Indicators (medication review, nutrition) are reported for
long-term residents aged 67+ and vary by county (NKI 2016–2018).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from kprlink.sources.kpr_ho import FUNCTION_VARIABLES
from kprlink.synth import calibration as cal
from kprlink.synth._common import dates, take, uniform_days
from kprlink.synth.world import D2017, DEC31_2017, day, exposure

SERVICES_SCHEMA = pa.schema([
    ("aar", pa.int16()), ("kpr_lnr", pa.int64()), ("tjeneste", pa.int8()),
    ("undertjeneste", pa.string()), ("vedtaksdato", pa.date32()), ("fradato", pa.date32()),
    ("tildato", pa.date32()), ("timer_per_uke", pa.float64()), ("kommuneNr", pa.string()),
    ("kjonn", pa.int8()), ("fodselsaar", pa.int16()), ("doddato", pa.date32()),
])
FUNCTIONS_SCHEMA = pa.schema([
    ("kpr_lnr", pa.int64()), ("vurderingsdato", pa.date32()), ("funksjonsvariabel", pa.string()),
    ("skaar", pa.int8()), ("kommuneNr", pa.string()),
])
INDICATORS_SCHEMA = pa.schema([
    ("kpr_lnr", pa.int64()), ("dato", pa.date32()), ("kommuneNr", pa.string()),
    ("legemiddelgjennomgang", pa.int8()), ("ernaering_vurdert", pa.int8()),
    ("ernaering_risiko", pa.int8()), ("ernaering_plan", pa.int8()), ("heldogn", pa.int8()),
    ("individuell_plan", pa.int8()), ("koordinator", pa.int8()),
])
VARIABLES = list(FUNCTION_VARIABLES)
EARLIEST = day(2012, 1, 1)

# (service code, subcode, P for home-dwelling users 67+, P for users < 67,
#  dementia multiplier, typical length in days or 0 = open-ended)
_HOME_SERVICES = (
    (15, None, 0.62, 0.45, 1.2, 0), (1, None, 0.40, 0.20, 1.1, 0),
    (6, "06.01", 0.42, 0.02, 1.2, 0), (6, "06.02", 0.0, 0.0, 0.0, 0),
    (4, None, 0.03, 0.06, 6.0, 0), (5, None, 0.10, 0.01, 1.6, 0),
    (18, None, 0.05, 0.005, 2.0, 21), (19, None, 0.05, 0.01, 1.0, 28),
    (20, None, 0.04, 0.005, 2.0, 14), (23, None, 0.03, 0.005, 1.3, 3),
    (17, None, 0.015, 0.002, 3.0, 0), (3, None, 0.0, 0.03, 0.0, 0),
    (7, None, 0.0, 0.04, 0.0, 0), (9, None, 0.01, 0.12, 1.0, 0),
)


@dataclass
class CareChunk:
    """One chunk of KPR helse og omsorg output."""

    services: pa.Table
    functions: pa.Table
    indicators: pa.Table
    stats: dict[str, float]


def county_rates(counties: list[str], national: float, fixed: dict[str, float],
                 rng: np.random.Generator) -> dict[str, float]:
    """[E] County values spread between the published extremes around ``national``."""
    lo, hi = min(fixed.values()), max(fixed.values())
    out = {}
    for cc in counties:
        out[cc] = fixed.get(cc, float(np.clip(national + rng.normal(0, 0.08), lo + 0.02,
                                              hi - 0.02)))
    return out


def generate_care(chunk: pd.DataFrame, rng: np.random.Generator, *, muni_codes: np.ndarray,
                  medication: dict[str, float], nutrition: dict[str, float]) -> CareChunk:
    """Service periods, function scores and indicators of ``chunk``'s persons."""
    n = len(chunk)
    age = np.maximum(chunk["age17"].to_numpy(), 0)
    dem = chunk["dementia"].to_numpy()
    nh = chunk["nursing_home"].to_numpy()
    lo, hi = exposure(chunk, D2017, DEC31_2017)
    alive = hi >= lo
    p_user = np.interp(age, [0, 17, 18, 49, 50, 66, 67, 79, 80, 89, 90],
                       [0.019, 0.019, 0.03, 0.03, 0.045, 0.045, 0.11, 0.11, 0.42, 0.42, 0.72])
    p_user = np.where(dem, np.maximum(p_user, 0.8), p_user)
    home_user = alive & ~nh & (rng.random(n) < p_user)
    nh = nh & alive
    rows: list[tuple[np.ndarray, ...]] = []  # person, code, subcode idx, start, end, hours

    def periods(p: np.ndarray, code: int, sub: int, length: int) -> None:
        if not len(p):
            return
        if length:
            start = uniform_days(rng, lo[p], hi[p])
            end = np.minimum(start + rng.geometric(1 / length, len(p)), hi[p])
            end = np.where(hi[p] < DEC31_2017, np.minimum(end, hi[p]), end)
        else:
            before = rng.random(len(p)) < 0.6
            start = np.where(before, uniform_days(rng, np.full(len(p), EARLIEST), lo[p] - 1),
                             uniform_days(rng, lo[p], hi[p]))
            ends = rng.random(len(p)) < 0.18
            end = np.where(ends, uniform_days(rng, np.maximum(start, lo[p]), hi[p]), -1)
            died = hi[p] < DEC31_2017
            end = np.where(died, hi[p], end)
        hours = np.where(np.isin(code, (1, 15, 3)), np.round(rng.lognormal(1.2, 0.8, len(p)) * 2)
                         / 2, np.nan)
        hours = np.minimum(hours, 168.0)
        rows.append((p, np.full(len(p), code, np.int8), np.full(len(p), sub, np.int8),
                     start.astype(np.int32), end.astype(np.int32), hours))

    periods(np.flatnonzero(nh), 21, 0, 0)
    old = age >= 67
    for code, sub, p_old, p_young, dmul, length in _HOME_SERVICES:
        pr = np.where(old, p_old, p_young) * np.where(dem, dmul, 1.0)
        if sub == "06.02":  # GPS: 533 users in 2017 (Omsorg 2020), mostly dementia
            pr = np.where(dem & ~nh, 0.012, 0.00003)
        chosen = home_user & (rng.random(n) < np.minimum(pr, 0.95))
        periods(np.flatnonzero(chosen), code, 0 if sub is None else (1 if sub == "06.01" else 2),
                length)
    # every home user has at least one service: home nursing if none drawn
    have = np.zeros(n, bool)
    for r in rows:
        have[r[0]] = True
    periods(np.flatnonzero(home_user & ~have), 15, 0, 0)
    p = np.concatenate([r[0] for r in rows])
    code = np.concatenate([r[1] for r in rows])
    sub = np.concatenate([r[2] for r in rows])
    start = np.concatenate([r[3] for r in rows])
    end = np.concatenate([r[4] for r in rows])
    hours = np.concatenate([r[5] for r in rows])
    o = np.lexsort((start, code, p))
    p, code, sub, start, end, hours = p[o], code[o], sub[o], start[o], end[o], hours[o]
    decision = (start - rng.integers(0, 30, len(p))).astype(np.int32)
    mun = chunk["municipality"].to_numpy()
    kpr = chunk["kpr_id"].to_numpy()
    dd = chunk["death_day"].to_numpy()
    services = pa.table({
        "aar": pa.array(np.full(len(p), 2017, np.int16)), "kpr_lnr": pa.array(kpr[p]),
        "tjeneste": pa.array(code), "undertjeneste": take(["", "06.01", "06.02"], sub,
                                                          mask=sub == 0),
        "vedtaksdato": dates(decision), "fradato": dates(start), "tildato": dates(end),
        "timer_per_uke": pa.array(hours, mask=np.isnan(hours)),
        "kommuneNr": take(muni_codes.tolist(), mun[p]),
        "kjonn": pa.array(chunk["sex"].to_numpy()[p].astype(np.int8)),
        "fodselsaar": pa.array(chunk["birth_year"].to_numpy()[p].astype(np.int16)),
        "doddato": dates(dd[p]),
    }, schema=SERVICES_SCHEMA)

    # function assessments: one yearly per user + admission/discharge of
    # rehabilitation stays (19) by REHAB_ASSESSMENT_SPLIT
    users = np.unique(p)
    a_person = [users]
    a_day = [uniform_days(rng, lo[users], hi[users])]
    rehab = code == 19
    split = np.searchsorted(np.cumsum(cal.REHAB_ASSESSMENT_SPLIT), rng.random(rehab.sum()))
    rp, rs, re_ = p[rehab], start[rehab], np.maximum(end[rehab], start[rehab] + 1)
    adm = np.isin(split, (0, 1))
    dis = np.isin(split, (0, 2))
    a_person += [rp[adm], rp[dis]]
    a_day += [rs[adm], re_[dis]]
    fp = np.concatenate(a_person)
    fd = np.concatenate(a_day).astype(np.int32)
    fo = np.lexsort((fd, fp))
    fp, fd = fp[fo], fd[fo]
    keep = np.ones(len(fp), bool)
    keep[1:] = (fp[1:] != fp[:-1]) | (fd[1:] != fd[:-1])  # one assessment per person-day
    fp, fd = fp[keep], fd[keep]
    need = (1.5 + 0.025 * np.maximum(age[fp] - 60, 0) + 1.3 * dem[fp] + 1.5 * nh[fp])
    nv = len(VARIABLES)
    score = np.clip(np.rint(need[:, None] + rng.normal(0, 0.8, (len(fp), nv))), 1, 5)
    mem = VARIABLES.index("hukommelse")
    score[:, mem] = np.clip(score[:, mem] + 1.0 * dem[fp], 1, 5)
    score[rng.random(score.shape) < 0.03] = 9
    functions = pa.table({
        "kpr_lnr": pa.array(np.repeat(kpr[fp], nv)), "vurderingsdato": dates(np.repeat(fd, nv)),
        "funksjonsvariabel": take(VARIABLES, np.tile(np.arange(nv), len(fp))),
        "skaar": pa.array(score.ravel().astype(np.int8)),
        "kommuneNr": take(muni_codes.tolist(), np.repeat(mun[fp], nv)),
    }, schema=FUNCTIONS_SCHEMA)

    # indicators for long-term residents 67+ -----------------------------
    ip = np.flatnonzero(nh & (age >= 67))
    county = np.array([c[:2] for c in muni_codes])[mun[ip]]
    med = np.array([medication[c] for c in county])
    nut = np.array([nutrition[c] for c in county])
    u = rng.random(len(ip))
    med_v = np.where(u < med, 1, np.where(u < med + 0.28 * (1 - med), 9, 0))
    u = rng.random(len(ip))
    nut_v = np.where(u < nut, 1, np.where(u < nut + 0.037, 0, 9))
    risk = np.where(nut_v == 1, (rng.random(len(ip)) < cal.NUTRITION_RISK).astype(int), 9)
    plan = np.where(risk == 1, (rng.random(len(ip)) < cal.NUTRITION_PLAN).astype(int), 9)
    indicators = pa.table({
        "kpr_lnr": pa.array(kpr[ip]), "dato": dates(hi[ip]),
        "kommuneNr": take(muni_codes.tolist(), mun[ip]),
        "legemiddelgjennomgang": pa.array(med_v.astype(np.int8)),
        "ernaering_vurdert": pa.array(nut_v.astype(np.int8)),
        "ernaering_risiko": pa.array(risk.astype(np.int8)),
        "ernaering_plan": pa.array(plan.astype(np.int8)),
        "heldogn": pa.array(np.ones(len(ip), np.int8)),
        "individuell_plan": pa.array((rng.random(len(ip)) < 0.028).astype(np.int8)),
        "koordinator": pa.array((rng.random(len(ip)) < 0.05).astype(np.int8)),
    }, schema=INDICATORS_SCHEMA)

    ongoing = (start <= DEC31_2017) & ((end < 0) | (end >= DEC31_2017)) & (hi[p] == DEC31_2017)
    stock = np.zeros(n, bool)
    stock[p[ongoing]] = True
    lt = np.zeros(n, bool)
    lt[p[ongoing & (code == 21)]] = True
    stats = {"service_users_2017": float(len(users)), "service_users_31dec": float(stock.sum()),
             "long_term_31dec": float(lt.sum()), "service_periods": float(len(p)),
             "gps_users": float(len(np.unique(p[sub == 2]))),
             "alarm_users": float(len(np.unique(p[sub == 1])))}
    return CareChunk(services, functions, indicators, stats)
