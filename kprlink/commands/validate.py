"""``kprlink validate PATH``: read a file or delivery folder and print the report.

Exit 0 when every file is usable (rows may have been repaired or excluded;
the report counts them), exit 2 with the problems otherwise. The report is an
internal quality report for the data manager: it shows row numbers and counts,
never a value of a person-level row.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

NAME = "validate"
HELP = "Validate a register extract file or a delivery folder and print the report."


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``kprlink validate``."""
    p.add_argument("path", type=Path, help="an extract file or a delivery folder")
    p.add_argument("--contract", default=None,
                   help="contract of a single file, e.g. kpr_kuhr.claims (default: detect)")
    p.add_argument("--encoding", default=None,
                   help="text encoding of a single file (default: detect)")
    p.add_argument("--sep", default=None, help="CSV separator of a single file (default: detect)")
    p.add_argument("--markdown", action="store_true", help="print the report as Markdown only")
    p.add_argument("--extraction-date", type=iso_day, default=None, metavar="YYYY-MM-DD",
                   help="the day the delivery was extracted, where the provider states it: "
                   "events after it are reported (after_extraction)")


def iso_day(text: str) -> dt.date:
    """An ISO day for ``--extraction-date`` (argparse exits 2 on anything else)."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a day as YYYY-MM-DD: {text!r}") from None


def run(args: argparse.Namespace) -> int:
    """Validate and print; KprlinkError propagates (the CLI exits 2)."""
    from kprlink.sources import read_delivery, read_extract
    from kprlink.sources._manifest import is_imported, load_manifest

    path: Path = args.path
    if path.is_dir():
        if is_imported(path):  # every frame file's digest, not only its size
            load_manifest(path, digests=True)
            if args.extraction_date is not None:
                _refuse_late_extraction_date(path)
        delivery = read_delivery(path, extraction_date=args.extraction_date)
        report = delivery.report
        _require_recognised(path, delivery)
    else:
        if not path.exists():
            raise FileNotFoundError(2, "No such file or directory", str(path))
        report = read_extract(path, args.contract, encoding=args.encoding, sep=args.sep,
                              extraction_date=args.extraction_date).report
    text = report.to_markdown() if args.markdown else str(report)
    sys.stdout.write(text + "\n")
    return 0


def _refuse_late_extraction_date(path: Path) -> None:
    """An imported folder was checked when it was imported: say so (exit 2)."""
    from kprlink.exceptions import KprlinkError, Problem

    raise KprlinkError(
        f"{str(path)!r} is an imported delivery: its rows were checked when it was imported",
        [Problem(str(path), None, "already_imported",
                 "--extraction-date cannot be applied to an imported folder.",
                 hint="Import the delivery again with kprlink import --extraction-date.")])


def _require_recognised(path: Path, delivery: object) -> None:
    """Refuse (exit 2) a folder where no file matches a register contract."""
    import dataclasses

    from kprlink.exceptions import KprlinkError, Problem

    frames = [f.name for f in dataclasses.fields(delivery)  # type: ignore[arg-type]
              if f.name not in ("path", "files", "report")]
    if any(getattr(delivery, name) is not None for name in frames):
        return
    others = sorted(p.name for p in path.iterdir() if p.is_file())
    what = (f"none of its {len(others)} file(s) matches a register contract "
            f"({', '.join(others[:5])}{' …' if len(others) > 5 else ''})" if others
            else "the folder holds no files")
    raise KprlinkError(
        f"no register extract recognised in {str(path)!r}: {what}",
        [Problem(str(path), None, "nothing_recognised",
                 "no KPR, NPR, key or population file was found.",
                 hint="Point at the delivery folder itself (files like kpr_kuhr_regninger.csv, "
                      "npr_episoder.csv, nokkel_npr_kpr.csv; see docs/formats.md), or "
                      "validate one file with --contract")])
