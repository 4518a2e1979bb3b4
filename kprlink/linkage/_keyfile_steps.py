"""Steps of :func:`kprlink.linkage.link_extracts` after the key is resolved."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd


_NAT = np.iinfo(np.int64).min


class _Ids:
    """One register's ids factorised once: sorted distinct ids and each row's position.

    Every per-person figure (mode of sex, earliest death, unlinked rows) is then
    an array over the distinct ids, taken back to rows with ``code``; no pandas
    group-by re-hashes the millions of row ids again.
    """

    def __init__(self, s: pd.Series) -> None:
        arr = pd.array(s, dtype="Int64", copy=False)
        na = np.asarray(arr.isna())
        any_na = bool(na.any())
        v = arr.to_numpy(np.int64, na_value=0)
        ok = v[~na] if any_na else v
        if len(ok) and int(ok.max()) - int(ok.min()) <= max(4 * len(v), 1 << 20):
            # dense pseudonyms (register serial numbers): a seen-table, no hashing
            lo = int(ok.min())
            rel = np.where(na, 0, v - lo) if any_na else v - lo
            seen = np.zeros(int(ok.max()) - lo + 1, dtype=bool)
            seen[rel] = True
            if any_na:
                seen[0] = bool((rel[~na] == 0).any())
            self.ids = np.flatnonzero(seen).astype(np.int64, copy=False) + lo
            self.code = (np.cumsum(seen, dtype=np.int64) - 1)[rel]
            if any_na:
                self.code[na] = -1
            return
        codes, uniq = pd.factorize(arr)
        values = np.asarray(uniq.to_numpy(np.int64), dtype=np.int64)
        order = np.argsort(values, kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order), dtype=np.int64)
        codes = np.asarray(codes, dtype=np.int64)
        #: sorted distinct non-missing ids
        self.ids = values[order]
        #: per row: position in ``ids`` (-1 where the id is missing)
        self.code = np.where(codes >= 0, rank[np.maximum(codes, 0)] if len(rank) else -1, -1)

    def find(self, query: pd.Series) -> np.ndarray:
        """Position of each (nullable) id of `query` in ``ids``; -1 where absent or NA."""
        arr = pd.array(query, dtype="Int64", copy=False)
        q = arr.to_numpy(np.int64, na_value=0)
        pos = np.searchsorted(self.ids, q)
        pos = np.minimum(pos, max(len(self.ids) - 1, 0))
        hit = (~np.asarray(arr.isna())) & (len(self.ids) > 0)
        if len(self.ids):
            hit &= self.ids[pos] == q
        return np.where(hit, pos, -1)


def _isin(values: np.ndarray, test: np.ndarray) -> np.ndarray:
    """Hash-based membership test (np.isin sorts both arrays)."""
    index = pd.Index(test)
    if index.is_unique:
        return np.asarray(index.get_indexer(values) >= 0)
    return pd.Series(values).isin(test).to_numpy(bool)


def _year(frame: pd.DataFrame, date_col: str) -> np.ndarray:
    if "year" in frame:
        return pd.array(frame["year"], dtype="Int64", copy=False).to_numpy(np.int64,
                                                                            na_value=-1)
    return frame[date_col].dt.year.fillna(-1).to_numpy(np.int64)


def _small_ints(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values (years) and each row's position among them."""
    if not len(values):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    lo = int(values.min())
    rel = values - lo
    if int(rel.max()) > 1_000_000:
        u, inv = np.unique(values, return_inverse=True)
        return u.astype(np.int64), inv.astype(np.int64)
    present = np.bincount(rel) > 0
    rank = np.cumsum(present) - 1
    return np.flatnonzero(present).astype(np.int64) + lo, rank[rel].astype(np.int64)


