"""What kind of key failure each key conflict is (the linkage report counts them).

A key id mapped to several partners is one of:

* NPR id -> several KPR ids (across deliveries)
  - ``stale key without data``: at most one of the KPR ids has claims; the others
    are keys no register row uses (latest delivery and "the key with data" agree);
  - ``new id after change of sex``: two or more have claims, in periods that do not
    overlap, with different sex and the same birth year (a new personal number
    after a legal change of sex: one person);
  - ``both keys have data``: two or more have claims otherwise (the latest delivery
    decides; "prefer the key with data" cannot).
* KPR id -> several NPR ids (after the NPR rule)
  - ``temporary id replaced``: the NPR ids come from different deliveries and their
    episodes do not overlap in time, the older id's first (one person);
  - ``two NPR ids in one delivery``: both mapped by the same delivery (a duplicate
    NPR registration, one person);
  - ``two NPR ids across deliveries``: otherwise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

KINDS = ("stale key without data", "new id after change of sex", "both keys have data",
         "temporary id replaced", "two NPR ids in one delivery",
         "two NPR ids across deliveries")


def _ranges(frame: pd.DataFrame, id_col: str, date_col: str, ids: set[int]) -> pd.DataFrame:
    extra = [c for c in ("sex", "birth_year") if c in frame.columns]
    f = frame.loc[frame[id_col].isin(list(ids)), [id_col, date_col, *extra]]
    g = f.groupby(id_col)
    out = pd.DataFrame({"lo": g[date_col].min(), "hi": g[date_col].max()})
    for c in ("sex", "birth_year"):
        out[c] = _modes(f, id_col, c).reindex(out.index) if c in extra else pd.NA
    return out


def _modes(f: pd.DataFrame, id_col: str, col: str) -> pd.Series:
    """Most frequent non-missing `col` per id, ties to the smallest (``Series.mode``)."""
    n = f.loc[f[col].notna()].groupby([id_col, col]).size().rename("n").reset_index()
    n = n.sort_values([id_col, "n", col], ascending=[True, False, True], kind="stable")
    first = n.drop_duplicates(id_col)
    return pd.Series(first[col].array, index=first[id_col].to_numpy())


def classify_conflicts(kc: pd.DataFrame, npr: pd.DataFrame, kpr: pd.DataFrame) -> pd.Series:
    """The kind (:data:`KINDS`) of each row of ``LinkageReport.key_conflicts``.

    `npr` and `kpr` are the episodes (``npr_id, date_in``) and claims
    (``kpr_id, date``), with ``sex`` where present.
    """
    if kc.empty:
        return pd.Series([], dtype="string", index=kc.index)
    ids = {int(x) for ps in kc["partners"] for x in ps}
    kr = _ranges(kpr, "kpr_id", "date", ids)
    nr = _ranges(npr, "npr_id", "date_in", ids)
    n_rows = len(kc)
    npr_side = (kc["side"] == "npr_id").to_numpy(bool)
    sizes = kc["partners"].map(len).to_numpy(np.int64)
    row = np.repeat(np.arange(n_rows), sizes)
    partner = np.asarray([int(x) for ps in kc["partners"] for x in ps], dtype=np.int64)
    parts = []
    for mask, ranges in ((npr_side[row], kr), (~npr_side[row], nr)):
        sub = pd.DataFrame({"row": row[mask], "id": partner[mask]})
        sub = sub[sub["id"].isin(ranges.index)]  # partners with data
        parts.append(sub.join(ranges, on="id"))
    parts = [q for q in parts if len(q)] or parts[:1]  # empty frames do not set dtypes
    p = pd.concat(parts, ignore_index=True).sort_values(["row", "lo"], kind="stable")
    r = p["row"].to_numpy(np.int64)
    n = np.bincount(r, minlength=n_rows)
    # periods apart: sorted by start, each ends before the next starts (NaT never apart)
    last = np.r_[r[1:] != r[:-1], True] if len(r) else np.zeros(0, bool)
    hi = p["hi"].to_numpy("datetime64[ns]")
    lo_next = np.r_[p["lo"].to_numpy("datetime64[ns]")[1:], np.datetime64("NaT", "ns")]
    ok = last | (hi < lo_next)
    apart = np.ones(n_rows, dtype=bool)
    np.logical_and.at(apart, r, ok)
    g = p.groupby("row")
    sex_all = np.zeros(n_rows, dtype=bool)
    sex_all[np.unique(r)] = True
    np.logical_and.at(sex_all, r, p["sex"].notna().to_numpy(bool))
    sex_n = g["sex"].nunique().reindex(range(n_rows), fill_value=0).to_numpy()
    by_n = g["birth_year"].nunique(dropna=False).reindex(range(n_rows), fill_value=0).to_numpy()
    one_delivery = kc["deliveries"].map(lambda d: len(set(d)) <= 1).to_numpy(bool)
    out = np.where(npr_side,
                   np.where(n <= 1, KINDS[0],
                            np.where(apart & sex_all & (sex_n > 1) & (by_n == 1), KINDS[1],
                                     KINDS[2])),
                   np.where(one_delivery, KINDS[4],
                            np.where((n >= 2) & apart, KINDS[3], KINDS[5])))
    return pd.Series(out, index=kc.index, dtype="string")
