"""Benchmark: the reference dementia cohort, kprlink against hand-written DuckDB SQL.

Generates a synthetic Parquet delivery (``kprlink.synth``) at ``--scale``, then
builds the registered-dementia cohort (``studies/dementia_2016_2017/cohort.toml``)
from the four files it needs (KUHR claims and diagnoses, NPR episodes, key):

* kprlink: ``read_delivery`` (canonical schema, validation, after-death
  exclusions) + ``build_cohort`` (key-file linkage with diagnostics, events,
  attrition); run twice: a projected read (``columns=cohort_columns(definition)``,
  what ``build_cohort(folder, definition)`` does) and a full read (every column);
* DuckDB: one SQL query over the same Parquet files (unpivot of the NPR
  ``tilstand_*`` columns, code normalisation, window, after-death rule, latest
  key delivery wins).

With ``--imported`` the delivery is first imported once (``kprlink import``:
canonical Parquet + ``kprlink_import.json``, validated once; timed and printed
separately, like loading a database), then ``build_cohort(imported_folder,
definition)`` is timed against hand-written DuckDB SQL over the same imported
canonical Parquet files that computes **the same cohort** (``SQL_COHORT``,
``SQL_RESULT``, ``SQL_ATTRITION``: persons, index date, age, sex, birth year,
municipality at index, sources, number of records, and the attrition counts);
the person table and the attrition must be equal. A query of the person ids
alone (``SQL_IMPORTED``) is timed too, for reference. The page cache is warmed
first and each engine runs ``--repeat`` times (fresh processes, alternating);
the best run of each is compared.

Each runs in a fresh process (spawned one after the other, in one run of this
script); wall time and the process's peak resident memory (``ru_maxrss``) are
printed with the ratios, and the two person sets ((kpr_id, npr_id) pairs) must
be equal. Usage::

    python benchmarks/bench_cohort.py --scale 0.05 [--imported [--repeat 3]] [--out DIR]
        [--threads 2]

Scale 1 needs > 16 GB free memory (``free -g``); the default 0.05 suits a shared
machine.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COHORT = ROOT / "studies" / "dementia_2016_2017" / "cohort.toml"
FILES = ("kpr_kuhr_regninger", "kpr_kuhr_diagnoser", "npr_episoder", "nokkel_npr_kpr")

SQL = r"""
WITH key AS (
  SELECT npr_lnr, arg_max(kpr_lnr, levering) AS kpr_lnr FROM '{d}/nokkel_npr_kpr.parquet'
  GROUP BY npr_lnr),
npr_long AS (
  UNPIVOT (SELECT lopenr, inndato, doddato, COLUMNS('^tilstand_')
           FROM '{d}/npr_episoder.parquet')
  ON COLUMNS('^tilstand_') INTO NAME slot VALUE code),
npr_ev AS (
  SELECT DISTINCT lopenr AS npr_id FROM npr_long
  WHERE CAST(inndato AS DATE) BETWEEN DATE '2016-07-01' AND DATE '2017-06-30'
    AND (doddato IS NULL OR CAST(inndato AS DATE) <= CAST(doddato AS DATE))
    AND regexp_matches(upper(regexp_replace(code, '[^0-9A-Za-z]', '', 'g')),
                       '^(F0[0-3]|G30)')),
kuhr_ev AS (
  SELECT DISTINCT r.kpr_lnr AS kpr_id
  FROM '{d}/kpr_kuhr_diagnoser.parquet' g
  JOIN '{d}/kpr_kuhr_regninger.parquet' r USING (enkeltregning_lnr)
  WHERE CAST(r.dato AS DATE) BETWEEN DATE '2016-07-01' AND DATE '2017-06-30'
    AND (r.doddato IS NULL OR CAST(r.dato AS DATE) <= CAST(r.doddato AS DATE))
    AND r.kpr_lnr IS NOT NULL
    AND CASE g.diagnoseTabell
          WHEN 'ICPC-2' THEN upper(regexp_replace(g.diagnoseKode, '[^0-9A-Za-z]', '', 'g')) = 'P70'
          WHEN 'ICPC-2B' THEN upper(regexp_replace(g.diagnoseKode, '[^0-9A-Za-z]', '', 'g'))
                              LIKE 'P70%'
          WHEN 'ICD-10' THEN regexp_matches(upper(regexp_replace(g.diagnoseKode,
                              '[^0-9A-Za-z]', '', 'g')), '^(F0[0-3]|G30)')
          ELSE false END)
