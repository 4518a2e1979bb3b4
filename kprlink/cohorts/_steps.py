"""The cohort builder's steps on canonical frames (run by :func:`kprlink.build_cohort`).

Steps (each a row of the attrition table, with records and persons remaining
and excluded):

1. diagnosis rows of the delivery (all persons with any diagnosis);
2. entry events: rows matching an entry criterion (source, code lists,
   position, contact/service types, care levels);
3. events in the study window (both ends included);
4. events not dated after the person's death (earliest death date in either
   register; such events are invalid and never qualify);
5. the index date is the first remaining event; then each rule in order.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kprlink._unique import unique
from kprlink.codes import contact_types
from kprlink.cohorts._followup import (
    FOLLOW_UP_COLUMNS,
    _needs_coverage,
    _washout,
    add_follow_up,
    coverage_of,
)
from kprlink.cohorts.definition import CohortDefinition, CohortRule, EntryCriterion
from kprlink.cohorts.events import _int64, _member, _positions, diagnosis_events
from kprlink.exceptions import DataQualityWarning, MissingColumnsError
from kprlink.linkage.keyfile import LinkageResult, link_extracts

__all__ = ["CohortResult", "cohort_columns"]


#: Canonical columns the builder and its key-file linkage read, by Delivery field.
_COLUMNS: dict[str, tuple[str, ...]] = {
    "kuhr_claims": ("kpr_id", "claim_id", "date", "year", "sex", "sex_corrected",
                    "birth_year", "death_date", "municipality", "service_type"),
    "kuhr_diagnoses": ("claim_id", "code", "system", "is_main", "position"),
    "npr_episodes": ("npr_id", "episode_id", "date_in", "date_out", "year", "sex",
                     "birth_year", "death_date", "municipality", "care_level"),
    "npr_diagnoses": ("episode_id", "npr_id", "condition", "slot", "code", "is_main"),
    "key": ("npr_id", "kpr_id", "delivery"),
}


def cohort_columns(definition: CohortDefinition) -> dict[str, tuple[str, ...] | None]:
    """The projection (Delivery field → canonical columns) a cohort build needs.

    Pass it to ``read_delivery(path, columns=...)`` to read only what
    :func:`build_cohort` uses; KUHR fee codes are included when an entry
    filters on contact types.

    >>> from kprlink.codes import CodeList
    >>> dem = CodeList("dementia", "ICD-10", ["F00-F03", "G30"])
    >>> d = CohortDefinition("dem", "2016-07-01", "2017-06-30", [EntryCriterion("npr", [dem])])
    >>> sorted(cohort_columns(d))
    ['key', 'kuhr_claims', 'kuhr_diagnoses', 'npr_diagnoses', 'npr_episodes']
    """
    out: dict[str, tuple[str, ...] | None] = dict(_COLUMNS)
    if definition.linkage is not None and definition.linkage.probabilistic:
        from kprlink.cohorts._model_links import PROFILE_COLUMNS

        for name, extra in PROFILE_COLUMNS.items():
            out[name] = tuple(dict.fromkeys((*_COLUMNS[name], *extra)))
    outcome = definition.follow_up.outcome if definition.follow_up is not None else ()
    if any(e.contact_types for e in (*definition.entry, *outcome)):
        out["kuhr_fees"] = None
    return out



@dataclass(frozen=True)
class CohortResult:
    """Result of :func:`build_cohort`.

    Attributes
    ----------
    persons : pandas.DataFrame
        One row per person: ``person_id, kpr_id, npr_id, index_date`` and the
        definition's attributes. Person-level: never release it.
    attrition : pandas.DataFrame
        ``step, kind, n_records, n_persons, n_records_excluded,
        n_persons_excluded``; each step's remaining = previous − excluded.
    events : pandas.DataFrame
        The qualifying events (in window, not after death) of cohort persons.
    linkage : LinkageResult
        The linkage used (property). For a cohort built from an imported
        folder it is computed on first access (it reads every row).
    definition : CohortDefinition
    warnings : tuple of str
        What the build could not use (a register or key file missing from the
        delivery); also in the attrition notes, the report and on stderr.
    """

    persons: pd.DataFrame
    attrition: pd.DataFrame
    events: pd.DataFrame
    _linkage: LinkageResult | Callable[[], LinkageResult]
    definition: CohortDefinition
    warnings: tuple[str, ...] = ()

    @property
    def linkage(self) -> LinkageResult:
        """The key-file linkage of the whole delivery (deferred for imported folders)."""
        if not isinstance(self._linkage, LinkageResult):
            object.__setattr__(self, "_linkage", self._linkage())
        return self._linkage  # type: ignore[return-value]

    def summary(self) -> pd.DataFrame:
        """The attrition table with the definition's name and digest."""
        return self.attrition.assign(cohort=self.definition.name,
                                     digest=self.definition.digest)

    def __repr__(self) -> str:
        warn = f", {len(self.warnings)} warning(s)" if self.warnings else ""
        return (f"<CohortResult {self.definition.name!r}: {len(self.persons):,} persons, "
                f"{len(self.attrition) - 1} steps{warn}>")

    def _repr_html_(self) -> str:
        from kprlink import __version__
        from kprlink._html import card

        d = self.definition
        facts = [("persons", len(self.persons)), ("qualifying events", len(self.events)),
                 ("window", f"{d.window_start} to {d.window_end}"),
                 ("definition", f"{d.name} version {d.version}"), ("digest", d.digest),
                 ("kprlink", __version__)]
        return card(repr(self), facts, warnings=self.warnings,
                    tables=[("attrition", self.attrition)])


