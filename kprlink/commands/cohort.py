"""``kprlink cohort DEF.toml --data DIR --out FILE``: build a cohort from a delivery.

Writes the person-level cohort to FILE (Parquet or CSV; the user's work folder,
never a released output folder) and, with ``--attrition``, the attrition table.
The terminal shows the attrition table with counts below ``--min-cell-count``
hidden and the others rounded to 5, because terminal output may be copied out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "cohort"
HELP = "Build a cohort from a cohort definition (TOML) and a delivery folder."


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``kprlink cohort``."""
    p.add_argument("definition", type=Path, help="cohort definition (TOML)")
    p.add_argument("--data", type=Path, required=True, help="delivery folder")
    p.add_argument("--out", type=Path, required=True, help="person-level cohort (.parquet/.csv)")
    p.add_argument("--attrition", type=Path, default=None, help="write the attrition table (CSV)")
    p.add_argument("--min-cell-count", type=int, default=5,
                   help="hide terminal counts below this (default 5)")


def run(args: argparse.Namespace) -> int:
    """Build and write; KprlinkError propagates (the CLI exits 2)."""
    import warnings

    from kprlink.cohorts import CohortDefinition, build_cohort
    from kprlink.exceptions import DataQualityWarning
    from kprlink.commands._personfile import check_person_path, masked_table, write_persons

    if not args.definition.is_file():
        raise FileNotFoundError(2, "No such file", str(args.definition))
    if not args.data.is_dir():
        raise FileNotFoundError(2, "No such delivery folder", str(args.data))
    check_person_path(args.out, data=args.data)
    if args.attrition is not None:  # checked before the work (any suffix: a CSV is written)
        check_person_path(args.attrition.with_suffix(".csv"), data=args.data)
    definition = CohortDefinition.from_toml(args.definition)
    # a folder: only the columns the cohort needs (an imported one: only its candidates' rows)
    with warnings.catch_warnings():  # said once below, in the command's own words
        warnings.simplefilter("ignore", DataQualityWarning)
        result = build_cohort(args.data, definition)
    for text in result.warnings:
        sys.stderr.write(f"kprlink cohort: WARNING: {text}.\n")
    write_persons(result.persons, args.out)
    if args.attrition is not None:
        result.summary().to_csv(args.attrition, index=False)
    table = masked_table(result.attrition, ["n_records", "n_persons", "n_records_excluded",
                                            "n_persons_excluded"],
                         min_cell_count=args.min_cell_count)
    sys.stdout.write(f"cohort {definition.name} (digest {definition.digest}) -> {args.out}\n"
                     f"{table}\n")
    return 0