SELECT DISTINCT k.kpr_lnr AS kpr_id, e.npr_id FROM npr_ev e LEFT JOIN key k ON k.npr_lnr = e.npr_id
UNION
SELECT DISTINCT e.kpr_id, k.npr_lnr AS npr_id FROM kuhr_ev e LEFT JOIN key k ON k.kpr_lnr = e.kpr_id
"""

#: The same cohort over the canonical frames of an imported delivery (codes are
#: already normalised; dates are timestamps).
SQL_IMPORTED = r"""
WITH key AS (
  SELECT npr_id, arg_max(kpr_id, delivery) AS kpr_id FROM '{d}/key.parquet'
  WHERE npr_id IS NOT NULL AND kpr_id IS NOT NULL GROUP BY npr_id),
npr_ev AS (
  SELECT DISTINCT e.npr_id
  FROM '{d}/npr_diagnoses.parquet' g JOIN '{d}/npr_episodes.parquet' e USING (episode_id)
  WHERE CAST(e.date_in AS DATE) BETWEEN DATE '2016-07-01' AND DATE '2017-06-30'
    AND (e.death_date IS NULL OR e.date_in <= e.death_date)
    AND regexp_matches(g.code, '^(F0[0-3]|G30)')),
kuhr_ev AS (
  SELECT DISTINCT c.kpr_id
  FROM '{d}/kuhr_diagnoses.parquet' g JOIN '{d}/kuhr_claims.parquet' c USING (claim_id)
  WHERE CAST(c.date AS DATE) BETWEEN DATE '2016-07-01' AND DATE '2017-06-30'
    AND (c.death_date IS NULL OR c.date <= c.death_date)
    AND c.kpr_id IS NOT NULL
    AND CASE g.system
          WHEN 'ICPC-2' THEN g.code = 'P70'
          WHEN 'ICPC-2B' THEN g.code LIKE 'P70%'
          WHEN 'ICD-10' THEN regexp_matches(g.code, '^(F0[0-3]|G30)')
          ELSE false END)
SELECT DISTINCT k.kpr_id, e.npr_id FROM npr_ev e LEFT JOIN key k ON k.npr_id = e.npr_id
UNION
SELECT DISTINCT e.kpr_id, k.npr_id FROM kuhr_ev e LEFT JOIN key k ON k.kpr_id = e.kpr_id
"""


#: The same cohort as ``build_cohort`` returns it, over an imported delivery: persons
#: (key resolved as kprlink does: latest delivery, then the smallest npr_id keeps a
#: kpr_id), qualifying events (window, not after the person's earliest death in either
#: register), index date, age, sex and birth year (most frequent KPR value, ties to the
#: smallest, else NPR's), municipality of the index record, sources, number of records;
#: then the attrition counts. Statements run in order on one connection.
SQL_COHORT = r"""
CREATE OR REPLACE TEMP VIEW pairs AS
  WITH k1 AS (
    SELECT npr_id, arg_max(kpr_id, coalesce(delivery, '') || lpad(CAST(kpr_id AS VARCHAR), 20, '0'))
           AS kpr_id
    FROM '{d}/key.parquet' WHERE npr_id IS NOT NULL AND kpr_id IS NOT NULL GROUP BY npr_id)
  SELECT min(npr_id) AS npr_id, kpr_id FROM k1 GROUP BY kpr_id;
