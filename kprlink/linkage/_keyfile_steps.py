"""Steps of :func:`kprlink.linkage.link_extracts` after the key is resolved."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd


def _ids(s: pd.Series) -> np.ndarray:
    """Sorted distinct non-missing ids (hash-based, then sorted: faster than np.unique)."""
    return np.sort(pd.unique(pd.array(s, dtype="Int64").dropna().to_numpy(np.int64)))


def _isin(values: np.ndarray, test: np.ndarray) -> np.ndarray:
    """Hash-based membership test (np.isin sorts both arrays)."""
    index = pd.Index(test)
    if index.is_unique:
        return np.asarray(index.get_indexer(values) >= 0)
    return pd.Series(values).isin(test).to_numpy(bool)


def _year(frame: pd.DataFrame, date_col: str) -> np.ndarray:
    if "year" in frame:
        return pd.array(frame["year"], dtype="Int64").fillna(-1).to_numpy(np.int64)
    return frame[date_col].dt.year.fillna(-1).to_numpy(np.int64)


def _demography(npr: pd.DataFrame, kpr: pd.DataFrame, persons: pd.DataFrame
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    from kprlink.linkage.keyfile import _mode

    out = persons.copy()
    kpr_cols = {c: kpr[c] for c in ("kpr_id", "birth_year") if c in kpr}
    if "sex" in kpr or "sex_corrected" in kpr:
        sex = pd.array(kpr["sex"] if "sex" in kpr else [pd.NA] * len(kpr), dtype="Int64")
        if "sex_corrected" in kpr:
            sex = pd.array(kpr["sex_corrected"], dtype="Int64").fillna(sex)
        kpr_cols["sex"] = sex
    kpr_sex = pd.DataFrame(kpr_cols)
    conflicts = []
    for var in ("sex", "birth_year"):
        v_k = (out["kpr_id"].map(_mode(kpr_sex, "kpr_id", var)) if var in kpr_sex
               else pd.Series(pd.NA, index=out.index))
        v_n = (out["npr_id"].map(_mode(npr, "npr_id", var)) if var in npr
               else pd.Series(pd.NA, index=out.index))
        v_k, v_n = pd.array(v_k, dtype="Int64"), pd.array(v_n, dtype="Int64")
        clash = np.asarray((v_k != v_n).fillna(False), dtype=bool)
        out[var] = v_k.fillna(v_n) if len(v_k) else v_k
        out[f"{var}_conflict"] = clash
        conflicts.append(pd.DataFrame({
            "person_id": out["person_id"].to_numpy()[clash], "variable": var,
            "value_kpr": v_k[clash], "value_npr": v_n[clash], "resolved": v_k[clash],
            "rule": "KPR value (National Population Register based) wins"}))
    dc = pd.concat(conflicts, ignore_index=True)
    return out, dc


def _death(frame: pd.DataFrame, id_col: str) -> pd.Series:
    if "death_date" not in frame:
        return pd.Series(dtype="datetime64[ns]")
    d = frame[[id_col, "death_date"]].dropna()
    return d.groupby(id_col)["death_date"].min()


def assemble(npr: pd.DataFrame, kpr: pd.DataFrame, pairs: pd.DataFrame, kc: pd.DataFrame,
             n_key_rows: int, *, coverage: Mapping[str, tuple[str | None, str | None]]
             ) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Person table and report frames."""
    npr_ids, kpr_ids = _ids(npr["npr_id"]), _ids(kpr["kpr_id"])
    p_npr, p_kpr = pairs["npr_id"].to_numpy(np.int64), pairs["kpr_id"].to_numpy(np.int64)
    use = _isin(p_npr, npr_ids) | _isin(p_kpr, kpr_ids)
    npr_only = np.setdiff1d(npr_ids, p_npr)
    kpr_only = np.setdiff1d(kpr_ids, p_kpr)
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
    death_k = persons["kpr_id"].map(_death(kpr, "kpr_id"))
    death_n = persons["npr_id"].map(_death(npr, "npr_id"))
    persons["death_date"] = pd.to_datetime(
        np.fmin(death_k.to_numpy("datetime64[ns]"), death_n.to_numpy("datetime64[ns]")))

    # events after death and outside coverage
    after, outside, unlinked = [], [], []
    for source, frame, id_col, date_col, partners in (
            ("npr", npr, "npr_id", "date_in", p_npr), ("kpr_kuhr", kpr, "kpr_id", "date", p_kpr)):
        by_id = persons.dropna(subset=[id_col]).drop_duplicates(id_col).set_index(id_col)
        death = frame[id_col].map(by_id["death_date"])
        late = np.asarray((frame[date_col] > death).fillna(False), dtype=bool)
        after.append((source, int(late.sum()), int(frame.loc[late, id_col].nunique())))
        start, end = coverage.get(source, (None, None))
        out_cov = np.zeros(len(frame), dtype=bool)
        if start is not None:
            out_cov |= np.asarray((frame[date_col] < pd.Timestamp(start)).fillna(False), bool)
        if end is not None:
            out_cov |= np.asarray((frame[date_col] > pd.Timestamp(end)).fillna(False), bool)
        outside.append((source, start, end, int(out_cov.sum())))
        ids = pd.array(frame[id_col], dtype="Int64")
        id_arr = ids.fillna(-1).to_numpy(np.int64)
        no_partner = ~_isin(id_arr, partners)
        u = pd.DataFrame({"year": _year(frame, date_col), "unl": no_partner, "pid": id_arr})
        g = u.groupby("year", sort=True)
        n_pers = (u.loc[no_partner & (id_arr >= 0)].drop_duplicates(["year", "pid"])
                  .groupby("year").size())
        part = pd.DataFrame({"source": source, "n_rows": g.size(),
                             "n_rows_unlinked": g["unl"].sum().astype("int64")})
        part["n_persons_unlinked"] = n_pers.reindex(part.index, fill_value=0).astype("int64")
        unlinked.append(part.reset_index()[["source", "year", "n_rows", "n_rows_unlinked",
                                            "n_persons_unlinked"]])
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
