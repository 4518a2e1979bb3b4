"""One row per person of an imported delivery, partition by partition: :func:`person_table`.

A matched study draws its controls from every person of the delivery, so it
needs each person's resolved sex, birth year and death date (and where they
live), not their records. Linking the whole delivery for that
(``CohortResult.linkage``) converts every claim to pandas and builds the full
linkage report; here each partition of the import (or the whole folder, when
not partitioned) is linked on its own with only the demographic columns, in
bounded memory, and the persons are numbered afterwards as
:func:`kprlink.link_extracts` numbers them (rank in ``(kpr_id, npr_id)`` order,
missing last) over the whole delivery. A partition holds every row and the
resolved key pair of each of its persons, so the result equals the whole
linkage's persons (tested).

:func:`coded_persons` gives the ids with a code of some lists (the persons
whose rows a study must read to date an event), from the diagnosis files'
dictionaries without converting them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__: list[str] = []

#: Columns of :func:`person_table`.
PERSON_COLUMNS = ("person_id", "kpr_id", "npr_id", "sex", "birth_year", "death_date",
                  "municipality")
_CLAIMS = ("kpr_id", "date", "sex", "sex_corrected", "birth_year", "death_date",
           "municipality")
_EPISODES = ("npr_id", "date_in", "sex", "birth_year", "death_date", "municipality")
_NS_MAX = np.iinfo(np.int64).max


def _plan(root: Path) -> tuple[list[str], pd.DataFrame | None]:
    """The folders to read and the same-person key ids to merge (None: none).

    With such ids the whole folder is read (an alias may lie in another partition
    than the id it stands for), as the cohort builder does
    (:mod:`kprlink.cohorts._fast_aliases`)."""
    from kprlink.cohorts._fast_aliases import folder_aliases
    from kprlink.sources._folder import _Folder
    from kprlink.sources._partition import partitions

    aliases = folder_aliases(_Folder(root))
    if len(aliases):
        return [str(root)], aliases
    return [str(f) for f in (partitions(root) or [root])], None


def _open(folder: str, aliases: pd.DataFrame | None) -> Any:
    from kprlink.cohorts._fast_aliases import AliasedFolder
    from kprlink.sources._folder import _Folder

    f = _Folder(Path(folder))
    return f if aliases is None else AliasedFolder(f, aliases)


def _ints(table: Any, col: str) -> tuple[np.ndarray, np.ndarray]:
    """An Arrow integer or timestamp column as (int64 values, missing mask)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    c = table[col]
    if pa.types.is_timestamp(c.type) or pa.types.is_date(c.type):
        c = pc.cast(c, pa.timestamp("ns")).cast(pa.int64())
    miss = (np.asarray(pc.is_null(c).to_numpy(zero_copy_only=False), dtype=bool)
            if c.null_count else np.zeros(len(c), dtype=bool))
    v = pc.fill_null(c, 0).to_numpy().astype(np.int64, copy=False)
    return v, miss


