"""Run ``kprlink ARGS`` and stop dead at its K-th file-system step (for SIGKILL tests).

Usage: ``python tests/_kill_at.py K FLAG COUNT -- kprlink-args...``

Every write, rename, replace, mkdir and rmtree the command makes is a step.
Before step K the process writes the step's name to FLAG and sleeps, so the test
can SIGKILL it exactly there; K = 0 runs to the end and writes the number of
steps taken to COUNT.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import sys
import time


def main() -> int:
    k, flag, count = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    args = sys.argv[sys.argv.index("--") + 1:]
    import pandas as pd
    import pyarrow.parquet as pq

    taken = [0]
    real_open = open

    def step(name: str) -> None:
        taken[0] += 1
        if taken[0] == k:
            with real_open(flag, "w", encoding="utf-8") as fh:
                fh.write(name)
            time.sleep(600)

    def hook(owner: object, attr: str) -> None:
        real = getattr(owner, attr)

        def hooked(*a: object, **kw: object) -> object:
            step(f"{getattr(owner, '__name__', owner)}.{attr}")
            return real(*a, **kw)

        setattr(owner, attr, hooked)

    for owner, attr in ((pathlib.Path, "rename"), (pathlib.Path, "replace"),
                        (pathlib.Path, "write_text"), (pathlib.Path, "write_bytes"),
                        (pathlib.Path, "mkdir"), (pd.DataFrame, "to_parquet"),
                        (pd.DataFrame, "to_csv"), (pq.ParquetWriter, "write_table"),
                        (shutil, "rmtree"), (os, "replace"), (os, "rename")):
        hook(owner, attr)
    from kprlink.cli import main as cli

    code = cli(args)
    with real_open(count, "w", encoding="utf-8") as fh:
        fh.write(str(taken[0]))
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
