"""Reading a release folder as an outsider does: tables, labels, the report's numbers.

Part of :mod:`kprlink.disclosure.outsider`. Imports nothing from kprlink's
suppression code on purpose: the attack must not share the assumptions of what
it checks.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

TOTAL = "Total"
COUNT = "n"
POPULATION = "population"
#: columns derived from the count and a base (shares and their interval)
SHARE_COLS = ("share_pct", "share_lower", "share_upper")
#: statistics derived from shown shares (standardised differences): not additive
DERIVED_COLS = ("smd",)
#: the same per 1,000 of the population (rates of yearly tables)
RATE_COLS = ("per_1000", "per_1000_lower", "per_1000_upper")

_RANGE = re.compile(r"^\s*(\d+)\s*[-\u2013]\s*(\d+)\s*$")
_PLUS = re.compile(r"^\s*(\d+)\s*\+\s*$")
_UNDER = re.compile(r"^\s*under\s+(\d+)\s*$", re.IGNORECASE)
_SINGLE = re.compile(r"^\s*(\d+)\s*$")


class NotAReleaseError(ValueError):
    """The folder holds no released tables."""


@dataclass
class ReleasedTable:
    """One released CSV as text, with its numbers parsed (NaN = not shown)."""

    name: str
    path: Path
    frame: pd.DataFrame  # every column as text
    dims: list[str]
    n: np.ndarray  # float, NaN where the count is not shown
    population: np.ndarray | None
    value_cols: list[str] = field(default_factory=list)

    def cell(self, i: int) -> str:
        """A cell's name from its labels (never anything else)."""
        return ", ".join(f"{d}={self.frame.at[i, d]}" for d in self.dims)

    def numbers(self, col: str) -> np.ndarray:
        return to_number(self.frame[col])

    def shown(self, col: str) -> np.ndarray:
        return ~np.isnan(self.numbers(col))


def to_number(col: pd.Series) -> np.ndarray:
    """Numbers of a text column; anything that does not read as a number is NaN."""
    text = col.astype(str).str.strip().str.replace("\u00a0", "", regex=False)
    return pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)


def is_numeric(col: pd.Series) -> bool:
    """A column of numbers (some perhaps hidden): at least one entry reads as one."""
    return bool((~np.isnan(to_number(col))).any())


def is_rate(col: str, cols: list[str]) -> bool:
    """A rate derived from another column: ``<col>_per_person``, ``<col>_per_1000_py`` ..."""
    return col.endswith("_per_person") or any(
        col.startswith(f"{c}_per_") for c in cols if c != col)