CREATE OR REPLACE TEMP TABLE ev AS
  SELECT c.kpr_id, p.npr_id, CAST(c.date AS DATE) AS date, 0 AS src, c.claim_id AS rec
  FROM '{d}/kuhr_diagnoses.parquet' g JOIN '{d}/kuhr_claims.parquet' c USING (claim_id)
  LEFT JOIN pairs p ON p.kpr_id = c.kpr_id
  WHERE CASE g.system WHEN 'ICPC-2' THEN g.code = 'P70' WHEN 'ICPC-2B' THEN g.code LIKE 'P70%'
                      WHEN 'ICD-10' THEN regexp_matches(g.code, '^(F0[0-3]|G30)') ELSE false END
  UNION ALL
  SELECT p.kpr_id, e.npr_id, CAST(e.date_in AS DATE), 1, e.episode_id
  FROM '{d}/npr_diagnoses.parquet' g JOIN '{d}/npr_episodes.parquet' e USING (episode_id)
  LEFT JOIN pairs p ON p.npr_id = e.npr_id
  WHERE regexp_matches(g.code, '^(F0[0-3]|G30)');
CREATE OR REPLACE TEMP TABLE people AS
  WITH cand AS (SELECT DISTINCT kpr_id, npr_id FROM ev),
  kd AS (SELECT kpr_id, min(death_date) AS death FROM '{d}/kuhr_claims.parquet'
         WHERE kpr_id IN (SELECT kpr_id FROM cand) GROUP BY kpr_id),
  nd AS (SELECT npr_id, min(death_date) AS death FROM '{d}/npr_episodes.parquet'
         WHERE npr_id IN (SELECT npr_id FROM cand) GROUP BY npr_id),
  kv AS (SELECT kpr_id, coalesce(sex_corrected, sex) AS sex, birth_year
         FROM '{d}/kuhr_claims.parquet' WHERE kpr_id IN (SELECT kpr_id FROM cand)),
  ks AS (SELECT kpr_id, arg_max(sex, n * 1000 - sex) AS sex FROM
         (SELECT kpr_id, sex, count(*) AS n FROM kv WHERE sex IS NOT NULL GROUP BY ALL)
         GROUP BY kpr_id),
  kb AS (SELECT kpr_id, arg_max(birth_year, n * 10000 - birth_year) AS birth_year FROM
         (SELECT kpr_id, birth_year, count(*) AS n FROM kv WHERE birth_year IS NOT NULL
          GROUP BY ALL) GROUP BY kpr_id),
  nv AS (SELECT npr_id, sex, birth_year FROM '{d}/npr_episodes.parquet'
         WHERE npr_id IN (SELECT npr_id FROM cand)),
  ns AS (SELECT npr_id, arg_max(sex, n * 1000 - sex) AS sex FROM
         (SELECT npr_id, sex, count(*) AS n FROM nv WHERE sex IS NOT NULL GROUP BY ALL)
         GROUP BY npr_id),
  nb AS (SELECT npr_id, arg_max(birth_year, n * 10000 - birth_year) AS birth_year FROM
         (SELECT npr_id, birth_year, count(*) AS n FROM nv WHERE birth_year IS NOT NULL
          GROUP BY ALL) GROUP BY npr_id)
  SELECT cand.kpr_id, cand.npr_id,
         CAST(least(kd.death, nd.death) AS DATE) AS death,
         coalesce(ks.sex, ns.sex) AS sex, coalesce(kb.birth_year, nb.birth_year) AS birth_year
  FROM cand LEFT JOIN kd USING (kpr_id) LEFT JOIN nd USING (npr_id)
  LEFT JOIN ks USING (kpr_id) LEFT JOIN ns USING (npr_id)
  LEFT JOIN kb USING (kpr_id) LEFT JOIN nb USING (npr_id);
CREATE OR REPLACE TEMP TABLE q AS
  SELECT ev.* FROM ev JOIN people p
    ON p.kpr_id IS NOT DISTINCT FROM ev.kpr_id AND p.npr_id IS NOT DISTINCT FROM ev.npr_id
  WHERE ev.date BETWEEN DATE '2016-07-01' AND DATE '2017-06-30'
    AND (p.death IS NULL OR ev.date <= p.death);
"""

#: The cohort table, one row per person.
SQL_RESULT = r"""
WITH f AS (
  SELECT kpr_id, npr_id, min(date) AS index_date,
         arg_min(src, strftime(date, '%Y%m%d') || src || lpad(CAST(rec AS VARCHAR), 20, '0'))
           AS i_src,
         arg_min(rec, strftime(date, '%Y%m%d') || src || lpad(CAST(rec AS VARCHAR), 20, '0'))
           AS i_rec,
         count(DISTINCT (src, rec)) AS n_events,
         CASE WHEN bool_or(src = 0) AND bool_or(src = 1) THEN 'kpr_kuhr+npr'
              WHEN bool_or(src = 0) THEN 'kpr_kuhr' ELSE 'npr' END AS sources
  FROM q GROUP BY kpr_id, npr_id)
