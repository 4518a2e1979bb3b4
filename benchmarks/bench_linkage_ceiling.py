"""Benchmark: model recall against the evidence-group oracle ceiling, scales 0.005-0.05.

For each scale a synthetic delivery is generated, the key rows of a random 5 % of the
keyed persons are removed, and ``kl.link_registers_probabilistic`` (target precision
0.99) links the unkeyed NPR persons. Every linkable unkeyed person (truth) is put in the
first evidence group that applies (docs/methods/probabilistic_linkage.md, "What limits
recall"):

1. an acute admission with a legevakt claim the day of or before, or a GP claim 0-2 days
   before;
2. a referral received 0-3 days after one of their GP claims;
3. a GP claim 0-14 days after an inpatient discharge;
4. the same move (first > last municipality) in both registers;
5. the only unkeyed KPR person with their birth year, sex, municipality and vital status;
6. none of these.

An oracle that knows which evidence each person carries can link groups 1-5 and no
more: the ceiling. The target (issue 15): recall >= 95 % of the ceiling at true
precision >= 0.99. Prints per scale: persons, ceiling, precision, recall, recall / ceiling,
per-group found shares, wall time and peak memory. ``identifiable`` counts the ceiling's
persons whose true partner is the only unkeyed KPR person of its birth year, sex and
municipality carrying their group's evidence (groups 1-4; group 5 by definition), and
``identifiable_found`` the share of them the model links: evidence that other candidates
carry as well cannot single a person out, whatever the model.

    .venv/bin/python benchmarks/bench_linkage_ceiling.py --scales 0.005 0.01 0.02 0.05
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
from kprlink.linkage._registers import register_profiles, register_spec

GROUPS = ("acute + legevakt/GP claim", "referral after a GP claim", "GP claim after discharge",
          "same move", "unique profile", "none")


def _any_within(a: np.ndarray, b: np.ndarray, lo: int, hi: int) -> bool:
    """Some x in `a` with a y in `b`, lo <= y - x <= hi (both sorted)."""
    if not len(a) or not len(b):
        return False
    i = np.searchsorted(b, a + lo, side="left")
    j = np.searchsorted(b, a + hi, side="right")
    return bool((j > i).any())


def evidence_groups(npr: pd.DataFrame, kpr: pd.DataFrame, pairs: pd.DataFrame,
                    unkeyed_kpr: pd.Index) -> pd.Series:
    """The first evidence group (index into GROUPS) of each true pair."""
    u = kpr.loc[kpr.index.intersection(unkeyed_kpr)]
    prof = u[["birth_year", "sex", "municipality", "dead"]].astype("string").fillna("?")
    counts = prof.groupby(list(prof.columns)).size()
    out = []
    for n_id, k_id in pairs[["npr_id", "kpr_id"]].itertuples(index=False):
        a, b = npr.loc[n_id], kpr.loc[k_id]
        if any(_any_within(x, y, lo, hi) for x, y, lo, hi in (
                (a["acute_days"], b["out_of_hours_days"], -1, 0),
                (a["acute_days"], b["gp_days"], -2, 0))):
            g = 0
        elif _any_within(a["referral_days"], b["gp_days"], -3, 0):
            g = 1
        elif _any_within(a["discharge_days"], b["gp_days"], 0, 14):
            g = 2
        elif pd.notna(a["move"]) and pd.notna(b["move"]) and a["move"] == b["move"]:
            g = 3
        else:
            key = tuple(str(b[c]) if pd.notna(b[c]) else "?"
                        for c in ("birth_year", "sex", "municipality", "dead"))
            g = 4 if counts.get(key, 0) == 1 else 5
        out.append(g)
    return pd.Series(out, index=pairs.index)


def _evidence(a: pd.Series, b: pd.Series, g: int) -> bool:
    """Whether KPR profile `b` carries group `g`'s evidence for NPR profile `a`."""
    if g == 0:
        return (_any_within(a["acute_days"], b["out_of_hours_days"], -1, 0)
                or _any_within(a["acute_days"], b["gp_days"], -2, 0))
    if g == 1:
        return _any_within(a["referral_days"], b["gp_days"], -3, 0)
    if g == 2:
        return _any_within(a["discharge_days"], b["gp_days"], 0, 14)
    return bool(pd.notna(a["move"]) and pd.notna(b["move"]) and a["move"] == b["move"])


