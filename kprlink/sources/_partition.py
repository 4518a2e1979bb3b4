"""A partitioned import: the persons of a delivery split by a hash of their id.

``kprlink import DELIVERY --out DIR --partitions N`` writes the usual imported
folder (whole frames, readable by every tool) and, under ``DIR/partitions/``,
``N`` folders ``p000`` ... each an imported folder of its own (manifest,
sizes, digests) holding every row of the persons whose hash falls there:

* a person is the key file's resolved pair (the latest delivery wins for an
  ``npr_id``, the smallest ``npr_id`` keeps a ``kpr_id``, as
  :func:`kprlink.link_extracts` resolves them); the partition is
  ``splitmix64(kpr_id) % N``, for NPR-only persons ``splitmix64(npr_id | 2**62) % N``;
* claims, KPR helse og omsorg records: by ``kpr_id``; KUHR diagnoses and fee
  codes follow their claim; NPR episodes, diagnoses and procedures: by
  ``npr_id`` through the resolved key; the key: each partition holds its
  persons' resolved pairs; the population table (and other frames without
  persons) is copied whole into every partition;
* rows keep the delivery's order (so years stay in order in a multi-year
  delivery) and carry ``_kprlink_row``, their row number in the whole frame,
  so rows gathered from several partitions can be put back in that order;
  row groups hold at most :data:`ROW_GROUP_ROWS` rows, so a reader streams
  them in bounded memory.

``kprlink_partitions.json`` (written last, inside the import's temporary
folder, so the whole import stays atomic) lists the folders.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

__all__: list[str] = []

#: Index of the partitions in an imported folder, and the folder holding them.
PARTITIONS = "kprlink_partitions.json"
FOLDER = "partitions"
#: Rows per Parquet row group in a partition file (and per read batch).
ROW_GROUP_ROWS = 1 << 18
#: Column holding each row's position in the whole frame.
ROW_COL = "_kprlink_row"
_NPR_ONLY = np.uint64(1 << 62)
_BY_KPR = ("kuhr_claims", "ho_services", "ho_functions", "ho_indicators")
_BY_NPR = ("npr_episodes", "npr_diagnoses", "npr_procedures")
_BY_CLAIM = ("kuhr_diagnoses", "kuhr_fees")


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser of each value (a fixed, seedless integer hash).

    Examples
    --------
    >>> int(splitmix64(np.array([1]))[0])  # the reference splitmix64 of state 0 + 1
    10451216379200822465
    """
    z = np.asarray(x).astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))  # type: ignore[no-any-return]


def _part(ids: np.ndarray, n: int, *, npr_only: bool = False) -> np.ndarray:
    v = np.maximum(np.asarray(ids, np.int64), 0).astype(np.uint64)
    return (splitmix64(v | _NPR_ONLY if npr_only else v) % np.uint64(n)).astype(np.int32)


def partitions(root: str | Path) -> list[Path]:
    """The partition folders of an imported folder, or ``[]`` when it has none."""
    index = Path(root) / PARTITIONS
    if not index.is_file():
        return []
    m = json.loads(index.read_text(encoding="utf-8"))
    return [Path(root) / f for f in m["folders"]]


class _Sinks:
    """Per-partition Parquet writers of one frame, buffered to full row groups."""

    def __init__(self, dests: list[Path], name: str) -> None:
        self.dests, self.name = dests, name
        self.writers: list[Any] = [None] * len(dests)
        self.buf: list[list[Any]] = [[] for _ in dests]
        self.rows = [0] * len(dests)

    def add(self, batch: Any, part: np.ndarray) -> None:
        import pyarrow as pa

        order = np.argsort(part, kind="stable")
        bounds = np.searchsorted(part[order], np.arange(len(self.dests) + 1))
        for p in range(len(self.dests)):
            if bounds[p + 1] > bounds[p]:
                self.buf[p].append(batch.take(pa.array(order[bounds[p]:bounds[p + 1]])))
                self.rows[p] += int(bounds[p + 1] - bounds[p])
                if self.rows[p] >= ROW_GROUP_ROWS:
                    self._flush(p, batch.schema)

    def _flush(self, p: int, schema: Any) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.writers[p] is None:
            self.writers[p] = pq.ParquetWriter(self.dests[p] / self.name, schema)
        if self.buf[p]:
            self.writers[p].write_table(pa.Table.from_batches(self.buf[p], schema),
                                        row_group_size=ROW_GROUP_ROWS)
        self.buf[p], self.rows[p] = [], 0

    def close(self, schema: Any) -> None:
        for p in range(len(self.dests)):
            self._flush(p, schema)
            self.writers[p].close()


