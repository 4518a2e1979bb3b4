"""Table 1: baseline characteristics by group, released through disclosure control.

:func:`table_one` counts persons by each categorical characteristic and group and
keeps the continuous values; :func:`release_table_one` protects every count of
it together (:func:`kprlink.disclosure.joint.protect_study`: the variables are
groupings of the same persons), derives shares and standardised differences
from published counts only, and releases medians with interquartile ranges
under the quantile rule of :func:`release_quantiles` (stated in
:mod:`kprlink.tables._table1_stats`, with the standardised differences).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kprlink.demography.sex import sex_labels
from kprlink.exceptions import MissingColumnsError, SpecError
from kprlink.tables._table1_stats import (
    continuous_difference,
    release_quantiles,
    standardised_difference,
)

__all__ = ["ReleasedTableOne", "TableOne", "release_quantiles", "release_table_one",
           "standardised_difference", "table_one"]

TOTAL = "Total"


@dataclass(frozen=True)
class TableOne:
    """Baseline characteristics by group, before disclosure control (stays inside).

    Attributes
    ----------
    counts : pandas.DataFrame
        ``variable, level, group, n``: persons per level and group (zeros kept).
    persons : pandas.DataFrame
        ``person_id, variable, level, group``: who each count counts.
    values : pandas.DataFrame
        ``person_id, group`` and the continuous variables (person level).
    groups : tuple of str
        Group labels in display order.
    levels : dict of str to tuple of str
        Each categorical variable's levels in display order.
    continuous : tuple of str
        The continuous variables.
    """

    counts: pd.DataFrame
    persons: pd.DataFrame
    values: pd.DataFrame
    groups: tuple[str, ...]
    levels: dict[str, tuple[str, ...]]
    continuous: tuple[str, ...]

    def summary(self) -> pd.DataFrame:
        """Counts and shares per level and group (unprotected: never release it)."""
        c = self.counts.copy()
        tot = c.groupby(["variable", "group"], sort=False)["n"].transform("sum")
        c["share_pct"] = np.where(tot > 0, 100 * c["n"] / tot.where(tot > 0, 1), np.nan)
        return c

    def __repr__(self) -> str:
        n = self.persons.drop_duplicates(["person_id", "group"]).groupby(
            "group", sort=False).size() if len(self.persons) else pd.Series(dtype=int)
        sizes = ", ".join(f"{g}: {int(n.get(g, 0)):,}" for g in self.groups)
        return (f"<TableOne {len(self.levels)} categorical, {len(self.continuous)} "
                f"continuous variables; {sizes}>")


def _is_sex_codes(s: pd.Series) -> bool:
    """Register codes 1/2 (a cohort's ``sex``), shown as female/male in a table."""
    known = pd.to_numeric(s, errors="coerce").dropna()
    return s.notna().any() and len(known) == int(s.notna().sum()) and known.isin([1, 2]).all()


def table_one(persons: pd.DataFrame, *, group_col: str, categorical: Sequence[str] = (),
              continuous: Sequence[str] = (), groups: Sequence[str] | None = None,
              levels: dict[str, Sequence[str]] | None = None,
              person_col: str = "person_id", missing_label: str = "unknown") -> TableOne:
    """Count persons by characteristic and group.

    Parameters
    ----------
    persons : pandas.DataFrame
        One row per person and group (a person may sit in two groups, e.g. a
        control who later became a case). Not modified.
    group_col : str
        The group column (e.g. ``"dementia"``).
    categorical, continuous : sequence of str
        Columns to describe by counts, and by medians and means. A ``sex``
        column of register codes 1/2 is shown as ``male``/``female``.
    groups : sequence of str, optional
        Group labels in order; default sorted observed labels.
    levels : dict, optional
        Levels per categorical column in order; observed levels missing from it
        are appended, never dropped. Missing values are the level `missing_label`.
    person_col : str, default "person_id"

    Returns
    -------
    TableOne

    Raises
    ------
    MissingColumnsError
        If a column is missing.
    SpecError
        If a variable is named twice or a person appears twice in one group.

    Examples
    --------
    >>> p = pd.DataFrame({"person_id": [1, 2, 3, 4], "g": ["a", "a", "b", "b"],
    ...                   "sex": ["f", "m", "f", None], "age": [70, 80, 75, 77]})
    >>> t1 = table_one(p, group_col="g", categorical=["sex"], continuous=["age"])
    >>> t1.counts["n"].tolist()
    [1, 1, 1, 0, 0, 1]
    """
    cat, con = list(categorical), list(continuous)
    MissingColumnsError.require(persons, [person_col, group_col, *cat, *con], "table_one")
    if len(set(cat + con)) != len(cat + con):
        raise SpecError("table_one(): a variable is named twice.", [*cat, *con])
    grp = persons[group_col].astype("string")
    if grp.isna().any():
        raise SpecError("table_one(): every person needs a group.",
                        [f"{int(grp.isna().sum())} row(s) lack {group_col}"])
    dup = pd.DataFrame({"p": persons[person_col].to_numpy(), "g": grp.to_numpy()}).duplicated()
    if dup.any():
        raise SpecError("table_one(): a person appears twice in one group; keep one row "
                        "per person and group.", [f"{int(dup.sum())} duplicate row(s)"])
    order = list(groups) if groups is not None else sorted(grp.unique())
    order += sorted(set(grp.unique()) - set(order))
    pid = persons[person_col].to_numpy(np.int64)
    parts, cells, lv = [], [], {}
    for var in cat:
        raw = sex_labels(persons[var]) if var == "sex" and _is_sex_codes(persons[var]) \
            else persons[var]
        val = raw.astype("string").fillna(missing_label)
        want = [str(x) for x in (levels or {}).get(var, [])]
        seen = sorted(set(val.unique()) - set(want) - {missing_label})
        if isinstance(raw.dtype, pd.CategoricalDtype):  # categories keep their order
            seen = [str(c) for c in raw.cat.categories if str(c) in set(seen)]
        lv[var] = tuple(want + seen + ([missing_label] if (val == missing_label).any()
                                       and missing_label not in want else []))
        long = pd.DataFrame({"person_id": pid, "variable": var, "level": val.to_numpy(),
                             "group": grp.to_numpy()})
        parts.append(long)
        full = pd.MultiIndex.from_product([lv[var], order], names=["level", "group"])
        n = long.groupby(["level", "group"]).size().reindex(full, fill_value=0)
        cells.append(n.rename("n").reset_index().assign(variable=var))
    empty = pd.DataFrame({c: pd.Series(dtype="string") for c in ("variable", "level", "group")})
    counts = (pd.concat(cells, ignore_index=True)[["variable", "level", "group", "n"]]
              if cells else empty.assign(n=pd.Series(dtype="int64")))
    long = (pd.concat(parts, ignore_index=True) if parts
            else empty.assign(person_id=pd.Series(dtype="int64")))
    values = pd.DataFrame({"person_id": pid, "group": grp.to_numpy()})
    for var in con:
        values[var] = pd.to_numeric(persons[var]).astype(float).to_numpy()
    counts = counts.astype({"variable": "string", "level": "string", "group": "string",
                            "n": "int64"})
    return TableOne(counts, long[["person_id", "variable", "level", "group"]], values,
                    tuple(order), lv, tuple(con))


@dataclass(frozen=True)
class ReleasedTableOne:
    """What :func:`release_table_one` releases.

    Attributes
    ----------
    table : pandas.DataFrame
        The display table: ``characteristic, level``, one text column per group
        (and ``Total``) reading ``n (share %)`` or ``median [q1, q3]``, and
        ``smd``; hidden numbers show `symbol`.
    counts : pandas.DataFrame
        ``variable, level, group, n, share_pct`` with margins (NA hidden).
    quantiles : pandas.DataFrame
        ``variable, group, q1, median, q3`` (NaN not released).
    smd : pandas.DataFrame
        ``variable, smd`` (NaN where a share it needs is hidden).
    joint : object
        The :class:`kprlink.disclosure.joint.JointResult` (statuses, for the checker).
    """

    table: pd.DataFrame
    counts: pd.DataFrame
    quantiles: pd.DataFrame
    smd: pd.DataFrame
    joint: Any

    def __repr__(self) -> str:
        hidden = int(self.counts["n"].isna().sum())
        return (f"<ReleasedTableOne {len(self.table)} rows, {len(self.counts)} counts "
                f"({hidden} hidden)>")


def release_table_one(t1: TableOne, *, rule: Any, min_persons: int = 20,
                      precision: dict[str, float] | None = None,
                      symbol: str = ":") -> ReleasedTableOne:
    """Release a Table 1: counts protected together, shares, SMDs and quantiles.

    Parameters
    ----------
    t1 : TableOne
    rule : SuppressionRule
        The rule of :func:`kprlink.disclosure.joint.protect_study`.
    min_persons : int, default 20
        Quantile rule: fewest persons for a median; also for a continuous SMD.
    precision : dict, optional
        Rounding unit per continuous variable (default 1).
    symbol : str, default ":"
        Shown for every hidden number.

    Returns
    -------
    ReleasedTableOne

    Notes
    -----
    Each categorical variable is one table ``level × group`` of the same
    persons, protected jointly (the persons of the whole table are the
    universe). A share is shown only where its count and its group's total are
    published; a categorical SMD only where every share it uses is. The SMD
    compares the first two groups.

    Examples
    --------
    >>> from kprlink.disclosure import SuppressionRule
    >>> p = pd.DataFrame({"person_id": range(40), "g": ["a", "b"] * 20,
    ...                   "sex": ["f"] * 24 + ["m"] * 16, "age": range(60, 100)})
    >>> t1 = table_one(p, group_col="g", categorical=["sex"], continuous=["age"])
    >>> rel = release_table_one(t1, rule=SuppressionRule(max_n=4))
    >>> rel.counts.query("group == 'a'")["n"].tolist()
    [20, 12, 8]
    """
    from kprlink.disclosure.joint import StudyTable, protect_study

    tables = []
    for var in t1.levels:
        cells = t1.counts[t1.counts["variable"] == var][["level", "group", "n"]]
        per = t1.persons[t1.persons["variable"] == var][["person_id", "level", "group"]]
        tables.append(StudyTable(var, cells.reset_index(drop=True), ("level", "group"),
                                 persons=per.reset_index(drop=True)))
    universe = t1.values["person_id"].to_numpy(np.int64)
    joint = protect_study(tables, rule, universe=universe) if tables else None
    parts = []
    for var in t1.levels:
        c = joint.tables[var]  # type: ignore[union-attr]
        n = c["n"].astype("Int64").mask((c["status"] != "published").to_numpy())
        tot = pd.Series(n.to_numpy(), index=pd.MultiIndex.from_frame(c[["level", "group"]]))
        den = tot.reindex(pd.MultiIndex.from_arrays([
            np.full(len(c), TOTAL), c["group"].to_numpy()])).to_numpy()
        share = 100 * n.astype("Float64") / pd.array(den, dtype="Float64")
        parts.append(pd.DataFrame({"variable": var, "level": c["level"], "group": c["group"],
                                   "n": n, "share_pct": share}))
    counts = (pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["variable", "level", "group", "n", "share_pct"]))
    smd = []
    g2 = list(t1.groups[:2])
    for var, lv in t1.levels.items():
        c = counts[(counts["variable"] == var) & counts["level"].isin(lv)]
        sh = [c[c["group"] == g].set_index("level")["share_pct"].reindex(list(lv))
              .astype("Float64").to_numpy(dtype=float, na_value=np.nan) / 100 for g in g2]
        smd.append({"variable": var, "smd": standardised_difference(*sh)
                    if len(g2) == 2 else np.nan})
    rule_max = int(getattr(rule, "max_n", rule))
    both = pd.concat([t1.values, t1.values.drop_duplicates("person_id").assign(group=TOTAL)],
                     ignore_index=True)
    qs = []
    for var in t1.continuous:
        q = release_quantiles(both, value_col=var, group_col="group", max_n=rule_max,
                              min_persons=min_persons,
                              precision=(precision or {}).get(var, 1.0))
        qs.append(q.assign(variable=var))
        smd.append({"variable": var, "smd": continuous_difference(
            t1.values, value_col=var, group_col="group", groups=g2, min_persons=min_persons)
            if len(g2) == 2 else np.nan})
    quantiles = (pd.concat(qs, ignore_index=True)[["variable", "group", "q1", "median", "q3"]]
                 if qs else pd.DataFrame(columns=["variable", "group", "q1", "median", "q3"]))
    smd_df = pd.DataFrame(smd, columns=["variable", "smd"])
    table = _display(t1, counts, quantiles, smd_df, symbol)
    counts["share_pct"] = counts["share_pct"].round(1)
    return ReleasedTableOne(table, counts, quantiles, smd_df, joint)