SELECT f.kpr_id, f.npr_id, f.index_date, year(f.index_date) - p.birth_year AS age_at_index,
       p.sex, p.birth_year, coalesce(c.municipality, e.municipality) AS municipality_at_index,
       f.sources, f.n_events
FROM f
JOIN people p ON p.kpr_id IS NOT DISTINCT FROM f.kpr_id AND p.npr_id IS NOT DISTINCT FROM f.npr_id
LEFT JOIN '{d}/kuhr_claims.parquet' c ON f.i_src = 0 AND c.claim_id = f.i_rec
LEFT JOIN '{d}/npr_episodes.parquet' e ON f.i_src = 1 AND e.episode_id = f.i_rec
"""

#: The attrition counts (records, persons) per step, as build_cohort counts them.
SQL_ATTRITION = r"""
WITH kwith AS (SELECT DISTINCT c.kpr_id FROM '{d}/kuhr_claims.parquet' c
               SEMI JOIN '{d}/kuhr_diagnoses.parquet' g USING (claim_id)),
nwith AS (SELECT DISTINCT e.npr_id FROM '{d}/npr_episodes.parquet' e
          SEMI JOIN '{d}/npr_diagnoses.parquet' g USING (episode_id)),
nonly AS (SELECT n.npr_id FROM nwith n LEFT JOIN pairs p USING (npr_id)
          ANTI JOIN kwith k ON k.kpr_id = p.kpr_id)
SELECT 'input' AS kind,
  (SELECT count(*) FROM '{d}/kuhr_diagnoses.parquet')
    + (SELECT count(*) FROM '{d}/npr_diagnoses.parquet'),
  (SELECT count(*) FROM kwith) + (SELECT count(*) FROM nonly)
UNION ALL SELECT 'entry', count(*), count(DISTINCT (kpr_id, npr_id)) FROM ev
UNION ALL SELECT 'window', count(*), count(DISTINCT (kpr_id, npr_id)) FROM ev
  WHERE date BETWEEN DATE '2016-07-01' AND DATE '2017-06-30'
