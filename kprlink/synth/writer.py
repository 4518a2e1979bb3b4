"""Incremental delivery writers: ``;``-separated UTF-8 CSV or Parquet.

Each delivery file is written chunk by chunk (``pyarrow.csv.CSVWriter`` or
``pyarrow.parquet.ParquetWriter``) so memory stays bounded at any scale. CSV
headers are written unquoted, as providers do; values are quoted only where
needed, dates are ``YYYY-MM-DD`` and missing values are empty.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import IO

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


class FileSink:
    """One delivery file written in chunks; counts its data rows.

    Parameters
    ----------
    path : Path
        Target file (suffix decides nothing; ``fmt`` does).
    schema : pyarrow.Schema
        Columns as delivered.
    fmt : {"csv", "parquet"}
        Output format.
    bom : bool, default False
        Start a CSV file with a UTF-8 byte-order mark (an injected defect).
    """

    def __init__(self, path: Path, schema: pa.Schema, fmt: str, *, bom: bool = False) -> None:
        self.path = path
        self.schema = schema
        self.fmt = fmt
        self.rows = 0
        self._fh: IO[bytes] | None = None
        if fmt == "csv":
            self._fh = open(path, "wb")  # noqa: SIM115 - closed in close()
            if bom:
                self._fh.write(b"\xef\xbb\xbf")
            self._fh.write((";".join(schema.names) + "\n").encode("utf-8"))
            self._writer: pacsv.CSVWriter | pq.ParquetWriter = pacsv.CSVWriter(
                self._fh, schema,
                write_options=pacsv.WriteOptions(include_header=False, delimiter=";",
                                                 quoting_style="needed"))
        else:
            self._writer = pq.ParquetWriter(path, schema, compression="zstd")

    def write(self, table: pa.Table) -> int:
        """Append ``table``; returns the 0-based row offset it was written at."""
        offset = self.rows
        if table.num_rows:
            self._writer.write_table(table.cast(self.schema))
        self.rows += table.num_rows
        return offset

    def close(self) -> None:
        """Flush and close the file."""
        self._writer.close()
        if self._fh is not None:
            self._fh.close()


def write_small(df: pd.DataFrame, path: Path, *, sep: str = ";", encoding: str = "utf-8"
                ) -> None:
    """Write a small table as CSV (for SSB/Klass files and truth)."""
    df.to_csv(path, sep=sep, index=False, encoding=encoding, lineterminator="\n")


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
