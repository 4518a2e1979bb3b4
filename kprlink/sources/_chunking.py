"""What reading a file in chunks carries from chunk to chunk (internal).

Shared by the streaming import (:mod:`kprlink.sources._import_stream`) and the
raw delivery's batched reads (:mod:`kprlink.sources._read_chunks`): the unique
keys of earlier chunks, one report from the chunks' reports, and which files
can be read so.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kprlink._unique import unique
from kprlink.exceptions import Problem
from kprlink.sources._keys import key_limits
from kprlink.sources.validation import (
    _REASON_COLUMNS,
    _TABLE_COLUMNS,
    N_ROWS_SHOWN,
    ValidationReport,
)

__all__: list[str] = []


class _SeenKeys:
    """Unique keys of earlier chunks: sorted arrays with their ranges.

    A chunk is compared only with earlier chunks whose key range overlaps its
    own, so a file sorted by its key costs nothing.
    """

    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []

    def earlier(self, keys: np.ndarray) -> np.ndarray:
        """Rows whose key (>= 0) occurs in an earlier chunk; then remember these keys."""
        out = np.zeros(len(keys), dtype=bool)
        ok = keys >= 0
        if ok.any():
            lo, hi = int(keys[ok].min()), int(keys[ok].max())
            for part in self.parts:
                if len(part) and part[0] <= hi and part[-1] >= lo:
                    pos = np.minimum(np.searchsorted(part, keys), len(part) - 1)
                    out |= ok & (part[pos] == keys)
            self.parts.append(unique(keys[ok]))
        return out


def _merge(file: str, reports: list[ValidationReport]) -> ValidationReport:
    """One report for a file read in chunks."""
    table = pd.concat([r.table for r in reports], ignore_index=True)
    sums = table[["rows_in", "kept", "repaired", "excluded"]].sum()
    head = pd.DataFrame([{"file": file, "contract": table["contract"].iloc[0],
                          **{c: int(sums[c]) for c in sums.index}}], columns=_TABLE_COLUMNS)
    reasons = [r.reasons for r in reports if len(r.reasons)]
    if reasons:
        allr = pd.concat(reasons, ignore_index=True)
        keys = ["file", "contract", "action", "reason", "column"]
        allr["_order"] = np.arange(len(allr))
        merged = (allr.fillna({"column": "\0"}).groupby(keys, sort=False, dropna=False)
                  .agg(n_rows=("n_rows", "sum"), _order=("_order", "min"))
                  .reset_index().sort_values("_order"))
        merged["column"] = merged["column"].replace("\0", None)
        reason_frame = merged[_REASON_COLUMNS].reset_index(drop=True)
        reason_frame["n_rows"] = reason_frame["n_rows"].astype("int64")
    else:
        reason_frame = pd.DataFrame(columns=_REASON_COLUMNS)
    problems: dict[tuple, Problem] = {}
    for r in reports:
        for p in r.problems:
            k = (p.file, p.column, p.reason, p.message, p.hint)
            if k in problems:
                q = problems[k]
                problems[k] = replace(q, rows=(q.rows + p.rows)[:N_ROWS_SHOWN],
                                      n_rows=q.n_rows + p.n_rows)
            else:
                problems[k] = p
    return ValidationReport(table=head, reasons=reason_frame,
                            problems=tuple(problems.values()),
                            fatal=tuple(p for r in reports for p in r.fatal))


def _chunkable(contract: Any) -> bool:
    """Files of `contract` can be read in chunks: unique keys are integer columns
    (checked across chunks packed into one int64), no single-file legacy split, not
    the key file (its repeated and one-to-many pairs are checked over the whole file;
    three integer columns, small even for the whole country)."""
    kinds = {c.name: c.dtype for c in contract.columns}
    return contract.file not in ("legacy", "key") and all(
        kinds.get(k) in ("int", "small") for k in contract.unique)


def _keys_pack(f: Path, contract: Any) -> bool:
    """Whether the file's key columns are delivered as integers whose range (Parquet
    statistics) packs into one int64 (see :func:`packed_keys`)."""
    import pyarrow.parquet as pq

    if not contract.unique:
        return True
    meta = pq.ParquetFile(f).metadata
    header = [meta.schema.column(i).name for i in range(meta.num_columns)]
    delivered = {canon: name for name, canon in contract.resolve(header).items()}
    for key, limit in zip(contract.unique, key_limits(len(contract.unique)), strict=True):
        if key not in delivered:  # absent: no key to check (NPR: ids from the row order)
            continue
        i = header.index(delivered[key])
        for g in range(meta.num_row_groups):
            col = meta.row_group(g).column(i)
            st = col.statistics
            if (col.physical_type not in ("INT32", "INT64") or st is None
                    or not st.has_min_max or st.min < 0 or st.max >= limit):
                return False
    return True


def _parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)
