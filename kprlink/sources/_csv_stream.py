"""A large CSV file read in chunks of rows, with bounded memory (internal).

The streaming import (:mod:`~kprlink.sources._import_stream`) reads a CSV file
larger than its chunk size with Arrow's streaming CSV reader: blocks of the file
are parsed (in parallel) into record batches with the same explicit types a
whole read uses (:func:`~kprlink.sources.readers.column_types`), gathered into
chunks of about ``rows`` rows and handed over one at a time, so memory holds one
chunk, not the file. A whole read (:func:`~kprlink.sources.readers.read_raw`)
falls back when a value does not parse as its type (the file read again as
text) or bytes are not UTF-8 (fields repaired); a stream cannot go back, so it
raises :class:`Restart` and the import reads the file again: as text chunks
(what the whole read does after a bad value, chunk by chunk) or, for
encoding repairs, whole.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from kprlink.sources._contract import Contract
from kprlink.sources.readers import (
    Ledger,
    RawFrame,
    _to_pandas,
    _utf8_message,
    column_types,
    csv_options,
    csv_setup,
)

__all__: list[str] = []

#: Bytes per parsed block (each block becomes one record batch).
BLOCK_BYTES = 1 << 24


class Restart(Exception):
    """The file must be read again: as text chunks (``as_text``) or whole."""

    def __init__(self, path: Path, *, as_text: bool) -> None:
        super().__init__(f"{path.name}: read again {'as text' if as_text else 'whole'}")
        self.path, self.as_text = path, as_text


def csv_chunks(path: Path, contract: Contract, columns: Sequence[str] | None, rows: int,
               ledger: Ledger, *, as_text: bool = False) -> Iterator[RawFrame]:
    """The rows of a CSV file (delivered names) in chunks of at least `rows` rows
    (the last one fewer), as :func:`read_raw` reads a whole file.

    Yields nothing when the header is unusable (the reason is in ``ledger.fatal``)
    or the file has no rows.
    Raises :class:`Restart` when a block cannot be read with the types given.
    """
    setup = csv_setup(path, None, None, ledger)
    if setup is None:
        return
    enc, header, sep = setup
    types = {c: pa.string() for c in header} if as_text else column_types(header, contract)
    read, parse, conv = csv_options(enc, header, sep, types, columns, BLOCK_BYTES)
    buf: list[pa.RecordBatch] = []
    n = 0
    try:
        reader = pacsv.open_csv(path, read_options=read, parse_options=parse,
                                convert_options=conv)
        schema = reader.schema
        for batch in reader:
            buf.append(batch)
            n += batch.num_rows
            if n >= rows:
                table, buf, n = pa.Table.from_batches(buf, schema), [], 0
                yield RawFrame(_to_pandas(table), "csv", enc, sep)
    except (pa.ArrowInvalid, UnicodeDecodeError) as err:
        # text that is not UTF-8 fails the same way as text: read whole (repairs);
        # a malformed line as text too: the whole read reports it (fatal)
        raise Restart(path, as_text=not as_text and not _utf8_message(str(err))) from None
    if buf:
        yield RawFrame(_to_pandas(pa.Table.from_batches(buf, schema)), "csv", enc, sep)
