"""Provenance of a study run: versions, digests and input-file hashes.

The record holds no wall-clock time and no absolute paths, so two runs on the
same inputs with the same software write the same ``provenance.json``.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from collections.abc import Iterable, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

#: Distributions whose versions can change numbers in a release.
DEPENDENCIES = ("pandas", "numpy", "scipy", "statsmodels", "pyarrow", "matplotlib",
                "openpyxl", "recordlinkage", "pyreadstat", "tomli-w", "tqdm")


def sha256_file(path: Path, *, chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file's bytes, read in chunks.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "x.txt"
    >>> _ = p.write_bytes(b"abc")
    >>> sha256_file(p)[:12]
    'ba7816bf8f01'
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def dependency_versions(names: Iterable[str] = DEPENDENCIES) -> dict[str, str]:
    """Installed versions of `names` (``"not installed"`` where absent)."""
    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def input_files(folder: Path) -> list[dict[str, object]]:
    """Name, size and SHA-256 of every top-level file of a delivery folder.

    Sub-folders (such as a synthetic delivery's ``truth/``) are not part of
    the delivery and are not listed; nor is a partitioned import's index (the
    partitions are derived from the listed frames), so an import with or
    without partitions is the same input.
    """
    from kprlink.sources._partition import PARTITIONS

    rows: list[dict[str, object]] = []
    for path in sorted(p for p in Path(folder).iterdir()
                       if p.is_file() and p.name != PARTITIONS):
        rows.append({"file": path.name, "bytes": path.stat().st_size,
                     "sha256": sha256_file(path)})
    return rows


def delivery_exclusions(report: object, action: str = "excluded"
                        ) -> dict[str, dict[str, int]]:
    """Rows the readers excluded, by file and reason, from a validation report.

    Reads the report's long ``reasons`` table (file, action, reason, n_rows),
    so every exclusion of every file is recorded; files with none are absent.
    `action` ``"repaired"`` (values set to missing, recoded, re-decoded) or
    ``"flagged"`` (kept as delivered, implausible) gives those rows instead.

    Examples
    --------
    >>> import pandas as pd
    >>> from types import SimpleNamespace
    >>> r = SimpleNamespace(reasons=pd.DataFrame({
    ...     "file": ["a.csv", "a.csv", "b.csv"], "contract": "c",
    ...     "action": ["excluded", "repaired", "excluded"],
    ...     "reason": ["duplicate_id", "code_dot", "missing_date"],
    ...     "column": None, "n_rows": [3, 9, 1]}))
    >>> delivery_exclusions(r)
    {'a.csv': {'duplicate_id': 3}, 'b.csv': {'missing_date': 1}}
    >>> delivery_exclusions(r, "repaired")
    {'a.csv': {'code_dot': 9}}
    """
    reasons = getattr(report, "reasons", None)
    out: dict[str, dict[str, int]] = {}
    if reasons is None or not len(reasons):
        return out
    exc = reasons.loc[reasons["action"] == action]  # type: ignore[attr-defined]
    for (file, reason), n in exc.groupby(["file", "reason"], sort=False)["n_rows"].sum().items():
        out.setdefault(str(file), {})[str(reason)] = int(n)
    return out


def provenance_record(*, kprlink_version: str, study: Mapping[str, object],
                      definitions: Mapping[str, str], inputs: list[dict[str, object]],
                      seed: int, extra: Mapping[str, object] | None = None
                      ) -> dict[str, object]:
    """Assemble the provenance record written as ``provenance.json``.

    Parameters
    ----------
    kprlink_version : str
        ``kl.__version__``.
    study : mapping
        Study name, spec version and digest.
    definitions : mapping of str to str
        File name → SHA-256 of every definition file the study used (cohort
        definition, code lists).
    inputs : list of dict
        From :func:`input_files`.
    seed : int
        The study seed.
    extra : mapping, optional
        Further fields (e.g. counts of excluded rows by reason).
    """
    record: dict[str, object] = {
        "kprlink_version": kprlink_version,
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "dependencies": dependency_versions(),
        "study": dict(study),
        "definitions": dict(sorted(definitions.items())),
        "inputs": inputs,
        "seed": seed,
    }
    if extra:
        record.update(extra)
    return record


def dumps(record: Mapping[str, object]) -> str:
    """Canonical JSON (sorted keys, two-space indent, trailing newline)."""
    return json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False,
                      default=str) + "\n"
