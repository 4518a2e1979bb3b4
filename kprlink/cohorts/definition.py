"""``CohortDefinition``: a declarative cohort, written in TOML.

A definition names entry events (source × code lists × diagnosis position,
optional contact types, service types or NPR care levels), a study window, the
index date (the first qualifying event in the window), ordered inclusion and
exclusion rules, and the output attributes. See ``docs/cohorts.md``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from kprlink.codes import CodeList
from kprlink.cohorts._criteria import (  # noqa: F401  (re-exported: their home until 0.2)
    POSITIONS,
    RULE_KINDS,
    SOURCES,
    SPEC_VERSION,
    CohortRule,
    EntryCriterion,
    _codelist,
    _criteria,
    _inline,
)
from kprlink.exceptions import Problem, SpecError

__all__ = ["ATTRIBUTES", "RULE_KINDS", "CohortDefinition", "EntryCriterion", "CohortRule"]

#: Output attributes a definition may ask for.
ATTRIBUTES = ("age_at_index", "sex", "birth_year", "municipality_at_index", "sources",
              "n_events", "death_date", "linked")


def _date(v: Any, where: str, name: str, problems: list[Problem]) -> dt.date | None:
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    try:
        return dt.date.fromisoformat(str(v))
    except ValueError:
        problems.append(Problem(where, name, "bad_date", f"{name} {v!r} is not an ISO date"))
        return None


@dataclass(frozen=True)
class CohortDefinition:
    """A declarative cohort.

    Parameters
    ----------
    name : str
    window_start, window_end : datetime.date or ISO str
        Study window, both ends included.
    entry : sequence of EntryCriterion
        An event qualifies if it meets any criterion.
    rules : sequence of CohortRule, optional
        Applied in order after the index date is set.
    attributes : sequence of str, optional
        Output columns beyond the ids and ``index_date`` (see :data:`ATTRIBUTES`).
    version, description, source : str
    follow_up : FollowUp, optional
        How persons are followed after the index date; the built cohort then
        carries ``outcome_date, exit_date, exit_reason, status, time_days,
        person_years`` (see :func:`kprlink.cohorts.add_follow_up`).
    linkage : LinkageOptions, optional
        The ``[linkage]`` table; with ``method = "probabilistic"`` the cohort
        carries ``link_method`` and ``match_probability``.

    Raises
    ------
    SpecError
        On any invalid part; ``err.problems`` lists them all.

    Examples
    --------
    >>> dem = CodeList("dementia", "ICD-10", ["F00-F03", "G30"])
    >>> d = CohortDefinition("dem", "2016-07-01", "2017-06-30", [EntryCriterion("npr", [dem])])
    >>> d.window_end, len(d.digest)
    (datetime.date(2017, 6, 30), 12)
    """

    name: str
    window_start: dt.date | str
    window_end: dt.date | str
    entry: Sequence[EntryCriterion]
    rules: Sequence[CohortRule] = ()
    attributes: Sequence[str] = ("age_at_index", "sex", "municipality_at_index", "sources")
    version: str = "1"
    description: str = ""
    source: str = ""
    follow_up: Any = None
    linkage: Any = None

    def _repr_html_(self) -> str:
        from kprlink._html import definition_card

        return definition_card(self)

    def __post_init__(self) -> None:
        from kprlink.cohorts._followup import FollowUp

        where = f"cohort {self.name!r}"
        problems: list[Problem] = []
        start = _date(self.window_start, where, "window_start", problems)
        end = _date(self.window_end, where, "window_end", problems)
        if start and end and start > end:
            problems.append(Problem(where, "window", "empty_window", "window_start > window_end"))
        if not self.entry:
            problems.append(Problem(where, "entry", "no_entry", "needs at least one entry"))
        bad = sorted(set(self.attributes) - set(ATTRIBUTES))
        if bad:
            problems.append(Problem(where, "attributes", "bad_attribute",
                                    f"unknown attributes {bad}; known {list(ATTRIBUTES)}"))
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names):
            problems.append(Problem(where, "rules", "duplicate_rule_name",
                                    "rule names must differ"))
        if self.follow_up is not None and not isinstance(self.follow_up, FollowUp):
            problems.append(Problem(where, "follow_up", "bad_follow_up", "needs a FollowUp"))
        from kprlink.cohorts._model_links import LinkageOptions

        if self.linkage is not None and not isinstance(self.linkage, LinkageOptions):
            problems.append(Problem(where, "linkage", "bad_linkage", "needs LinkageOptions"))
        if problems:
            raise SpecError(f"invalid cohort definition {self.name!r}", problems)
        object.__setattr__(self, "window_start", start)
        object.__setattr__(self, "window_end", end)
        for f in ("entry", "rules", "attributes"):
            object.__setattr__(self, f, tuple(getattr(self, f)))

    @property
    def codelists(self) -> list[CodeList]:
        """Every code list used (entry and rules), distinct by digest."""
        seen: dict[str, CodeList] = {}
        for e in self.entry:
            for c in e.codelists:
                seen.setdefault(c.digest, c)
        for r in self.rules:
            for c in r.params.get("codelists", ()):
                seen.setdefault(c.digest, c)
        for c in (self.follow_up.codelists if self.follow_up is not None else ()):
            seen.setdefault(c.digest, c)
        return list(seen.values())

    def to_dict(self) -> dict[str, Any]:
        """The file form; code lists are written inline so the file stands alone."""
        d = {"kprlink_spec": SPEC_VERSION, "kind": "cohort", "name": self.name,
             "version": self.version, "description": self.description, "source": self.source,
             "window": {"start": self.window_start, "end": self.window_end},
             "entry": [e.to_dict() for e in self.entry],
             "rule": [r.to_dict() for r in self.rules],
             "output": {"attributes": list(self.attributes)}}
        if self.follow_up is not None:  # absent otherwise: digests of older files unchanged
            d["follow_up"] = self.follow_up.to_dict()
        if self.linkage is not None:  # likewise
            d["linkage"] = self.linkage.to_dict()
        return d

    @property
    def digest(self) -> str:
        """Short SHA-256 of the canonical JSON form (12 hex digits)."""
        text = json.dumps(self.to_dict(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def to_toml(self, path: str | Path) -> Path:
        """Write the definition as TOML (code lists inline); returns the path."""
        p = Path(path)
        p.write_text(tomli_w.dumps(self.to_dict()), encoding="utf-8")
        return p

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, base: Path | None = None,
                  where: str = "cohort definition") -> CohortDefinition:
        """Build from the file form; code-list references resolve against `base`."""
        problems: list[Problem] = []
        if data.get("kprlink_spec") != SPEC_VERSION:
            problems.append(Problem(where, "kprlink_spec", "unknown_spec",
                                    f"kprlink_spec {data.get('kprlink_spec')!r} is not supported"))
        if data.get("kind", "cohort") != "cohort":
            problems.append(Problem(where, "kind", "wrong_kind", f"kind {data.get('kind')!r}"))
        known = {"kprlink_spec", "kind", "name", "version", "description", "source", "window",
                 "entry", "rule", "output", "follow_up", "linkage"}
        extra = sorted(set(data) - known)
        if extra:
            problems.append(Problem(where, None, "unknown_keys", f"unknown keys {extra}"))
        window = data.get("window", {})
        if "name" not in data or "start" not in window or "end" not in window:
            problems.append(Problem(where, None, "missing_keys", "needs name, window.start/end"))
        entries = _criteria(data.get("entry", []), base, f"{where} entry", problems)
        rules = []
        for i, r in enumerate(data.get("rule", [])):
            w = f"{where} rule {i + 1}"
            params = {k: v for k, v in r.items() if k not in ("kind", "name", "exclude")}
            if "codelists" in params:
                params["codelists"] = [c for c in (_codelist(x, base, w, problems)
                                                   for x in params["codelists"]) if c]
            try:
                rules.append(CohortRule(r.get("kind", ""), r.get("name", ""),
                                  bool(r.get("exclude", False)), params))
            except SpecError as err:
                problems.extend(err.problems)
        follow_up = None
        if "follow_up" in data:
            from kprlink.cohorts._followup import FollowUp

            try:
                follow_up = FollowUp.from_dict(data["follow_up"], base=base,
                                               where=f"{where} follow_up")
            except SpecError as err:
                problems.extend(err.problems)
        linkage = None
        if "linkage" in data:
            from kprlink.cohorts._model_links import LinkageOptions

            try:
                linkage = LinkageOptions.from_dict(dict(data["linkage"]),
                                                   where=f"{where} [linkage]")
            except SpecError as err:
                problems.extend(err.problems)
            except TypeError as err:
                problems.append(Problem(where, "linkage", "bad_linkage", str(err)))
        if problems:
            raise SpecError(f"cannot read {where}", problems)
        out = data.get("output", {})
        return cls(data["name"], window["start"], window["end"], entries, rules,
                   out.get("attributes", ("age_at_index", "sex", "municipality_at_index",
                                          "sources")),
                   str(data.get("version", "1")), data.get("description", ""),
                   data.get("source", ""), follow_up, linkage)

    @classmethod
    def from_toml(cls, path: str | Path) -> CohortDefinition:
        """Read a cohort TOML file (code-list files resolve against its folder)."""
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as err:
            raise SpecError(f"{p} is not valid TOML",
                            [Problem(str(p), None, "bad_toml", str(err))]) from err
        return cls.from_dict(data, base=p.parent, where=str(p))
