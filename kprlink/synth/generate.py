"""``generate_delivery``: write a whole synthetic delivery and its truth.

Persons are drawn once (vectorised); extracts are generated in fixed-size
chunks of persons and appended to each file, so memory stays bounded. Every
chunk has its own random stream (``SeedSequence(seed).spawn``), so the same
seed and settings give the same bytes.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm import tqdm

from kprlink.exceptions import KprlinkError
from kprlink.synth import calibration as cal
from kprlink.synth import care, followup, keys, kuhr, moves, npr, truth
from kprlink.synth._common import WIN_HI, WIN_LO
from kprlink.synth.config import SynthConfig
from kprlink.synth.population import klass_tables, municipalities
from kprlink.synth.world import D2017, D2018, build_persons
from kprlink.synth.writer import FileSink, sha256, write_small

log = logging.getLogger(__name__)

FILES = {
    "claims": "kpr_kuhr_regninger", "diagnoses": "kpr_kuhr_diagnoser",
    "fees": "kpr_kuhr_takster", "services": "kpr_ho_tjenester", "functions": "kpr_ho_funksjon",
    "indicators": "kpr_ho_indikatorer", "episodes": "npr_episoder", "key": "nokkel_npr_kpr",
}


@dataclass(frozen=True)
class SynthResult:
    """What :func:`generate_delivery` wrote.

    Attributes
    ----------
    path : Path
        The delivery folder.
    files : pandas.DataFrame
        file, rows, sha256 of every delivery file.
    defects : pandas.DataFrame
        Injected defect counts: kind, file, n_rows, n_persons.
    calibration : pandas.DataFrame
        target, value, low, high, generated, ok, source.
    n_cohort : int
        Rows of ``truth/dementia_registered``.
    """

    path: Path
    files: pd.DataFrame
    defects: pd.DataFrame
    calibration: pd.DataFrame
    n_cohort: int

    def summary(self) -> pd.DataFrame:
        """The calibration table (target beside generated value)."""
        return self.calibration.copy()

    def __repr__(self) -> str:
        n_def = int(self.defects["n_rows"].sum()) if len(self.defects) else 0
        return (f"<SynthResult {self.path}: {len(self.files)} files, "
                f"{int(self.files['rows'].sum()):,} rows, {n_def:,} defect rows, "
                f"{self.n_cohort:,} in the reference cohort>")


def _population(persons: pd.DataFrame, munis: pd.DataFrame, move_day: np.ndarray,
                move_to: np.ndarray) -> pd.DataFrame:
    """Population on 1 January by municipality, age and sex (residence that day)."""
    by = persons["birth_year"].to_numpy()
    dd = persons["death_day"].to_numpy()
    grp = persons["group"].to_numpy()
    frames = []
    for year, alive, col in (
        (2016, ((grp == 0) & (by <= 2015)) | (grp == 2), "code"),
        (2017, grp == 0, "code"),
        (2018, (grp < 2) & ((dd < 0) | (dd >= D2018)), "code_2018"),
    ):
        sub = persons.loc[alive]
        age = np.minimum(year - 1 - sub["birth_year"].to_numpy(), 105)
        jan1 = (np.datetime64(f"{year}-01-01") - np.datetime64("1970-01-01")).astype(int)
        home = moves.residence(sub["municipality"].to_numpy(), move_day[alive],
                               move_to[alive], np.full(len(sub), jan1 - 1))
        code = munis[col].to_numpy()[home]
        df = pd.DataFrame({"m": code, "age": age, "sex": np.where(sub["sex"] == 2, "female",
                                                                  "male")})
        codes = sorted(set(munis[col]))
        idx = pd.MultiIndex.from_product([codes, range(106), ["female", "male"]],
                                         names=["m", "age", "sex"])
        cnt = df.groupby(["m", "age", "sex"]).size().reindex(idx, fill_value=0).reset_index(
            name="pop_jan1_n")
        cnt["c"] = cnt["m"].str[:2]
        for level, key, prefix in (("nation", None, "nation_nor"), ("county", "c", "county_nor"),
                                   ("municip", "m", "municip_nor")):
            if key is None:
                g = cnt.groupby(["age", "sex"], as_index=False)["pop_jan1_n"].sum()
                g["location_code"] = prefix
            else:
                g = cnt.groupby([key, "age", "sex"], as_index=False)["pop_jan1_n"].sum()
                g["location_code"] = prefix + g[key]
            g["granularity_geo"] = level
            g["calyear"] = year
            frames.append(g[["granularity_geo", "location_code", "age", "sex", "calyear",
                             "pop_jan1_n"]])
    return pd.concat(frames, ignore_index=True)


def generate_delivery(out: str | Path, config: SynthConfig | None = None) -> SynthResult:
    """Write a complete synthetic delivery (and ``truth/``) into ``out``.

    Parameters
    ----------
    out : str or Path
        Delivery folder; created if needed. Existing delivery files with the
        same names are overwritten.
    config : SynthConfig, optional
        Scale, seed, format and defect rate; defaults to ``SynthConfig()``.

    Returns
    -------
    SynthResult
        Files written, injected defects and calibration against published
        margins.

    Raises
    ------
    KprlinkError
        If ``out`` exists and is not a folder.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     res = generate_delivery(d, SynthConfig(scale=0.0002, seed=1))
    ...     sorted(res.files["file"])[:2]
    ['klass_kommuner.csv', 'klass_navn.csv']
    """
    config = config or SynthConfig()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise KprlinkError(f"generate_delivery(): {out} exists and is not a folder.",
                           [f"{out}: choose a new or an existing folder for the delivery"])
    (out / "truth").mkdir(parents=True, exist_ok=True)
    ss = np.random.SeedSequence(config.seed)
    world_ss, geo_ss, *_ = ss.spawn(2)
    rng = np.random.default_rng(world_ss)
    persons = build_persons(config, rng)
    munis = municipalities()
    muni_codes = munis["code"].to_numpy().astype(str)
    # city district (bydel) per person, from its own stream so that the
    # other draws do not change; only Oslo residents' records show it
    district = np.random.default_rng([config.seed, 301]).integers(1, 16, len(persons))
    # moves between municipalities (residence over time), also a stream of its own
    move_day, move_to = moves.draw_moves(persons, munis,
                                         np.random.default_rng([config.seed, 302]))
    grng = np.random.default_rng(geo_ss)
    muni_factor = grng.lognormal(0.0, 0.12, len(munis))
    counties = sorted(set(munis["county"]))
    med = care.county_rates(counties, cal.MEDICATION_REVIEW["national"],
                            {k: v for k, v in cal.MEDICATION_REVIEW.items() if k != "national"},
                            grng)
    nut = care.county_rates(counties, cal.NUTRITION_SCREENING["national"],
                            {k: v for k, v in cal.NUTRITION_SCREENING.items()
                             if k != "national"}, grng)
    ext = ".csv" if config.fmt == "csv" else ".parquet"
    defects_on = config.defect_rate > 0
    sinks = {
        "claims": FileSink(out / (FILES["claims"] + ext), kuhr.CLAIMS_SCHEMA, config.fmt),
        "diagnoses": FileSink(out / (FILES["diagnoses"] + ext), kuhr.DIAGNOSES_SCHEMA,
                              config.fmt),
        "fees": FileSink(out / (FILES["fees"] + ext), kuhr.FEES_SCHEMA, config.fmt),
        "episodes": FileSink(out / (FILES["episodes"] + ext), npr.EPISODES_SCHEMA, config.fmt),
        "services": FileSink(out / (FILES["services"] + ext), care.SERVICES_SCHEMA, config.fmt),
        "functions": FileSink(out / (FILES["functions"] + ext), care.FUNCTIONS_SCHEMA,
                              config.fmt),
        "indicators": FileSink(out / (FILES["indicators"] + ext), care.INDICATORS_SCHEMA,
                               config.fmt),
    }
    n = len(persons)
    starts = list(range(0, n, config.chunk_persons))
    chunk_ss = ss.spawn(len(starts) + 2)[2:]
    stats: dict[str, float] = {}
    events, defect_rows, key_parts = [], [], []
    in_key = np.zeros(n, bool)
    has_npr = np.zeros(n, bool)
    claim_id, stay_id, stale = 100_000_001, 1, keys.STALE0
    show = config.progress and sys.stderr.isatty()
    try:
        for i, start in enumerate(tqdm(starts, desc="synth", unit="chunk", disable=not show,
                                       file=sys.stderr)):
            # the fifth stream (birth month, referral dates) and the sixth (GP
            # follow-up after discharge) came later: the first four, and so
            # every other column, keep their bytes
            r_k, r_n, r_c, r_key, r_ref, r_fu = (np.random.default_rng(s)
                                                 for s in chunk_ss[i].spawn(6))
            ch = persons.iloc[start:start + config.chunk_persons]
            ch_district = district[start:start + config.chunk_persons]
            ch_moves = (move_day[start:start + config.chunk_persons],
                        move_to[start:start + config.chunk_persons])
            e = npr.generate_npr(ch, r_n, muni_codes=muni_codes, stay_id0=stay_id,
                                 defect_rate=config.defect_rate, district=ch_district,
                                 moves=ch_moves)
            k = kuhr.generate_kuhr(ch, r_k, muni_codes=muni_codes, muni_factor=muni_factor,
                                   claim_id0=claim_id, defect_rate=config.defect_rate,
                                   referrals=(e.acute_person, e.acute_day, e.acute_minute),
                                   district=ch_district, moves=ch_moves)
            claim_id += k.claims.num_rows
            off = sinks["claims"].write(k.claims)
            d_off = sinks["diagnoses"].write(k.diagnoses)
            sinks["fees"].write(k.fees)
            # epikrise follow-up: appended after the chunk's claims, own ids
            fu = followup.followup_claims(ch, e.episodes, e.person, r_fu,
                                          muni_codes=muni_codes, claim_id0=claim_id,
                                          district=ch_district, moves=ch_moves)
            claim_id += fu.claims.num_rows
            for name in ("claims", "diagnoses", "fees"):
                sinks[name].write(getattr(fu, name))
            stay_id += int(e.stats["stays"])
            eps, sex_rows, by_rows = keys.apply_conflicts(e.episodes, e.person, len(ch), r_key,
                                                          rate=config.defect_rate)
            eps = npr.person_columns(eps, e.person, ch, *_gp_claims(k.claims, ch), r_ref)
            e_off = sinks["episodes"].write(eps)
            c = care.generate_care(ch, r_c, muni_codes=muni_codes, medication=med,
                                   nutrition=nut)
            for name in ("services", "functions", "indicators"):
                sinks[name].write(getattr(c, name))
            npr_persons = np.unique(e.person)
            kc = keys.make_key(npr_persons, ch["npr_id"].to_numpy(), ch["kpr_id"].to_numpy(),
                               r_key, rate=config.defect_rate, stale0=stale)
            stale += len(kc.conflict)
            key_parts.append(kc)
            has_npr[start + npr_persons] = True
            in_key[start + np.setdiff1d(npr_persons, kc.missing)] = True
            missing_rows = np.flatnonzero(np.isin(e.person, kc.missing))
            g = start
            for fname, kind, rows, pers in (
                (FILES["claims"], "after_death", k.after_death_rows + off,
                 g + k.after_death_persons),
                (FILES["diagnoses"], "dotted_code", k.dotted_rows + d_off, g + k.dotted_persons),
                (FILES["episodes"], "after_death", e.after_death_rows + e_off,
                 g + e.person[e.after_death_rows]),
                (FILES["episodes"], "dotted_code", e.dotted_rows + e_off,
                 g + e.person[e.dotted_rows]),
                (FILES["episodes"], "sex_conflict", sex_rows + e_off, g + e.person[sex_rows]),
                (FILES["episodes"], "birth_year_conflict", by_rows + e_off,
                 g + e.person[by_rows]),
                (FILES["episodes"], "missing_from_key", missing_rows + e_off,
                 g + e.person[missing_rows]),
            ):
                if len(rows):
                    defect_rows.append(pd.DataFrame({"file": fname + ext, "row": rows + 1,
                                                     "kind": kind, "person": pers}))
            for src, ev in (("kpr_kuhr", k.events), ("npr", e.events)):
                events.append(pd.DataFrame({"person": ev["person"].to_numpy() + g,
                                            "day": ev["day"].to_numpy(), "source": src}))
            for st in (k.stats, fu.stats, e.stats, c.stats):
                for key_, v in st.items():
                    stats[key_] = stats.get(key_, 0.0) + v
    finally:
        for s in sinks.values():
            s.close()

    # key file ------------------------------------------------------------
    kt = keys.key_table(np.concatenate([p.npr_id for p in key_parts]),
                        np.concatenate([p.kpr_id for p in key_parts]),
                        np.concatenate([p.delivery for p in key_parts]))
    key_sink = FileSink(out / (FILES["key"] + ext), keys.KEY_SCHEMA, config.fmt,
                        bom=defects_on and config.fmt == "csv")
    key_sink.write(kt)
    key_sink.close()
    older = np.flatnonzero(kt.column("levering").to_numpy(zero_copy_only=False) == keys.OLDER)
    npr_to_person = pd.Series(np.arange(n), index=persons["npr_id"].to_numpy())
    conflict_person = npr_to_person.loc[kt.column("npr_lnr").to_numpy()[older]].to_numpy()
    defect_rows.append(pd.DataFrame({"file": FILES["key"] + ext, "row": older + 1,
                                     "kind": "key_conflict", "person": conflict_person}))
    # SSB / Klass files (always CSV, as exported) ------------------------------
    write_small(_population(persons, munis, move_day, move_to),
                out / "ssb_07459_befolkning.csv", sep=",")
    kommuner, navn = klass_tables(munis)
    write_small(kommuner, out / "klass_kommuner.csv", sep=",")
    write_small(navn, out / "klass_navn.csv", sep=",",
                encoding="latin-1" if defects_on else "utf-8")
    if defects_on and config.fmt == "csv":
        defect_rows.append(pd.DataFrame({"file": FILES["key"] + ext, "row": [0],
                                         "kind": "encoding_bom", "person": [-1]}))
    if defects_on:
        defect_rows.append(pd.DataFrame({"file": "klass_navn.csv", "row": [0],
                                         "kind": "encoding_latin1", "person": [-1]}))
    persons = persons.assign(move_day=move_day, move_to=move_to)
    return _write_truth(out, config, persons, munis, events, defect_rows, in_key, has_npr,
                        stats, ext)


def _gp_claims(claims: pa.Table, chunk: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Chunk position and day of each ``Fastlege`` claim (for referral dates)."""
    gp = pc.equal(claims.column("tjenestetype"), "Fastlege").to_numpy(zero_copy_only=False)
    kpr = claims.column("kpr_lnr").to_numpy()[gp]
    pos = pd.Index(chunk["kpr_id"].to_numpy()).get_indexer(kpr)
    day = claims.column("dato").cast(pa.int32()).to_numpy(zero_copy_only=False)[gp]
    return pos.astype(np.int64), day.astype(np.int64)


