"""``CodeList``: a named, versioned set of diagnosis or fee codes.

A code list holds entries of three kinds, all in one code system:

* a code (``"P70"``): with ``match="prefix"`` (the default) every code that
  starts with it, with ``match="exact"`` that code only;
* an explicit prefix (``"F00*"``), whatever ``match`` says;
* an inclusive range of code heads (``"F00-F03"``, ``"S72.0-S72.2"``): every
  code whose first ``len(lo)`` characters lie between ``lo`` and ``hi``.

``exclude`` takes the same kinds of entries and wins over ``codes``. Codes are
normalised as in the canonical frames (dots and spaces removed, upper case,
fee codes lower case), so ``"S72.0"`` and ``"S720"`` are the same entry.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import tomli_w

from kprlink.codes.systems import REFINED_BY, SYSTEMS, distinct_codes, normalise_code, valid_code
from kprlink.exceptions import Problem, SpecError

__all__ = ["CodeList"]

SPEC_VERSION = 1
_FIELDS = ("name", "version", "system", "match", "codes", "exclude", "source", "description")


def _parse(entry: str, system: str, where: str, problems: list[Problem]) -> tuple[str, str, str]:
    """One entry as (kind, lo, hi) with kind "code", "prefix" or "range"."""
    raw = str(entry).strip()
    if "-" in raw:
        lo_raw, _, hi_raw = raw.partition("-")
        lo, hi = normalise_code(lo_raw, system), normalise_code(hi_raw, system)
        ok = (lo and hi and len(lo) == len(hi) and lo <= hi
              and valid_code(lo, system, partial=True) and valid_code(hi, system, partial=True))
        if not ok:
            problems.append(Problem(where, None, "bad_range",
                                    f"range {raw!r} is not lo-hi with lo <= hi of equal length "
                                    f"in {system}", hint='Write e.g. "F00-F03".'))
        return "range", lo, hi
    kind = "prefix" if raw.endswith("*") else "code"
    code = normalise_code(raw.rstrip("*"), system)
    if not valid_code(code, system, partial=True):
        problems.append(Problem(where, None, "bad_code",
                                f"{raw!r} is not a {system} code or code prefix",
                                hint=f"Check the system tag ({system!r}) and the code."))
    return kind, code, code


@dataclass(frozen=True)
class CodeList:
    """A named, versioned list of codes in one code system.

    Parameters
    ----------
    name : str
        Identifier, e.g. ``"dementia_icd10"``.
    system : {"ICD-10", "ICPC-2", "ICPC-2B", "fee"}
        Code system of the entries. An ICPC-2 list also matches ICPC-2B codes
        (ICPC-2B refines ICPC-2: ``P70`` matches ``P700001``).
    codes : sequence of str
        Codes, prefixes (``"F00*"``) and ranges (``"F00-F03"``).
    exclude : sequence of str, optional
        Entries removed from the match; they win over `codes`.
    match : {"prefix", "exact"}, default "prefix"
        How a plain code entry matches.
    version : str, default "1"
        Version of the clinical content (not of the file format).
    source : str, default ""
        Where the definition comes from (protocol, paper, guideline).
    description : str, default ""
        Free text.

    Raises
    ------
    SpecError
        If the name or system is invalid or any entry is malformed; every
        problem is listed in ``err.problems``.

    Examples
    --------
    >>> dem = CodeList("dementia", "ICD-10", ["F00-F03", "G30"])
    >>> dem.matches(pd.Series(["F001", "F039", "F04", "G300", None])).tolist()
    [True, True, False, True, False]
    >>> dem.with_codes(add=["G31.0"]).codes
    ('F00-F03', 'G30', 'G310')
    """

    name: str
    system: str
    codes: Sequence[str]
    exclude: Sequence[str] = ()
    match: Literal["prefix", "exact"] = "prefix"
    version: str = "1"
    source: str = ""
    description: str = ""

    def _repr_html_(self) -> str:
        from kprlink._html import definition_card

        return definition_card(self)

    def __post_init__(self) -> None:
        problems: list[Problem] = []
        where = f"CodeList {self.name!r}"
        if not isinstance(self.name, str) or not self.name.strip():
            problems.append(Problem(where, "name", "bad_name", "name must be a non-empty string"))
        if self.system not in SYSTEMS:
            problems.append(Problem(where, "system", "unknown_system",
                                    f"system {self.system!r} is not one of {sorted(SYSTEMS)}"))
        if self.match not in ("prefix", "exact"):
            problems.append(Problem(where, "match", "bad_match",
                                    f"match must be 'prefix' or 'exact', got {self.match!r}"))
        if isinstance(self.codes, str) or isinstance(self.exclude, str):
            problems.append(Problem(where, "codes", "not_a_list",
                                    "codes and exclude must be lists of strings"))
        elif not self.codes:
            problems.append(Problem(where, "codes", "empty", "a code list needs codes"))
        if problems:
            raise SpecError(f"invalid code list {self.name!r}", problems)
        parsed: dict[str, list[tuple[str, str, str]]] = {"codes": [], "exclude": []}
        clean: dict[str, tuple[str, ...]] = {}
        for field in ("codes", "exclude"):
            out: list[str] = []
            for entry in getattr(self, field):
                kind, lo, hi = _parse(entry, self.system, where, problems)
                parsed[field].append((kind, lo, hi))
                text = f"{lo}-{hi}" if kind == "range" else lo + ("*" if kind == "prefix" else "")
                if text not in out:
                    out.append(text)
            clean[field] = tuple(out)
        if problems:
            raise SpecError(f"invalid code list {self.name!r}", problems)
        object.__setattr__(self, "codes", clean["codes"])
        object.__setattr__(self, "exclude", clean["exclude"])
        object.__setattr__(self, "_parsed", parsed)

    # --- matching -------------------------------------------------------------------------
    def _match_unique(self, uniques: np.ndarray, entries: list[tuple[str, str, str]]) -> np.ndarray:
        u = pd.Series(uniques, dtype="string[pyarrow]" if len(uniques) else "string")
        hit = np.zeros(len(u), dtype=bool)
        for kind, lo, hi in entries:
            if kind == "range":
                head = u.str.slice(0, len(lo))
                m = (u.str.len() >= len(lo)) & (head >= lo) & (head <= hi)
            elif kind == "prefix" or self.match == "prefix":
                m = u.str.startswith(lo)
            else:
                m = u == lo
            hit |= m.fillna(False).to_numpy(dtype=bool)
        return hit

    def matches(self, codes: pd.Series | Sequence[str]) -> np.ndarray:
        """Boolean array: which of `codes` the list matches (NA never matches).

        Matching runs once per distinct code, then maps back to the rows, so its
        cost grows with the number of distinct codes, not of rows. `codes` must be
        normalised as in the canonical frames.
        """
        s = codes if isinstance(codes, pd.Series) else pd.Series(list(codes), dtype="object")
        uniques, idx = distinct_codes(s)
        parsed = self._parsed  # type: ignore[attr-defined]
        hit = self._match_unique(uniques, parsed["codes"])
        if self.exclude:
            hit &= ~self._match_unique(uniques, parsed["exclude"])
        hit = np.append(hit, False)  # index -1 (NA) -> False
        return hit[idx]

    @property
    def event_systems(self) -> tuple[str, ...]:
        """Event code systems this list applies to (ICPC-2 lists also cover ICPC-2B)."""
        return REFINED_BY.get(self.system, (self.system,))

    # --- copies ----------------------------------------------------------------------------
    def with_codes(self, *, add: Iterable[str] = (), remove: Iterable[str] = (),
                   version: str | None = None) -> CodeList:
        """A copy with entries added and/or removed (`remove` compares normalised entries)."""
        drop = {CodeList(self.name, self.system, [r]).codes[0] for r in remove}
        codes = [c for c in self.codes if c not in drop] + list(add)
        return dataclasses.replace(self, codes=codes,
                                   version=self.version if version is None else version)

    # --- files -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The file form (``kprlink_spec``, ``kind`` and every field)."""
        d: dict[str, Any] = {"kprlink_spec": SPEC_VERSION, "kind": "codelist"}
        for f in _FIELDS:
            v = getattr(self, f)
            d[f] = list(v) if isinstance(v, tuple) else v
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "code list") -> CodeList:
        """Build from the file form; unknown ``kprlink_spec`` or keys raise :class:`SpecError`."""
        problems: list[Problem] = []
        if data.get("kprlink_spec") != SPEC_VERSION:
            problems.append(Problem(where, "kprlink_spec", "unknown_spec",
                                    f"kprlink_spec {data.get('kprlink_spec')!r} is not supported "
                                    f"(this kprlink reads {SPEC_VERSION})"))
        if data.get("kind", "codelist") != "codelist":
            problems.append(Problem(where, "kind", "wrong_kind",
                                    f"kind {data.get('kind')!r} is not 'codelist'"))
        extra = sorted(set(data) - set(_FIELDS) - {"kprlink_spec", "kind"})
        if extra:
            problems.append(Problem(where, None, "unknown_keys", f"unknown keys {extra}"))
        missing = [k for k in ("name", "system", "codes") if k not in data]
        if missing:
            problems.append(Problem(where, None, "missing_keys", f"missing keys {missing}"))
        if problems:
            raise SpecError(f"cannot read {where}", problems)
        return cls(**{k: data[k] for k in _FIELDS if k in data})

    @property
    def digest(self) -> str:
        """Short SHA-256 of the canonical JSON (12 hex digits)."""
        text = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def to_json(self, path: str | Path) -> Path:
        """Write the list as JSON; returns the path."""
        p = Path(path)
        p.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n",
                     encoding="utf-8")
        return p

    def to_toml(self, path: str | Path) -> Path:
        """Write the list as TOML; returns the path."""
        p = Path(path)
        p.write_text(tomli_w.dumps(self.to_dict()), encoding="utf-8")
        return p

    @classmethod
    def from_json(cls, path: str | Path) -> CodeList:
        """Read a list written by :meth:`to_json`."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")), where=str(path))

    @classmethod
    def from_toml(cls, path: str | Path) -> CodeList:
        """Read a list written by :meth:`to_toml`."""
        return cls.from_dict(tomllib.loads(Path(path).read_text(encoding="utf-8")),
                             where=str(path))

    @classmethod
    def from_file(cls, path: str | Path) -> CodeList:
        """Read a ``.json`` or ``.toml`` code list."""
        return cls.from_toml(path) if str(path).endswith(".toml") else cls.from_json(path)
