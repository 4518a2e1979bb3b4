"""An outsider's attack on a release folder: can anything hidden be recovered?

Reads only what leaves the secure environment (``release/``: ``tables/*.csv`` and
``report.md``), never the checker's log and never microdata, and imports nothing
from kprlink's suppression or audit code, so that it does not share their
assumptions. Every count that does not read as a number is unknown (an integer
>= 0), whatever symbol shows it.

The attack, in order:

1. shown counts in 1..max_n (and, when the report says differences are
   protected, ``population - n`` in 1..max_n); value columns (contacts, events)
   shown as 1..max_n; numbers in the report's "left out" lines in 1..max_n;
2. anything shown beside a hidden count (a share, an interval, a value column);
3. one linear model per population (tables with equal grand totals, variables of
   the same name refined to common atoms, ``Total`` margins as sums, ``population``
   as an upper bound, denominators implied by shares and Wilson intervals shown
   beside known counts) and, for every hidden cell, its LP interval (HiGHS) and,
   where narrow, its integer interval (MILP);
4. the same for each value column of each table on its own.

A finding is any of 1-2, or a hidden cell whose interval is narrower than
``min_width``. The rule (``max_n``, ``min_width``) is read from the report where
it is stated; otherwise ``max_n = 4`` and ``min_width = 1``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from kprlink.disclosure._outsider_check import check_folder
from kprlink.disclosure._outsider_model import Model
from kprlink.disclosure._outsider_read import (
    POPULATION,
    SHARE_COLS,
    TOTAL,
    NotAReleaseError,
    ReleasedTable,
    find_release,
    is_numeric,
    read_report,
    read_tables,
)

__all__ = ["OutsiderAttack", "NotAReleaseError", "attack_release", "check_release",
           "run_attack"]

FINDING_COLS = ["table", "cell", "lower", "upper", "kind"]
_Z = 1.959963984540054


@dataclass(frozen=True)
class OutsiderAttack:
    """What an outsider learns from a release folder.

    Attributes
    ----------
    findings : DataFrame
        ``table, cell, lower, upper, kind``: one row per disclosure found.
    intervals : DataFrame
        Every hidden cell's interval: ``table, cell, column, lp_lower, lp_upper,
        lower, upper`` (``lower``/``upper`` over the integers where checked).
    text_numbers : DataFrame
        Numbers in the report's "left out" lines: ``line, label, value``.
    notes : tuple of str
        Assumptions the attack had to drop (tables found not additive, ...).
    """

    findings: pd.DataFrame
    intervals: pd.DataFrame
    text_numbers: pd.DataFrame
    notes: tuple[str, ...]
    max_n: int
    min_width: int

    def __repr__(self) -> str:
        return (f"<OutsiderAttack max_n={self.max_n} min_width={self.min_width}: "
                f"{len(self.intervals)} hidden cells, {len(self.findings)} findings>")

    def summary(self) -> pd.DataFrame:
        """Findings counted by kind."""
        return self.findings.groupby("kind").size().rename("findings").reset_index()


def attack_release(folder: str | Path, *, max_n: int | None = None,
                   min_width: int | None = None) -> pd.DataFrame:
    """Findings of :func:`run_attack` (empty when nothing is disclosed)."""
    return run_attack(folder, max_n=max_n, min_width=min_width).findings


def run_attack(folder: str | Path, *, max_n: int | None = None,
               min_width: int | None = None) -> OutsiderAttack:
    """Attack a release folder (``OUT`` or ``OUT/release``) as an outsider.

    Parameters
    ----------
    folder : path
        The run's output folder (its ``release/`` is read) or a release folder.
    max_n, min_width : int, optional
        The rule; by default as stated in the report, else 4 and 1.

    Raises
    ------
    NotAReleaseError
        If the folder holds no ``tables/*.csv``.
    """
    release = find_release(Path(folder))
    tables = read_tables(release)
    facts = read_report(release)
    max_n = max_n if max_n is not None else (facts.max_n if facts.max_n is not None else 4)
    min_width = min_width if min_width is not None else (facts.min_width or 1)
    found: list[dict] = []
    for t in tables:
        found += _shown(t, max_n, facts.protect_differences)
    for _, row in facts.numbers.iterrows():
        if 1 <= row["value"] <= max_n:
            found.append(_finding("report.md", f"line {row['line']}: {row['label']}",
                                  row["value"], row["value"], "text"))
    notes: list[str] = []
    # a population is no bound where the report says cells count more persons than it
    tables = [replace(t, population=None) if t.name in facts.population_exceeded else t
              for t in tables]
    for name in sorted(facts.population_exceeded):
        notes.append(f"{name}: the report says some cells exceed their population; "
                     "populations not used as bounds")
    additive = []
    for t in tables:
        if Model([t]).solver().feasible():
            additive.append(t)
        else:
            notes.append(f"{t.name}: cells do not add up to the margins; only bounds used")
    intervals = [_bounds_only(t) for t in tables if t not in additive]
    for group in _groups(additive):
        intervals.append(_attack_group(group, min_width, notes))
        for t in group:
            for col in t.value_cols:
                intervals.append(_attack_values(t, col, min_width, notes))
    iv = pd.concat([x for x in intervals if len(x)] or [_empty_intervals()],
                   ignore_index=True)
    narrow = iv[((iv["upper"] - iv["lower"]) < min_width - 1e-9)
                # a value (events, days) pinned to 0 is no disclosure unless zeros are
                & ~((iv["column"] != "n") & (iv["upper"] <= 1e-9) & (not facts.protect_zeros))]
    for _, r in narrow.iterrows():
        cell = r["cell"] if r["column"] == "n" else f"{r['cell']} [{r['column']}]"
        found.append(_finding(r["table"], cell, r["lower"], r["upper"],
                              "interval" if r["column"] == "n" else "value_interval"))
    findings = pd.DataFrame(found, columns=FINDING_COLS)
    return OutsiderAttack(findings, iv, facts.numbers, tuple(notes), max_n, min_width)


def _finding(table: str, cell: str, lo: float, hi: float, kind: str) -> dict:
    return {"table": table, "cell": cell, "lower": lo, "upper": hi, "kind": kind}


def _shown(t: ReleasedTable, max_n: int, differences: bool) -> list[dict]:
    """Findings visible without any model: small shown numbers, values beside hidden."""
    out = []
    n = t.n
    for i in np.flatnonzero((n >= 1) & (n <= max_n)):
        out.append(_finding(t.name, t.cell(i), n[i], n[i], "small_count"))
    if differences and t.population is not None:
        d = t.population - n
        for i in np.flatnonzero((d >= 1) & (d <= max_n)):
            out.append(_finding(t.name, t.cell(i), n[i], n[i], "difference"))
    for col in t.value_cols:
        v = t.numbers(col)
        for i in np.flatnonzero((v >= 1) & (v <= max_n) & (np.abs(v % 1) < 1e-9)):
            out.append(_finding(t.name, f"{t.cell(i)} [{col}]", v[i], v[i], "small_value"))
    for col in t.value_cols:  # a rate beside a known count gives the hidden value
        for rate in (c for c in t.frame.columns if c.startswith(f"{col}_per_")):
            for i in np.flatnonzero(np.isnan(t.numbers(col)) & t.shown(rate) & (n > 0)):
                out.append(_finding(t.name, f"{t.cell(i)} [{rate}]", math.nan, math.nan,
                                    "derived_shown"))
    hidden = np.isnan(n)
    for col in t.frame.columns:
        if col in t.dims or col in ("n", POPULATION) or not is_numeric(t.frame[col]):
            continue
        for i in np.flatnonzero(hidden & t.shown(col)):
            out.append(_finding(t.name, f"{t.cell(i)} [{col}]", math.nan, math.nan,
                                "derived_shown"))
    return out


def _grand(t: ReleasedTable) -> float:
    mask = np.ones(len(t.frame), bool)
    for d in t.dims:
        mask &= (t.frame[d] == TOTAL).to_numpy()
    idx = np.flatnonzero(mask)
    return float(t.n[idx[0]]) if len(idx) else math.nan


def _groups(tables: list[ReleasedTable]) -> list[list[ReleasedTable]]:
    """Tables counting the same persons: equal shown grand totals."""
    by: dict[float, list[ReleasedTable]] = {}
    alone = []
    for t in tables:
        g = _grand(t)
        (alone.append([t]) if math.isnan(g) else by.setdefault(g, []).append(t))
    return [*by.values(), *alone]


def _empty_intervals() -> pd.DataFrame:
    return pd.DataFrame(columns=["table", "cell", "column", "lp_lower", "lp_upper",
                                 "lower", "upper"])


def _bounds_only(t: ReleasedTable) -> pd.DataFrame:
    """A table that does not add up: a hidden cell is at most any shown cell above it."""
    rows = []
    labels = t.frame[t.dims].to_numpy()
    shown = {tuple(labels[i]): t.n[i] for i in range(len(t.frame)) if not np.isnan(t.n[i])}
    for i in np.flatnonzero(np.isnan(t.n)):
        hi = math.inf
        for key, v in shown.items():
            if all(k == TOTAL or k == lab for k, lab in zip(key, labels[i])):
                hi = min(hi, v)
        if t.population is not None and not np.isnan(t.population[i]):
            hi = min(hi, t.population[i])
        rows.append({"table": t.name, "cell": t.cell(i), "column": "n", "lp_lower": 0.0,
                     "lp_upper": hi, "lower": 0.0, "upper": hi})
    return pd.DataFrame(rows)


def _solve_hidden(model: Model, items: list[tuple[ReleasedTable, int, str]],
                  min_width: int) -> pd.DataFrame:
    solver = model.solver()
    rows = []
    for t, i, col in items:
        cols = model.tv[model.tables.index(t)].rows[i]
        lo, hi, int_lo, int_hi = solver.interval(cols)
        ilo, ihi = lo, hi
        if model.integer:
            ilo = math.ceil(lo - 1e-6) if not math.isnan(lo) else lo
            ihi = math.floor(hi + 1e-6) if math.isfinite(hi) else hi
            # an end met by an integral LP vertex is the integer end too; else MILP
            if min_width <= ihi - ilo < min_width + 2:
                if not int_lo:
                    ilo = _or(solver.integer_bound(cols, 1.0), ilo)
                if not int_hi:
                    ihi = _or(solver.integer_bound(cols, -1.0), ihi)
        rows.append({"table": t.name, "cell": t.cell(i), "column": col, "lp_lower": lo,
                     "lp_upper": hi, "lower": ilo, "upper": ihi})
    return pd.DataFrame(rows)


def _or(x: float, default: float) -> float:
    return default if math.isnan(x) else x


def _attack_group(group: list[ReleasedTable], min_width: int, notes: list[str],
                  *, bases: bool = True) -> pd.DataFrame:
    model = Model(group)
    if bases:
        for t in group:
            for idx, lo, hi in _implied_bases(t):
                model.add_bounds(t, idx, lo, hi)
    if not model.solver().feasible():
        names = ", ".join(t.name for t in group)
        if bases:
            notes.append(f"{names}: denominators implied by shares contradict the counts; "
                         "shares not used")
            return _attack_group(group, min_width, notes, bases=False)
        notes.append(f"{names}: the joint model is infeasible (not the same persons); "
                     "tables attacked one by one")
        return pd.concat([_attack_group([t], min_width, notes) for t in group],
                         ignore_index=True)
    items = [(t, int(i), "n") for t in group for i in np.flatnonzero(np.isnan(t.n))]
    return _solve_hidden(model, items, min_width)


def _attack_values(t: ReleasedTable, col: str, min_width: int, notes: list[str]
                   ) -> pd.DataFrame:
    v = t.numbers(col)
    if not np.isnan(v).any():
        return _empty_intervals()
    model = Model([t], values={t.name: col})
    for i in np.flatnonzero(t.n == 0):
        model.add_bounds(t, int(i), 0.0, 0.0)
    if not model.solver().feasible():
        notes.append(f"{t.name}: {col} does not add up to its margins; not attacked")
        return _empty_intervals()
    items = [(t, int(i), col) for i in np.flatnonzero(np.isnan(v))]
    return _solve_hidden(model, items, min_width)


# ------------------------------------------------ denominators implied by shares

def _half_unit(text: str) -> float:
    text = text.strip()
    return 0.5 * 10.0 ** -(len(text.split(".")[1]) if "." in text else 0)


def _wilson(n: float, big_n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = n / big_n
    z2 = _Z * _Z
    denom = 1 + z2 / big_n
    centre = (p + z2 / (2 * big_n)) / denom
    half = _Z * np.sqrt(p * (1 - p) / big_n + z2 / (4 * big_n ** 2)) / denom
    return 100 * (centre - half), 100 * (centre + half)


def _implied_bases(t: ReleasedTable) -> list[tuple[int, float, float]]:
    """Bounds on hidden denominators implied by shares shown beside known counts.

    Which cell is a row's denominator (the population, the margin over one of
    its dimensions, the grand total) is learnt from the rows where both are
    shown; then every share and Wilson interval shown beside a known count whose
    denominator is hidden bounds that denominator.
    """
    if "share_pct" not in t.frame or (t.population is not None
                                      and not np.isnan(t.population).any()):
        return []
    labels = t.frame[t.dims].to_numpy()
    index = {tuple(labels[i]): i for i in range(len(labels))}
    grand = _grand(t)
    cap = int(grand) if not math.isnan(grand) else 100_000
    share = t.numbers("share_pct")
    ci = [c for c in SHARE_COLS[1:] if c in t.frame]
    ci_val = {c: t.numbers(c) for c in ci}
    half = {c: t.frame[c].astype(str).map(_half_unit).to_numpy() for c in ("share_pct", *ci)}

    def feasible(i: int, big_n: np.ndarray) -> np.ndarray | None:
        """Which candidate denominators agree with what row `i` shows (None: no check)."""
        ok, checked = big_n >= max(t.n[i], 1), False
        big_n = np.maximum(big_n, 1)
        if not np.isnan(share[i]):
            ok &= np.abs(100 * t.n[i] / big_n - share[i]) <= half["share_pct"][i] + 1e-9
            checked = True
        if len(ci) == 2 and not np.isnan(ci_val[ci[0]][i]) and not np.isnan(ci_val[ci[1]][i]):
            lo_w, hi_w = _wilson(t.n[i], big_n)
            for c, w in zip(ci, (lo_w, hi_w)):
                ok &= np.abs(w - ci_val[c][i]) <= half[c][i] + 1e-9
            checked = True
        return ok if checked else None

    rows = [i for i in range(len(labels)) if not np.isnan(t.n[i])]
    cands = [[index.get(tuple(TOTAL if j == k else lab for j, lab in enumerate(row)))
              for row in labels] for k in range(len(t.dims))]
    cands.append([index.get(tuple([TOTAL] * len(t.dims)))] * len(labels))
    best, best_checks = None, 0
    for cand in cands:
        checks = [feasible(i, np.array([t.n[cand[i]]]))
                  for i in rows if cand[i] is not None and not np.isnan(t.n[cand[i]])]
        checks = [c for c in checks if c is not None]
        if checks and all(c[0] for c in checks) and len(checks) > best_checks:
            best, best_checks = cand, len(checks)
    if best is None:
        return []
    out = []
    for i in rows:
        b = best[i]
        if b is None or not np.isnan(t.n[b]):
            continue
        big_n = np.arange(max(1, int(t.n[i])), max(cap, 1) + 1, dtype=float)
        ok = feasible(i, big_n)
        if ok is not None and ok.any():
            out.append((b, float(big_n[ok].min()), float(big_n[ok].max())))
    return out


def check_release(folder: str | Path, *, max_n: int | None = None,
                  min_width: int | None = None) -> pd.DataFrame:
    """Re-verify a release folder from scratch, as ``kprlink release check`` does.

    Findings (``table, cell, lower, upper, kind``) of two kinds of check: the
    folder's files (a column or word naming a cell's status or reason, blank
    cells, a checker file inside ``release/``) and :func:`run_attack`.
    Empty when the release is clean.

    Raises
    ------
    NotAReleaseError
        If the folder holds no ``tables/*.csv``.
    """
    _, files = check_folder(folder)
    attack = run_attack(folder, max_n=max_n, min_width=min_width).findings
    return pd.concat([x for x in (files, attack) if len(x)] or [files], ignore_index=True)
