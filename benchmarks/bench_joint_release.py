"""Benchmark: joint protection and audit of a whole study (issue 13) at a given scale.

Generates a synthetic delivery (``--scale``, ``--seed``), runs the analysis steps of a
shipped study (default ``dementia_2016_2017``), then times, in the same run:

* the reference: every table protected on its own with ``kl.suppress_table`` (with audit),
  the per-table path the runner used before;
* the joint protection over atoms of persons (``protect_study``), with its LP/MILP audit;
* the outsider's attack (``kprlink.disclosure.outsider``) on the written release folder.

Prints wall times, the joint/per-table ratio, the number of atoms and cells, and the
peak resident memory. Target (issue 13): the dementia study at scale 1 under 60 s.

Usage::

    python benchmarks/bench_joint_release.py [--scale 0.02] [--seed 2017] [--study NAME]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import kprlink as kl
from kprlink import _study_release as rel
from kprlink.analyses import StudyContext, get_step
from kprlink.analyses._registry import params_dict
from kprlink.study import StudySpec, _open_delivery, find_study, run_study


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=0.02)
    p.add_argument("--seed", type=int, default=2017)
    p.add_argument("--study", default="dementia_2016_2017")
    args = p.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="bench-joint-"))
    t = time.perf_counter()
    kl.generate_delivery(root / "d", kl.SynthConfig(scale=args.scale, seed=args.seed))
    print(f"synthetic delivery, scale {args.scale}: {time.perf_counter() - t:.1f} s")
    spec = StudySpec.from_toml(find_study(args.study))
    ctx = StudyContext(spec=spec, delivery=_open_delivery(root / "d"), work_dir=root / "w")
    t = time.perf_counter()
    steps = {s.name: get_step(s.kind)(ctx, **params_dict(s.params)) for s in spec.tables}
    print(f"analysis steps: {time.perf_counter() - t:.1f} s")
    universe = (ctx.cohort()["person_id"].to_numpy("int64")
                if spec.cohort_path is not None else None)
    rule = rel.rule_of(spec.disclosure)
    t = time.perf_counter()
    for at in steps.values():
        kl.suppress_table(at.cells[[*at.dims, at.count_col]], list(at.dims),
                          count_col=at.count_col, rule=rule, audit=True)
    ref = time.perf_counter() - t
    t = time.perf_counter()
    joint = rel.protect(steps, spec.disclosure, universe=universe)
    took = time.perf_counter() - t
    cells = sum(len(df) for df in joint.tables.values())
    print(f"per table (reference, suppress_table with audit): {ref:.1f} s")
    print(f"joint over {joint.n_atoms:,} atoms, {cells:,} cells, {joint.n_repairs} repairs: "
          f"{took:.1f} s  (ratio joint/per-table {took / max(ref, 1e-9):.2f}); "
          f"problems: {len(joint.problems)}")
    t = time.perf_counter()
    run_study(args.study, data=root / "d", out=root / "o", work=root / "w2")
    print(f"whole study run: {time.perf_counter() - t:.1f} s")
    from kprlink.disclosure.outsider import check_release

    t = time.perf_counter()
    findings = check_release(root / "o")
    print(f"outsider attack on release/: {len(findings)} findings, "
          f"{time.perf_counter() - t:.1f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory: {peak:,.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
