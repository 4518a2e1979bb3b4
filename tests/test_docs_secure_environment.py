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


def _blocks(section: str) -> list[str]:
    """The ```bash blocks of the doc's section starting with `section` (e.g. "## 1.")."""
    text = DOC.read_text(encoding="utf-8")
    part = text.split(section, 1)[1].split("\n## ", 1)[0]
    return [b.split("\n", 1)[1] for b in part.split("```bash")[1:] for b in [b.split("```")[0]]]


def _bash(script: str, cwd: Path, env: dict[str, str]) -> None:
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, f"{script}\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("python3.11") is None or shutil.which("sha256sum") is None,
                    reason="the recipe names python3.11 and coreutils sha256sum")
def test_offline_install_recipe_end_to_end(tmp_path):
    """Sections 1-3 as written: wheelhouse (from the configured index), checksums after a
    copy, a --no-index install that can reach nothing else, kernel registration, and the
    check on synthetic data (about 4 minutes)."""
    import json
    import os

    root = DOC.parents[1]
    checkout = tmp_path / "checkout"
    shutil.copytree(root, checkout, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "site", ".cache", "*.egg-info", "__pycache__", ".hypothesis",
        "build", "dist", "wheelhouse", "build-env"))
    outside = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    for block in _blocks("## 1."):
        _bash(block, checkout, outside)
    inside_dir = tmp_path / "inside"
    shutil.copytree(checkout / "wheelhouse", inside_dir / "wheelhouse")
    shutil.copytree(root / "studies", inside_dir / "studies")
    home = inside_dir / "home"
    home.mkdir()
    # no package source but the wheelhouse: no pip configuration, no index, no find-links
    inside = {k: v for k, v in outside.items() if not k.startswith(("PIP_", "JUPYTER"))}
    inside.update(HOME=str(home), PIP_CONFIG_FILE=os.devnull, PIP_NO_COMPILE="1")
    for block in _blocks("## 2.") + _blocks("## 3."):
        _bash(block, inside_dir, inside)
    spec = json.loads((home / ".local/share/jupyter/kernels/kprlink/kernel.json").read_text())
    assert spec["argv"][0] == str(inside_dir / ".venv" / "bin" / "python")
    assert spec["display_name"] == "Python (kprlink)"
    log = json.loads((inside_dir / "check/out/checker/release_log.json").read_text())
    assert log["all_passed"] is True