UNION ALL SELECT 'death', count(*), count(DISTINCT (kpr_id, npr_id)) FROM q
"""


def _peak_mb() -> float:
    """Peak resident memory of this process (VmHWM; ru_maxrss survives exec on Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run_kprlink(folder: str, projected: bool, q: mp.Queue) -> None:
    from kprlink.cohorts import CohortDefinition, build_cohort, cohort_columns
    from kprlink.sources import read_delivery

    base = _peak_mb()
    t = time.perf_counter()
    definition = CohortDefinition.from_toml(COHORT)
    delivery = read_delivery(folder, columns=cohort_columns(definition) if projected
                             else None)
    t_read = time.perf_counter() - t
    res = build_cohort(delivery, definition)
    wall = time.perf_counter() - t
    name = "kprlink" if projected else "kl-full"
    sys.stdout.write(f"{name:8s} read_delivery {t_read:.2f} s, build_cohort "
                     f"{wall - t_read:.2f} s\n")
    sys.stdout.flush()
    pairs = {(_i(k), _i(n)) for k, n in zip(res.persons["kpr_id"], res.persons["npr_id"],
                                           strict=True)}
    q.put((name, wall, _peak_mb(), base, pairs))


def _run_imported(folder: str, q: mp.Queue) -> None:
    import pyarrow.compute  # noqa: F401  (imports are not timed, as `import duckdb` is not)
    import pyarrow.parquet  # noqa: F401

    from kprlink.cohorts import CohortDefinition, build_cohort

    base = _peak_mb()
    t = time.perf_counter()
    res = build_cohort(folder, CohortDefinition.from_toml(COHORT))
    wall = time.perf_counter() - t
    p = res.persons
    table = {(_i(r.kpr_id), _i(r.npr_id)): (str(r.index_date.date()), _i(r.age_at_index),
                                            _i(r.sex), _i(r.birth_year),
                                            str(r.municipality_at_index), r.sources,
                                            _i(r.n_events))
             for r in p.itertuples(index=False)}
    att = [(int(a), int(b)) for a, b in zip(res.attrition["n_records"],
                                            res.attrition["n_persons"], strict=True)]
    q.put(("kprlink", wall, _peak_mb(), base, set(table), table, att))


def _run_duckdb_cohort(folder: str, threads: int, q: mp.Queue) -> None:
    import duckdb

    base = _peak_mb()
    t = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    for stmt in SQL_COHORT.format(d=folder).split(";"):
        if stmt.strip():
            con.execute(stmt)
    rows = con.execute(SQL_RESULT.format(d=folder)).fetchall()
    att = con.execute(SQL_ATTRITION.format(d=folder)).fetchall()
    wall = time.perf_counter() - t
    table = {(_i(k), _i(n)): (str(d), _i(age), _i(sex), _i(by), str(m), src, _i(ne))
             for k, n, d, age, sex, by, m, src, ne in rows}
    q.put(("duckdb", wall, _peak_mb(), base, set(table), table,
           [(int(a), int(b)) for _, a, b in att]))


def _run_import(src: str, dest: str, q: mp.Queue) -> None:
    from kprlink.sources import import_delivery

    base = _peak_mb()
    t = time.perf_counter()
    import_delivery(src, dest, force=True)
    q.put(("import", time.perf_counter() - t, _peak_mb(), base, set()))


def _run_duckdb(folder: str, threads: int, q: mp.Queue, sql: str = SQL) -> None:
    import duckdb

    base = _peak_mb()
    t = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    rows = con.execute(sql.format(d=folder)).fetchall()
    wall = time.perf_counter() - t
    q.put(("duckdb", wall, _peak_mb(), base, {(_i(k), _i(n)) for k, n in rows}))


def _i(v: object) -> int | None:
    try:
        return None if v is None or v != v else int(v)  # type: ignore[call-overload]
    except TypeError:  # pandas NA
        return None


def _spawn(target, *args, **kwargs) -> tuple:  # type: ignore[no-untyped-def]
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=target, args=(*args, q), kwargs=kwargs)
    p.start()
    out = q.get()
    p.join()
    return out  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=2017)
    ap.add_argument("--out", type=Path, default=Path("bench_out") / "cohort")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="DuckDB threads (kprlink is single-threaded)")
    ap.add_argument("--no-full", action="store_true",
                    help="raw mode: skip the full (every column) read, which needs the most memory")
    ap.add_argument("--repeat", type=int, default=3,
                    help="imported mode: runs per engine (fresh processes); best is reported")
    ap.add_argument("--imported", action="store_true",
                    help="import the delivery once, then time the cohort from the import")
    a = ap.parse_args(argv)
    from kprlink.synth import SynthConfig, generate_delivery

    full = a.out / f"synth_{a.scale:g}_{a.seed}"
    if not (full / "npr_episoder.parquet").exists():
        t = time.perf_counter()
        generate_delivery(full, SynthConfig(scale=a.scale, seed=a.seed, fmt="parquet"))
        sys.stdout.write(f"generated scale {a.scale:g} in {time.perf_counter() - t:.1f} s\n")
    if a.imported:
        return _imported(full, a)
    view = a.out / f"view_{a.scale:g}_{a.seed}"   # the four files both engines read
    view.mkdir(parents=True, exist_ok=True)
    for f in FILES:
        link = view / f"{f}.parquet"
        if not link.exists():
            link.symlink_to((full / f"{f}.parquet").resolve())
    size = sum((full / f"{f}.parquet").stat().st_size for f in FILES) / 2**20
    sys.stdout.write(f"files: {', '.join(FILES)} ({size:.0f} MiB Parquet)\n")
    k = _spawn(_run_kprlink, str(view), True)
    full = k if a.no_full else _spawn(_run_kprlink, str(view), False)
    d = _spawn(_run_duckdb, str(view), a.threads)
    for name, wall, peak, base, pairs in (k, d) if a.no_full else (k, full, d):
        sys.stdout.write(f"{name:8s} wall {wall:7.2f} s   peak RSS {peak:8.0f} MiB "
                         f"(start {base:.0f} MiB)   persons {len(pairs):,}\n")
    sys.stdout.write(f"ratio kprlink/duckdb: wall {k[1] / d[1]:.2f}x, peak RSS "
                     f"{k[2] / d[2]:.2f}x (duckdb threads={a.threads})\n")
    if not a.no_full:
        sys.stdout.write(f"ratio full read/duckdb: wall {full[1] / d[1]:.2f}x\n")
    same = k[4] == d[4] == full[4]
    sys.stdout.write(f"same persons: {same}"
                     + ("" if same else f" (only kprlink {len(k[4] - d[4])}, "
                                        f"only duckdb {len(d[4] - k[4])})") + "\n")
    return 0 if same else 1


