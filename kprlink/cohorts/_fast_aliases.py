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

from kprlink.sources._arrow_ids import _blocks, _ids, _member

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
    """Sorted ids with more than one distinct partner."""
    if len(ids) > 1 and bool(np.all(ids[1:] >= ids[:-1])):
        # sorted by id (an imported key is, by npr_id): a run's partners differ when
        # its smallest and largest differ, no sort
        start = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        lo, hi = np.minimum.reduceat(partners, start), np.maximum.reduceat(partners, start)
        return ids[start[lo != hi]]
    if len(ids) > 1 << 16:  # only ids on several rows can have several partners
        rows = pd.Index(ids).duplicated(keep=False)
        ids, partners = ids[rows], partners[rows]
    a, _ = _pairs(ids, partners)
    start = np.flatnonzero(np.r_[True, a[1:] != a[:-1]]) if len(a) else np.zeros(0, np.int64)
    n = np.diff(np.r_[start, len(a)])
    return a[start[n > 1]]


def _lookup(ids: np.ndarray) -> Any:
    """A membership test for the distinct ids `ids`: ``test(values) -> bool mask``."""
    if not len(ids):
        return lambda v: np.zeros(len(v), dtype=bool)
    hi = int(ids.max())
    if int(ids.min()) <= 0 or hi >= 1 << 28:
        return lambda v: _member(v, ids)
    table = np.zeros(hi + 2, dtype=bool)  # pages of zeros: only those touched cost
    table[ids] = True
    # indices clipped to the table: -1 (missing) to 0, ids above `hi` to hi + 1: False
    return lambda v: np.take(table, v, mode="clip")


class _Scan:
    """Which of `ids` have rows in frame `field`, and the row groups holding them.

    Reads the id column only, from the partition files when the folder is
    partitioned (the files the cohort reads next), else from the whole frame.
    """

    def __init__(self, folder: Any, field: str, col: str, ids: np.ndarray) -> None:
        import pyarrow.parquet as pq

        from kprlink.sources._partition import partitions

        self.field, self.col, self.schema = field, col, folder.schema(field)
        name = folder.files[field]
        files = [p / name for p in partitions(folder.root)] or [folder.root / name]
        self.hits: list[tuple[Any, np.ndarray, np.ndarray]] = []  # (file, ids, groups)
        test = _lookup(ids)
        for path in files if len(ids) else []:
            pf = pq.ParquetFile(path, pre_buffer=False)
            at, there, start = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], 0
            for v in _blocks(pf.read(columns=[col])[col]):  # views, no copy
                i = np.flatnonzero(test(v))
                at.append(i + start)
                there.append(v[i])
                start += len(v)
            sizes = [pf.metadata.row_group(g).num_rows for g in range(pf.num_row_groups)]
            self.hits.append((path, np.concatenate(there), np.searchsorted(
                np.cumsum(sizes), np.concatenate(at), "right")))
        self.present = np.unique(np.concatenate([np.zeros(0, np.int64)]
                                                + [h for _, h, _ in self.hits]))

    def rows_of(self, ids: np.ndarray) -> pd.DataFrame:
        """Every row of `ids` (profile columns), reading only the row groups holding them."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from kprlink.sources._folder import _frame

        cols = [f.name for f in self.schema if f.name in _PROFILE[self.field]]
        test = _lookup(ids)
        parts = []
        for path, there, group in self.hits:
            groups = np.unique(group[test(there)]).tolist()
            if groups:
                parts.append(pq.ParquetFile(path, pre_buffer=False)
                             .read_row_groups(groups, columns=cols))
        table = pa.concat_tables(parts) if parts else self.schema.empty_table().select(cols)
        return _frame(table, np.flatnonzero(test(_ids(table[self.col]))), self.schema)


def folder_aliases(folder: Any) -> pd.DataFrame:
    """``register, alias, id, kind`` of the imported `folder` (a ``_Folder``)."""
    from kprlink.linkage import link_extracts
    from kprlink.linkage._aliases import same_person_aliases

    empty = pd.DataFrame({"register": pd.Series(dtype=object), "alias": pd.Series(
        dtype="int64"), "id": pd.Series(dtype="int64"), "kind": pd.Series(dtype=object)})
    key = folder.read("key", ("npr_id", "kpr_id", "delivery"))
    if key is None or key.num_rows == 0 or not {"npr_episodes", "kuhr_claims"} <= set(
            folder.files):
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
    nn, kk = n[rows], k[rows]
    # Only conflicts of two ids that both have rows can be one person with two ids of
    # a register (a new KPR id after a change of sex: an npr_id's kpr_ids; a temporary
    # NPR id replaced: a kpr_id's npr_ids); a duplicate NPR id in one delivery is told
    # by the key alone (a kpr_id with several npr_ids); every other kind is not one
    # person. So only the ids' id columns are read, then the candidates' rows.
    claims = _Scan(folder, "kuhr_claims", "kpr_id", np.unique(kk) if len(n_ids) else kk[:0])
    episodes = _Scan(folder, "npr_episodes", "npr_id", np.unique(nn) if len(k_ids) else nn[:0])
    with_claims, with_episodes = _member(kk, claims.present), _member(nn, episodes.present)
    cand_n = _several(nn[with_claims], kk[with_claims])
    cand_k = _several(kk[with_episodes], nn[with_episodes])
    if not len(cand_n) and not len(k_ids):  # no conflict can be one person
        return empty
    want_k = np.unique(np.r_[kk[_member(nn, cand_n)], cand_k])
    want_n = np.unique(np.r_[nn[_member(kk, cand_k)], cand_n])
    from kprlink.sources._folder import _frame

    sub_key = _frame(key, np.flatnonzero(rows), folder.schema("key"))
    res = link_extracts(episodes.rows_of(want_n), claims.rows_of(want_k), key=sub_key)
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
