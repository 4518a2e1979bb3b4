"""Benchmark: suppression with audit of a 1,000 x 20 table (with margins) from 5 million rows.

Draws ``--rows`` person-contacts over ``--groups`` municipalities (sizes skewed like
Norway's: a few large, many small) and ``--categories`` diagnosis groups (skewed shares),
tabulates them with ``kl.frequency_table``, then runs ``kl.suppress_table`` with
``max_n`` (default 4), secondary suppression and the LP audit of every suppressed cell,
and prints the wall time of each step and the peak resident memory of the process.

``--third K`` adds a third dimension (K age bands, skewed), for the 3-way case.

Targets (issue 13), with audit: 1,000 x 20 under 15 s, 200 x 20 x 10 under 60 s,
5,000 x 20 under 120 s. The reference figures printed beside them are GaussSuppression's
(R) times on the same tables as measured on this kind of machine (issue 13: 1,000 x 20
81-88 s CPU, 200 x 20 x 10 389 s, both without audit); R is not installed here, so they
are quoted, not rerun.

Usage::

    python benchmarks/bench_suppress.py [--rows 5000000] [--groups 1000] [--categories 20]
                                        [--third 0]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np
import pandas as pd

import kprlink as kl


#: GaussSuppression's published times (seconds, no audit) on these tables, issue 13
GAUSS_REFERENCE_S = {(1000, 20, 0): 84.5, (200, 20, 10): 389.0}


def make_microdata(rows: int, groups: int, categories: int, seed: int,
                   third: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    size = rng.lognormal(mean=0.0, sigma=1.6, size=groups)  # municipality sizes
    share = rng.dirichlet(np.full(categories, 0.6))  # diagnosis-group shares
    g = rng.choice(groups, size=rows, p=size / size.sum())
    # each municipality has its own mix around the national shares
    mix = rng.dirichlet(share * 40 + 0.05, size=groups)
    u = rng.random(rows)
    c = (u[:, None] > np.cumsum(mix[g], axis=1)).sum(axis=1) if rows <= 200_000 else None
    if c is None:  # chunked to keep memory small
        c = np.empty(rows, dtype=np.int64)
        cum = np.cumsum(mix, axis=1)
        for s in range(0, rows, 500_000):
            sl = slice(s, s + 500_000)
            c[sl] = (u[sl, None] > cum[g[sl]]).sum(axis=1)
    c = np.minimum(c, categories - 1)
    kommune = pd.Categorical.from_codes(g, [f"K{i:04d}" for i in range(groups)])
    diag = pd.Categorical.from_codes(c, [f"D{j:02d}" for j in range(categories)])
    out = pd.DataFrame({"kommune": kommune, "diag": diag})
    if third:
        share3 = rng.dirichlet(np.full(third, 1.0))
        out["age"] = pd.Categorical.from_codes(rng.choice(third, size=rows, p=share3),
                                               [f"A{k:02d}" for k in range(third)])
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=5_000_000)
    p.add_argument("--groups", type=int, default=1000)
    p.add_argument("--categories", type=int, default=20)
    p.add_argument("--max-n", type=int, default=4)
    p.add_argument("--seed", type=int, default=2017)
    p.add_argument("--third", type=int, default=0)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    micro = make_microdata(args.rows, args.groups, args.categories, args.seed, args.third)
    dims = ["kommune", "diag", *(["age"] if args.third else [])]
    t1 = time.perf_counter()
    cells = kl.frequency_table(micro, dims, count_col="n")
    t2 = time.perf_counter()
    rule = kl.SuppressionRule(max_n=args.max_n)
    res = kl.suppress_table(cells, dims, count_col="n", rule=rule, audit=False)
    t3 = time.perf_counter()
    res = kl.suppress_table(cells, dims, count_col="n", rule=rule, audit=True)
    t4 = time.perf_counter()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = sys.stdout
    out.write(f"rows {args.rows:,} -> {len(cells):,} inner cells, {len(res.table):,} cells "
              f"with margins\n")
    out.write(f"{res!r}\n")
    out.write(f"audit: {len(res.audit):,} suppressed cells, min width "
              f"{res.audit['width'].min():g}, all ok: {res.ok}; repairs {res.n_repairs}\n")
    out.write(f"draw microdata        {t1 - t0:7.2f} s\n")
    out.write(f"frequency_table       {t2 - t1:7.2f} s\n")
    out.write(f"suppression only      {t3 - t2:7.2f} s\n")
    out.write(f"suppression + audit   {t4 - t3:7.2f} s\n")
    out.write(f"table + suppression + audit (from microdata) {t2 - t1 + t4 - t3:7.2f} s\n")
    ref = GAUSS_REFERENCE_S.get((args.groups, args.categories, args.third))
    if ref is not None:
        out.write(f"GaussSuppression (quoted, no audit) {ref:.0f} s: ratio kprlink with audit "
                  f"/ GaussSuppression {(t4 - t3) / ref:.2f}\n")
    out.write(f"peak resident memory  {peak_mib:,.0f} MiB (whole process, incl. microdata)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
