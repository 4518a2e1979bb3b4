"""Atoms of a study: groups of persons in exactly the same inner cells of every table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import sparse

from kprlink.exceptions import DisclosureError

if TYPE_CHECKING:
    from kprlink.disclosure.joint import StudyTable


def _inner_index(t: StudyTable) -> pd.DataFrame:
    cells = t.cells[list(t.dims)].astype("string").reset_index(drop=True)
    return cells.assign(_inner=np.arange(len(cells)))


def _atoms(tables: Sequence[StudyTable], offsets: list[int], n_inner: int,
           universe: np.ndarray | None) -> tuple[Any, ...]:
    """(atoms x global inner) multiplicities, atom counts, which atoms are persons of the
    universe (all persons without one), and the (persons x global inner) matrix with its
    sorted person ids."""
    problems: list[str] = []
    pid_parts, col_parts = [], []
    own_parts = []
    for t, off in zip(tables, offsets, strict=True):
        idx = _inner_index(t)
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
    pm = sparse.csr_matrix((0, n_inner), dtype=np.int64)
    everyone = np.zeros(0, np.int64)
    n_person_atoms = 0
    uni_parts: list[np.ndarray] = []
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
        # persons of the universe and others (persons only in other tables) never share
        # an atom, so "left out of the universe" counts universe persons only
        inu = (np.isin(everyone, universe) if universe is not None
               else np.ones(len(everyone), dtype=bool))
        keys = np.stack([h1, h2, inu.astype(np.uint64)], axis=1)
        _, first, z = np.unique(keys, axis=0, return_index=True, return_counts=True)
        atoms = pm[first]
        in_universe = inu[first]
        extra = _zero_atoms(atoms, z, tables, offsets)
        blocks.append(sparse.vstack([atoms, extra], format="csr"))
        z_parts.append(np.concatenate([z.astype(np.int64),
                                       np.zeros(extra.shape[0], np.int64)]))
        n_person_atoms = len(z_parts[0])
        uni_parts = [in_universe, np.ones(extra.shape[0], dtype=bool)]
    for off, counts in own_parts:
        k = len(counts)
        blocks.append(sparse.csr_matrix((np.ones(k, dtype=np.int64),
                                         (np.arange(k), off + np.arange(k))),
                                        shape=(k, n_inner)))
        z_parts.append(counts)
    a = sparse.vstack(blocks, format="csr") if blocks else sparse.csr_matrix((0, n_inner))
    z_all = np.concatenate(z_parts) if z_parts else np.zeros(0, np.int64)
    is_person = np.zeros(len(z_all), dtype=bool)
    is_person[:n_person_atoms] = True
    if n_person_atoms:
        is_person[:n_person_atoms] = np.concatenate(uni_parts)
    return a, z_all, is_person, pm, everyone


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