def _check_filters(e: EntryCriterion, frames: dict[str, Any]) -> None:
    """The frames and columns an entry's filters need."""
    need = []
    if e.service_types:
        need.append(("kuhr_claims", "service_type"))
    if e.care_levels:
        need.append(("npr_episodes", "care_level"))
    missing = [col for name, col in need
               if frames[name] is not None and col not in frames[name].columns]
    if missing:
        raise MissingColumnsError(f"entry {e.source!r} filters on {missing}, which the "
                                  "delivery lacks", missing=missing)


def _entry_mask(ev: pd.DataFrame, e: EntryCriterion, frames: dict[str, Any]) -> np.ndarray:
    _check_filters(e, frames)
    m = np.array(ev["source"] == e.source, dtype=bool)  # a copy: updated in place
    hit = np.zeros(len(ev), dtype=bool)
    for cl in e.codelists:
        hit |= cl.matches(ev["code"]) & ev["system"].isin(cl.event_systems).to_numpy(bool)
    m &= hit
    main = ev["is_main"].fillna(False).to_numpy(bool)
    if e.position == "main":
        m &= main
    elif e.position == "secondary":
        m &= ~main
    rec = ev["record_id"].to_numpy(np.int64)
    if e.contact_types and m.any():
        fees = frames["kuhr_fees"]
        if fees is None:
            raise MissingColumnsError("an entry filters on contact_types, but the delivery "
                                      "has no KUHR fee-code file", missing=["kuhr_fees"])
        ids = unique(rec[m])
        ct = contact_types(fees[fees["claim_id"].isin(ids)], claims=frames["kuhr_claims"])
        ok = ct.loc[ct["contact_type"].isin(e.contact_types), "claim_id"].to_numpy(np.int64)
        m &= np.isin(rec, ok)
    if e.service_types and m.any():
        cl = frames["kuhr_claims"]
        ok = cl.loc[cl["service_type"].isin(e.service_types), "claim_id"].to_numpy(np.int64)
        m &= np.isin(rec, ok)
    if e.care_levels and m.any():
        ep = frames["npr_episodes"]
        ok = ep.loc[ep["care_level"].isin(list(e.care_levels)), "episode_id"].to_numpy(np.int64)
        m &= np.isin(rec, ok)
    return m