def _fmt(x: Any, symbol: str, digits: int = 0) -> str:
    return symbol if pd.isna(x) else f"{x:,.{digits}f}"


def _display(t1: TableOne, counts: pd.DataFrame, quantiles: pd.DataFrame,
             smd: pd.DataFrame, symbol: str) -> pd.DataFrame:
    groups = [*t1.groups, TOTAL]
    rows: list[dict[str, str]] = []
    s = smd.set_index("variable")["smd"]
    first = next(iter(t1.levels), None)
    if first is not None:
        c = counts[(counts["variable"] == first) & (counts["level"] == TOTAL)]
        n = c.set_index("group")["n"]
        rows.append({"characteristic": "persons", "level": "",
                     **{g: _fmt(n.get(g), symbol) for g in groups}, "smd": ""})
    for var, lv in t1.levels.items():
        c = counts[counts["variable"] == var].set_index(["level", "group"])
        for i, level in enumerate(lv):
            row = {"characteristic": var if i == 0 else "", "level": level}
            for g in groups:
                n, sh = c.loc[(level, g), "n"], c.loc[(level, g), "share_pct"]
                row[g] = symbol if pd.isna(n) else f"{int(n):,} ({_fmt(sh, symbol, 1)} %)"
            row["smd"] = (_fmt(s.get(var), symbol, 3)) if i == 0 else ""
            rows.append(row)
    for var in t1.continuous:
        q = quantiles[quantiles["variable"] == var].set_index("group")
        row = {"characteristic": var, "level": "median [IQR]"}
        for g in groups:
            if g not in q.index:
                row[g] = "."
                continue
            m, lo, hi = (q.at[g, k] for k in ("median", "q1", "q3"))
            row[g] = f"{_fmt(m, symbol, 1)} [{_fmt(lo, symbol, 1)}, {_fmt(hi, symbol, 1)}]"
        row["smd"] = _fmt(s.get(var), symbol, 3)
        rows.append(row)
    return pd.DataFrame(rows, columns=["characteristic", "level", *groups, "smd"])
