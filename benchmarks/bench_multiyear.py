"""Benchmark: a multi-year delivery out of core, in-process against a 2-worker Dask cluster.

On a synthetic 2016-2024 delivery (``kprlink synth --years``) imported with
``--partitions P``, each step runs in a fresh process and reports wall time and
peak resident memory (Dask workers report their own peak):

* the multi-year dementia cohort (``studies/dementia_trend_2016_2024/cohort.toml``)
  on the whole imported folder (one partition, the builder's imported path), on the
  partitions in-process, and on a local cluster of ``--workers`` processes with
  ``--memory-limit`` each;
* the same cohort in DuckDB SQL over the same Parquet files (``bench_cohort.py``'s
  query with the multi-year window), with ``memory_limit`` set, checked to find
  the same persons;
* the study ``dementia_trend_2016_2024`` in-process and on the cluster, checked to
  release the same bytes.

Ratios are printed at the end. Example (this project's 2-core VM)::

    python benchmarks/bench_multiyear.py --scale 0.02 --partitions 4

``--data DIR`` times the cohorts (``--no-study``: and only those) on an existing
partitioned import instead (no synth, no import), e.g. the single-year scale-1
delivery; ``--threads-inprocess N`` adds the in-process engine on N threads.
"""

from __future__ import annotations

import argparse
import filecmp
import importlib.util
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
STUDY = HERE.parent / "studies" / "dementia_trend_2016_2024"
COHORT = STUDY / "cohort.toml"
_spec = importlib.util.spec_from_file_location("bench_cohort", HERE / "bench_cohort.py")
bc = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(bc)  # type: ignore[union-attr]


class _engine:  # noqa: N801 - used as a context manager like engine_from
    """A local cluster whose workers have imported kprlink (imports are not timed)."""

    def __init__(self, workers: int, memory_limit: str) -> None:
        from kprlink._engine import engine_from

        self._cm = engine_from("dask", workers=workers, memory_limit=memory_limit)

    def __enter__(self):  # type: ignore[no-untyped-def]
        import importlib

        eng = self._cm.__enter__()
        for mod in ("kprlink.cohorts._parts", "kprlink.sources._partition"):
            eng.client.run(importlib.import_module, mod)
        return eng

    def __exit__(self, *exc: object) -> None:
        self._cm.__exit__(*exc)


def _worker_peaks(eng) -> list[float]:  # type: ignore[no-untyped-def]
    got = eng.client.run(resource.getrusage, resource.RUSAGE_SELF)
    return sorted(r[2] / 1024 for r in got.values())  # ru_maxrss, KiB -> MiB


def _cohort(folder: str, workers: int, memory_limit: str, q: mp.Queue) -> None:
    import kprlink as kl

    definition = kl.CohortDefinition.from_toml(COHORT)
    t = time.perf_counter()
    peaks: list[float] = []
    if workers < 0:  # the in-process engine on -workers threads
        from kprlink._engine import InProcess

        res = kl.build_cohort(folder, definition, engine=InProcess(threads=-workers))
        wall = time.perf_counter() - t
    elif workers:
        with _engine(workers, memory_limit) as eng:
            t = time.perf_counter()  # the cluster's start is not the cohort's time
            res = kl.build_cohort(folder, definition, engine=eng)
            wall = time.perf_counter() - t
            peaks = _worker_peaks(eng)
    else:
        res = kl.build_cohort(folder, definition)
        wall = time.perf_counter() - t
    pairs = {(bc._i(k), bc._i(n)) for k, n in zip(res.persons["kpr_id"], res.persons["npr_id"],
                                                 strict=True)}
    q.put((wall, bc._peak_mb(), peaks, pairs))


def _duckdb(folder: str, threads: int, memory_limit: str, q: mp.Queue) -> None:
    import duckdb

    t = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    sql = bc.SQL_COHORT.replace("2017-06-30", "2024-12-31")
    for stmt in sql.format(d=folder).split(";"):
        if stmt.strip():
            con.execute(stmt)
    rows = con.execute(bc.SQL_RESULT.format(d=folder)).fetchall()
    wall = time.perf_counter() - t
    q.put((wall, bc._peak_mb(), [], {(bc._i(r[0]), bc._i(r[1])) for r in rows}))


def _study(folder: str, out: str, workers: int, memory_limit: str, q: mp.Queue) -> None:
    import kprlink as kl

    t = time.perf_counter()
    peaks: list[float] = []
    if workers:
        with _engine(workers, memory_limit) as eng:
            t = time.perf_counter()
            kl.run_study(STUDY, data=folder, out=out, force=True, engine=eng)
            wall = time.perf_counter() - t
            peaks = _worker_peaks(eng)
    else:
        kl.run_study(STUDY, data=folder, out=out, force=True)
        wall = time.perf_counter() - t
    q.put((wall, bc._peak_mb(), peaks, set()))


def _prepare(src: Path, dest: Path, partitions: int, q: mp.Queue) -> None:
    import kprlink as kl

    t = time.perf_counter()
    kl.import_delivery(src, dest, partitions=partitions, force=True)
    q.put((time.perf_counter() - t, bc._peak_mb(), [], set()))


def _whole_view(imported: Path, view: Path) -> None:
    """The imported folder without its partitions (links to its files): one partition."""
    from kprlink.sources._partition import PARTITIONS

    view.mkdir(parents=True, exist_ok=True)
    for p in imported.iterdir():
        if p.is_file() and p.name != PARTITIONS and not (view / p.name).exists():
            (view / p.name).symlink_to(p.resolve())


