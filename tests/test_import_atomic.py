"""``kprlink import`` is atomic, and readers accept only whole imports (issue 17, item 1).

A kill mid-import (an exception, or a real SIGKILL of a subprocess) leaves the
output folder as it was; a half-written or tampered folder is refused by every
reader (read_delivery, ImportedDelivery, the cohort fast path, a study, validate)
with a message saying to import again; the next import removes what a dead
process left behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from test_sources_data import write_delivery

from kprlink._atomic import OutputFolderError, remove_stale
from kprlink.cli import main
from kprlink.cohorts import CohortDefinition, EntryCriterion, build_cohort
from kprlink.codes import CodeList
from kprlink.exceptions import ValidationError
from kprlink.sources import ImportedDelivery, import_delivery, read_delivery
from kprlink.sources._manifest import MANIFEST, load_manifest

DEF = CohortDefinition("dem", "2016-07-01", "2017-06-30",
                       [EntryCriterion("npr", [CodeList("dem", "ICD-10", ["F00-F03", "G30"])])])


@pytest.fixture
def raw(tmp_path):
    return write_delivery(tmp_path / "raw")


@pytest.fixture
def imported(raw, tmp_path):
    out = tmp_path / "imp"
    import_delivery(raw, out)
    return out


def _reasons(err: pytest.ExceptionInfo) -> set[str]:
    return {p.reason for p in err.value.problems}


def _refused_everywhere(folder: Path, reason: str) -> None:
    """read_delivery, ImportedDelivery and the cohort fast path all refuse `folder`."""
    for read in (read_delivery, ImportedDelivery, lambda f: build_cohort(f, DEF)):
        with pytest.raises(ValidationError) as err:
            read(folder)
        assert reason in _reasons(err), read
        assert "Import the delivery again" in str(err.value)


def _siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


def _disk_full_at(monkeypatch: pytest.MonkeyPatch, n: int) -> list:
    """Make the `n`-th frame file written raise ENOSPC (a full disk); returns the calls."""
    real, calls = pd.DataFrame.to_parquet, []

    def full(self, path, *a, **k):
        calls.append(path)
        if len(calls) == n:
            raise OSError(28, "No space left on device", str(path))
        return real(self, path, *a, **k)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full)
    return calls


# ------------------------------------------------------------------ atomic write
def test_import_writes_digests_and_reads_back(imported):
    m = load_manifest(imported, digests=True)
    assert set(m["frame_files"]) == set(m["frames"].values())
    for name, meta in m["frame_files"].items():
        assert meta["bytes"] == (imported / name).stat().st_size
        assert len(meta["sha256"]) == 64
    assert len(read_delivery(imported).kuhr_claims) == 5


def test_import_carries_the_klass_names_file(raw, tmp_path):
    # a study on the import names places ('0301 Oslo') from it, as on the raw delivery
    names = "location_code,location_name,granularity_geo\nmunicip_nor0301,Oslo,municip\n"
    (raw / "klass_navn.csv").write_bytes(names.replace("Oslo", "Bod\xf8").encode("latin-1"))
    out = tmp_path / "imp"
    import_delivery(raw, out)
    assert (out / "klass_navn.csv").read_bytes() == (raw / "klass_navn.csv").read_bytes()
    m = load_manifest(out, digests=True)
    assert set(m["carried_files"]) == {"klass_kommuner.csv", "klass_navn.csv"}
    for name, meta in m["carried_files"].items():
        assert meta["bytes"] == (raw / name).stat().st_size
    data = bytearray((out / "klass_navn.csv").read_bytes())
    data[-3] ^= 0x01  # same size: only the digest tells
    (out / "klass_navn.csv").write_bytes(bytes(data))
    with pytest.raises(ValidationError) as err:
        load_manifest(out, digests=True)
    assert _reasons(err) == {"import_file_mismatch"}
    (out / "klass_navn.csv").unlink()
    _refused_everywhere(out, "import_file_missing")


def test_klass_file_not_in_the_manifest_is_refused(imported):
    (imported / "klass_navn.csv").write_text("location_code,location_name,granularity_geo\n")
    _refused_everywhere(imported, "import_file_unlisted")


def test_failure_mid_import_leaves_nothing(raw, tmp_path, monkeypatch):
    calls = _disk_full_at(monkeypatch, 3)
    with pytest.raises(OSError):
        import_delivery(raw, tmp_path / "imp")
    assert len(calls) == 3
    assert _siblings(tmp_path / "imp") == ["raw"]  # no output, no temporary folder


def test_failure_over_an_earlier_import_keeps_it_whole(raw, imported, monkeypatch):
    before = read_delivery(imported)
    _disk_full_at(monkeypatch, 2)
    with pytest.raises(OSError):
        import_delivery(raw, imported, force=True)
    monkeypatch.undo()
    load_manifest(imported, digests=True)  # every file as the manifest lists it
    after = read_delivery(imported)
    for name, frame in before.frames().items():
        pd.testing.assert_frame_equal(frame, after.frames()[name], obj=name)
    assert _siblings(imported) == ["imp", "raw"]


_KILLED_IMPORT = textwrap.dedent("""
    import sys, time
    import pandas as pd
    from kprlink.sources import import_delivery
    real, n = pd.DataFrame.to_parquet, [0]
    def slow(self, path, *a, **k):
        real(self, path, *a, **k)
        n[0] += 1
        if n[0] == 3:
            open(sys.argv[3], "w").close()
            time.sleep(600)
    pd.DataFrame.to_parquet = slow
    import_delivery(sys.argv[1], sys.argv[2], force=True)
