"""``kprlink demo --out DIR``: the dementia study on a small synthetic Norway.

Generates a synthetic delivery (scale 0.01 ≈ 52,600 persons by default) in
a work folder beside ``--out``, then runs the shipped study
``dementia_2016_2017`` (``kprlink/studies``, the repository's ``studies/``)
on it and writes the release to ``--out``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "demo"
HELP = "Run the dementia 2016-17 study on a small synthetic delivery (the first thing to try)."
DEMO_STUDY = "dementia_2016_2017"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``kprlink demo``."""
    p.add_argument("--out", type=Path, required=True, help="output folder for the release")
    p.add_argument("--scale", type=float, default=0.01,
                   help="share of Norway to synthesise (default 0.01 ≈ 52,600 persons)")
    p.add_argument("--seed", type=int, default=2017, help="random seed (default 2017)")
    p.add_argument("--work", type=Path, default=None,
                   help="folder for the synthetic delivery and person-level data "
                        "(default: <out>.work)")
    p.add_argument("--study", default=DEMO_STUDY, help=f"study to run (default {DEMO_STUDY})")
    p.add_argument("--force", action="store_true", help="replace an existing output folder")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    """Synthesise, then run the study; bad input raises KprlinkError (exit 2)."""
    from kprlink._atomic import check_output_folder
    from kprlink.commands.run import describe
    from kprlink.study import find_study, run_study
    from kprlink.synth import SynthConfig, generate_delivery

    out: Path = args.out
    work: Path = args.work if args.work is not None else out.parent / f"{out.name}.work"
    study = find_study(args.study)
    check_output_folder(out, force=args.force, inputs={"work": work})
    delivery = work / "delivery"
    generate_delivery(delivery, SynthConfig(scale=args.scale, seed=args.seed,
                                            progress=not args.quiet))
    # the study's intermediates beside the delivery, never inside it (nor it inside them)
    res = run_study(study, data=delivery, out=out, work=work / "study", force=args.force,
                    progress=not args.quiet)
    sys.stdout.write(describe(res))
    sys.stdout.write(f"  synthetic delivery (person-level, keep it out of releases): {delivery}\n")
    return 0