def _places(table: Any) -> tuple[np.ndarray, list[str]]:
    """The municipality column as codes into a list of names (-1 where missing)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    c = table["municipality"]
    if not pa.types.is_dictionary(c.type):
        c = pc.dictionary_encode(c)
    c = c.unify_dictionaries()
    names = c.chunk(0).dictionary.to_pylist() if c.num_chunks else []
    codes = np.concatenate([np.zeros(0, np.int64)] + [
        pc.fill_null(ch.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        for ch in c.chunks])
    return codes, [str(n) for n in names]


class _Records:
    """One register's demographic columns as numpy, ids factorised (``_Ids``)."""

    def __init__(self, table: Any, id_col: str, date_col: str) -> None:
        from kprlink.linkage._keyfile_steps import _Ids

        self.table = table
        v, miss = _ints(table, id_col)
        self.ids = _Ids(pd.Series(pd.arrays.IntegerArray(v, miss)))
        self.n = table.num_rows
        self.date_col = date_col

    def has(self, col: str) -> bool:
        return col in self.table.column_names

    def death(self) -> np.ndarray:
        """Earliest death date (int64 ns; ``_NAT`` none) per distinct id."""
        from kprlink.linkage._keyfile_steps import _NAT

        res = np.full(len(self.ids.ids), _NS_MAX, dtype=np.int64)
        if self.has("death_date"):
            d, miss = _ints(self.table, "death_date")
            ok = ~miss & (self.ids.code >= 0)
            np.minimum.at(res, self.ids.code[ok], d[ok])
        res[res == _NS_MAX] = _NAT
        return res

    def first_place(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
        """Per distinct id: the date and row of its first record with a municipality
        (earliest date, undated last, then row order) and that record's code."""
        k = len(self.ids.ids)
        date = np.full(k, _NS_MAX, dtype=np.int64)
        row = np.full(k, _NS_MAX, dtype=np.int64)
        code = np.full(k, -1, dtype=np.int64)
        if not self.has("municipality"):
            return date, row, code, []
        places, names = _places(self.table)
        d, miss = _ints(self.table, self.date_col)
        d = np.where(miss, _NS_MAX, d)
        ok = (places >= 0) & (self.ids.code >= 0)
        c = self.ids.code[ok]
        np.minimum.at(date, c, d[ok])
        r = np.flatnonzero(ok)
        at_first = d[ok] == date[c]
        np.minimum.at(row, c[at_first], r[at_first])
        got = row != _NS_MAX
        code[got] = places[row[got]]
        return date, row, code, names


def part_persons(folder: str, aliases: pd.DataFrame | None = None) -> pd.DataFrame:
    """The persons of one imported folder (a partition), without ``person_id``.

    The steps of :func:`kprlink.linkage._keyfile_steps.assemble` that make the
    person table (persons of the resolved key with rows, then NPR-only, then
    KPR-only; sex and birth year the KPR mode, else the NPR mode; earliest
    death in either register), on numpy arrays of the demographic columns only.
    """
    from kprlink.linkage._keyfile_steps import _NAT, _isin, _mode, _taken
    from kprlink.sources._arrow_ids import _chosen_pairs

    f = _open(folder, aliases)
    tables = {n: f.read(n, cols) for n, cols in (("kuhr_claims", _CLAIMS),
                                                 ("npr_episodes", _EPISODES))}
    empty = {"kuhr_claims": ("kpr_id", "date"), "npr_episodes": ("npr_id", "date_in")}
    import pyarrow as pa

    for n, (i, d) in empty.items():
        if tables[n] is None:
            tables[n] = pa.table({i: pa.array([], pa.int64()), d: pa.array([], pa.int64())})
    kpr = _Records(tables["kuhr_claims"], "kpr_id", "date")
    npr = _Records(tables["npr_episodes"], "npr_id", "date_in")
    key = f.read("key", ("npr_id", "kpr_id", "delivery"))
    p_npr, p_kpr = (_chosen_pairs(key) if key is not None
                    else (np.zeros(0, np.int64), np.zeros(0, np.int64)))
    use = _isin(p_npr, npr.ids.ids) | _isin(p_kpr, kpr.ids.ids)
    npr_only = npr.ids.ids[~_isin(npr.ids.ids, p_npr)]
    kpr_only = kpr.ids.ids[~_isin(kpr.ids.ids, p_kpr)]
    n_pairs, n_n = int(use.sum()), len(npr_only)
    k_val = np.concatenate([p_kpr[use], np.zeros(n_n, np.int64), kpr_only])
    n_val = np.concatenate([p_npr[use], npr_only, np.zeros(len(kpr_only), np.int64)])
    k_na = np.r_[np.zeros(n_pairs, bool), np.ones(n_n, bool), np.zeros(len(kpr_only), bool)]
    n_na = np.r_[np.zeros(n_pairs + n_n, bool), np.ones(len(kpr_only), bool)]
    kpr_id = pd.arrays.IntegerArray(k_val, k_na)
    npr_id = pd.arrays.IntegerArray(n_val, n_na)
    pos_k, pos_n = kpr.ids.find(pd.Series(kpr_id)), npr.ids.find(pd.Series(npr_id))
    out = pd.DataFrame({"kpr_id": kpr_id, "npr_id": npr_id})
    t = kpr.table
    for var in ("sex", "birth_year"):
        if var == "sex" and (kpr.has("sex") or kpr.has("sex_corrected")):
            sex = (_ints(t, "sex") if kpr.has("sex")
                   else (np.zeros(kpr.n, np.int64), np.ones(kpr.n, bool)))
            if kpr.has("sex_corrected"):  # FHI's corrected sex where delivered
                corr, miss = _ints(t, "sex_corrected")
                sex = (np.where(miss, sex[0], corr), miss & sex[1])
            v_k = _taken(_mode(kpr.ids, sex), pos_k)
        elif var == "birth_year" and kpr.has(var):
            v_k = _taken(_mode(kpr.ids, _ints(t, var)), pos_k)
        else:
            v_k = _taken(pd.array([], dtype="Int64"), pos_k)
        v_n = (_taken(_mode(npr.ids, _ints(npr.table, var)), pos_n) if npr.has(var)
               else _taken(pd.array([], dtype="Int64"), pos_n))
        out[var] = v_k.fillna(v_n) if len(v_k) else v_k
    both, place = [], []
    for rec, pos, source in ((kpr, pos_k, 0), (npr, pos_n, 1)):
        death = rec.death()
        both.append(np.where(pos >= 0, death[np.maximum(pos, 0)] if len(death) else _NAT,
                             _NAT).view("datetime64[ns]"))
        date, row, code, names = rec.first_place()
        hit = pos >= 0
        p = np.maximum(pos, 0)
        name = np.asarray(names + [None], dtype=object)
        place.append((np.where(hit, date[p] if len(date) else _NS_MAX, _NS_MAX), source,
                      np.where(hit, row[p] if len(row) else _NS_MAX, _NS_MAX),
                      name[np.where(hit & (code[p] >= 0 if len(code) else False),
                                    code[p] if len(code) else -1, -1)]))
    out["death_date"] = pd.to_datetime(np.fmin(*both))
    # first municipality over both registers: earliest date, then KUHR before NPR
    (dk, _, _, mk), (dn, _, _, mn) = place
    take_n = (dn < dk) | ((dn == dk) & pd.isna(mk))
    out["municipality"] = pd.Categorical(np.where(take_n, mn, mk))
    return out


def person_table(root: str | Path, engine: Any = None) -> pd.DataFrame:
    """Every person of an imported delivery, one row each (see module notes).

    Columns :data:`PERSON_COLUMNS`: ``person_id`` as ``link_extracts`` numbers
    the whole delivery, ``kpr_id``/``npr_id`` (Int64, NA where none), sex and
    birth year resolved as the linkage resolves them (KPR wins), the earliest
    death date, and ``municipality`` of the person's first record that has one
    (categorical). Person level: never release it.
    """
    from kprlink._engine import engine_from

    folders, aliases = _plan(Path(root))
    with engine_from(engine) as eng:
        parts = eng.gather(eng.map(part_persons, folders, aliases))
    muni = pd.api.types.union_categoricals([p["municipality"] for p in parts],
                                           ignore_order=True)
    out = pd.concat([p.drop(columns="municipality") for p in parts], ignore_index=True)
    out["municipality"] = muni
    out = out.sort_values(["kpr_id", "npr_id"], na_position="last",
                          kind="stable").reset_index(drop=True)
    out.insert(0, "person_id", np.arange(1, len(out) + 1, dtype=np.int64))
    return out[list(PERSON_COLUMNS)]


def part_first_coded(folder: str, codelists: Sequence[Any], sources: Sequence[str],
                     aliases: pd.DataFrame | None = None
                     ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per register (KUHR, NPR) of one folder: sorted ids with a diagnosis of
    `codelists` and the date of the first such record (int64 ns)."""
    from kprlink.cohorts._imported import _code_mask
    from kprlink.sources._arrow_ids import _ids

    f = _open(folder, aliases)
    out = []
    for source, rec_name, diag_name, rec_col, id_col, date_col in (
            ("kpr_kuhr", "kuhr_claims", "kuhr_diagnoses", "claim_id", "kpr_id", "date"),
            ("npr", "npr_episodes", "npr_diagnoses", "episode_id", "npr_id", "date_in")):
        ids, first = np.zeros(0, np.int64), np.zeros(0, np.int64)
        if source not in sources:  # not read at all
            out.append((ids, first))
            continue
        system = source == "kpr_kuhr"
        diag = f.read(diag_name, (rec_col, "code", *(("system",) if system else ())))
        recs = f.read(rec_name, (rec_col, id_col, date_col))
        if diag is not None and recs is not None:
            coded = _ids(diag[rec_col])[_code_mask(diag, list(codelists), system)]
            r = _ids(recs[rec_col])
            o = np.argsort(r, kind="stable")
            pos = np.minimum(np.searchsorted(r[o], coded), max(len(r) - 1, 0))
            hit = (r[o][pos] == coded) if len(r) else np.zeros(len(coded), bool)
            rows = o[pos[hit]]
            pid = _ids(recs[id_col])[rows]
            d, miss = _ints(recs, date_col)
            d, ok = d[rows], ~miss[rows] & (pid >= 0)
            ids, inv = np.unique(pid[ok], return_inverse=True)
            first = np.full(len(ids), _NS_MAX, dtype=np.int64)
            np.minimum.at(first, inv, d[ok])
        out.append((ids, first))
    return out


def first_coded_dates(root: str | Path, codelists: Sequence[Any], engine: Any = None,
                      sources: Sequence[str] = ("kpr_kuhr", "npr")
                      ) -> tuple[pd.Series, pd.Series]:
    """First date of a diagnosis of one of `codelists` (any position) per ``kpr_id``
    (KUHR claims) and per ``npr_id`` (NPR episodes), from an imported folder,
    partition by partition, reading only ids, dates and codes.

    Registers not in `sources` give empty Series. Equals the earliest ``date``
    of :func:`kprlink.cohorts.diagnosis_events` with these lists, per id (tested).
    """
    from kprlink._engine import engine_from

    folders, aliases = _plan(Path(root))
    with engine_from(engine) as eng:
        parts = eng.gather(eng.map(part_first_coded, folders, list(codelists),
                                   tuple(sources), aliases))
    out = []
    for i in (0, 1):
        ids = np.concatenate([np.zeros(0, np.int64), *(p[i][0] for p in parts)])
        d = np.concatenate([np.zeros(0, np.int64), *(p[i][1] for p in parts)])
        s = pd.Series(d.view("datetime64[ns]"), index=ids)
        out.append(s.groupby(level=0).min() if not s.index.is_unique else s.sort_index())
    return out[0], out[1]
