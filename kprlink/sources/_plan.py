"""Which files of a delivery folder are read, and why the others are not (internal).

Every entry of the folder is accounted for:

* a file of a known format whose header matches a contract is read;
* a symbolic link to a file is followed (read like the file); a link to a
  folder is listed as not read; a broken link or a link loop is an error;
* a file with no bytes, and a file whose header is separated by a character
  kprlink does not read (``:``, a space) but then matches a contract, is an
  error naming the file and what to do;
* every other file is listed in ``report.unclassified``; sub-folders (the
  synthetic generator's ``truth/``) are not part of a delivery.

A header-only register file (no rows) is refused by :func:`no_rows` once read.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

from kprlink.exceptions import Problem
from kprlink.sources.extract import (
    MIN_SCORE,
    detect_contract,
    foreign_separator,
    peek_columns,
    separator_problem,
)
from kprlink.sources.readers import detect_format

__all__: list[str] = []

def _link_problem(path: Path) -> Problem | None:
    """A broken link or a link loop at `path` (None when the link resolves)."""
    try:
        path.resolve(strict=True)
    except RuntimeError:  # Python < 3.13 raises this for a loop
        return _loop(path)
    except OSError as err:
        if err.errno == errno.ELOOP:
            return _loop(path)
        return Problem(path.name, None, "broken_link",
                       "a symbolic link to a file that does not exist",
                       hint="Copy the file itself into the delivery folder, or remove "
                            "the link.")
    return None


def _loop(path: Path) -> Problem:
    return Problem(path.name, None, "link_loop",
                   "a symbolic link that points back to itself (a link loop)",
                   hint="Replace the link by the file it should point to.")


def no_rows(name: str, contract: str) -> Problem:
    """The error for a register file with a header and no rows."""
    return Problem(name, None, "no_rows",
                   f"the file has a header ({contract}) but no rows",
                   hint="A failed or partial export? Ask the provider for the file "
                        "again, or move it out of the delivery folder.")


def plan_files(root: Path) -> tuple[list[tuple[Path, str, Any]], list[str], list[Problem]]:
    """A delivery's files to read: (file, format, contract from the header or None
    where the format has no header to peek), files not read, and the problems
    that make the delivery unusable (see the module docstring)."""
    entries = sorted(root.iterdir()) if root.is_dir() else [root]
    plan: list[tuple[Path, str, Any]] = []
    unclassified: list[str] = []
    fatal: list[Problem] = []
    for f in entries:
        if f.is_symlink():
            problem = _link_problem(f)
            if problem is not None:
                fatal.append(problem)
                continue
            if f.is_dir():
                unclassified.append(f"{f.name} (a link to a folder)")
                continue
        if f.is_dir():
            continue
        if not f.is_file():
            unclassified.append(f"{f.name} (not a regular file)")
            continue
        fmt = detect_format(f)
        if fmt is None or f.name.startswith("."):
            unclassified.append(f.name)
            continue
        if f.stat().st_size == 0:
            fatal.append(Problem(f.name, None, "empty_file", "the file has no bytes",
                                 hint="A failed copy? Copy the file again from the "
                                      "delivery, or move it out of the folder."))
            continue
        try:
            cols = peek_columns(f, fmt, None, None)
        except (OSError, UnicodeDecodeError, ValueError) as err:
            fatal.append(Problem(f.name, None, "unreadable", f"cannot read header: {err}"))
            continue
        contract = None
        if cols is not None:
            contract, score = detect_contract(cols)
            if contract is None or score < MIN_SCORE:
                foreign = foreign_separator(cols) if fmt == "csv" else None
                if foreign is not None:
                    fatal.append(separator_problem(f.name, *foreign))
                else:
                    unclassified.append(f.name)
                continue
        plan.append((f, fmt, contract))
    return plan, unclassified, fatal
