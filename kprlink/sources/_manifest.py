"""The manifest of an imported delivery, and the checks that an imported folder is whole.

``kprlink import`` writes every frame to ``<field>.parquet`` in a temporary
sibling of the output folder, then ``kprlink_import.json`` (frames, files,
validation report, and the size and SHA-256 of every frame file) last, and
renames the folder into place. Readers accept an imported folder only when its
manifest is present, readable and matches its files:

* cheaply, on every read (:func:`load_manifest`): every listed frame file exists
  with the listed size, and no frame file lies there unlisted;
* fully, in ``kprlink validate`` (``digests=True``): every frame file's SHA-256.

The delivery's Klass files (:data:`CARRIED`: redistricting and names, which a
study release uses to name places) are copied into the import byte for byte and
listed and checked the same way (``carried_files``).

A folder holding frame files (``kuhr_claims.parquet`` …) but no manifest is an
interrupted or partial import and is refused too (:func:`refuse_partial_import`).
Each refusal says to import the delivery again.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any, NoReturn

import pandas as pd

from kprlink.exceptions import Problem, ValidationError
from kprlink.sources.validation import ValidationReport

__all__: list[str] = []

#: Name of the manifest :func:`kprlink.sources.import_delivery` writes beside the frames.
MANIFEST = "kprlink_import.json"
#: Manifest format written now (1: no frame-file sizes or digests; refused).
VERSION = 2
#: Frames an import writes, each to ``<field>.parquet``.
FRAME_FIELDS = ("kuhr_claims", "kuhr_diagnoses", "kuhr_fees", "ho_services", "ho_functions",
                "ho_indicators", "npr_episodes", "npr_diagnoses", "npr_procedures", "key",
                "population")

#: Delivery files an import copies as delivered (not frames): the Klass redistricting
#: and names files, so a study on the import names places as on the raw delivery.
CARRIED = ("klass_kommuner.csv", "klass_navn.csv")


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, read in 4 MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def is_imported(path: str | Path) -> bool:
    """Whether `path` is a folder written by :func:`kprlink.sources.import_delivery`.

    True when the folder holds a manifest; whether its files match it is checked
    when it is read (:func:`load_manifest`).
    """
    return Path(path).is_dir() and (Path(path) / MANIFEST).is_file()


def _reimport_hint(root: Path, source: object = None) -> str:
    src = f"{source}" if source else "DELIVERY"
    return (f"Import the delivery again: kprlink import {src} --out {root} --force "
            "(nothing in this folder is used).")


def _refuse(root: Path, problems: list[Problem], what: str) -> NoReturn:
    raise ValidationError(f"{root} is {what}; kprlink will not read it. Import the "
                          "delivery again.", list(problems))


def refuse_partial_import(root: Path) -> None:
    """Refuse a folder with frame files but no manifest (an interrupted import).

    Raises
    ------
    ValidationError
        Reason ``import_incomplete``, naming the frame files found.
    """
    if not root.is_dir() or (root / MANIFEST).exists():
        return
    found = sorted(f"{f}.parquet" for f in FRAME_FIELDS if (root / f"{f}.parquet").is_file())
    if found:
        _refuse(root, [Problem(
            MANIFEST, None, "import_incomplete",
            f"missing: the folder holds {', '.join(found)} as kprlink import writes them, "
            "but no manifest (an interrupted or partial import)",
            hint=_reimport_hint(root) + " If these are delivered extracts, rename them.")],
            "an incomplete import")


def load_manifest(root: Path, *, digests: bool = False) -> dict[str, Any]:
    """The manifest of the imported folder `root`, after checking the folder against it.

    Parameters
    ----------
    root : pathlib.Path
        An imported folder.
    digests : bool, default False
        Also compare every frame file's SHA-256 with the manifest (reads every
        byte; ``kprlink validate`` does this). Otherwise names and sizes only.

    Raises
    ------
    ValidationError
        With one problem per mismatch; reasons ``import_incomplete`` (no
        manifest), ``manifest_unreadable``, ``unknown_manifest`` (another
        format version), ``import_file_missing``, ``import_file_mismatch``
        (size or digest), ``import_file_unlisted``.
    """
    path = root / MANIFEST
    if not path.is_file():
        refuse_partial_import(root)
        _refuse(root, [Problem(MANIFEST, None, "import_incomplete", "missing",
                               hint=_reimport_hint(root))], "not an imported delivery")
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
        version = m.get("kprlink_import")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError) as err:
        _refuse(root, [Problem(MANIFEST, None, "manifest_unreadable",
                               f"cannot be read ({type(err).__name__})",
                               hint=_reimport_hint(root))], "a damaged import")
    if version != VERSION:
        old = " (written by an older kprlink, without file digests)" if version == 1 else ""
        _refuse(root, [Problem(MANIFEST, None, "unknown_manifest",
                               f"kprlink_import = {version!r}{old}; this kprlink reads "
                               f"version {VERSION}",
                               hint=_reimport_hint(root, m.get("source")))],
                "an import this kprlink cannot check")
    problems = _check_files(root, m, digests=digests)
    if problems:
        _refuse(root, problems, "an import whose files do not match its manifest")
    return m  # type: ignore[no-any-return]


def _check_files(root: Path, m: Mapping[str, Any], *, digests: bool) -> list[Problem]:
    hint = _reimport_hint(root, m.get("source"))
    listed: dict[str, Any] = dict(m.get("frame_files") or {})
    listed.update(m.get("carried_files") or {})
    problems = []
    for name in sorted(set(m.get("frames", {}).values()) - set(listed)):
        problems.append(Problem(name, None, "import_file_unlisted",
                                "named as a frame but has no size or digest in the manifest",
                                hint=hint))
    for name, meta in listed.items():
        f = root / name
        if not f.is_file():
            problems.append(Problem(name, None, "import_file_missing",
                                    "listed in the manifest but absent", hint=hint))
            continue
        size = f.stat().st_size
        if size != meta.get("bytes"):
            problems.append(Problem(name, None, "import_file_mismatch",
                                    f"has {size:,} bytes; the manifest lists "
                                    f"{meta.get('bytes')!r}", hint=hint))
        elif digests and sha256_file(f) != meta.get("sha256"):
            problems.append(Problem(name, None, "import_file_mismatch",
                                    "its SHA-256 differs from the manifest's (changed "
                                    "after import)", hint=hint))
    frames = set(m.get("frames", {}).values())
    for field in FRAME_FIELDS:
        name = f"{field}.parquet"
        if name not in frames and (root / name).is_file():
            problems.append(Problem(name, None, "import_file_unlisted",
                                    "a frame file the manifest does not list (from another "
                                    "import?)", hint=hint))
    for name in CARRIED:
        if name not in listed and (root / name).is_file():
            problems.append(Problem(name, None, "import_file_unlisted",
                                    "a Klass file the manifest does not list (added after "
                                    "import?)", hint=hint))
    return problems


def write_manifest(dest: Path, source: Path, written: Mapping[str, str], files: pd.DataFrame,
                   rep: ValidationReport) -> None:
    """Write ``kprlink_import.json`` last: frames with their sizes and SHA-256, files, report.

    The :data:`CARRIED` files of a delivery folder `source` are first copied into
    `dest` unchanged and listed with their sizes and SHA-256 too.
    """
    carried = [name for name in CARRIED if source.is_dir() and (source / name).is_file()]
    for name in carried:
        shutil.copyfile(source / name, dest / name)
    manifest = {
        "kprlink_import": VERSION,
        "source": str(source),
        "frames": dict(written),
        "frame_files": _sizes(dest, sorted(set(written.values()))),
        "carried_files": _sizes(dest, carried),
        "files": files.astype("object").where(files.notna(), None)
        .to_dict(orient="records"),
        "table": rep.table.astype("object").to_dict(orient="records"),
        "reasons": rep.reasons.astype("object").where(rep.reasons.notna(), None)
        .to_dict(orient="records"),
        "problems": [asdict(p) for p in rep.problems],
        "fatal": [asdict(p) for p in rep.fatal],
        "unclassified": list(rep.unclassified),
    }
    tmp = dest / f".{MANIFEST}.part"
    tmp.write_text(json.dumps(manifest, indent=1, default=_json_default), encoding="utf-8")
    tmp.replace(dest / MANIFEST)


def _sizes(dest: Path, names: list[str]) -> dict[str, dict[str, object]]:
    return {name: {"bytes": (dest / name).stat().st_size, "sha256": sha256_file(dest / name)}
            for name in names}


def _json_default(v: object) -> object:
    if hasattr(v, "item"):
        return v.item()
    return str(v)