def _count_mode(c: np.ndarray, v: np.ndarray, res: np.ndarray, has: np.ndarray) -> None:
    """Set ``res[id]`` to the most frequent `v` per id code `c` (ties: smallest)."""
    vmin = int(v.min())
    span = int(v.max()) - vmin + 1
    if span * (int(c.max()) + 1) < 2**62:
        key, cnt = np.unique(c * span + (v - vmin), return_counts=True)
        pc, pv = key // span, key % span + vmin
    else:  # values too spread to pack beside the id: sort the pairs
        o = np.lexsort((v, c))
        c, v = c[o], v[o]
        start = np.flatnonzero(np.r_[True, (c[1:] != c[:-1]) | (v[1:] != v[:-1])])
        pc, pv = c[start], v[start]
        cnt = np.diff(np.r_[start, len(c)])
    o = np.lexsort((pv, -cnt, pc))
    first = o[np.r_[True, pc[o][1:] != pc[o][:-1]]]
    res[pc[first]] = pv[first]
    has[pc[first]] = True


def _persons_per_year(codes: np.ndarray, years: np.ndarray, n: int, n_years: int
                      ) -> np.ndarray:
    """Distinct codes per year position (``years`` in ``0..n_years-1``)."""
    if n * n_years <= 200_000_000:
        seen = np.zeros((n, max(n_years, 1)), dtype=bool)
        seen[codes, years] = True
        return seen.sum(axis=0)[:n_years].astype(np.int64)
    pairs = np.unique(codes * n_years + years)
    return np.bincount(pairs % n_years, minlength=n_years).astype(np.int64)


def _ints(values: object) -> tuple[np.ndarray, np.ndarray]:
    """int64 values and missing mask of a nullable integer column (no Int64 copy)."""
    arr = values.array if isinstance(values, pd.Series) else values
    if not isinstance(arr, pd.arrays.IntegerArray):
        arr = pd.array(arr, dtype="Int64")
    return arr.to_numpy(np.int64, na_value=0), np.asarray(arr.isna())


def _mode(ids: _Ids, values: tuple[np.ndarray, np.ndarray]) -> pd.arrays.IntegerArray:
    """Most frequent non-missing value per distinct id (ties: smallest value); NA if none.

    `values` is ``(int64 values, missing mask)`` per row (see :func:`_ints`).
    """
    n = len(ids.ids)
    ok = (ids.code >= 0) & ~values[1]
    res, has = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
    if ok.any():
        c, v = ids.code[ok], values[0][ok]
        lo = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        hi = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
        np.minimum.at(lo, c, v)
        np.maximum.at(hi, c, v)
        has = lo <= hi
        res[has] = lo[has]
        several = has & (lo != hi)  # only these ids need counting
        keep = several[c]
        c, v = c[keep], v[keep]
        if len(c):
            _count_mode(c, v, res, has)
    return pd.arrays.IntegerArray(res, ~has)


def _values(frame: pd.DataFrame, var: str, kpr: bool
            ) -> tuple[np.ndarray, np.ndarray] | None:
    """Per row, ``(int64 values, missing mask)`` of `var` as the linkage reads it (KPR's
    sex: FHI's corrected sex where delivered, else sex); None without the column."""
    if var == "sex" and kpr:
        if "sex" not in frame and "sex_corrected" not in frame:
            return None
        sex = (_ints(frame["sex"]) if "sex" in frame
               else (np.zeros(len(frame), dtype=np.int64), np.ones(len(frame), dtype=bool)))
        if "sex_corrected" in frame:
            corr, miss = _ints(frame["sex_corrected"])
            sex = (np.where(miss, sex[0], corr), miss & sex[1])
        return sex
    return _ints(frame[var]) if var in frame else None


class FrameSide:
    """One register's rows, whole: what :func:`assemble` asks of a register.

    A partitioned delivery answers the same questions from its partitions
    (``kprlink.linkage._link_parts``).
    """

    def __init__(self, frame: pd.DataFrame, id_col: str, date_col: str, kpr: bool) -> None:
        self.frame, self.date_col, self.kpr = frame, date_col, kpr
        self._ids = _Ids(frame[id_col])
        #: sorted distinct ids, and the number of rows
        self.ids, self.n_rows = self._ids.ids, len(frame)

    def find(self, query: pd.Series) -> np.ndarray:
        """Position of each id of `query` in ``ids`` (-1 where absent or NA)."""
        return self._ids.find(query)

    def mode(self, var: str) -> pd.arrays.IntegerArray | None:
        """Most frequent value of `var` per id (None without the column)."""
        vals = _values(self.frame, var, self.kpr)
        return None if vals is None else _mode(self._ids, vals)

    def death(self) -> np.ndarray:
        """Earliest death date per id (int64 ns, ``_NAT`` if none)."""
        return _death(self.frame, self._ids)

    def rows(self, died: np.ndarray, partnered: np.ndarray,
             coverage: tuple[str | None, str | None]) -> dict[str, object]:
        """Row figures (see :func:`row_part`), reduced (:func:`reduce_rows`)."""
        return reduce_rows([row_part(self.frame, self.date_col, self._ids.code,
                                     len(self.ids), died, partnered, coverage)])


