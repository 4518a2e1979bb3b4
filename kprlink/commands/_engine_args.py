"""``--engine`` options shared by ``kprlink cohort``, ``run`` and ``link``."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from typing import Any


def add_engine_arguments(p: argparse.ArgumentParser) -> None:
    """``--engine``, ``--scheduler``, ``--workers``, ``--memory-limit``."""
    g = p.add_argument_group(
        "engine", "where a partitioned import (kprlink import --partitions N) is processed; "
        "every engine gives the same results")
    g.add_argument("--engine", choices=["in-process", "dask"], default=None,
                   help="in-process (default): partition by partition in this process; "
                        "dask: the same partition functions on a dask.distributed cluster")
    g.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="with --engine dask: a running scheduler, e.g. tcp://host:8786 "
                        "(dask-jobqueue SLURMCluster, see docs/scale.md)")
    g.add_argument("--workers", type=int, default=None, metavar="N",
                   help="with --engine dask and no --scheduler: start a local cluster of N "
                        "worker processes (default 2)")
    g.add_argument("--memory-limit", default=None, metavar="SIZE",
                   help="with a local cluster: memory limit per worker, e.g. 1GiB")


@contextlib.contextmanager
def engine_of(args: argparse.Namespace) -> Iterator[Any]:
    """The engine the options name (a local cluster is closed afterwards)."""
    from kprlink._engine import engine_from
    from kprlink.exceptions import SpecError

    if args.engine != "dask" and (args.scheduler or args.workers or args.memory_limit):
        raise SpecError("--scheduler, --workers and --memory-limit need --engine dask.",
                        ["add --engine dask, or drop those options"])
    if args.scheduler and (args.workers or args.memory_limit):
        raise SpecError("--workers/--memory-limit start a local cluster; with --scheduler "
                        "the cluster's own workers are used.", ["drop --workers/--memory-limit"])
    with engine_from(args.engine, scheduler=args.scheduler, workers=args.workers,
                     memory_limit=args.memory_limit) as eng:
        yield eng