def _municipality(index: pd.DataFrame, frames: dict[str, Any]) -> pd.Series:
    out = pd.Series(pd.NA, index=index.index, dtype="string")
    for source, name, id_col in (("kpr_kuhr", "kuhr_claims", "claim_id"),
                                 ("npr", "npr_episodes", "episode_id")):
        f = frames[name]
        if f is None or "municipality" not in f:
            continue
        sel = (index["source"] == source).to_numpy(bool)
        pos = _positions(_int64(f[id_col]), index.loc[sel, "record_id"].to_numpy(np.int64))
        got = f["municipality"].take(np.where(pos >= 0, pos, 0)).astype("string").to_numpy(
            dtype=object, na_value=pd.NA)
        got[pos < 0] = pd.NA
        out[sel] = got
    return out


def _sources(rec: pd.DataFrame, person_id: pd.Series) -> np.ndarray:
    """Registers with a qualifying event per person, e.g. ``"kpr_kuhr+npr"`` (sorted)."""
    out = np.full(len(person_id), "", dtype=object)
    for name in sorted(rec["source"].astype(str).unique()):
        has = person_id.isin(rec.loc[(rec["source"] == name).to_numpy(bool), "person_id"])
        has = has.to_numpy(bool)
        out[has] = np.where(out[has] == "", name, out[has] + "+" + name)
    return out


def _lookup(keys: pd.Series, values: pd.Series) -> pd.Series:
    """``keys.map(values)`` for a unique-indexed `values` (pandas 3.0 cannot map
    through an empty datetime Series; reindex can)."""
    return pd.Series(values.reindex(keys.to_numpy()).to_numpy(), index=keys.index,
                     dtype=values.dtype, name=values.name)


def _rule_mask(rule: CohortRule, people: pd.DataFrame, all_events: pd.DataFrame,
               entry_events: pd.DataFrame, coverage: tuple[Any, Any]) -> np.ndarray:
    p = rule.params
    if rule.kind == "washout":
        return _washout(people, entry_events, int(p["days"]),
                        p.get("coverage_start", coverage[0]))
    if rule.kind == "age_at_index":
        age = people["age_at_index"]
        return np.asarray(((age >= p.get("min_age", 0)) & (age <= p.get("max_age", 200)))
                          .fillna(False), dtype=bool)
    if rule.kind == "sex":
        return people["sex"].isin(list(p["values"])).to_numpy(bool)
    if rule.kind == "residence":
        muni = people["municipality_at_index"].fillna("")
        m = np.zeros(len(people), dtype=bool)
        for code in p["municipalities"]:
            m |= muni.str.startswith(str(code)).to_numpy(bool)
        return m
    if rule.kind == "alive_at_index":
        return np.asarray((people["death_date"].isna() | (people["death_date"]
                           >= people["index_date"])), dtype=bool)
    if rule.kind == "linked":
        return people["linked"].to_numpy(bool)
    # lookback: any event of the lists in (index - days, index)
    ev = all_events
    hit = np.zeros(len(ev), dtype=bool)
    for cl in p["codelists"]:
        hit |= cl.matches(ev["code"]) & ev["system"].isin(cl.event_systems).to_numpy(bool)
    if "sources" in p:
        hit &= ev["source"].isin(list(p["sources"])).to_numpy(bool)
    ev = ev.loc[hit, ["person_id", "date"]]
    idx = _lookup(ev["person_id"], people.set_index("person_id")["index_date"])
    prior = (ev["date"] < idx) & (ev["date"] >= idx - pd.Timedelta(days=int(p["days"])))
    return people["person_id"].isin(ev.loc[prior.fillna(False), "person_id"]).to_numpy(bool)


def _add_follow_up(people: pd.DataFrame, definition: CohortDefinition, all_ev: pd.DataFrame,
                   frames: dict[str, Any], coverage: tuple[Any, Any]) -> pd.DataFrame:
    fu = definition.follow_up
    m = np.zeros(len(all_ev), dtype=bool)
    for e in fu.outcome:
        m |= _entry_mask(all_ev, e, frames)
    end = fu.end_of_data if fu.end_of_data is not None else coverage[1]
    if end is None:
        end = people["index_date"].max() if len(people) else pd.Timestamp(definition.window_end)
    return add_follow_up(people, all_ev.loc[m] if fu.outcome else None, end_of_data=end,
                         horizon_days=fu.horizon_days)


