"""Same-person key ids on the imported-folder fast path: found once, rewritten in Arrow.

The raw-folder builder merges the ids that are one person (a temporary NPR id
replaced by a permanent one, a duplicate NPR id, a new KPR id after a legal
change of sex; :mod:`kprlink.linkage._aliases`) before linking. The fast path
does not load the delivery, so here:

* :func:`folder_aliases` finds the key ids with several partners in the whole
  key file, reads only those persons' episodes and claims, and classifies the
  conflicts exactly as :func:`kprlink.link_extracts` does (the same code, on
  the persons concerned);
* :func:`AliasedFolder` reads the folder with every alias id rewritten to the id
  it stands for, so the fast path's candidate search, person ids and
  whole-delivery figures count each such person once, as the raw path does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kprlink.sources._arrow_ids import _ids, _member

__all__: list[str] = []

#: frames whose id column an alias rewrites, by register
_ID_FRAMES = {"npr_id": ("npr_episodes", "npr_diagnoses", "key"),
              "kpr_id": ("kuhr_claims", "key")}
_PROFILE = {"npr_episodes": ("npr_id", "date_in", "year", "sex", "birth_year", "death_date"),
            "kuhr_claims": ("kpr_id", "date", "year", "sex", "sex_corrected", "birth_year",
                            "death_date")}


def _several(ids: np.ndarray, partners: np.ndarray) -> np.ndarray:
    """Ids with more than one distinct partner."""
    pairs = np.unique(np.column_stack([ids, partners]), axis=0) if len(ids) else \
        np.zeros((0, 2), np.int64)
    u, n = np.unique(pairs[:, 0], return_counts=True)
    return u[n > 1]


def _rows_of(folder: Any, field: str, col: str, ids: np.ndarray) -> pd.DataFrame | None:
    from kprlink.sources._folder import _frame

    t = folder.read(field, _PROFILE.get(field))
    if t is None:
        return None
    rows = np.flatnonzero(_member(_ids(t[col]), ids))
    return _frame(t, rows, folder.schema(field))


def folder_aliases(folder: Any) -> pd.DataFrame:
    """``register, alias, id, kind`` of the imported `folder` (a ``_Folder``)."""
    from kprlink.linkage import link_extracts
    from kprlink.linkage._aliases import same_person_aliases

    empty = pd.DataFrame({"register": pd.Series(dtype=object), "alias": pd.Series(
        dtype="int64"), "id": pd.Series(dtype="int64"), "kind": pd.Series(dtype=object)})
    key = folder.read("key", ("npr_id", "kpr_id", "delivery"))
    if key is None or key.num_rows == 0:
        return empty
    n, k = _ids(key["npr_id"]), _ids(key["kpr_id"])
    ok = (n >= 0) & (k >= 0)
    n_ids, k_ids = _several(n[ok], k[ok]), _several(k[ok], n[ok])
    if not len(n_ids) and not len(k_ids):
        return empty
    # every key row of the persons concerned, and of their partners (the NPR rule
    # decides a kpr_id's partners from each npr_id's own rows)
    rows = _member(n, n_ids) | _member(k, k_ids)
    rows = (_member(n, np.unique(n[rows])) | _member(k, np.unique(k[rows]))) & ok
    from kprlink.sources._folder import _frame

    sub_key = _frame(key, np.flatnonzero(rows), folder.schema("key"))
    npr = _rows_of(folder, "npr_episodes", "npr_id", np.unique(n[rows]))
    kpr = _rows_of(folder, "kuhr_claims", "kpr_id", np.unique(k[rows]))
    if npr is None or kpr is None:
        return empty
    res = link_extracts(npr, kpr, key=sub_key)
    out = same_person_aliases(res.report.key_conflicts)
    return out if len(out) else empty


def _rewrite(table: Any, col: str, alias: np.ndarray, to: np.ndarray) -> Any:
    """`table` with the ids in `alias` of column `col` replaced by `to` (same order)."""
    import pyarrow as pa

    if table is None or col not in table.column_names or not len(alias):
        return table
    ids = _ids(table[col])
    hit = _member(ids, alias)
    if not hit.any():
        return table
    o = np.argsort(alias)
    new = ids.copy()
    new[hit] = to[o][np.searchsorted(alias[o], ids[hit])]
    typ = table.schema.field(col).type
    arr = pa.array(new, mask=new < 0).cast(typ)
    return table.set_column(table.column_names.index(col), col, arr)


class AliasedFolder:
    """An imported ``_Folder`` whose reads have every alias id rewritten (see module)."""

    def __init__(self, folder: Any, aliases: pd.DataFrame) -> None:
        self._folder = folder
        self._map = {col: (aliases.loc[aliases["register"] == reg, "alias"].to_numpy(np.int64),
                           aliases.loc[aliases["register"] == reg, "id"].to_numpy(np.int64))
                     for reg, col in (("npr", "npr_id"), ("kpr", "kpr_id"))}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._folder, name)

    def read(self, field: str, wanted: Any) -> Any:
        t = self._folder.read(field, wanted)
        for col, frames in _ID_FRAMES.items():
            if field in frames:
                t = _rewrite(t, col, *self._map[col])
        return t
