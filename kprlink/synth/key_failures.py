"""Key-file failures real deliveries have, injected into a synthetic delivery (opt-in).

The default delivery's key conflicts are easy: the stale KPR key of an older
delivery has no data, so "latest delivery wins" cannot be told from "prefer the
key with data". :func:`inject_key_failures` rewrites a generated Parquet
delivery with four harder kinds, `n_each` persons of each (persons without other
injected defects):

``temporary_id``
    NPR used a temporary id (``8xxxxxxx``) for the person's earlier episodes; the
    older key delivery maps it to their KPR key, the latest maps the permanent id.
    One KPR key, two NPR keys across deliveries, both with data; same person.
``sex_change``
    After a legal change of sex the person has a new KPR id (``7xxxxxxx``) and sex
    on claims (and NPR episodes) from then on; the latest key maps the NPR id to the
    new KPR id, the older to the old. One NPR key, two KPR keys, both with data;
    same person.
``duplicate_npr``
    Some of the person's episodes carry a second NPR id (``6xxxxxxx``), mapped to
    the same KPR key in the latest delivery. One KPR key, two NPR keys in one
    delivery; same person.
``conflict_with_data``
    The older delivery maps the person's NPR id to another person's KPR key, who
    has claims; the latest delivery corrects it. Both candidates have data; the
    latest is right.

``truth/key_failures.parquet`` lists them (``kind, npr_id, kpr_id, other_id``:
the person's true NPR and KPR ids, and the injected id or wrong partner), and
``truth/linkage_pairs.parquet`` gains the new true pairs (temporary, duplicate
and new ids).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kprlink.exceptions import SpecError
from kprlink.synth.keys import LATEST, OLDER

__all__ = ["KEY_FAILURE_KINDS", "inject_key_failures"]

KEY_FAILURE_KINDS = ("temporary_id", "sex_change", "duplicate_npr", "conflict_with_data")
_BASE = {"temporary_id": 80_000_000, "sex_change": 70_000_000, "duplicate_npr": 60_000_000}


def _cut(dates: pd.Series) -> pd.Series:
    """Per id, a day with events on both sides (the median distinct day)."""
    return dates.groupby(level=0).agg(lambda d: np.sort(d.unique())[len(d.unique()) // 2])


def inject_key_failures(root: str | Path, *, n_each: int = 10, seed: int = 0) -> pd.DataFrame:
    """Rewrite the Parquet delivery in `root` with `n_each` key failures of each kind.

    Returns the truth table written to ``truth/key_failures.parquet``.

    Raises
    ------
    SpecError
        `root` is not a Parquet synthetic delivery, or has too few eligible persons.
    """
    root = Path(root)
    files = {n: root / f"{n}.parquet" for n in ("npr_episoder", "kpr_kuhr_regninger",
                                                   "nokkel_npr_kpr")}
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing or not (root / "truth" / "linkage_pairs.parquet").is_file():
        raise SpecError("inject_key_failures() needs a Parquet synthetic delivery "
                        "(kl.generate_delivery(..., SynthConfig(fmt='parquet'))).", missing)
    eps = pd.read_parquet(files["npr_episoder"])
    claims = pd.read_parquet(files["kpr_kuhr_regninger"])
    key = pd.read_parquet(files["nokkel_npr_kpr"])
    truth = pd.read_parquet(root / "truth" / "linkage_pairs.parquet")
    defects = pd.read_parquet(root / "truth" / "defects.parquet")
    rng = np.random.default_rng(seed)
    # eligible: keyed in the latest delivery only, no other defect, >= 2 episode days
    # and >= 2 claim days (events on both sides of a cut)
    latest = key[key["levering"] == LATEST]
    touched = set(key.loc[key["levering"] != LATEST, "npr_lnr"])
    bad_npr = set(defects["npr_id"].dropna().astype("int64"))
    bad_kpr = set(defects["kpr_id"].dropna().astype("int64"))
    ep_days = eps.groupby("lopenr")["inndato"].nunique()
    cl_days = claims.groupby("kpr_lnr")["dato"].nunique()
    ok = latest[~latest["npr_lnr"].isin(touched | bad_npr)
                & ~latest["kpr_lnr"].isin(bad_kpr)
                & latest["npr_lnr"].map(ep_days).ge(2).to_numpy(bool)
                & latest["kpr_lnr"].map(cl_days).ge(2).to_numpy(bool)]
    ok = ok[ok.set_index(["npr_lnr", "kpr_lnr"]).index.isin(
        pd.MultiIndex.from_frame(truth[["npr_id", "kpr_id"]]))]
    need = n_each * len(KEY_FAILURE_KINDS) + n_each  # conflict partners too
    if len(ok) < need:
        raise SpecError(f"inject_key_failures(): {len(ok)} eligible persons, {need} needed; "
                        "use a larger scale or a smaller n_each.", [f"n_each={n_each}"])
    pick = ok.iloc[rng.permutation(len(ok))[:need]].reset_index(drop=True)
    rows, new_pairs, new_key = [], [], []
    groups = {k: pick.iloc[i * n_each:(i + 1) * n_each]
              for i, k in enumerate(KEY_FAILURE_KINDS)}
    for i, (npr_id, kpr_id) in enumerate(groups["temporary_id"][["npr_lnr", "kpr_lnr"]]
                                         .itertuples(index=False)):
        mine = eps["lopenr"] == npr_id
        cut = np.sort(eps.loc[mine, "inndato"].unique())[1]
        tmp = _BASE["temporary_id"] + i
        eps.loc[mine & (eps["inndato"] < cut), "lopenr"] = tmp
        new_key.append((tmp, kpr_id, OLDER))
        new_pairs.append((tmp, kpr_id))
        rows.append(("temporary_id", npr_id, kpr_id, tmp))
    for i, (npr_id, kpr_id) in enumerate(groups["sex_change"][["npr_lnr", "kpr_lnr"]]
                                         .itertuples(index=False)):
        mine = claims["kpr_lnr"] == kpr_id
        cut = np.sort(claims.loc[mine, "dato"].unique())[-1]
        new = _BASE["sex_change"] + i
        after = mine & (claims["dato"] >= cut)
        for col in ("kjonn", "kjonnK"):
            claims.loc[after, col] = (3 - claims.loc[after, col]).astype(claims[col].dtype)
        claims.loc[after, "kpr_lnr"] = new
        e_after = (eps["lopenr"] == npr_id) & (eps["inndato"] >= cut)
        eps.loc[e_after, "kjonn"] = (3 - eps.loc[e_after, "kjonn"]).astype(eps["kjonn"].dtype)
        key.loc[(key["npr_lnr"] == npr_id) & (key["levering"] == LATEST), "kpr_lnr"] = new
        new_key.append((npr_id, kpr_id, OLDER))
        new_pairs.append((npr_id, new))
        rows.append(("sex_change", npr_id, kpr_id, new))
    for i, (npr_id, kpr_id) in enumerate(groups["duplicate_npr"][["npr_lnr", "kpr_lnr"]]
                                         .itertuples(index=False)):
        mine = np.flatnonzero((eps["lopenr"] == npr_id).to_numpy())
        dup = _BASE["duplicate_npr"] + i
        eps.iloc[mine[len(mine) // 2:], eps.columns.get_loc("lopenr")] = dup
        new_key.append((dup, kpr_id, LATEST))
        new_pairs.append((dup, kpr_id))
        rows.append(("duplicate_npr", npr_id, kpr_id, dup))
    partners = pick.iloc[len(KEY_FAILURE_KINDS) * n_each:]
    for (npr_id, kpr_id), wrong in zip(groups["conflict_with_data"][["npr_lnr", "kpr_lnr"]]
                                       .itertuples(index=False), partners["kpr_lnr"]):
        new_key.append((npr_id, int(wrong), OLDER))
        rows.append(("conflict_with_data", npr_id, kpr_id, int(wrong)))
    key = pd.concat([key, pd.DataFrame(new_key, columns=key.columns)], ignore_index=True)
    key = key.astype({"npr_lnr": "int64", "kpr_lnr": "int64"}).sort_values(
        ["npr_lnr", "levering"], kind="stable").reset_index(drop=True)
    eps.to_parquet(files["npr_episoder"], index=False)
    claims.to_parquet(files["kpr_kuhr_regninger"], index=False)
    key.to_parquet(files["nokkel_npr_kpr"], index=False)
    out = pd.DataFrame(rows, columns=["kind", "npr_id", "kpr_id", "other_id"]).astype(
        {"npr_id": "int64", "kpr_id": "int64", "other_id": "int64"})
    out.to_parquet(root / "truth" / "key_failures.parquet", index=False)
    pairs = pd.concat([truth, pd.DataFrame(new_pairs, columns=["npr_id", "kpr_id"])
                       .astype(truth.dtypes.to_dict())], ignore_index=True)
    pairs.to_parquet(root / "truth" / "linkage_pairs.parquet", index=False)
    return out
