"""Benchmark: ``kprlink link`` on a partitioned import, whole folder against partitions.

On an imported folder written with ``kprlink import --partitions P``, each run is a
fresh process and reports wall time and peak resident memory (Dask workers their
own peak, ``ru_maxrss``):

* **whole**: the key-file linkage (same-person ids merged) of the whole folder's
  frames, as ``kprlink link`` runs it on an unpartitioned import;
* **partitions in-process** (``--threads`` partitions at a time) and **Dask**
  (``--workers`` local worker processes with ``--memory-limit`` each): the same
  linkage partition by partition (``kprlink.linkage._link_parts``).

Every run writes its person map as ``kprlink link`` does; the files and the
report's figures must be the same bytes. Example::

    python benchmarks/bench_link.py --data /data/imported_1_p8 --workers 2
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("bench_multiyear", HERE / "bench_multiyear.py")
bm = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(bm)  # type: ignore[union-attr]


def _digest(res) -> str:  # type: ignore[no-untyped-def]
    from kprlink.commands._personfile import write_persons

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "persons.parquet"
        write_persons(res.persons, out)
        h = hashlib.sha256(out.read_bytes())
    h.update(res.summary().to_csv(index=False).encode())
    return h.hexdigest()[:16]


def _run(folder: str, mode: str, n: int, memory_limit: str, q: mp.Queue) -> None:
    import kprlink as kl
    from kprlink.linkage._link_parts import KEY_COLUMNS, link_partitions

    peaks: list[float] = []
    t = time.perf_counter()
    if mode == "whole":
        from kprlink.linkage._aliases import link_merging_aliases

        d = kl.read_delivery(folder, columns={**KEY_COLUMNS, "key": None})
        frames = {f: getattr(d, f) for f in ("npr_episodes", "kuhr_claims", "key")}
        del d
        res = link_merging_aliases(frames, lambda f: kl.link_extracts(
            f["npr_episodes"], f["kuhr_claims"], key=f["key"]))[1]
        del frames
    elif mode == "in-process":
        from kprlink._engine import InProcess

        res = link_partitions(folder, InProcess(threads=n))
    else:
        with bm._engine(n, memory_limit) as eng:
            import importlib

            eng.client.run(importlib.import_module, "kprlink.linkage._link_parts")
            t = time.perf_counter()  # the cluster's start is not the linkage's time
            res = link_partitions(folder, eng)
            wall = time.perf_counter() - t
            peaks = bm._worker_peaks(eng)
    if mode != "dask":
        wall = time.perf_counter() - t
    q.put((wall, bm.bc._peak_mb(), peaks, _digest(res), len(res.persons)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="a partitioned import")
    ap.add_argument("--threads", type=int, default=1, help="in-process: partitions at once")
    ap.add_argument("--workers", type=int, default=2, help="Dask workers (0: no Dask run)")
    ap.add_argument("--memory-limit", default="2GiB", help="per Dask worker")
    ap.add_argument("--no-whole", action="store_true", help="skip the whole-folder run")
    a = ap.parse_args(argv)
    from kprlink.sources._partition import partitions

    n_parts = len(partitions(a.data))
    if not n_parts:
        sys.stderr.write(f"{a.data} has no partitions (kprlink import --partitions N)\n")
        return 2
    view = Path(tempfile.mkdtemp()) / "whole"
    bm._whole_view(a.data, view)  # the same files, no partitions: the whole path
    runs = [] if a.no_whole else [("whole", str(view), "whole", 0)]
    runs.append((f"{n_parts} partitions in-process, {a.threads} thread(s)", str(a.data),
                 "in-process", a.threads))
    if a.workers:
        runs.append((f"{n_parts} partitions, Dask {a.workers} workers x {a.memory_limit}",
                     str(a.data), "dask", a.workers))
    got = {}
    for label, folder, mode, n in runs:
        got[label] = bm.bc._spawn(_run, folder, mode, n, a.memory_limit)
        wall, peak, peaks, digest, n_persons = got[label]
        workers = f", workers {' / '.join(f'{p:,.0f}' for p in peaks)} MiB" if peaks else ""
        sys.stdout.write(f"{label:45s} wall {wall:7.2f} s   peak {peak:7,.0f} MiB{workers}"
                         f"   persons {n_persons:,}   digest {digest}\n")
        sys.stdout.flush()
    same = len({v[3] for v in got.values()}) == 1
    if not a.no_whole:
        w = got[runs[0][0]]
        for label, *_ in runs[1:]:
            r = got[label]
            sys.stdout.write(f"ratio {label} / whole: wall {r[0] / w[0]:.2f}x, peak "
                             f"{r[1] / w[1]:.2f}x\n")
    sys.stdout.write(f"same person map and report bytes: {same}\n")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
