"""Validation of extracts: row-level checks, the ledger of what happened, the report.

Every problem is collected before anything is raised. Problems are of two kinds:

* **fatal** (the file is unusable: a required column is missing, the file
  cannot be read or parsed with the separator/encoding given). These are
  collected over every file and raised once as a
  :class:`~kprlink.exceptions.ValidationError` (or
  :class:`MissingRequiredColumnsError`, which is also a
  :class:`~kprlink.exceptions.MissingColumnsError`, when columns are missing).
* **row-level** (a bad value in one row). The row is either *repaired* (the
  value becomes ``<NA>`` or is recoded, the row is kept) or *excluded*. Nothing
  is dropped silently: a :class:`ValidationReport` counts every row kept,
  repaired and excluded, per file and reason, and
  ``rows_in == kept + excluded`` holds for every file.

Decisions (see ``docs/formats.md``): a bad or missing value in a *required*
column excludes the row; in an optional column it is set to ``<NA>`` and the
row counted as repaired. Dates: end before start, an event after the person's
death date and a record outside the register's coverage exclude the row.
Duplicate ids: the first row is kept, later ones are excluded. Hours per week
above 168 are set to ``<NA>`` (repaired). Given the delivery's extraction
date, events after it are excluded. Key files: repeated pairs are excluded, a
key paired with two keys of the other register in one delivery is *flagged*
(kept, counted: linkage reports it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from kprlink.exceptions import MissingColumnsError, Problem, ValidationError
from kprlink.sources._keys import packed_keys

__all__ = ["ValidationReport", "MissingRequiredColumnsError", "raise_fatal"]

#: How many row numbers a Problem lists.
N_ROWS_SHOWN = 5

_TABLE_COLUMNS = ["file", "contract", "rows_in", "kept", "repaired", "excluded"]
_REASON_COLUMNS = ["file", "contract", "action", "reason", "column", "n_rows"]


class MissingRequiredColumnsError(ValidationError, MissingColumnsError):
    """A file lacks required columns (a :class:`ValidationError` with ``missing``).

    Attributes
    ----------
    missing : list of str
        Canonical names of the missing columns, over every file.
    problems : list of Problem
        One per missing column and per other fatal problem found.
    """

    def __str__(self) -> str:
        return ValidationError.__str__(self)


@dataclass
class Ledger:
    """Row-level decisions taken while reading one file (internal, mutable).

    Masks are positional boolean arrays over the frame being read; ``row_numbers``
    gives the 1-based data row of each position in the delivered file.
    """

    file: str
    contract: str
    n_rows: int
    row_numbers: np.ndarray | None = None
    entries: list[tuple[str, str, str | None, np.ndarray, str, str]] = field(
        default_factory=list
    )
    fatal: list[Problem] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def _add(self, action: str, reason: str, column: str | None, mask: object,
             message: str, hint: str) -> None:
        m = np.asarray(mask, dtype=bool)
        if m.shape != (self.n_rows,):
            raise ValueError(f"mask of shape {m.shape} for {self.n_rows} rows")
        if m.any():
            self.entries.append((action, reason, column, m, message, hint))

    def exclude(self, reason: str, column: str | None, mask: object, message: str,
                hint: str = "") -> None:
        """Record rows excluded for ``reason`` (rows where ``mask`` is True)."""
        self._add("excluded", reason, column, mask, message, hint)

    def repair(self, reason: str, column: str | None, mask: object, message: str,
               hint: str = "") -> None:
        """Record rows kept with a value set to NA or recoded."""
        self._add("repaired", reason, column, mask, message, hint)

    def flag(self, reason: str, column: str | None, mask: object, message: str,
             hint: str = "") -> None:
        """Record rows kept as delivered but implausible (counted, nothing changed)."""
        self._add("flagged", reason, column, mask, message, hint)

    def fail(self, reason: str, column: str | None, message: str, hint: str = "") -> None:
        """Record a fatal problem: the file is unusable."""
        self.fatal.append(Problem(self.file, column, reason, message, hint=hint))

    def rows_of(self, mask: np.ndarray) -> tuple[tuple[int, ...], int]:
        """First 1-based row numbers where ``mask`` holds, and how many."""
        idx = np.flatnonzero(mask)
        nums = self.row_numbers[idx] if self.row_numbers is not None else idx + 1
        return tuple(int(r) for r in nums[:N_ROWS_SHOWN]), int(idx.size)

    def excluded_mask(self) -> np.ndarray:
        """Rows excluded for any reason."""
        out = np.zeros(self.n_rows, dtype=bool)
        for action, *_rest in self.entries:
            if action == "excluded":
                out |= _rest[2]
        return out

    def finish(self) -> tuple[np.ndarray, ValidationReport]:
        """Mask of rows to keep, and the report of this file.

        An excluded row is counted under the first reason recorded for it,
        so the per-reason counts add up to ``excluded``.
        """
        taken = np.zeros(self.n_rows, dtype=bool)
        repaired = np.zeros(self.n_rows, dtype=bool)
        reasons: list[dict[str, object]] = []
        problems: list[Problem] = []
        for action, reason, column, mask, message, hint in self.entries:
            if action == "excluded":
                counted = mask & ~taken
                taken |= mask
            else:
                counted = mask
                if action == "repaired":
                    repaired |= mask
            rows, n = self.rows_of(mask)
            problems.append(Problem(self.file, column, reason,
                                    f"{message} ({action})", rows, n, hint))
            reasons.append({"file": self.file, "contract": self.contract, "action": action,
                            "reason": reason, "column": column,
                            "n_rows": int(counted.sum())})
        keep = ~taken
        table = pd.DataFrame([{
            "file": self.file, "contract": self.contract, "rows_in": self.n_rows,
            "kept": int(keep.sum()), "repaired": int((repaired & keep).sum()),
            "excluded": int(taken.sum()),
        }], columns=_TABLE_COLUMNS)
        report = ValidationReport(
            table=table, reasons=pd.DataFrame(reasons, columns=_REASON_COLUMNS),
            problems=tuple(problems), fatal=tuple(self.fatal),
        )
        return keep, report


def _empty_table() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c not in ("file", "contract")
                                      else "object") for c in _TABLE_COLUMNS})


@dataclass(frozen=True)
class ValidationReport:
    """What reading did to every row of every file.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per file: file, contract, rows_in, kept, repaired, excluded
        (``rows_in == kept + excluded``; ``repaired`` counts kept rows of which
        at least one value was repaired).
    reasons : pandas.DataFrame
        One row per file, action ("excluded", "repaired", or "flagged": kept as
        delivered but implausible, e.g. a key paired twice) and reason, with the
        column concerned and ``n_rows``. Excluded rows are counted under their
        first reason, so they add up to ``table.excluded``.
    problems : tuple of Problem
        Row-level problems with the first row numbers and what to do.
    fatal : tuple of Problem
        Problems that make a file unusable (the reader raises on these).
    unclassified : tuple of str
        Files in a delivery folder that match no contract (not read).

    Examples
    --------
    >>> rep = ValidationReport.empty()
    >>> rep.ok, len(rep.table)
    (True, 0)
    """

    table: pd.DataFrame
    reasons: pd.DataFrame
    problems: tuple[Problem, ...] = ()
    fatal: tuple[Problem, ...] = ()
    unclassified: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        bad = self.table.loc[self.table["rows_in"] != self.table["kept"] + self.table["excluded"]]
        if len(bad):
            raise ValueError(f"row counts do not add up for {bad['file'].tolist()}")

    @classmethod
    def empty(cls) -> ValidationReport:
        """A report of nothing read."""
        return cls(table=_empty_table(), reasons=pd.DataFrame(columns=_REASON_COLUMNS))

    @classmethod
    def combine(cls, reports: Iterable[ValidationReport], *,
                unclassified: Sequence[str] = ()) -> ValidationReport:
        """One report from several (e.g. every file of a delivery)."""
        reps = list(reports)
        tables = [r.table for r in reps if len(r.table)]
        reasons = [r.reasons for r in reps if len(r.reasons)]
        return cls(
            table=(pd.concat(tables, ignore_index=True) if tables else _empty_table()),
            reasons=(pd.concat(reasons, ignore_index=True) if reasons
                     else pd.DataFrame(columns=_REASON_COLUMNS)),
            problems=tuple(p for r in reps for p in r.problems),
            fatal=tuple(p for r in reps for p in r.fatal),
            unclassified=tuple(u for r in reps for u in r.unclassified) + tuple(unclassified),
        )

    def with_exclusion(self, file: str, reason: str, column: str | None,
                       n_rows: int, problem: Problem) -> ValidationReport:
        """A copy with `n_rows` more kept rows of `file` excluded for `reason`."""
        if n_rows == 0:
            return self
        table = self.table.copy()
        at = table["file"] == file
        if at.sum() != 1:
            raise ValueError(f"file {file!r} is not (once) in the report")
        if int(table.loc[at, "kept"].iloc[0]) < n_rows:
            raise ValueError(f"cannot exclude {n_rows} rows of {file!r}")
        table.loc[at, "kept"] -= n_rows
        table.loc[at, "excluded"] += n_rows
        row = pd.DataFrame([{"file": file, "contract": table.loc[at, "contract"].iloc[0],
                             "action": "excluded", "reason": reason, "column": column,
                             "n_rows": n_rows}], columns=_REASON_COLUMNS)
        reasons = pd.concat([self.reasons, row], ignore_index=True) if len(self.reasons) \
            else row
        return replace(self, table=table, reasons=reasons,
                       problems=(*self.problems, problem))

    @property
    def ok(self) -> bool:
        """True when no file is unusable."""
        return not self.fatal

    @property
    def rows_in(self) -> int:
        """Rows read over all files."""
        return int(self.table["rows_in"].sum())

    @property
    def n_excluded(self) -> int:
        """Rows excluded over all files."""
        return int(self.table["excluded"].sum())

    def summary(self) -> pd.DataFrame:
        """Per file: rows in, kept, repaired, excluded and excluded per reason."""
        out = self.table.copy()
        exc = self.reasons.loc[self.reasons["action"] == "excluded"]
        if len(exc):
            wide = exc.pivot_table(index="file", columns="reason", values="n_rows",
                                   aggfunc="sum", fill_value=0)
            wide.columns = [f"excluded_{c}" for c in wide.columns]
            out = out.merge(wide, left_on="file", right_index=True, how="left")
            extra = list(wide.columns)
            out[extra] = out[extra].fillna(0).astype("int64")
        return out

    def to_markdown(self) -> str:
        """The report as Markdown: the per-file table, then every problem."""
        lines = ["| " + " | ".join(_TABLE_COLUMNS) + " |",
                 "|" + "---|" * len(_TABLE_COLUMNS)]
        for rec in self.table.itertuples(index=False):
            cells = [str(v) if not isinstance(v, (int, np.integer)) else f"{v:,}"
                     for v in rec]
            lines.append("| " + " | ".join(cells) + " |")
        for title, probs in (("Unusable", self.fatal), ("Rows excluded or repaired",
                                                          self.problems)):
            if probs:
                lines += ["", f"**{title}**", ""] + [f"- {p}" for p in probs]
        if self.unclassified:
            lines += ["", "**Files matching no contract (not read)**", ""]
            lines += [f"- {u}" for u in self.unclassified]
        return "\n".join(lines)

    def __str__(self) -> str:
        head = (f"Validation: {len(self.table)} file(s), {self.rows_in:,} rows read, "
                f"{self.n_excluded:,} excluded"
                + (f", {len(self.fatal)} fatal problem(s)" if self.fatal else "") + ".")
        return head + "\n" + self.to_markdown()

    def __repr__(self) -> str:
        state = "usable" if self.ok else f"{len(self.fatal)} fatal problem(s)"
        return (f"<ValidationReport {len(self.table)} file(s): {self.rows_in:,} rows in, "
                f"{self.n_excluded:,} excluded, {state}>")


def raise_fatal(fatal: Sequence[Problem], missing: Sequence[str], where: str) -> None:
    """Raise one error for every fatal problem collected (no-op when none)."""
    if not fatal:
        return
    head = f"{where} is not usable: {len(fatal)} problem(s)."
    if missing:
        raise MissingRequiredColumnsError(head, list(fatal), missing=list(missing))
    raise ValidationError(head, list(fatal))


# --------------------------------------------------------------------------- checks
def _as_ts(d: dt.date) -> pd.Timestamp:
    return pd.Timestamp(d)


def check_rows(df: pd.DataFrame, contract_name: str, ledger: Ledger) -> None:
    """Cross-column checks of a canonical frame, recorded in ``ledger``.

    Checks end before start, birth after the event (the birth year is set to
    missing), events after death, coverage and duplicate ids.
    """
    from kprlink.sources import kpr_ho, kpr_kuhr

    def has(*cols: str) -> bool:
        return all(c in df.columns for c in cols)

    pairs = {"kpr_ho.services": ("start_date", "end_date"),
             "npr.episodes": ("date_in", "date_out")}
    if contract_name in pairs and has(*pairs[contract_name]):
        start, end = pairs[contract_name]
        m = (df[end] < df[start]).fillna(False).to_numpy(bool)
        ledger.exclude("end_before_start", end, m,
                       f"{end} is before {start}",
                       "Check the dates with the data provider; the row is not used.")
    event = {"kpr_kuhr.claims": "date", "npr.episodes": "date_in",
             "kpr_ho.services": "start_date"}.get(contract_name)
    if event and has(event, "birth_year"):
        born = pd.array(df["birth_year"], dtype="Int64")
        m = (born > pd.DatetimeIndex(df[event]).year).fillna(False)
        m = np.asarray(m, dtype=bool)
        if m.any():  # an age below 0 at the event: the birth year is wrong, the event is not
            df["birth_year"] = pd.Series(born, index=df.index).mask(m)
        ledger.repair("born_after_event", "birth_year", m,
                      f"birth_year is after the year of {event}",
                      "Set to missing in these rows (the person's birth year comes from "
                      "their other records); ask the provider.")
    if event and has(event, "death_date"):
        m = (df[event] > df["death_date"]).fillna(False).to_numpy(bool)
        ledger.exclude("after_death", event, m,
                       f"{event} is after the person's death_date",
                       "A delivery defect; such events never count in cohorts.")
    coverage = {"kpr_kuhr.claims": ("date", kpr_kuhr.COVERAGE_START),
                "kpr_ho.functions": ("assessment_date", kpr_ho.COVERAGE_START),
                "kpr_ho.indicators": ("date", kpr_ho.COVERAGE_START)}
    if contract_name in coverage and has(coverage[contract_name][0]):
        col, start_day = coverage[contract_name]
        m = (df[col] < _as_ts(start_day)).fillna(False).to_numpy(bool)
        ledger.exclude("before_coverage", col, m,
                       f"{col} is before the register's coverage ({start_day:%d %B %Y})",
                       "The register holds no complete data before that date.")
    if contract_name == "kpr_ho.services" and has("start_date", "end_date"):
        m = (df["end_date"] < _as_ts(kpr_ho.COVERAGE_START)).fillna(False).to_numpy(bool)
        ledger.exclude("before_coverage", "end_date", m,
                       "service period ended before KPR helse og omsorg coverage "
                       f"({kpr_ho.COVERAGE_START:%d %B %Y})",
                       "Periods may start earlier but must reach into coverage.")


def check_unique(df: pd.DataFrame, keys: Sequence[str], ledger: Ledger, *,
                 seen: object = None) -> None:
    """Exclude later rows that repeat the id ``keys`` of an earlier row.

    `seen` (a file read in chunks) holds the keys of earlier chunks; rows
    repeating one of those are excluded too.
    """
    if not keys or not all(k in df.columns for k in keys):
        return
    packed = packed_keys(df, tuple(keys))
    if packed is not None:  # integer keys: one int64 per row (-1: incomplete)
        complete = packed >= 0
        dup = _repeated(packed, complete)
    else:
        sub = df[list(keys)]
        complete = sub.notna().all(axis=1).to_numpy(bool)
        dup = sub.duplicated(keep="first").to_numpy(bool) & complete
    if seen is not None:
        if packed is None:
            raise ValueError(f"keys {list(keys)} cannot be checked across chunks")
        dup |= seen.earlier(packed) & complete  # type: ignore[attr-defined]
    ledger.exclude("duplicate_id", ",".join(keys), dup,
                   f"duplicate id ({', '.join(keys)}) of an earlier row",
                   "The first row is kept; ask the provider whether the others differ.")


def _repeated(packed: np.ndarray, complete: np.ndarray) -> np.ndarray:
    """Complete rows whose packed key repeats an earlier row's (``duplicated``, keep
    first); a file sorted by its key (the usual delivery) is seen in one pass."""
    keys = packed[complete]
    if len(keys) < 2 or bool((keys[1:] > keys[:-1]).all()):
        return np.zeros(len(packed), dtype=bool)
    return pd.Series(packed).duplicated(keep="first").to_numpy(bool) & complete