""")


def _import_killed(raw: Path, out: Path, tmp_path: Path) -> int:
    """Run an import in a subprocess and SIGKILL it after its third frame file."""
    flag = tmp_path / "three_written"
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_IMPORT, str(raw), str(out),
                             str(flag)], cwd=tmp_path)
    deadline = time.monotonic() + 120
    while not flag.exists():
        assert proc.poll() is None, "the import ended before it was killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return proc.pid


def test_sigkilled_import_is_refused_then_cleaned(raw, tmp_path):
    out = tmp_path / "imp"
    pid = _import_killed(raw, out, tmp_path)
    leftover = tmp_path / f".imp.tmp-{pid}"
    assert not out.exists()
    assert len(list(leftover.glob("*.parquet"))) == 3 and not (leftover / MANIFEST).exists()
    _refused_everywhere(leftover, "import_incomplete")
    assert main(["validate", str(leftover)]) == 2
    assert main(["import", str(raw), "--out", str(out)]) == 0
    assert not leftover.exists()  # the dead process's folder is gone
    assert len(read_delivery(out).kuhr_claims) == 5


def test_sigkilled_reimport_keeps_the_earlier_import(raw, imported, tmp_path, capsys):
    before = read_delivery(imported)
    _import_killed(raw, imported, tmp_path)
    assert main(["validate", str(imported)]) == 0
    pd.testing.assert_frame_equal(read_delivery(imported).kuhr_claims, before.kuhr_claims)
    assert main(["import", str(raw), "--out", str(imported), "--force"]) == 0
    assert [p for p in _siblings(imported) if p.startswith(".")] == []


def test_stale_folders_of_live_processes_are_kept(tmp_path):
    live = tmp_path / f".imp.tmp-{os.getppid()}"
    other = tmp_path / ".other.tmp-999999999"
    live.mkdir()
    other.mkdir()
    assert remove_stale(tmp_path / "imp") == []
    assert live.is_dir() and other.is_dir()  # another output's folder is not touched


def test_old_output_moved_back_when_killed_between_renames(tmp_path):
    old = tmp_path / ".res.old-999999999"
    old.mkdir()
    (old / "provenance.json").write_text("{}")
    remove_stale(tmp_path / "res")
    assert (tmp_path / "res" / "provenance.json").is_file() and not old.exists()


# ------------------------------------------------------------------ tampered folders
def test_missing_manifest_is_refused(imported):
    (imported / MANIFEST).unlink()
    _refused_everywhere(imported, "import_incomplete")


def test_unreadable_manifest_is_refused(imported):
    text = (imported / MANIFEST).read_text()
    (imported / MANIFEST).write_text(text[: len(text) // 2])
    _refused_everywhere(imported, "manifest_unreadable")


def test_version_1_manifest_is_refused(imported):
    m = json.loads((imported / MANIFEST).read_text())
    m["kprlink_import"] = 1
    del m["frame_files"]
    (imported / MANIFEST).write_text(json.dumps(m))
    _refused_everywhere(imported, "unknown_manifest")


def test_missing_frame_file_is_refused(imported):
    (imported / "kuhr_fees.parquet").unlink()
    _refused_everywhere(imported, "import_file_missing")


def test_truncated_frame_file_is_refused(imported):
    f = imported / "npr_episodes.parquet"
    f.write_bytes(f.read_bytes()[:-100])
    _refused_everywhere(imported, "import_file_mismatch")


def test_frame_file_not_in_the_manifest_is_refused(imported):
    # an old frame beside a newer manifest (what a non-atomic reimport could leave)
    m = json.loads((imported / MANIFEST).read_text())
    del m["frames"]["kuhr_fees"], m["frame_files"]["kuhr_fees.parquet"]
    (imported / MANIFEST).write_text(json.dumps(m))
    _refused_everywhere(imported, "import_file_unlisted")


def test_changed_bytes_are_found_by_validate(imported, capsys):
    f = imported / "key.parquet"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size: only the digest tells
    f.write_bytes(bytes(data))
    with pytest.raises(ValidationError) as err:
        load_manifest(imported, digests=True)
    assert _reasons(err) == {"import_file_mismatch"}
    assert main(["validate", str(imported)]) == 2
    msg = capsys.readouterr().err
    assert "key.parquet" in msg and "SHA-256" in msg and "kprlink import" in msg


def test_study_refuses_a_tampered_import(imported, tmp_path):
    from kprlink.study import run_study

    (imported / "population.parquet").unlink()
    with pytest.raises(ValidationError) as err:
        run_study("dementia_2016_2017", data=imported, out=tmp_path / "res")
    assert "import_file_missing" in _reasons(err)
    assert not (tmp_path / "res").exists()


# ------------------------------------------------------------------ --out and --force
def test_import_out_exists_needs_force(raw, imported, capsys):
    assert main(["import", str(raw), "--out", str(imported)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["import", str(raw), "--out", str(imported), "--force"]) == 0


def test_import_force_never_replaces_a_foreign_folder(raw, tmp_path, capsys):
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("x")
    assert main(["import", str(raw), "--out", str(foreign), "--force"]) == 2
    assert "kprlink_import.json" in capsys.readouterr().err
    assert (foreign / "thesis.tex").read_text() == "x"


@pytest.mark.parametrize("where", ["equal", "inside", "containing"])
def test_import_out_never_overlaps_the_delivery(raw, tmp_path, where, capsys):
    out = {"equal": raw, "inside": raw / "imported", "containing": tmp_path}[where]
    before = sorted(p.name for p in raw.iterdir())
    with pytest.raises(OutputFolderError) as err:
        import_delivery(raw, out, force=True)
    assert "overlaps_data" in _reasons(err)
    assert main(["import", str(raw), "--out", str(out), "--force"]) == 2
    assert "overlap" in capsys.readouterr().err
    assert sorted(p.name for p in raw.iterdir()) == before


def test_full_disk_mid_import_exit_2_without_traceback(raw, tmp_path, monkeypatch, capsys):
    _disk_full_at(monkeypatch, 2)
    assert main(["import", str(raw), "--out", str(tmp_path / "imp")]) == 2
    msg = capsys.readouterr().err
    assert "disk is full" in msg and "Traceback" not in msg
    assert _siblings(tmp_path / "imp") == ["raw"]


def test_read_only_folder_exit_2(raw, tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):  # root ignores permissions
            pytest.skip("running as a user who may write anywhere")
        assert main(["import", str(raw), "--out", str(ro / "imp")]) == 2
        assert "Traceback" not in capsys.readouterr().err
    finally:
        ro.chmod(0o700)