def row_part(frame: pd.DataFrame, date_col: str, code: np.ndarray, n: int,
             died: np.ndarray, partnered: np.ndarray,
             coverage: tuple[str | None, str | None],
             merged: np.ndarray | None = None, split: np.ndarray | None = None
             ) -> dict[str, object]:
    """Row figures of `frame` (each row's id at ``code`` among `n` ids; -1: missing).

    `died` (int64 ns) and `partnered` are per id: the person's earliest death and
    whether the id has a partner in the resolved key. Where ids of several parts are
    one person (`merged`: each id's person code, `split`: persons whose ids lie in
    several parts), the persons counted per year for split persons come back as
    ``(person, year)`` pairs, counted once by :func:`reduce_rows`.
    """
    dates = frame[date_col].to_numpy("datetime64[ns]")
    d_ns = dates.view(np.int64)
    ok = code >= 0
    at = np.maximum(code, 0)
    row_died = np.where(ok, died[at] if len(died) else _NAT, _NAT)
    late = (row_died != _NAT) & ~np.isnat(dates) & (d_ns > row_died)
    person = code if merged is None else np.where(ok, merged[at] if len(merged) else -1, -1)
    start, end = coverage
    out_cov = np.zeros(len(frame), dtype=bool)
    if start is not None:
        out_cov |= ~np.isnat(dates) & (dates < np.datetime64(pd.Timestamp(start), "ns"))
    if end is not None:
        out_cov |= ~np.isnat(dates) & (dates > np.datetime64(pd.Timestamp(end), "ns"))
    no_partner = np.where(ok, ~partnered[at] if len(partnered) else True, True)
    years, y = _small_ints(_year(frame, date_col))
    n_years = len(years)
    sel = no_partner & ok
    pairs = np.zeros(0, dtype=np.int64)
    if split is not None and len(split):
        apart = sel & split[at]
        pairs = np.unique(person[apart] * (1 << 16) + (years[y[apart]] - _Y0))
        sel &= ~apart
    return {"n_late": int(late.sum()), "late": np.unique(person[late]),
            "n_outside": int(out_cov.sum()), "years": years.astype(np.int64),
            "n_rows": np.bincount(y, minlength=n_years).astype(np.int64),
            "n_rows_unlinked": np.bincount(y, weights=no_partner, minlength=n_years)
            .astype(np.int64),
            "n_persons_unlinked": _persons_per_year(code[sel], y[sel], n, n_years),
            "split_pairs": pairs}


#: years are packed beside a person code as ``year - _Y0`` (16 bits)
_Y0 = -(1 << 15)


def reduce_rows(parts: list[dict[str, object]]) -> dict[str, object]:
    """The row figures of several parts (:func:`row_part`) as of one frame."""
    years = np.unique(np.concatenate([np.zeros(0, np.int64)]
                                     + [p["years"] for p in parts]))  # type: ignore[misc]
    out = {"n_late": sum(int(p["n_late"]) for p in parts),  # type: ignore[call-overload]
           "n_late_persons": len(np.unique(np.concatenate(
               [np.zeros(0, np.int64)] + [p["late"] for p in parts]))),  # type: ignore[misc]
           "n_outside": sum(int(p["n_outside"]) for p in parts),  # type: ignore[call-overload]
           "years": years}
    for c in ("n_rows", "n_rows_unlinked", "n_persons_unlinked"):
        total = np.zeros(len(years), dtype=np.int64)
        for p in parts:
            total[np.searchsorted(years, p["years"])] += p[c]  # type: ignore[arg-type,index]
        out[c] = total
    pairs = np.unique(np.concatenate([np.zeros(0, np.int64)]
                                     + [p["split_pairs"] for p in parts]))  # type: ignore[misc]
    if len(pairs):
        y = pairs % (1 << 16) + _Y0
        np.add.at(out["n_persons_unlinked"], np.searchsorted(years, y), 1)  # type: ignore[arg-type]
    return out


