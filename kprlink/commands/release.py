"""``kprlink release check OUT``: re-verify a release folder for the output checker.

Reads only ``OUT/release/`` (or a release folder itself), as an outsider would:
no column or word naming a cell's status or reason, no blank cells, no checker
file, and the outsider's attack (:mod:`kprlink.disclosure.outsider`) recovers
nothing. Exit 0 when clean, 1 with one line per finding, 2 when the folder is
not a release.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from kprlink.exceptions import KprlinkError

NAME = "release"
HELP = "Work with release folders: `kprlink release check OUT` re-verifies one from scratch."


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Subcommands of ``kprlink release``."""
    sub = p.add_subparsers(dest="release_command", metavar="SUBCOMMAND", required=True)
    check = sub.add_parser(
        "check", help="re-verify a release folder as an outsider (exit 1 on any finding)",
        description="Re-verify OUT/release/ from scratch: no status or reason, no blank "
                    "cells, and an outsider's LP/MILP attack over all released tables "
                    "together recovers no hidden count. Exit 0 clean, 1 findings, "
                    "2 not a release.")
    check.add_argument("out", type=Path, metavar="OUT",
                       help="output folder of `kprlink run` (or its release/ folder)")
    check.add_argument("--max-n", type=int, default=None,
                       help="counts 1..N must not be shown (default: the report's rule, else 4)")
    check.add_argument("--min-width", type=int, default=None,
                       help="smallest allowed interval of a hidden count (default: the "
                            "report's, else 1)")


def run(args: argparse.Namespace) -> int:
    """Check the folder; print one line per finding."""
    from kprlink.disclosure.outsider import NotAReleaseError, check_release

    try:
        findings = check_release(args.out, max_n=args.max_n, min_width=args.min_width)
    except NotAReleaseError as err:
        raise KprlinkError(str(err)) from None
    if findings.empty:
        sys.stdout.write(f"release check {args.out}: nothing found\n")
        return 0
    for r in findings.itertuples(index=False):
        where = f"{r.table}: {r.cell}: {r.kind}"
        if not (isinstance(r.lower, float) and math.isnan(r.lower)):
            where += f" [{_num(r.lower)}, {_num(r.upper)}]"
        sys.stdout.write(where + "\n")
    sys.stdout.write(f"release check {args.out}: {len(findings)} finding(s)\n")
    return 1


def _num(x: float) -> str:
    return f"{x:g}" if math.isfinite(x) else "inf"