def _write_truth(out: Path, config: SynthConfig, persons: pd.DataFrame, munis: pd.DataFrame,
                 events: list[pd.DataFrame], defect_rows: list[pd.DataFrame],
                 in_key: np.ndarray, has_npr: np.ndarray, stats: dict[str, float], ext: str
                 ) -> SynthResult:
    from kprlink import __version__

    tdir = out / "truth"
    ev = pd.concat(events, ignore_index=True) if events else pd.DataFrame(
        columns=["person", "day", "source"])
    coh = truth.cohort(ev, persons, in_key)
    coh.to_parquet(tdir / "dementia_registered.parquet", index=False)
    write_small(coh, tdir / "dementia_registered.csv")
    in_cohort = np.zeros(len(persons), bool)
    in_cohort[ev["person"].to_numpy(dtype=np.int64)] = True
    dd = persons["death_day"].to_numpy()
    tp = pd.DataFrame({
        "kpr_id": persons["kpr_id"], "npr_id": persons["npr_id"], "sex": persons["sex"],
        "birth_year": persons["birth_year"], "birth_month": persons["birth_month"],
        "municipality": munis["code"].to_numpy()[persons["municipality"].to_numpy()],
        "death_date": np.where(dd >= 0, dd, 0).astype("datetime64[D]").astype(
            "datetime64[s]") + np.where(dd >= 0, np.timedelta64(0, "s"), np.timedelta64("NaT")),
        "dementia_true": persons["dementia"], "dementia_registered": persons["registered"] > 0,
        "registered_source": persons["registered"].map({0: "", 1: "kpr_kuhr", 2: "npr",
                                                        3: "kpr_kuhr+npr"}),
        "registered_after_window": persons["registered_late"], "in_cohort": in_cohort,
        "nursing_home": persons["nursing_home"], "diabetes": persons["diabetes"],
        "copd": persons["copd"], "heart_failure": persons["heart_failure"],
        "hip_fracture": persons["hip_fracture_day"] >= 0, "has_npr": has_npr, "in_key": in_key,
    })
    # residence over time: the municipality above is the one on 1 July 2016
    mv = persons["move_day"].to_numpy()
    tp["move_date"] = np.where(mv >= 0, mv, 0).astype("datetime64[D]").astype(
        "datetime64[s]") + np.where(mv >= 0, np.timedelta64(0, "s"), np.timedelta64("NaT"))
    tp["municipality_after_move"] = np.where(
        mv >= 0, munis["code"].to_numpy()[persons["move_to"].to_numpy()], None)
    tp.to_parquet(tdir / "persons.parquet", index=False)
    pd.DataFrame({"npr_id": persons["npr_id"][has_npr], "kpr_id": persons["kpr_id"][has_npr]}
                 ).to_parquet(tdir / "linkage_pairs.parquet", index=False)
    dr = pd.concat(defect_rows, ignore_index=True)
    pid = dr["person"].to_numpy()
    ok = pid >= 0
    dr["kpr_id"] = pd.array(np.where(ok, persons["kpr_id"].to_numpy()[np.where(ok, pid, 0)], 0),
                            dtype="Int64")
    dr["npr_id"] = pd.array(np.where(ok, persons["npr_id"].to_numpy()[np.where(ok, pid, 0)], 0),
                            dtype="Int64")
    dr.loc[~ok, ["kpr_id", "npr_id"]] = pd.NA
    dr = dr.drop(columns="person").sort_values(["file", "kind", "row"]).reset_index(drop=True)
    dr.to_parquet(tdir / "defects.parquet", index=False)
    write_small(dr, tdir / "defects.csv")
    counts = (dr.groupby(["kind", "file"]).agg(n_rows=("row", "size"),
                                               n_persons=("kpr_id", "nunique"))
              .reset_index())
    calib = _calibration(persons, stats, ev, config.scale)
    write_small(calib, tdir / "calibration.csv")
    files = sorted(p for p in out.iterdir() if p.is_file())
    ftab = pd.DataFrame({"file": [p.name for p in files],
                         "rows": [_rows(p) for p in files],
                         "sha256": [sha256(p) for p in files]})
    manifest = {
        "kprlink_version": __version__, "config": asdict(config),
        "cohort_rule": "docs/architecture.md#the-reference-cohort-rule",
        "n_persons": len(persons), "n_cohort_rows": len(coh),
        "files": ftab.to_dict(orient="records"),
        "defects": counts.to_dict(orient="records"),
        "calibration": calib.to_dict(orient="records"),
    }
    (tdir / "manifest.json").write_text(json.dumps(manifest, indent=1, default=str) + "\n")
    return SynthResult(out, ftab, counts, calib, len(coh))


