"""``kprlink synth``: write a synthetic Norway delivery."""

from __future__ import annotations

import argparse
import logging
import sys
import time


NAME = "synth"
HELP = "Write a synthetic KPR + NPR delivery (any scale) with its truth folder."

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``kprlink synth``."""
    p.add_argument("--scale", type=float, default=0.01,
                   help="share of Norway: 1 = 5.26 million persons (default 0.01)")
    p.add_argument("--seed", type=int, default=2017, help="random seed (default 2017)")
    p.add_argument("--out", required=True, help="delivery folder to write")
    p.add_argument("--format", choices=["csv", "parquet"], default="csv", dest="fmt",
                   help="file format of the register extracts (default csv)")
    p.add_argument("--defect-rate", type=float, default=0.01,
                   help="rate of injected delivery defects; 0 = clean (default 0.01)")
    p.add_argument("--years", default=None, metavar="FIRST-LAST",
                   help="a multi-year delivery, one file per register and year, e.g. "
                        "2016-2024 (KPR-KUHR from 1 July 2016, KPR helse og omsorg from "
                        "2017); without it the single-year 2016-2017 delivery")
    p.add_argument("--key-failures", type=int, default=0, metavar="N",
                   help="also inject N key failures of each kind (temporary ids, new ids "
                        "after a change of sex, duplicate NPR ids, conflicts where both keys "
                        "have data; truth/key_failures.parquet); needs --format parquet and "
                        "the single-year delivery (default 0: none)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Generate the delivery; a bad setting raises SpecError (exit 2)."""
    from kprlink.synth import SynthConfig, generate_delivery

    config = SynthConfig(scale=args.scale, seed=args.seed, fmt=args.fmt,
                         defect_rate=args.defect_rate, progress=not args.quiet)
    if args.key_failures and (args.fmt != "parquet" or args.years is not None):
        from kprlink.exceptions import SpecError

        raise SpecError("--key-failures needs --format parquet and no --years",
                        ["--key-failures: add --format parquet, drop --years"])
    t0 = time.monotonic()
    if args.years is not None:
        from kprlink.synth.years import generate_years, parse_years

        res = generate_years(args.out, config, years=parse_years(args.years))
    else:
        res = generate_delivery(args.out, config)
        if args.key_failures:
            from kprlink.synth.key_failures import inject_key_failures

            inject_key_failures(args.out, n_each=args.key_failures, seed=args.seed)
    log.info("%r", res)
    sys.stdout.write(f"synth: {len(res.files)} files, {int(res.files['rows'].sum()):,} rows "
                     f"(scale {args.scale}, seed {args.seed}"
                     f"{', years ' + args.years if args.years else ''}) written to {args.out} in "
                     f"{time.monotonic() - t0:.1f} s; truth/ holds person-level answers, "
                     "keep it out of releases.\n")
    return 0
