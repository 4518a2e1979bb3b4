"""``kprlink suppress``: protect a table of inner cells (margins, suppression, audit)."""

from __future__ import annotations

import argparse
import csv
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from kprlink.exceptions import DisclosureError, KprlinkError, ReleaseRefusedError

NAME = "suppress"
HELP = ("Protect a table of inner cells: write the full table with all margins (Total), "
        "a status column (published/primary/secondary) and suppressed counts left empty.")

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import pandas as pd


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``kprlink suppress``."""
    p.add_argument("table", metavar="TABLE.csv", help="inner cells, one row per combination")
    p.add_argument("--dims", required=True, help="dimension columns, comma-separated: A,B[,C]")
    p.add_argument("--count", required=True, help="count column")
    p.add_argument("--max-n", type=int, required=True,
                   help="counts 1..N are suppressed (SSB 'fewer than 3': 2; 'under 5': 4)")
    p.add_argument("--protect-zeros", action=argparse.BooleanOptionalAction, default=True,
                   help="suppress zero counts too (default: yes)")
    p.add_argument("--out", required=True, metavar="OUT.csv", help="protected table to write")
    p.add_argument("--audit", action="store_true",
                   help="add audit_lo,audit_up: each suppressed cell's feasible interval")
    p.add_argument("--log", metavar="LOG.json",
                   help="write the release log (JSON, plus a .md summary beside it)")
    p.add_argument("--sep", default=None, help="input separator (default: sniffed)")


def run(args: argparse.Namespace) -> int:
    """Read, protect, audit and write; refuses (exit 2) when a hidden cell is recoverable."""
    import pandas as pd

    from kprlink.disclosure.release import write_release_log
    from kprlink.disclosure.rules import SuppressionRule
    from kprlink.disclosure.secondary import suppress_table

    path = Path(args.table)
    dims = [d.strip() for d in args.dims.split(",") if d.strip()]
    if not dims:
        raise DisclosureError(f"{path}: --dims is empty.", ["give --dims A,B"])
    _check_targets(args)
    try:
        if args.sep is None:
            cells = pd.read_csv(path, sep=None, engine="python",
                                dtype={d: str for d in dims}, encoding="utf-8-sig")
        else:
            cells = pd.read_csv(path, sep=args.sep, dtype={d: str for d in dims},
                                encoding="utf-8-sig")
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError,
            csv.Error) as err:
        raise DisclosureError(f"{path}: cannot read the table as CSV ({err}).",
                              ["give a CSV file with a header row; use --sep to name "
                               "the separator"]) from None
    rule = SuppressionRule(max_n=args.max_n, protect_zeros=args.protect_zeros)
    try:
        res = suppress_table(cells, dims, count_col=args.count, rule=rule, audit=True)
    except KprlinkError as err:
        # name the file and the columns it has, so the user can fix the call
        hint = (f"{path} has columns {list(cells.columns)}; name them in --dims and --count"
                f" (one row per inner cell, counts as whole numbers >= 0)")
        raise DisclosureError(f"{path}: {err.headline}", [*err.problems, hint]) from None
    if not res.ok:
        raise ReleaseRefusedError(f"{path}: release refused, the audit found recoverable "
                                  "cells; nothing was written.", res.problems())
    out = res.released[[*dims, args.count, "status"]].copy()
    for d in dims:
        out[d] = out[d].astype(str)
    out["status"] = out["status"].astype(str)
    if args.audit:
        aud = res.audit.copy()
        for d in dims:
            aud[d] = aud[d].astype(str)
        aud = aud.rename(columns={"lower": "audit_lo", "upper": "audit_up"})
        out = out.merge(aud[[*dims, "audit_lo", "audit_up"]], on=dims, how="left")
    _write_csv_atomic(Path(args.out), out)
    if args.log:
        write_release_log([res], args.log)
    log.info("%r", res)
    return 0


def _check_targets(args: argparse.Namespace) -> None:
    """Refuse, before any work, outputs that cannot be written (nothing half-written)."""
    problems = []
    for flag, value in (("--out", args.out), ("--log", args.log)):
        if not value:
            continue
        target = Path(value)
        if target.is_dir():
            problems.append(f"{flag} {target} is a folder; give a file name")
        elif not target.parent.is_dir():
            problems.append(f"{flag} {target}: folder {target.parent} does not exist; "
                            "create it first or choose another path")
        elif not os.access(target.parent, os.W_OK):
            problems.append(f"{flag} {target}: folder {target.parent} is not writable")
    if Path(args.out).resolve() == Path(args.table).resolve():
        problems.append(f"--out {args.out} is the input table; give another file")
    if problems:
        raise DisclosureError(f"{args.table}: cannot write the protected table.", problems)


def _write_csv_atomic(path: Path, df: pd.DataFrame) -> None:
    """Write beside the target and rename, so a failure leaves no half-written CSV."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        df.to_csv(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
