"""Text encodings of CSV deliveries: decided per file, repaired per field (internal).

Deliveries come in UTF-8, UTF-8 with BOM or latin-1 (cp1252), and now and then
a UTF-8 file holds a few latin-1 bytes (one field typed in on a Windows
machine). Re-decoding such a file as latin-1 turns every ``ø`` of the rest into
``Ã¸``; so the file is read as UTF-8 and only the fields that are not valid
UTF-8 are decoded as cp1252 (their rows counted as repaired). A file in which
no non-ASCII field is valid UTF-8 is a latin-1 file and is read as one.

Header names are decoded field by field the same way, so ``kjønn`` and
``fødselsår`` match their aliases whatever the encoding.
"""

from __future__ import annotations

import codecs
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["sniff_encoding", "decode_field", "split_header", "repair_fields"]

# a lead byte followed by its continuation bytes: a well-formed multi-byte UTF-8 character
_UTF8_SEQ = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|"
                       rb"[\xf0-\xf4][\x80-\xbf]{3}")


def sniff_encoding(sample: bytes) -> str:
    """``utf-8-sig`` with a BOM; ``utf-8`` when `sample` decodes or holds UTF-8
    characters beside stray bytes; else ``latin-1``.

    >>> sniff_encoding("kjønn".encode("latin-1")), sniff_encoding(b"\\xef\\xbb\\xbfa;b")
    ('latin-1', 'utf-8-sig')
    >>> sniff_encoding("Trøndelag;".encode() + "Bodø".encode("latin-1"))
    'utf-8'
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return "utf-8" if _UTF8_SEQ.search(sample) else "latin-1"
    return "utf-8"


def decode_field(raw: bytes, encoding: str) -> str:
    """One field's text: UTF-8 when it is valid UTF-8, else cp1252 (latin-1 for the
    bytes cp1252 leaves undefined).

    >>> decode_field("kjønn".encode("latin-1"), "utf-8"), decode_field("kjønn".encode(), "latin-1")
    ('kjønn', 'kjønn')
    """
    if raw.isascii():
        return raw.decode("ascii")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if encoding not in ("utf-8", "utf-8-sig", "latin-1", "cp1252", "iso-8859-1"):
        return raw.decode(encoding, errors="replace")
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def split_header(line: bytes, sep: str, encoding: str) -> list[str]:
    """Column names of a header line (bytes), each decoded on its own."""
    line = line.removeprefix(codecs.BOM_UTF8).rstrip(b"\r\n")
    if encoding not in ("utf-8", "utf-8-sig", "latin-1", "cp1252", "iso-8859-1"):
        text = line.decode(encoding, errors="replace")
        return [h.strip().strip('"') for h in text.split(sep)]
    return [decode_field(b, encoding).strip().strip('"')
            for b in line.split(sep.encode("ascii"))]


def _non_ascii(values: pa.ChunkedArray) -> np.ndarray:
    """Rows of a text column holding a byte >= 0x80."""
    text = pc.cast(values, pa.string())
    longer = pc.not_equal(pc.binary_length(values), pc.utf8_length(text))
    return np.asarray(longer.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _high_rows(chunk: pa.Array) -> np.ndarray:
    """Positions in a binary chunk whose value holds a byte >= 0x80 (no Python loop)."""
    _validity, offsets_buf, data_buf = chunk.buffers()[:3]
    if data_buf is None or len(chunk) == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.frombuffer(offsets_buf, dtype=np.int32)[chunk.offset:
                                                         chunk.offset + len(chunk) + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0]:offsets[-1]]
    high = np.flatnonzero(data >= 0x80) + offsets[0]
    return np.unique(np.searchsorted(offsets, high, side="right") - 1)


_LOOSE = pc.CastOptions(pa.string(), allow_invalid_utf8=True)


def repair_fields(table: pa.Table) -> tuple[pa.Table, str, tuple[tuple[str, np.ndarray], ...]]:
    """Decode a CSV read with binary columns: the file's encoding and repaired rows.

    Returns the table with string columns, ``"utf-8"`` or ``"latin-1"``, and
    for a UTF-8 file, ``(column, rows)`` for each column where some fields were
    not valid UTF-8 (decoded as cp1252). Only fields with a byte >= 0x80 are
    decoded one by one.
    """
    cols: dict[str, pa.ChunkedArray] = {}
    # column -> per chunk: (positions with high bytes, their raw values, which are not UTF-8)
    bad: dict[str, list[tuple[pa.Array, np.ndarray, list[bytes], np.ndarray]]] = {}
    utf8_seen = False
    for name in table.column_names:
        values = table.column(name)
        try:
            cols[name] = pc.cast(values, pa.string())
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            parts = []
            for chunk in values.chunks:
                rows = _high_rows(chunk)
                raw = chunk.take(pa.array(rows)).to_pylist()
                flags = np.zeros(len(rows), dtype=bool)
                for i, b in enumerate(raw):
                    try:
                        b.decode("utf-8")
                        utf8_seen = True
                    except UnicodeDecodeError:
                        flags[i] = True
                parts.append((chunk, rows, raw, flags))
            bad[name] = parts
            continue
        if not utf8_seen and _non_ascii(values).any():
            utf8_seen = True
    encoding = "utf-8" if utf8_seen else "latin-1"
    repairs: list[tuple[str, np.ndarray]] = []
    for name, parts in bad.items():
        chunks, masks = [], []
        for chunk, rows, raw, flags in parts:
            if encoding == "latin-1":
                fixed = [b.decode("latin-1") for b in raw]
            else:
                fixed = [decode_field(b, "utf-8") for b in raw]
            mask = np.zeros(len(chunk), dtype=bool)
            mask[rows] = True
            loose = pc.cast(chunk, options=_LOOSE)
            chunks.append(pc.replace_with_mask(loose, pa.array(mask), pa.array(fixed, pa.string()))
                          if len(rows) else loose)
            repaired = np.zeros(len(chunk), dtype=bool)
            repaired[rows[flags]] = True
            masks.append(repaired)
        cols[name] = pa.chunked_array(chunks, pa.string())
        if encoding == "utf-8":
            repairs.append((name, np.concatenate(masks) if masks else np.zeros(0, bool)))
    out = pa.table({n: cols[n] for n in table.column_names})
    return out, encoding, tuple(repairs)
