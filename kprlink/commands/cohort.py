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

from kprlink.commands._engine_args import add_engine_arguments, engine_of

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
    p.add_argument("--link", choices=("key", "probabilistic"), default=None,
                   help="key: key file only; probabilistic: add model links for persons the "
                        "key misses (default: the definition's [linkage] table, else key)")
    p.add_argument("--min-probability", type=float, default=None,
                   help="with --link probabilistic: accept model links at or above this match "
                        "probability (default: the threshold chosen on held-out key pairs)")
    add_engine_arguments(p)


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
    definition = _with_link_options(CohortDefinition.from_toml(args.definition), args)
    # a folder: only the columns the cohort needs (an imported one: only its candidates' rows)
    with warnings.catch_warnings(), engine_of(args) as engine:  # warnings: said once below
        warnings.simplefilter("ignore", DataQualityWarning)
        result = (build_cohort(args.data, definition) if args.engine is None
                  else build_cohort(args.data, definition, engine=engine))
    for text in result.warnings:
        sys.stderr.write(f"kprlink cohort: WARNING: {text}.\n")
    write_persons(result.persons, args.out)
    if args.attrition is not None:
        result.summary().to_csv(args.attrition, index=False)
    counts = ["n_records", "n_persons", "n_records_excluded", "n_persons_excluded"]
    counts += [c for c in ("n_persons_key", "n_persons_model", "n_persons_none")
               if c in result.attrition.columns]
    table = masked_table(result.attrition, counts, min_cell_count=args.min_cell_count)
    sys.stdout.write(f"cohort {definition.name} (digest {definition.digest}) -> {args.out}\n"
                     f"{table}\n")
    return 0


def _with_link_options(definition: object, args: argparse.Namespace) -> object:
    """The definition with ``--link`` / ``--min-probability`` applied to its [linkage]."""
    from dataclasses import replace

    from kprlink.cohorts._model_links import LinkageOptions
    from kprlink.exceptions import Problem, SpecError

    current = definition.linkage or LinkageOptions()  # type: ignore[attr-defined]
    method = args.link or current.method
    if args.min_probability is not None and method != "probabilistic":
        raise SpecError("--min-probability needs --link probabilistic",
                        [Problem("--min-probability", None, "needs_probabilistic",
                                 "add --link probabilistic, or drop --min-probability")])
    if args.link is None and args.min_probability is None:
        return definition
    opts = replace(current, method=method,
                   min_probability=(args.min_probability if args.min_probability is not None
                                    else current.min_probability))
    return replace(definition, linkage=opts)  # type: ignore[type-var]
