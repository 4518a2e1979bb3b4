"""The base of every comparison and the check of its thresholds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

MISSING = -1


def _check_thresholds(owner: str, values: Sequence[float], *, increasing: bool,
                      lower: float, upper: float | None) -> list[str]:
    problems = []
    vals = list(values)
    if not vals:
        problems.append(f"{owner}: needs at least one threshold.")
    for v in vals:
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not np.isfinite(v):
            problems.append(f"{owner}: threshold {v!r} is not a finite number.")
        elif v < lower or (upper is not None and v > upper):
            problems.append(f"{owner}: threshold {v!r} lies outside [{lower}, {upper}].")
    if len(vals) > 1 and all(isinstance(v, (int, float)) for v in vals):
        d = np.diff(np.asarray(vals, dtype=float))
        if (increasing and not (d > 0).all()) or (not increasing and not (d < 0).all()):
            order = "increasing" if increasing else "decreasing"
            problems.append(f"{owner}: thresholds must be strictly {order}, got {vals}.")
    return problems


@dataclass(frozen=True)
class _Comparison:
    column: str
    right_column: str | None = field(default=None, kw_only=True)
    name: str | None = field(default=None, kw_only=True)

    @property
    def label(self) -> str:
        """Name used in the model table and the ``gamma_<label>`` columns."""
        return self.name or self.column

    @property
    def right(self) -> str:
        return self.right_column or self.column

    def level_labels(self) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _validate_common(self) -> list[str]:
        """Problems shared by every comparison (column; ``empty_right`` where it has one)."""
        problems = []
        who = type(self).__name__
        if not isinstance(self.column, str) or not self.column:
            problems.append(f"{who}: column must be a non-empty str, got {self.column!r}.")
        empty_right = getattr(self, "empty_right", "missing")
        if empty_right not in ("missing", "none"):
            problems.append(f"{who}: empty_right must be 'missing' or 'none', "
                            f"got {empty_right!r}.")
        return problems
