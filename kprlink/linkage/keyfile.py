"""Key-file linkage of NPR and KPR: ``link_extracts``.

NPR and KPR use different pseudonyms (``npr_id``, ``kpr_id``). The key file
pairs them per delivery. Rules (documented in ``docs/methods/linkage.md``):

1. **Key conflicts.** An ``npr_id`` paired with different ``kpr_id`` s across
   deliveries keeps the pair of the **latest** delivery (deliveries ordered by
   name, or by `delivery_order`), as SKDE's master key does; every such id is
   listed in ``report.key_conflicts``. If, after that, one ``kpr_id`` is still
   paired with several ``npr_id`` s, the smallest ``npr_id`` keeps the link and
   the others stay NPR-only (listed too).
2. An ``npr_id`` absent from the key stays an **NPR-only** person; a
   ``kpr_id`` without an NPR partner is a KPR-only person.
3. **Sex and birth year** conflicting between the registers are resolved to the
   KPR value (FHI's corrected sex ``sex_corrected`` where delivered, else
   ``sex``): KPR's demographics come from the National Population Register;
   every conflict is listed in ``report.demographic_conflicts``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kprlink.exceptions import LinkageError, MissingColumnsError, Problem
from kprlink.linkage.report import LinkageReport

__all__ = ["LinkageResult", "link_extracts", "DEFAULT_COVERAGE"]

#: Years with person-identifiable data: NPR from 2008, KUHR claims in KPR from 2006.
DEFAULT_COVERAGE: dict[str, tuple[str | None, str | None]] = {
    "npr": ("2008-01-01", None), "kpr_kuhr": ("2006-01-01", None)}
_PERSON_COLS = ["person_id", "kpr_id", "npr_id", "in_kpr", "in_npr", "linked", "status",
                "sex", "birth_year", "death_date", "key_conflict", "sex_conflict",
                "birth_year_conflict"]


@dataclass(frozen=True)
class LinkageResult:
    """Result of :func:`link_extracts`.

    Attributes
    ----------
    persons : pandas.DataFrame
        One row per person: ``person_id`` (int64, 1..n), ``kpr_id`` / ``npr_id``
        (Int64, NA where the person has none), ``in_kpr`` / ``in_npr`` (has rows
        there), ``linked``, ``status`` ("linked", "npr_only", "kpr_only"),
        resolved ``sex`` and ``birth_year``, earliest ``death_date`` and the
        conflict flags.
    report : LinkageReport
        Diagnostics; ``report.summary()`` holds counts only.
    model : ProbabilisticLinkResult or None
        With model links added (a cohort's ``[linkage] method = "probabilistic"``):
        the model run (calibration, validation, candidates).
    """

    persons: pd.DataFrame
    report: LinkageReport
    model: Any = None

    def summary(self) -> pd.DataFrame:
        """The report's figures (see :meth:`LinkageReport.summary`)."""
        return self.report.summary()

    def __repr__(self) -> str:
        p = self.persons
        linked = int((p["linked"] & p["in_npr"]).sum())
        left = int((p["in_npr"] & ~p["linked"]).sum())
        right = int((p["in_kpr"] & ~p["linked"]).sum())
        return (f"<LinkageResult npr×kpr: {linked:,} linked, {left:,} unmatched left, "
                f"{right:,} unmatched right>")

    def _repr_html_(self) -> str:
        from kprlink._html import card

        p, r = self.persons, self.report
        warnings = []
        n_key = len(r.key_conflicts)
        if n_key:
            warnings.append(f"{n_key:,} key id(s) map to more than one partner across "
                            "deliveries (see report.key_conflicts)")
        n_dem = int(r.demographic_conflicts["person_id"].nunique()) \
            if len(r.demographic_conflicts) else 0
        if n_dem:
            warnings.append(f"{n_dem:,} linked person(s) differ in sex or birth year "
                            "between the registers (see report.demographic_conflicts)")
        facts = [("method", r.method), ("persons", len(p)),
                 ("linked", int((p["linked"] & p["in_npr"]).sum())),
                 ("NPR only", int((p["in_npr"] & ~p["linked"]).sum())),
                 ("KPR only", int((p["in_kpr"] & ~p["linked"]).sum()))]
        return card(repr(self), facts, warnings=warnings,
                    tables=[("report", r.summary())])


def _check(frame: pd.DataFrame | None, name: str, cols: Sequence[str]) -> pd.DataFrame:
    if frame is None:
        raise MissingColumnsError(f"link_extracts() needs `{name}`; got None.", missing=list(cols))
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise MissingColumnsError(f"link_extracts() needs column(s) {missing} in `{name}`; "
                                  f"columns are {list(frame.columns)}.", missing=missing)
    return frame


def _grouped_lists(frame: pd.DataFrame, by: str, col: str) -> tuple[np.ndarray, list[list]]:
    """Sorted group keys and, per group, the sorted distinct values of `col`."""
    f = frame[[by, col]].drop_duplicates().sort_values([by, col], kind="stable")
    ids, vals = f[by].to_numpy(), f[col].to_numpy()
    start = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.zeros(0, int)
    return ids[start], [v.tolist() for v in np.split(vals, start[1:])] if len(ids) else []


def _resolve_key(key: pd.DataFrame, order: Sequence[str] | None
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Resolved npr_id -> kpr_id pairs and the conflicts found."""
    k = key[["npr_id", "kpr_id"]].copy()
    deliveries = (key["delivery"].astype("string").fillna("") if "delivery" in key
                  else pd.Series("", index=key.index, dtype="string"))
    k["delivery"] = deliveries.to_numpy()
    names = sorted(set(k["delivery"])) if order is None else list(order)
    unknown = sorted(set(k["delivery"]) - set(names))
    if unknown:
        raise LinkageError("key deliveries missing from delivery_order",
                           [Problem("key", "delivery", "unknown_delivery",
                                    f"deliveries {unknown} are not in delivery_order")])
    k["rank"] = k["delivery"].map({n: i for i, n in enumerate(names)}).astype("int64")
    bad = k["npr_id"].isna() | k["kpr_id"].isna()
    k = k[~bad].astype({"npr_id": "int64", "kpr_id": "int64"})
    k = k.drop_duplicates(["npr_id", "kpr_id", "rank"])  # rank: one per delivery name
    conflicts = []
    # sorted by npr_id, rank, kpr_id (no ties left): the last row per npr_id wins
    k = k.iloc[np.lexsort((k["kpr_id"].to_numpy(), k["rank"].to_numpy(),
                           k["npr_id"].to_numpy()))]
    npr = k["npr_id"].to_numpy()
    start = np.r_[True, npr[1:] != npr[:-1]][:len(npr)]  # first row of each npr_id
    group = np.cumsum(start) - 1
    chosen = k[np.r_[start[1:], True][:len(npr)]]
    first_pair = ~k.duplicated(["npr_id", "kpr_id"]).to_numpy(bool)
    n_partners = np.bincount(group[first_pair], minlength=len(chosen))[group]
    multi = k[n_partners > 1]
    if len(multi):
        ids, partners = _grouped_lists(multi, "npr_id", "kpr_id")
        c = pd.DataFrame({"side": "npr_id", "id": ids, "partners": partners,
                          "deliveries": _grouped_lists(multi, "npr_id", "delivery")[1]})
        c["chosen"] = c["id"].map(chosen.set_index("npr_id")["kpr_id"])
        c["rule"] = "latest delivery"
        conflicts.append(c)
    # one kpr_id, several npr_ids after resolution: smallest npr_id keeps the link
    chosen = chosen.iloc[np.lexsort((chosen["npr_id"].to_numpy(), chosen["kpr_id"].to_numpy()))]
    kpr = chosen["kpr_id"].to_numpy()
    same = kpr[1:] == kpr[:-1]
    dup = pd.Series((np.r_[same, False] | np.r_[False, same])[:len(kpr)], index=chosen.index)
    if dup.any():
        ids, partners = _grouped_lists(chosen[dup], "kpr_id", "npr_id")
        c = pd.DataFrame({"side": "kpr_id", "id": ids, "partners": partners,
                          "deliveries": _grouped_lists(chosen[dup], "kpr_id", "delivery")[1]})
        c["chosen"] = c["partners"].map(lambda s: s[0])
        c["rule"] = "smallest npr_id keeps the link; others NPR-only"
        conflicts.append(c)
        chosen = chosen.drop_duplicates("kpr_id", keep="first")
    cols = ["side", "id", "partners", "deliveries", "chosen", "rule"]
    kc = (pd.concat(conflicts, ignore_index=True) if conflicts
          else pd.DataFrame({c: pd.Series(dtype=object) for c in cols}))
    kc["id"] = kc["id"].astype("int64")
    kc["chosen"] = pd.array(kc["chosen"], dtype="Int64")
    return chosen[["npr_id", "kpr_id"]].reset_index(drop=True), kc[cols]


def link_extracts(npr_episodes: pd.DataFrame, kuhr_claims: pd.DataFrame, *,
                  key: pd.DataFrame | None = None, shared_id_col: str | None = None,
                  delivery_order: Sequence[str] | None = None,
                  coverage: Mapping[str, tuple[str | None, str | None]] | None = None,
                  ) -> LinkageResult:
    """Link NPR episodes and KPR-KUHR claims through the key file.

    Parameters
    ----------
    npr_episodes : pandas.DataFrame
        Canonical NPR episodes (``npr_id, date_in``; ``sex, birth_year,
        death_date`` used where present). Not modified.
    kuhr_claims : pandas.DataFrame
        Canonical KUHR claims (``kpr_id, date``; ``sex``/``sex_corrected``,
        ``birth_year``, ``death_date`` where present). Not modified.
    key : pandas.DataFrame, optional
        Key file (``npr_id, kpr_id, delivery``). Required unless `shared_id_col`.
    shared_id_col : str, optional
        A pseudonym column both frames carry (when the provider delivers one);
        links on it instead of a key (it becomes both ``kpr_id`` and ``npr_id``).
    delivery_order : sequence of str, optional
        Key deliveries from oldest to latest; by default sorted by name.
    coverage : mapping, optional
        ``{"npr": (start, end), "kpr_kuhr": (start, end)}`` ISO dates (None =
        open); default :data:`DEFAULT_COVERAGE`.

    Returns
    -------
    LinkageResult

    Raises
    ------
    MissingColumnsError
        If a frame lacks a needed column (``err.missing``).
    LinkageError
        If neither `key` nor `shared_id_col` is given, or a key delivery is
        missing from `delivery_order`.

    Examples
    --------
    >>> npr = pd.DataFrame({"npr_id": [7, 8], "date_in": pd.to_datetime(["2017-01-02"] * 2)})
    >>> kpr = pd.DataFrame({"kpr_id": [1, 2], "date": pd.to_datetime(["2017-01-03"] * 2)})
    >>> key = pd.DataFrame({"npr_id": [7], "kpr_id": [1], "delivery": ["k1"]})
    >>> link_extracts(npr, kpr, key=key)
    <LinkageResult npr×kpr: 1 linked, 1 unmatched left, 1 unmatched right>
    """
    if key is None and shared_id_col is None:
        raise LinkageError("link_extracts() needs `key` or `shared_id_col`",
                           [Problem("key", None, "no_key", "no key file and no shared id")])
    if shared_id_col is not None:
        npr = _check(npr_episodes, "npr_episodes", [shared_id_col, "date_in"]).rename(
            columns={"npr_id": "_npr_id_orig"}).assign(npr_id=lambda d: d[shared_id_col])
        kpr = _check(kuhr_claims, "kuhr_claims", [shared_id_col, "date"]).rename(
            columns={"kpr_id": "_kpr_id_orig"}).assign(kpr_id=lambda d: d[shared_id_col])
        ids = pd.unique(pd.concat([npr["npr_id"], kpr["kpr_id"]]).dropna())
        pairs = pd.DataFrame({"npr_id": ids, "kpr_id": ids}).astype("int64")
        kc = _resolve_key(pairs.assign(delivery=""), None)[1]
        method = f"shared pseudonym {shared_id_col!r}"
    else:
        npr = _check(npr_episodes, "npr_episodes", ["npr_id", "date_in"])
        kpr = _check(kuhr_claims, "kuhr_claims", ["kpr_id", "date"])
        _check(key, "key", ["npr_id", "kpr_id"])
        pairs, kc = _resolve_key(key, delivery_order)  # type: ignore[arg-type]
        method = "key file"
    from kprlink.linkage._key_kinds import classify_conflicts
    from kprlink.linkage._keyfile_steps import FrameSide, assemble

    kc = kc.assign(kind=classify_conflicts(kc, npr, kpr))

    persons, report_parts = assemble(FrameSide(npr, "npr_id", "date_in", kpr=False),
                                     FrameSide(kpr, "kpr_id", "date", kpr=True),
                                     pairs, kc, len(key) if key is not None else 0,
                                     coverage=dict(DEFAULT_COVERAGE, **(coverage or {})))
    return LinkageResult(persons[_PERSON_COLS], LinkageReport(method=method, **report_parts))
