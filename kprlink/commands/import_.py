"""``kprlink import PATH --out DIR``: read a delivery once, write canonical Parquet.

Later steps read ``DIR`` with ``kprlink.read_delivery(DIR)`` (fast, same frames).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kprlink.commands.validate import iso_day

NAME = "import"
HELP = "Read a delivery (folder or file), validate it and write canonical Parquet to --out."


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``kprlink import``."""
    p.add_argument("path", type=Path, help="a delivery folder or one extract file")
    p.add_argument("--out", type=Path, required=True,
                   help="output folder for the Parquet files (must not exist, see --force; "
                   "never inside or around the delivery)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing import in --out")
    p.add_argument("--extraction-date", type=iso_day, default=None, metavar="YYYY-MM-DD",
                   help="the day the delivery was extracted, where the provider states it: "
                   "events after it are excluded (after_extraction)")
    p.add_argument("--partitions", type=int, default=None, metavar="N",
                   help="also split the persons into N hash partitions under "
                   "OUT/partitions/ for the partition-wise engines (kprlink cohort/run "
                   "--engine); each person's rows in one partition")


def run(args: argparse.Namespace) -> int:
    """Import and print what was written; KprlinkError propagates (exit 2)."""
    import json

    import pyarrow.parquet as pq

    from kprlink.sources import import_delivery
    from kprlink.sources.delivery import MANIFEST

    delivery = import_delivery(args.path, args.out, force=args.force,
                               extraction_date=args.extraction_date,
                               partitions=args.partitions)
    frames = json.loads((Path(args.out) / MANIFEST).read_text(encoding="utf-8"))["frames"]
    written = ", ".join(
        f"{k} ({pq.ParquetFile(Path(args.out) / v).metadata.num_rows:,} rows)"
        for k, v in frames.items())
    sys.stdout.write(f"Wrote {written} and {MANIFEST} to {args.out}.\n{delivery.report}\n")
    return 0
