"""Shared by ``kprlink link`` and ``kprlink cohort``: person-level files and masked counts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kprlink._atomic import _inside
from kprlink.exceptions import KprlinkError, Problem

RELEASE_MARKER = "provenance.json"


def check_person_path(path: Path, *, data: Path | None = None) -> None:
    """Refuse to write a person-level file into a released output folder or the delivery.

    A file inside the delivery folder (`data`), or the folder itself, is refused:
    the next read of the delivery would take it for part of it (a cohort read
    as a second key file).
    """
    if data is not None and _inside(path, data):
        raise KprlinkError(
            f"{path} is inside the delivery folder {data}; kprlink never writes into a "
            "delivery.",
            [Problem(str(path), None, "overlaps_data",
                     "the output file lies in the delivery folder (or is it)",
                     hint="Write it to your work folder, outside the delivery.")])
    from kprlink._atomic import is_kprlink_output

    for parent in [path.parent, *path.parent.parents]:
        if (parent / RELEASE_MARKER).is_file() or is_kprlink_output(parent):
            raise KprlinkError(
                f"{path} is inside a released output folder ({parent}); person-level "
                "files never go there.",
                [Problem(str(path), None, "person_level_in_release",
                         "person-level output in a release folder",
                         hint="Write it to your work folder instead.")])
    if path.suffix.lower() not in (".parquet", ".csv"):
        raise KprlinkError(f"--out must end in .parquet or .csv, got {path.name!r}",
                           [Problem(str(path), None, "bad_suffix", "unknown output format")])


def write_persons(frame: pd.DataFrame, path: Path) -> None:
    """Write `frame` as Parquet or CSV by suffix (to a temporary sibling, then renamed)."""
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        if path.suffix.lower() == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def mask_count(n: int, *, min_cell_count: int = 5, base: int = 5) -> str:
    """A count for the terminal: 0 as is, 1..min-1 as ``<min``, others rounded to `base`.

    Examples
    --------
    >>> [mask_count(n) for n in (0, 3, 5, 12, 1234)]
    ['0', '<5', '5', '10', '1,235']
    """
    if n == 0:
        return "0"
    if n < min_cell_count:
        return f"<{min_cell_count}"
    return f"{int(base * round(n / base)):,}"


def masked_table(frame: pd.DataFrame, count_cols: list[str], *, min_cell_count: int) -> str:
    """`frame` as text with its count columns masked by :func:`mask_count`, and a note
    saying so (the files written beside hold the exact counts)."""
    shown = frame.copy()
    for c in count_cols:
        shown[c] = [mask_count(int(v), min_cell_count=min_cell_count) for v in frame[c]]
    small = (f", 1 to {min_cell_count - 1} shown as <{min_cell_count}"
             if min_cell_count > 1 else "")
    note = (f"({', '.join(count_cols)}: rounded to the nearest 5 for the screen{small}; "
            "exact counts are in the files)")
    return shown.to_string(index=False) + "\n" + note
