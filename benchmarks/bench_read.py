"""Benchmark: kprlink's reader against pandas' own readers on KPR claims.

Writes ``--rows`` synthetic KPR-KUHR claims (built with numpy here, with the
delivered column names of docs/architecture.md) to a ``;``-separated CSV and a
Parquet file in a temporary folder, then reads each file with

* ``kprlink.read_extract`` (canonical schema, validation, report), and
* ``pandas.read_csv(sep=";")`` (C engine), ``pandas.read_csv(engine="pyarrow")``
  and ``pandas.read_parquet`` (no conversion, no validation),

and prints rows per second and peak memory (resident set size above the level
before the call, sampled every 5 ms), with kprlink / pandas ratios. One process.

Usage::

    python benchmarks/bench_read.py --rows 2000000
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from kprlink.sources import read_extract

SERVICE_TYPES = np.array(["Fastlege", "Legevakt", "Fysioterapeut privat", "Kiropraktor"])
MUNICIPALITIES = np.array(["0301", "4601", "5001", "1103", "3024", "1804", "3403"])


def make_claims(n: int, seed: int = 1) -> pa.Table:
    """`n` claims with the delivered column names, as an Arrow table of text."""
    rng = np.random.default_rng(seed)
    days = rng.integers(0, 730, n)
    date = np.datetime64("2016-07-01") + days.astype("timedelta64[D]")
    birth = rng.integers(1920, 2016, n)
    minutes = rng.integers(7 * 60, 23 * 60, n)
    time_ = [f"{h:02d}:{m:02d}" for h, m in zip(minutes[:1440] // 60, minutes[:1440] % 60,
                                               strict=True)]
    sex = rng.choice([1, 2, -1], n, p=[0.48, 0.51, 0.01])
    dead = rng.random(n) < 0.01
    death = np.where(dead, (date + np.timedelta64(30, "D")).astype(str), "")
    return pa.table({
        "aar": pa.array(date.astype("datetime64[Y]").astype(int) + 1970),
        "kpr_lnr": pa.array(rng.integers(1, max(n // 5, 2), n)),
        "enkeltregning_lnr": pa.array(np.arange(1, n + 1)),
        "dato": pa.array(date.astype(str)),
        "klokkeslett": pa.array(np.array(time_)[np.arange(n) % len(time_)]),
        "kjonn": pa.array(sex),
        "kjonnK": pa.array(np.where(sex == -1, 2, sex)),
        "alder": pa.array(2017 - birth),
        "fodselsaar": pa.array(birth),
        "kommuneNr": pa.array(MUNICIPALITIES[rng.integers(0, len(MUNICIPALITIES), n)]),
        "bydel": pa.array(np.full(n, "")),
        "kommunenrPB": pa.array(np.full(n, "")),
        "tjenestetype": pa.array(SERVICE_TYPES[rng.integers(0, len(SERVICE_TYPES), n)]),
        "praksiskommune": pa.array(MUNICIPALITIES[rng.integers(0, len(MUNICIPALITIES), n)]),
        "doddato": pa.array(death),
    })


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(fn: Callable[[], object]) -> tuple[float, int, object]:
    """Wall seconds, peak RSS above the start, and the result of `fn()`."""
    gc.collect()
    base = _rss()
    peak = [base]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.005)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    start = time.perf_counter()
    result = fn()
    wall = time.perf_counter() - start
    stop.set()
    t.join()
    peak[0] = max(peak[0], _rss())
    return wall, peak[0] - base, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args(argv)
    n = args.rows
    out = sys.stdout.write
    with tempfile.TemporaryDirectory() as tmp:
        csv_path, pq_path = Path(tmp) / "claims.csv", Path(tmp) / "claims.parquet"
        table = make_claims(n)
        pacsv.write_csv(table, csv_path, pacsv.WriteOptions(delimiter=";",
                                                            quoting_style="none"))
        import pyarrow.parquet as pq

        pq.write_table(table, pq_path)
        del table
        out(f"{n:,} claims: CSV {csv_path.stat().st_size / 1e6:,.0f} MB, "
            f"Parquet {pq_path.stat().st_size / 1e6:,.0f} MB; {os.cpu_count()} CPUs\n")
        runs = {
            "kprlink read_extract(csv)": lambda: read_extract(csv_path).data,
            "pandas read_csv(sep=';')": lambda: pd.read_csv(csv_path, sep=";"),
            "pandas read_csv(engine='pyarrow')": lambda: pd.read_csv(
                csv_path, sep=";", engine="pyarrow"),
            "kprlink read_extract(parquet)": lambda: read_extract(pq_path).data,
            "pandas read_parquet": lambda: pd.read_parquet(pq_path),
        }
        res: dict[str, tuple[float, int]] = {}
        for name, fn in runs.items():
            wall, mem, frame = measure(fn)
            assert len(frame) == n, (name, len(frame))
            del frame
            res[name] = (wall, mem)
            out(f"{name:36s} {wall:7.2f} s  {n / wall / 1e6:6.2f} M rows/s  "
                f"peak +{mem / 2**20:7,.0f} MiB\n")
        for ours, theirs in (("kprlink read_extract(csv)", "pandas read_csv(sep=';')"),
                             ("kprlink read_extract(csv)", "pandas read_csv(engine='pyarrow')"),
                             ("kprlink read_extract(parquet)", "pandas read_parquet")):
            (tw, tm), (pw, pm) = res[ours], res[theirs]
            out(f"{ours} / {theirs}: time {tw / pw:4.2f}x, peak memory "
                f"{tm / max(pm, 1):4.2f}x\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
