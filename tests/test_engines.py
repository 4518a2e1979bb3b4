"""Partitioned imports and the two engines (in-process, Dask), issue 14.

The cohort, the cohort's rows and a study's release must be the same from a
whole imported folder, from its partitions one after another, and from the
same partition functions on a Dask cluster (a local one started here, on
loopback, threads only).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import kprlink as kl
from kprlink._engine import InProcess
from kprlink.cli import main
from kprlink.exceptions import SpecError
from kprlink.sources._partition import ROW_COL, ROW_GROUP_ROWS, partitions
from kprlink.synth import SynthConfig, generate_delivery

STUDY = Path(__file__).resolve().parents[1] / "studies" / "dementia_2016_2017"
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("engines")
    raw = root / "raw"
    generate_delivery(raw, SynthConfig(scale=0.002, seed=4, fmt="parquet"))
    kl.import_delivery(raw, root / "whole")
    kl.import_delivery(raw, root / "parts", partitions=3)
    return {"raw": raw, "whole": root / "whole", "parts": root / "parts"}


def test_partitions_hold_whole_persons(folders: dict[str, Path]) -> None:
    parts = partitions(folders["parts"])
    assert [p.name for p in parts] == ["p000", "p001", "p002"]
    for field, col in (("kuhr_claims", "kpr_id"), ("npr_episodes", "npr_id"),
                       ("ho_services", "kpr_id")):
        whole = pq.read_table(folders["whole"] / f"{field}.parquet")
        tables = [pq.read_table(p / f"{field}.parquet") for p in parts]
        assert sum(t.num_rows for t in tables) == whole.num_rows
        ids = [set(t[col].drop_null().to_pylist()) for t in tables]
        assert all(not (ids[i] & ids[j]) for i in range(3) for j in range(i + 1, 3))
        assert all(len(x) > 0 for x in ids)
        rows = np.sort(np.concatenate([t[ROW_COL].to_numpy() for t in tables]))
        assert (rows == np.arange(whole.num_rows)).all()  # every row exactly once
        for p in parts:
            meta = pq.ParquetFile(p / f"{field}.parquet").metadata
            assert all(meta.row_group(g).num_rows <= ROW_GROUP_ROWS
                       for g in range(meta.num_row_groups))
    # a person's NPR rows sit with their KPR rows (the key's resolved pairs)
    key = pq.read_table(folders["whole"] / "key.parquet").to_pandas()
    where = {}
    for i, p in enumerate(parts):
        for k in pq.read_table(p / "kuhr_claims.parquet")["kpr_id"].to_pylist():
            where[("k", k)] = i
        for n in pq.read_table(p / "npr_episodes.parquet")["npr_id"].to_pylist():
            where[("n", n)] = i
    both = [(int(n), int(k)) for n, k in zip(key["npr_id"], key["kpr_id"], strict=True)
            if ("n", n) in where and ("k", k) in where]
    agree = sum(where[("n", n)] == where[("k", k)] for n, k in both)
    assert agree >= 0.97 * len(both)  # all but the key's conflict rows
    # each partition is an imported folder of its own
    assert kl.read_delivery(parts[0]).kuhr_claims is not None


def _same(a: kl.CohortResult, b: kl.CohortResult) -> None:
    pd.testing.assert_frame_equal(a.persons, b.persons)
    pd.testing.assert_frame_equal(a.attrition, b.attrition)
    pd.testing.assert_frame_equal(a.events, b.events)


def test_cohort_same_on_every_engine(folders: dict[str, Path], client) -> None:  # noqa: ANN001
    definition = kl.CohortDefinition.from_toml(STUDY / "cohort.toml")
    raw = kl.build_cohort(kl.read_delivery(folders["raw"]), definition)
    whole = kl.build_cohort(folders["whole"], definition)
    inproc = kl.build_cohort(folders["parts"], definition)
    dask = kl.build_cohort(folders["parts"], definition, engine=client)
    threads = kl.build_cohort(folders["parts"], definition, engine=InProcess(threads=2))
    assert len(raw.persons) > 50
    _same(raw, whole)
    _same(whole, inproc)
    _same(whole, threads)
    _same(whole, dask)
    assert len(dask.linkage.persons) == len(whole.linkage.persons)


def test_restricted_rows_same_from_partitions(folders: dict[str, Path], client) -> None:  # noqa: ANN001
    definition = kl.CohortDefinition.from_toml(STUDY / "cohort.toml")
    persons = kl.build_cohort(folders["whole"], definition).persons
    a = kl.ImportedDelivery(folders["whole"]).restrict(kpr_ids=persons["kpr_id"],
                                                       npr_ids=persons["npr_id"])
    b = kl.ImportedDelivery(folders["parts"]).restrict(kpr_ids=persons["kpr_id"],
                                                       npr_ids=persons["npr_id"])
    c = kl.ImportedDelivery(folders["parts"], engine=client).restrict(
        kpr_ids=persons["kpr_id"], npr_ids=persons["npr_id"])
    for name in ("kuhr_claims", "kuhr_diagnoses", "kuhr_fees", "npr_episodes",
                 "npr_diagnoses", "ho_services", "key", "population"):
        want = getattr(a, name)
        assert len(want) > 0, name
        pd.testing.assert_frame_equal(getattr(b, name), want)
        pd.testing.assert_frame_equal(getattr(c, name), want)


@pytest.mark.slow
def test_study_release_same_bytes(folders: dict[str, Path], client, tmp_path: Path) -> None:  # noqa: ANN001
    outs = {}
    for label, data, engine in (("whole", folders["whole"], None),
                                ("parts", folders["parts"], None),
                                ("dask", folders["parts"], client)):
        out = tmp_path / label
        kl.run_study(STUDY, data=data, out=out, work=tmp_path / f"{label}.work",
                     ledger=tmp_path / f"{label}.ledger", engine=engine)
        outs[label] = {p.relative_to(out).as_posix(): p.read_bytes()
                       for p in sorted((out / "release").rglob("*")) if p.is_file()}
    assert any(k.startswith("release/tables/") for k in outs["whole"])
    assert outs["parts"] == outs["whole"]
    assert outs["dask"] == outs["whole"]


def test_cli_cohort_on_a_scheduler(folders: dict[str, Path], client, tmp_path: Path,  # noqa: ANN001
                                   capsys: pytest.CaptureFixture[str]) -> None:
    address = client.scheduler.address
    assert address.startswith("tcp://127.0.0.1")
    assert main(["cohort", str(STUDY / "cohort.toml"), "--data", str(folders["parts"]),
                 "--out", str(tmp_path / "a.parquet"), "--engine", "dask",
                 "--scheduler", address]) == 0
    assert main(["cohort", str(STUDY / "cohort.toml"), "--data", str(folders["whole"]),
                 "--out", str(tmp_path / "b.parquet")]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a.parquet"),
                                  pd.read_parquet(tmp_path / "b.parquet"))
    capsys.readouterr()
    assert main(["cohort", str(STUDY / "cohort.toml"), "--data", str(folders["whole"]),
                 "--out", str(tmp_path / "c.parquet"), "--workers", "2"]) == 2
    assert "--engine dask" in capsys.readouterr().err


def test_engine_needs_an_imported_folder(folders: dict[str, Path]) -> None:
    definition = kl.CohortDefinition.from_toml(STUDY / "cohort.toml")
    with pytest.raises(SpecError):
        kl.build_cohort(folders["raw"], definition, engine="dask")
    with pytest.raises(SpecError):
        kl.build_cohort(folders["whole"], definition, engine="spark")
    with pytest.raises(SpecError):
        kl.import_delivery(folders["raw"], folders["raw"].parent / "x", partitions=0)
