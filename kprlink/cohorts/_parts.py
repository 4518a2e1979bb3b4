"""The cohort builder on an imported folder, partition by partition, on any engine.

An imported folder is one partition; a partitioned import
(``kprlink import --partitions N``) has N, each holding every row of its
persons. The same function builds the cohort of one partition
(:func:`part_cohort`: the builder's fast path of :mod:`kprlink.cohorts._imported`
and its steps, with person ids ranked within the partition); then small
reductions make the whole cohort:

* person ids: a person's id is its rank in (kpr_id, npr_id) order over the
  whole delivery, so each partition counts its ids below the cohort's
  (:func:`part_ranks`, a cohort-sized answer) and the counts are summed;
* attrition: records and persons summed over partitions (persons are
  disjoint);
* persons and events: concatenated and put in the builder's order.

The result equals the builder on the whole folder (tested), whichever engine
runs the partitions (:mod:`kprlink._engine`); only cohort-sized frames travel.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kprlink.cohorts._steps import CohortResult, _build, _link, cohort_columns
from kprlink.cohorts.definition import CohortDefinition
from kprlink.cohorts.events import _int64, frames_of
from kprlink.exceptions import DataQualityWarning
from kprlink.linkage.keyfile import LinkageResult

__all__: list[str] = []
log = logging.getLogger(__name__)


def part_cohort(folder: str, definition: CohortDefinition,
                coverage: tuple[Any, Any], aliases: pd.DataFrame | None = None
                ) -> dict[str, Any]:
    """The cohort of one partition folder, person ids ranked within it (same-person
    key ids in `aliases` merged)."""
    from kprlink.cohorts._imported import prefiltered

    columns = cohort_columns(definition)
    part, whole = prefiltered(Path(folder), definition, columns, aliases)
    frames = frames_of(part)
    linked = _link(frames)
    persons = linked.persons.copy()
    persons["person_id"] = whole["person_id"](
        _int64(persons["kpr_id"]), _int64(persons["npr_id"]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataQualityWarning)
        res = _build(frames, definition, LinkageResult(persons, linked.report),
                     first=(whole["n_diag_rows"], whole["n_diag_persons"]),
                     coverage=coverage)
    return {"persons": res.persons, "attrition": res.attrition, "events": res.events,
            "warnings": [str(w.message) for w in caught], "texts": res.warnings,
            "with_kpr": whole["with_kpr"], "npr_only": whole["npr_only"]}


def part_result(part: dict[str, Any]) -> dict[str, Any]:
    """The cohort-sized part of :func:`part_cohort` (what travels to the caller)."""
    return {k: v for k, v in part.items() if k not in ("with_kpr", "npr_only")}


def part_ranks(part: dict[str, Any], kpr: np.ndarray, npr: np.ndarray) -> tuple[Any, ...]:
    """This partition's ids below each of `kpr` (kpr_ids) and `npr` (NPR-only npr_ids)."""
    wk, no = part["with_kpr"], part["npr_only"]
    return (np.searchsorted(wk, kpr).astype(np.int64),
            np.searchsorted(no, npr).astype(np.int64), len(wk))


