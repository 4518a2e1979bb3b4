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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from kprlink.disclosure._atoms import _atoms
from kprlink.disclosure._joint_audit import joint_intervals
from kprlink.disclosure._model import TOTAL, build_model
from kprlink.disclosure._prior import PRIOR, PriorRelease, difference_rows, prior_table
from kprlink.disclosure._values import protect_values
from kprlink.disclosure._gauss import gauss_secondary
from kprlink.disclosure.rules import SuppressionRule
from kprlink.disclosure.secondary import candidate_order, model_matrix, singleton_sums
from kprlink.exceptions import DisclosureError

__all__ = ["JointResult", "PriorRelease", "StudyTable", "protect_study"]

#: Reason written for a cell few persons contribute to (events, stays, contacts).
CONTRIBUTORS = "contributors<={}"
#: Reason written for a cell counting more persons than its published population.
EXCEEDS = "count_exceeds_denominator"


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
    published: pd.DataFrame | None = None
    members: pd.DataFrame | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def protect_study(tables: Sequence[StudyTable], rule: SuppressionRule, *,
                  universe: Sequence[int] | np.ndarray | None = None,
                  prior: PriorRelease | None = None,
                  audit: bool = True, max_repairs: int = 10,
                  variants: Mapping[str, str] | None = None) -> JointResult:
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
    prior : PriorRelease, optional
        Numbers earlier releases from the same delivery published (the release
        ledger): public already, audited with the new tables; a new cell that
        differs from the earlier one with the same label by ``1..max_n`` persons
        is protected as a difference.
    audit : bool, default True
        Run the joint LP/MILP audit; cells it finds too narrow get neighbours
        suppressed (at most `max_repairs` rounds).
    variants : mapping of str to str, optional
        Variant table name -> base table name: the same table on a nested
        population (a cohort without model links, a sensitivity analysis). A
        variant cell whose persons differ from the base cell with the same
        labels by ``1..max_n`` persons (either way) is protected as a
        difference, as for earlier releases.

    The result's ``published`` and ``members`` list every published number of
    tables with person rows and the persons it counts (for the ledger).

    Examples
    --------
    >>> persons = pd.DataFrame({"person_id": range(10),
    ...                         "age": ["0-64"] * 3 + ["65+"] * 7})
    >>> t = StudyTable("t", pd.DataFrame({"age": ["0-64", "65+"], "n": [3, 7]}),
    ...                ("age",), persons=persons)
    >>> res = protect_study([t], SuppressionRule(max_n=4, protect_zeros=False))
    >>> res.tables["t"]["status"].tolist()
    ['published', 'primary', 'secondary']
    """
    names = [t.name for t in tables]
    if len(set(names)) != len(names) or PRIOR in names:
        raise DisclosureError(f"table names must be unique, got {names}.")
    n_current = len(tables)
    if prior is not None and len(prior.cells):
        pc, pp = prior_table(prior)
        tables = [*tables, StudyTable(PRIOR, pc, ("_cell",), persons=pp)]
    models, offsets, n_inner = [], [], 0
    for t in tables:
        inner = t.cells[[*t.dims, t.count_col]].astype({d: "string" for d in t.dims})
        models.append(build_model(inner.reset_index(drop=True), t.dims,
                                  where=f"table {t.name!r}"))
        offsets.append(n_inner)
        n_inner += len(inner)
    uni = None if universe is None else np.unique(np.asarray(universe, dtype=np.int64))
    a, z, is_person, pm_persons, everyone = _atoms(tables, offsets, n_inner, uni)
    # published cells: (cells x global inner), then over atoms
    mms = [model_matrix(mod) for mod in models]
    starts = np.cumsum([0] + [len(m.cells) for m in models])
    m_blocks = []
    for mm, off in zip((m.tocoo() for m in mms), offsets, strict=True):
        m_blocks.append(sparse.csr_matrix((mm.data, (mm.row, mm.col + off)),
                                          shape=(mm.shape[0], n_inner)))
    cell_inner = sparse.vstack(m_blocks, format="csr")
    x = (cell_inner @ a.T).tocsr()
    has_persons = [t.persons is not None for t in tables]
    left_rows = []
    if uni is not None:
        for k, (t, off) in enumerate(zip(tables, offsets, strict=True)):
            if not has_persons[k] or t.name == PRIOR:
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
    for t, mod, mm, cell_off in zip(tables, models, mms, starts, strict=False):
        if t.population is not None:
            dims = list(t.dims)
            p = t.cells[dims].astype("string").merge(
                t.population[[*dims, "population"]].astype({d: "string" for d in dims}),
                on=dims, how="left")["population"].to_numpy(dtype=float)
            known = mm @ np.isnan(p).astype(float) == 0
            pop[cell_off:cell_off + len(mod.cells)] = np.where(known, mm @ np.nan_to_num(p, nan=0.0),
                                                   np.nan)
            inner_rows = cell_off + mod.inner_cell
            ok = ~np.isnan(p)
            bound_rows.append(inner_rows[ok])
            bound_vals.append(p[ok])
    primary, reason = rule.primary(values, denominators=pop)
    few = (contributors >= 1) & (contributors <= rule.max_n) & ~primary
    primary = primary | few
    reason = np.where(few, CONTRIBUTORS.format(rule.max_n), reason)
    # more persons than the population (residence at the event vs on 1 January):
    # no valid share, and the published population is no bound on it
    exceed = ~np.isnan(pop) & (values > np.nan_to_num(pop, nan=np.inf)) & ~primary
    primary = primary | exceed
    reason = np.where(exceed, EXCEEDS, reason)
    labels = [f"{t.name}: " + "; ".join(f"{d}={v}" for d, v in zip(t.dims, r, strict=True))
              for t, mod in zip(tables, models, strict=True)
              for r in mod.cells[list(t.dims)].astype("string").itertuples(index=False)]
    labels += [f"{name}: left out" for name, _ in left_rows]
    is_prior = np.zeros(x.shape[0], dtype=bool)
    diff_rows: list[sparse.csr_matrix] = []
    diff_names: list[str] = []
    if len(tables) > n_current:  # earlier releases: public, never suppressed
        is_prior[starts[n_current]:starts[n_current + 1]] = True
        primary[is_prior] = False
        pmod = models[n_current]
        prior_rows = starts[n_current] + pmod.inner_cell
        diff_rows, diff_names = difference_rows(
            x, z, labels, prior_rows, prior.cells["label"].astype(str).tolist(),  # type: ignore[union-attr]
            rule.max_n)
    for vname, base in (variants or {}).items():
        if vname not in names[:n_current] or base not in names[:n_current]:
            raise DisclosureError(f"variants: {vname!r} -> {base!r} names a table not in "
                                  f"{names[:n_current]}.")
        k = names.index(vname)
        rows = [*range(starts[k], starts[k + 1]),
                *(n_cells + j for j, (name, _) in enumerate(left_rows) if name == vname)]
        v_rows, v_names = difference_rows(
            x, z, labels, np.asarray(rows, np.int64),
            [labels[r].replace(f"{vname}: ", f"{base}: ", 1) for r in rows], rule.max_n,
            against=f"variant {vname!r}", sides=("in the base, not the variant",
                                                  "in the variant, not the base"))
        diff_rows += v_rows
        diff_names += v_names
    virtual: list[np.ndarray] = []
    vweights: list[np.ndarray] = []
    if rule.singletons:
        for mod, off, s0, s1 in zip(models, offsets, starts[:-1], starts[1:], strict=True):
            for sel in singleton_sums(mod, values[s0:s1], primary[s0:s1], rule):
                row = sparse.csr_matrix(a[:, off + sel].sum(axis=1).T)
                virtual.append(row.indices)
                vweights.append(row.data.astype(np.int64))
    for d in diff_rows:
        virtual.append(d.indices)
        vweights.append(d.data.astype(np.int64))
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
                                    order=order, virtual=virtual, weights=weights,
                                    published=np.flatnonzero(is_prior))
        hidden = primary | forced | secondary
        if not audit:
            intervals = None
            break
        xa = sparse.vstack([x, *diff_rows], format="csr") if diff_rows else x
        ha = np.concatenate([hidden, np.ones(len(diff_rows), dtype=bool)])
        intervals = joint_intervals(xa, z, ha, bound_rows=b_rows, bound_values=b_vals,
                                    min_width=rule.min_width, integer=True, exact=False)
        bad = intervals.index[~intervals["ok"].to_numpy()]
        if not len(bad) or n_repairs >= max_repairs:
            break
        n_repairs += 1
        # hide, for each too-narrow cell, the smallest published cell sharing its atoms
        pub = ~hidden & ~is_prior
        added = 0
        for c in bad:
            near = np.flatnonzero(pub & (x @ (xa.getrow(c).T.toarray().ravel() > 0) > 0))
            if len(near):
                pick = near[np.argmin(values[near])]
                forced[pick] = True
                pub[pick] = False
                added += 1
        if not added:
            break
    status = np.where(primary, "primary", np.where(hidden, "secondary", "published"))
    reason = np.where(primary, reason, np.where(hidden, "secondary", ""))
    lower = np.full(x.shape[0] + len(diff_rows), np.nan)
    upper = np.full(x.shape[0] + len(diff_rows), np.nan)
    labels += diff_names
    problems = []
    if intervals is not None:
        lower[intervals.index] = intervals["lower"].to_numpy()
        upper[intervals.index] = intervals["upper"].to_numpy()
    out = {}
    for t, mod, s0, s1 in zip(tables[:n_current], models, starts[:-1], starts[1:],
                              strict=False):
        s = slice(s0, s1)
        df = mod.cells[list(t.dims)].astype("string").reset_index(drop=True)
        df[t.count_col] = pd.array(values[s], dtype="Int64")
        if t.population is not None:
            df["population"] = pd.array(pop[s], dtype="Float64").round().astype("Int64")
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
                if not rule.protect_zeros:  # a value known to be 0 (no events) is no secret
                    narrow &= ~(v["upper"] <= 1e-9)
                problems += [f"{t.name}: {col} of " + "; ".join(
                    f"{d}={df.at[i, d]}" for d in t.dims) + " interval too narrow"
                    for i in np.flatnonzero(narrow.to_numpy())]
        out[t.name] = _display_order(df, t)
    left_out = {}
    for j, (name, _) in enumerate(left_rows):
        c = n_cells + j
        left_out[name] = {"n": int(values[c]), "status": str(status[c]),
                          "reason": str(reason[c]), "lower": float(lower[c]),
                          "upper": float(upper[c])}
    if intervals is not None:
        for c in intervals.index[~intervals["ok"].to_numpy()]:
            problems.append(f"{labels[c]}: interval [{lower[c]:g}, {upper[c]:g}] narrower "
                            f"than {rule.min_width:g}")
    # what this run publishes, with the persons each number counts (the ledger's entry)
    own = np.zeros(x.shape[0], dtype=bool)
    for k, t in enumerate(tables[:n_current]):
        own[starts[k]:starts[k + 1]] = t.persons is not None
    pub_rows = np.flatnonzero(own & (status == "published"))
    mem = (cell_inner[pub_rows] @ pm_persons.T).tocoo()
    published = pd.DataFrame({"label": [labels[i] for i in pub_rows],
                              "value": values[pub_rows].astype(np.int64)})
    members = pd.DataFrame({"cell": mem.row.astype(np.int64),
                            "person_id": everyone[mem.col].astype(np.int64),
                            "weight": mem.data.astype(np.int64)})
    return JointResult(tables=out, left_out=left_out, n_atoms=len(z), n_repairs=n_repairs,
                       problems=problems, published=published, members=members)


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
