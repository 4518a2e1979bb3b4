"""The offline install recipe's checksum step works as written (docs/secure_environment.md)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "secure_environment.md"


def _line(needle: str) -> str:
    lines = [ln for ln in DOC.read_text(encoding="utf-8").splitlines() if needle in ln]
    assert len(lines) == 1, f"one line with {needle!r} expected in {DOC.name}"
    return lines[0]


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="needs coreutils sha256sum")
def test_checksums_written_outside_verify_inside(tmp_path):
    outside = tmp_path / "outside"
    (outside / "wheelhouse").mkdir(parents=True)
    for name in ("kprlink-0.1.0-py3-none-any.whl", "pandas-3.0.0.tar.gz"):
        (outside / "wheelhouse" / name).write_bytes(name.encode())
    write = _line("> SHA256SUMS")
    for _ in range(2):  # rerunning the step must not checksum the checksum file
        subprocess.run(["bash", "-c", write], cwd=outside, check=True)
    sums = (outside / "wheelhouse" / "SHA256SUMS").read_text().splitlines()
    assert len(sums) == 2 and all("/" not in ln for ln in sums)
    inside = tmp_path / "inside"
    shutil.copytree(outside / "wheelhouse", inside / "wheelhouse")
    check = _line("sha256sum -c SHA256SUMS")
    subprocess.run(["bash", "-c", check], cwd=inside, check=True)
    assert "ipykernel install" in DOC.read_text(encoding="utf-8")
