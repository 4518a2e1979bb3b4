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
definition)`` is timed against a hand-written DuckDB query over the same
imported canonical Parquet files (``SQL_IMPORTED``).

Each runs in a fresh process (spawned one after the other, in one run of this
script); wall time and the process's peak resident memory (``ru_maxrss``) are
printed with the ratios, and the two person sets ((kpr_id, npr_id) pairs) must
be equal. Usage::

    python benchmarks/bench_cohort.py --scale 0.05 [--imported] [--out DIR] [--threads 2]

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
    pairs = {(_i(k), _i(n)) for k, n in zip(res.persons["kpr_id"], res.persons["npr_id"],
                                           strict=True)}
    q.put(("kprlink", wall, _peak_mb(), base, pairs))


def _run_import(src: str, dest: str, q: mp.Queue) -> None:
    from kprlink.sources import import_delivery

    base = _peak_mb()
    t = time.perf_counter()
    import_delivery(src, dest)
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


def _imported(full: Path, a: argparse.Namespace) -> int:
    dest = a.out / f"imported_{a.scale:g}_{a.seed}"
    if not (dest / "kprlink_import.json").exists():
        _, wall, peak, _, _ = _spawn(_run_import, str(full), str(dest))
        sys.stdout.write(f"import (once, every file validated) {wall:.2f} s, "
                         f"peak RSS {peak:.0f} MiB\n")
    else:
        sys.stdout.write(f"import reused: {dest}\n")
    k = _spawn(_run_imported, str(dest))
    d = _spawn(_run_duckdb, str(dest), a.threads, sql=SQL_IMPORTED)
    for name, wall, peak, base, pairs in (k, d):
        sys.stdout.write(f"{name:8s} wall {wall:7.2f} s   peak RSS {peak:8.0f} MiB "
                         f"(start {base:.0f} MiB)   persons {len(pairs):,}\n")
    sys.stdout.write(f"ratio kprlink/duckdb (imported): wall {k[1] / d[1]:.2f}x, peak RSS "
                     f"{k[2] / d[2]:.2f}x (duckdb threads={a.threads})\n")
    same = k[4] == d[4]
    sys.stdout.write(f"same persons: {same}"
                     + ("" if same else f" (only kprlink {len(k[4] - d[4])}, "
                                        f"only duckdb {len(d[4] - k[4])})") + "\n")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
