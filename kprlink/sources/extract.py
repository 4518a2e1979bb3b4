"""Read one extract file into its canonical schema: :func:`read_extract`.

The contract is detected from the header when not named
(:meth:`Contract.score`, aliases included); the file is read
(:mod:`~kprlink.sources.readers`), converted (:mod:`~kprlink.sources.canonical`)
and checked (:mod:`~kprlink.sources.validation`). Sources with more than one
canonical frame are split: NPR episodes give ``npr_diagnoses`` and
``npr_procedures`` (long), the older single-file KUHR extract gives
``kuhr_claims``, ``kuhr_diagnoses`` and ``kuhr_fees``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from kprlink.exceptions import Problem, ValidationError
from kprlink.sources import keyfile, kpr_kuhr, npr
from kprlink.sources._contract import Contract
from kprlink.sources._legacy_kuhr import legacy_dates, split_legacy
from kprlink.sources._npr_long import (
    npr_diagnoses_long,
    npr_procedures_long,
    wide_columns,
)
from kprlink.sources._plausibility import check_extraction, check_key_pairs
from kprlink.sources._projection import Projection, check_columns, projection_for
from kprlink.sources._registry import DETECTABLE, FIELD_OF
from kprlink.sources.canonical import to_canonical
from kprlink.sources.readers import (
    RawFrame,
    check_separator,
    detect_format,
    header_names,
    read_raw,
    sniff_encoding,
)
from kprlink.sources.validation import (
    Ledger,
    ValidationReport,
    check_rows,
    check_unique,
    raise_fatal,
)

__all__ = ["ExtractResult", "read_extract", "detect_contract", "DETECTABLE"]

#: Below this share of required columns found, a file is not of that contract.
MIN_SCORE = 0.5
#: The day a delivery was extracted (a date or ISO text), where it is known.
ExtractionDate = dt.date | str | None


@dataclass(frozen=True)
class ExtractResult:
    """One file read to its canonical schema.

    Attributes
    ----------
    data : pandas.DataFrame
        The main canonical frame (rows kept), e.g. claims or NPR episodes.
    report : ValidationReport
        Rows kept, repaired and excluded, per reason.
    contract : Contract
        The contract the file was read with.
    encoding, sep : str or None
        Encoding and separator used (CSV only; encoding also for SAS/SPSS).
    format : str
        ``csv``, ``parquet``, ``sas7bdat``, ``xport``, ``spss`` or ``stata``.
    frames : Mapping[str, DataFrame]
        Every canonical frame the file gives, by :class:`Delivery` field
        (``npr_episodes``, ``npr_diagnoses``, ``npr_procedures`` for NPR; the
        three KUHR frames for the legacy extract; else just ``data``).
    """

    data: pd.DataFrame
    report: ValidationReport
    contract: Contract
    encoding: str | None = None
    sep: str | None = None
    format: str = "csv"
    frames: Mapping[str, pd.DataFrame] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "frames", MappingProxyType(dict(self.frames)))

    def summary(self) -> pd.DataFrame:
        """The validation summary (one row per file read)."""
        return self.report.summary()

    def __repr__(self) -> str:
        return (f"<ExtractResult {self.contract.name}: {len(self.data):,} rows kept, "
                f"{self.report.n_excluded:,} excluded>")


def detect_contract(columns: list[str]) -> tuple[Contract | None, float]:
    """The best matching contract for delivered `columns`, and its score.

    Ties on the share of required columns found are broken by how many
    delivered columns the contract recognises.

    >>> c, score = detect_contract(["lopenr", "inndato", "utdato", "omsorgsniva"])
    >>> c.name, score
    ('npr.episodes', 1.0)
    """
    best: tuple[float, int] = (0.0, 0)
    found: Contract | None = None
    for c in DETECTABLE:
        key = (c.score(columns), len(c.resolve(columns)))
        if key > best:
            best, found = key, c
    return found, best[0]


def _contract_named(contract: Contract | str) -> Contract:
    if isinstance(contract, Contract):
        return contract
    by_name = {c.name: c for c in DETECTABLE}
    by_name.update({FIELD_OF[c.name]: c for c in DETECTABLE if c.file != "legacy"})
    if contract not in by_name:
        raise ValidationError(
            f"unknown contract {contract!r}; use one of {sorted(by_name)}",
            [f"contract {contract!r} is not a kprlink contract"])
    return by_name[contract]


def peek_columns(path: Path, fmt: str, encoding: str | None,
                 sep: str | None) -> list[str] | None:
    """Column names without reading the data (CSV and Parquet); None otherwise."""
    if fmt == "csv":
        with path.open("rb") as fh:
            enc = encoding or sniff_encoding(fh.read(1 << 16))
        return header_names(path, enc, sep)[0]
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    return None


def read_extract(path: str | Path, contract: Contract | str | None = None, *,
                 encoding: str | None = None, sep: str | None = None,
                 columns: Mapping[str, Collection[str] | None] | None = None,
                 extraction_date: ExtractionDate = None) -> ExtractResult:
    """Read one extract file (CSV, Parquet, SAS, SPSS, Stata) to its canonical schema.

    Parameters
    ----------
    path : str or Path
        The file.
    contract : Contract or str, optional
        The contract (``"kpr_kuhr.claims"`` or a Delivery field name such as
        ``"kuhr_claims"``); detected from the header when not given.
    encoding : str, optional
        Text encoding (CSV, SAS, SPSS); detected when not given.
    sep : str, optional
        CSV separator; detected from the header when not given.
    columns : mapping of str to collection of str (or None), optional
        A projection: Delivery field (``"kuhr_claims"``, ``"npr_diagnoses"``…)
        to the canonical columns to load (None: all of that frame). The
        validation columns (required, unique key, dates the row checks compare)
        are always read, so the same rows are kept and excluded as in a full
        read; repairs of optional columns not read are not counted. NPR's long
        frames are built only when named. Default: everything.
    extraction_date : date or str, optional
        The day the delivery was extracted, where the provider states it
        (delivery letter, file names): rows with an event after it are excluded,
        optional dates after it set to missing (``after_extraction``).

    Returns
    -------
    ExtractResult
        Canonical frame(s), the validation report, and how the file was read.

    Raises
    ------
    MissingRequiredColumnsError
        If required columns are missing (``err.missing``, ``err.problems``).
    ValidationError
        If the file cannot be read or matches no contract, or `columns` names
        an unknown frame or column (``err.problems``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> tmp = pathlib.Path(tempfile.mkdtemp()) / "nokkel.csv"
    >>> _ = tmp.write_text("npr_lnr;kpr_lnr;levering\\n1;11;d1\\n2;12;d1\\n")
    >>> res = read_extract(tmp)
    >>> res.contract.name, res.data["kpr_id"].tolist(), res.sep
    ('keyfile.key', [11, 12], ';')
    """
    p = Path(path)
    if columns is not None:
        check_columns(columns, p.name)
    if not p.is_file():
        raise FileNotFoundError(2, "No such file", str(p))
    fmt = detect_format(p)
    name = p.name
    chosen = _contract_named(contract) if contract is not None else None
    raw: RawFrame | None = None
    if fmt == "csv" and sep is not None:
        probe = Ledger(name, "?", 0)
        check_separator(p, encoding, sep, probe)
        raise_fatal(probe.fatal, [], name)
    cols: list[str] | None = None
    if fmt is not None and (chosen is None or columns is not None):
        cols = peek_columns(p, fmt, encoding, sep)
    if chosen is None and fmt is not None:
        if cols is None:
            probe = Ledger(name, "?", 0)
            raw = read_raw(p, contract=None, ledger=probe, encoding=encoding, sep=sep,
                           fmt=fmt)
            raise_fatal(probe.fatal, [], name)
            assert raw is not None
            cols = list(raw.data.columns)
        chosen, score = detect_contract(cols)
        if chosen is None or score < MIN_SCORE:
            foreign = foreign_separator(cols) if fmt == "csv" else None
            if foreign is not None:
                raise ValidationError(f"{name} is not usable: 1 problem(s).",
                                      [separator_problem(name, *foreign)])
            raise ValidationError(f"{name} matches no kprlink contract.", [
                _no_contract_problem(name, cols)])
    assert chosen is not None
    proj = projection_for(chosen, cols if raw is None else None, columns)
    ledger = Ledger(name, chosen.name, 0)
    if raw is None:
        raw = read_raw(p, contract=chosen, ledger=ledger, encoding=encoding, sep=sep,
                       fmt=fmt, columns=proj.delivered)
    raise_fatal(ledger.fatal, [], name)
    assert raw is not None
    return _from_raw(raw, chosen, name, proj, extraction_date=extraction_date)


#: Characters a header may be separated by that kprlink never detects.
_FOREIGN_SEPARATORS = (":", " ", "#", "!", "~", "^", "/")


def foreign_separator(columns: list[str]) -> tuple[str, str] | None:
    """(separator, contract) when a one-column header splits on a separator kprlink
    does not detect into a header that matches a contract.

    >>> foreign_separator(["lopenr:inndato:utdato:omsorgsniva"])
    (':', 'npr.episodes')
    """
    if len(columns) != 1:
        return None
    for sep in _FOREIGN_SEPARATORS:
        parts = [p.strip().strip('"') for p in columns[0].split(sep)]
        if len(parts) < 2:
            continue
        contract, score = detect_contract(parts)
        if contract is not None and score >= MIN_SCORE:
            return sep, contract.name
    return None


def separator_problem(name: str, sep: str, contract: str) -> Problem:
    """The error for a file whose header is `sep`-separated."""
    shown = "a space" if sep == " " else repr(sep)
    return Problem(name, None, "wrong_separator",
                   f"the header is separated by {shown} (it then matches {contract}); "
                   "kprlink reads ';', ',', tab or '|'",
                   hint="Save the file again with ';' as the separator (the data "
                        "provider's export setting).")


def _no_contract_problem(name: str, cols: list[str]) -> object:
    shown = ", ".join(repr(c) for c in cols[:8])
    return Problem(name, None, "unknown_contract",
                   f"the header ({shown}{' …' if len(cols) > 8 else ''}) matches no "
                   "contract", hint="Name the contract, or add the column names to "
                   "the contract's aliases (see docs/formats.md).")


def _from_raw(raw: RawFrame, contract: Contract, name: str,
              proj: Projection = Projection(), *, first_row: int = 1,
              seen: object = None, extraction_date: ExtractionDate = None) -> ExtractResult:
    """Canonical frames and report from a raw frame (raises on fatal problems).

    `first_row` and `seen` serve a file read in chunks: the delivered row number
    of the chunk's first row, and the unique keys of earlier chunks
    (:class:`kprlink.sources._chunking._SeenKeys`). `extraction_date`: see
    :func:`read_extract`.
    """
    df = raw.data
    if not (isinstance(df.index, pd.RangeIndex) and df.index.start == 0
            and df.index.step == 1):
        df = df.reset_index(drop=True)
    rows = np.arange(first_row, first_row + len(df))
    ledger = Ledger(name, contract.name, len(df), rows)
    if raw.repairs:
        mapping = contract.resolve(df.columns)
        for delivered, mask in raw.repairs:
            ledger.repair("encoding_repaired", mapping.get(delivered, delivered), mask,
                          f"{delivered!r} held bytes that are not UTF-8 in a UTF-8 file; "
                          "those fields were decoded as latin-1 (cp1252)",
                          "Ask the provider to deliver the file in one encoding.")
    canon = to_canonical(df, contract, ledger, keep=proj.keep)
    raise_fatal(ledger.fatal, ledger.missing, name)
    if contract is npr.EPISODES and canon["episode_id"].isna().all():
        canon["episode_id"] = pd.array(rows, dtype="Int64")
    if contract is kpr_kuhr.LEGACY_KUHR:
        canon["claim_id"] = pd.array(rows, dtype="Int64")
        canon["date"] = legacy_dates(canon, ledger)
    check_rows(canon, contract.name, ledger)
    check_unique(canon, contract.unique, ledger, seen=seen)
    check_extraction(canon, contract, ledger, extraction_date)
    if contract is keyfile.KEY:
        check_key_pairs(canon, ledger)
    if contract is npr.EPISODES:
        _count_invalid_npr_codes(canon, ledger)
    keep, report = ledger.finish()
    canon = proj.select(canon, contract)
    data = canon if keep.all() else _take_rows(canon, np.flatnonzero(keep))
    frames: dict[str, pd.DataFrame]
    if contract is npr.EPISODES:
        wide = wide_columns(data)
        frames = {"npr_episodes": data.drop(columns=wide)}
        for field_, build in (("npr_diagnoses", npr_diagnoses_long),
                              ("npr_procedures", npr_procedures_long)):
            if proj.derived is None or field_ in proj.derived:
                frames[field_] = build(data)
        data = frames["npr_episodes"]
    elif contract is kpr_kuhr.LEGACY_KUHR:
        frames, derived = split_legacy(data, rows[keep], file=name)
        report = ValidationReport.combine([report, *derived])
        data = frames["kuhr_claims"]
    else:
        frames = {FIELD_OF[contract.name]: data}
    result = ExtractResult(data=data, report=report, contract=contract,
                           encoding=raw.encoding, sep=raw.sep, format=raw.format,
                           frames=frames)
    # Delivered 1-based row number of each kept row (internal: for later checks).
    object.__setattr__(result, "_kept_rows", rows[keep])
    return result


def _count_invalid_npr_codes(canon: pd.DataFrame, ledger: Ledger) -> None:
    """NPR episodes with a diagnosis or procedure code of no valid shape, counted as
    KUHR's are (``invalid_code``, repaired: kept and flagged in ``code_valid``)."""
    from kprlink.sources._text import normalise_codes

    groups = {"tilstand": npr.DIAGNOSIS_COLUMN_RE, "procedure": npr.PROCEDURE_COLUMN_RE}
    for label, pattern in groups.items():
        rx = re.compile(pattern, re.IGNORECASE)
        bad = np.zeros(len(canon), dtype=bool)
        for col in canon.columns:
            m = rx.match(str(col))
            if not m:
                continue
            system = "ICD-10" if label == "tilstand" else m.group(1).upper()
            valid = normalise_codes(canon[col], system=system)["valid"]
            bad |= (valid == False).fillna(False).to_numpy(bool)  # noqa: E712
        ledger.repair("invalid_code", label, bad,
                      "code does not have a valid shape; kept and flagged in "
                      f"npr_{'diagnoses' if label == 'tilstand' else 'procedures'}"
                      ".code_valid", "Check the codes with the data provider.")


def _take_rows(frame: pd.DataFrame, positions: np.ndarray) -> pd.DataFrame:
    """Rows at `positions` with a fresh RangeIndex (one copy, not two)."""
    out = frame.take(positions)
    out.index = pd.RangeIndex(len(out))
    return out
