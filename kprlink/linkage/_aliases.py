"""Key ids that are one person: temporary, duplicate and new ids, merged before linking.

The key-file rules keep one partner per id and leave the others one-register-only.
Three kinds of key conflict (``kprlink.linkage._key_kinds``) are one person with two
ids of one register: a temporary NPR id replaced by a permanent one, a duplicate NPR
id in one delivery, and a new KPR id after a legal change of sex. For those the
other id is an *alias* of the kept one; :func:`apply_aliases` rewrites the frames'
ids so the person's rows of both ids count as one person. Conflicts of other kinds
(a stale key, a wrong older key with data) are different persons and stay as they are.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

#: key-conflict kinds that are one person, and the register whose ids they alias
SAME_PERSON = {"temporary id replaced": "npr", "two NPR ids in one delivery": "npr",
               "new id after change of sex": "kpr"}
_ID_COL = {"npr": "npr_id", "kpr": "kpr_id"}
_FRAMES = {"npr": ("npr_episodes", "npr_diagnoses", "key"),
           "kpr": ("kuhr_claims", "key")}


def same_person_aliases(key_conflicts: pd.DataFrame) -> pd.DataFrame:
    """``register, alias, id, kind``: each other id of a same-person conflict and the kept
    id it stands for.

    Examples
    --------
    >>> kc = pd.DataFrame({"side": ["kpr_id", "npr_id"], "id": [10, 5],
    ...     "partners": [[5, 80], [10, 11]], "chosen": [5, 10],
    ...     "kind": ["temporary id replaced", "stale key without data"]})
    >>> same_person_aliases(kc).values.tolist()
    [['npr', 80, 5, 'temporary id replaced']]
    """
    rows = []
    if "kind" in key_conflicts.columns:
        for partners, chosen, kind in key_conflicts[["partners", "chosen", "kind"]] \
                .itertuples(index=False):
            reg = SAME_PERSON.get(str(kind))
            if reg is None or pd.isna(chosen):
                continue
            rows += [(reg, int(p), int(chosen), str(kind)) for p in partners
                     if int(p) != int(chosen)]
    return pd.DataFrame(rows, columns=["register", "alias", "id", "kind"]).astype(
        {"alias": "int64", "id": "int64"})


def apply_aliases(frames: dict[str, Any], aliases: pd.DataFrame) -> dict[str, Any]:
    """A copy of `frames` with every alias id replaced by the id it stands for."""
    out = dict(frames)
    for reg, group in aliases.groupby("register"):
        col = _ID_COL[str(reg)]
        m = pd.Series(group["id"].to_numpy(), index=group["alias"].to_numpy())
        for name in _FRAMES[str(reg)]:
            f = out.get(name)
            if f is None or col not in f.columns:
                continue
            ids = pd.array(f[col], dtype="Int64")
            hit = pd.Series(ids).isin(m.index).to_numpy(bool)
            if hit.any():
                new = pd.Series(ids, index=f.index, copy=True)
                new[hit] = m.reindex(new[hit].to_numpy()).to_numpy()
                out[name] = f.assign(**{col: new.astype(f[col].dtype)})
    return out


def link_merging_aliases(frames: dict[str, Any], link: Any) -> tuple[dict[str, Any], Any]:
    """``link(frames)`` (a :class:`LinkageResult`), with same-person key ids merged first.

    Without same-person conflicts the frames and the linkage are returned as they are;
    otherwise the frames with aliases applied and their linkage, whose report keeps the
    first run's key conflicts and adds a flow row counting the merged ids.
    """
    from dataclasses import replace

    first = link(frames)
    aliases = same_person_aliases(first.report.key_conflicts)
    if aliases.empty:
        return frames, first
    frames = apply_aliases(frames, aliases)
    second = link(frames)
    flow = pd.concat([second.report.flow, pd.DataFrame(
        [("key ids merged into one person (temporary, duplicate or new ids)", len(aliases))],
        columns=["step", "n"])], ignore_index=True)
    return frames, type(second)(second.persons, replace(
        second.report, key_conflicts=first.report.key_conflicts, flow=flow))
