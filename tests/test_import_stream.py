"""Importing in chunks (national deliveries) gives the frames and report of a whole read."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kprlink.sources import import_delivery, read_delivery
from kprlink.synth import SynthConfig, generate_delivery


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    out = tmp_path_factory.mktemp("raw_stream")
    generate_delivery(out, SynthConfig(scale=0.002, seed=21, fmt="parquet"))
    # claims shuffled (chunks' id ranges overlap) with 40 repeated claim ids at the end,
    # so duplicates lie in other chunks than their first row
    path = out / "kpr_kuhr_regninger.parquet"
    claims = pq.read_table(path)
    order = np.random.default_rng(1).permutation(claims.num_rows)
    claims = pa.concat_tables([claims.take(order), claims.slice(0, 40)])
    pq.write_table(claims, path)
    # the key file (5,452 rows) repeats its first 3 pairs at the end, past one chunk
    key = pq.read_table(out / "nokkel_npr_kpr.parquet")
    pq.write_table(pa.concat_tables([key, key.slice(0, 3)]), out / "nokkel_npr_kpr.parquet")
    return out


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns), kind="stable").reset_index(drop=True)


def test_chunked_import_equals_a_whole_read(raw, tmp_path):
    whole = read_delivery(raw)
    got = import_delivery(raw, tmp_path / "imp", chunk_rows=5_000)
    assert got.kuhr_claims is None  # streamed: frames stay on disk
    back = read_delivery(tmp_path / "imp")
    assert set(back.frames()) == set(whole.frames())
    for name, frame in whole.frames().items():
        pd.testing.assert_frame_equal(getattr(back, name), frame, obj=name)
    # the report: one row per file, the same counts, reasons and problems
    pd.testing.assert_frame_equal(back.report.table, whole.report.table)
    pd.testing.assert_frame_equal(_sorted(back.report.reasons), _sorted(whole.report.reasons))
    key = (lambda p: (p.file, p.column or "", p.reason, p.message))
    assert sorted(back.report.problems, key=key) == sorted(whole.report.problems, key=key)
    assert back.report.n_excluded == whole.report.n_excluded > 0
    pd.testing.assert_frame_equal(got.files, whole.files)
    # defects that span chunks were found: duplicate claim ids, orphan diagnoses
    reasons = set(whole.report.reasons["reason"])
    assert {"duplicate_id", "claim_not_kept", "duplicate_row"} <= reasons
    r = back.report.reasons
    assert int(r.loc[r["reason"] == "duplicate_row", "n_rows"].sum()) == 3


def test_small_delivery_is_imported_whole(raw, tmp_path):
    d = import_delivery(raw, tmp_path / "imp")
    assert d.kuhr_claims is not None


def test_keys_that_do_not_pack_are_read_whole(raw, tmp_path):
    from kprlink.sources import kpr_kuhr
    from kprlink.sources._import_stream import _big

    claims = pq.read_table(raw / "kpr_kuhr_regninger.parquet")
    ids = claims["enkeltregning_lnr"].to_numpy().copy()
    ids[3] = -7  # a negative id: cannot be packed, so not checked across chunks
    bad = tmp_path / "bad"
    bad.mkdir()
    path = bad / "kpr_kuhr_regninger.parquet"
    pq.write_table(claims.set_column(claims.column_names.index("enkeltregning_lnr"),
                                     "enkeltregning_lnr", pa.array(ids)), path)
    assert not _big(path, "parquet", kpr_kuhr.CLAIMS, 5_000)
    assert _big(raw / "kpr_kuhr_regninger.parquet", "parquet", kpr_kuhr.CLAIMS, 5_000)


@pytest.fixture(scope="module")
def raw_csv(tmp_path_factory):
    """A CSV delivery: claims shuffled with 40 repeated claims at the end, one bad date
    in a late row of the fee codes (read as text chunks) and a diagnosis file with a
    negative claim id (keys that do not pack: read whole)."""
    out = tmp_path_factory.mktemp("raw_stream_csv")
    generate_delivery(out, SynthConfig(scale=0.002, seed=21, fmt="csv"))
    path = out / "kpr_kuhr_regninger.csv"
    head, *lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    order = np.random.default_rng(1).permutation(len(lines))
    path.write_text(head + "".join(lines[i] for i in order) + "".join(lines[:40]),
                    encoding="utf-8")
    fees = out / "kpr_kuhr_takster.csv"
    head, *lines = fees.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[-5] = lines[-5].replace(";1\n", ";x\n")  # KPRantall not a number
    fees.write_text(head + "".join(lines), encoding="utf-8")
    diag = out / "kpr_kuhr_diagnoser.csv"
    head, *lines = diag.read_text(encoding="utf-8").splitlines(keepends=True)
    f = lines[-3].split(";")
    lines[-3] = ";".join([f[0], "-7", *f[2:]])
    diag.write_text(head + "".join(lines), encoding="utf-8")
    return out


def test_chunked_csv_import_equals_a_whole_read(raw_csv, tmp_path, monkeypatch):
    from kprlink.sources import _csv_stream, _import_stream

    restarts = []
    real = _csv_stream.Restart.__init__

    def spy(self, path, *, as_text):
        restarts.append((path.name, as_text))
        real(self, path, as_text=as_text)

    monkeypatch.setattr(_csv_stream.Restart, "__init__", spy)
    monkeypatch.setattr(_import_stream, "CSV_CHUNK_ROWS", 3_000)
    monkeypatch.setattr(_csv_stream, "BLOCK_BYTES", 1 << 16)
    whole = read_delivery(raw_csv)
    got = import_delivery(raw_csv, tmp_path / "imp", chunk_rows=5_000)
    assert got.kuhr_claims is None  # streamed
    back = read_delivery(tmp_path / "imp")
    for name, frame in whole.frames().items():
        pd.testing.assert_frame_equal(getattr(back, name), frame, obj=name)
    pd.testing.assert_frame_equal(back.report.table, whole.report.table)
    pd.testing.assert_frame_equal(_sorted(back.report.reasons), _sorted(whole.report.reasons))
    key = (lambda p: (p.file, p.column or "", p.reason, p.message))
    assert sorted(back.report.problems, key=key) == sorted(whole.report.problems, key=key)
    pd.testing.assert_frame_equal(got.files, whole.files)
    reasons = set(whole.report.reasons["reason"])
    assert {"duplicate_id", "bad_number"} <= reasons
    # the bad number restarted the fee file as text, the negative id the diagnoses whole
    assert ("kpr_kuhr_takster.csv", True) in restarts
    assert ("kpr_kuhr_diagnoser.csv", False) in restarts
