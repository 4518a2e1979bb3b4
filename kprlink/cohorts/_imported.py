"""The cohort builder's fast path for an imported delivery (``kprlink import``).

An imported delivery is already validated, so the builder need not load it.
It reads, in Arrow, only the columns a cohort uses, finds the persons who can
enter it (a code of the definition's lists on a claim or episode, and their key
partners), and converts to pandas only those persons' rows: *every* row of
theirs, so their sex, birth year and death date are resolved over all their
records exactly as the full linkage resolves them. The builder's own logic then
runs unchanged on that part.

What needs the whole delivery is computed here over all rows with numpy:

* person ids as :func:`kprlink.linkage.link_extracts` numbers them (rank of the
  person in (kpr_id, npr_id) order over the whole delivery);
* the first attrition row (diagnosis rows, persons with any diagnosis).

The full linkage (report included) is deferred to first use of
``CohortResult.linkage``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kprlink._unique import unique
from kprlink.cohorts.definition import CohortDefinition
from kprlink.sources._arrow_ids import _blocks, _chosen_pairs, _ids, _member
from kprlink.sources._folder import _Folder, _frame  # noqa: F401  (_followup uses _Folder)

__all__: list[str] = []


#: Ids below this are looked up in a table indexed by the id itself: allocated
#: zeroed by the OS, so only the pages around the ids in use cost anything.
_DIRECT = 1 << 28


def _bound(*columns: list[np.ndarray]) -> int | None:
    """Size of a direct table for every id of `columns`, or None (ids too large or < 0)."""
    blocks = [b for col in columns for b in col if len(b)]
    if not blocks:
        return 1
    if min(int(b.min()) for b in blocks) < 0:
        return None
    hi = max(int(b.max()) for b in blocks)
    return hi + 1 if hi < _DIRECT else None


class _IdSet:
    """Distinct non-negative ids: a direct table within `bound`, else sorted arrays."""

    def __init__(self, bound: int | None) -> None:
        self.table = np.zeros(bound, dtype=bool) if bound is not None else None
        self.parts: list[np.ndarray] = []

    def add(self, ids: np.ndarray) -> None:
        if self.table is not None:
            self.table[ids] = True
        else:
            self.parts.append(unique(ids[ids >= 0]))

    def contains(self, ids: np.ndarray) -> np.ndarray:
        if self.table is not None:
            return self.table[ids]
        return _member(ids, self.ids())

    def ids(self) -> np.ndarray:
        """Sorted distinct ids."""
        if self.table is not None:
            return np.flatnonzero(self.table).astype(np.int64)
        self.parts = [unique(np.concatenate(self.parts))] if self.parts else []
        return self.parts[0] if self.parts else np.zeros(0, np.int64)


def _union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sorted distinct ids of two sorted distinct arrays (a merge, no hashing)."""
    c = np.concatenate([a, b])
    c.sort(kind="stable")  # two sorted runs: merged in linear time
    return c[np.r_[True, c[1:] != c[:-1]]] if len(c) else c


