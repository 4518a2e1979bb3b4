"""Entry criteria and rules of a cohort definition: ``EntryCriterion``, ``CohortRule``.

The parts of :class:`kprlink.cohorts.CohortDefinition` that other definitions
reuse (a follow-up's outcome events are entry criteria too), so that
:mod:`kprlink.cohorts.definition` and :mod:`kprlink.cohorts._followup` both
build on this module and neither imports the other back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kprlink.codes import CONTACT_TYPES, CodeList, load_phenotype
from kprlink.exceptions import KprlinkError, Problem, SpecError

__all__ = ["RULE_KINDS", "CohortRule", "EntryCriterion"]

SPEC_VERSION = 1
SOURCES = ("npr", "kpr_kuhr")
POSITIONS = ("main", "secondary", "any")
#: CohortRule kinds and the parameters each takes (required ones first).
RULE_KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "age_at_index": ((), ("min_age", "max_age")),
    "sex": (("values",), ()),
    "residence": (("municipalities",), ()),
    "alive_at_index": ((), ()),
    "linked": ((), ()),
    "lookback": (("codelists", "days"), ("sources",)),
    "washout": (("days",), ("coverage_start",)),
}
def _codelist(ref: Any, base: Path | None, where: str, problems: list[Problem]) -> CodeList | None:
    """A code list from a CodeList, a library name, a file path or an inline table."""
    try:
        if isinstance(ref, CodeList):
            return ref
        if isinstance(ref, str) and ref.endswith((".json", ".toml")):
            path = Path(ref) if base is None or Path(ref).is_absolute() else base / ref
            return CodeList.from_file(path)
        if isinstance(ref, str):
            return load_phenotype(ref)
        if isinstance(ref, Mapping):
            return CodeList.from_dict({"kprlink_spec": SPEC_VERSION, **ref}, where=where)
    except (KprlinkError, OSError) as err:
        problems.append(Problem(where, "codelists", "bad_codelist", str(err)))
        return None
    problems.append(Problem(where, "codelists", "bad_codelist", f"cannot read {ref!r}"))
    return None


@dataclass(frozen=True)
class EntryCriterion:
    """Which events qualify: one source, one or more code lists, a position.

    Parameters
    ----------
    source : {"npr", "kpr_kuhr"}
    codelists : sequence of CodeList
    position : {"any", "main", "secondary"}, default "any"
    contact_types : sequence of str, optional
        KUHR only: keep claims of these types (see :func:`kprlink.codes.contact_types`).
    service_types : sequence of str, optional
        KUHR only: keep claims of these service types ("Fastlege", "Legevakt" …).
    care_levels : sequence of int, optional
        NPR only: keep episodes of these care levels (1, 2, 3, 8).
    """

    source: str
    codelists: Sequence[CodeList]
    position: str = "any"
    contact_types: Sequence[str] = ()
    service_types: Sequence[str] = ()
    care_levels: Sequence[int] = ()

    def __post_init__(self) -> None:
        where = f"entry {self.source!r}"
        problems = []
        if self.source not in SOURCES:
            problems.append(Problem(where, "source", "bad_source",
                                    f"source must be one of {SOURCES}"))
        if self.position not in POSITIONS:
            problems.append(Problem(where, "position", "bad_position",
                                    f"position must be one of {POSITIONS}, got {self.position!r}"))
        if not self.codelists or not all(isinstance(c, CodeList) for c in self.codelists):
            problems.append(Problem(where, "codelists", "bad_codelist", "needs CodeList objects"))
        bad_ct = sorted(set(self.contact_types) - set(CONTACT_TYPES))
        if bad_ct:
            problems.append(Problem(where, "contact_types", "bad_contact_type",
                                    f"unknown contact types {bad_ct}"))
        if self.source == "npr" and (self.contact_types or self.service_types):
            problems.append(Problem(where, "contact_types", "kuhr_only",
                                    "contact_types/service_types apply to kpr_kuhr only"))
        if self.source == "kpr_kuhr" and self.care_levels:
            problems.append(Problem(where, "care_levels", "npr_only",
                                    "care_levels apply to npr only"))
        if problems:
            raise SpecError("invalid entry criterion", problems)
        for f in ("codelists", "contact_types", "service_types", "care_levels"):
            object.__setattr__(self, f, tuple(getattr(self, f)))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"source": self.source, "position": self.position,
                             "codelists": [_inline(c) for c in self.codelists]}
        for f in ("contact_types", "service_types", "care_levels"):
            if getattr(self, f):
                d[f] = list(getattr(self, f))
        return d


def _inline(cl: CodeList) -> dict[str, Any]:
    d = cl.to_dict()
    d.pop("kprlink_spec")
    d.pop("kind")
    return d


def _criteria(items: Sequence[Mapping[str, Any]], base: Path | None, where: str,
              problems: list[Problem]) -> list[EntryCriterion]:
    """Entry criteria from their file form (entries, follow-up outcomes)."""
    out = []
    for i, e in enumerate(items):
        w = f"{where} {i + 1}"
        lists = [_codelist(r, base, w, problems) for r in e.get("codelists", [])]
        try:
            out.append(EntryCriterion(**{**e, "codelists": [c for c in lists if c]}))
        except (SpecError, TypeError) as err:
            problems.extend(getattr(err, "problems", [Problem(w, None, "bad_entry", str(err))]))
    return out


@dataclass(frozen=True)
class CohortRule:
    """One ordered inclusion or exclusion rule.

    Parameters
    ----------
    kind : str
        One of :data:`RULE_KINDS`: ``age_at_index`` (min_age/max_age, inclusive;
        age = index year − birth year), ``sex`` (values 1/2), ``residence``
        (municipalities: 4-digit codes or 2-digit county prefixes, at the index
        record), ``alive_at_index``, ``linked`` (linked to both registers through
        the key), ``lookback`` (a qualifying event of `codelists` in `sources`
        within `days` days before the index date), ``washout`` (incident
        cohorts: no entry event in the `days` days before the index date, and
        the delivery covers that whole look-back: index − days >=
        `coverage_start`, by default the delivery's first claim or episode date).
    name : str
        Label in the attrition table.
    exclude : bool, default False
        False: keep persons meeting the condition. True: drop them.
    params : mapping
        The kind's parameters.
    """

    kind: str
    name: str = ""
    exclude: bool = False
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = f"rule {self.name or self.kind!r}"
        problems = []
        if self.kind not in RULE_KINDS:
            problems.append(Problem(where, "kind", "bad_rule_kind",
                                    f"kind must be one of {sorted(RULE_KINDS)}, got {self.kind!r}"))
        else:
            req, opt = RULE_KINDS[self.kind]
            lack = [k for k in req if k not in self.params]
            extra = sorted(set(self.params) - set(req) - set(opt))
            if lack:
                problems.append(Problem(where, None, "missing_param", f"needs {lack}"))
            if extra:
                problems.append(Problem(where, None, "unknown_param", f"unknown {extra}"))
            if self.kind in ("lookback", "washout") and "days" in self.params and (
                    not isinstance(self.params["days"], int) or self.params["days"] < 1):
                problems.append(Problem(where, "days", "bad_days", "days must be an int >= 1"))
            if self.kind == "age_at_index":
                lo, hi = self.params.get("min_age", 0), self.params.get("max_age", 200)
                if not (isinstance(lo, int) and isinstance(hi, int) and 0 <= lo <= hi):
                    problems.append(Problem(where, "min_age", "bad_age_range",
                                            "min_age and max_age must be ints, min <= max"))
        if problems:
            raise SpecError("invalid rule", problems)
        object.__setattr__(self, "name", self.name or self.kind)
        params = dict(self.params)
        if "codelists" in params:
            params["codelists"] = tuple(params["codelists"])
        object.__setattr__(self, "params", params)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "name": self.name, "exclude": self.exclude}
        for k, v in self.params.items():
            d[k] = [_inline(c) for c in v] if k == "codelists" else (
                list(v) if isinstance(v, tuple) else v)
        return d
