"""The long event table cohorts consume (``docs/architecture.md``, "Events").

One row per diagnosis code on a KUHR claim or an NPR episode:
``person_id, date, source, system, code, is_main, condition, slot, record_id``
with compact dtypes (categoricals for source/system/code, int64 ids). For KUHR
rows ``condition`` is the code's position on the claim and ``slot`` is 1;
``record_id`` is the claim_id (KUHR) or episode_id (NPR).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from kprlink.codes import CodeList
from kprlink.codes.systems import distinct_codes
from kprlink.exceptions import LinkageError, MissingColumnsError, Problem
from kprlink.sources._arrow_ids import _member  # noqa: F401  (cohorts use it from here)

__all__ = ["EVENT_COLUMNS", "diagnosis_events", "frames_of"]

EVENT_COLUMNS = ["person_id", "date", "source", "system", "code", "is_main", "condition",
                 "slot", "record_id"]
_FIELDS = ("kuhr_claims", "kuhr_diagnoses", "kuhr_fees", "npr_episodes", "npr_diagnoses", "key")
_NEEDS = {"kuhr_claims": ["kpr_id", "claim_id", "date"],
          "kuhr_diagnoses": ["claim_id", "code", "system", "is_main"],
          "npr_episodes": ["npr_id", "episode_id", "date_in"],
          "npr_diagnoses": ["episode_id", "code", "is_main"]}


def frames_of(data: Any) -> dict[str, pd.DataFrame | None]:
    """The canonical frames of a :class:`kprlink.Delivery` or a mapping of them."""
    get = data.get if isinstance(data, Mapping) else (lambda n: getattr(data, n, None))
    frames = {n: get(n) for n in _FIELDS}
    problems, missing = [], []
    for name, cols in _NEEDS.items():
        f = frames[name]
        if f is None:
            continue
        lack = [c for c in cols if c not in f.columns]
        if lack:
            missing += lack
            problems.append(f"{name} lacks {lack}")
    if missing:
        raise MissingColumnsError("cannot build events: frames lack canonical columns",
                                  problems, missing=missing)
    return frames


def _filter_codes(diag: pd.DataFrame, codelists: Iterable[CodeList] | None,
                  systems: pd.Series | None) -> np.ndarray:
    if codelists is None:
        return np.ones(len(diag), dtype=bool)
    # distinct codes once per frame, each list matched on them only
    uniques, idx = distinct_codes(diag["code"])
    distinct = pd.Series(uniques, dtype="object")
    keep = np.zeros(len(diag), dtype=bool)
    for cl in codelists:
        if systems is None and "ICD-10" not in cl.event_systems:
            continue
        ok = np.append(cl.matches(distinct), False)[idx]
        if systems is not None:
            ok &= systems.isin(cl.event_systems).to_numpy(bool)
        keep |= ok
    return keep


def _int64(s: pd.Series) -> np.ndarray:
    """Ids as int64 numpy (canonical ids are never missing where this is used)."""
    return pd.array(s, dtype="Int64", copy=False).to_numpy(np.int64, na_value=-1)


def _positions(ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Row of `ids` (unique) holding each of `wanted`, -1 if none.

    Binary search when `ids` is sorted (claim and episode ids of imported
    frames are); otherwise hashes only the wanted ids and scans `ids` once.
    Never builds an index over millions of rows.
    """
    if not len(ids) or not len(wanted):
        return np.full(len(wanted), -1, dtype=np.int64)
    if bool(np.all(ids[1:] > ids[:-1])):
        pos = np.minimum(np.searchsorted(ids, wanted), len(ids) - 1)
        return np.where(ids[pos] == wanted, pos, -1).astype(np.int64)
    small = pd.Index(pd.unique(wanted))
    at = small.get_indexer(ids)
    row = np.full(len(small), -1, dtype=np.int64)
    hit = np.flatnonzero(at >= 0)
    row[at[hit]] = hit
    return row[small.get_indexer(wanted)]


def _opt(frame: pd.DataFrame, col: str) -> pd.arrays.IntegerArray:
    """An optional small-integer column (all NA where the frame lacks it)."""
    if col in frame:
        return pd.array(frame[col], dtype="Int16")
    return pd.array([pd.NA] * len(frame), dtype="Int16")


def _unmapped(pid: np.ndarray, col: str) -> None:
    n = int((pid < 0).sum())
    if n:
        raise LinkageError(f"`persons` has no person for {n:,} event rows' {col}",
                           [Problem("persons", col, "unmapped_id",
                                    f"{n:,} event rows have a {col} missing from `persons`",
                                    n_rows=n, hint="Link the same frames you build events from.")])