def _code_mask(diag: Any, codelists: list, with_system: bool) -> np.ndarray:
    """Rows of a diagnosis table whose code is on one of `codelists`.

    Each list is matched once on the distinct codes of the whole table (the
    union of its batches' Parquet dictionaries); each batch's dictionary is then
    looked up in the matched codes (Arrow's hash kernel) and taken to rows by
    the dictionary indices.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    batches = diag.to_batches()
    if not batches:
        return np.zeros(0, dtype=bool)
    i_code = batches[0].schema.get_field_index("code")
    i_sys = batches[0].schema.get_field_index("system") if with_system else -1
    dicts = [b.column(i_code).dictionary for b in batches]
    codes = pc.unique(pa.chunked_array(dicts, type=dicts[0].type))
    distinct = pd.Series(codes.to_pylist(), dtype="object")
    lists = []
    for cl in codelists:
        if not with_system and "ICD-10" not in cl.event_systems:
            continue
        listed = codes.filter(pa.array(np.asarray(cl.matches(distinct), dtype=bool)))
        lists.append((listed, pa.array(sorted(cl.event_systems), type=pa.string())))
    parts = [np.zeros(0, dtype=bool)]
    for batch in batches:
        code = batch.column(i_code)
        keep = np.zeros(len(code), dtype=bool)
        for listed, systems in lists:
            hit = _dictionary_hits(code, _in(code.dictionary, listed))
            if i_sys >= 0 and hit.any():
                system = batch.column(i_sys)
                hit &= _dictionary_hits(system, _in(system.dictionary, systems))
            keep |= hit
        parts.append(keep)
    return np.concatenate(parts)


def _in(values: Any, wanted: Any) -> np.ndarray:
    """Which of `values` (an Arrow array without nulls) are in `wanted`."""
    import pyarrow.compute as pc

    if not len(wanted):
        return np.zeros(len(values), dtype=bool)
    if wanted.type != values.type:
        wanted = wanted.cast(values.type)
    return np.asarray(pc.is_in(values, value_set=wanted).to_numpy(zero_copy_only=False),
                      dtype=bool)


def _dictionary_hits(col: Any, ok: np.ndarray) -> np.ndarray:
    """Rows of a dictionary column whose value is marked in `ok` (missing: False)."""
    if not len(ok):
        return np.zeros(len(col), dtype=bool)
    idx = col.indices.to_numpy(zero_copy_only=False)
    if col.null_count:
        return ok[np.where(np.asarray(col.is_valid()), idx, 0)] & np.asarray(col.is_valid())
    return ok[idx]


class _Register:
    """One register's records (claims or episodes) and their diagnoses, in blocks.

    One pass over the record ids collects every person id, the person ids with
    any diagnosis and those with a diagnosis of the code lists; the code-list
    diagnosis rows are kept.
    """

    def __init__(self, fields: tuple[str, str], records: Any, diag: Any,
                 cols: tuple[str, str], lists: list, with_system: bool) -> None:
        self.fields, self.records, self.diagnoses = fields, records, diag
        rec_col, id_col = cols
        self.n_diag_rows = 0 if diag is None else diag.num_rows
        self.diag_rows = np.zeros(0, np.int64)
        self.cand_records = np.zeros(0, np.int64)
        self.id_blocks: list[np.ndarray] = []
        self.all, self.with_diag, self.cand = _IdSet(1), _IdSet(1), _IdSet(1)
        if records is None:
            return
        rec, ids = _blocks(records[rec_col]), _blocks(records[id_col])
        self.id_blocks = ids
        d_rec = _blocks(diag[rec_col]) if diag is not None else []
        if diag is not None:
            mask = _code_mask(diag, lists, with_system)
            self.diag_rows = np.flatnonzero(mask)
            starts = np.cumsum([0] + [len(b) for b in d_rec])
            self.cand_records = np.concatenate(
                [np.zeros(0, np.int64)]
                + [b[mask[s:s + len(b)]] for s, b in zip(starts, d_rec, strict=False)])
        rec_bound, id_bound = _bound(rec, d_rec), _bound(ids)
        has_diag, listed = _IdSet(rec_bound), _IdSet(rec_bound)
        for b in d_rec:
            has_diag.add(b)
        listed.add(self.cand_records)
        self.all, self.with_diag, self.cand = (_IdSet(id_bound), _IdSet(id_bound),
                                               _IdSet(id_bound))
        for r, i in zip(rec, ids, strict=True):
            self.all.add(i)
            self.with_diag.add(i[has_diag.contains(r)])
            self.cand.add(i[listed.contains(r)])

    def frames(self, persons: np.ndarray, schema: Any
               ) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
        """Every record of `persons`, and the diagnosis rows of the code lists."""
        if self.records is None:
            return None, None
        wanted = _IdSet(_bound(self.id_blocks, [persons]))
        wanted.add(persons)
        rows, start = [np.zeros(0, np.int64)], 0
        for i in self.id_blocks:
            rows.append(np.flatnonzero(wanted.contains(i)) + start)
            start += len(i)
        records = _frame(self.records, np.concatenate(rows), schema(self.fields[0]))
        diag = (None if self.diagnoses is None
                else _frame(self.diagnoses, self.diag_rows, schema(self.fields[1])))
        return records, diag


def prefiltered(root: Path, definition: CohortDefinition,
                columns: dict[str, tuple[str, ...] | None],
                aliases: pd.DataFrame | None = None,
                ) -> tuple[dict[str, pd.DataFrame | None], dict[str, Any]]:
    """The cohort candidates' frames and the whole-delivery figures.

    With `aliases` (``kprlink.cohorts._fast_aliases.folder_aliases``) every alias
    id is read as the id it stands for (same-person key ids merged).

    Returns
    -------
    frames : dict
        Canonical frames (``kuhr_claims`` … ``key``) holding every row of the
        persons who can enter the cohort and the code-list rows of the
        diagnosis files; ``key`` holds the resolved pairs of those persons.
    whole : dict
        ``person_id`` (callable: kpr_id/npr_id → global person id), the sorted
        ids it ranks (``with_kpr``: every kpr_id, ``npr_only``: npr_ids without one),
        ``n_diag_rows``, ``n_diag_persons``.
    """
    folder: Any = _Folder(root)
    if aliases is not None and len(aliases):
        from kprlink.cohorts._fast_aliases import AliasedFolder

        folder = AliasedFolder(folder, aliases)
    lists = definition.codelists
    # the year and discharge date serve only the linkage report, which is deferred
    columns = {f: None if c is None else tuple(x for x in c if x not in ("year", "date_out"))
               for f, c in columns.items()}
    out: dict[str, pd.DataFrame | None] = dict.fromkeys(
        ("kuhr_claims", "kuhr_diagnoses", "kuhr_fees", "npr_episodes", "npr_diagnoses", "key"))

    def register(fields: tuple[str, str], cols: tuple[str, str], system: bool) -> _Register:
        tables = [folder.read(f, columns[f]) for f in fields]
        return _Register(fields, *tables, cols, lists, with_system=system)

    key = folder.read("key", ("npr_id", "kpr_id", "delivery"))
    p_npr, p_kpr = (_chosen_pairs(key) if key is not None
                    else (np.zeros(0, np.int64), np.zeros(0, np.int64)))

    kuhr = register(("kuhr_claims", "kuhr_diagnoses"), ("claim_id", "kpr_id"), True)
    npr = register(("npr_episodes", "npr_diagnoses"), ("episode_id", "npr_id"), False)
    k_all, k_diag, k_cand = kuhr.all.ids(), kuhr.with_diag.ids(), kuhr.cand.ids()
    n_all, n_diag, n_cand = npr.all.ids(), npr.with_diag.ids(), npr.cand.ids()

    # candidates: persons with a listed code in either register, with their partners
    k_set = _union(k_cand, np.sort(p_kpr[_member(p_npr, n_cand)]))
    n_set = _union(n_cand, np.sort(p_npr[_member(p_kpr, k_cand)]))
    out["kuhr_claims"], out["kuhr_diagnoses"] = kuhr.frames(k_set, folder.schema)
    out["npr_episodes"], out["npr_diagnoses"] = npr.frames(n_set, folder.schema)
    if "kuhr_fees" in columns and "kuhr_fees" in folder.files:
        fees = folder.read("kuhr_fees", columns["kuhr_fees"])
        rows = np.flatnonzero(_member(_ids(fees["claim_id"]), kuhr.cand_records))
        out["kuhr_fees"] = _frame(fees, rows, folder.schema("kuhr_fees"))
    if key is not None:
        mine = _member(p_npr, n_set) | _member(p_kpr, k_set)
        out["key"] = pd.DataFrame({"npr_id": pd.array(p_npr[mine], dtype="Int64"),
                                   "kpr_id": pd.array(p_kpr[mine], dtype="Int64"),
                                   "delivery": "resolved"})

    # whole-delivery figures
    used = _member(p_npr, n_all) | _member(p_kpr, k_all)
    with_kpr = _union(p_kpr[used], k_all)               # persons with a kpr_id, in order
    npr_only = n_all[~_member(n_all, p_npr)]            # then NPR-only persons

    def person_id(kpr_id: np.ndarray, npr_id: np.ndarray) -> np.ndarray:
        has_k = kpr_id >= 0
        return np.where(has_k, np.searchsorted(with_kpr, kpr_id) + 1,
                        len(with_kpr) + np.searchsorted(npr_only, npr_id) + 1).astype(np.int64)

    # persons with any diagnosis: their kpr_id has one, or their npr_id and their
    # kpr partner (if any) has none
    partner_has = np.zeros(len(n_diag), dtype=bool)
    if len(p_npr):
        pos = np.minimum(np.searchsorted(p_npr_sorted := np.sort(p_npr), n_diag),
                         len(p_npr) - 1)
        k_of = p_kpr[np.argsort(p_npr, kind="stable")][pos]
        partner_has = (p_npr_sorted[pos] == n_diag) & _member(k_of, k_diag)
    whole = {
        "person_id": person_id, "with_kpr": with_kpr, "npr_only": npr_only,
        "n_diag_rows": kuhr.n_diag_rows + npr.n_diag_rows,
        "n_diag_persons": int(len(k_diag) + (~partner_has).sum()),
    }
    return out, whole
