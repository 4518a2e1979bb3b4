"""Column contracts: canonical names, dtypes, aliases, value sets, missing codes.

A :class:`Contract` describes one file of one source (e.g. the KPR-KUHR claim
file). Readers map delivered column names onto canonical ones through each
column's ``aliases`` (compared case-insensitively, ignoring ``_``), convert to
the canonical dtype, turn missing codes (``-1``, ``9`` …) into ``<NA>`` and
validate value sets.

Canonical dtypes
----------------
``int``       nullable ``Int64`` (ids, counts, years)
``small``     nullable ``Int16`` (codes with few values: sex, care level)
``float``     ``float64``
``str``       ``string[pyarrow]``
``category``  pandas ``category``
``code``      a diagnosis/procedure/fee code, normalised to upper-case
              ``[A-Z0-9]`` (fee codes: lower-case) with the delivered text kept
              in ``<name>_original`` where it differs
``date``      ``datetime64[ns]`` (day precision)
``time``      ``string`` ``HH:MM``
``bool``      nullable ``boolean``
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

Dtype = Literal["int", "small", "float", "str", "category", "code", "date", "time", "bool"]

_KEY_RE = re.compile(r"[^a-z0-9]")
#: Norwegian letters folded as deliveries spell them without æøå (``kjønn``/``kjonn``,
#: ``fødselsår``/``fodselsaar``/``fodselsar``: å and ``aa`` both become ``a``).
_FOLD = str.maketrans({"æ": "ae", "ø": "o", "å": "a", "ä": "ae", "ö": "o"})


def alias_key(name: str) -> str:
    """Normalise a column name for alias matching: lower-case, no ``_``/spaces, æøå folded.

    >>> alias_key("KPR_lnr") == alias_key("kprLnr")
    True
    >>> alias_key("Kjønn") == alias_key("kjonn"), alias_key("fødselsår") == alias_key("fodselsaar")
    (True, True)
    """
    key = str(name).strip().lstrip("\ufeff").lower().translate(_FOLD)
    return _KEY_RE.sub("", key).replace("aa", "a")


@dataclass(frozen=True)
class Column:
    """One canonical column of a source file.

    Parameters
    ----------
    name : str
        Canonical name (what every kprlink function uses).
    dtype : Dtype
        Canonical dtype, see the module docstring.
    required : bool
        Whether a delivery without it is unusable.
    aliases : tuple of str
        Names real deliveries use; the first is the current delivery name.
    values : frozenset or None
        Allowed values after missing codes are removed, or None.
    missing_codes : tuple
        Delivered values that mean "unknown" and become ``<NA>``.
    value_range : tuple or None
        Inclusive (low, high) for numbers.
    description : str
        What it holds, for docs and reports.
    """

    name: str
    dtype: Dtype
    required: bool = False
    aliases: tuple[str, ...] = ()
    values: frozenset[object] | None = None
    missing_codes: tuple[object, ...] = ()
    value_range: tuple[float, float] | None = None
    description: str = ""

    @property
    def all_names(self) -> tuple[str, ...]:
        """Canonical name followed by every alias."""
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class Contract:
    """The column contract of one file of one source.

    Parameters
    ----------
    source : str
        Source name, e.g. ``"kpr_kuhr"``.
    file : str
        File role within the source, e.g. ``"claims"``.
    columns : tuple of Column
        Every canonical column.
    unique : tuple of str
        Columns that together identify a row (duplicate check), if any.
    repeated : Mapping[str, str]
        Regex of repeated wide column groups (e.g. NPR ``tilstand_<n>_<k>``),
        by group name; these are kept as delivered and reshaped by the source.
    description : str
        One line on what the file holds.
    """

    source: str
    file: str
    columns: tuple[Column, ...]
    unique: tuple[str, ...] = ()
    repeated: Mapping[str, str] = field(default_factory=dict)
    description: str = ""

    @property
    def name(self) -> str:
        """``source.file``."""
        return f"{self.source}.{self.file}"

    @property
    def required(self) -> tuple[str, ...]:
        """Canonical names of required columns."""
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        """The column with canonical ``name``."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def resolve(self, delivered: Iterable[str]) -> dict[str, str]:
        """Map delivered column names to canonical names.

        Returns ``{delivered_name: canonical_name}`` for every delivered
        column that matches a canonical name or alias. The first alias in
        contract order wins when a delivery has two candidates.

        >>> c = Contract("s", "f", (Column("kpr_id", "int", True, ("kpr_lnr",)),))
        >>> c.resolve(["KPR_lnr", "other"])
        {'KPR_lnr': 'kpr_id'}
        """
        by_key: dict[str, str] = {}
        for d in delivered:
            by_key.setdefault(alias_key(d), d)
        out: dict[str, str] = {}
        for col in self.columns:
            for cand in col.all_names:
                d = by_key.get(alias_key(cand))
                if d is not None and d not in out:
                    out[d] = col.name
                    break
        return out

    def same_field(self, delivered: Iterable[str]) -> dict[str, list[str]]:
        """Canonical names that two or more delivered columns match (aliases, any case).

        >>> c = Contract("s", "f", (Column("kpr_id", "int", True, ("kpr_lnr", "lopenr")),))
        >>> c.same_field(["kpr_lnr", "KPR_lnr", "x"])
        {'kpr_id': ['kpr_lnr', 'KPR_lnr']}
        """
        canon = {alias_key(n): col.name for col in self.columns for n in col.all_names}
        found: dict[str, list[str]] = {}
        for d in delivered:
            name = canon.get(alias_key(d))
            if name is not None:
                found.setdefault(name, []).append(str(d))
        return {k: v for k, v in found.items() if len(v) > 1}

    def score(self, delivered: Iterable[str]) -> float:
        """Share of required columns found among ``delivered`` (for detection)."""
        found = set(self.resolve(delivered).values())
        req = self.required
        if not req:
            return 0.0
        return sum(r in found for r in req) / len(req)