def _empty() -> pd.DataFrame:
    return pd.DataFrame({
        "person_id": pd.Series(dtype="int64"), "date": pd.Series(dtype="datetime64[ns]"),
        "source": pd.Categorical([], categories=["kpr_kuhr", "npr"]),
        "system": pd.Categorical([]), "code": pd.Categorical([]),
        "is_main": pd.Series(dtype="boolean"), "condition": pd.Series(dtype="Int16"),
        "slot": pd.Series(dtype="Int16"), "record_id": pd.Series(dtype="int64")})


def _register_rows(diag: pd.DataFrame, records: pd.DataFrame, rec_col: str, id_col: str,
                   persons: pd.DataFrame, keep: np.ndarray
                   ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Kept diagnosis rows of one register with their record's row and person id.

    Rows whose record is absent are dropped (canonical frames have none: the
    readers exclude and count them); a record whose register id has no person
    raises :class:`LinkageError`.
    """
    d = diag.loc[keep]
    pos = _positions(_int64(records[rec_col]), _int64(d[rec_col]))
    ok = pos >= 0
    d, pos = d.loc[ok], pos[ok]
    pmap = persons.dropna(subset=[id_col]).drop_duplicates(id_col)
    pid = pd.Index(_int64(pmap[id_col])).get_indexer(_int64(records[id_col].iloc[pos]))
    _unmapped(pid, id_col)
    return d, pos, pmap["person_id"].to_numpy(np.int64)[pid]


def diagnosis_events(data: Any, *, persons: pd.DataFrame,
                     codelists: Iterable[CodeList] | None = None) -> pd.DataFrame:
    """Long diagnosis-event table of a delivery, one row per code.

    Parameters
    ----------
    data : Delivery or mapping
        Canonical frames (``kuhr_claims``, ``kuhr_diagnoses``, ``npr_episodes``,
        ``npr_diagnoses``); missing frames contribute no events. Not modified.
    persons : pandas.DataFrame
        Person map with ``person_id, kpr_id, npr_id`` (``LinkageResult.persons``).
    codelists : iterable of CodeList, optional
        Keep only codes matched by one of these lists (matched once per distinct
        code, before any join, so large deliveries stay cheap).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`EVENT_COLUMNS`; ``date`` is the claim date (KUHR) or
        ``date_in`` (NPR). Rows whose record has no date or person are not
        possible in canonical frames (readers drop them and count them).

    Raises
    ------
    MissingColumnsError
        If a frame lacks a canonical column.
    """
    frames = frames_of(data)
    codelists = None if codelists is None else list(codelists)
    parts = []
    claims, kd = frames["kuhr_claims"], frames["kuhr_diagnoses"]
    if claims is not None and kd is not None and len(kd):
        d, pos, pid = _register_rows(kd, claims, "claim_id", "kpr_id", persons,
                                     _filter_codes(kd, codelists, kd["system"]))
        parts.append(pd.DataFrame({
            "person_id": pid, "date": claims["date"].to_numpy()[pos], "source": "kpr_kuhr",
            "system": d["system"].astype("string").to_numpy(), "code": d["code"].to_numpy(),
            "is_main": d["is_main"].to_numpy(), "condition": _opt(d, "position"),
            "slot": pd.array(np.ones(len(d), np.int16), dtype="Int16"),
            "record_id": d["claim_id"].to_numpy(np.int64)}))
    eps, nd = frames["npr_episodes"], frames["npr_diagnoses"]
    if eps is not None and nd is not None and len(nd):
        d, pos, pid = _register_rows(nd, eps, "episode_id", "npr_id", persons,
                                     _filter_codes(nd, codelists, None))
        parts.append(pd.DataFrame({
            "person_id": pid, "date": eps["date_in"].to_numpy()[pos], "source": "npr",
            "system": "ICD-10", "code": d["code"].to_numpy(), "is_main": d["is_main"].to_numpy(),
            "condition": _opt(d, "condition"), "slot": _opt(d, "slot"),
            "record_id": d["episode_id"].to_numpy(np.int64)}))
    parts = [p for p in parts if len(p)]
    if not parts:
        return _empty()
    ev = pd.concat(parts, ignore_index=True)
    ev["is_main"] = pd.array(ev["is_main"], dtype="boolean")
    for c in ("source", "system", "code"):
        ev[c] = ev[c].astype("category")
    return ev[EVENT_COLUMNS]
