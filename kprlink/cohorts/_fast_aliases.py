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


def _pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``(a, b)`` pairs, sorted by `a` then `b`."""
    o = np.lexsort((b, a))
    a, b = a[o], b[o]
    keep = np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1])] if len(a) else a.astype(bool)
    return a[keep], b[keep]


def _several(ids: np.ndarray, partners: np.ndarray) -> np.ndarray:
    """Ids with more than one distinct partner."""
    a, _ = _pairs(ids, partners)
    start = np.flatnonzero(np.r_[True, a[1:] != a[:-1]]) if len(a) else np.zeros(0, np.int64)
    n = np.diff(np.r_[start, len(a)])
    return a[start[n > 1]]


def _id_column(folder: Any, field: str, col: str) -> np.ndarray | None:
    t = folder.read(field, (col,))
    return None if t is None else _ids(t[col])


def _rows_of(folder: Any, field: str, col: str, ids: np.ndarray, all_ids: np.ndarray
             ) -> pd.DataFrame:
    """The rows of `ids` (`all_ids`: the frame's id column), reading only the row groups
    that hold them."""
    import pyarrow.parquet as pq

    from kprlink.sources._folder import _frame

    rows = np.flatnonzero(_member(all_ids, ids)) if len(ids) else np.zeros(0, np.int64)
    schema = folder.schema(field)
    cols = [f.name for f in schema if f.name in _PROFILE[field]]
    pf = pq.ParquetFile(folder.root / folder.files[field], pre_buffer=False)
    sizes = np.array([pf.metadata.row_group(i).num_rows for i in range(pf.num_row_groups)],
                     dtype=np.int64)
    starts = np.r_[0, np.cumsum(sizes)]
    group = np.searchsorted(starts, rows, side="right") - 1
    groups = np.unique(group)
    if not len(groups):
        return _frame(schema.empty_table().select(cols), rows, schema)
    offset = np.r_[0, np.cumsum(sizes[groups])]
    at = np.searchsorted(groups, group)
    table = pf.read_row_groups([int(g) for g in groups], columns=cols)
    return _frame(table, rows - starts[group] + offset[at], schema)


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
    ep_ids = _id_column(folder, "npr_episodes", "npr_id")
    cl_ids = _id_column(folder, "kuhr_claims", "kpr_id")
    if ep_ids is None or cl_ids is None:
        return empty
    # Only conflicts of two ids that both have rows can be one person with two ids of
    # a register (a new KPR id after a change of sex, a temporary NPR id replaced); a
    # duplicate NPR id in one delivery is told by the key alone, and every other kind
    # reads no rows: only the candidates' rows are read (the kinds are the same)
    nn, kk = n[rows], k[rows]
    with_claims, with_episodes = _member(kk, cl_ids), _member(nn, ep_ids)
    cand_n = _several(nn[with_claims], kk[with_claims])
    cand_k = _several(kk[with_episodes], nn[with_episodes])
    want_k = np.unique(np.r_[kk[_member(nn, cand_n)], cand_k])
    want_n = np.unique(np.r_[nn[_member(kk, cand_k)], cand_n])
    npr = _rows_of(folder, "npr_episodes", "npr_id", want_n, ep_ids)
    kpr = _rows_of(folder, "kuhr_claims", "kpr_id", want_k, cl_ids)
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
