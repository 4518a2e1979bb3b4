"""Protect every table of a study together, over common atoms of persons.

Tables of one study count the same persons: ``share_by_age_sex`` (60-64, 65-69, ...) and
``gp_contacts_by_age`` (0-64, 65-74, ...) are two groupings of one cohort, and the
report's "left out" counts are differences of the two. Protected one by one, an LP over
the released tables together recovers hidden cells. Here (GaussSuppression's own
formulation at a larger size) every released number is a row of one model matrix over
*atoms*: groups of persons who fall in exactly the same inner cells of every table. A
cell's count is the sum of its atoms; secondary suppression (exact Gaussian elimination)
and the audit (LP/MILP with published denominators as bounds) then run once, over all
tables, text counts and earlier releases alike.

Tables without person rows enter as their own atoms (one per inner cell), which is the
single-table problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from kprlink.disclosure._joint_audit import joint_intervals
from kprlink.disclosure._model import TOTAL, build_model
from kprlink.disclosure._values import protect_values
from kprlink.disclosure._gauss import gauss_secondary
from kprlink.disclosure.rules import SuppressionRule
from kprlink.disclosure.secondary import candidate_order, model_matrix, singleton_sums
from kprlink.exceptions import DisclosureError

__all__ = ["JointResult", "StudyTable", "protect_study"]

#: Reason written for a cell few persons contribute to (events, stays, contacts).
CONTRIBUTORS = "contributors<={}"


@dataclass(frozen=True)
class StudyTable:
    """One table of a study, with the persons it counts.

    Parameters
    ----------
    name : str
        Table name.
    cells : pandas.DataFrame
        Inner cells: `dims` and `count_col` (one row per combination).
    dims : tuple of str
        Dimensions.
    count_col : str, default "n"
        The count.
    persons : pandas.DataFrame, optional
        One row per (person, inner cell): ``person_id`` and `dims`; a person may sit
        in several cells and several rows (stays). Without it, the table's inner
        cells are its own atoms.
    population : pandas.DataFrame, optional
        Public denominators of the inner cells (`dims`, ``population``): bounds in the
        audit and complements ``population - n`` protected.
    value_cols : tuple of str
        Sums over persons in `cells` (and each person's contribution in `persons`),
        protected by their contributors (:mod:`kprlink.disclosure._values`).
    """

    name: str
    cells: pd.DataFrame
    dims: tuple[str, ...]
    count_col: str = "n"
    persons: pd.DataFrame | None = field(default=None, repr=False)
    population: pd.DataFrame | None = field(default=None, repr=False)
    value_cols: tuple[str, ...] = ()


@dataclass
class JointResult:
    """What :func:`protect_study` decided.

    Attributes
    ----------
    tables : dict of str to pandas.DataFrame
        Per table, every cell (margins ``Total``): dims, the true count, ``population``
        where given, ``status`` (published/primary/secondary), ``reason`` and the audit
        ``lower``/``upper`` of hidden cells. Person-level truth: for the checker only.
    left_out : dict of str to dict
        Per table with person rows and a `universe`: persons of the universe the table
        does not count (``n``, ``status``, ``lower``, ``upper``).
    n_atoms : int
        Columns of the model matrix.
    problems : list of str
        Hidden cells whose interval is still narrower than the rule's width.
    """

    tables: dict[str, pd.DataFrame]
    left_out: dict[str, dict[str, object]]
    n_atoms: int
    n_repairs: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def _inner_index(t: StudyTable, model_cells: pd.DataFrame) -> pd.DataFrame:
    cells = t.cells[list(t.dims)].astype("string").reset_index(drop=True)
    return cells.assign(_inner=np.arange(len(cells)))


def _atoms(tables: Sequence[StudyTable], offsets: list[int], n_inner: int,
           universe: np.ndarray | None) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    """(atoms x global inner) multiplicities, atom counts, and which atoms are persons."""
    problems: list[str] = []
    pid_parts, col_parts = [], []
    own_parts = []
    for t, off in zip(tables, offsets, strict=True):
        idx = _inner_index(t, t.cells)
        if t.persons is None:
            own_parts.append((off, t.cells[t.count_col].to_numpy(dtype=np.int64)))
            continue
        p = t.persons[["person_id", *t.dims]].astype({d: "string" for d in t.dims})
        m = p.merge(idx, on=list(t.dims), how="left")
        if m["_inner"].isna().any():
            problems.append(f"table {t.name!r}: {int(m['_inner'].isna().sum())} person row(s) "
                            "fall in no inner cell")
            m = m[m["_inner"].notna()]
        counts = np.bincount(m["_inner"].to_numpy(np.int64), minlength=len(idx))
        if not np.array_equal(counts, t.cells[t.count_col].to_numpy(dtype=np.int64)):
            problems.append(f"table {t.name!r}: its person rows do not add up to its cells")
        pid_parts.append(m["person_id"].to_numpy(np.int64))
        col_parts.append(m["_inner"].to_numpy(np.int64) + off)
    if problems:
        raise DisclosureError("the study's tables and their persons disagree.", problems)
    blocks = []
    z_parts = []
    if pid_parts or universe is not None:
        pid = np.concatenate(pid_parts) if pid_parts else np.zeros(0, np.int64)
        col = np.concatenate(col_parts) if col_parts else np.zeros(0, np.int64)
        everyone = np.unique(np.concatenate([pid, universe if universe is not None
                                             else np.zeros(0, np.int64)]))
        row = np.searchsorted(everyone, pid)
        pm = sparse.csr_matrix((np.ones(len(row), dtype=np.int64), (row, col)),
                               shape=(len(everyone), n_inner))
        pm.sum_duplicates()
        # atoms: persons with identical rows (two independent 64-bit hashes of the row)
        rng = np.random.default_rng(20240917)
        w1 = rng.integers(1, 2**62, size=n_inner, dtype=np.uint64)
        w2 = rng.integers(1, 2**62, size=n_inner, dtype=np.uint64)
        coo = pm.tocoo()
        mult = coo.data.astype(np.uint64)
        h1 = np.zeros(pm.shape[0], dtype=np.uint64)
        h2 = np.zeros(pm.shape[0], dtype=np.uint64)
        with np.errstate(over="ignore"):
            np.add.at(h1, coo.row, w1[coo.col] * mult)
            np.add.at(h2, coo.row, w2[coo.col] * (mult * np.uint64(2654435761)))
        keys = np.stack([h1, h2], axis=1)
        _, first, inverse, z = np.unique(keys, axis=0, return_index=True,
                                         return_inverse=True, return_counts=True)
        atoms = pm[first]
        extra = _zero_atoms(atoms, z, tables, offsets)
        blocks.append(sparse.vstack([atoms, extra], format="csr"))
        z_parts.append(np.concatenate([z.astype(np.int64),
                                       np.zeros(extra.shape[0], np.int64)]))
    for off, counts in own_parts:
        k = len(counts)
        blocks.append(sparse.csr_matrix((np.ones(k, dtype=np.int64),
                                         (np.arange(k), off + np.arange(k))),
                                        shape=(k, n_inner)))
        z_parts.append(counts)
    a = sparse.vstack(blocks, format="csr") if blocks else sparse.csr_matrix((0, n_inner))
    z_all = np.concatenate(z_parts) if z_parts else np.zeros(0, np.int64)
    is_person = np.zeros(len(z_all), dtype=bool)
    is_person[:len(z_parts[0]) if (pid_parts or universe is not None) else 0] = True
    return a, z_all, is_person


def _zero_atoms(atoms: sparse.csr_matrix, z: np.ndarray, tables: Sequence[StudyTable],
                offsets: list[int]) -> sparse.csr_matrix:
    """Possible but empty person groups: one per empty inner cell of a table.

    Without them an empty cell would be pinned at 0 by our model although an
    outsider cannot tell it from the others. Each is the largest atom with its
    membership of that table moved to the empty cell: a combination of the
    outsider's model (so the audit stays on the safe side), with count 0.
    """
    rows = []
    n_inner = atoms.shape[1]
    csc = atoms.tocsc()
    for t, off in zip(tables, offsets, strict=True):
        if t.persons is None:
            continue
        k = len(t.cells)
        empty = np.flatnonzero(t.cells[t.count_col].to_numpy() == 0)
        if not len(empty):
            continue
        block = csc[:, off:off + k]
        once = np.flatnonzero(np.asarray(block.sum(axis=1)).ravel() == 1)
        if not len(once):
            continue
        base = atoms.getrow(int(once[np.argmax(z[once])])).tolil()
        base[0, off:off + k] = 0
        for c in empty:
            r = base.copy()
            r[0, off + c] = 1
            rows.append(r.tocsr())
    if not rows:
        return sparse.csr_matrix((0, n_inner), dtype=np.int64)
    return sparse.vstack(rows, format="csr").astype(np.int64)


def protect_study(tables: Sequence[StudyTable], rule: SuppressionRule, *,
                  universe: Sequence[int] | np.ndarray | None = None,
                  audit: bool = True, max_repairs: int = 10) -> JointResult:
    """Primary and secondary suppression of all `tables` together, then the joint audit.

    Parameters
    ----------
    tables : sequence of StudyTable
        The study's tables (names unique).
    rule : SuppressionRule
        Counts ``1..max_n`` (zeros with ``protect_zeros``) and, with a population,
        complements ``population - n`` in ``1..max_n`` are primary; so is any cell
        that ``1..max_n`` distinct persons contribute to (a count of stays or events).
    universe : sequence of int, optional
        Person ids of the whole population the tables are cut from (the cohort):
        each table's persons not counted ("left out") become a released count too.
    audit : bool, default True
        Run the joint LP/MILP audit; cells it finds too narrow get neighbours
        suppressed (at most `max_repairs` rounds).

    Examples
    --------
    >>> persons = pd.DataFrame({"person_id": range(10),
    ...                         "age": ["0-64"] * 3 + ["65+"] * 7})
    >>> t = StudyTable("t", pd.DataFrame({"age": ["0-64", "65+"], "n": [3, 7]}),
    ...                ("age",), persons=persons)
    >>> res = protect_study([t], SuppressionRule(max_n=4, protect_zeros=False))
    >>> res.tables["t"]["status"].tolist()
    ['secondary', 'primary', 'secondary']
    """
    names = [t.name for t in tables]
    if len(set(names)) != len(names):
        raise DisclosureError(f"table names must be unique, got {names}.")
    models, offsets, n_inner = [], [], 0
    for t in tables:
        inner = t.cells[[*t.dims, t.count_col]].astype({d: "string" for d in t.dims})
        models.append(build_model(inner.reset_index(drop=True), t.dims,
                                  where=f"table {t.name!r}"))
        offsets.append(n_inner)
        n_inner += len(inner)
    uni = None if universe is None else np.unique(np.asarray(universe, dtype=np.int64))
    a, z, is_person = _atoms(tables, offsets, n_inner, uni)
    # published cells: (cells x global inner), then over atoms
    m_blocks = []
    for mod, off in zip(models, offsets, strict=True):
        mm = model_matrix(mod).tocoo()
        m_blocks.append(sparse.csr_matrix((mm.data, (mm.row, mm.col + off)),
                                          shape=(mm.shape[0], n_inner)))
    cell_inner = sparse.vstack(m_blocks, format="csr")
    x = (cell_inner @ a.T).tocsr()
    has_persons = [t.persons is not None for t in tables]
    left_rows = []
    if uni is not None:
        for k, (t, off) in enumerate(zip(tables, offsets, strict=True)):
            if not has_persons[k]:
                continue
            cols = slice(off, off + len(t.cells))
            inside = np.asarray((a[:, cols].sum(axis=1) > 0)).ravel()
            # persons of the universe this table does not count
            left_rows.append((t.name, sparse.csr_matrix((~inside & is_person)
                                                        .astype(np.int64))))
    n_cells = x.shape[0]
    if left_rows:
        x = sparse.vstack([x] + [r for _, r in left_rows], format="csr")
    values = x @ z
    contributors = (x > 0).astype(np.int64) @ z
    pop = np.full(x.shape[0], np.nan)
    bound_rows, bound_vals = [], []
    cell_off = 0
    for t, mod in zip(tables, models, strict=True):
        nc = len(mod.cells)
        if t.population is not None:
            dims = list(t.dims)
            p = t.cells[dims].astype("string").merge(
                t.population[[*dims, "population"]].astype({d: "string" for d in dims}),
                on=dims, how="left")["population"].to_numpy(dtype=float)
            pm = model_matrix(mod) @ np.nan_to_num(p, nan=0.0)
            known = model_matrix(mod) @ np.isnan(p).astype(float) == 0
            pop[cell_off:cell_off + nc] = np.where(known, pm, np.nan)
            inner_rows = cell_off + mod.inner_cell
            ok = ~np.isnan(p)
            bound_rows.append(inner_rows[ok])
            bound_vals.append(p[ok])
        cell_off += nc
    primary, reason = rule.primary(values, denominators=pop)
    few = (contributors >= 1) & (contributors <= rule.max_n) & ~primary
    primary = primary | few
    reason = np.where(few, CONTRIBUTORS.format(rule.max_n), reason)
    virtual: list[np.ndarray] = []
    vweights: list[np.ndarray] = []
    if rule.singletons:
        cell_off = 0
        for mod, off in zip(models, offsets, strict=True):
            nc = len(mod.cells)
            vals_t = values[cell_off:cell_off + nc]
            for sel in singleton_sums(mod, vals_t, primary[cell_off:cell_off + nc], rule):
                row = sparse.csr_matrix(a[:, off + sel].sum(axis=1).T)
                virtual.append(row.indices)
                vweights.append(row.data.astype(np.int64))
            cell_off += nc
    order = candidate_order(values, x, zeros_first=not rule.protect_zeros)
    members = [x.getrow(i) for i in range(x.shape[0])]
    inner_of_cell = [r.indices for r in members]
    weights = [r.data.astype(np.int64) for r in members] + vweights
    b_rows = np.concatenate(bound_rows) if bound_rows else np.zeros(0, np.int64)
    b_vals = np.concatenate(bound_vals) if bound_vals else np.zeros(0)
    forced = np.zeros(x.shape[0], dtype=bool)
    n_repairs = 0
    while True:
        secondary = gauss_secondary(inner_of_cell, len(z), protected=primary | forced,
                                    order=order, virtual=virtual, weights=weights)
        hidden = primary | forced | secondary
        if not audit:
            intervals = None
            break
        intervals = joint_intervals(x, z, hidden, bound_rows=b_rows, bound_values=b_vals,
                                    min_width=rule.min_width, integer=True)
        bad = intervals.index[~intervals["ok"].to_numpy()]
        if not len(bad) or n_repairs >= max_repairs:
            break
        n_repairs += 1
        # hide, for each too-narrow cell, the smallest published cell sharing its atoms
        pub = ~hidden
        added = 0
        for c in bad:
            near = np.flatnonzero(pub & (x @ (x.getrow(c).T.toarray().ravel() > 0) > 0))
            if len(near):
                pick = near[np.argmin(values[near])]
                forced[pick] = True
                pub[pick] = False
                added += 1
        if not added:
            break
    status = np.where(primary, "primary", np.where(hidden, "secondary", "published"))
    reason = np.where(primary, reason, np.where(hidden, "secondary", ""))
    lower = np.full(x.shape[0], np.nan)
    upper = np.full(x.shape[0], np.nan)
    problems = []
    if intervals is not None:
        lower[intervals.index] = intervals["lower"].to_numpy()
        upper[intervals.index] = intervals["upper"].to_numpy()
    out, cell_off = {}, 0
    labels: list[str] = []
    for t, mod in zip(tables, models, strict=True):
        nc = len(mod.cells)
        s = slice(cell_off, cell_off + nc)
        df = mod.cells[list(t.dims)].astype("string").reset_index(drop=True)
        df[t.count_col] = pd.array(values[s], dtype="Int64")
        if t.population is not None:
            df["population"] = pd.array(pop[s], dtype="Float64").round().astype("Int64")
        labels += [f"{t.name}: " + "; ".join(f"{d}={v}" for d, v in zip(t.dims, r))
                   for r in df[list(t.dims)].itertuples(index=False)]
        df["status"] = status[s]
        df["reason"] = reason[s]
        df["contributors"] = contributors[s]
        df["lower"], df["upper"] = lower[s], upper[s]
        for col in t.value_cols:
            v = protect_values(mod, t.cells, t.persons, t.dims, col, hidden[s], rule,
                               audit=audit)
            df[col] = pd.array(v["value"].to_numpy(), dtype="Int64")
            for k in ("status", "reason", "contributors", "lower", "upper"):
                df[f"{col}_{k}"] = v[k].to_numpy()
            if audit:
                narrow = v["lower"].notna() & (v["upper"] - v["lower"] < rule.min_width - 1e-9)
                problems += [f"{t.name}: {col} of " + "; ".join(
                    f"{d}={df.at[i, d]}" for d in t.dims) + " interval too narrow"
                    for i in np.flatnonzero(narrow.to_numpy())]
        out[t.name] = _display_order(df, t)
        cell_off += nc
    left_out = {}
    for j, (name, _) in enumerate(left_rows):
        c = n_cells + j
        left_out[name] = {"n": int(values[c]), "status": str(status[c]),
                          "reason": str(reason[c]), "lower": float(lower[c]),
                          "upper": float(upper[c])}
        labels.append(f"{name}: left out")
    if intervals is not None:
        for c in intervals.index[~intervals["ok"].to_numpy()]:
            problems.append(f"{labels[c]}: interval [{lower[c]:g}, {upper[c]:g}] narrower "
                            f"than {rule.min_width:g}")
    return JointResult(tables=out, left_out=left_out, n_atoms=len(z), n_repairs=n_repairs,
                       problems=problems)


def _display_order(df: pd.DataFrame, t: StudyTable) -> pd.DataFrame:
    """Rows in the order of `t.cells` levels, margins (``Total``) first."""
    keys = []
    for d in t.dims:
        levels = [TOTAL, *pd.unique(t.cells[d].astype("string").dropna())]
        keys.append(pd.Categorical(df[d], categories=list(dict.fromkeys(levels)),
                                   ordered=True))
    order = pd.DataFrame({f"_k{i}": k.codes for i, k in enumerate(keys)})
    pos = order.sort_values(list(order.columns), kind="stable").index
    return df.loc[pos].reset_index(drop=True)
