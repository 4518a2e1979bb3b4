"""Benchmark: probabilistic linkage of n x n synthetic person records (default 1 million).

Persons are generated with numpy inside the benchmark: birth date, sex,
municipality (356 codes), a first-name token from a 3,000-name vocabulary,
death date for 10 %; municipality sizes follow Zipf (largest ~15 %). The
right file is a noisy copy: 10 % moved municipality, 5 % name typo, 3 % birth
day missing, 2 % birth year off by one, and 5 % of persons replaced by
others (no match). Blocking (unioned): birth date +
municipality, birth date + first name, birth year + month + sex + first name.
Prints candidates, precision, recall, F1, wall time per stage and peak memory.

    .venv/bin/python benchmarks/bench_linkage_1m.py --n 100000
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pandas as pd

import kprlink as kl


def make(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    letters = np.array(list("abdefghijklmnoprstuvy"))
    vocab = np.array(["".join(rng.choice(letters, rng.integers(4, 9))) for _ in range(3000)])
    typo_vocab = np.array([v[:-1] + "q" for v in vocab])
    p_name = 1.0 / np.arange(1, 3001) ** 0.8  # Zipf-like name frequencies
    name_i = rng.choice(3000, n, p=p_name / p_name.sum())
    muni = np.array([f"{k:04d}" for k in rng.choice(np.arange(101, 5500), 356, replace=False)])
    muni_p = 1.0 / np.arange(1, 357)  # Zipf: the largest ~15 % (Oslo is 13 %)
    dead = rng.random(n) < 0.1
    left = pd.DataFrame({
        "birth_year": rng.integers(1920, 2017, n).astype("float64"),
        "birth_month": rng.integers(1, 13, n),
        "birth_day": rng.integers(1, 29, n).astype("float64"),
        "sex": rng.integers(1, 3, n),
        "municipality": muni[rng.choice(356, n, p=muni_p / muni_p.sum())],
        "first_name": vocab[name_i],
        "death_date": np.where(dead, pd.Timestamp("2016-01-01").value // 86_400_000_000_000
                               + rng.integers(0, 730, n), np.nan),
    })
    left.index = pd.RangeIndex(n, name="left_id")
    right = left.copy()
    moved = rng.random(n) < 0.10
    right.loc[moved, "municipality"] = muni[rng.integers(0, 356, int(moved.sum()))]
    typo = rng.random(n) < 0.05
    right.loc[typo, "first_name"] = typo_vocab[name_i[typo]]
    right.loc[rng.random(n) < 0.03, "birth_day"] = np.nan
    off = rng.random(n) < 0.02
    right.loc[off, "birth_year"] += 1
    other = rng.random(n) < 0.05  # replaced by persons not in the left file
    right.loc[other, "birth_year"] = rng.integers(1920, 2017, int(other.sum()))
    right.loc[other, "first_name"] = vocab[rng.integers(0, 3000, int(other.sum()))]
    perm = rng.permutation(n)
    right = right.iloc[perm].reset_index(drop=True)
    right.index.name = "right_id"
    truth = pd.DataFrame({"left_id": perm, "right_id": np.arange(n)})
    truth = truth[~other[perm]]
    return left, right, truth


def spec() -> kl.LinkageSpec:
    return kl.LinkageSpec(
        comparisons=(
            kl.NumericComparison("birth_year", distances=(0, 1)),
            kl.ExactComparison("birth_month"),
            kl.NumericComparison("birth_day", distances=(0,)),
            kl.ExactComparison("sex"),
            kl.ExactComparison("municipality"),
            kl.StringComparison("first_name", thresholds=(0.9,)),
            kl.NumericComparison("death_date", distances=(0, 7)),
        ),
        blocking=(("birth_year", "birth_month", "birth_day", "municipality"),
                  ("birth_year", "birth_month", "birth_day", "first_name"),
                  ("birth_year", "birth_month", "sex", "first_name")),
        max_pairs=200_000_000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="records per side")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    t0 = time.perf_counter()
    left, right, truth = make(args.n, args.seed)
    t1 = time.perf_counter()
    res = kl.link_probabilistic(left, right, spec())
    t2 = time.perf_counter()
    ev = res.evaluate(truth).set_index("links").loc["all"]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(repr(res))  # noqa: T201
    print(f"n per side      {args.n:,}")  # noqa: T201
    print(f"candidates      {res.info['n_candidates']:,}")  # noqa: T201
    print(f"precision       {ev['precision']:.4f}")  # noqa: T201
    print(f"recall          {ev['recall']:.4f}")  # noqa: T201
    print(f"F1              {ev['f1']:.4f}")  # noqa: T201
    print(f"blocking recall {ev['blocking_recall']:.4f}")  # noqa: T201
    print(f"data build      {t1 - t0:.1f} s")  # noqa: T201
    print(f"linkage         {t2 - t1:.1f} s")  # noqa: T201
    print(f"peak memory     {rss:.2f} GiB max RSS (process)")  # noqa: T201


if __name__ == "__main__":
    main()
