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


def _apart(r: pd.DataFrame) -> bool:
    """Periods that do not overlap (each ends before the next begins)."""
    r = r.sort_values("lo")
    return bool((r["hi"].iloc[:-1].to_numpy() < r["lo"].iloc[1:].to_numpy()).all())


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
    out = []
    for side, partners, deliveries in kc[["side", "partners", "deliveries"]].itertuples(
            index=False):
        if side == "npr_id":
            r = kr.reindex([p for p in partners if p in kr.index])
            if len(r) <= 1:
                out.append(KINDS[0])
            elif (_apart(r) and r["sex"].notna().all() and r["sex"].nunique() > 1
                  and r["birth_year"].nunique(dropna=False) == 1):
                out.append(KINDS[1])
            else:
                out.append(KINDS[2])
        else:
            r = nr.reindex([p for p in partners if p in nr.index])
            if len(set(deliveries)) <= 1:
                out.append(KINDS[4])
            elif len(r) >= 2 and _apart(r):
                out.append(KINDS[3])
            else:
                out.append(KINDS[5])
    return pd.Series(out, index=kc.index, dtype="string")
