"""Primary disclosure rules: small counts, zeros, percentages, dominance and p%.

A rule is a frozen definition that validates itself and is written into the release log
by name and settings, so a study script reads as its own methods section.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np

from kprlink.exceptions import SpecError


def _digest(settings: dict[str, object]) -> str:
    text = json.dumps(settings, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class SuppressionRule:
    """Primary suppression of small frequency counts.

    Parameters
    ----------
    max_n : int
        Counts ``1 .. max_n`` are suppressed (primary). There is no default: the study
        chooses. Presets: :meth:`ssb_fewer_than_3` (max_n=2), :meth:`under_5` (max_n=4).
    protect_zeros : bool, default True
        Suppress zero counts too (a zero can disclose that nobody in a group has a trait).
    protect_differences : bool, default True
        When a denominator is given, also suppress cells whose ``denominator - count`` lies
        in ``1 .. max_n`` (the complement of a percentage is a count too).
    singletons : bool, default True
        Protect sums of suppressed ones (and of suppressed zeros) within a margin, so the
        contributor of a 1 cannot recover a neighbour (GaussSuppression's singleton problem).
    min_width : float, default 1.0
        Audit requirement: every suppressed cell's feasible interval must be at least this
        wide. 1 means at least two integer values remain possible.
    name : str, optional
        Name written in the release log; defaults to a description of the settings.

    Examples
    --------
    >>> rule = SuppressionRule(max_n=4)
    >>> rule.name
    'counts 1-4 suppressed, zeros protected'
    >>> SuppressionRule.ssb_fewer_than_3().max_n
    2
    >>> rule.primary(np.array([0, 3, 5]))[0].tolist()
    [True, True, False]
    """

    max_n: int
    protect_zeros: bool = True
    protect_differences: bool = True
    singletons: bool = True
    min_width: float = 1.0
    name: str | None = None

    def _repr_html_(self) -> str:
        from kprlink._html import definition_card

        return definition_card(self)

    def __post_init__(self) -> None:
        problems = []
        if isinstance(self.max_n, bool) or not isinstance(self.max_n, int | np.integer):
            problems.append(f"max_n must be an int >= 0, got {self.max_n!r}")
        elif self.max_n < 0:
            problems.append(f"max_n must be an int >= 0, got {self.max_n}")
        for flag in ("protect_zeros", "protect_differences", "singletons"):
            if not isinstance(getattr(self, flag), bool):
                problems.append(f"{flag} must be True or False, got {getattr(self, flag)!r}")
        if not isinstance(self.min_width, int | float) or not self.min_width >= 0:
            problems.append(f"min_width must be a number >= 0, got {self.min_width!r}")
        if problems:
            raise SpecError(f"SuppressionRule(max_n={self.max_n!r}): invalid rule.", problems)
        if self.name is None:
            zeros = "zeros protected" if self.protect_zeros else "zeros published"
            object.__setattr__(self, "name", f"counts 1-{self.max_n} suppressed, {zeros}")

    @classmethod
    def ssb_fewer_than_3(cls, *, protect_zeros: bool = True) -> SuppressionRule:
        """Statistics Norway's "fewer than 3" (counts 1 and 2 suppressed)."""
        return cls(max_n=2, protect_zeros=protect_zeros, name="SSB: fewer than 3")

    @classmethod
    def under_5(cls, *, protect_zeros: bool = True) -> SuppressionRule:
        """The common "under 5" rule (counts 1-4 suppressed)."""
        return cls(max_n=4, protect_zeros=protect_zeros, name="under 5")

    def to_dict(self) -> dict[str, object]:
        """Settings as plain JSON-able data."""
        return {"kind": "frequency", **asdict(self)}

    @property
    def digest(self) -> str:
        """Short hash of the canonical JSON of the settings."""
        return _digest(self.to_dict())

    def min_width_for(self, value: np.ndarray) -> np.ndarray:
        """Required audit width of each suppressed cell (``min_width``)."""
        return np.full(len(np.asarray(value)), float(self.min_width))

    def primary(
        self, counts: np.ndarray, denominators: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Primary-suppressed mask and reason for each count.

        Returns
        -------
        (numpy.ndarray of bool, numpy.ndarray of str)
            The mask, and ``"count<=max_n"``, ``"zero"``, ``"denominator-count<=max_n"`` or
            ``""`` per cell.
        """
        counts = np.asarray(counts)
        reason = np.full(len(counts), "", dtype=object)
        small = (counts >= 1) & (counts <= self.max_n)
        reason[small] = f"count<={self.max_n}"
        if self.protect_zeros:
            reason[counts == 0] = "zero"
        if denominators is not None and self.protect_differences:
            diff = np.asarray(denominators) - counts
            comp = (diff >= 1) & (diff <= self.max_n) & (reason == "")
            reason[comp] = f"denominator-count<={self.max_n}"
        return reason != "", reason


@dataclass(frozen=True)
class DominanceRule:
    """(n, k)-dominance for magnitude tables.

    A cell is sensitive when its ``n`` largest contributions make up more than ``k``
    percent of its total (Hundepool et al. 2012, sec. 4.2).

    Examples
    --------
    >>> DominanceRule(n=1, k=80).sensitive(np.array([90.0, 5.0, 5.0]))
    True
    """

    n: int = 1
    k: float = 80.0
    protection_pct: float = 10.0

    def __post_init__(self) -> None:
        problems = []
        if not isinstance(self.protection_pct, int | float) or self.protection_pct < 0:
            problems.append(f"protection_pct must be >= 0, got {self.protection_pct!r}")
        if not isinstance(self.n, int) or self.n < 1:
            problems.append(f"n must be an int >= 1, got {self.n!r}")
        if not isinstance(self.k, int | float) or not 0 < self.k <= 100:
            problems.append(f"k must be a percentage in (0, 100], got {self.k!r}")
        if problems:
            raise SpecError(f"DominanceRule(n={self.n!r}, k={self.k!r}): invalid rule.",
                            problems)

    @property
    def name(self) -> str:
        return f"({self.n},{self.k:g})-dominance"

    def to_dict(self) -> dict[str, object]:
        return {"kind": "dominance", **asdict(self)}

    @property
    def digest(self) -> str:
        return _digest(self.to_dict())

    def min_width_for(self, value: np.ndarray) -> np.ndarray:
        """Required audit width: `protection_pct` percent of the cell value."""
        return self.protection_pct / 100.0 * np.asarray(value, dtype=float)

    def sensitive(self, contributions: np.ndarray) -> bool:
        """True when the cell with these (non-negative) contributions is sensitive."""
        x = np.sort(np.asarray(contributions, dtype=float))[::-1]
        total = x.sum()
        if total <= 0:
            return False
        return bool(x[: self.n].sum() > self.k / 100.0 * total)


@dataclass(frozen=True)
class PPercentRule:
    """The p% rule for magnitude tables.

    Sensitive when the second-largest contributor can estimate the largest contribution
    to within ``p`` percent: ``total - x1 - x2 < p/100 * x1``.

    Examples
    --------
    >>> PPercentRule(p=10).sensitive(np.array([100.0, 5.0, 3.0]))
    True
    >>> PPercentRule(p=10).sensitive(np.array([100.0, 50.0, 30.0]))
    False
    """

    p: float = 10.0

    def __post_init__(self) -> None:
        if not isinstance(self.p, int | float) or not 0 < self.p <= 100:
            raise SpecError(f"PPercentRule(p={self.p!r}): invalid rule.",
                            [f"p must be a percentage in (0, 100], got {self.p!r}"])

    @property
    def name(self) -> str:
        return f"p%-rule (p={self.p:g})"

    def to_dict(self) -> dict[str, object]:
        return {"kind": "p_percent", **asdict(self)}

    @property
    def digest(self) -> str:
        return _digest(self.to_dict())

    def min_width_for(self, value: np.ndarray) -> np.ndarray:
        """Required audit width: `p` percent of the cell value."""
        return self.p / 100.0 * np.asarray(value, dtype=float)

    def sensitive(self, contributions: np.ndarray) -> bool:
        """True when the cell with these (non-negative) contributions is sensitive."""
        x = np.sort(np.asarray(contributions, dtype=float))[::-1]
        if len(x) == 0 or x[0] <= 0:
            return False
        rest = x.sum() - x[0] - (x[1] if len(x) > 1 else 0.0)
        return bool(rest < self.p / 100.0 * x[0])