def _demography(npr: FrameSide, kpr: FrameSide, persons: pd.DataFrame
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    out = persons.copy()
    pos_k, pos_n = kpr.find(out["kpr_id"]), npr.find(out["npr_id"])
    conflicts = []
    for var in ("sex", "birth_year"):
        m_k, m_n = kpr.mode(var), npr.mode(var)
        v_k = _taken(m_k, pos_k) if m_k is not None else _na(len(out))
        v_n = _taken(m_n, pos_n) if m_n is not None else _na(len(out))
        clash = np.asarray((v_k != v_n).fillna(False), dtype=bool)
        out[var] = v_k.fillna(v_n) if len(v_k) else v_k
        out[f"{var}_conflict"] = clash
        conflicts.append(pd.DataFrame({
            "person_id": out["person_id"].to_numpy()[clash], "variable": var,
            "value_kpr": v_k[clash], "value_npr": v_n[clash], "resolved": v_k[clash],
            "rule": "KPR value (National Population Register based) wins"}))
    dc = pd.concat(conflicts, ignore_index=True)
    return out, dc


def _na(n: int) -> pd.arrays.IntegerArray:
    return pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool))


def _taken(per_id: pd.arrays.IntegerArray, pos: np.ndarray) -> pd.arrays.IntegerArray:
    """``per_id`` at positions `pos` (NA where -1)."""
    if not len(per_id):
        return _na(len(pos))
    got = per_id.take(np.maximum(pos, 0))
    return pd.arrays.IntegerArray(got.to_numpy(np.int64, na_value=0),
                                  np.asarray(got.isna()) | (pos < 0))


def _death(frame: pd.DataFrame, ids: _Ids) -> np.ndarray:
    """Earliest death date per distinct id, as int64 nanoseconds (``_NAT`` if none)."""
    res = np.full(len(ids.ids), np.iinfo(np.int64).max, dtype=np.int64)
    if "death_date" in frame:
        d = frame["death_date"].to_numpy("datetime64[ns]")
        ok = ~np.isnat(d) & (ids.code >= 0)
        np.minimum.at(res, ids.code[ok], d[ok].view(np.int64))
    res[res == np.iinfo(np.int64).max] = _NAT
    return res


