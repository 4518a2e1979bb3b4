"""Comorbidity indices in a look-back window: Charlson (Quan) and others as data.

An index is a shipped JSON file (``kprlink/codes/comorbidity/``): categories,
each a code list with one weight per weight set, and a hierarchy (the milder
of a pair is not counted when a person has both). :func:`add_comorbidity`
flags each category per person from diagnosis events in the look-back window
and sums the weights.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kprlink.codes import CodeList
from kprlink.codes.systems import distinct_codes
from kprlink.exceptions import KprlinkError, MissingColumnsError, Problem, SpecError

__all__ = ["ComorbidityIndex", "add_comorbidity"]

_DIR = Path(__file__).parents[1] / "codes" / "comorbidity"


@dataclass(frozen=True)
class ComorbidityIndex:
    """A weighted comorbidity index: categories of ICD-10 codes and their weights.

    Parameters
    ----------
    name : str
    categories : sequence of CodeList
        One code list per category (its ``name`` is the category name, its
        ``description`` the label).
    weights : mapping of str to sequence of int
        Weight set name → one weight per category.
    hierarchy : sequence of (str, str)
        ``(milder, graver)`` pairs: a person with both counts only the graver.
    prefix : str
        Prefix of the output columns (``charlson_mi``, ``charlson_score``).
    version, source, description : str

    Raises
    ------
    SpecError
        On weights of the wrong length, unknown hierarchy categories or
        duplicate names.

    Examples
    --------
    >>> cci = ComorbidityIndex.charlson_quan()
    >>> len(cci.categories), cci.weight_sets
    (17, ('quan2011', 'charlson1987'))
    """

    name: str
    categories: Sequence[CodeList]
    weights: Mapping[str, Sequence[int]]
    hierarchy: Sequence[tuple[str, str]] = ()
    prefix: str = "cm"
    version: str = "1"
    source: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        where = f"ComorbidityIndex {self.name!r}"
        problems: list[Problem] = []
        names = [c.name for c in self.categories]
        if not names or len(set(names)) != len(names):
            problems.append(Problem(where, "categories", "bad_categories",
                                    "needs categories with distinct names"))
        if any(c.system != "ICD-10" for c in self.categories):
            problems.append(Problem(where, "categories", "bad_system", "ICD-10 lists only"))
        for w, values in self.weights.items():
            if len(values) != len(names):
                problems.append(Problem(where, "weights", "bad_weights",
                                        f"weight set {w!r} has {len(values)} weights for "
                                        f"{len(names)} categories"))
        if not self.weights:
            problems.append(Problem(where, "weights", "bad_weights", "needs a weight set"))
        for pair in self.hierarchy:
            if len(pair) != 2 or not set(pair) <= set(names):
                problems.append(Problem(where, "hierarchy", "bad_hierarchy",
                                        f"{pair!r} must name two categories"))
        if problems:
            raise SpecError(f"invalid comorbidity index {self.name!r}", problems)
        object.__setattr__(self, "categories", tuple(self.categories))
        object.__setattr__(self, "weights", {k: tuple(int(x) for x in v)
                                             for k, v in self.weights.items()})
        object.__setattr__(self, "hierarchy", tuple(tuple(p) for p in self.hierarchy))

    @property
    def weight_sets(self) -> tuple[str, ...]:
        """Names of the weight sets, the default first."""
        return tuple(self.weights)

    @property
    def codelists(self) -> list[CodeList]:
        """The categories' code lists (pass to :func:`kprlink.cohorts.diagnosis_events`)."""
        return list(self.categories)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "comorbidity index"
                  ) -> ComorbidityIndex:
        """Build from the file form (``kind = "comorbidity_index"``)."""
        if data.get("kprlink_spec") != 1 or data.get("kind") != "comorbidity_index":
            raise SpecError(f"{where} is not a kprlink comorbidity index",
                            [Problem(where, "kind", "wrong_kind",
                                     "needs kprlink_spec 1 and kind 'comorbidity_index'")])
        cats, problems = [], []
        for c in data.get("categories", []):
            try:
                cats.append(CodeList(c["name"], data.get("system", "ICD-10"), c["codes"],
                                     c.get("exclude", ()), data.get("match", "prefix"),
                                     str(data.get("version", "1")), data.get("source", ""),
                                     c.get("label", "")))
            except (KprlinkError, KeyError) as err:
                problems.extend(getattr(err, "problems", [Problem(where, None, "bad_category",
                                                                  str(err))]))
        if problems:
            raise SpecError(f"cannot read {where}", problems)
        sets = data.get("weights", [])
        weights = {w: [int(c["weights"][w]) for c in data["categories"]] for w in sets}
        return cls(data["name"], cats, weights, [tuple(p) for p in data.get("hierarchy", [])],
                   data.get("prefix", "cm"), str(data.get("version", "1")),
                   data.get("source", ""), data.get("description", ""))

    def to_dict(self) -> dict[str, Any]:
        """The file form."""
        return {"kprlink_spec": 1, "kind": "comorbidity_index", "name": self.name,
                "version": self.version, "system": "ICD-10", "prefix": self.prefix,
                "source": self.source, "description": self.description,
                "weights": list(self.weights), "hierarchy": [list(p) for p in self.hierarchy],
                "categories": [{"name": c.name, "label": c.description, "codes": list(c.codes),
                                **({"exclude": list(c.exclude)} if c.exclude else {}),
                                "weights": {w: v[i] for w, v in self.weights.items()}}
                               for i, c in enumerate(self.categories)]}

    @classmethod
    def from_json(cls, path: str | Path) -> ComorbidityIndex:
        """Read an index file."""
        p = Path(path)
        return cls.from_dict(json.loads(p.read_text(encoding="utf-8")), where=str(p))

    @classmethod
    def charlson_quan(cls) -> ComorbidityIndex:
        """Charlson: Quan 2005 ICD-10 codes; weights ``quan2011`` (default) and ``charlson1987``."""
        return cls.from_json(_DIR / "charlson_quan.json")

    @classmethod
    def elixhauser_quan(cls) -> ComorbidityIndex:
        """Elixhauser: Quan 2005 ICD-10 codes; weights ``van_walraven2009`` (default), ``count``."""
        return cls.from_json(_DIR / "elixhauser_quan.json")

    @property
    def digest(self) -> str:
        """Short SHA-256 of the canonical JSON form (12 hex digits)."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def __repr__(self) -> str:
        return (f"<ComorbidityIndex {self.name!r} v{self.version}: {len(self.categories)} "
                f"categories, weights {list(self.weights)}>")


def add_comorbidity(persons: pd.DataFrame, events: pd.DataFrame, *,
                    index: ComorbidityIndex, lookback_days: int, weights: str | None = None,
                    include_index_date: bool = True, sources: Sequence[str] = ("npr",),
                    person_col: str = "person_id", index_col: str = "index_date"
                    ) -> pd.DataFrame:
    """Flag comorbidity categories and sum their weights in a look-back window.

    Parameters
    ----------
    persons : pandas.DataFrame
        One row per person with `person_col` and `index_col`. Not modified.
    events : pandas.DataFrame
        Diagnosis events (:func:`kprlink.cohorts.diagnosis_events`; pass
        ``codelists=index.codelists`` to read only the codes that matter):
        ``person_id, date, source, system, code``.
    index : ComorbidityIndex
        E.g. :meth:`ComorbidityIndex.charlson_quan`.
    lookback_days : int
        Events dated in ``[index − lookback_days, index]`` count.
    weights : str, optional
        Weight set; default the index's first (``quan2011`` for Charlson).
    include_index_date : bool, default True
        Whether events on the index date count (the index admission's own
        secondary diagnoses).
    sources : sequence of str, default ("npr",)
        Registers read; ``"kpr_kuhr"`` adds GP claims coded in ICD-10 (ICPC-2
        codes have no place in these indices and are never matched).

    Returns
    -------
    pandas.DataFrame
        A copy with one boolean column ``<prefix>_<category>`` per category
        (after the hierarchy) and ``<prefix>_score`` (int64).

    Notes
    -----
    Codes are matched as prefixes of dot-free codes, so the Norwegian
    5-character extensions (``I2190``, ``F0010``) count as their heads. Both
    codes of a dagger/asterisk pair (two slots of one NPR condition, e.g.
    ``G301`` and ``F001``) are read, so a category coded on either counts; a
    category counts once per person however many codes name it. Matching runs
    once per distinct code; flags are counted per person with ``bincount``.

    Examples
    --------
    >>> cci = ComorbidityIndex.charlson_quan()
    >>> p = pd.DataFrame({"person_id": [1, 2], "index_date": pd.to_datetime(["2017-06-01"] * 2)})
    >>> ev = pd.DataFrame({"person_id": [1, 1, 2], "date": pd.to_datetime(
    ...     ["2017-01-01", "2017-02-01", "2015-01-01"]), "source": "npr", "system": "ICD-10",
    ...     "code": ["I2190", "C787", "I50"]})
    >>> add_comorbidity(p, ev, index=cci, lookback_days=365)["charlson_score"].tolist()
    [6, 0]
    """
    MissingColumnsError.require(persons, [person_col, index_col], "add_comorbidity")
    MissingColumnsError.require(events, [person_col, "date", "source", "system", "code"],
                                "add_comorbidity")
    w_name = weights if weights is not None else index.weight_sets[0]
    if w_name not in index.weights:
        raise SpecError(f"add_comorbidity(weights={w_name!r}): unknown weight set.",
                        [f"known: {list(index.weights)}"])
    if isinstance(lookback_days, bool) or not isinstance(lookback_days, int) or lookback_days < 0:
        raise SpecError("add_comorbidity(): lookback_days must be an int >= 0.",
                        [f"lookback_days={lookback_days!r}"])
    out = persons.copy()
    n, k = len(out), len(index.categories)
    pid = out[person_col].to_numpy(np.int64)
    flags = np.zeros((n, k), dtype=bool)
    ev = events.loc[events["source"].isin(list(sources)).to_numpy(bool)
                    & (events["system"].astype(str) == "ICD-10").to_numpy(bool)]
    if n and len(ev):
        order = np.argsort(pid, kind="stable")
        ev_pid = pd.array(ev[person_col], dtype="Int64").to_numpy(np.int64, na_value=-1)
        pos = np.minimum(np.searchsorted(pid[order], ev_pid), n - 1)
        row = order[pos]
        at = pd.to_datetime(out[index_col]).to_numpy("datetime64[ns]")[row]
        date = pd.to_datetime(ev["date"]).to_numpy("datetime64[ns]")
        lo = at - np.timedelta64(lookback_days, "D")
        inside = (pid[row] == ev_pid) & (date >= lo) & (
            (date <= at) if include_index_date else (date < at))
        uniques, code_idx = distinct_codes(ev["code"])
        distinct = pd.Series(uniques, dtype="object")
        keep = inside & (code_idx >= 0)
        r, ci = row[keep], code_idx[keep]
        for j, cl in enumerate(index.categories):
            hit = cl.matches(distinct)[ci]
            flags[:, j] = np.bincount(r[hit], minlength=n) > 0
    names = [c.name for c in index.categories]
    for milder, graver in index.hierarchy:
        flags[:, names.index(milder)] &= ~flags[:, names.index(graver)]
    for j, name in enumerate(names):
        out[f"{index.prefix}_{name}"] = flags[:, j]
    out[f"{index.prefix}_score"] = (flags.astype(np.int64)
                                    @ np.asarray(index.weights[w_name], dtype=np.int64))
    return out
