"""``kprlink run STUDY --data DIR --out DIR``: run a study end to end.

Writes ``--out/release/`` (what leaves: tables as CSV and XLSX, figures as PNG
and SVG, a one-page report in Markdown and HTML) and ``--out/checker/`` (stays
inside: the release log with every cell's status, reason and audit interval,
and provenance); person-level
intermediates go to ``--work`` (default ``<out>.work``), never to ``--out``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kprlink.commands._engine_args import add_engine_arguments, engine_of

NAME = "run"
HELP = "Run a study (a folder with study.toml, or a shipped study's name) on a delivery."


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``kprlink run``."""
    p.add_argument("study", help="study folder, its study.toml, or the name of a shipped "
                   "study (e.g. dementia_2016_2017)")
    p.add_argument("--data", type=Path, required=True, help="delivery folder")
    p.add_argument("--out", type=Path, required=True,
                   help="output folder for released files (must not exist, see --force)")
    p.add_argument("--work", type=Path, default=None,
                   help="folder for person-level intermediates (default: <out>.work)")
    p.add_argument("--ledger", type=Path, default=None,
                   help="release ledger: what earlier runs on this delivery published, "
                        "audited with this run (default: <work>/ledger; keep one per project)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing kprlink output folder")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_engine_arguments(p)


def run(args: argparse.Namespace) -> int:
    """Run the study; bad input raises KprlinkError (exit 2)."""
    from kprlink.study import run_study

    with engine_of(args) as engine:
        res = run_study(args.study, data=args.data, out=args.out, work=args.work,
                        ledger=args.ledger, force=args.force, progress=not args.quiet,
                        engine=engine)
    sys.stdout.write(describe(res))
    return 0


def describe(res: object) -> str:
    """A few lines naming what was written (no counts from person-level data)."""
    out = res.out  # type: ignore[attr-defined]
    rel, chk = out / "release", out / "checker"
    lines = [f"{res!r}", f"  released tables: {rel / 'tables'} and {rel / 'tables.xlsx'}",
             f"  figures:         {rel / 'figures'}",
             f"  report:          {rel / 'report.html'} (and report.md)",
             f"  for the checker: {chk / 'release_log.csv'}, {chk / 'provenance.json'}"
             " (stay inside)"]
    return "\n".join(lines) + "\n"
