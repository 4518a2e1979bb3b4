"""Municipality and county codes, names, and border changes (SSB Klass shape).

The user supplies a redistricting table in SSB Klass / FHI csdata shape
(``location_code_current, location_code_original, calyear, weighting,
granularity_geo``) that maps every code valid in ``calyear`` to the codes of
one border year (the 2018, 2020 and 2024 reforms each need their own table),
and optionally a names table (``location_code, location_name,
granularity_geo`` and, where delivered, ``county_code``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kprlink.exceptions import DataQualityWarning, MissingColumnsError, SpecError

__all__ = ["Places", "read_places", "harmonise_municipalities", "municipality_location_code",
           "plain_municipality_code", "add_place_names", "read_place_names"]

_KLASS_COLS = ["location_code_current", "location_code_original", "calyear", "weighting",
               "granularity_geo"]
_NAMES_COLS = ["location_code", "location_name", "granularity_geo"]


def municipality_location_code(code: object) -> object:
    """csdata location code of a plain 4-digit municipality code.

    Examples
    --------
    >>> municipality_location_code("301")
    'municip_nor0301'
    >>> municipality_location_code(None) is None
    True
    """
    if code is None or (not isinstance(code, str) and pd.isna(code)):  # type: ignore[arg-type]
        return None
    text = str(code).strip()
    if text.startswith("municip_nor"):
        return text
    if not text.isdigit() or len(text) > 4:
        raise SpecError(f"{code!r} is not a municipality code.", [f"code {code!r}"])
    return "municip_nor" + text.zfill(4)


def plain_municipality_code(location_code: object) -> object:
    """Plain 4-digit code of a csdata municipality code.

    Examples
    --------
    >>> plain_municipality_code("municip_nor0301")
    '0301'
    """
    if location_code is None or pd.isna(location_code):  # type: ignore[arg-type]
        return None
    text = str(location_code)
    return text.removeprefix("municip_nor")


@dataclass(frozen=True, eq=False)
class Places:
    """Codes, names and the redistricting table to one border year.

    Parameters
    ----------
    redistricting : pandas.DataFrame
        Klass-shaped table (see module docstring).
    names : pandas.DataFrame
        ``location_code, location_name, granularity_geo`` (+ ``county_code``).
    border_year : int
        The border year the table maps to.
    """

    redistricting: pd.DataFrame
    names: pd.DataFrame
    border_year: int

    def __post_init__(self) -> None:
        missing = [c for c in _KLASS_COLS if c not in self.redistricting.columns]
        missing += [c for c in _NAMES_COLS if c not in self.names.columns]
        if missing:
            raise MissingColumnsError(f"Places: tables lack columns {missing}.",
                                      [f"column {c!r} is missing" for c in missing],
                                      missing=missing)
        w = pd.to_numeric(self.redistricting["weighting"], errors="coerce")
        problems = []
        if w.isna().any() or (w <= 0).any() or (w > 1).any():
            problems.append("weighting must be in (0, 1]")
        sums = w.groupby([self.redistricting["location_code_original"],
                          self.redistricting["calyear"]]).sum()
        bad = sums[(sums - 1).abs() > 1e-6]
        problems += [f"weights of {k[0]} in {k[1]} sum to {v:.4f}, not 1"
                     for k, v in bad.head(10).items()]
        if problems:
            raise SpecError("Places: the redistricting table is inconsistent.", problems)

    def __repr__(self) -> str:
        n = int((self.names["granularity_geo"] == "municip").sum())
        return f"<Places borders {self.border_year}: {n} municipality names>"

    def name(self, location_code: str) -> str | None:
        """Name of a location code (plain municipality codes accepted)."""
        code = location_code if "_" in location_code else municipality_location_code(
            location_code)
        hit = self.names.loc[self.names["location_code"] == code, "location_name"]
        return None if hit.empty else str(hit.iloc[0])

    def county_of(self, location_code: str) -> str | None:
        """County code of a municipality (needs ``county_code`` in names)."""
        if "county_code" not in self.names.columns:
            return None
        code = location_code if "_" in location_code else municipality_location_code(
            location_code)
        hit = self.names.loc[self.names["location_code"] == code, "county_code"]
        return None if hit.empty or pd.isna(hit.iloc[0]) else str(hit.iloc[0])


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, encoding="utf-8-sig")
    except UnicodeDecodeError:
        return pd.read_csv(path, dtype=str, encoding="latin-1")


def read_places(klass_file: str | Path, names_file: str | Path | None = None, *,
                border_year: int) -> Places:
    """Read a Klass redistricting table (and names) mapping to `border_year`.

    Parameters
    ----------
    klass_file : path
        CSV in SSB Klass / csdata shape (UTF-8 or latin-1).
    names_file : path, optional
        CSV with ``location_code, location_name, granularity_geo``.
    border_year : int
        The border year the table maps to (e.g. 2024 for csdata's table).

    Returns
    -------
    Places

    Raises
    ------
    MissingColumnsError
        If a table lacks required columns.
    SpecError
        If weights are out of range or do not sum to 1 per code and year.
    """
    klass = _read_csv(Path(klass_file))
    if "calyear" in klass.columns:
        klass["calyear"] = pd.to_numeric(klass["calyear"]).astype("int64")
    if "weighting" in klass.columns:
        klass["weighting"] = pd.to_numeric(klass["weighting"], errors="coerce")
    names = (_read_csv(Path(names_file)) if names_file is not None
             else pd.DataFrame(columns=_NAMES_COLS))
    return Places(klass, names, int(border_year))


def read_place_names(names_file: str | Path) -> dict[str, dict[str, str]]:
    """County and municipality names from a Klass names file, by plain code.

    Parameters
    ----------
    names_file : path
        CSV with ``location_code, location_name, granularity_geo`` (a delivery's
        ``klass_navn.csv``; UTF-8 or latin-1).

    Returns
    -------
    dict
        ``{"county": {"03": "Oslo", ...}, "municipality": {"0301": "Oslo", ...}}``:
        the shape :func:`kl.plot_bars` takes as ``names=``.

    Raises
    ------
    MissingColumnsError
        If the file lacks a required column.
    """
    names = _read_csv(Path(names_file))
    missing = [c for c in _NAMES_COLS if c not in names.columns]
    if missing:
        raise MissingColumnsError(f"read_place_names(): {names_file} lacks {missing}.",
                                  [f"column {c!r} is missing" for c in missing],
                                  missing=missing)
    out: dict[str, dict[str, str]] = {"county": {}, "municipality": {}}
    for code, name, level in names[_NAMES_COLS].itertuples(index=False):
        if not isinstance(code, str) or not isinstance(name, str):
            continue
        if level == "county":
            out["county"].setdefault(code.removeprefix("county_nor"), name)
        elif level == "municip":
            out["municipality"].setdefault(code.removeprefix("municip_nor"), name)
    return out


@dataclass(frozen=True)
class _Counts:
    n_rows: int
    n_weighted: int
    n_unmapped: int


def harmonise_municipalities(df: pd.DataFrame, places: Places, *, to_year: int,
                             year_col: str = "year", municipality_col: str = "municipality",
                             weight_col: str = "weight") -> pd.DataFrame:
    """Map plain 4-digit municipality codes of any year to `to_year` borders.

    Parameters
    ----------
    df : pandas.DataFrame
        Rows with a municipality code and the year it refers to. Not modified.
    places : Places
        Its redistricting table must map to `to_year`.
    to_year : int
        Border year wanted.
    year_col, municipality_col : str
        Columns with the year and the plain code (``"0301"``).
    weight_col : str, default "weight"
        New column: 1 for exact mappings, the Klass weight for a split
        municipality (the row appears once per successor).

    Returns
    -------
    pandas.DataFrame
        ``municipality_col`` holds the `to_year` code, the original code is kept in
        ``<municipality_col>_original``. Codes the table does not know keep NA and
        weight 1 (never dropped), with a :class:`DataQualityWarning` that counts them.

    Raises
    ------
    SpecError
        If `places` maps to another border year.
    MissingColumnsError
        If a column is missing.

    Warns
    -----
    DataQualityWarning
        When a split municipality is mapped with weights rather than exactly,
        or codes are unknown.

    Notes
    -----
    The table's nearest earlier year is used for years it lacks (later years
    than its last one use the last one).
    """
    if int(to_year) != places.border_year:
        raise SpecError(
            f"harmonise_municipalities(to_year={to_year}): the Klass table maps to "
            f"{places.border_year} borders; supply a table for {to_year}.",
            [f"to_year {to_year} != border year {places.border_year}"])
    missing = [c for c in (year_col, municipality_col) if c not in df.columns]
    if missing:
        raise MissingColumnsError(f"harmonise_municipalities() needs {missing}.",
                                  [f"column {c!r} is missing" for c in missing],
                                  missing=missing)
    k = places.redistricting
    k = k[k["granularity_geo"] == "municip"]
    years = np.sort(k["calyear"].unique())
    src = df.copy()
    src["_row"] = np.arange(len(src))
    loc = src[municipality_col].map(municipality_location_code)
    yr = pd.to_numeric(src[year_col], errors="coerce").to_numpy(float)
    if len(years):
        idx = np.clip(np.searchsorted(years, yr, side="right") - 1, 0, len(years) - 1)
        src["_year"] = np.where(np.isnan(yr), -1, years[idx]).astype("int64")
    else:
        src["_year"] = -1
    src["_loc"] = loc.astype(object)
    lut = k.rename(columns={"location_code_original": "_loc", "calyear": "_year"})[
        ["_loc", "_year", "location_code_current", "weighting"]]
    out = src.merge(lut, on=["_loc", "_year"], how="left", sort=False)
    out = out.sort_values("_row", kind="stable")
    index = src.index[out["_row"].to_numpy()]
    n_unmapped = int(out.loc[out["location_code_current"].isna(), "_row"].nunique())
    weighted = out["weighting"].notna() & (out["weighting"] < 1)
    n_weighted = int(out.loc[weighted, "_row"].nunique())
    out[municipality_col + "_original"] = out[municipality_col]
    out[municipality_col] = out["location_code_current"].map(plain_municipality_code)
    out[weight_col] = out["weighting"].fillna(1.0).astype(float)
    out = out.drop(columns=["_row", "_year", "_loc", "location_code_current", "weighting"])
    out.index = index
    if n_weighted:
        warnings.warn(
            f"harmonise_municipalities(): {n_weighted:,} row(s) come from municipalities "
            f"split between {places.border_year} successors; they are mapped with Klass "
            f"weights in `{weight_col}`, not exactly. Weight counts before summing.",
            DataQualityWarning, stacklevel=2)
    if n_unmapped:
        warnings.warn(
            f"harmonise_municipalities(): {n_unmapped:,} row(s) have a code or year the "
            "redistricting table does not know; their harmonised code is NA.",
            DataQualityWarning, stacklevel=2)
    out.attrs["harmonise_counts"] = _Counts(len(df), n_weighted, n_unmapped).__dict__
    return out


def add_place_names(df: pd.DataFrame, places: Places, *,
                    municipality_col: str = "municipality") -> pd.DataFrame:
    """Add ``municipality_name``, ``county_code`` and ``county_name`` to each row.

    Parameters
    ----------
    df : pandas.DataFrame
        Rows with plain 4-digit municipality codes (already on the border year of
        `places`; see :func:`harmonise_municipalities`). Not modified.
    places : Places
        Names table with ``county_code`` where county names are wanted.
    municipality_col : str, default "municipality"
        Column with the codes.

    Returns
    -------
    pandas.DataFrame
        A copy with three columns added (NA for unknown codes). The county code is
        the plain two digits (``"03"``).

    Raises
    ------
    MissingColumnsError
        If `municipality_col` is missing.
    """
    if municipality_col not in df.columns:
        raise MissingColumnsError(f"add_place_names() needs column {municipality_col!r}.",
                                  [f"column {municipality_col!r} is missing"],
                                  missing=[municipality_col])
    names = places.names.set_index("location_code")["location_name"]
    names = names[~names.index.duplicated()]
    county = (places.names.set_index("location_code")["county_code"]
              if "county_code" in places.names.columns else pd.Series(dtype=object))
    county = county[~county.index.duplicated()]
    loc = df[municipality_col].map(municipality_location_code)
    cc = loc.map(county)
    out = df.copy()
    out["municipality_name"] = loc.map(names)
    out["county_code"] = cc.map(lambda c: c.removeprefix("county_nor")
                                if isinstance(c, str) else None)
    out["county_name"] = cc.map(names)
    return out
