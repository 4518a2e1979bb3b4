"""Benchmark: recover NPR↔KPR links for persons removed from the key file.

Generates a synthetic delivery with :mod:`kprlink.synth`, reads it with
:func:`kprlink.read_delivery`, removes every key row of a random 5 % of the
keyed persons, and links the unkeyed NPR persons to KPR persons with
:func:`kprlink.link_registers_probabilistic`. The model's links are scored
against ``truth/linkage_pairs.parquet`` restricted to the persons without a
usable key (the removed 5 % plus those the generator left out of the key).
Prints precision, recall and F1 at the default threshold and for a few
match-probability thresholds, the held-out figures the model reports about
itself, wall time per stage and peak memory.

    .venv/bin/python benchmarks/bench_linkage_synth.py --scale 0.01
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import kprlink as kl


def _score(links: pd.DataFrame, truth: pd.DataFrame) -> tuple[int, float, float, float]:
    f = pd.MultiIndex.from_frame(links[["npr_id", "kpr_id"]].astype("int64")).unique()
    t = pd.MultiIndex.from_frame(truth[["npr_id", "kpr_id"]].astype("int64")).unique()
    tp = len(f.intersection(t))
    p = tp / len(f) if len(f) else float("nan")
    r = tp / len(t) if len(t) else float("nan")
    f1 = 2 * p * r / (p + r) if tp else 0.0
    return len(f), p, r, f1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--remove", type=float, default=0.05,
                    help="share of keyed persons whose key rows are removed")
    ap.add_argument("--target-precision", type=float, default=0.99,
                    help="threshold chosen on held-out key pairs to reach this precision")
    ap.add_argument("--max-rule-pairs", type=int, default=None,
                    help="skip a blocking rule after the first that gives more pairs "
                         "(default: the spec's own)")
    ap.add_argument("--no-times", action="store_true",
                    help="compare legevakt claims by day, not time of day")
    ap.add_argument("--no-district", action="store_true", help="leave out city district")
    ap.add_argument("--no-broad", action="store_true",
                    help="leave out the birth year + sex blocking rule")
    ap.add_argument("--no-birth-month", action="store_true",
                    help="leave out NPR fodt_mnd against the KUHR age interval")
    ap.add_argument("--no-referral-dates", action="store_true",
                    help="leave out NPR mottaksdato against KUHR GP claims")
    ap.add_argument("--no-discharge-dates", action="store_true",
                    help="leave out NPR discharge (inpatient utdato) against KUHR GP claims")
    ap.add_argument("--no-moves", action="store_true",
                    help="leave out the move comparison and the birth year + move rule")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        kl.generate_delivery(Path(tmp) / "d", kl.SynthConfig(scale=args.scale, seed=args.seed,
                                                             fmt="parquet"))
        t_gen = time.perf_counter() - t0
        t0 = time.perf_counter()
        d = kl.read_delivery(Path(tmp) / "d")
        truth = pd.read_parquet(Path(tmp) / "d" / "truth" / "linkage_pairs.parquet")
        t_read = time.perf_counter() - t0

    rng = np.random.default_rng(args.seed)
    keyed = pd.unique(d.key["npr_id"].dropna())
    removed = rng.choice(keyed, int(round(args.remove * len(keyed))), replace=False)
    key = d.key[~d.key["npr_id"].isin(removed)]

    t0 = time.perf_counter()
    extra = {} if args.max_rule_pairs is None else {"max_pairs_per_rule": args.max_rule_pairs}
    spec = kl.LinkageSpec.person_profile(referral_days=True, competition=True,
                                         broad_blocking=not args.no_broad,
                                         referral_times=not args.no_times,
                                         district=not args.no_district,
                                         birth_month=not args.no_birth_month,
                                         referral_dates=not args.no_referral_dates,
                                         discharge_dates=not args.no_discharge_dates,
                                         moves=not args.no_moves,
                                         target_precision=args.target_precision, **extra)
    res = kl.link_registers_probabilistic(d.npr_episodes, d.kuhr_claims, key, spec=spec)
    t_link = time.perf_counter() - t0

    model = res.links[res.links["source"] == "model"].rename(
        columns={"left_id": "npr_id", "right_id": "kpr_id"})
    npr_persons = set(pd.unique(d.npr_episodes["npr_id"].dropna()))
    kpr_persons = set(pd.unique(d.kuhr_claims["kpr_id"].dropna()))
    unkeyed = truth[~truth["npr_id"].isin(key["npr_id"])
                    & truth["npr_id"].isin(npr_persons) & truth["kpr_id"].isin(kpr_persons)]

    print(f"scale {args.scale}: {len(npr_persons):,} NPR persons, {len(kpr_persons):,} KPR "
          f"persons, {len(removed):,} keys removed, {len(unkeyed):,} linkable persons "
          "without a key (truth)")
    print(f"generate {t_gen:.1f} s, read {t_read:.1f} s, link {t_link:.1f} s")
    n, p, r, f1 = _score(model, unkeyed)
    print(f"model links (threshold {res.info['threshold_used']:.4f} chosen on held-out keys "
          f"for precision >= {args.target_precision}): {n:,}  precision {p:.4f}  "
          f"recall {r:.4f}  F1 {f1:.4f}")
    cand = res.candidates.rename(columns={"left_id": "npr_id", "right_id": "kpr_id"})
    cand = cand[cand["npr_id"].isin(unkeyed["npr_id"]) | ~cand["npr_id"].isin(key["npr_id"])]
    for thr in (0.5, 0.7, 0.8, 0.9, 0.95, 0.99):
        best = (cand[cand["match_probability"] >= thr]
                .sort_values("match_probability", ascending=False, kind="stable")
                .drop_duplicates("npr_id").drop_duplicates("kpr_id"))
        n, p, r, f1 = _score(best, unkeyed)
        print(f"  one-to-one at p >= {thr}: {n:,} links  precision {p:.4f}  recall {r:.4f}  "
              f"F1 {f1:.4f}")
    print("blocking (unkeyed persons):")
    print(res.blocking.to_string(index=False))
    if res.validation is not None:
        print("held-out key pairs (the model's own estimate):")
        print(res.validation.to_string())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"peak memory {peak:.2f} GiB")


if __name__ == "__main__":
    main()