def _same_release(a: Path, b: Path) -> bool:
    cmp = filecmp.dircmp(a / "release", b / "release")

    def same(c: filecmp.dircmp) -> bool:
        bad = c.left_only or c.right_only or c.diff_files
        return not bad and all(same(s) for s in c.subdirs.values())
    return same(cmp)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=0.02)
    ap.add_argument("--years", default="2016-2024")
    ap.add_argument("--seed", type=int, default=2017)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--memory-limit", default="1GiB", help="per Dask worker")
    ap.add_argument("--duckdb-memory", default="1GB", help="DuckDB memory_limit")
    ap.add_argument("--threads", type=int, default=2, help="DuckDB threads")
    ap.add_argument("--no-study", action="store_true")
    ap.add_argument("--no-whole", action="store_true",
                    help="skip the cohort on the whole folder (its memory grows with the "
                         "delivery); --workers 0 skips the Dask cohort")
    ap.add_argument("--data", type=Path, default=None,
                    help="an existing partitioned import (skips synth and import)")
    ap.add_argument("--threads-inprocess", type=int, default=1,
                    help="also run the in-process engine on this many threads")
    ap.add_argument("--out", type=Path, default=Path("bench_out") / "multiyear")
    a = ap.parse_args(argv)

    from kprlink.synth import SynthConfig
    from kprlink.synth.years import generate_years, parse_years

    root = a.out / (f"s{a.scale}_{a.years}_seed{a.seed}" if a.data is None
                    else a.data.resolve().name)
    raw, imp, view = root / "raw", root / f"imp{a.partitions}", root / "whole"
    rows: dict[str, tuple] = {}
    if a.data is not None:
        imp = a.data
        from kprlink.sources._partition import partitions

        a.partitions = len(partitions(imp))
    elif not (raw / "truth" / "manifest.json").is_file():
        t = time.perf_counter()
        res = generate_years(raw, SynthConfig(scale=a.scale, seed=a.seed, fmt="parquet"),
                             years=parse_years(a.years))
        sys.stdout.write(f"synth {time.perf_counter() - t:.1f} s: {res!r}\n")
    if a.data is None:
        rows["import"] = bc._spawn(_prepare, raw, imp, a.partitions)
    _whole_view(imp, view)
    import pyarrow.parquet as pq

    if a.data is not None:
        a.no_study = True  # (the study needs its multi-year delivery)
    n_claims = pq.ParquetFile(imp / "kuhr_claims.parquet").metadata.num_rows
    n_episodes = pq.ParquetFile(imp / "npr_episodes.parquet").metadata.num_rows
    for label, folder, workers in (("cohort whole folder", view, 0),
                                   (f"cohort {a.partitions} partitions in-process", imp, 0),
                                   (f"cohort {a.partitions} partitions dask {a.workers}w", imp,
                                    a.workers)):
        if ("dask" in label and not a.workers) or (folder == view and a.no_whole):
            continue
        rows[label] = bc._spawn(_cohort, str(folder), workers, a.memory_limit)
    if a.threads_inprocess > 1:
        rows[f"cohort {a.partitions} partitions in-process {a.threads_inprocess} threads"] = \
            bc._spawn(_cohort, str(imp), -a.threads_inprocess, a.memory_limit)
    rows["cohort duckdb"] = bc._spawn(_duckdb, str(view), a.threads, a.duckdb_memory)
    if not a.no_study:
        rows["study whole folder"] = bc._spawn(_study, str(view), str(root / "o_whole"), 0,
                                               a.memory_limit)
        rows["study partitions in-process"] = bc._spawn(_study, str(imp), str(root / "o_in"), 0,
                                                        a.memory_limit)
        rows[f"study dask {a.workers}w"] = bc._spawn(_study, str(imp), str(root / "o_dask"),
                                                     a.workers, a.memory_limit)
    what = f"{a.data}" if a.data is not None else f"scale {a.scale}, years {a.years}"
    sys.stdout.write(f"\n{what}: {n_claims:,} claims, "
                     f"{n_episodes:,} NPR episodes; partitions {a.partitions}, dask workers "
                     f"{a.workers} x {a.memory_limit}, duckdb threads {a.threads} memory_limit "
                     f"{a.duckdb_memory}\n")
    sys.stdout.write(f"{'step':42s} {'wall s':>8s} {'peak MiB':>9s}  workers' peak MiB\n")
    for label, (wall, peak, peaks, _) in rows.items():
        w = ", ".join(f"{p:.0f}" for p in peaks)
        sys.stdout.write(f"{label:42s} {wall:8.2f} {peak:9.0f}  {w}\n")
    coh = {k: v for k, v in rows.items() if k.startswith("cohort ")}
    persons = {k: v[3] for k, v in coh.items()}
    ref = persons["cohort duckdb"]
    same = all(p == ref for p in persons.values())
    d = rows["cohort duckdb"]
    sys.stdout.write(f"same persons on every path (duckdb included): {same} ({len(ref):,})\n")
    for k, v in coh.items():
        if k != "cohort duckdb":
            sys.stdout.write(f"ratio {k} / duckdb: wall {v[0] / d[0]:.2f}x, peak "
                             f"{v[1] / d[1]:.2f}x\n")
    if not a.no_study:
        ok = (_same_release(root / "o_whole", root / "o_in")
              and _same_release(root / "o_whole", root / "o_dask"))
        sys.stdout.write(f"study releases byte-identical on every engine: {ok}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
