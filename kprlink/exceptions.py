"""The ``KprlinkError`` family and kprlink's warnings.

Every error kprlink raises on bad input is a :class:`KprlinkError`. Errors carry
data (``err.problems``, ``err.missing``, ``err.failure_cases``) so tests and
callers never have to parse message text. Problems are collected first and
raised once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas loads on use: ``kprlink --help`` stays fast
    import pandas as pd

__all__ = [
    "KprlinkError",
    "SpecError",
    "MissingColumnsError",
    "LinkageError",
    "ValidationError",
    "DisclosureError",
    "ReleaseRefusedError",
    "Problem",
    "DisclosureRiskWarning",
    "LinkageQualityWarning",
    "DataQualityWarning",
]


@dataclass(frozen=True)
class Problem:
    """One problem found in an input: where it is, what it is, what to do.

    Parameters
    ----------
    file : str
        File (or frame) name the problem was found in.
    column : str or None
        Column concerned, if any.
    reason : str
        Short machine-readable reason, e.g. ``"missing_column"``.
    message : str
        One sentence for a person.
    rows : tuple of int
        The first few 1-based data row numbers concerned (header is row 0).
    n_rows : int
        How many rows are concerned in all.
    hint : str
        What to do about it.
    """

    file: str
    column: str | None
    reason: str
    message: str
    rows: tuple[int, ...] = ()
    n_rows: int = 0
    hint: str = ""

    def __str__(self) -> str:
        where = self.file + (f", column {self.column!r}" if self.column else "")
        text = f"{where}: {self.message}"
        if self.n_rows:
            shown = ", ".join(str(r) for r in self.rows)
            more = f" and {self.n_rows - len(self.rows):,} more" if self.n_rows > len(self.rows) else ""
            text += f" (rows {shown}{more}; {self.n_rows:,} in all)"
        if self.hint:
            text += f" {self.hint}"
        return text


class KprlinkError(Exception):
    """Base class of every kprlink error.

    Parameters
    ----------
    message : str
        The headline.
    problems : sequence of Problem or str, optional
        Every problem found, collected before raising.
    """

    def __init__(self, message: str, problems: Sequence[Problem | str] = ()) -> None:
        self.problems: list[Problem | str] = list(problems)
        self.headline = message
        super().__init__(message)

    def __str__(self) -> str:
        if not self.problems:
            return self.headline
        lines = [self.headline] + [f"  - {p}" for p in self.problems]
        return "\n".join(lines)

    @property
    def failure_cases(self) -> pd.DataFrame:
        """The problems as a DataFrame (one row per problem)."""
        import pandas as pd

        rows = []
        for p in self.problems:
            if isinstance(p, Problem):
                rows.append(
                    {
                        "file": p.file,
                        "column": p.column,
                        "reason": p.reason,
                        "n_rows": p.n_rows,
                        "rows": list(p.rows),
                        "message": p.message,
                        "hint": p.hint,
                    }
                )
            else:
                rows.append({"file": None, "column": None, "reason": "other",
                             "n_rows": 0, "rows": [], "message": str(p), "hint": ""})
        return pd.DataFrame(
            rows, columns=["file", "column", "reason", "n_rows", "rows", "message", "hint"]
        )


class SpecError(KprlinkError, ValueError):
    """A definition (code list, cohort, study, rule) is invalid."""


class MissingColumnsError(KprlinkError, KeyError):
    """A frame or file lacks required columns.

    Attributes
    ----------
    missing : list of str
        Canonical names of the missing columns.
    """

    def __init__(
        self,
        message: str,
        problems: Sequence[Problem | str] = (),
        *,
        missing: Sequence[str] = (),
    ) -> None:
        super().__init__(message, problems)
        self.missing = list(missing)

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return KprlinkError.__str__(self)

    @classmethod
    def require(cls, df: pd.DataFrame, cols: Sequence[str], func: str) -> None:
        """Raise naming every column of `cols` that `df` lacks (called by `func`).

        Examples
        --------
        >>> import pandas as pd
        >>> MissingColumnsError.require(pd.DataFrame({"a": [1]}), ["a", "b"], "f")
        Traceback (most recent call last):
        ...
        kprlink.exceptions.MissingColumnsError: f() needs column(s) ['b']; columns are ['a'].
          - column 'b' is missing
        """
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise cls(f"{func}() needs column(s) {missing}; columns are {list(df.columns)}.",
                      [f"column {c!r} is missing" for c in missing], missing=missing)


class LinkageError(KprlinkError, ValueError):
    """Extracts cannot be linked as specified."""


class ValidationError(KprlinkError, ValueError):
    """An extract or delivery is not usable; ``problems`` lists every reason."""


class DisclosureError(KprlinkError, ValueError):
    """A table cannot be protected as specified."""


class ReleaseRefusedError(DisclosureError):
    """Release refused: a hidden cell could be recovered from what is published."""


class DisclosureRiskWarning(UserWarning):
    """Output may still allow re-identification."""


class LinkageQualityWarning(UserWarning):
    """Linkage ran, but its diagnostics look poor."""


class DataQualityWarning(UserWarning):
    """Input was usable but repaired or partly excluded; see the report."""
