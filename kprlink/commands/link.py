"""``kprlink link --data DIR --out FILE``: link NPR and KPR through the key file.

Writes the person map (person_id, kpr_id, npr_id, flags) to FILE (the user's
work folder; refused inside a released output folder) and prints the linkage
report's figures with counts below ``--min-cell-count`` hidden and the others
rounded to 5.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "link"
HELP = "Link NPR and KPR through the key file; write the person map, print the report."


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``kprlink link``."""
    p.add_argument("--data", type=Path, required=True, help="delivery folder")
    p.add_argument("--out", type=Path, required=True, help="person map (.parquet/.csv)")
    p.add_argument("--shared-id-col", default=None,
                   help="link on this pseudonym column of both registers instead of the key")
    p.add_argument("--min-cell-count", type=int, default=5,
                   help="hide terminal counts below this (default 5)")


def run(args: argparse.Namespace) -> int:
    """Link and write; KprlinkError propagates (the CLI exits 2)."""
    from kprlink.commands._personfile import check_person_path, masked_table, write_persons
    from kprlink.exceptions import LinkageError, Problem
    from kprlink.linkage import link_extracts
    from kprlink.sources import read_delivery

    if not args.data.is_dir():
        raise FileNotFoundError(2, "No such delivery folder", str(args.data))
    check_person_path(args.out, data=args.data)
    # only what the linkage reads (a national delivery does not fit whole in memory)
    d = read_delivery(args.data, columns=None if args.shared_id_col is not None else {
        "npr_episodes": ("npr_id", "date_in", "year", "sex", "birth_year", "death_date"),
        "kuhr_claims": ("kpr_id", "date", "year", "sex", "sex_corrected", "birth_year",
                        "death_date"),
        "key": None})
    lacking = [n for n in ("npr_episodes", "kuhr_claims") if getattr(d, n) is None]
    if args.shared_id_col is None and d.key is None:
        lacking.append("key")
    if lacking:
        raise LinkageError(f"the delivery in {args.data} lacks {lacking}",
                           [Problem(str(args.data), None, "missing_file", f"no {n} file")
                            for n in lacking])
    res = link_extracts(d.npr_episodes, d.kuhr_claims, key=d.key,
                        shared_id_col=args.shared_id_col)
    write_persons(res.persons, args.out)
    sys.stdout.write(f"{res!r} -> {args.out}\n"
                     f"{masked_table(res.summary(), ['n'], min_cell_count=args.min_cell_count)}\n")
    return 0
