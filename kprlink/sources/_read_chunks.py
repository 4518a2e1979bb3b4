"""A large Parquet file of a raw delivery read in record batches (internal).

:func:`kprlink.sources.read_delivery` reads a Parquet file of more than
:data:`READ_CHUNK_ROWS` rows batch by batch (``ParquetFile.iter_batches``, only
the projected columns): each batch is converted and checked as a whole file is
(:func:`~kprlink.sources.extract._from_raw`, row numbers continued across
batches, unique keys compared with every earlier batch), and only its kept,
projected canonical rows stay. So the intermediate copies of a conversion (the
delivered batch, its masks, the unconverted text) never span more than one
batch, and memory is bounded by the result plus one batch. The report is the
whole file's: one row, reasons summed over batches, the first row numbers of
each problem (the rule the streaming import follows, with which it shares the
code: :mod:`kprlink.sources._chunking`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kprlink.sources._chunking import (
    _chunkable,
    _keys_pack,
    _merge,
    _parquet_rows,
    _SeenKeys,
)
from kprlink.sources._projection import projection_for
from kprlink.sources._registry import FIELD_OF
from kprlink.sources.extract import ExtractResult, _from_raw, peek_columns
from kprlink.sources.readers import RawFrame, _to_pandas
from kprlink.sources.validation import ValidationReport

__all__: list[str] = []

#: Above this many rows a Parquet file is read in batches of this size.
READ_CHUNK_ROWS = 1 << 21


def chunked(f: Path, fmt: str, contract: Any, chunk_rows: int | None = None) -> bool:
    """Whether `f` is read in batches: Parquet, a contract whose keys can be checked
    across batches, more than `chunk_rows` rows."""
    rows = READ_CHUNK_ROWS if chunk_rows is None else chunk_rows
    return (fmt == "parquet" and contract is not None and _chunkable(contract)
            and _parquet_rows(f) > rows and _keys_pack(f, contract))


def read_batches(f: Path, contract: Any,
                 columns: Mapping[str, Collection[str] | None] | None,
                 extraction_date: Any = None,
                 chunk_rows: int | None = None) -> ExtractResult:
    """:func:`~kprlink.sources.read_extract` of a large Parquet file, batch by batch
    (same frames, kept rows and report; raises as it does on a fatal problem)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = READ_CHUNK_ROWS if chunk_rows is None else chunk_rows
    proj = projection_for(contract, peek_columns(f, "parquet", None, None), columns)
    seen, start = _SeenKeys(), 1
    reports, kept, parts = [], [], {}
    res = None
    pf = pq.ParquetFile(f)
    cols = list(proj.delivered) if proj.delivered is not None else None
    for batch in pf.iter_batches(batch_size=rows, columns=cols):
        raw = RawFrame(_to_pandas(pa.Table.from_batches([batch])), "parquet", None, None)
        del batch
        res = _from_raw(raw, contract, f.name, proj, first_row=start, seen=seen,
                        extraction_date=extraction_date)
        start += len(raw.data)
        del raw
        reports.append(res.report)
        kept.append(res._kept_rows)  # type: ignore[attr-defined]
        for field_, frame in res.frames.items():
            parts.setdefault(field_, []).append(frame)
    assert res is not None  # _big: more rows than one batch
    frames = {k: _concat(v) for k, v in parts.items()}
    main = "npr_episodes" if "npr_episodes" in frames else FIELD_OF[contract.name]
    out = ExtractResult(data=frames[main], report=_in_call_order(_merge(f.name, reports),
                                                                 reports),
                        contract=contract, format="parquet", frames=frames)
    object.__setattr__(out, "_kept_rows", np.concatenate(kept))
    return out


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """One frame of a file's batches (a fresh RangeIndex)."""
    if len(parts) == 1:
        return parts[0]
    out = pd.concat(parts, ignore_index=True)
    parts.clear()
    return out


def _merged_order(sequences: list[list[Any]]) -> dict[Any, int]:
    """One order of keys that keeps the order of every sequence (each batch's reasons
    are the checks that found rows, in the order the checks ran)."""
    order: list[Any] = []
    for seq in sequences:
        at = -1
        for k in seq:
            if k in order:
                at = order.index(k)
            else:
                at += 1
                order.insert(at, k)
    return {k: i for i, k in enumerate(order)}


def _in_call_order(report: ValidationReport, reports: list[ValidationReport]
                   ) -> ValidationReport:
    """`report` (merged over batches) with reasons and problems in the order a whole
    read records them: a reason found only in a later batch is not put last."""
    def keys(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
        return [tuple(None if v is None or v != v else v for v in t)  # NaN: no column
                for t in frame[["action", "reason", "column"]].itertuples(index=False,
                                                                          name=None)]

    rank = _merged_order([keys(r.reasons) for r in reports])
    reasons = report.reasons
    if len(reasons) > 1:
        pos = [rank[k] for k in keys(reasons)]
        reasons = reasons.iloc[np.argsort(pos, kind="stable")].reset_index(drop=True)

    def key(p: Any) -> tuple[Any, ...]:
        return (p.column, p.reason, p.message, p.hint)

    prank = _merged_order([[key(p) for p in r.problems] for r in reports])
    problems = tuple(sorted(report.problems, key=lambda p: prank[key(p)]))
    return replace(report, reasons=reasons, problems=problems)
