"""Large Parquet files of a raw delivery read in record batches (``_read_chunks``).

A file read batch by batch must give what a whole read gives: the same frames,
the same rows excluded, the same report (counts, reasons, problems with their
first delivered row numbers), whichever batch a bad row lies in.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_sources_data import CLAIMS, DIAGNOSES

import kprlink.sources._read_chunks as rc
from kprlink.cohorts import CohortDefinition, EntryCriterion, build_cohort, cohort_columns
from kprlink.codes import CodeList
from kprlink.sources import read_delivery
from kprlink.synth import SynthConfig, generate_delivery

DEMENTIA = CohortDefinition(
    "dem", "2016-07-01", "2017-06-30",
    [EntryCriterion("npr", [CodeList("dem", "ICD-10", ["F00-F03", "G30"])]),
     EntryCriterion("kpr_kuhr", [CodeList("demp", "ICPC-2", ["P70"])])])


@pytest.fixture(scope="module")
def synth_parquet(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "d"
    generate_delivery(out, SynthConfig(scale=0.0005, seed=11, fmt="parquet",
                                       defect_rate=0.05, chunk_persons=2000))
    return out


def _spy(monkeypatch, rows):
    """Batches of `rows`; returns the list of files read in batches."""
    seen = []
    real = rc.read_batches

    def spy(f, *a, **k):
        seen.append(f.name)
        return real(f, *a, **k)

    monkeypatch.setattr(rc, "READ_CHUNK_ROWS", rows)
    monkeypatch.setattr(rc, "read_batches", spy)
    return seen


def _same(a, b):
    assert a.frames().keys() == b.frames().keys()
    for k, v in a.frames().items():
        pd.testing.assert_frame_equal(v, b.frames()[k], obj=k)
    pd.testing.assert_frame_equal(a.report.table, b.report.table)
    pd.testing.assert_frame_equal(a.report.reasons, b.report.reasons)
    assert a.report.problems == b.report.problems
    pd.testing.assert_frame_equal(a.files, b.files)


@pytest.mark.parametrize("projected", [False, True])
def test_batches_equal_a_whole_read(synth_parquet, monkeypatch, projected):
    cols = cohort_columns(DEMENTIA) if projected else None
    whole = read_delivery(synth_parquet, columns=cols)
    assert whole.report.n_excluded > 0  # defects injected: something to count
    files = _spy(monkeypatch, 1500)
    batched = read_delivery(synth_parquet, columns=cols)
    assert {"kpr_kuhr_regninger.parquet", "kpr_kuhr_diagnoser.parquet",
            "npr_episoder.parquet"} <= set(files)
    _same(whole, batched)


def test_cohort_from_batches_equals_whole(synth_parquet, monkeypatch):
    a = build_cohort(synth_parquet, DEMENTIA)
    _spy(monkeypatch, 1000)
    b = build_cohort(synth_parquet, DEMENTIA)
    pd.testing.assert_frame_equal(a.persons, b.persons)
    pd.testing.assert_frame_equal(a.attrition, b.attrition)


def _claims(n):
    """`n` claims (ids 1..n) built from CLAIMS' first rows."""
    rows = pd.concat([CLAIMS.iloc[[0, 1]]] * (n // 2 + 1), ignore_index=True).iloc[:n]
    rows = rows.assign(enkeltregning_lnr=range(1, n + 1), kpr_lnr=range(101, 101 + n))
    return rows.reset_index(drop=True)


def test_bad_rows_in_later_batches_found_and_counted_once(tmp_path, monkeypatch):
    claims = _claims(12)
    claims.loc[9, "enkeltregning_lnr"] = 2          # row 10 repeats row 2 (batch 1)
    claims.loc[10, "dato"] = "2017-13-45"          # row 11: not a date (batch 3)
    claims.loc[11, ["enkeltregning_lnr", "dato"]] = [3, "nodate"]  # row 12: both
    diag = pd.concat([DIAGNOSES.iloc[[0]]] * 12, ignore_index=True).assign(
        enkeltregning_lnr=list(range(1, 13)), kodenr=1)  # claims 10-12 are not kept
    folder = tmp_path / "d"
    folder.mkdir()
    pq.write_table(pa.Table.from_pandas(claims, preserve_index=False),
                   folder / "kpr_kuhr_regninger.parquet", row_group_size=4)
    pq.write_table(pa.Table.from_pandas(diag, preserve_index=False),
                   folder / "kpr_kuhr_diagnoser.parquet", row_group_size=4)
    whole = read_delivery(folder)
    files = _spy(monkeypatch, 4)
    batched = read_delivery(folder)
    assert sorted(files) == ["kpr_kuhr_diagnoser.parquet", "kpr_kuhr_regninger.parquet"]
    _same(whole, batched)
    t = batched.report.table.set_index("file")
    assert t.loc["kpr_kuhr_regninger.parquet", ["rows_in", "kept", "excluded"]].tolist() \
        == [12, 9, 3]  # row 12 is bad twice, excluded once
    r = batched.report.reasons
    got = dict(zip(r["reason"], r["n_rows"], strict=True))
    assert got == {"bad_date": 2, "duplicate_id": 1, "claim_not_kept": 3}
    rows = {p.reason: (p.rows, p.n_rows) for p in batched.report.problems}
    assert rows["bad_date"] == ((11, 12), 2)
    assert rows["duplicate_id"] == ((10, 12), 2)  # counted once: bad_date took row 12
    assert rows["claim_not_kept"] == ((10, 11, 12), 3)
    assert batched.kuhr_claims["claim_id"].tolist() == list(range(1, 10))


def test_reason_found_only_in_a_later_batch_keeps_the_whole_read_order(tmp_path,
                                                                      monkeypatch):
    claims = _claims(8)
    claims.loc[1, "enkeltregning_lnr"] = 1      # batch 1: a duplicate only
    claims.loc[6, "dato"] = "not a date"        # batch 2: a bad date (checked first)
    folder = tmp_path / "d"
    folder.mkdir()
    pq.write_table(pa.Table.from_pandas(claims, preserve_index=False),
                   folder / "kpr_kuhr_regninger.parquet", row_group_size=4)
    whole = read_delivery(folder)
    _spy(monkeypatch, 4)
    batched = read_delivery(folder)
    assert whole.report.reasons["reason"].tolist() == ["bad_date", "duplicate_id"]
    _same(whole, batched)


def test_merged_order_keeps_each_sequence():
    assert list(rc._merged_order([["b"], ["a", "b"], ["b", "c"], ["a", "c"]])) == \
        ["a", "b", "c"]
