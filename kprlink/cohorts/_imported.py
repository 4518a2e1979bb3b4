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

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kprlink.cohorts.definition import CohortDefinition
from kprlink.cohorts.events import _member

__all__: list[str] = []


def is_imported(path: Any) -> bool:
    """Whether `path` is a folder written by :func:`kprlink.sources.import_delivery`."""
    from kprlink.sources.delivery import MANIFEST

    return Path(path).is_dir() and (Path(path) / MANIFEST).is_file()


def _ids(col: Any) -> np.ndarray:
    """An Arrow id column as int64 numpy (-1 where missing; ids are positive)."""
    import pyarrow.compute as pc

    if col.null_count:
        col = pc.fill_null(col, -1)
    parts = [c.to_numpy() for c in col.chunks]
    if len(parts) == 1:
        return parts[0].astype(np.int64, copy=False)
    return np.concatenate(parts).astype(np.int64, copy=False) if parts else np.zeros(0, np.int64)


def _union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sorted distinct ids of two sorted distinct arrays (a merge, no hashing)."""
    c = np.concatenate([a, b])
    c.sort(kind="stable")  # two sorted runs: merged in linear time
    return c[np.r_[True, c[1:] != c[:-1]]] if len(c) else c


def _distinct(a: np.ndarray) -> np.ndarray:
    """Sorted distinct non-negative ids (a seen-table when dense)."""
    a = a[a >= 0]
    if not len(a):
        return a
    lo, hi = int(a.min()), int(a.max())
    if hi - lo <= 4 * len(a) + (1 << 20):
        seen = np.zeros(hi - lo + 1, dtype=bool)
        seen[a - lo] = True
        return np.flatnonzero(seen).astype(np.int64) + lo
    return np.unique(a)


class _Folder:
    """The Parquet frames of an imported delivery, read as Arrow tables."""

    def __init__(self, root: Path) -> None:
        from kprlink.sources.delivery import MANIFEST

        self.root = root
        self.files: dict[str, str] = json.loads(
            (root / MANIFEST).read_text(encoding="utf-8"))["frames"]

    def read(self, field: str, wanted: Any) -> Any:
        """Arrow table of `field` (None when not delivered): text as dictionaries."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if field not in self.files:
            return None
        path = self.root / self.files[field]
        schema = pq.read_schema(path)
        cols = [f.name for f in schema if wanted is None or f.name in wanted]
        text = [f.name for f in schema if f.name in cols
                and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))]
        # whole columns in one go: pre-buffering only adds copies here
        return pq.read_table(path, columns=cols, read_dictionary=text, pre_buffer=False)


def _frame(table: Any, mask: np.ndarray | None, path_schema: Any) -> pd.DataFrame:
    """Rows `mask` of `table` as the frame :func:`read_delivery` would give."""
    import pyarrow as pa

    from kprlink.sources.delivery import _to_frame

    if mask is not None:
        table = table.filter(pa.array(mask))
    target = pa.schema([path_schema.field(n) for n in table.column_names],
                       metadata=path_schema.metadata)
    return _to_frame(table.cast(target))


def _chosen_pairs(key: Any) -> tuple[np.ndarray, np.ndarray]:
    """Key pairs after conflict resolution, as :func:`link_extracts` resolves them.

    The latest delivery (by name) wins for an ``npr_id``; then, of several
    ``npr_id`` s on one ``kpr_id``, the smallest keeps the link. Sorted by
    ``kpr_id``.
    """
    import pyarrow.compute as pc

    n, k = _ids(key["npr_id"]), _ids(key["kpr_id"])
    if "delivery" in key.column_names:
        d = pc.fill_null(key["delivery"].cast("large_string"), "").dictionary_encode()
        d = d.combine_chunks() if hasattr(d, "combine_chunks") else d
        names = np.asarray(d.dictionary.to_pylist(), dtype=object)
        rank_of = np.argsort(np.argsort(names, kind="stable"), kind="stable")
        r = rank_of[d.indices.to_numpy()].astype(np.int64)
    else:
        r = np.zeros(len(n), dtype=np.int64)
    ok = (n >= 0) & (k >= 0)
    n, k, r = n[ok], k[ok], r[ok]
    o = np.lexsort((k, r, n))
    n, k = n[o], k[o]
    last = np.r_[n[1:] != n[:-1], True] if len(n) else np.zeros(0, bool)
    n, k = n[last], k[last]
    o = np.lexsort((n, k))
    n, k = n[o], k[o]
    first = np.r_[True, k[1:] != k[:-1]] if len(k) else np.zeros(0, bool)
    return n[first], k[first]