def identifiable(npr: pd.DataFrame, kpr: pd.DataFrame, pairs: pd.DataFrame,
                 unkeyed_kpr: pd.Index, groups: pd.Series) -> pd.Series:
    """Whether the true partner is the only unkeyed KPR person of its birth year, sex and
    municipality that carries the evidence of the pair's group (groups 1-4; group 5 is
    unique by definition, group 6 never identifiable): an oracle that knows which
    evidence a person carries, but not who their partner is, can link only these."""
    u = kpr.loc[kpr.index.intersection(unkeyed_kpr)]
    prof = u[["birth_year", "sex", "municipality"]].astype("string").fillna("?")
    blocks = prof.groupby(list(prof.columns)).indices
    out = []
    for (n_id, k_id), g in zip(pairs[["npr_id", "kpr_id"]].itertuples(index=False), groups):
        if g >= 4:
            out.append(g == 4)
            continue
        b = kpr.loc[k_id]
        key = tuple(str(b[c]) if pd.notna(b[c]) else "?"
                    for c in ("birth_year", "sex", "municipality"))
        a = npr.loc[n_id]
        others = [r for r in u.index[blocks.get(key, [])] if r != k_id]
        out.append(not any(_evidence(a, u.loc[r], g) for r in others))
    return pd.Series(out, index=pairs.index)


def one_scale(scale: float, seed: int, remove: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "d"
        kl.generate_delivery(root, kl.SynthConfig(scale=scale, seed=seed, fmt="parquet"))
        d = kl.read_delivery(root)
        truth = pd.read_parquet(root / "truth" / "linkage_pairs.parquet")
    rng = np.random.default_rng(seed)
    keyed = pd.unique(d.key["npr_id"].dropna())
    removed = rng.choice(keyed, int(round(remove * len(keyed))), replace=False)
    key = d.key[~d.key["npr_id"].isin(removed)]
    t0 = time.perf_counter()
    res = kl.link_registers_probabilistic(d.npr_episodes, d.kuhr_claims, key,
                                          spec=register_spec(target_precision=0.99))
    wall = time.perf_counter() - t0
    npr, kpr, labels, _ = register_profiles(d.npr_episodes, d.kuhr_claims, key)
    target = truth[~truth["npr_id"].isin(key["npr_id"]) & truth["npr_id"].isin(npr.index)
                   & truth["kpr_id"].isin(kpr.index)].reset_index(drop=True)
    groups = evidence_groups(npr, kpr, target, kpr.index.difference(labels["right_id"]))
    model = res.links[res.links["source"] == "model"]
    found = pd.MultiIndex.from_frame(model[["left_id", "right_id"]])
    hit = pd.MultiIndex.from_frame(target[["npr_id", "kpr_id"]]).isin(found)
    tp = int(hit.sum())
    ceiling = int((groups < 5).sum())
    ident = identifiable(npr, kpr, target, kpr.index.difference(labels["right_id"]),
                         groups).to_numpy(bool)
    row: dict[str, object] = {
        "scale": scale, "linkable": len(target), "ceiling": ceiling,
        "ceiling_share": ceiling / len(target), "links": len(model),
        "precision": tp / len(model) if len(model) else float("nan"),
        "recall": tp / len(target), "recall_of_ceiling": tp / ceiling if ceiling else np.nan,
        "identifiable": int(ident.sum()),
        "identifiable_found": float(hit[ident].mean()) if ident.any() else np.nan,
        "link_s": wall,
        "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2}
    for g, name in enumerate(GROUPS):
        sel = (groups == g).to_numpy()
        row[f"{name} (n)"] = int(sel.sum())
        row[f"{name} (found)"] = float(hit[sel].mean()) if sel.any() else float("nan")
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", type=float, nargs="+", default=[0.005, 0.01, 0.02, 0.05])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--remove", type=float, default=0.05)
    args = ap.parse_args()
    rows = [one_scale(s, args.seed, args.remove) for s in args.scales]
    table = pd.DataFrame(rows).set_index("scale").T
    print(table.to_string(float_format=lambda v: f"{v:,.3f}"))  # noqa: T201
    ok = [(r["precision"] >= 0.99 and r["recall_of_ceiling"] >= 0.95) for r in rows]
    print("target (precision >= 0.99, recall >= 95 % of the ceiling): "  # noqa: T201
          + ", ".join(f"{r['scale']}: {'met' if o else 'not met'}" for r, o in zip(rows, ok)))


if __name__ == "__main__":
    main()
