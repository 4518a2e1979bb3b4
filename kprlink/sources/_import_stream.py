"""Importing a delivery file by file, and large Parquet files in row chunks.

:func:`kprlink.sources.import_delivery` reads a small delivery whole. A
national delivery does not fit in memory that way (51 million claims need
about 25 GB to convert at once), so when a file has more rows than
``chunk_rows`` the import streams: every file is read, checked and written on
its own, and a large Parquet file chunk by chunk, each chunk converted and
checked exactly as a whole file is (row numbers continue across chunks) and
appended to the frame's Parquet file. What spans chunks is carried along:

* unique keys: a later row repeating the key of an earlier row (in any earlier
  chunk) is excluded, as in a whole read ("the first row is kept");
* KUHR diagnoses and fee codes of claims that were not kept: the kept claim
  ids of every claims file are collected first, then the diagnosis and fee
  files are checked against them;
* the report: one row per file, reasons and problems summed over chunks (the
  first row numbers shown, counts over the whole file).

The frames read back from the import equal a whole read (tested with small
chunks).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kprlink._unique import unique
from kprlink.exceptions import Problem, ValidationError
from kprlink.sources._chunking import (
    _chunkable,
    _keys_pack,
    _merge,
    _parquet_rows,
    _SeenKeys,
)
from kprlink.sources._csv_stream import Restart, csv_chunks
from kprlink.sources._manifest import write_manifest
from kprlink.sources._plan import no_rows, plan_files
from kprlink.sources._projection import projection_for
from kprlink.sources.delivery import _FILE_COLUMNS, Delivery, _sha256, exclude_orphans
from kprlink.sources.extract import _from_raw, peek_columns, read_extract
from kprlink.sources.readers import RawFrame, _to_pandas
from kprlink.sources.validation import N_ROWS_SHOWN, Ledger, ValidationReport, raise_fatal

__all__: list[str] = []

#: Above this many rows a Parquet file is imported in chunks of this size.
CHUNK_ROWS = 4_000_000
#: Rows of a CSV chunk at most (a chunk's frames take about 1 GB at 1 M KUHR claims).
CSV_CHUNK_ROWS = 1 << 20
#: Bytes of a delivered CSV row, to size a delivery of many files [E] (KUHR claims ~90).
CSV_ROW_BYTES = 100
#: Contracts whose rows must belong to a kept claim (checked after all claims).
_CLAIM_CHILDREN = ("kpr_kuhr.diagnoses", "kpr_kuhr.fees")


def _raw_chunks(path: Path, fmt: str, contract: Any, proj: Any, chunk_rows: int,
                ledger: Ledger, again: dict[Path, str]) -> Iterator[RawFrame]:
    """A Parquet or CSV file's rows in chunks, as :func:`read_raw` gives a whole file
    (CSV in chunks of at most :data:`CSV_CHUNK_ROWS`; `again`: files to read as text)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if fmt == "csv":
        yield from csv_chunks(path, contract, proj.delivered, min(chunk_rows, CSV_CHUNK_ROWS),
                              ledger, as_text=again.get(path) == "text")
        return
    f = pq.ParquetFile(path)
    cols = list(proj.delivered) if proj.delivered is not None else None
    for batch in f.iter_batches(batch_size=chunk_rows, columns=cols):
        yield RawFrame(_to_pandas(pa.Table.from_batches([batch])), "parquet", None, None)