def assemble(npr: FrameSide, kpr: FrameSide, pairs: pd.DataFrame, kc: pd.DataFrame,
             n_key_rows: int, *, coverage: Mapping[str, tuple[str | None, str | None]]
             ) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Person table and report frames from the two registers (:class:`FrameSide`, or
    a partitioned delivery's sides answering the same questions)."""
    npr_ids, kpr_ids = npr.ids, kpr.ids
    p_npr, p_kpr = pairs["npr_id"].to_numpy(np.int64), pairs["kpr_id"].to_numpy(np.int64)
    use = _isin(p_npr, npr_ids) | _isin(p_kpr, kpr_ids)
    npr_only = npr_ids[~_isin(npr_ids, p_npr)]  # sorted distinct, as setdiff1d
    kpr_only = kpr_ids[~_isin(kpr_ids, p_kpr)]
    persons = pd.DataFrame({
        "kpr_id": pd.array(np.concatenate([p_kpr[use], np.zeros(len(npr_only), np.int64),
                                           kpr_only]), dtype="Int64"),
        "npr_id": pd.array(np.concatenate([p_npr[use], npr_only,
                                           np.zeros(len(kpr_only), np.int64)]), dtype="Int64"),
    })
    n_pairs = int(use.sum())
    persons.loc[n_pairs:n_pairs + len(npr_only) - 1, "kpr_id"] = pd.NA
    persons.loc[n_pairs + len(npr_only):, "npr_id"] = pd.NA
    persons = persons.sort_values(["kpr_id", "npr_id"], na_position="last",
                                  kind="stable").reset_index(drop=True)
    persons.insert(0, "person_id", np.arange(1, len(persons) + 1, dtype=np.int64))
    persons["in_kpr"] = persons["kpr_id"].isin(kpr_ids).to_numpy(bool)
    persons["in_npr"] = persons["npr_id"].isin(npr_ids).to_numpy(bool)
    persons["linked"] = (persons["kpr_id"].notna() & persons["npr_id"].notna()).to_numpy(bool)
    persons["status"] = np.where(persons["linked"], "linked",
                                 np.where(persons["kpr_id"].isna(), "npr_only", "kpr_only"))
    conflict_npr = kc.loc[kc["side"] == "npr_id", "id"].to_numpy(np.int64)
    conflict_kpr = kc.loc[kc["side"] == "kpr_id", "id"].to_numpy(np.int64)
    losers = [n for ps in kc.loc[kc["side"] == "kpr_id", "partners"] for n in ps]
    conflict_npr = np.concatenate([conflict_npr, np.asarray(losers, dtype=np.int64)])
    persons["key_conflict"] = (persons["npr_id"].isin(conflict_npr)
                               | persons["kpr_id"].isin(conflict_kpr)).to_numpy(bool)
    persons, dc = _demography(npr, kpr, persons)
    pos = {"kpr_id": kpr.find(persons["kpr_id"]), "npr_id": npr.find(persons["npr_id"])}
    death = {"kpr_id": kpr.death(), "npr_id": npr.death()}
    both = [np.where(p >= 0, death[c][np.maximum(p, 0)] if len(death[c]) else _NAT, _NAT)
            .view("datetime64[ns]") for c, p in pos.items()]
    persons["death_date"] = pd.to_datetime(np.fmin(*both))
    person_death = persons["death_date"].to_numpy("datetime64[ns]").view(np.int64)

    # events after death and outside coverage
    after, outside, unlinked = [], [], []
    for source, side, id_col, partners in (("npr", npr, "npr_id", p_npr),
                                           ("kpr_kuhr", kpr, "kpr_id", p_kpr)):
        # each distinct id's person (every id of the frame is a person's id)
        p_of = np.full(len(side.ids), -1, dtype=np.int64)
        has = pos[id_col] >= 0
        p_of[pos[id_col][has]] = np.flatnonzero(has)
        died = np.where(p_of >= 0, person_death[np.maximum(p_of, 0)]
                        if len(person_death) else _NAT, _NAT)
        start, end = coverage.get(source, (None, None))
        r = side.rows(died, _isin(side.ids, partners), (start, end))
        after.append((source, r["n_late"], r["n_late_persons"]))
        outside.append((source, start, end, r["n_outside"]))
        unlinked.append(pd.DataFrame({
            "source": source, "year": r["years"], "n_rows": r["n_rows"],
            "n_rows_unlinked": r["n_rows_unlinked"],
            "n_persons_unlinked": r["n_persons_unlinked"]}))
    flow = pd.DataFrame([
        ("NPR rows", npr.n_rows), ("NPR persons", len(npr_ids)),
        ("KPR rows", kpr.n_rows), ("KPR persons", len(kpr_ids)),
        ("key rows", n_key_rows), ("key pairs after conflict resolution", len(pairs)),
        ("key ids with more than one partner", len(kc)),
        ("NPR persons found in key", int(_isin(npr_ids, p_npr).sum())),
        ("NPR persons not in key (NPR-only)", len(npr_only)),
        ("KPR persons with an NPR partner in key", int(_isin(kpr_ids, p_kpr).sum())),
        ("KPR persons without NPR partner (KPR-only)", len(kpr_only)),
        ("persons with rows in both registers",
         int((persons["in_kpr"] & persons["in_npr"]).sum())),
        ("persons in total", len(persons)),
    ], columns=["step", "n"])
    report = {
        "flow": flow,
        "unlinked_by_year": pd.concat(unlinked, ignore_index=True),
        "key_conflicts": kc,
        "demographic_conflicts": dc,
        "events_after_death": pd.DataFrame(after, columns=["source", "n_rows", "n_persons"]),
        "outside_coverage": pd.DataFrame(outside, columns=["source", "coverage_start",
                                                           "coverage_end", "n_rows"]),
    }
    return persons, report