def write_partitions(root: Path, n: int) -> list[Path]:
    """Split the imported folder `root` into `n` partition folders (see module notes)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from kprlink.sources._arrow_ids import _chosen_pairs, _ids
    from kprlink.sources._manifest import load_manifest, write_manifest
    from kprlink.sources.delivery import read_delivery

    m = load_manifest(root)
    frames: dict[str, str] = m["frames"]
    stub = read_delivery(root, columns={})
    names = [f"{FOLDER}/p{i:03d}" for i in range(n)]
    dests = [root / x for x in names]
    for d in dests:
        d.mkdir(parents=True)
    if "key" in frames:
        key = pq.read_table(root / frames["key"])
        p_npr, p_kpr = _chosen_pairs(key)
    else:
        key, p_npr, p_kpr = None, np.zeros(0, np.int64), np.zeros(0, np.int64)
    o = np.argsort(p_npr, kind="stable")
    npr_sorted, npr_part = p_npr[o], _part(p_kpr[o], n)

    def of_npr(ids: np.ndarray) -> np.ndarray:
        pos = np.minimum(np.searchsorted(npr_sorted, ids), max(len(npr_sorted) - 1, 0))
        hit = (npr_sorted[pos] == ids) if len(npr_sorted) else np.zeros(len(ids), bool)
        return np.where(hit, npr_part[pos] if len(npr_sorted) else 0,
                        _part(ids, n, npr_only=True))

    claim_ids, claim_part = np.zeros(0, np.int64), np.zeros(0, np.int32)
    order = [f for f in frames if f == "kuhr_claims"] + [f for f in frames if f != "kuhr_claims"]
    for field in order:
        path = root / frames[field]
        name = f"{field}.parquet"
        if field == "key" and key is not None:
            _write_key(key, p_npr, p_kpr, n, dests, name)
            continue
        f = pq.ParquetFile(path)
        schema = f.schema_arrow.append(pa.field(ROW_COL, pa.int64()))
        sinks, start, parts = _Sinks(dests, name), 0, []
        for batch in f.iter_batches(batch_size=ROW_GROUP_ROWS):
            rows = pa.array(np.arange(start, start + batch.num_rows, dtype=np.int64))
            start += batch.num_rows
            batch = pa.RecordBatch.from_arrays([*batch.columns, rows], schema=schema)
            if field in _BY_KPR:
                part = _part(_ids(pa.chunked_array([batch.column("kpr_id")])), n)
            elif field in _BY_NPR:
                part = of_npr(_ids(pa.chunked_array([batch.column("npr_id")])))
            elif field in _BY_CLAIM:
                ids = _ids(pa.chunked_array([batch.column("claim_id")]))
                pos = np.minimum(np.searchsorted(claim_ids, ids), max(len(claim_ids) - 1, 0))
                part = claim_part[pos] if len(claim_ids) else np.zeros(len(ids), np.int32)
            else:  # no persons (the population table): every partition
                for p in range(n):
                    sinks.add(batch, np.full(batch.num_rows, p, np.int32))
                continue
            if field == "kuhr_claims":
                parts.append((_ids(pa.chunked_array([batch.column("claim_id")])), part))
            sinks.add(batch, part)
        sinks.close(schema)
        if field == "kuhr_claims" and parts:
            ids = np.concatenate([a for a, _ in parts])
            o2 = np.argsort(ids, kind="stable")
            claim_ids, claim_part = ids[o2], np.concatenate([b for _, b in parts])[o2]
    for d in dests:
        written = {f: f"{f}.parquet" for f in frames}
        write_manifest(d, Path(m["source"]), written, stub.files, stub.report)
    index = {"kprlink_partitions": 1, "n": n, "folders": names,
             "hash": "splitmix64(kpr_id) % n; NPR-only persons splitmix64(npr_id | 2**62) % n",
             "row_group_rows": ROW_GROUP_ROWS}
    (root / PARTITIONS).write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")
    return dests


def part_rows(folder: str, name: str, col: str, wanted: np.ndarray, schema: Any) -> Any:
    """Rows of frame `name` in one partition whose `col` is in `wanted` (sorted ids), as
    Arrow with the whole frame's `schema` plus :data:`ROW_COL`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from kprlink.sources._arrow_ids import _ids

    path = Path(folder) / f"{name}.parquet"
    text = [f.name for f in schema if pa.types.is_string(f.type)
            or pa.types.is_large_string(f.type)]
    table = pq.ParquetFile(path, read_dictionary=text, pre_buffer=False).read()
    ids = _ids(table[col])
    pos = np.minimum(np.searchsorted(wanted, ids), max(len(wanted) - 1, 0))
    keep = (wanted[pos] == ids) if len(wanted) else np.zeros(len(ids), bool)
    table = table.filter(pa.array(keep))
    target = pa.schema([*(schema.field(c) for c in schema.names),
                        pa.field(ROW_COL, pa.int64())], metadata=schema.metadata)
    return table.select(target.names).cast(target)


def _write_key(key: Any, p_npr: np.ndarray, p_kpr: np.ndarray, n: int, dests: list[Path],
               name: str) -> None:
    """Each partition's resolved key pairs (the first key row of each chosen pair)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from kprlink.sources._arrow_ids import _ids

    kn, kk = _ids(key["npr_id"]), _ids(key["kpr_id"])
    o = np.lexsort((p_npr, p_kpr))
    cn, ck = p_npr[o], p_kpr[o]
    pos = np.minimum(np.searchsorted(ck, kk), max(len(ck) - 1, 0))
    # pairs are unique per kpr_id after resolution
    chosen = (ck[pos] == kk) & (cn[pos] == kn) if len(ck) else np.zeros(len(kk), bool)
    rows = np.flatnonzero(chosen)
    first = rows[np.unique(kk[rows], return_index=True)[1]] if len(rows) else rows
    first = np.sort(first)
    t = key.take(pa.array(first))
    t = t.append_column(ROW_COL, pa.array(first.astype(np.int64)))
    part = _part(kk[first], n)
    for p, d in enumerate(dests):
        pq.write_table(t.filter(pa.array(part == p)), d / name,
                       row_group_size=ROW_GROUP_ROWS)