def _code_mask(diag: Any, codelists: list, with_system: bool) -> np.ndarray:
    """Rows of a diagnosis table whose code is on one of `codelists` (per distinct code)."""
    code = diag["code"].combine_chunks()
    idx = code.indices.to_numpy(zero_copy_only=False)
    valid = np.asarray(code.is_valid())
    distinct = pd.Series(code.dictionary.to_pylist(), dtype="object")
    keep = np.zeros(len(idx), dtype=bool)
    if with_system:
        system = diag["system"].combine_chunks()
        s_idx = system.indices.to_numpy(zero_copy_only=False)
        s_valid = np.asarray(system.is_valid())
        systems = pd.Series(system.dictionary.to_pylist(), dtype="object")
    for cl in codelists:
        if not with_system and "ICD-10" not in cl.event_systems:
            continue
        ok = np.asarray(cl.matches(distinct), dtype=bool)
        hit = ok[np.where(valid, idx, 0)] & valid if len(ok) else np.zeros(len(idx), bool)
        if with_system:
            s_ok = systems.isin(cl.event_systems).to_numpy(bool)
            hit &= (s_ok[np.where(s_valid, s_idx, 0)] & s_valid) if len(s_ok) else False
        keep |= hit
    return keep


def prefiltered(root: Path, definition: CohortDefinition,
                columns: dict[str, tuple[str, ...] | None]
                ) -> tuple[dict[str, pd.DataFrame | None], dict[str, Any]]:
    """The cohort candidates' frames and the whole-delivery figures.

    Returns
    -------
    frames : dict
        Canonical frames (``kuhr_claims`` … ``key``) holding every row of the
        persons who can enter the cohort and the code-list rows of the
        diagnosis files; ``key`` holds the resolved pairs of those persons.
    whole : dict
        ``person_id`` (callable: kpr_id/npr_id → global person id),
        ``n_diag_rows``, ``n_diag_persons``.
    """
    import pyarrow.parquet as pq

    folder = _Folder(root)
    lists = definition.codelists
    out: dict[str, pd.DataFrame | None] = dict.fromkeys(
        ("kuhr_claims", "kuhr_diagnoses", "kuhr_fees", "npr_episodes", "npr_diagnoses", "key"))

    def schema(field: str) -> Any:
        return pq.read_schema(root / folder.files[field])

    key = folder.read("key", ("npr_id", "kpr_id", "delivery"))
    p_npr, p_kpr = (_chosen_pairs(key) if key is not None
                    else (np.zeros(0, np.int64), np.zeros(0, np.int64)))

    # KPR-KUHR: claims with a code of the lists, their persons
    claims = folder.read("kuhr_claims", columns["kuhr_claims"])
    kd = folder.read("kuhr_diagnoses", columns["kuhr_diagnoses"])
    c_kpr = _ids(claims["kpr_id"]) if claims is not None else np.zeros(0, np.int64)
    c_claim = _ids(claims["claim_id"]) if claims is not None else np.zeros(0, np.int64)
    k_all = _distinct(c_kpr)
    k_diag = k_cand = np.zeros(0, np.int64)
    cand_claims = np.zeros(0, np.int64)
    if claims is not None and kd is not None:
        kd_claim = _ids(kd["claim_id"])
        k_diag = _distinct(c_kpr[_member(c_claim, kd_claim)])
        keep_kd = _code_mask(kd, lists, with_system=True)
        cand_claims = kd_claim[keep_kd]
        k_cand = _distinct(c_kpr[_member(c_claim, cand_claims)])
        out["kuhr_diagnoses"] = _frame(kd, keep_kd, schema("kuhr_diagnoses"))
    # NPR: episodes with a code of the lists, their persons
    eps = folder.read("npr_episodes", columns["npr_episodes"])
    nd = folder.read("npr_diagnoses", columns["npr_diagnoses"])
    e_npr = _ids(eps["npr_id"]) if eps is not None else np.zeros(0, np.int64)
    e_ep = _ids(eps["episode_id"]) if eps is not None else np.zeros(0, np.int64)
    n_all = _distinct(e_npr)
    n_diag = n_cand = np.zeros(0, np.int64)
    if eps is not None and nd is not None:
        nd_ep = _ids(nd["episode_id"])
        n_diag = _distinct(e_npr[_member(e_ep, nd_ep)])
        keep_nd = _code_mask(nd, lists, with_system=False)
        n_cand = _distinct(e_npr[_member(e_ep, nd_ep[keep_nd])])
        out["npr_diagnoses"] = _frame(nd, keep_nd, schema("npr_diagnoses"))

    # candidates: persons with a listed code in either register, with their partners
    k_set = _union(k_cand, np.sort(p_kpr[_member(p_npr, n_cand)]))
    n_set = _union(n_cand, np.sort(p_npr[_member(p_kpr, k_cand)]))
    if claims is not None:
        out["kuhr_claims"] = _frame(claims, _member(c_kpr, k_set), schema("kuhr_claims"))
    if eps is not None:
        out["npr_episodes"] = _frame(eps, _member(e_npr, n_set), schema("npr_episodes"))
    if "kuhr_fees" in columns and "kuhr_fees" in folder.files:
        fees = folder.read("kuhr_fees", columns["kuhr_fees"])
        out["kuhr_fees"] = _frame(fees, _member(_ids(fees["claim_id"]), cand_claims),
                                  schema("kuhr_fees"))
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
        "person_id": person_id,
        "n_diag_rows": sum(t.num_rows for t in (kd, nd) if t is not None),
        "n_diag_persons": int(len(k_diag) + (~partner_has).sum()),
    }
    return out, whole
