"""The release ledger: what earlier runs on the same delivery published.

Kept in the work area (person-level: it names the persons each published number
counts), never under ``release/``, in one folder per delivery keyed by the
digest of the delivery's files::

    WORK/ledger/<delivery digest>/<run key>.cells.parquet    label, value
    WORK/ledger/<delivery digest>/<run key>.members.parquet  cell, person_id, weight

A new run is protected jointly with every entry of its delivery except its own
earlier entry (the same study, study digest and definitions: a rerun), and its
published numbers are recorded just before its release folder is moved into
place: a run killed at any point never leaves a release the ledger does not know
(at worst an entry for a release that never came out, which only protects more).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from kprlink.disclosure.joint import JointResult, PriorRelease

CELLS, MEMBERS = ".cells.parquet", ".members.parquet"


def delivery_digest(inputs: Sequence[Mapping[str, object]]) -> str:
    """Digest of a delivery from its files' names and SHA-256 (provenance records)."""
    text = json.dumps(sorted((str(f["file"]), str(f["sha256"])) for f in inputs))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_key(study: str, study_digest: str, definitions: Mapping[str, str]) -> str:
    """One key per study version and definitions: a rerun replaces its own entry."""
    text = json.dumps([study, study_digest, sorted(definitions.items())])
    return f"{study}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def load(folder: Path, *, exclude: str) -> PriorRelease | None:
    """Every entry in `folder` but `exclude`, as one :class:`PriorRelease`."""
    if not folder.is_dir():
        return None
    cells, members, offset = [], [], 0
    for path in sorted(folder.glob(f"*{CELLS}")):
        key = path.name[: -len(CELLS)]
        if key == exclude:
            continue
        c = pd.read_parquet(path)
        m = pd.read_parquet(folder / f"{key}{MEMBERS}")
        cells.append(c.assign(label=c["label"].astype(str)))
        members.append(m.assign(cell=m["cell"] + offset))
        offset += len(c)
    if not cells:
        return None
    return PriorRelease(pd.concat(cells, ignore_index=True),
                        pd.concat(members, ignore_index=True))


def record(folder: Path, key: str, joint: JointResult) -> None:
    """Write this run's published numbers and their persons (temporary file, then rename)."""
    if joint.published is None or joint.members is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    _remove_stale(folder)
    for suffix, frame in ((MEMBERS, joint.members), (CELLS, joint.published)):
        path = folder / f"{key}{suffix}"
        tmp = folder / f".{key}{suffix}.tmp-{os.getpid()}"
        frame.to_parquet(tmp, index=False)
        tmp.replace(path)


def _remove_stale(folder: Path) -> None:
    """Remove temporary entry files of runs killed while writing them (dead processes).

    An entry counts only once its ``.cells.parquet`` is in place (written last),
    so a killed run's half entry was never read; this only tidies the folder.
    """
    from kprlink._atomic import _LEFTOVER, _alive

    for p in folder.iterdir():
        m = _LEFTOVER.match(p.name)
        if m and m["kind"] == "tmp" and p.is_file() and not _alive(int(m["pid"])):
            p.unlink(missing_ok=True)