def _global_ids(parts: list[dict[str, Any]], ranks: list[tuple[Any, ...]],
                kpr: np.ndarray, npr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    below_k = np.sum([r[0] for r in ranks], axis=0) if ranks else np.zeros(len(kpr))
    below_n = np.sum([r[1] for r in ranks], axis=0) if ranks else np.zeros(len(npr))
    n_kpr = sum(r[2] for r in ranks)
    return (below_k + 1).astype(np.int64), (n_kpr + below_n + 1).astype(np.int64)


def from_imported(root: Path, definition: CohortDefinition, engine: Any = None
                  ) -> CohortResult:
    """:func:`kprlink.build_cohort` on an imported folder: the candidates' rows only.

    Same result as the full read (tested): person ids and the first attrition
    row are computed over the whole delivery (see :mod:`kprlink.cohorts._imported`),
    partition by partition when the folder is partitioned.
    """
    from kprlink._engine import engine_from
    from kprlink.cohorts._fast_aliases import folder_aliases
    from kprlink.sources._folder import _Folder
    from kprlink.sources._partition import partitions

    columns = cohort_columns(definition)

    def full() -> LinkageResult:
        from kprlink.linkage._aliases import link_merging_aliases
        from kprlink.sources import read_delivery

        return link_merging_aliases(frames_of(read_delivery(root, columns=columns)), _link)[1]

    aliases = folder_aliases(_Folder(root))
    folders = partitions(root) or [root]
    if len(aliases) and len(folders) > 1:
        # a partition holds its persons' resolved key pairs only, and an alias id may
        # lie in another partition than the id it stands for: the whole folder merges
        log.warning("%d same-person key ids: the cohort is built on the whole imported "
                    "folder, not its %d partitions", len(aliases), len(folders))
        folders = [root]
    with engine_from(engine) as eng:
        return build_parts(root, folders, definition, eng, full, aliases)


def build_parts(root: Path, folders: list[Path], definition: CohortDefinition,
                engine: Any, full: Any, aliases: pd.DataFrame | None = None) -> CohortResult:
    """The whole cohort from `folders` (see module notes); `full` gives the linkage."""
    from kprlink.cohorts._followup import _imported_coverage

    coverage = _imported_coverage(root, definition)
    handles = engine.map(part_cohort, [str(f) for f in folders], definition, coverage,
                         aliases)
    parts = engine.gather(engine.map(part_result, handles))
    persons = [p["persons"] for p in parts]
    has_k = [~p["kpr_id"].isna().to_numpy() for p in persons]
    kpr = np.sort(np.concatenate([np.zeros(0, np.int64)] + [
        _int64(p["kpr_id"])[h] for p, h in zip(persons, has_k, strict=True)]))
    npr = np.sort(np.concatenate([np.zeros(0, np.int64)] + [
        _int64(p["npr_id"])[~h] for p, h in zip(persons, has_k, strict=True)]))
    ranks = engine.gather(engine.map(part_ranks, handles, kpr, npr))
    gk, gn = _global_ids(parts, ranks, kpr, npr)
    out_p, out_e = [], []
    for part, p, h in zip(parts, persons, has_k, strict=True):
        new = np.where(h, gk[np.searchsorted(kpr, np.where(h, _int64(p["kpr_id"]), 0))],
                       gn[np.minimum(np.searchsorted(npr, _int64(p["npr_id"])),
                                     max(len(npr) - 1, 0))] if len(npr) else 0)
        lut = pd.Series(new.astype(np.int64), index=p["person_id"].to_numpy(np.int64))
        out_p.append(p.assign(person_id=new.astype(np.int64)))
        ev = part["events"]
        out_e.append(ev.assign(person_id=lut.reindex(ev["person_id"].to_numpy(np.int64))
                               .to_numpy(np.int64)))
    people = (pd.concat(out_p, ignore_index=True)
              .sort_values(["kpr_id", "npr_id"], na_position="last", kind="stable")
              .reset_index(drop=True))
    events = (pd.concat(out_e, ignore_index=True)
              .sort_values(["person_id", "date", "source", "record_id"], kind="stable")
              .reset_index(drop=True))
    attrition = _attrition([p["attrition"] for p in parts])
    texts = tuple(dict.fromkeys(t for p in parts for t in p["texts"]))
    for text in dict.fromkeys(t for p in parts for t in p["warnings"]):
        warnings.warn(text, DataQualityWarning, stacklevel=4)
    return CohortResult(people, attrition, events, full, definition, texts)


def _attrition(parts: list[pd.DataFrame]) -> pd.DataFrame:
    att = parts[0][["step", "kind"]].copy()
    for c in ("n_records", "n_persons"):
        att[c] = np.sum([p[c].to_numpy(np.int64) for p in parts], axis=0).astype("int64")
    att["n_records_excluded"] = (-att["n_records"].diff()).fillna(0).astype("int64")
    att["n_persons_excluded"] = (-att["n_persons"].diff()).fillna(0).astype("int64")
    return att
