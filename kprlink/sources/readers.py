"""Raw readers: file formats, encodings and separators.

Supported formats (by file suffix, Parquet also by its magic bytes):

=========  ==============================  ===================================
format     suffixes                        reader
=========  ==============================  ===================================
csv        .csv .txt .dsv .tsv             pyarrow's multi-threaded CSV reader
parquet    .parquet .pq                    pyarrow
sas7bdat   .sas7bdat                       pyreadstat (encoding from the file)
xport      .xpt .xport                     pyreadstat (SAS transport)
spss       .sav .zsav                      pyreadstat
stata      .dta                            pyreadstat
=========  ==============================  ===================================

CSV encodings are UTF-8, UTF-8 with BOM or latin-1, decided per file and
repaired per field (:mod:`~kprlink.sources._encoding`): a BOM means UTF-8; a
sample with UTF-8 characters is UTF-8; when bytes that are not UTF-8 turn up,
only those fields are decoded as cp1252 and their rows counted as repaired
(``encoding_repaired``), unless no field of the file is UTF-8 at all (then the
file is latin-1). Header names are decoded field by field, so ``kjønn`` matches
its alias in any encoding. The separator is the most frequent of ``;``, ``,``,
tab and ``|`` in the header line.

CSV columns are read with explicit types from the contract (numbers as
integers or floats, dates as timestamps, everything else as strings); when a
value does not parse, the file is read again as text so that every bad value
can be reported with its row number.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from kprlink.sources._contract import Contract
from kprlink.sources._encoding import (
    decode_field,
    repair_fields,
    sniff_encoding,
    split_header,
)

__all__ = ["RawFrame", "detect_format", "sniff_encoding", "sniff_separator", "read_raw",
           "read_header", "check_separator", "FORMATS"]

FORMATS: dict[str, tuple[str, ...]] = {
    "csv": (".csv", ".txt", ".dsv", ".tsv"),
    "parquet": (".parquet", ".pq"),
    "sas7bdat": (".sas7bdat",),
    "xport": (".xpt", ".xport"),
    "spss": (".sav", ".zsav"),
    "stata": (".dta",),
}
_SEPARATORS = (";", ",", "\t", "|")
_SAMPLE = 1 << 16
_NULLS = ["", "NA", "N/A", "NULL", "null", "NaN", "nan", "."]


class Ledger(Protocol):
    """Where a reader records why a file is unusable (a validation ``Ledger``).

    Readers sit below validation (``readers -> validation -> delivery -> import``):
    they only need this one method, not the validation module.
    """

    def fail(self, reason: str, column: str | None, message: str, hint: str = "") -> None:
        """Record a fatal problem: the file is unusable."""


@dataclass(frozen=True)
class RawFrame:
    """A file as delivered (delivered column names), with how it was read."""

    data: pd.DataFrame
    format: str
    encoding: str | None
    sep: str | None
    #: (delivered column, rows) whose fields were not UTF-8 and were decoded as cp1252.
    repairs: tuple[tuple[str, np.ndarray], ...] = ()


def detect_format(path: str | Path) -> str | None:
    """The format of `path` from its suffix (Parquet also from magic bytes).

    >>> detect_format("kpr_kuhr_regninger.csv"), detect_format("npr.sas7bdat")
    ('csv', 'sas7bdat')
    """
    p = Path(path)
    suffix = p.suffix.lower()
    for fmt, suffixes in FORMATS.items():
        if suffix in suffixes:
            return fmt
    if p.is_file():
        with p.open("rb") as fh:
            if fh.read(4) == b"PAR1":
                return "parquet"
    return None


def sniff_separator(header: str) -> str:
    """The most frequent of ``;``, ``,``, tab and ``|`` in a header line.

    >>> sniff_separator("aar;kpr_lnr;dato"), sniff_separator("age,sex,calyear")
    (';', ',')
    """
    counts = {s: header.count(s) for s in _SEPARATORS}
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] else ";"


def read_header(path: Path, encoding: str) -> str:
    """The first line of a text file, decoded field by field (see ``_encoding``)."""
    with path.open("rb") as fh:
        first = fh.readline(1 << 20)
    return decode_field(first.removeprefix(codecs.BOM_UTF8).rstrip(b"\r\n"), encoding)


def header_names(path: Path, encoding: str, sep: str | None) -> tuple[list[str], str]:
    """Delivered column names of a CSV file and the separator (given or sniffed)."""
    with path.open("rb") as fh:
        first = fh.readline(1 << 20)
    line = first.decode("latin-1")  # separators are ASCII: any 8-bit decoding finds them
    use = sep or sniff_separator(line)
    return split_header(first, use, encoding), use


def check_separator(path: Path, encoding: str | None, sep: str, ledger: Ledger) -> bool:
    """False (and a fatal problem) when `sep` gives one column but another fits."""
    with path.open("rb") as fh:
        enc = encoding or sniff_encoding(fh.read(_SAMPLE))
    line = read_header(path, enc)
    sniffed = sniff_separator(line)
    if line.count(sep) == 0 and sniffed != sep and line.count(sniffed):
        ledger.fail("wrong_separator", None,
                    f"separator {sep!r} gives one column, but the header looks "
                    f"{sniffed!r}-separated",
                    f"Pass sep={sniffed!r} (or leave sep out to detect it).")
        return False
    return True


def column_types(header: list[str], contract: Contract | None) -> dict[str, pa.DataType]:
    types: dict[str, pa.DataType] = {c: pa.string() for c in header}
    if contract is None:
        return types
    arrow = {"int": pa.int64(), "small": pa.int64(), "float": pa.float64(),
             "date": pa.timestamp("s")}
    for delivered, canon in contract.resolve(header).items():
        t = arrow.get(contract.column(canon).dtype)
        if t is not None and not (canon == "date" and contract.file == "legacy"):
            types[delivered] = t
    return types


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    def mapper(t: pa.DataType) -> object:
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            return pd.StringDtype("pyarrow")
        if pa.types.is_integer(t):
            return pd.Int64Dtype()
        if pa.types.is_boolean(t):
            return pd.BooleanDtype()
        return None

    df = table.to_pandas(types_mapper=mapper, self_destruct=True, date_as_object=False)
    for c in df.columns:
        if pd.api.types.is_datetime64_any_dtype(df[c].dtype) and df[c].dtype != "datetime64[ns]":
            s = df[c]
            ok = (s.isna() | ((s >= pd.Timestamp("1800-01-01")) &
                              (s < pd.Timestamp("2262-01-01")))).all()
            if ok:
                df[c] = s.astype("datetime64[ns]")
    return df


def csv_setup(path: Path, encoding: str | None, sep: str | None, ledger: Ledger
              ) -> tuple[str, list[str], str] | None:
    """(encoding, header, separator) of a CSV file, or None (and a fatal problem in
    `ledger`) when the separator does not fit or column names repeat."""
    with path.open("rb") as fh:
        sample = fh.read(_SAMPLE)
    enc = encoding or sniff_encoding(sample)
    if sep is not None and not check_separator(path, enc, sep, ledger):
        return None
    header, use_sep = header_names(path, enc, sep)
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        ledger.fail("duplicate_column", None, f"duplicate column names {dupes}",
                    "Rename the duplicated columns.")
        return None
    return enc, header, use_sep


def csv_options(enc: str, header: list[str], sep: str, types: dict[str, pa.DataType],
                columns: Sequence[str] | None, block_size: int = 1 << 24
                ) -> tuple[pacsv.ReadOptions, pacsv.ParseOptions, pacsv.ConvertOptions]:
    """Arrow's CSV options for a file as kprlink reads it (names as decoded by
    :func:`header_names`, field by field, not as Arrow decodes the header)."""
    read = pacsv.ReadOptions(encoding="utf8" if enc in ("utf-8", "utf-8-sig") else enc,
                             block_size=block_size, column_names=header, skip_rows=1)
    conv = pacsv.ConvertOptions(column_types=types, strings_can_be_null=True,
                                include_columns=list(columns) if columns is not None
                                else None, null_values=_NULLS,
                                quoted_strings_can_be_null=True,
                                timestamp_parsers=[pacsv.ISO8601])
    return read, pacsv.ParseOptions(delimiter=sep), conv


def _read_csv(path: Path, contract: Contract | None, encoding: str | None, sep: str | None,
              ledger: Ledger, columns: Sequence[str] | None = None) -> RawFrame | None:
    setup = csv_setup(path, encoding, sep, ledger)
    if setup is None:
        return None
    enc, header, use_sep = setup

    def attempt(enc_: str, types: dict[str, pa.DataType]) -> pa.Table:
        read, parse, conv = csv_options(enc_, header, use_sep, types, columns)
        return pacsv.read_csv(path, read_options=read, parse_options=parse,
                              convert_options=conv)

    typed = column_types(header, contract)
    text = {c: pa.string() for c in header}
    last: Exception | None = None
    for types in (typed, text):
        try:
            return RawFrame(_to_pandas(attempt(enc, types)), "csv", enc, use_sep)
        except (pa.ArrowInvalid, UnicodeDecodeError) as err:
            last = err
            if _utf8_message(str(err)):
                break  # reading the text again fails the same way
    msg = str(last).splitlines()[0] if last else "unknown error"
    utf8_error = _utf8_message(msg)
    if encoding is None and enc == "utf-8" and utf8_error:
        # stray bytes that are not UTF-8: decide the file, repair only those fields
        try:
            raw = attempt("utf-8", {c: pa.binary() for c in header})
        except pa.ArrowInvalid as err:
            msg, utf8_error = str(err).splitlines()[0], False
        else:
            table, decided, repairs = repair_fields(raw)
            table = _typed_where_possible(table, typed)
            return RawFrame(_to_pandas(table), "csv", decided, use_sep, repairs)
    msg = _masked(msg)
    if utf8_error:
        ledger.fail("wrong_encoding", None, f"text is not valid {enc}: {msg}",
                    "Pass encoding='latin-1' (or leave encoding out to detect it).")
    else:
        rows = _rows_with_other_field_count(path, use_sep, len(header))
        where = (f" (data rows {', '.join(map(str, rows[0]))}"
                 f"{f'; {rows[1]:,} in all' if rows[1] > len(rows[0]) else ''})"
                 if rows[1] else "")
        ledger.fail("unreadable", None, f"cannot parse as CSV: {msg}{where}",
                    "Check the separator, quoting and number of fields per line.")
    return None


def _utf8_message(msg: str) -> bool:
    """Whether an Arrow CSV error is about text that is not UTF-8."""
    return "UTF8" in msg or "utf-8" in msg.lower()


def _typed_where_possible(table: pa.Table, types: dict[str, pa.DataType]) -> pa.Table:
    """Text columns cast to the contract's Arrow type where every value parses (as the
    typed read gives them); a column with a bad value stays text (reported later)."""
    import pyarrow.compute as pc

    for i, name in enumerate(table.column_names):
        want = types.get(name)
        if want is None or want == pa.string():
            continue
        try:
            col = pc.cast(table.column(i), want)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        table = table.set_column(i, name, col)
    return table


def _masked(msg: str) -> str:
    """An Arrow error message without the delivered text it quotes (it may hold ids).

    >>> _masked("CSV parse error: Expected 3 columns, got 4: 2;12;d1;extra")
    'CSV parse error: Expected 3 columns, got 4'
    """
    msg = re.sub(r"(got \d+): .*$", r"\1", msg)
    return re.sub(r"(invalid value) '.*?'", r"\1", msg)


def _rows_with_other_field_count(path: Path, sep: str, n_fields: int
                                 ) -> tuple[tuple[int, ...], int]:
    """First data rows (1-based) whose number of fields is not `n_fields`, and how many.

    Lines with a quote are skipped (a quoted separator or line break is legal).
    """
    shown: list[int] = []
    n = 0
    bsep = sep.encode("ascii", errors="ignore") or b";"
    with path.open("rb") as fh:
        fh.readline()
        for i, line in enumerate(fh, start=1):
            line = line.rstrip(b"\r\n")
            if not line or b'"' in line or line.count(bsep) + 1 == n_fields:
                continue
            n += 1
            if len(shown) < 5:
                shown.append(i)
    return tuple(shown), n


def _read_sas7bdat(path: Path, encoding: str | None) -> pd.DataFrame:
    import pyreadstat

    df, _meta = pyreadstat.read_sas7bdat(str(path), encoding=encoding,
                                         dates_as_pandas_datetime=True)
    return df


def _read_stat(path: Path, fmt: str, encoding: str | None) -> tuple[pd.DataFrame, str | None]:
    import pyreadstat

    if fmt == "sas7bdat":
        return _read_sas7bdat(path, encoding), encoding
    reader = {"xport": pyreadstat.read_xport, "spss": pyreadstat.read_sav,
              "stata": pyreadstat.read_dta}[fmt]
    kwargs: dict[str, object] = {"dates_as_pandas_datetime": True}
    if encoding:
        kwargs["encoding"] = encoding
    df, meta = reader(str(path), **kwargs)
    return df, encoding or getattr(meta, "file_encoding", None)


def read_raw(path: str | Path, *, contract: Contract | None, ledger: Ledger,
             encoding: str | None = None, sep: str | None = None,
             fmt: str | None = None,
             columns: Sequence[str] | None = None) -> RawFrame | None:
    """Read `path` with its delivered column names; fatal problems go to `ledger`.

    `columns` (delivered names) limits what is read: CSV and Parquet read only
    those columns, other formats read every column and keep those.
    Returns None when the file cannot be read (the reason is in ``ledger.fatal``).
    """
    p = Path(path)
    fmt = fmt or detect_format(p)
    if fmt is None:
        ledger.fail("unknown_format", None,
                    f"unknown file format {p.suffix!r}",
                    f"Use one of {', '.join(s for v in FORMATS.values() for s in v)}.")
        return None
    if fmt == "csv":
        return _read_csv(p, contract, encoding, sep, ledger, columns)
    try:
        if fmt == "parquet":
            return RawFrame(_to_pandas(_read_parquet_table(p, columns)), "parquet", None,
                            None)
        df, enc = _read_stat(p, fmt, encoding)
        if columns is not None:
            df = df[[c for c in df.columns if c in set(columns)]]
    except (OSError, ValueError, pa.ArrowException, Exception) as err:  # noqa: BLE001
        if isinstance(err, (FileNotFoundError, PermissionError)):
            raise
        first = re.sub(r"\s+", " ", str(err))[:200]
        ledger.fail("unreadable", None, f"cannot read as {fmt}: {first}",
                    "Check that the file is complete and in the format its name says.")
        return None
    return RawFrame(df, fmt, enc, None)


def _read_parquet_table(path: Path, columns: Sequence[str] | None = None) -> pa.Table:
    import pyarrow.parquet as pq

    return pq.read_table(path, columns=list(columns) if columns is not None else None)