def _link(frames: dict[str, Any]) -> LinkageResult:
    """Key-file linkage of the frames' episodes and claims (empty frames where absent)."""
    npr = frames["npr_episodes"]
    kpr = frames["kuhr_claims"]
    npr = npr if npr is not None else pd.DataFrame(
        {"npr_id": pd.Series(dtype="Int64"), "date_in": pd.Series(dtype="datetime64[ns]")})
    kpr = kpr if kpr is not None else pd.DataFrame(
        {"kpr_id": pd.Series(dtype="Int64"), "date": pd.Series(dtype="datetime64[ns]")})
    key = frames["key"] if frames["key"] is not None else pd.DataFrame(
        {"npr_id": pd.Series(dtype="Int64"), "kpr_id": pd.Series(dtype="Int64")})
    return link_extracts(npr, kpr, key=key)


def _build(frames: dict[str, Any], definition: CohortDefinition, linkage: LinkageResult, *,
           first: tuple[int, int] | None = None,
           coverage: tuple[Any, Any] | None = None) -> CohortResult:
    """The builder's steps on canonical frames; `first` overrides the input row's counts,
    `coverage` the delivery's first and last dates (taken from `frames` by default)."""
    if coverage is None:
        coverage = coverage_of(frames) if _needs_coverage(definition) else (None, None)
    persons = linkage.persons
    rows: list[tuple[str, str, int, int]] = []
    by_method = "link_method" in persons.columns
    step_persons: list[np.ndarray] = []  # persons remaining at each step (by_method only)
    all_ev = diagnosis_events(frames, persons=persons, codelists=definition.codelists)
    if first is None:
        first = (sum(len(f) for f in (frames["kuhr_diagnoses"], frames["npr_diagnoses"])
                     if f is not None), diagnosis_persons(frames, persons))
    rows.append(("diagnosis rows in delivery", "input", *first))
    if by_method:
        step_persons.append(persons.loc[_diagnosis_mask(frames, persons), "person_id"]
                            .to_numpy())
    m = np.zeros(len(all_ev), dtype=bool)
    for e in definition.entry:
        m |= _entry_mask(all_ev, e, frames)
    ev = entry_ev = all_ev.loc[m]
    rows.append(("entry events (any date)", "entry", len(ev), ev["person_id"].nunique()))
    if by_method:
        step_persons.append(ev["person_id"].unique())
    start, end = pd.Timestamp(definition.window_start), pd.Timestamp(definition.window_end)
    ev = ev.loc[((ev["date"] >= start) & (ev["date"] <= end)).to_numpy(bool)]
    rows.append(("in study window", "window", len(ev), ev["person_id"].nunique()))
    if by_method:
        step_persons.append(ev["person_id"].unique())
    death = _lookup(ev["person_id"], persons.set_index("person_id")["death_date"])
    ev = ev.loc[~np.asarray((ev["date"] > death).fillna(False), dtype=bool)]
    rows.append(("not after death", "death", len(ev), ev["person_id"].nunique()))
    if by_method:
        step_persons.append(ev["person_id"].unique())
    ev = ev.sort_values(["person_id", "date", "source", "record_id"], kind="stable")
    first = ev.drop_duplicates("person_id")
    people = persons.set_index("person_id").loc[first["person_id"].to_numpy()].reset_index()
    people["index_date"] = first["date"].to_numpy()
    people["age_at_index"] = pd.array(people["index_date"].dt.year, dtype="Int64") - pd.array(
        people["birth_year"], dtype="Int64")
    people["municipality_at_index"] = _municipality(
        first[["source", "record_id"]].reset_index(drop=True), frames).to_numpy()
    rec = ev.drop_duplicates(["person_id", "source", "record_id"])
    people["n_events"] = people["person_id"].map(rec.groupby("person_id").size()).astype("int64")
    people["sources"] = _sources(rec, people["person_id"])
    for rule in definition.rules:
        keep = _rule_mask(rule, people, all_ev, entry_ev, coverage)
        if rule.exclude:
            keep = ~keep
        people = people.loc[keep].reset_index(drop=True)
        ev = ev.loc[ev["person_id"].isin(people["person_id"]).to_numpy(bool)]
        rows.append((rule.name, rule.kind, len(ev), len(people)))
        if by_method:
            step_persons.append(people["person_id"].to_numpy())
    att = pd.DataFrame(rows, columns=["step", "kind", "n_records", "n_persons"])
    att["n_records_excluded"] = (-att["n_records"].diff()).fillna(0).astype("int64")
    att["n_persons_excluded"] = (-att["n_persons"].diff()).fillna(0).astype("int64")
    cols = ["person_id", "kpr_id", "npr_id", "index_date", *definition.attributes]
    if by_method:
        from kprlink.cohorts._model_links import attrition_by_method

        att = attrition_by_method(att, step_persons, persons)
        cols += ["link_method", "match_probability", "link_ambiguous"]
    if definition.follow_up is not None:
        people = _add_follow_up(people, definition, all_ev, frames, coverage)
        cols += [c for c in FOLLOW_UP_COLUMNS if c not in cols]
    out = people[cols].sort_values(["kpr_id", "npr_id"], na_position="last",
                                   kind="stable").reset_index(drop=True)
    return CohortResult(out, att, ev.reset_index(drop=True), linkage, definition,
                        _input_warnings(frames, definition))


