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


def _n_distinct(codes: np.ndarray, n: int) -> int:
    """Number of distinct codes among `codes` (each in ``0..n-1``)."""
    seen = np.zeros(n, dtype=bool)
    seen[codes] = True
    return int(seen.sum())


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


def _demography(npr: pd.DataFrame, kpr: pd.DataFrame, persons: pd.DataFrame,
                n_ids: _Ids, k_ids: _Ids) -> tuple[pd.DataFrame, pd.DataFrame]:
    out = persons.copy()
    pos_k, pos_n = k_ids.find(out["kpr_id"]), n_ids.find(out["npr_id"])
    kpr_vals: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if "birth_year" in kpr:
        kpr_vals["birth_year"] = _ints(kpr["birth_year"])
    if "sex" in kpr or "sex_corrected" in kpr:
        sex = (_ints(kpr["sex"]) if "sex" in kpr
               else (np.zeros(len(kpr), dtype=np.int64), np.ones(len(kpr), dtype=bool)))
        if "sex_corrected" in kpr:  # FHI's corrected sex where delivered, else sex
            corr, miss = _ints(kpr["sex_corrected"])
            sex = (np.where(miss, sex[0], corr), miss & sex[1])
        kpr_vals["sex"] = sex
    conflicts = []
    for var in ("sex", "birth_year"):
        v_k = _taken(_mode(k_ids, kpr_vals[var]), pos_k) if var in kpr_vals else _na(len(out))
        v_n = _taken(_mode(n_ids, _ints(npr[var])), pos_n) if var in npr else _na(len(out))
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


def assemble(npr: pd.DataFrame, kpr: pd.DataFrame, pairs: pd.DataFrame, kc: pd.DataFrame,
             n_key_rows: int, *, coverage: Mapping[str, tuple[str | None, str | None]]
             ) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Person table and report frames."""
    n_ids, k_ids = _Ids(npr["npr_id"]), _Ids(kpr["kpr_id"])
    npr_ids, kpr_ids = n_ids.ids, k_ids.ids
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
    persons, dc = _demography(npr, kpr, persons, n_ids, k_ids)
    pos = {"kpr_id": k_ids.find(persons["kpr_id"]), "npr_id": n_ids.find(persons["npr_id"])}
    death = {"kpr_id": _death(kpr, k_ids), "npr_id": _death(npr, n_ids)}
    both = [np.where(p >= 0, death[c][np.maximum(p, 0)] if len(death[c]) else _NAT, _NAT)
            .view("datetime64[ns]") for c, p in pos.items()]
    persons["death_date"] = pd.to_datetime(np.fmin(*both))
    person_death = persons["death_date"].to_numpy("datetime64[ns]").view(np.int64)

    # events after death and outside coverage
    after, outside, unlinked = [], [], []
    for source, frame, id_col, date_col, partners, ids in (
            ("npr", npr, "npr_id", "date_in", p_npr, n_ids),
            ("kpr_kuhr", kpr, "kpr_id", "date", p_kpr, k_ids)):
        # each distinct id's person (every id of the frame is a person's id)
        p_of = np.full(len(ids.ids), -1, dtype=np.int64)
        has = pos[id_col] >= 0
        p_of[pos[id_col][has]] = np.flatnonzero(has)
        row_p = np.where(ids.code >= 0, p_of[np.maximum(ids.code, 0)] if len(p_of) else -1, -1)
        dates = frame[date_col].to_numpy("datetime64[ns]")
        d_ns = dates.view(np.int64)
        died = np.where(row_p >= 0, person_death[np.maximum(row_p, 0)]
                        if len(person_death) else _NAT, _NAT)
        late = (died != _NAT) & ~np.isnat(dates) & (d_ns > died)
        after.append((source, int(late.sum()), _n_distinct(ids.code[late], len(ids.ids))))
        start, end = coverage.get(source, (None, None))
        out_cov = np.zeros(len(frame), dtype=bool)
        if start is not None:
            out_cov |= ~np.isnat(dates) & (dates < np.datetime64(pd.Timestamp(start), "ns"))
        if end is not None:
            out_cov |= ~np.isnat(dates) & (dates > np.datetime64(pd.Timestamp(end), "ns"))
        outside.append((source, start, end, int(out_cov.sum())))
        partnered = _isin(ids.ids, partners)
        no_partner = np.where(ids.code >= 0, ~partnered[np.maximum(ids.code, 0)]
                              if len(partnered) else True, True)
        years, y = _small_ints(_year(frame, date_col))
        n_years = len(years)
        sel = no_partner & (ids.code >= 0)
        per_year = _persons_per_year(ids.code[sel], y[sel], len(ids.ids), n_years)
        part = pd.DataFrame({
            "source": source, "year": years.astype(np.int64),
            "n_rows": np.bincount(y, minlength=n_years).astype(np.int64),
            "n_rows_unlinked": np.bincount(y, weights=no_partner, minlength=n_years)
            .astype(np.int64),
            "n_persons_unlinked": per_year})
        unlinked.append(part)
    flow = pd.DataFrame([
        ("NPR rows", len(npr)), ("NPR persons", len(npr_ids)),
        ("KPR rows", len(kpr)), ("KPR persons", len(kpr_ids)),
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
