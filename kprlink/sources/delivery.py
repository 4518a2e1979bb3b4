"""A whole delivery: every file of every source, read to the canonical schema.

``read_delivery(path)`` finds the files in a delivery folder (top-level files
only; sub-folders such as the synthetic generator's ``truth/`` are ignored),
detects which contract each file follows from its header (aliases included),
reads and validates them, and returns a :class:`Delivery`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kprlink.exceptions import Problem, ValidationError
from kprlink.sources._manifest import (  # noqa: F401
    MANIFEST,
    is_imported,
    load_manifest,
    refuse_partial_import,
    sha256_file,
)
from kprlink.sources._plan import no_rows, plan_files
from kprlink.sources._projection import check_columns
from kprlink.sources.canonical import STRING_DTYPE
from kprlink.sources.extract import ExtractionDate, read_extract
from kprlink.sources.validation import (
    _REASON_COLUMNS,
    _TABLE_COLUMNS,
    N_ROWS_SHOWN,
    ValidationReport,
    raise_fatal,
)

#: Field of :class:`Delivery` that holds each contract's canonical frame.
FIELD_BY_CONTRACT: dict[str, str] = {
    "kpr_kuhr.claims": "kuhr_claims",
    "kpr_kuhr.diagnoses": "kuhr_diagnoses",
    "kpr_kuhr.fees": "kuhr_fees",
    "kpr_ho.services": "ho_services",
    "kpr_ho.functions": "ho_functions",
    "kpr_ho.indicators": "ho_indicators",
    "npr.episodes": "npr_episodes",
    "keyfile.key": "key",
    "population.population": "population",
}


@dataclass(frozen=True)
class Delivery:
    """Canonical frames of one delivery (``None`` where a file is absent).

    Attributes
    ----------
    path : Path
        The delivery folder (or single file).
    kuhr_claims, kuhr_diagnoses, kuhr_fees : DataFrame or None
        KPR-KUHR claims, diagnoses and fee codes (see ``kprlink.sources.kpr_kuhr``).
    ho_services, ho_functions, ho_indicators : DataFrame or None
        KPR helse og omsorg service periods, function scores, indicators.
    npr_episodes : DataFrame or None
        NPR episodes without the wide diagnosis/procedure columns.
    npr_diagnoses : DataFrame or None
        NPR diagnoses made long (episode_id, npr_id, condition, slot, code, is_main).
    npr_procedures : DataFrame or None
        NPR procedures made long (episode_id, npr_id, system, position, code).
    key : DataFrame or None
        NPR↔KPR key file (npr_id, kpr_id, delivery).
    population : DataFrame or None
        SSB 07459 population table.
    files : DataFrame
        One row per file found: file, contract, format, encoding, separator,
        rows, sha256.
    report : ValidationReport
        Rows kept, repaired and excluded per file and reason.
    """

    path: Path
    files: pd.DataFrame
    report: ValidationReport
    kuhr_claims: pd.DataFrame | None = None
    kuhr_diagnoses: pd.DataFrame | None = None
    kuhr_fees: pd.DataFrame | None = None
    ho_services: pd.DataFrame | None = None
    ho_functions: pd.DataFrame | None = None
    ho_indicators: pd.DataFrame | None = None
    npr_episodes: pd.DataFrame | None = None
    npr_diagnoses: pd.DataFrame | None = None
    npr_procedures: pd.DataFrame | None = None
    key: pd.DataFrame | None = None
    population: pd.DataFrame | None = None

    def frames(self) -> dict[str, pd.DataFrame]:
        """Every present canonical frame by field name."""
        skip = {"path", "files", "report"}
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in skip and getattr(self, f.name) is not None
        }

    def __repr__(self) -> str:
        parts = [f"{k}={len(v):,}" for k, v in self.frames().items()]
        return f"<Delivery {self.path}: " + ", ".join(parts) + ">"

    def summary(self) -> pd.DataFrame:
        """Rows kept, repaired and excluded per file (see :class:`ValidationReport`)."""
        return self.report.summary()


_FILE_COLUMNS = ["file", "contract", "format", "encoding", "separator", "rows", "sha256"]
_sha256 = sha256_file


def exclude_orphans(report: ValidationReport, label: str, n: int,
                    shown: tuple[int, ...]) -> ValidationReport:
    """`report` with `n` rows of `label` excluded: their claim was not kept."""
    problem = Problem(label, "claim_id", "claim_not_kept",
                      "claim_id is not among the kept claims (claim excluded or "
                      "absent) (excluded)", rows=shown[:N_ROWS_SHOWN], n_rows=n,
                      hint="Such rows have no date or person; not used.")
    return report.with_exclusion(label, "claim_not_kept", "claim_id", n, problem)


def _drop_orphans(frames: dict[str, list[pd.DataFrame]], report: ValidationReport,
                  kept_rows: dict[str, np.ndarray]) -> ValidationReport:
    """Exclude KUHR diagnoses/fees whose claim is not among the kept claims."""
    if not frames.get("kuhr_claims"):
        return report
    ids = pd.concat([f["claim_id"] for f in frames["kuhr_claims"]], ignore_index=True)
    for field_ in ("kuhr_diagnoses", "kuhr_fees"):
        parts = frames.get(field_, [])
        for i, frame in enumerate(parts):
            orphan = ~frame["claim_id"].isin(ids).to_numpy(bool)
            n = int(orphan.sum())
            if not n:
                continue
            label = frame.attrs["kprlink_file"]
            idx = np.flatnonzero(orphan)
            delivered = kept_rows.get(label)
            shown = tuple(int(r) for r in (delivered[idx] if delivered is not None
                                           else idx + 1)[:N_ROWS_SHOWN])
            report = exclude_orphans(report, label, n, shown)
            kept = frame.drop(index=frame.index[idx]).reset_index(drop=True)
            kept.attrs.update(frame.attrs)
            parts[i] = kept
    return report


def read_delivery(path: str | Path, *,
                  columns: Mapping[str, Collection[str] | None] | None = None,
                  extraction_date: ExtractionDate = None) -> Delivery:
    """Read every file of a delivery folder to the canonical schema.

    Top-level files only: sub-folders (the synthetic generator's ``truth/``) are
    never read. Each file's contract is detected from its header; files that
    match no contract are listed in ``report.unclassified``, not read. Links
    to files are followed; a broken link, a link loop, a file with no bytes, a
    register file with a header and no rows, and a header separated by ``:`` or
    another character kprlink does not read are errors (see ``_plan``). A folder
    written by :func:`~kprlink.sources.importing.import_delivery` is read back from its Parquet frames.
    KUHR diagnoses and fee codes whose claim was not kept are excluded and
    counted. Every fatal problem of every file is collected, then raised once.
    A Parquet file of more than 2 M rows is read in record batches, each
    converted and checked as a whole file is (unique keys across batches; the
    same frames and report), so memory holds the result plus one batch.

    Parameters
    ----------
    path : str or Path
        A delivery folder, or a single file.
    columns : mapping of str to collection of str (or None), optional
        A projected read: Delivery field to the canonical columns to load
        (None: all columns of that frame); see :func:`read_extract`. Every
        file is still read and validated with its validation columns (required,
        unique key, dates), so the same rows are kept and excluded and every
        exclusion is counted; fields not named get only those columns (NPR's
        long frames are not built unless named). For a folder written by
        :func:`~kprlink.sources.importing.import_delivery` (already validated, report stored), only the
        named frames are loaded. Default: everything.
    extraction_date : date or str, optional
        The day the delivery was extracted, where the provider states it: events
        after it are excluded, other dates after it set to missing
        (``after_extraction``; see :func:`read_extract`). Not used for an
        imported folder (checked when it was imported).

    Returns
    -------
    Delivery
        Canonical frames, ``files`` and the ``report``.

    Raises
    ------
    MissingRequiredColumnsError
        If a file lacks required columns (``err.missing``, ``err.problems``).
    ValidationError
        If a file cannot be read (``err.problems`` lists every file's problems).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "nokkel.csv").write_text("npr_lnr;kpr_lnr;levering\\n1;11;d1\\n")
    >>> _ = (folder / "notes.txt").write_text("no header here\\n")
    >>> d = read_delivery(folder)
    >>> len(d.key), d.report.unclassified
    (1, ('notes.txt',))
    """
    root = Path(path)
    if columns is not None:
        check_columns(columns, root.name)
    if not root.exists():
        raise FileNotFoundError(2, "No such file or directory", str(root))
    if is_imported(root):
        return _read_imported(root, columns)
    refuse_partial_import(root)
    plan, unclassified, fatal = plan_files(root)
    frames: dict[str, list[pd.DataFrame]] = {}
    reports: list[ValidationReport] = []
    records: list[dict[str, object]] = []
    kept_rows: dict[str, np.ndarray] = {}
    missing: list[str] = []
    from kprlink.sources._read_chunks import chunked, read_batches

    for f, fmt, contract in plan:
        try:
            res = (read_batches(f, contract, columns, extraction_date)
                   if chunked(f, fmt, contract) else
                   read_extract(f, columns=columns, extraction_date=extraction_date))
        except ValidationError as err:
            if [p for p in err.problems if getattr(p, "reason", "") == "unknown_contract"]:
                unclassified.append(f.name)
                continue
            fatal += [p for p in err.problems if isinstance(p, Problem)]
            missing += list(getattr(err, "missing", []))
            continue
        if int(res.report.table["rows_in"].iloc[0]) == 0:
            fatal.append(no_rows(f.name, res.contract.name))
            continue
        reports.append(res.report)
        kept_rows[f.name] = getattr(res, "_kept_rows", None)
        for field_, frame in res.frames.items():
            label = (f"{f.name} [{field_.split('_', 1)[1]}]"
                     if res.contract.file == "legacy" else f.name)
            frame.attrs.update({"kprlink_file": label})
            frames.setdefault(field_, []).append(frame)
        records.append({"file": f.name, "contract": res.contract.name, "format": res.format,
                        "encoding": res.encoding, "separator": res.sep,
                        "rows": int(res.report.table["rows_in"].iloc[0]),
                        "sha256": _sha256(f)})
    raise_fatal(fatal, missing, f"delivery {root}")
    report = _drop_orphans(frames, ValidationReport.combine(reports,
                                                            unclassified=unclassified),
                           kept_rows)
    out = {}
    for field_, parts in frames.items():
        frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        frame.attrs.clear()
        out[field_] = frame
    return Delivery(path=root, files=pd.DataFrame(records, columns=_FILE_COLUMNS),
                    report=report, **out)


def _arrow_strings(t: object) -> pd.StringDtype | None:
    """Arrow text columns become kprlink's pyarrow-backed strings (no object round trip)."""
    import pyarrow as pa

    if pa.types.is_large_string(t) or pa.types.is_string(t):  # type: ignore[arg-type]
        return STRING_DTYPE
    return None


def _read_frame(path: Path, wanted: Collection[str] | None) -> pd.DataFrame:
    """One imported frame (the `wanted` columns): Arrow to pandas in one conversion.

    Parquet's pandas metadata restores the nullable integer, boolean and
    categorical dtypes; text goes straight to Arrow-backed strings.
    """
    import pyarrow.parquet as pq

    return _to_frame(pq.read_table(path, columns=_imported_columns(path, wanted)))


def _to_frame(table: Any) -> pd.DataFrame:
    """An imported frame's Arrow table (schema and pandas metadata as stored) to pandas."""
    # one block per column and Arrow buffers freed as they are converted: no
    # consolidation copy, and peak memory stays near one copy of the frame
    df = table.to_pandas(types_mapper=_arrow_strings, split_blocks=True, self_destruct=True)
    del table
    for c in df.columns:  # text the metadata stored as python strings
        if isinstance(df[c].dtype, pd.StringDtype) and df[c].dtype != STRING_DTYPE:
            df[c] = df[c].astype(STRING_DTYPE)
    return df


def _read_imported(root: Path,
                   columns: Mapping[str, Collection[str] | None] | None = None) -> Delivery:
    m = load_manifest(root)
    frames = {f: _read_frame(root / name, None if columns is None else columns[f])
              for f, name in m["frames"].items() if columns is None or f in columns}
    table = pd.DataFrame(m["table"], columns=_TABLE_COLUMNS)
    for c in ("rows_in", "kept", "repaired", "excluded"):
        table[c] = table[c].astype("int64")
    reasons = pd.DataFrame(m["reasons"], columns=_REASON_COLUMNS)
    reasons["n_rows"] = reasons["n_rows"].astype("int64")

    def problems(key: str) -> tuple[Problem, ...]:
        return tuple(Problem(**{**p, "rows": tuple(p["rows"])}) for p in m[key])

    report = ValidationReport(table=table, reasons=reasons, problems=problems("problems"),
                              fatal=problems("fatal"), unclassified=tuple(m["unclassified"]))
    files = pd.DataFrame(m["files"], columns=_FILE_COLUMNS)
    files["rows"] = files["rows"].astype("int64")
    return Delivery(path=root, files=files, report=report, **frames)


def _imported_columns(path: Path, wanted: Collection[str] | None) -> list[str] | None:
    """Stored columns of an imported frame for `wanted` (codes with companions)."""
    if wanted is None:
        return None
    import pyarrow.parquet as pq

    names = pq.read_schema(path).names
    want = set(wanted) | {f"{c}_{s}" for c in wanted for s in ("original", "valid")}
    return [n for n in names if n in want]
