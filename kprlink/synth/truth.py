"""Ground truth of a synthetic delivery (the ``truth/`` folder).

The reference cohort ``truth/dementia_registered`` follows the rule in
``docs/architecture.md`` ("The reference cohort rule") applied to what the
delivery actually contains, after the injected defects:

1. qualifying events: NPR episodes with an ICD-10 code starting F00, F01,
   F02, F03 or G30 in any ``tilstand_<n>_<k>`` (dots removed), and KPR-KUHR
   claims with a diagnosis ``P70`` (ICPC-2), an ICPC-2B code starting ``P70``
   or an ICD-10 code with those prefixes, main or secondary;
2. event date (``inndato`` / ``dato``) in 2016-07-01 – 2017-06-30, both
   included, and not after the person's delivered ``doddato``;
3. NPR ids map to KPR ids through the key file, the **latest** delivery
   (``nokkel_2021_m21t3``) winning over ``nokkel_2019_m19t1``; an NPR id
   absent from the key stays an NPR-only person (``kpr_id`` NA) — so a person
   missing from the key who qualifies in both registers appears twice, once
   NPR-only and once KPR-only;
4. ``npr_id`` is the NPR id that the key pairs with the person's ``kpr_id``,
   NA where the key has none (no NPR rows, or missing from the key);
5. one row per resulting (kpr_id, npr_id) with ``sources`` (``"kpr_kuhr"``,
   ``"npr"`` or ``"kpr_kuhr+npr"``), ``first_date`` and ``n_events``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def cohort(events: pd.DataFrame, persons: pd.DataFrame, in_key: np.ndarray) -> pd.DataFrame:
    """The reference cohort from qualifying events.

    Parameters
    ----------
    events : pandas.DataFrame
        ``person`` (global index), ``day`` (days since 1970), ``source``
        ("kpr_kuhr" or "npr"). Not modified.
    persons : pandas.DataFrame
        From :func:`kprlink.synth.world.build_persons`.
    in_key : numpy.ndarray of bool
        Whether the person's NPR id is in the latest key delivery.

    Returns
    -------
    pandas.DataFrame
        kpr_id (Int64, NA for NPR-only), npr_id (Int64, NA where unlinked),
        sources, first_date, n_events; sorted by kpr_id then npr_id.
    """
    cols = ["kpr_id", "npr_id", "sources", "first_date", "n_events"]
    if events.empty:
        return pd.DataFrame({c: pd.Series(dtype="Int64" if c.endswith("_id") else "object")
                             for c in cols})
    p = events["person"].to_numpy()
    src = events["source"].to_numpy()
    kpr = persons["kpr_id"].to_numpy()[p]
    npr = persons["npr_id"].to_numpy()[p]
    linked = in_key[p]
    npr_only = (src == "npr") & ~linked
    df = pd.DataFrame({
        "kpr_id": pd.array(np.where(npr_only, 0, kpr), dtype="Int64"),
        "npr_id": pd.array(np.where(linked | npr_only, npr, 0), dtype="Int64"),
        "source": src, "day": events["day"].to_numpy(),
    })
    df.loc[npr_only, "kpr_id"] = pd.NA
    df.loc[~(linked | npr_only), "npr_id"] = pd.NA
    g = df.groupby(["kpr_id", "npr_id"], dropna=False, sort=True)
    out = g.agg(first_day=("day", "min"), n_events=("day", "size"),
                sources=("source", lambda s: "+".join(sorted(set(s))))).reset_index()
    out["first_date"] = pd.Series(out["first_day"].to_numpy(np.int64).astype("datetime64[D]"),
                                  index=out.index).dt.date
    out["n_events"] = out["n_events"].astype("int64")
    return out[cols].sort_values(["kpr_id", "npr_id"], na_position="last").reset_index(
        drop=True)