class _Writer:
    """Appends canonical frames to ``<field>.parquet`` (schema of the first part)."""

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        self.writers: dict[str, Any] = {}

    def write(self, field: str, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if field not in self.writers:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            self.writers[field] = pq.ParquetWriter(self.dest / f"{field}.parquet", table.schema)
        else:
            schema = self.writers[field].schema
            table = pa.Table.from_pandas(frame, preserve_index=False).cast(schema)
        self.writers[field].write_table(table)

    def close(self) -> dict[str, str]:
        for w in self.writers.values():
            w.close()
        return {f: f"{f}.parquet" for f in self.writers}


def _orphans(frame: pd.DataFrame, claim_ids: np.ndarray,
             kept_rows: np.ndarray) -> tuple[pd.DataFrame, int, tuple[int, ...]]:
    """Rows of a diagnosis/fee chunk whose claim was kept; the others counted."""
    ids = pd.array(frame["claim_id"], dtype="Int64", copy=False).to_numpy(np.int64,
                                                                          na_value=-1)
    if len(claim_ids):
        pos = np.minimum(np.searchsorted(claim_ids, ids), len(claim_ids) - 1)
        orphan = claim_ids[pos] != ids
    else:
        orphan = np.ones(len(ids), dtype=bool)
    n = int(orphan.sum())
    if not n:
        return frame, 0, ()
    idx = np.flatnonzero(orphan)
    shown = tuple(int(r) for r in kept_rows[idx][:N_ROWS_SHOWN])
    kept = frame.drop(index=frame.index[idx]).reset_index(drop=True)
    return kept, n, shown


def _big(f: Path, fmt: str, contract: Any, chunk_rows: int) -> bool:
    """Whether `f` is read in chunks: Parquet of more than `chunk_rows` rows whose keys
    pack, or CSV of more than that or :data:`CSV_CHUNK_ROWS` (estimated at
    :data:`CSV_ROW_BYTES` a row; keys that do not pack restart the file whole)."""
    if not _chunkable(contract):
        return False
    if fmt == "csv":
        return f.stat().st_size // CSV_ROW_BYTES > min(chunk_rows, CSV_CHUNK_ROWS)
    return fmt == "parquet" and _parquet_rows(f) > chunk_rows and _keys_pack(f, contract)


def streamable(root: Path, chunk_rows: int) -> bool:
    """Whether to import file by file: every file's contract is known from its
    header, and a Parquet file has more than `chunk_rows` rows, or the files
    together have (a multi-year delivery: one file per register and year; CSV
    counted at :data:`CSV_ROW_BYTES` a row)."""
    if not root.is_dir():
        return False
    plan, _, fatal = plan_files(root)
    if fatal or any(c is None for _, _, c in plan):
        return False
    if any(_big(f, fmt, c, chunk_rows) for f, fmt, c in plan):
        return True
    rows = sum(_parquet_rows(f) if fmt == "parquet" else f.stat().st_size // CSV_ROW_BYTES
               for f, fmt, _ in plan)
    return rows > chunk_rows


def import_streaming(root: Path, dest: Path, chunk_rows: int = CHUNK_ROWS, *,
                     extraction_date: Any = None) -> Any:
    """Import `root` into `dest` file by file (large Parquet and CSV files in chunks).

    Returns the :class:`Delivery` of `dest` with its files and report but no
    frames loaded (read them with ``read_delivery(dest, columns=...)``). A CSV
    file whose chunks cannot be read with its types (:class:`Restart`) is read
    again as text chunks, or whole, and the import starts over (rare: a bad value
    or bytes that are not UTF-8 in a large file).
    """
    plan, unclassified, fatal = plan_files(root)
    raise_fatal(fatal, [], f"delivery {root}")
    again: dict[Path, str] = {}
    while True:
        writer = _Writer(dest)
        try:
            return _import(root, dest, chunk_rows, extraction_date, list(plan),
                           unclassified, again, writer)
        except Restart as r:
            again[r.path] = "text" if r.as_text else "whole"
            for part in writer.close().values():
                (dest / part).unlink()


def _import(root: Path, dest: Path, chunk_rows: int, extraction_date: Any,
            plan: list[Any], unclassified: Any, again: dict[Path, str],
            writer: _Writer) -> Any:
    fatal: list[Problem] = []
    order = {f: i for i, (f, _, _) in enumerate(plan)}
    # claims (and everything else) first, then the files that must match kept claims
    plan.sort(key=lambda p: p[2].name in _CLAIM_CHILDREN)
    dest.mkdir(parents=True, exist_ok=True)
    done: list[tuple[int, ValidationReport, dict[str, object]]] = []
    claim_parts: list[np.ndarray] = []
    claim_ids: np.ndarray | None = None
    missing: list[str] = []
    for f, fmt, contract in plan:
        name = f.name
        if contract.name in _CLAIM_CHILDREN and claim_ids is None and claim_parts:
            # (no claims file at all: nothing to match, as in a whole read)
            claim_ids = unique(np.concatenate(claim_parts))
        orphans = [0, ()]
        how: dict[str, object] = {"encoding": None, "separator": None}
        if _big(f, fmt, contract, chunk_rows) and again.get(f) != "whole":
            proj = projection_for(contract, peek_columns(f, fmt, None, None), None)
            ledger = Ledger(name, contract.name, 0)
            seen, start, chunk_reports, failed = _SeenKeys(), 1, [], False
            for raw in _raw_chunks(f, fmt, contract, proj, chunk_rows, ledger, again):
                try:
                    res = _from_raw(raw, contract, name, proj, first_row=start, seen=seen,
                                    extraction_date=extraction_date)
                except ValidationError as err:  # (a required column missing: first chunk)
                    fatal += [p for p in err.problems if isinstance(p, Problem)]
                    missing += list(getattr(err, "missing", []))
                    failed = True
                    break
                except ValueError:  # CSV keys that do not pack: check them in a whole read
                    raise Restart(f, as_text=False) from None
                start += len(raw.data)
                how = {"encoding": raw.encoding, "separator": raw.sep}
                chunk_reports.append(res.report)
                _write_result(res, contract, claim_ids, writer, claim_parts, orphans)
                del res, raw
            fatal += ledger.fatal
            if failed or ledger.fatal:
                continue
            if start == 1:
                fatal.append(no_rows(name, contract.name))
                continue
            report = _merge(name, chunk_reports)
        else:
            try:
                res = read_extract(f, contract, extraction_date=extraction_date)
            except ValidationError as err:  # collected and raised once, as read_delivery does
                fatal += [p for p in err.problems if isinstance(p, Problem)]
                missing += list(getattr(err, "missing", []))
                continue
            if int(res.report.table["rows_in"].iloc[0]) == 0:
                fatal.append(no_rows(name, contract.name))
                continue
            how = {"encoding": res.encoding, "separator": res.sep}
            _write_result(res, contract, claim_ids, writer, claim_parts, orphans)
            report = res.report
            del res
        n, shown = orphans
        if n:
            report = exclude_orphans(report, name, int(n), tuple(shown))
        done.append((order[f], report, {
            "file": name, "contract": contract.name, "format": fmt, **how,
            "rows": int(report.table["rows_in"].iloc[0]), "sha256": _sha256(f)}))
    raise_fatal(fatal, missing, f"delivery {root}")
    written = writer.close()
    done.sort(key=lambda d: d[0])  # the report in file order, as a whole read gives it
    report = ValidationReport.combine([d[1] for d in done], unclassified=unclassified)
    files_frame = pd.DataFrame([d[2] for d in done], columns=_FILE_COLUMNS)
    write_manifest(dest, root, written, files_frame, report)
    return Delivery(path=root, files=files_frame, report=report)


def _write_result(res: Any, contract: Any, claim_ids: np.ndarray | None, writer: _Writer,
                  claim_parts: list[np.ndarray], orphans: list[Any]) -> None:
    """Write one file's (or chunk's) frames; collect kept claim ids; drop orphans."""
    for field, frame in res.frames.items():
        if field == "kuhr_claims":
            claim_parts.append(unique(pd.array(frame["claim_id"], dtype="Int64")
                                         .to_numpy(np.int64, na_value=-1)))
        if contract.name in _CLAIM_CHILDREN and claim_ids is not None:
            frame, n, shown = _orphans(frame, claim_ids, res._kept_rows)
            orphans[0] += n
            orphans[1] = (*orphans[1], *shown)[:N_ROWS_SHOWN]
        if len(frame) or field not in writer.writers:
            writer.write(field, frame)
