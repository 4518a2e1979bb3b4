"""Internal helpers shared by the extract generators (vocabularies, dates)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from kprlink.synth.config import WINDOW_END, WINDOW_START
from kprlink.synth.world import EPOCH

WIN_LO = (WINDOW_START - EPOCH).days
WIN_HI = (WINDOW_END - EPOCH).days
#: ICD-10 prefixes of the reference cohort rule (docs/architecture.md).
DEMENTIA_ICD10 = ("F00", "F01", "F02", "F03", "G30")

_TIMES = pa.array([f"{m // 60:02d}:{m % 60:02d}" for m in range(1440)])


def take(vocab: pa.Array | list[str], idx: np.ndarray, mask: np.ndarray | None = None
         ) -> pa.Array:
    """Strings ``vocab[idx]`` as an Arrow array (nulls where ``mask``)."""
    arr = vocab if isinstance(vocab, pa.Array) else pa.array(vocab, pa.string())
    ind = pa.array(np.asarray(idx, dtype=np.int32), mask=mask)
    return arr.take(ind)


def times(minutes: np.ndarray) -> pa.Array:
    """``HH:MM`` strings for minutes after midnight."""
    return _TIMES.take(pa.array(np.asarray(minutes, dtype=np.int32)))


def dates(days: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Arrow date32 from days since 1970 (null where ``mask`` or day < 0)."""
    d = np.asarray(days, dtype=np.int32)
    m = d < 0 if mask is None else (mask | (d < 0))
    return pa.array(d, pa.date32(), mask=m if m.any() else None)


def year_month(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Calendar year and month of days since 1970."""
    d = np.asarray(days).astype("datetime64[D]")
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    return y.astype(np.int16), m.astype(np.int8)


def age_at(days: np.ndarray, birth_year: np.ndarray, birth_month: np.ndarray) -> np.ndarray:
    """Completed years at each day (birthday assumed mid-month)."""
    y, m = year_month(days)
    return (y - birth_year - (m <= birth_month)).astype(np.int16).clip(0, None)


def choose(rng: np.random.Generator, n: int, weights: list[float] | np.ndarray) -> np.ndarray:
    """``n`` indices drawn with the given relative weights."""
    w = np.asarray(weights, dtype=float)
    return np.searchsorted(np.cumsum(w / w.sum()), rng.random(n), side="right").clip(
        0, len(w) - 1)


def is_dementia_code(code: str, system: str) -> bool:
    """The reference rule on one (normalised or dotted) code.

    >>> is_dementia_code("F00.1", "ICD-10"), is_dementia_code("P700006", "ICPC-2B")
    (True, True)
    """
    c = code.replace(".", "").replace(" ", "").upper()
    if system in ("ICPC-2", "ICPC-2B"):
        return c.startswith("P70")
    return c.startswith(DEMENTIA_ICD10)


def uniform_days(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """One uniform day in [lo, hi] per element (hi >= lo)."""
    return (lo + np.floor(rng.random(len(lo)) * (hi - lo + 1))).astype(np.int32)


@dataclass
class Defects:
    """Injected defect rows collected while generating one file's chunk."""

    file: str
    rows: list[np.ndarray] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    persons: list[np.ndarray] = field(default_factory=list)

    def add(self, kind: str, rows: np.ndarray, persons: np.ndarray) -> None:
        """Record 1-based data rows (already offset) of one kind."""
        if len(rows):
            self.rows.append(np.asarray(rows, dtype=np.int64))
            self.kinds.append(kind)
            self.persons.append(np.asarray(persons, dtype=np.int64))
