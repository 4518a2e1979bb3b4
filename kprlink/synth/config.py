"""The generator's settings: :class:`SynthConfig`."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Literal

from kprlink.exceptions import SpecError

#: Period covered by KPR-KUHR claims and NPR episodes.
PERIOD_START = dt.date(2016, 7, 1)
PERIOD_END = dt.date(2017, 12, 31)
#: The reference study window (events counted in ``truth/dementia_registered``).
WINDOW_START = dt.date(2016, 7, 1)
WINDOW_END = dt.date(2017, 6, 30)
#: Reference date of the synthetic population (SSB 07459, 1 January 2017).
REFERENCE_DATE = dt.date(2017, 1, 1)


@dataclass(frozen=True)
class SynthConfig:
    """Settings of one synthetic delivery.

    Parameters
    ----------
    scale : float, default 0.01
        Share of Norway's population: ``1`` is 5.26 million persons on
        1 January 2017, ``0.01`` about 52,600.
    seed : int, default 2017
        Random seed; the same seed and settings give the same bytes.
    fmt : {"csv", "parquet"}, default "csv"
        File format of the delivery (truth is always Parquet + CSV manifest).
    defect_rate : float, default 0.01
        Rate of each injected delivery defect (persons missing from the key,
        key conflicts, sex/birth-year conflicts, contacts after death,
        dotted codes). ``0`` gives a clean delivery (no encoding defects either).
    chunk_persons : int, default 200_000
        Persons per generation chunk (memory bound; part of the output's
        identity, keep it fixed for reproducible bytes).
    progress : bool, default False
        Show a tqdm progress bar on stderr.

    Raises
    ------
    SpecError
        If any setting is out of range; ``err.problems`` lists all of them.

    Examples
    --------
    >>> SynthConfig(scale=0.001, seed=1).n_target
    5258
    """

    scale: float = 0.01
    seed: int = 2017
    fmt: Literal["csv", "parquet"] = "csv"
    defect_rate: float = 0.01
    chunk_persons: int = 200_000
    progress: bool = False

    def __post_init__(self) -> None:
        problems: list[str] = []
        if (
            isinstance(self.scale, bool)
            or not isinstance(self.scale, (int, float))
            or not math.isfinite(self.scale)
            or not 0 < self.scale <= 2
        ):
            problems.append(f"scale must be a number in (0, 2], got {self.scale!r}")
        elif self.scale * 5_258_317 < 200:
            problems.append(
                f"scale {self.scale!r} gives fewer than 200 persons; use scale >= 0.00004"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            problems.append(f"seed must be an int >= 0, got {self.seed!r}")
        if self.fmt not in ("csv", "parquet"):
            problems.append(f"fmt must be 'csv' or 'parquet', got {self.fmt!r}")
        if (
            isinstance(self.defect_rate, bool)
            or not isinstance(self.defect_rate, (int, float))
            or not 0 <= self.defect_rate <= 0.2
        ):
            problems.append(f"defect_rate must be in [0, 0.2], got {self.defect_rate!r}")
        if (
            isinstance(self.chunk_persons, bool)
            or not isinstance(self.chunk_persons, int)
            or self.chunk_persons < 1000
        ):
            problems.append(f"chunk_persons must be an int >= 1000, got {self.chunk_persons!r}")
        if problems:
            raise SpecError(f"SynthConfig: {len(problems)} invalid setting(s).", problems)

    @property
    def n_target(self) -> int:
        """Persons alive on 1 January 2017 at this scale (rounded)."""
        return round(5_258_317 * self.scale)