def read_table(path: Path) -> ReleasedTable | None:
    """Read one released CSV; None when it has no count column ``n``."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    cols = list(frame.columns)
    if COUNT not in cols:
        return None
    dims = cols[: cols.index(COUNT)]
    rest = cols[cols.index(COUNT) + 1:]
    values = [c for c in rest if c != POPULATION and c not in SHARE_COLS + RATE_COLS
              and c not in DERIVED_COLS and not is_rate(c, rest) and is_numeric(frame[c])]
    pop = to_number(frame[POPULATION]) if POPULATION in frame else None
    return ReleasedTable(path.stem, path, frame, dims, to_number(frame[COUNT]), pop, values)


def find_release(folder: Path) -> Path:
    """``folder/release`` when it exists, else ``folder`` itself if it holds tables."""
    folder = Path(folder)
    for cand in (folder / "release", folder):
        if (cand / "tables").is_dir() and any((cand / "tables").glob("*.csv")):
            return cand
    raise NotAReleaseError(
        f"{folder}: not a release folder (no release/tables/*.csv nor tables/*.csv). "
        "Give the output folder of `kprlink run` or its release/ folder.")


def read_tables(release: Path) -> list[ReleasedTable]:
    """Every released table with a count column, in name order."""
    out = []
    for path in sorted((release / "tables").glob("*.csv")):
        table = read_table(path)
        if table is not None:
            out.append(table)
    return out


# ---------------------------------------------------------------- labels

def label_interval(label: str) -> tuple[float, float] | None:
    """An age-band label as a half-open interval [lo, hi); None when it is no band."""
    if m := _RANGE.match(label):
        lo, hi = int(m[1]), int(m[2])
        return (lo, hi + 1) if hi >= lo else None
    if m := _PLUS.match(label):
        return (int(m[1]), math.inf)
    if m := _UNDER.match(label):
        return (0, int(m[1]))
    if m := _SINGLE.match(label):
        return (int(m[1]), int(m[1]) + 1)
    return None


def interval_labels(labels: list[str]) -> dict[str, tuple[float, float]] | None:
    """Labels as disjoint intervals when they all read as bands and one is a range."""
    inner = [lab for lab in labels if lab != TOTAL]
    if not inner or not any(_RANGE.match(x) or _PLUS.match(x) or _UNDER.match(x)
                            for x in inner):
        return None
    ivs = {lab: label_interval(lab) for lab in inner}
    if any(v is None for v in ivs.values()):
        return None
    ordered = sorted(ivs.values())  # type: ignore[arg-type]
    if any(a[1] > b[0] for a, b in zip(ordered, ordered[1:])):
        return None  # overlapping bands: not a partition
    return ivs  # type: ignore[return-value]


# ---------------------------------------------------------------- report

_MAX_N = [
    (re.compile(r"counts?\s+(?:of\s+)?1\s*(?:[-\u2013]|to)\s*(\d+)", re.I), 0),
    (re.compile(r"counts?\s*(?:<=|\u2264|up to|at most)\s*(\d+)", re.I), 0),
    (re.compile(r"\bmax_n\s*[=:]\s*(\d+)", re.I), 0),
    (re.compile(r"(?:fewer than|under|below|less than)\s+(\d+)\s+(?:are\s+)?suppress", re.I),
     -1),
]
_MIN_WIDTH = re.compile(r"(?:min_width|minimum (?:interval )?width)\D{0,12}(\d+)", re.I)
_DIFF = re.compile(r"protect_differences\s*[=:]\s*true|population minus|"
                   r"denominator\s*(?:-|minus|less)\s*(?:the\s+)?count", re.I)
_ZEROS = re.compile(r"zeros too|protect_zeros\s*[=:]\s*true", re.I)
_TABLE = re.compile(r"\bTable `([^`]+)`")
_EXCEEDED = re.compile(r"more persons than (?:their|its|the) population|"
                       r"exceed(?:s|ing)? (?:their|its|the) population", re.I)
_LEFT_OUT = re.compile(r"(left out|excluded|not counted|leaves out)", re.I)
_ITEM = re.compile(r"([^:;.\n]*?[A-Za-z][^:;\n]*?)\s*:\s*(\d[\d\s,\u00a0]*)(?=[;.\s]|$)")


@dataclass(frozen=True)
class ReportFacts:
    """What the report states: the rule, and the numbers of its text lines."""

    max_n: int | None
    min_width: int | None
    protect_differences: bool
    numbers: pd.DataFrame  # line, label, value
    #: tables whose section says some cells count more persons than their population
    population_exceeded: frozenset[str] = frozenset()
    #: the rule protects zeros too (else a value known to be 0 discloses nothing)
    protect_zeros: bool = False


def read_report(release: Path) -> ReportFacts:
    """Parse ``report.md`` (missing report: nothing stated)."""
    path = release / "report.md"
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    max_n = None
    for rx, shift in _MAX_N:
        if m := rx.search(text):
            max_n = int(m[1]) + shift
            break
    mw = _MIN_WIDTH.search(text)
    rows = []
    for no, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("|") or not _LEFT_OUT.search(line):
            continue
        body = line[_LEFT_OUT.search(line).end():]  # type: ignore[union-attr]
        for m in _ITEM.finditer(body):
            digits = re.sub(r"[\s,\u00a0]", "", m[2])
            if digits:
                rows.append({"line": no, "label": m[1].strip(" :*_-"),
                             "value": int(digits)})
    numbers = pd.DataFrame(rows, columns=["line", "label", "value"])
    exceeded, current = set(), None
    for line in text.splitlines():
        if m := _TABLE.search(line):
            current = m[1]
        if current and _EXCEEDED.search(line):
            exceeded.add(current)
    return ReportFacts(max_n, int(mw[1]) if mw else None, bool(_DIFF.search(text)), numbers,
                       frozenset(exceeded), bool(_ZEROS.search(text)))
