"""Population denominators from SSB table 07459 (population on 1 January)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from kprlink.demography.age import AgeBands
from kprlink.exceptions import MissingColumnsError, SpecError

__all__ = ["population_denominators"]

_ALIASES = {"granularity_geo": "geo_level", "calyear": "year", "pop_jan1_n": "population"}
_NEED = ["geo_level", "location_code", "age", "sex", "year", "population"]
_BY_OK = {"sex", "age", "age_band", "location_code", "geo_level"}


def _canonical(pop: pd.DataFrame) -> pd.DataFrame:
    p = pop.rename(columns={k: v for k, v in _ALIASES.items()
                            if k in pop.columns and v not in pop.columns})
    missing = [c for c in _NEED if c not in p.columns]
    if missing:
        raise MissingColumnsError(
            f"population_denominators() needs {missing}; columns are {list(pop.columns)}.",
            [f"column {c!r} is missing" for c in missing], missing=missing)
    return p


def population_denominators(pop: pd.DataFrame, *, year: int | Sequence[int] | None = None,
                            period: tuple[object, object] | None = None,
                            by: Sequence[str] = ("sex", "age_band"),
                            bands: AgeBands | None = None, geo_level: str = "nation",
                            locations: Sequence[str] | None = None) -> pd.DataFrame:
    """Population on 1 January of `year`, or the mid-period population of `period`.

    Parameters
    ----------
    pop : pandas.DataFrame
        Canonical population frame (``geo_level, location_code, age, sex, year,
        population``) or the SSB/csdata long export (``granularity_geo, calyear,
        pop_jan1_n``). Rows with sex ``"total"`` are ignored. Not modified.
    year : int or sequence of int, optional
        Population on 1 January of this year; several years give a ``year`` column.
    period : (date, date), optional
        Both ends included; the denominator is the population at the period's
        midpoint, interpolated linearly between the 1 January populations around it.
    by : sequence of str
        Any of ``sex``, ``age``, ``age_band``, ``location_code``, ``geo_level``.
    bands : AgeBands, optional
        Needed when ``age_band`` is in `by`.
    geo_level : str, default "nation"
        Level to use (``nation``, ``county``, ``municip``).
    locations : sequence of str, optional
        Keep only these location codes.

    Returns
    -------
    pandas.DataFrame
        `by` columns, ``population`` (float; mid-period values may be fractional)
        and ``person_years`` (population × period length in years; for `year`, 1 year).

    Raises
    ------
    SpecError
        If neither or both of `year`/`period` are given, `by` is unknown, bands are
        missing, or a year needed is not in `pop`.
    MissingColumnsError
        If `pop` lacks a column.

    Notes
    -----
    For 1 Jul 2016 - 30 Jun 2017 (365 days) the midpoint is 30 Dec 2016 12:00,
    so the denominator is 1.5/366 of the 1 January 2016 population plus
    364.5/366 of the 1 January 2017 population.

    Examples
    --------
    >>> pop = pd.DataFrame({"geo_level": "nation", "location_code": "nation_nor",
    ...     "age": [70, 70, 70, 70], "sex": ["female", "male"] * 2,
    ...     "year": [2016, 2016, 2017, 2017], "population": [100, 80, 110, 90]})
    >>> population_denominators(pop, year=2017, by=["sex"])["population"].tolist()
    [110.0, 90.0]
    >>> d = population_denominators(pop, period=("2016-01-01", "2016-12-31"), by=["sex"])
    >>> [round(v, 1) for v in d["population"]]
    [105.0, 85.0]
    """
    if year is not None and not isinstance(year, (int, np.integer)):
        parts = [population_denominators(pop, year=int(y), by=by, bands=bands,
                                         geo_level=geo_level, locations=locations)
                 .assign(year=int(y)) for y in year]
        if not parts:
            raise SpecError("population_denominators(): year= is empty.", ["no years"])
        out = pd.concat(parts, ignore_index=True)
        return out[["year", *[c for c in out.columns if c != "year"]]]
    problems: list[str] = []
    if (year is None) == (period is None):
        problems.append("give exactly one of year= or period=")
    unknown = [b for b in by if b not in _BY_OK]
    if unknown:
        problems.append(f"by has unknown column(s) {unknown}; use {sorted(_BY_OK)}")
    if "age_band" in by and bands is None:
        problems.append("by includes 'age_band' but bands= is not given")
    if problems:
        raise SpecError("population_denominators(): invalid arguments.", problems)
    p = _canonical(pop)
    p = p[(p["geo_level"].astype(str) == geo_level) & (p["sex"].astype(str) != "total")]
    if locations is not None:
        p = p[p["location_code"].isin(list(locations))]
    if year is not None:
        weights = {int(year): 1.0}
        length = 1.0
    else:
        start, end = pd.Timestamp(period[0]), pd.Timestamp(period[1])  # type: ignore[index]
        if end < start:
            raise SpecError("population_denominators(): period ends before it starts.",
                            [f"period {period!r}"])
        end_excl = end + pd.Timedelta(days=1)
        mid = start + (end_excl - start) / 2
        y0 = mid.year
        jan0, jan1 = pd.Timestamp(y0, 1, 1), pd.Timestamp(y0 + 1, 1, 1)
        frac = (mid - jan0) / (jan1 - jan0)
        weights = {y0: 1.0 - frac, y0 + 1: frac}
        weights = {y: w for y, w in weights.items() if w > 0}
        length = (end_excl - start) / pd.Timedelta(days=365.25)
    have = set(pd.to_numeric(p["year"]).astype(int).unique())
    lacking = sorted(y for y in weights if y not in have)
    if lacking:
        raise SpecError(
            f"population_denominators(): the population table lacks year(s) {lacking} "
            f"at geo_level {geo_level!r}.", [f"year {y} missing" for y in lacking])
    p = p[p["year"].astype(int).isin(list(weights))].copy()
    p["_w"] = p["year"].astype(int).map(weights) * p["population"].astype(float)
    if "age_band" in by:
        p["age_band"] = bands.assign(p["age"].astype(int))  # type: ignore[union-attr]
    if "sex" in by:
        p["sex"] = pd.Categorical(p["sex"].astype(str), categories=["female", "male"])
    keys = list(by)
    if keys:
        out = p.groupby(keys, observed=False, sort=True)["_w"].sum().reset_index()
    else:
        out = pd.DataFrame({"_w": [p["_w"].sum()]})
    out = out.rename(columns={"_w": "population"})
    out["population"] = out["population"].astype(float)
    out["person_years"] = out["population"] * float(length)
    return out