def _rows(path: Path) -> int:
    if path.suffix == ".parquet":
        return int(pq.ParquetFile(path).metadata.num_rows)
    with open(path, "rb") as fh:
        return sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b"")) - 1


def _calibration(persons: pd.DataFrame, stats: dict[str, float], ev: pd.DataFrame,
                 scale: float) -> pd.DataFrame:
    g = persons["group"].to_numpy()
    age = persons["age17"].to_numpy()
    sex = persons["sex"].to_numpy()
    dem = persons["dementia"].to_numpy()
    dd = persons["death_day"].to_numpy()
    alive = g == 0
    n17 = alive.sum()
    in_win = np.zeros(len(persons), bool)
    in_win[ev["person"].to_numpy(dtype=np.int64)] = True
    alive_win = (g < 2) | (dd >= WIN_LO)
    alive_win &= (persons["birth_day"].to_numpy() <= WIN_HI)
    women = (alive & (sex == 2)).sum()
    men = (alive & (sex == 1)).sum()
    gen = {
        "population_2017": float(n17),
        "population_80plus_share": float((alive & (age >= 80)).sum() / n17),
        "deaths_2017": float(((dd >= D2017) & (dd < D2018)).sum()),
        "dementia_prevalence_70plus": float(dem[alive & (age >= 70)].mean()),
        "dementia_prevalence_70_74": float(dem[alive & (age >= 70) & (age < 75)].mean()),
        "dementia_prevalence_90plus": float(dem[alive & (age >= 90)].mean()),
        "dementia_registered_share": float(in_win[dem & alive_win].mean()),
        "dementia_cohort_window": float(in_win.sum()),
        "gp_consultations_per_person_2017": stats["gp_consultations_2017"] / n17,
        "gp_consultations_per_person_80_89": stats["cons_80_89"] / (
            alive & (age >= 80) & (age < 90)).sum(),
        "gp_consultations_women_men_ratio": (stats["cons_women"] / women) / (
            stats["cons_men"] / men),
        "gp_consultation_share_of_claims": stats["gp_consultations_2017"] / stats[
            "gp_claims_2017"],
        "npr_patients_2017": stats["npr_patients_2017"],
        "npr_contact_share_80plus": stats["npr_patients_80plus_2017"] / (alive & (age >= 80)
                                                                          ).sum(),
        "long_term_residents_31dec2017": stats["long_term_31dec"],
        "service_users_31dec2017": stats["service_users_31dec"],
    }
    rows = []
    for t in cal.TARGETS:
        f = scale if t.scaled else 1.0
        v = gen[t.name]
        rows.append({"target": t.name, "value": t.value * f, "low": t.low * f,
                     "high": t.high * f, "generated": v,
                     "ok": bool(t.low * f <= v <= t.high * f), "source": t.source})
    return pd.DataFrame(rows)