def _input_warnings(frames: dict[str, Any], definition: CohortDefinition) -> tuple[str, ...]:
    """What the delivery lacks for `definition`, each also raised as DataQualityWarning.

    A criterion on a register whose diagnosis file is absent matches nobody, and
    without a key file KPR and NPR persons cannot be linked: say so rather than
    silently build a one-register cohort.
    """
    out = []
    sources = {e.source for e in definition.entry}
    for source, name, label in (("kpr_kuhr", "kuhr_diagnoses", "KPR-KUHR diagnosis"),
                                ("npr", "npr_diagnoses", "NPR diagnosis")):
        if source in sources and frames.get(name) is None:
            out.append(f"the delivery has no {label} file: the entry criteria on {source} "
                       f"match nobody, so cohort {definition.name!r} holds only persons "
                       "found through the other register")
    if frames.get("key") is None and frames.get("kuhr_claims") is not None \
            and frames.get("npr_episodes") is not None:
        out.append("the delivery has no key file (NPR-KPR pseudonym pairs): nobody is "
                   "linked across registers, a person with events in both counts twice")
    for text in out:
        warnings.warn(f"build_cohort(): {text}. Add the missing file to the delivery or "
                      "drop the criterion.", DataQualityWarning, stacklevel=3)
    return tuple(out)


def diagnosis_persons(frames: dict[str, Any], persons: pd.DataFrame) -> int:
    """Persons with at least one diagnosis row in the delivery.

    One row of `persons` per person, so the count is the rows whose ``kpr_id``
    has a claim with a diagnosis or whose ``npr_id`` an episode with one.
    """
    return int(_diagnosis_mask(frames, persons).sum())


def _diagnosis_mask(frames: dict[str, Any], persons: pd.DataFrame) -> np.ndarray:
    """Which rows of `persons` have a diagnosis row (see :func:`diagnosis_persons`)."""
    has = np.zeros(len(persons), dtype=bool)
    for diag, rec, id_col, person_col in (
            (frames["kuhr_diagnoses"], frames["kuhr_claims"], "claim_id", "kpr_id"),
            (frames["npr_diagnoses"], frames["npr_episodes"], "episode_id", "npr_id")):
        if diag is None or rec is None:
            continue
        with_diag = _member(_int64(rec[id_col]), _int64(diag[id_col]))
        who = _int64(rec[person_col])[with_diag]
        ours = pd.array(persons[person_col], dtype="Int64", copy=False)
        has |= _member(ours.to_numpy(np.int64, na_value=0), who) & ~np.asarray(ours.isna())
    return has