def _warm(folder: Path) -> None:
    """Read every Parquet file once, so neither engine pays for a cold page cache."""
    for f in sorted(folder.glob("*.parquet")):
        with f.open("rb") as fh:
            while fh.read(1 << 24):
                pass


def _best(runs: list[tuple]) -> tuple:  # type: ignore[type-arg]
    return min(runs, key=lambda r: r[1])


def _whole_import(dest: Path) -> bool:
    """An earlier import in `dest` that matches its manifest (else import again)."""
    from kprlink.exceptions import ValidationError
    from kprlink.sources._manifest import is_imported, load_manifest

    try:
        return is_imported(dest) and bool(load_manifest(dest))
    except ValidationError:
        return False


def _imported(full: Path, a: argparse.Namespace) -> int:
    dest = a.out / f"imported_{a.scale:g}_{a.seed}"
    if not _whole_import(dest):
        _, wall, peak, _, _ = _spawn(_run_import, str(full), str(dest))
        sys.stdout.write(f"import (once, every file validated) {wall:.2f} s, "
                         f"peak RSS {peak:.0f} MiB\n")
    else:
        sys.stdout.write(f"import reused: {dest}\n")
    _warm(dest)
    ks, ds, ids = [], [], []
    for _ in range(a.repeat):  # alternating, each in a fresh process
        ks.append(_spawn(_run_imported, str(dest)))
        ds.append(_spawn(_run_duckdb_cohort, str(dest), a.threads))
        ids.append(_spawn(_run_duckdb, str(dest), a.threads, sql=SQL_IMPORTED))
    k, d, i = _best(ks), _best(ds), _best(ids)
    sys.stdout.write(f"best of {a.repeat} runs each (fresh process, warm page cache):\n")
    for name, runs in (("kprlink", ks), ("duckdb", ds), ("duck-ids", ids)):
        r = _best(runs)
        walls = ", ".join(f"{x[1]:.2f}" for x in runs)
        sys.stdout.write(f"{name:8s} wall {r[1]:7.2f} s (runs {walls})"
                         f"   peak RSS {r[2]:8.0f} MiB (start {r[3]:.0f} MiB)   "
                         f"persons {len(r[4]):,}\n")
    sys.stdout.write("duckdb   = the same cohort in SQL: persons, index date, attributes, "
                     "attrition counts\nduck-ids = person ids only (no attributes, no "
                     "attrition), for reference\n")
    sys.stdout.write(f"ratio kprlink/duckdb (imported): wall {k[1] / d[1]:.2f}x, peak RSS "
                     f"{k[2] / d[2]:.2f}x (duckdb threads={a.threads}); "
                     f"against person ids only: wall {k[1] / i[1]:.2f}x\n")
    same = k[4] == d[4] == i[4]
    same_table = k[5] == d[5]
    same_att = k[6] == d[6]
    sys.stdout.write(f"same persons: {same}; same attributes: {same_table}; "
                     f"same attrition: {same_att}"
                     + ("" if same else f" (only kprlink {len(k[4] - d[4])}, "
                                        f"only duckdb {len(d[4] - k[4])})") + "\n")
    if not same_att:
        sys.stdout.write(f"  attrition kprlink {k[6]}\n  attrition duckdb  {d[6]}\n")
    return 0 if same and same_table and same_att else 1


if __name__ == "__main__":
    raise SystemExit(main())
