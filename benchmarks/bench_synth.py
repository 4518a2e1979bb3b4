"""Benchmark of the synthetic Norway generator.

Usage: ``python benchmarks/bench_synth.py [SCALE] [OUT]`` (default 0.1).
Prints generation time, peak memory (max RSS of this process) and each
calibration target beside the generated value.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from kprlink.synth import SynthConfig, generate_delivery


def main() -> None:
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 0.1
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tempfile.mkdtemp()) / "synth"
    t0 = time.perf_counter()
    res = generate_delivery(out, SynthConfig(scale=scale, seed=2017, progress=True))
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # GiB (Linux KiB)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 10)
    lines = [f"scale {scale}: {wall:,.1f} s, peak RSS {peak:.2f} GiB, "
             f"{int(res.files['rows'].sum()):,} rows in {len(res.files)} files -> {out}",
             res.files[["file", "rows"]].to_string(index=False),
             res.calibration.drop(columns="source").to_string(index=False),
             res.defects.to_string(index=False)]
    sys.stdout.write("\n\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
