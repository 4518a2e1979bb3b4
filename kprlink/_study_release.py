"""A study's tables protected as one whole, and what of them may leave.

:func:`protect` turns the analysis steps' tables into
:class:`kprlink.disclosure.joint.StudyTable` and protects them together
(:func:`kprlink.disclosure.joint.protect_study`): common persons, different
groupings of one variable, the "left out" counts of the report and value cells
by their contributors. :func:`released_tables` then derives what is shown
(counts, shares with 95 % Wilson intervals, values per person) from published
numbers only; every value derived from a hidden one is hidden too.
:func:`checker_log` is the per-cell record for the output checker (statuses,
reasons, intervals), which never goes under ``release/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kprlink._studyspec import DisclosureSpec
from kprlink.analyses import AnalysisTable, CurveTable
from kprlink.disclosure.joint import JointResult, PriorRelease, StudyTable, protect_study
from kprlink.disclosure.rules import SuppressionRule
from kprlink.stats.intervals import proportion_ci

TOTAL = "Total"


@dataclass(frozen=True)
class Released:
    """One released table: the values (NA hidden) and which NA are suppressed."""

    table: pd.DataFrame
    hidden: pd.DataFrame  # same shape, True where the value is suppressed or derived


def rule_of(spec: DisclosureSpec) -> SuppressionRule:
    return SuppressionRule(max_n=spec.max_n, protect_zeros=spec.protect_zeros,
                           protect_differences=spec.protect_differences)


def protect(tables: Mapping[str, AnalysisTable], spec: DisclosureSpec, *,
            universe: np.ndarray | None, prior: PriorRelease | None = None,
            variants: Mapping[str, str] | None = None) -> JointResult:
    """Protect all of a study's tables together (and with earlier releases, `prior`;
    `variants`: tables on a nested population, their differences protected)."""
    study = []
    for name, at in tables.items():
        dims = list(at.dims)
        pop = None
        if at.population is not None:
            pop = at.population[[*dims, "population"]].astype({d: "string" for d in dims})
            pop = pop.groupby(dims, as_index=False, sort=False)["population"].sum()
        cells = at.cells[[*dims, at.count_col, *at.value_cols]].astype(
            {d: "string" for d in dims})
        study.append(StudyTable(name, cells.reset_index(drop=True), tuple(dims),
                                count_col=at.count_col, persons=at.persons,
                                population=pop, value_cols=tuple(at.value_cols)))
    return protect_study(study, rule_of(spec), universe=universe, prior=prior,
                         variants=variants)


def released_table(at: AnalysisTable, cells: pd.DataFrame) -> Released:
    """Shown values of one table from its protected cells (checker frame)."""
    dims = list(at.dims)
    n_hidden = (cells["status"] != "published").to_numpy()
    out = cells[dims].copy()
    hid = pd.DataFrame({d: False for d in dims}, index=out.index)
    n = cells[at.count_col].astype("Int64").mask(n_hidden)
    out[at.count_col] = n
    hid[at.count_col] = n_hidden
    if "population" in cells:
        pop = cells["population"].astype("Int64")
        out["population"] = pop
        hid["population"] = False
        ci = proportion_ci(n.astype("Float64").to_numpy(dtype=float, na_value=np.nan),
                           pop.astype("Float64").to_numpy(dtype=float, na_value=np.nan))
        names = ((("share_pct", "proportion"), ("share_lower", "lower"),
                  ("share_upper", "upper")) if at.rate_per == 100 else
                 (("per_1000", "proportion"), ("per_1000_lower", "lower"),
                  ("per_1000_upper", "upper")))
        for col, src in names:
            out[col] = pd.array(np.round(ci[src].to_numpy(dtype=float) * at.rate_per, 4),
                                dtype="Float64").copy()
            out.loc[n_hidden, col] = pd.NA
            hid[col] = n_hidden
    if at.share_within is not None:
        others = [d for d in dims if d != at.share_within]
        tot = out[out[at.share_within] == TOTAL][others + [at.count_col]].rename(
            columns={at.count_col: "_den"})
        den = (out.merge(tot, on=others, how="left")["_den"] if others
               else pd.Series([tot["_den"].iloc[0]] * len(out)))
        den = pd.Series(pd.array(den.to_numpy(), dtype="Float64"), index=out.index)
        share = (100 * out[at.count_col].astype("Float64") / den.mask(den == 0)).round(4)
        h = n_hidden | den.isna().to_numpy()
        share = share.mask(h | share.isna().to_numpy())  # a zero base: no share (never NaN)
        out["share_pct"] = share
        hid["share_pct"] = h
    for col in at.value_cols:
        v_hidden = (cells[f"{col}_status"] != "published").to_numpy() | n_hidden
        v = cells[col].astype("Int64").mask(v_hidden)
        out[col] = v
        hid[col] = v_hidden
        n_f = out[at.count_col].astype("Float64")
        per = v.astype("Float64") / n_f.mask(n_f == 0)  # no persons: no mean (never NaN)
        per = per.mask(v_hidden | per.isna().to_numpy()).round(4)
        out[f"{col}_per_person"] = per
        hid[f"{col}_per_person"] = v_hidden
    for name, (num, den, scale) in at.rates.items():
        h = hid[num].to_numpy() | hid[den].to_numpy()
        d = out[den].astype("Float64")
        rate = (out[num].astype("Float64") / d.mask(d == 0) * scale).round(3)
        out[name] = rate.mask(h)
        hid[name] = h
    if at.smd_between is not None:
        out["smd"], smd_hidden = _smd(out, at)
        hid["smd"] = smd_hidden | n_hidden
        out.loc[n_hidden, "smd"] = pd.NA
    return Released(out.reset_index(drop=True), hid.reset_index(drop=True))


def _smd(out: pd.DataFrame, at: AnalysisTable) -> tuple[pd.Series, np.ndarray]:
    """Standardised differences of the first two groups, from released counts only."""
    from kprlink.tables.table1 import standardised_difference

    g_dim = str(at.smd_between)
    l_dim = next(d for d in at.dims if d != g_dim)
    groups = [g for g in pd.unique(out[g_dim].astype(str)) if g != TOTAL][:2]
    smd = pd.Series(pd.NA, index=out.index, dtype="Float64")
    hidden = np.zeros(len(out), dtype=bool)
    if len(groups) != 2:
        return smd, hidden
    n = out.set_index([l_dim, g_dim])[at.count_col].astype("Float64")
    n.index = n.index.map(lambda k: (str(k[0]), str(k[1])))
    levels = [lv for lv in pd.unique(out[l_dim].astype(str)) if lv != TOTAL]
    share = {g: np.array([n.get((lv, g), pd.NA) for lv in levels], dtype=object)
             for g in groups}
    tot = {g: n.get((TOTAL, g), pd.NA) for g in groups}
    sh = {g: np.array([np.nan if pd.isna(x) or pd.isna(tot[g]) or not tot[g]
                       else float(x) / float(tot[g]) for x in share[g]]) for g in groups}
    # a share is hidden where a count it needs is; undefined (no one in the group) is not
    gone = {g: np.array([pd.isna(x) or pd.isna(tot[g]) for x in share[g]]) for g in groups}
    labels = out[l_dim].astype(str).to_numpy()
    at_total = (out[g_dim].astype(str) == TOTAL).to_numpy()
    for i, lv in enumerate(levels):
        a, b = sh[groups[0]][i], sh[groups[1]][i]
        row = at_total & (labels == lv)
        if gone[groups[0]][i] or gone[groups[1]][i]:
            hidden |= row
        elif np.isnan(a) or np.isnan(b):
            continue
        else:
            smd[row] = round(standardised_difference([a, 1 - a], [b, 1 - b]), 3)
    whole = at_total & (labels == TOTAL)
    overall = standardised_difference(sh[groups[0]], sh[groups[1]])
    if any(gone[g].any() for g in groups):
        hidden |= whole
    elif not np.isnan(overall):  # NaN: a group without persons, nothing to compare
        smd[whole] = round(overall, 3)
    return smd, hidden


def curve_table(ct: CurveTable) -> AnalysisTable:
    """The counts a curve shows as a table of its persons' steps, for joint protection:
    ``group, step, outcome`` (its margin over ``outcome``: the number at risk)."""
    from kprlink.stats.curve_release import STEP_OUTCOMES

    p = ct.persons
    assert p is not None
    steps = sorted(set(p["step"].astype(str)), key=int)
    groups = [str(g) for g in pd.unique(p[ct.group_col])]
    return AnalysisTable.from_persons(p, {ct.group_col: groups, "step": steps,
                                          "outcome": list(STEP_OUTCOMES)})


def released_curve(ct: CurveTable, cells: pd.DataFrame | None = None) -> Released:
    """A released curve as a table: ``n`` is the number at risk at the step's start.

    With `cells` (the joint protection of :func:`curve_table`), a count hidden
    there is hidden here, and so is every estimate of its group from that step on
    (the estimates are functions of the counts).
    """
    c = ct.curve.rename(columns={"n_at_risk": "n"})
    cols = [ct.group_col, "time", "n", *ct.value_cols, "estimate", "lower", "upper"]
    out = c[cols].reset_index(drop=True)
    out[ct.group_col] = out[ct.group_col].astype("string")
    out["time"] = pd.array(pd.to_numeric(out["time"]).round(), dtype="Int64")
    for col in ("estimate", "lower", "upper"):
        out[col] = pd.array(pd.to_numeric(out[col]).round(4), dtype="Float64")
    hid = pd.DataFrame({col: out[col].isna().to_numpy() for col in cols})
    hid[ct.group_col] = False
    if cells is not None:
        g = ct.group_col
        hidden = cells.assign(_h=(cells["status"] != "published").to_numpy()).set_index(
            [g, "step", "outcome"])["_h"]
        shown = out["time"].notna().to_numpy()
        step = (out[shown].groupby(g, sort=False).cumcount() + 1).astype(str)
        keys = out.loc[shown, [g]].assign(step=step.to_numpy())
        any_hidden = np.zeros(len(out), dtype=bool)
        for col, outcome in (("n", TOTAL), ("n_events", "event"),
                             ("n_competing", "competing"), ("n_censored", "censored")):
            idx = pd.MultiIndex.from_arrays([keys[g].astype(str), keys["step"],
                                             [outcome] * len(keys)])
            h = np.zeros(len(out), dtype=bool)
            h[shown] = hidden.reindex(idx, fill_value=True).to_numpy(bool)
            out.loc[h, col] = pd.NA
            hid[col] |= h
            any_hidden |= h
        later = pd.Series(any_hidden).groupby(out[g].to_numpy()).cummax().to_numpy(bool)
        for col in ("estimate", "lower", "upper"):
            out.loc[later, col] = pd.NA
            hid[col] |= later
    return Released(out, hid)


def curve_log(name: str, ct: CurveTable) -> pd.DataFrame:
    """Checker rows of a released curve: every count it shows, published by release_curve."""
    c = ct.curve
    rows = []
    for col in ("n_at_risk", *ct.value_cols):
        v = pd.to_numeric(c[col])
        rows.append(pd.DataFrame({
            "table": name, "cell": [f"{ct.group_col}={g}; time={t}" for g, t in
                                    zip(c[ct.group_col], c["time"], strict=True)],
            "value_of": col, "status": np.where(v.isna(), "primary", "published"),
            "reason": np.where(v.isna(), "curve not releasable", ""),
            "n": v.fillna(-1).astype(np.int64),
            "contributors": v.fillna(-1).astype(np.int64),  # each counts persons once
            # a published count is known exactly; a curve not released shows nothing
            "lower": np.where(v.isna(), 0.0, v.fillna(0).to_numpy(float)),
            "upper": np.where(v.isna(), np.inf, v.fillna(0).to_numpy(float))}))
    return pd.concat(rows, ignore_index=True)


def display(rel: Released, symbol: str) -> pd.DataFrame:
    """The table as it leaves: hidden values show `symbol`, other gaps ``.``."""
    out = rel.table.astype(object)
    for c in out.columns:
        na = rel.table[c].isna().to_numpy()
        if na.any():
            col = out[c].to_numpy(copy=True)
            col[na & rel.hidden[c].to_numpy()] = symbol
            col[na & ~rel.hidden[c].to_numpy()] = "."
            out[c] = col
    return out


#: Place columns a released table may have, and the name map each uses.
PLACE_COLUMNS = {"county": "county", "municipality": "municipality"}


def with_place_names(shown: pd.DataFrame, names: Mapping[str, Mapping[str, str]]
                     ) -> pd.DataFrame:
    """County and municipality codes shown as ``"03 Oslo"`` (Statistics Norway's style),
    where the delivery's Klass names file knows the code; margins and others unchanged.

    Examples
    --------
    >>> t = pd.DataFrame({"county": ["Total", "03", "99"], "n": [9, 5, 4]})
    >>> with_place_names(t, {"county": {"03": "Oslo"}})["county"].tolist()
    ['Total', '03 Oslo', '99']
    """
    out = shown
    for col, kind in PLACE_COLUMNS.items():
        lookup = names.get(kind) or {}
        if col in shown.columns and lookup:
            codes = shown[col].astype(str)
            out = out.assign(**{col: [f"{c} {lookup[c]}" if c in lookup else c
                                      for c in codes]})
    return out


def left_out_text(name: str, joint: JointResult, excluded: Mapping[str, int],
                  spec: DisclosureSpec) -> dict[str, str]:
    """The report's "left out" numbers, each shown only when the rule allows.

    With a cohort, a table's left-out persons are one count in the joint model
    (suppressed like any cell); the breakdown by reason stays with the checker.
    Otherwise each reason's count is shown unless it is ``1..max_n``.
    """
    lo = joint.left_out.get(name)
    if lo is not None:
        if not lo["n"] and not excluded:
            return {}
        shown = f"{lo['n']:,}" if lo["status"] == "published" else spec.symbol
        return {"persons of the cohort not in this table": shown}
    out = {}
    for k, v in excluded.items():
        small = 1 <= int(v) <= spec.max_n or (int(v) == 0 and spec.protect_zeros)
        out[k] = spec.symbol if small else f"{int(v):,}"
    return out


def checker_log(joint: JointResult, tables: Mapping[str, AnalysisTable],
                excluded: Mapping[str, Mapping[str, int]]) -> pd.DataFrame:
    """One row per released number: table, cell, what, status, reason, value, interval."""
    rows: list[dict[str, Any]] = []
    for name, cells in joint.tables.items():
        at = tables[name]
        label = cells[list(at.dims)].astype(str).apply(
            lambda r: "; ".join(f"{k}={v}" for k, v in r.items()), axis=1)
        for i in range(len(cells)):
            base = {"table": name, "cell": label.iat[i]}
            rows.append({**base, "value_of": at.count_col, "status": cells["status"].iat[i],
                         "reason": cells["reason"].iat[i], "n": int(cells[at.count_col].iat[i]),
                         "contributors": int(cells["contributors"].iat[i]),
                         "lower": cells["lower"].iat[i], "upper": cells["upper"].iat[i]})
            for col in at.value_cols:
                rows.append({**base, "value_of": col, "status": cells[f"{col}_status"].iat[i],
                             "reason": cells[f"{col}_reason"].iat[i],
                             "n": int(cells[col].iat[i]),
                             "contributors": int(cells[f"{col}_contributors"].iat[i]),
                             "lower": cells[f"{col}_lower"].iat[i],
                             "upper": cells[f"{col}_upper"].iat[i]})
        lo = joint.left_out.get(name)
        if lo is not None:
            rows.append({"table": name, "cell": "left out (report text)", "value_of": "persons",
                         "status": lo["status"], "reason": lo["reason"], "n": lo["n"],
                         "contributors": lo["n"], "lower": lo["lower"], "upper": lo["upper"]})
        for k, v in excluded.get(name, {}).items():
            rows.append({"table": name, "cell": f"left out: {k}", "value_of": "rows",
                         "status": "checker only", "reason": "", "n": int(v),
                         "contributors": np.nan, "lower": np.nan, "upper": np.nan})
    df = pd.DataFrame(rows)
    return df.astype({"table": "string", "cell": "string", "value_of": "string",
                      "status": "string", "reason": "string"})
