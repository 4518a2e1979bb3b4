"""The key-file linkage of a partitioned import, partition by partition, on any engine.

``kprlink link`` on a folder written by ``kprlink import --partitions N`` gives
the same person map and report as :func:`kprlink.link_extracts` (with
same-person key ids merged, :func:`kprlink.linkage._aliases.link_merging_aliases`)
on the whole folder, without holding the whole delivery's rows:

* the **key** is resolved here, from the whole folder's key file (one row per
  pair and delivery: person-sized, not row-sized), as the linkage resolves it;
  the conflicts' partner ids are the only row-level question it asks;
* **pass 1** (:func:`part_summary`, one task per partition): each register's
  distinct ids with their row count, most frequent sex and birth year and
  earliest death date, and the rows of the key conflicts' partner ids (a few:
  they classify the conflicts and merge same-person ids);
* the **reduction** merges same-person ids (an alias's rows may lie in another
  partition than the id it stands for: their summaries are recomputed from
  their rows), resolves the merged key and builds the person table
  (:func:`kprlink.linkage._keyfile_steps.assemble`, the whole path's code);
* **pass 2** (:func:`part_rows`, per register and partition): the row figures
  of the report (events after death, outside coverage, unlinked rows and
  persons by year), given each partition's ids' person death and partner flag.

What travels is per distinct id (the person map is the command's output), never
per row. Tested equal to the whole path on a local Dask cluster.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kprlink.linkage._keyfile_steps import _NAT, FrameSide, _Ids, reduce_rows, row_part

__all__: list[str] = []

#: canonical columns the key-file linkage reads (``kprlink link``'s projection)
KEY_COLUMNS = {"npr_episodes": ("npr_id", "date_in", "year", "sex", "birth_year",
                                "death_date"),
               "kuhr_claims": ("kpr_id", "date", "year", "sex", "sex_corrected",
                               "birth_year", "death_date")}
#: register -> (frame, id column, date column, is KPR)
_SIDES = {"npr": ("npr_episodes", "npr_id", "date_in", False),
          "kpr": ("kuhr_claims", "kpr_id", "date", True)}


def _frame(folder: str, reg: str, columns: tuple[str, ...]) -> pd.DataFrame:
    from kprlink.exceptions import LinkageError, Problem
    from kprlink.sources import read_delivery

    name = _SIDES[reg][0]
    frame = getattr(read_delivery(folder, columns={name: columns}), name)
    if frame is None:
        raise LinkageError(f"the delivery in {folder} lacks {name}",
                           [Problem(str(folder), None, "missing_file", f"no {name} file")])
    return frame  # type: ignore[no-any-return]


def part_summary(folder: str, want: np.ndarray, columns: dict[str, tuple[str, ...]]
                 ) -> dict[str, dict[str, Any]]:
    """Per register of one partition: distinct ids, rows, modes, deaths, and the rows of
    the ids in `want` (sorted; the key conflicts' partners)."""
    out = {}
    for reg, (name, id_col, date_col, kpr) in _SIDES.items():
        frame = _frame(folder, reg, columns[name])
        side = FrameSide(frame, id_col, date_col, kpr=kpr)
        ids = pd.array(frame[id_col], dtype="Int64").to_numpy(np.int64, na_value=-1)
        pos = np.minimum(np.searchsorted(want, ids), max(len(want) - 1, 0))
        hit = (want[pos] == ids) if len(want) else np.zeros(len(ids), bool)
        out[reg] = {"ids": side.ids, "n_rows": side.n_rows, "death": side.death(),
                    "modes": {v: side.mode(v) for v in ("sex", "birth_year")},
                    "rows": frame[hit].reset_index(drop=True)}
    return out


def part_rows(item: tuple[str, str, dict[str, Any]], columns: dict[str, tuple[str, ...]],
              coverage: tuple[str | None, str | None]) -> dict[str, object]:
    """Row figures of one register of one partition (``item``: folder, register, and per
    distinct id of the partition: person death, partner flag, person code, split flag)."""
    folder, reg, per_id = item
    name, id_col, date_col, _ = _SIDES[reg]
    frame = _frame(folder, reg, tuple(c for c in columns[name]
                                      if c in (id_col, date_col, "year")))
    ids = _Ids(frame[id_col])
    if len(ids.ids) != len(per_id["died"]):
        raise RuntimeError(f"partition {folder} changed between the linkage's passes")
    return row_part(frame, date_col, ids.code, len(ids.ids), per_id["died"],
                    per_id["partnered"], coverage, per_id["merged"], per_id["split"])


def _map_ids(ids: np.ndarray, aliases: pd.DataFrame, reg: str) -> np.ndarray:
    """`ids` with each alias of register `reg` replaced by the id it stands for (as
    :func:`kprlink.linkage._aliases.apply_aliases` rewrites a frame)."""
    group = aliases[aliases["register"] == reg]
    if group.empty:
        return ids
    m = pd.Series(group["id"].to_numpy(), index=group["alias"].to_numpy())
    hit = pd.Series(ids).isin(m.index).to_numpy(bool)
    out = ids.copy()
    out[hit] = m.reindex(ids[hit]).to_numpy(np.int64)
    return out


class PartSide:
    """One register of a partitioned delivery, answering :func:`assemble`'s questions
    from the partitions' summaries (ids merged by `aliases`)."""

    def __init__(self, reg: str, folders: list[str], parts: list[dict[str, Any]],
                 aliases: pd.DataFrame, engine: Any, columns: dict[str, tuple[str, ...]]
                 ) -> None:
        name, id_col, date_col, kpr = _SIDES[reg]
        self.reg, self.folders, self.engine, self.columns = reg, folders, engine, columns
        raw = [p["ids"] for p in parts]
        self._bounds = np.cumsum([0] + [len(r) for r in raw])
        merged = _map_ids(np.concatenate([np.zeros(0, np.int64), *raw]), aliases, reg)
        self.ids = np.unique(merged)
        #: each partition id's person code (position in ``ids``), and split persons
        self._code = np.searchsorted(self.ids, merged)
        self._split = np.bincount(self._code, minlength=len(self.ids)) > 1
        self.n_rows = sum(int(p["n_rows"]) for p in parts)
        rows = pd.concat([p["rows"] for p in parts], ignore_index=True)
        got = pd.array(rows[id_col], dtype="Int64")
        rows[id_col] = pd.arrays.IntegerArray(
            _map_ids(got.to_numpy(np.int64, na_value=-1), aliases, reg), np.asarray(got.isna()))
        small = FrameSide(rows, id_col, date_col, kpr=kpr)
        at = small.find(pd.Series(pd.array(self.ids[self._split], dtype="Int64")))
        if (at < 0).any():
            raise RuntimeError("a merged key id has no rows among the conflicts' rows")
        self._modes = {}
        for var in ("sex", "birth_year"):
            got = [p["modes"][var] for p in parts]
            if any(g is None for g in got):
                self._modes[var] = None
                continue
            self._modes[var] = self._merge(np.concatenate(
                [np.zeros(0, np.int64)] + [g.to_numpy(np.int64, na_value=0) for g in got]),
                np.concatenate([np.zeros(0, bool)] + [np.asarray(g.isna()) for g in got]),
                small.mode(var), at)
        death = np.concatenate([np.zeros(0, np.int64), *[p["death"] for p in parts]])
        big = np.iinfo(np.int64).max
        d = np.full(len(self.ids), big, dtype=np.int64)
        np.minimum.at(d, self._code, np.where(death == _NAT, big, death))
        d[d == big] = _NAT
        self._death = d

    def _merge(self, values: np.ndarray, missing: np.ndarray, small: Any, at: np.ndarray
               ) -> pd.arrays.IntegerArray:
        """Per person: the partition's value where one id is the person, else `small`'s."""
        v = np.zeros(len(self.ids), dtype=np.int64)
        na = np.ones(len(self.ids), dtype=bool)
        one = ~self._split[self._code]
        v[self._code[one]] = values[one]
        na[self._code[one]] = missing[one]
        split = np.flatnonzero(self._split)
        if len(split):
            v[split] = small.to_numpy(np.int64, na_value=0)[at]
            na[split] = np.asarray(small.isna())[at]
        return pd.arrays.IntegerArray(v, na)

    def find(self, query: pd.Series) -> np.ndarray:
        """Position of each id of `query` in ``ids`` (-1 where absent or NA)."""
        arr = pd.array(query, dtype="Int64", copy=False)
        q = arr.to_numpy(np.int64, na_value=0)
        pos = np.minimum(np.searchsorted(self.ids, q), max(len(self.ids) - 1, 0))
        hit = (~np.asarray(arr.isna())) & (len(self.ids) > 0)
        if len(self.ids):
            hit &= self.ids[pos] == q
        return np.where(hit, pos, -1)

    def mode(self, var: str) -> pd.arrays.IntegerArray | None:
        """Most frequent value of `var` per id (None without the column)."""
        return self._modes[var]  # type: ignore[no-any-return]

    def death(self) -> np.ndarray:
        """Earliest death date per id (int64 ns, ``_NAT`` if none)."""
        return self._death

    def rows(self, died: np.ndarray, partnered: np.ndarray,
             coverage: tuple[str | None, str | None]) -> dict[str, object]:
        """Row figures: pass 2 over the partitions, reduced."""
        items = []
        for i, folder in enumerate(self.folders):
            code = self._code[self._bounds[i]:self._bounds[i + 1]]
            items.append((folder, self.reg, {"died": died[code], "partnered": partnered[code],
                                             "merged": code, "split": self._split[code]}))
        eng = self.engine
        return reduce_rows(eng.gather(eng.map(part_rows, items, self.columns, coverage)))


def link_partitions(root: str | Path, engine: Any = None,
                    columns: dict[str, tuple[str, ...]] | None = None) -> Any:
    """The key-file linkage (same-person key ids merged) of an imported folder, over its
    partitions (the folder itself where it has none) on `engine`; a
    :class:`~kprlink.LinkageResult` equal to the whole folder's."""
    from dataclasses import replace

    from kprlink._engine import engine_from
    from kprlink.exceptions import LinkageError, Problem
    from kprlink.linkage._aliases import apply_aliases, same_person_aliases
    from kprlink.linkage._key_kinds import classify_conflicts
    from kprlink.linkage._keyfile_steps import assemble
    from kprlink.linkage.keyfile import _PERSON_COLS, DEFAULT_COVERAGE, _check, _resolve_key
    from kprlink.linkage.report import LinkageReport
    from kprlink.linkage.keyfile import LinkageResult
    from kprlink.sources import read_delivery
    from kprlink.sources._partition import partitions

    columns = dict(columns or KEY_COLUMNS)
    key = read_delivery(root, columns={"key": None}).key
    if key is None:
        raise LinkageError(f"the delivery in {root} lacks ['key']",
                           [Problem(str(root), None, "missing_file", "no key file")])
    _check(key, "key", ["npr_id", "kpr_id"])
    pairs, kc = _resolve_key(key, None)
    want = np.unique(np.asarray([int(x) for ps in kc["partners"] for x in ps], np.int64))
    folders = [str(f) for f in partitions(root) or [Path(root)]]
    with engine_from(engine) as eng:
        parts = eng.gather(eng.map(part_summary, folders, want, columns))
        rows = {reg: pd.concat([p[reg]["rows"] for p in parts], ignore_index=True)
                for reg in _SIDES}
        kc = kc.assign(kind=classify_conflicts(kc, rows["npr"], rows["kpr"]))
        first_kc = kc
        aliases = same_person_aliases(kc)
        if len(aliases):
            pairs, kc = _resolve_key(apply_aliases({"key": key}, aliases)["key"], None)
        sides = {reg: PartSide(reg, folders, [p[reg] for p in parts], aliases, eng, columns)
                 for reg in _SIDES}
        persons, report = assemble(sides["npr"], sides["kpr"], pairs, kc, len(key),
                                   coverage=dict(DEFAULT_COVERAGE))
    res = LinkageResult(persons[_PERSON_COLS], LinkageReport(method="key file", **report))
    if aliases.empty:
        return res
    flow = pd.concat([res.report.flow, pd.DataFrame(
        [("key ids merged into one person (temporary, duplicate or new ids)", len(aliases))],
        columns=["step", "n"])], ignore_index=True)
    return LinkageResult(res.persons, replace(res.report, key_conflicts=first_kc, flow=flow))
