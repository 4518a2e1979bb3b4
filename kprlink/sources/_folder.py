"""The Parquet frames of an imported delivery read as Arrow tables (internal).

Used by :class:`~kprlink.sources.lazy.ImportedDelivery` and the cohort
builder's fast path (:mod:`kprlink.cohorts._imported`). Kept in ``sources`` so
that nothing in ``sources`` imports from ``cohorts`` (the house is one-way).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kprlink.sources._manifest import load_manifest
from kprlink.sources.delivery import _to_frame

__all__: list[str] = []


class _Folder:
    """The Parquet frames of an imported delivery, read as Arrow tables."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: dict[str, str] = load_manifest(root)["frames"]
        self._schemas: dict[str, Any] = {}

    def schema(self, field: str) -> Any:
        """The stored Arrow schema of `field` (read once)."""
        import pyarrow.parquet as pq

        if field not in self._schemas:
            self._schemas[field] = pq.read_schema(self.root / self.files[field])
        return self._schemas[field]

    def read(self, field: str, wanted: Any) -> Any:
        """Arrow table of `field` (None when not delivered): text as dictionaries."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if field not in self.files:
            return None
        path = self.root / self.files[field]
        schema = self.schema(field)
        cols = [f.name for f in schema if wanted is None or f.name in wanted]
        text = [f.name for f in schema if f.name in cols
                and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))]
        # ParquetFile.read: columns as few large chunks (views, no concatenation)
        return pq.ParquetFile(path, read_dictionary=text, pre_buffer=False).read(columns=cols)


def _frame(table: Any, rows: np.ndarray, path_schema: Any) -> pd.DataFrame:
    """Rows `rows` (positions) of `table` as the frame :func:`read_delivery` would give."""
    import pyarrow as pa

    table = table.take(pa.array(rows))
    target = pa.schema([path_schema.field(n) for n in table.column_names],
                       metadata=path_schema.metadata)
    return _to_frame(table.cast(target))
