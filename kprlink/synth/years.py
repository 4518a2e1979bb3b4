"""``generate_years``: a multi-year synthetic delivery (``kprlink synth --years``).

One file per register, extract and calendar year, as national deliveries come
(``kpr_kuhr_regninger_2016.parquet`` ... ``npr_episoder_2024.parquet``), one
key file, the SSB 07459 population on 1 January of every year from the first
to the year after the last, and the Klass tables. KPR-KUHR starts on 1 July
2016, KPR helse og omsorg in 2017, NPR covers every year. The persons are a
panel (:mod:`kprlink.synth._panel`): ageing, deaths, births, immigration,
moves and incident dementia across the years.

A multi-year delivery is clean (no injected defects): it exists to test scale
and trends, the single-year delivery tests the readers' repairs. Every chunk
and year draws from its own stream (``SeedSequence([seed, year, chunk])``), so
the same seed gives the same bytes.

``truth/`` holds ``dementia_by_year`` (one row per person and calendar year
with a registered dementia contact: first date that year, sources, events),
``dementia_first`` (each person's first registration since 1 July 2016; an
NPR contact in January-June 2016 counts in ``dementia_by_year`` only),
``persons``, ``calibration_by_year.csv`` and ``manifest.json``.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from kprlink.exceptions import SpecError
from kprlink.synth import calibration as cal
from kprlink.synth._panel import Panel, build_panel
from kprlink.synth._year_extracts import EPISODES_SCHEMA, KUHR_START, year_rows
from kprlink.synth.care import SERVICES_SCHEMA
from kprlink.synth.config import SynthConfig
from kprlink.synth.generate import FILES, SynthResult, _rows
from kprlink.synth.keys import KEY_SCHEMA, LATEST
from kprlink.synth.kuhr import CLAIMS_SCHEMA, DIAGNOSES_SCHEMA, FEES_SCHEMA
from kprlink.synth.population import klass_tables, municipalities
from kprlink.synth.world import day
from kprlink.synth.writer import FileSink, sha256, write_small

__all__ = ["generate_years", "parse_years"]

FIRST_YEAR, LAST_YEAR = 2016, 2030
#: Published registered-dementia counts by period [V] (calibration.md, section 2).
REGISTERED_TARGETS = {"2016-07-01..2017-06-30": 45_000, "2022": 51_609}


def parse_years(text: str) -> tuple[int, ...]:
    """``"2016-2024"`` (or ``"2018"``) as a tuple of consecutive years.

    Examples
    --------
    >>> parse_years("2016-2018")
    (2016, 2017, 2018)
    """
    m = re.fullmatch(r"\s*(\d{4})\s*(?:-\s*(\d{4}))?\s*", str(text))
    lo, hi = (int(m.group(1)), int(m.group(2) or m.group(1))) if m else (0, -1)
    if not m or not FIRST_YEAR <= lo <= hi <= LAST_YEAR:
        raise SpecError(f"--years {text!r}: give a range such as 2016-2024 within "
                        f"{FIRST_YEAR}-{LAST_YEAR} (KPR-KUHR starts on 1 July 2016).",
                        [f"years={text!r}"])
    return tuple(range(lo, hi + 1))


def _population(panel: Panel, munis: pd.DataFrame, years: range) -> pd.DataFrame:
    """SSB 07459 shaped table: residents on 1 January of each year."""
    frames = []
    for year in years:
        jan1 = day(year, 1, 1)
        p = np.flatnonzero(panel.alive_on(jan1))
        col = "code" if year < 2018 else ("code_2018" if year < 2020 else "code_2020")
        code = munis[col].to_numpy().astype(str)[panel.residence(p, np.full(len(p), jan1 - 1))]
        age = np.minimum(year - 1 - panel.birth_year[p].astype(np.int64), 105)
        df = pd.DataFrame({"m": code, "age": age,
                           "sex": np.where(panel.sex[p] == 2, "female", "male")})
        idx = pd.MultiIndex.from_product([sorted(set(munis[col])), range(106),
                                          ["female", "male"]], names=["m", "age", "sex"])
        cnt = df.groupby(["m", "age", "sex"]).size().reindex(idx, fill_value=0).reset_index(
            name="pop_jan1_n")
        cnt["c"] = cnt["m"].str[:2]
        for level, key, prefix in (("nation", None, "nation_nor"), ("county", "c", "county_nor"),
                                   ("municip", "m", "municip_nor")):
            by = ["age", "sex"] if key is None else [key, "age", "sex"]
            g = cnt.groupby(by, as_index=False)["pop_jan1_n"].sum()
            g["location_code"] = prefix if key is None else prefix + g[key]
            g["granularity_geo"] = level
            g["calyear"] = year
            frames.append(g[["granularity_geo", "location_code", "age", "sex", "calyear",
                             "pop_jan1_n"]])
    return pd.concat(frames, ignore_index=True)


def _klass(munis: pd.DataFrame, years: range) -> tuple[pd.DataFrame, pd.DataFrame]:
    kommuner, navn = klass_tables(munis)
    later = [y for y in years if y > int(kommuner["calyear"].max())]
    base = kommuner[kommuner["calyear"] == kommuner["calyear"].max()]
    extra = [base.assign(calyear=y) for y in later]
    return pd.concat([kommuner, *extra], ignore_index=True), navn


def generate_years(out: str | Path, config: SynthConfig | None = None, *,
                   years: tuple[int, ...] = tuple(range(2016, 2025))) -> SynthResult:
    """Write a multi-year synthetic delivery (and ``truth/``) into ``out``.

    Parameters
    ----------
    out : str or Path
        Delivery folder; created if needed.
    config : SynthConfig, optional
        Scale, seed and format (``defect_rate`` is not used: the delivery is clean).
    years : tuple of int, default 2016-2024
        Consecutive calendar years (see :func:`parse_years`).

    Returns
    -------
    SynthResult
        Files written and the calibration by year (``defects`` is empty).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     res = generate_years(d, SynthConfig(scale=0.0002, seed=1), years=(2016, 2017))
    ...     sorted(f for f in res.files["file"] if f.startswith("npr"))
    ['npr_episoder_2016.csv', 'npr_episoder_2017.csv']
    """
    config = config or SynthConfig()
    years = tuple(years)
    if not years or list(years) != list(range(years[0], years[0] + len(years))):
        raise SpecError(f"generate_years(): years must be consecutive, got {list(years)}.",
                        [f"years={list(years)}"])
    out = Path(out)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    panel = build_panel(config.scale, years, np.random.default_rng([config.seed, 14]))
    munis = municipalities()
    ext = ".csv" if config.fmt == "csv" else ".parquet"
    n = len(panel)
    starts = list(range(0, n, config.chunk_persons))
    claim_id, episode_id = 100_000_001, 1
    events: list[pd.DataFrame] = []
    has_npr = np.zeros(n, bool)
    for year in years:
        sinks: dict[str, FileSink] = {}
        try:
            for i, start in enumerate(starts):
                persons = np.arange(start, min(start + config.chunk_persons, n))
                rng = np.random.default_rng([config.seed, year, i])
                r = year_rows(panel, persons, year, rng, claim_id0=claim_id,
                              episode_id0=episode_id)
                for name, table, schema in (
                        ("claims", r.claims, CLAIMS_SCHEMA),
                        ("diagnoses", r.diagnoses, DIAGNOSES_SCHEMA),
                        ("fees", r.fees, FEES_SCHEMA), ("episodes", r.episodes, EPISODES_SCHEMA),
                        ("services", r.services, SERVICES_SCHEMA)):
                    if table is None:
                        continue
                    if name not in sinks:
                        sinks[name] = FileSink(out / f"{FILES[name]}_{year}{ext}", schema,
                                               config.fmt)
                    sinks[name].write(table)
                claim_id += 0 if r.claims is None else r.claims.num_rows
                episode_id += r.episodes.num_rows
                has_npr[np.unique(r.episodes.column("lopenr").to_numpy()) - 50_000_000
                        ] = True
                events.append(pd.DataFrame({**r.events, "year": year}))
        finally:
            for s in sinks.values():
                s.close()
    # the key: NPR ids of persons with an episode; ids map back through npr_id - 50 000 000
    npr_persons = np.flatnonzero(has_npr[panel.npr_id - 50_000_000])
    order = np.argsort(panel.npr_id[npr_persons], kind="stable")
    import pyarrow as pa

    kt = pa.table({"npr_lnr": panel.npr_id[npr_persons][order],
                   "kpr_lnr": panel.kpr_id[npr_persons][order],
                   "levering": pa.array([LATEST] * len(order), pa.string())},
                  schema=KEY_SCHEMA)
    ks = FileSink(out / (FILES["key"] + ext), KEY_SCHEMA, config.fmt)
    ks.write(kt)
    ks.close()
    cal_years = range(years[0], years[-1] + 2)
    write_small(_population(panel, munis, cal_years), out / "ssb_07459_befolkning.csv", sep=",")
    kommuner, navn = _klass(munis, cal_years)
    write_small(kommuner, out / "klass_kommuner.csv", sep=",")
    write_small(navn, out / "klass_navn.csv", sep=",")
    return _truth(out, config, panel, munis, pd.concat(events, ignore_index=True), years)


def _truth(out: Path, config: SynthConfig, panel: Panel, munis: pd.DataFrame,
           ev: pd.DataFrame, years: tuple[int, ...]) -> SynthResult:
    from kprlink import __version__

    tdir = out / "truth"
    p = ev["person"].to_numpy(np.int64)
    ev = ev.assign(kpr_id=panel.kpr_id[p], npr_id=panel.npr_id[p])
    by_year = (ev.groupby(["kpr_id", "year"], sort=True)
               .agg(npr_id=("npr_id", "first"), first_day=("day", "min"),
                    n_events=("day", "size"),
                    sources=("source", lambda s: "+".join(
                        {1: "kpr_kuhr", 2: "npr"}[int(x)] for x in sorted(set(s)))))
               .reset_index())
    by_year["first_date"] = by_year["first_day"].to_numpy(np.int64).astype("datetime64[D]")
    by_year = by_year.drop(columns="first_day")
    by_year.to_parquet(tdir / "dementia_by_year.parquet", index=False)
    since = ev[ev["day"] >= KUHR_START]  # first registration since 1 July 2016
    first = (since.groupby("kpr_id", sort=True)
             .agg(npr_id=("npr_id", "first"), first_day=("day", "min")).reset_index())
    first["first_date"] = first["first_day"].to_numpy(np.int64).astype("datetime64[D]")
    first = first.drop(columns="first_day")
    first.to_parquet(tdir / "dementia_first.parquet", index=False)
    dd, on = panel.death_day, panel.onset_day
    pd.DataFrame({
        "kpr_id": panel.kpr_id, "npr_id": panel.npr_id, "sex": panel.sex,
        "birth_year": panel.birth_year, "birth_month": panel.birth_month,
        "entry_date": panel.entry_day.astype("datetime64[D]"),
        "death_date": np.where(dd >= 0, dd, 0).astype("datetime64[D]").astype("datetime64[s]")
        + np.where(dd >= 0, np.timedelta64(0, "s"), np.timedelta64("NaT")),
        "dementia_onset": np.where(on >= 0, on, 0).astype("datetime64[D]").astype(
            "datetime64[s]") + np.where(on >= 0, np.timedelta64(0, "s"), np.timedelta64("NaT")),
        "municipality_at_entry": munis["code"].to_numpy()[panel.home0],
    }).to_parquet(tdir / "persons.parquet", index=False)
    calib = _calibration(panel, by_year, years, config.scale)
    write_small(calib, tdir / "calibration_by_year.csv")
    files = sorted(f for f in out.iterdir() if f.is_file())
    ftab = pd.DataFrame({"file": [f.name for f in files], "rows": [_rows(f) for f in files],
                         "sha256": [sha256(f) for f in files]})
    manifest = {"kprlink_version": __version__, "config": asdict(config),
                "years": list(years), "n_persons": len(panel),
                "files": ftab.to_dict(orient="records"),
                "calibration": calib.to_dict(orient="records")}
    (tdir / "manifest.json").write_text(json.dumps(manifest, indent=1, default=str) + "\n")
    defects = pd.DataFrame(columns=["kind", "file", "n_rows", "n_persons"])
    return SynthResult(out, ftab, defects, calib, len(first))


def _calibration(panel: Panel, by_year: pd.DataFrame, years: tuple[int, ...],
                 scale: float) -> pd.DataFrame:
    """Generated figures per year beside the published ones where they exist."""
    rows = []
    for y in years:
        lo, hi = day(y, 1, 1), day(y + 1, 1, 1)
        alive = panel.alive_on(lo)
        age = y - 1 - panel.birth_year.astype(np.int64)
        dem = (panel.onset_day >= 0) & (panel.onset_day < lo)
        dies = (panel.death_day >= lo) & (panel.death_day < hi)
        reg = int((by_year["year"] == y).sum())
        rows += [
            (y, "population_jan1", float(alive.sum()),
             cal.POP_2017_TOTAL * scale if y == 2017 else np.nan),
            (y, "deaths", float(dies.sum()), cal.DEATHS_2017 * scale if y == 2017 else np.nan),
            (y, "dementia_prevalence_70plus", float(dem[alive & (age >= 70)].mean()),
             0.146 if y in (2017, 2018, 2019) else np.nan),
            (y, "persons_with_dementia", float((dem & alive).sum()),
             101_118 * scale if y == 2020 else np.nan),
            (y, "registered_dementia_persons", float(reg),
             REGISTERED_TARGETS["2022"] * scale if y == 2022 else np.nan),
        ]
    return pd.DataFrame(rows, columns=["year", "target", "generated", "published"])
