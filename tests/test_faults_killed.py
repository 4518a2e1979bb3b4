"""``kprlink import`` and ``kprlink run`` SIGKILLed at seeded random points (issue 17, item 9).

Each command runs as a subprocess that stops dead before its K-th file-system
step (a write, rename, mkdir or rmtree; ``tests/_kill_at.py``), with K drawn
from a seeded generator over the steps a whole run takes, and is SIGKILLed
there. Then nothing half-written is accepted: the output folder is either as it
was or complete; a hidden temporary folder is refused by the readers unless it
is complete; the release ledger knows every release in place. A rerun succeeds
and leaves no temporary folder.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from test_sources_data import CLAIMS, write_csv, write_delivery

import kprlink as kl
from kprlink.cli import main
from kprlink.exceptions import ValidationError
from kprlink.sources import read_delivery
from kprlink.sources._manifest import load_manifest

HARNESS = Path(__file__).with_name("_kill_at.py")
pytestmark = pytest.mark.slow


def _run(k: int, args: list[str], tmp: Path) -> tuple[int | None, str]:
    """Run ``kprlink args`` stopping at step `k` (0: to the end). Returns the step
    count of a whole run (k = 0) or None, and the name of the step killed at."""
    flag, count = tmp / f"flag-{k}", tmp / f"count-{k}"
    for p in (flag, count):
        p.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(HARNESS.parent), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.Popen([sys.executable, str(HARNESS), str(k), str(flag), str(count),
                             "--", *args], env=env, cwd=tmp,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if k == 0:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-2000:]
        return int(count.read_text()), ""
    deadline = time.monotonic() + 120
    while not flag.exists():
        if proc.poll() is not None:
            raise AssertionError(f"ended before step {k}: {proc.stderr.read().decode()[-2000:]}")
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    return None, flag.read_text()


def _points(n_steps: int, seed: int, k: int) -> list[int]:
    return sorted(random.Random(seed).sample(range(1, n_steps + 1), min(k, n_steps)))


def _hidden(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.startswith("."))


def _whole_import(folder: Path) -> int:
    """Claims in a complete import (every file as its manifest says); raises otherwise."""
    load_manifest(folder, digests=True)
    return len(read_delivery(folder).kuhr_claims)


def test_import_killed_at_random_points_then_rerun(tmp_path):
    raw = write_delivery(tmp_path / "raw", with_truth=False)
    new = write_delivery(tmp_path / "new", with_truth=False)
    write_csv(CLAIMS.iloc[:4], new / "kpr_kuhr_regninger.csv")  # a later delivery: 4 claims
    out = tmp_path / "imp"
    n_steps, _ = _run(0, ["import", str(raw), "--out", str(out)], tmp_path)
    assert n_steps >= 10 and _whole_import(out) == 5
    force = ["import", str(new), "--out", str(out), "--force"]
    n_force, _ = _run(0, force, tmp_path)
    assert _whole_import(out) == 4
    killed_at = []
    for k in _points(n_force, seed=17, k=3):
        assert main(["import", str(raw), "--out", str(out), "--force"]) == 0  # 5 claims
        _, name = _run(k, force, tmp_path)
        killed_at.append(name)
        left = _hidden(tmp_path)
        if out.exists():
            assert _whole_import(out) in (4, 5), (k, name)  # old or new, never a mix
        else:  # killed between the two renames: the earlier import waits beside it
            olds = [p for p in left if ".old-" in p.name]
            assert len(olds) == 1 and _whole_import(olds[0]) == 5, (k, name)
        for p in left:
            if ".tmp-" in p.name:
                try:
                    n = _whole_import(p)
                except ValidationError as err:  # half-written: refused, says what to do
                    assert "Import the delivery again" in str(err)
                    assert main(["validate", str(p)]) == 2
                else:
                    assert n == 4  # complete, only not yet renamed
        assert main(force) == 0
        assert _whole_import(out) == 4 and _hidden(tmp_path) == [], (k, name)
    assert len(set(killed_at)) >= 2  # the points differ in kind, not only in count


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("killrun") / "d"
    kl.generate_delivery(out, kl.SynthConfig(scale=0.0005, seed=3))
    return out


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_run_killed_at_random_points_then_rerun(synth, tmp_path):
    study = "welfare_technology_2017"
    ref = tmp_path / "ref"
    args = lambda o: ["run", study, "--data", str(synth), "--out", str(o),  # noqa: E731
                      "--work", str(tmp_path / "work"), "--quiet"]
    # the reference run leaves the state every killed run starts from (its own
    # ledger entry in place, no output folder), so the step counts agree
    assert main(args(tmp_path / "first")) == 0  # a first run also makes the work folders
    n_steps, _ = _run(0, args(ref), tmp_path)
    expected = _files(ref / "release")
    ledger = tmp_path / "work" / "ledger"
    out = tmp_path / "o"
    # a seeded point, and the last step (where a ledger written after the
    # release's rename would be missing although the release is out)
    for k in sorted({*_points(n_steps, seed=9, k=1), n_steps}):
        _, name = _run(k, args(out), tmp_path)
        if out.exists():  # in place only when whole, and then in the ledger
            assert _files(out / "release") == expected, (k, name)
            assert (out / "checker" / "provenance.json").is_file()
            assert list(ledger.rglob("*.cells.parquet")), (k, name)
        left = [p for p in _hidden(tmp_path) if p.name.startswith(".o.")]
        assert all(".tmp-" in p.name or ".old-" in p.name for p in left)
        rerun = [*args(out), "--force"] if out.exists() else args(out)
        assert main(rerun) == 0, (k, name)
        assert _files(out / "release") == expected
        assert [p for p in _hidden(tmp_path) if p.name.startswith(".o.")] == []
        assert not list(ledger.rglob(".*tmp-*"))  # no half-written ledger entry left
        cells = pd.read_parquet(next(ledger.rglob("*.cells.parquet")))
        assert len(cells) > 0
        shutil.rmtree(out)
