"""Synthetic Norway's population structure: single ages, counties, municipalities.

* :func:`single_age_counts` spreads the 16 published 2017 reference-band
  counts (SSB 07459, by sex) over single years of age 0–105 (105 = 105+):
  the density is interpolated linearly between band mid-points (a fixed,
  smooth shape under 60, a geometric tail at 90+) and integerised by largest
  remainder *within each band*, so band totals are exact at ``scale=1`` and
  within one person of ``scale × total`` at any scale.
* :func:`municipalities` builds 426 synthetic municipalities (codes
  ``CCxx``, Oslo ``0301`` alone in county 03) with heavy-tailed (log-normal)
  sizes inside each of the 19 counties of 2017. The geography is fixed: it
  does not depend on the seed, so deliveries with different seeds share
  places.
* :func:`klass_tables` writes the SSB Klass shaped redistricting and names
  tables: the 2018 Trøndelag merger (16xx/17xx → 50xx) and a few synthetic
  2020 mergers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kprlink.synth import calibration as cal

MAX_AGE = 105  # 105 = 105 and over, as SSB 07459
# Relative density under 60 (knots: age, weight), [E] the rough shape of the
# 2017 pyramid (larger cohorts at 25–55 than among children).
_UNDER60_KNOTS = ((0, 0.90), (10, 0.95), (20, 1.0), (30, 1.10), (45, 1.08), (55, 1.02),
                  (59, 0.97))


def _largest_remainder(x: np.ndarray, total: int) -> np.ndarray:
    """Integers summing to ``total`` closest to ``x`` (Hamilton's method)."""
    base = np.floor(x).astype(np.int64)
    rest = int(total - base.sum())
    if rest > 0:
        order = np.argsort(-(x - base), kind="stable")
        base[order[:rest]] += 1
    elif rest < 0:
        order = np.argsort(x - base, kind="stable")
        base[order[: -rest]] -= 1
    return base


def single_age_counts(scale: float = 1.0) -> np.ndarray:
    """Persons on 1 January 2017 by sex and single age.

    Parameters
    ----------
    scale : float, default 1.0
        Share of Norway.

    Returns
    -------
    numpy.ndarray
        Shape (2, 106): row 0 men (sex 1), row 1 women (sex 2), ages 0–105.

    Examples
    --------
    >>> c = single_age_counts()
    >>> int(c.sum()), int(c[1, 90:].sum())
    (5258317, 32083)
    """
    ages = np.arange(MAX_AGE + 1, dtype=float)
    out = np.zeros((2, MAX_AGE + 1), dtype=np.int64)
    for s, col in ((0, 1), (1, 0)):  # men are the second number in POP_2017_BANDS
        mids = []
        dens = []
        for name, lo, hi in cal.BANDS[1:-1]:
            mids.append((lo + hi - 1) / 2)
            dens.append(cal.POP_2017_BANDS[name][col] / (hi - lo))
        top = cal.POP_2017_BANDS["90+"][col]
        mids.append(92.0)  # [E] effective mid-point of the 90+ band
        dens.append(top / 6.0)
        shape = np.interp(ages, mids, dens)
        u60 = np.interp(ages[:60], *zip(*_UNDER60_KNOTS, strict=True))
        shape[:60] = u60
        # geometric tail from the interpolated density at 90 (continuous)
        ratio = float(np.clip(1.0 - shape[90] / top, 0.5, 0.9))
        shape[90:] = ratio ** np.arange(MAX_AGE + 1 - 90)
        shape[MAX_AGE] /= 1 - ratio  # open-ended top age
        for name, lo, hi in cal.BANDS:
            tot = cal.POP_2017_BANDS[name][col] * scale
            w = shape[lo:hi] / shape[lo:hi].sum() * tot
            out[s, lo:hi] = _largest_remainder(w, round(tot))
    return out


def _names(n: int, rng: np.random.Generator) -> list[str]:
    first = ["Bjørk", "Ås", "Fjell", "Strand", "Sand", "Vik", "Dal", "Lund", "Berg", "Nes",
             "Øy", "Hov", "Skog", "Eid", "Mo", "Lø", "Rø", "Sør", "Nord", "Vest", "Aust",
             "Ham", "Stor", "Lille", "Grå", "Kval", "Hval", "Sel", "Tves", "Frø", "Lyng",
             "Hå", "Kvinn", "Vå", "Sul", "Ørs", "Gjer", "Myr", "Ving", "Tor"]
    last = ["dal", "vik", "nes", "øy", "berg", "stad", "sund", "fjord", "heim", "land",
            "rud", "haug", "bø", "ås", "strand", "holm", "eid", "voll", "sand", "set"]
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < n:
        cand = first[rng.integers(len(first))] + last[rng.integers(len(last))]
        if cand not in seen:
            seen.add(cand)
            names.append(cand)
    return names


def municipalities() -> pd.DataFrame:
    """The fixed synthetic municipalities of 2017.

    Returns
    -------
    pandas.DataFrame
        One row per municipality: ``code`` (``CCxx``), ``name``,
        ``county`` (``CC``), ``county_name``, ``weight`` (share of the
        county's population), ``pop_share`` (share of Norway), ``code_2018``
        (after the Trøndelag merger) and ``code_2020`` (after the synthetic
        2020 mergers).

    Examples
    --------
    >>> m = municipalities()
    >>> len(m), m.loc[m.county == "03", "code"].tolist()
    (426, ['0301'])
    """
    rng = np.random.default_rng(20170101)  # fixed geography, independent of seed
    total = sum(c[2] for c in cal.COUNTIES_2017)
    rows = []
    names = _names(sum(cal.MUNICIPALITIES_PER_COUNTY.values()), rng)
    k = 0
    tr_next = 1  # running number of 50xx codes
    for cc, cname, cpop in cal.COUNTIES_2017:
        n = cal.MUNICIPALITIES_PER_COUNTY[cc]
        if n == 1:
            w = np.array([1.0])
        else:
            w = np.sort(rng.lognormal(0.0, 1.15, n))[::-1]
            w[0] *= 2.5  # the county's town
            w = w / w.sum()
        for i in range(n):
            code = "0301" if cc == "03" else f"{cc}{2 * i + 1:02d}"
            if cc in ("16", "17"):
                code_2018 = f"50{tr_next:02d}"
                tr_next += 1
            else:
                code_2018 = code
            rows.append(
                {"code": code, "name": "Oslo" if cc == "03" else names[k], "county": cc,
                 "county_name": cname, "weight": float(w[i]),
                 "pop_share": float(w[i]) * cpop / total, "code_2018": code_2018}
            )
            k += 1
    df = pd.DataFrame(rows)
    # Synthetic 2020 mergers: in each county with >= 20 municipalities the two
    # smallest merge into the larger code (as many real 2020 reforms did).
    df["code_2020"] = df["code_2018"]
    for _, grp in df.groupby("county", sort=True):
        if len(grp) >= 20:
            small = grp.sort_values("weight").index[:2]
            df.loc[small[0], "code_2020"] = df.loc[small[1], "code_2018"]
    return df


def klass_tables(munis: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """SSB Klass shaped redistricting and names tables.

    Parameters
    ----------
    munis : pandas.DataFrame
        From :func:`municipalities`. Not modified.

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        ``klass_kommuner``: location_code_current, location_code_original,
        calyear, weighting, granularity_geo — every code valid in each year
        2016–2020 mapped to its 2020 code; ``klass_navn``: location_code,
        location_name, granularity_geo, county_code.
    """
    rows = []
    for year in range(2016, 2021):
        col = "code" if year < 2018 else ("code_2018" if year < 2020 else "code_2020")
        seen = set()
        for orig, cur in zip(munis[col], munis["code_2020"], strict=True):
            if orig in seen:
                continue
            seen.add(orig)
            rows.append((f"municip_nor{cur}", f"municip_nor{orig}", year, 1.0, "municip"))
        for cc in sorted({c[:2] for c in munis[col]}):
            cur = "50" if cc in ("16", "17") else cc
            rows.append((f"county_nor{cur}", f"county_nor{cc}", year, 1.0, "county"))
        rows.append(("nation_nor", "nation_nor", year, 1.0, "nation"))
    kommuner = pd.DataFrame(rows, columns=["location_code_current", "location_code_original",
                                           "calyear", "weighting", "granularity_geo"])
    names = [("nation_nor", "Norge", "nation", "")]
    county_names = {c[0]: c[1] for c in cal.COUNTIES_2017} | {"50": "Trøndelag"}
    for cc, nm in sorted(county_names.items()):
        names.append((f"county_nor{cc}", nm, "county", f"county_nor{cc}"))
    seen = set()
    for col in ("code", "code_2018"):
        for code, nm in zip(munis[col], munis["name"], strict=True):
            if code not in seen:
                seen.add(code)
                names.append((f"municip_nor{code}", nm, "municip", f"county_nor{code[:2]}"))
    navn = pd.DataFrame(names, columns=["location_code", "location_name", "granularity_geo",
                                        "county_code"])
    return kommuner, navn
