"""Safe, atomic, reproducible writing of a study's output folder.

A run writes everything into a hidden temporary sibling of the output folder
and renames it into place only when every file is written, so a crashed run
never leaves a half-written release. An existing output folder is replaced only
with ``force=True`` and only when it looks like a kprlink output (it holds
``provenance.json``) or is empty, so a typo can never delete a delivery.

Files are written so that the same inputs give the same bytes: CSV with fixed
float formatting and ``\\n`` line ends, XLSX with fixed timestamps inside the
zip and in the document properties, SVG without a date and with a fixed id
salt, PNG without time metadata.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from kprlink.exceptions import KprlinkError, Problem

#: File that marks a folder as a kprlink study output.
MARKER = "provenance.json"
#: Where a study run keeps it (``OUT/checker/provenance.json``).
MARKERS = (MARKER, f"checker/{MARKER}")


def is_kprlink_output(folder: Path) -> bool:
    """Whether `folder` was written by kprlink (its provenance record is there)."""
    return any((Path(folder) / m).is_file() for m in MARKERS)

log = logging.getLogger(__name__)


class OutputFolderError(KprlinkError, FileExistsError):
    """The output folder exists, or overlaps the input or work folder.

    Attributes
    ----------
    path : pathlib.Path
        The output folder concerned.
    """

    def __init__(self, message: str, problems: list[Problem | str] | None = None, *,
                 path: Path) -> None:
        super().__init__(message, problems or [])
        self.path = path

    def __str__(self) -> str:  # OSError subclasses format their args otherwise
        return KprlinkError.__str__(self)


def _inside(child: Path, parent: Path) -> bool:
    try:
        child.resolve().relative_to(parent.resolve())
    except ValueError:
        return False
    return True


def apart(folders: Mapping[str, Path]) -> list[Problem | str]:
    """One problem per pair of `folders` that overlap (equal, or one inside the other).

    Examples
    --------
    >>> [p.reason for p in apart({"data": Path("d"), "work": Path("d/w")})]
    ['work_overlaps_data']
    >>> apart({"data": Path("d"), "work": Path("w")})
    []
    """
    items = list(folders.items())
    problems: list[Problem | str] = []
    for i, (a, pa) in enumerate(items):
        for b, pb in items[:i]:
            if _inside(pa, pb) or _inside(pb, pa):
                problems.append(Problem(
                    file=str(pa), column=None, reason=f"{a}_overlaps_{b}",
                    message=f"the {a} folder and the {b} folder {str(pb)!r} overlap "
                            "(the same folder, or one inside the other)",
                    hint=f"Choose a {a} folder outside the {b} folder; person-level "
                         "files written into a delivery are read back as part of it."))
    return problems


def check_output_folder(out: Path, *, force: bool, inputs: Mapping[str, Path] | None = None,
                        marker: str = MARKER, what: str = "study output") -> None:
    """Refuse an output folder that exists (without force) or overlaps an input.

    Parameters
    ----------
    out : pathlib.Path
        Output folder to create.
    force : bool
        Allow replacing an existing kprlink output folder.
    inputs : mapping of str to pathlib.Path
        Folders the run reads or writes person-level data to (``"data"``,
        ``"work"``); none may lie inside `out`, and `out` may not lie inside
        any of them.
    marker : str, default ``provenance.json``
        File that marks a folder kprlink wrote (``kprlink_import.json`` for an
        import); only such a folder (or an empty one) is replaced with `force`.
    what : str
        What is written, for the message (``"study output"``, ``"import"``).

    Raises
    ------
    OutputFolderError
        With one problem per reason.
    """
    problems: list[Problem | str] = []
    for label, path in (inputs or {}).items():
        if _inside(path, out) or _inside(out, path):
            problems.append(Problem(
                file=str(out), column=None, reason=f"overlaps_{label}",
                message=f"the output folder and the {label} folder {str(path)!r} overlap",
                hint="Choose an output folder outside the delivery and work folders."))
    problems += apart(inputs or {})
    if out.exists():
        if not out.is_dir():
            problems.append(Problem(file=str(out), column=None, reason="not_a_folder",
                                    message="exists and is not a folder",
                                    hint="Choose another --out."))
        elif not force:
            problems.append(Problem(file=str(out), column=None, reason="exists",
                                    message="the output folder already exists",
                                    hint="Pass --force to replace it, or choose another --out."))
        elif any(out.iterdir()) and not ((out / marker).is_file() or (
                marker == MARKER and is_kprlink_output(out))):
            problems.append(Problem(
                file=str(out), column=None, reason="not_kprlink_output",
                message=f"exists, is not empty and holds no {marker}; kprlink will not "
                        "replace a folder it did not write, even with --force",
                hint="Remove it yourself or choose another --out."))
    if problems:
        raise OutputFolderError(f"Cannot write the {what} to {str(out)!r}.",
                                problems, path=out)


_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-(?P<pid>[0-9]+)$")


def _alive(pid: int) -> bool:
    """Whether process `pid` runs on this machine (unknown counts as alive)."""
    if pid == os.getpid():
        return True
    if os.name == "nt":  # os.kill(pid, 0) would end the process there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: someone else's live process
        return True
    return True


def remove_stale(out: Path) -> list[Path]:
    """Remove temporary siblings of `out` left by processes that no longer run.

    A killed run or import leaves ``.<out>.tmp-<pid>`` (never renamed into
    place) and, if killed between the two renames, ``.<out>.old-<pid>`` (the
    previous output, moved aside). The first is removed; the second is moved
    back when `out` is missing, else removed. Folders of live processes are
    left alone.

    Returns
    -------
    list of pathlib.Path
        The folders removed or moved back.
    """
    out = Path(out)
    if not out.parent.is_dir():
        return []
    done = []
    for p in sorted(out.parent.iterdir()):
        m = _LEFTOVER.match(p.name)
        if not m or m["name"] != out.name or not p.is_dir() or _alive(int(m["pid"])):
            continue
        if m["kind"] == "old" and not out.exists():
            p.rename(out)
        else:
            shutil.rmtree(p, ignore_errors=True)
        log.info("removed %s, left by process %s that no longer runs", p, m["pid"])
        done.append(p)
    return done


@contextmanager
def atomic_folder(out: Path, *, force: bool, inputs: Mapping[str, Path] | None = None,
                  marker: str = MARKER, what: str = "study output") -> Iterator[Path]:
    """Yield a temporary folder that replaces `out` when the block succeeds.

    On an exception the temporary folder is removed and `out` is left as it
    was. Temporary folders of `out` left by dead processes are removed first
    (:func:`remove_stale`). `marker` and `what` as in :func:`check_output_folder`.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> with atomic_folder(root / "res", force=False) as tmp:
    ...     _ = (tmp / MARKER).write_text("{}")
    >>> sorted(p.name for p in (root / "res").iterdir())
    ['provenance.json']
    """
    out = Path(out)
    remove_stale(out)
    check_output_folder(out, force=force, inputs=inputs, marker=marker, what=what)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    for leftover in (tmp, old):
        if leftover.exists():
            shutil.rmtree(leftover)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    if old.exists():
        shutil.rmtree(old)


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 text with ``\\n`` line ends, creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


def write_csv(path: Path, df: pd.DataFrame) -> None:
    """Write a released table as a deterministic CSV (comma, UTF-8, no index).

    Missing values are written as empty fields; floats with up to 6 decimals.
    """
    write_text(path, df.to_csv(index=False, lineterminator="\n", float_format="%.6g"))


def write_xlsx(path: Path, sheets: Mapping[str, pd.DataFrame], *,
               notes: Mapping[str, str] | None = None) -> None:
    """Write one workbook, one sheet per table (bold frozen header, numbers as
    numbers) and a ``notes`` sheet, with fixed timestamps (identical reruns)."""
    from kprlink._xlsx import workbook_bytes

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(workbook_bytes(sheets, notes=notes))


def save_figure(fig: object, stem: Path) -> list[Path]:
    """Save a matplotlib figure as ``stem.png`` and ``stem.svg`` with :func:`kprlink.save_figure`.

    Both files are byte-identical across reruns. The figure is closed.

    Returns
    -------
    list of pathlib.Path
        The two files written.
    """
    import matplotlib.pyplot as plt

    import kprlink as kl

    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [kl.save_figure(fig, stem.with_suffix(suffix))  # type: ignore[arg-type]
             for suffix in (".png", ".svg")]
    plt.close(fig)  # type: ignore[arg-type]
    return paths
