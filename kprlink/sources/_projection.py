"""Projected reads: load only the canonical columns (and frames) a caller asks for (internal).

A projection is a mapping from :class:`~kprlink.sources.Delivery` field to the
canonical columns wanted (``None``: every column of that frame). Whatever is
asked for, a file's *validation columns* are always read — its required
columns, its unique key and the columns the row checks compare (dates, death
date) — so a projected read excludes exactly the rows a full read excludes and
counts them under the same reasons. Optional columns that are not read are
not converted, so their repairs (a bad value set to <NA>) are not counted.

NPR's long frames are built only when asked for: ``npr_diagnoses`` reads the
``tilstand_<n>_<k>`` columns, ``npr_procedures`` the ``ncsp_``/``ncmp_``/``ncrp_``
columns. Frames of a file's contract that are not in the projection get the
validation columns only (the file is still read, validated and counted).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import pandas as pd

from kprlink.exceptions import Problem, ValidationError
from kprlink.sources._contract import Contract, alias_key
from kprlink.sources._registry import DETECTABLE, FIELD_OF

__all__ = ["Projection", "FIELDS", "projection_for", "check_columns"]

#: Canonical columns the row checks (:func:`~kprlink.sources.validation.check_rows`)
#: compare, by contract; a projected read always loads them.
CHECKED: dict[str, tuple[str, ...]] = {
    "kpr_kuhr.claims": ("date", "death_date", "birth_year"),
    "npr.episodes": ("date_in", "date_out", "death_date", "birth_year"),
    "kpr_ho.services": ("start_date", "end_date", "death_date", "birth_year"),
    "kpr_ho.functions": ("assessment_date",),
    "kpr_ho.indicators": ("date",),
}
#: Frames a contract gives beyond its main one (built from repeated wide groups).
DERIVED: dict[str, dict[str, str]] = {
    "npr.episodes": {"npr_diagnoses": "diagnoses", "npr_procedures": "procedures"},
}
_MONTHLY = "hours_per_week"


@dataclass(frozen=True)
class Projection:
    """What to read of one file.

    Attributes
    ----------
    delivered : tuple of str or None
        Delivered column names to read (None: all).
    keep : tuple of str or None
        Canonical columns of the main frame to keep, in contract order (code
        columns bring their ``_original`` and ``_valid`` companions; None: all).
    derived : frozenset of str or None
        Derived frames to build (``npr_diagnoses``, ``npr_procedures``; None: all).
    """

    delivered: tuple[str, ...] | None = None
    keep: tuple[str, ...] | None = None
    derived: frozenset[str] | None = None

    def select(self, frame: pd.DataFrame, contract: Contract) -> pd.DataFrame:
        """`frame` (canonical) with only the kept columns; wide groups stay."""
        if self.keep is None:
            return frame
        cols = []
        for name in self.keep:
            cols.append(name)
            if contract.column(name).dtype == "code":
                cols += [f"{name}_original", f"{name}_valid"]
        pats = [re.compile(p, re.IGNORECASE) for p in contract.repeated.values()]
        wide = [c for c in frame.columns if any(p.match(str(c)) for p in pats)]
        take = [c for c in cols if c in frame.columns] + wide
        if take == list(frame.columns):  # nothing to drop: no copy
            return frame
        return frame[take]


#: Every frame field a projection may name (the Delivery's frames).
FIELDS = ("kuhr_claims", "kuhr_diagnoses", "kuhr_fees", "ho_services", "ho_functions",
          "ho_indicators", "npr_episodes", "npr_diagnoses", "npr_procedures", "key",
          "population")


def check_columns(columns: Mapping[str, Collection[str] | None], where: str) -> None:
    """Raise ValidationError for unknown fields or canonical column names."""
    known: dict[str, set[str]] = {}
    for c in DETECTABLE:
        if c.file != "legacy":
            known.setdefault(FIELD_OF[c.name], set()).update(x.name for x in c.columns)
    problems = []
    for field_, cols in columns.items():
        if field_ not in FIELDS:
            problems.append(Problem(where, None, "unknown_field",
                                    f"{field_!r} is not a delivery frame",
                                    hint=f"Use one of {', '.join(FIELDS)}."))
            continue
        if cols is None or field_ not in known:
            continue
        for c in cols:
            if c not in known[field_]:
                problems.append(Problem(where, c, "unknown_column",
                                        f"{c!r} is not a canonical column of {field_}",
                                        hint="See docs/formats.md for canonical names."))
    if problems:
        raise ValidationError(f"{where}: columns= names {len(problems)} unknown "
                              "frame(s) or column(s)", problems)


def projection_for(contract: Contract, header: list[str] | None,
                   columns: Mapping[str, Collection[str] | None] | None) -> Projection:
    """The :class:`Projection` of a file of `contract` with delivered `header`.

    `header` None (formats whose header is not read first) reads every column
    and projects after conversion.
    """
    if columns is None or contract.file == "legacy":
        return Projection()
    main = FIELD_OF[contract.name]
    derived = frozenset(f for f in DERIVED.get(contract.name, {}) if f in columns)
    if main in columns and columns[main] is None:
        keep_set = {c.name for c in contract.columns}
    else:
        keep_set = set(columns.get(main) or ()) | set(contract.required)
        keep_set |= set(contract.unique) | set(CHECKED.get(contract.name, ()))
    keep = tuple(c.name for c in contract.columns if c.name in keep_set)
    if header is None:
        return Projection(None, keep, derived)
    mapping = contract.resolve(header)
    groups = [contract.repeated[DERIVED[contract.name][f]] for f in derived]
    pats = [re.compile(p, re.IGNORECASE) for p in groups]
    from kprlink.sources.canonical import _MONTHLY_HOURS

    # every column naming a kept field (a second alias too: to_canonical refuses
    # conflicting ones)
    canon = {alias_key(n): c.name for c in contract.columns for n in c.all_names}
    delivered = tuple(
        h for h in header
        if mapping.get(h) in keep_set or canon.get(alias_key(h)) in keep_set
        or any(p.match(str(h)) for p in pats)
        or (_MONTHLY in keep_set and alias_key(h) in _MONTHLY_HOURS))
    return Projection(delivered, keep, derived)
