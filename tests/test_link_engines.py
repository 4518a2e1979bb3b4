"""``kprlink link`` on a partitioned import, in-process and on Dask (issue 14).

The person map and the report must equal the whole folder's linkage (same-person
key ids merged), on a delivery with every kind of key failure injected: their
alias ids lie in other partitions than the ids they stand for.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import kprlink as kl
from kprlink._engine import InProcess
from kprlink.cli import main
from kprlink.linkage._aliases import link_merging_aliases
from kprlink.linkage._link_parts import KEY_COLUMNS, link_partitions
from kprlink.synth import SynthConfig, generate_delivery
from kprlink.synth.key_failures import inject_key_failures

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("link_engines")
    raw = root / "raw"
    generate_delivery(raw, SynthConfig(scale=0.002, seed=5, fmt="parquet"))
    inject_key_failures(raw, n_each=6, seed=2)
    # NPR records the death of some linked persons whose claims go on: claims after the
    # person's death, counted from the other register (and in other partitions' rows)
    ep = pq.read_table(raw / "npr_episoder.parquet")
    key = pq.read_table(raw / "nokkel_npr_kpr.parquet")["npr_lnr"].to_numpy()
    dead = pc.is_in(ep["lopenr"], pa.array(np.unique(key)[::40]))
    ep = ep.set_column(ep.schema.get_field_index("doddato"), "doddato", pc.if_else(
        dead, pa.scalar(datetime.date(2016, 9, 1), pa.date32()), ep["doddato"]))
    pq.write_table(ep, raw / "npr_episoder.parquet")
    kl.import_delivery(raw, root / "whole")
    kl.import_delivery(raw, root / "parts", partitions=4)
    return {"raw": raw, "whole": root / "whole", "parts": root / "parts"}


def _whole(folder: Path) -> kl.LinkageResult:
    d = kl.read_delivery(folder, columns={**KEY_COLUMNS, "key": None})
    frames = {n: getattr(d, n) for n in ("npr_episodes", "kuhr_claims", "key")}
    return link_merging_aliases(frames, lambda f: kl.link_extracts(
        f["npr_episodes"], f["kuhr_claims"], key=f["key"]))[1]


def _same(a: kl.LinkageResult, b: kl.LinkageResult) -> None:
    pd.testing.assert_frame_equal(a.persons, b.persons, check_exact=True)
    for name in ("flow", "unlinked_by_year", "key_conflicts", "demographic_conflicts",
                 "events_after_death", "outside_coverage"):
        pd.testing.assert_frame_equal(getattr(a.report, name), getattr(b.report, name),
                                      check_exact=True, obj=name)
    pd.testing.assert_frame_equal(a.summary(), b.summary())


def test_partitions_link_as_the_whole_folder(folders: dict[str, Path], client) -> None:  # noqa: ANN001
    whole = _whole(folders["whole"])
    kc = whole.report.key_conflicts
    # the delivery has same-person ids to merge, and they cross partitions
    assert whole.report.n("key ids merged into one person (temporary, duplicate or new ids)") > 5
    assert {"temporary id replaced", "new id after change of sex",
            "both keys have data"} <= set(kc["kind"])
    assert whole.report.events_after_death["n_rows"].sum() > 0
    assert (whole.report.unlinked_by_year["n_persons_unlinked"] > 0).all()
    for engine in (None, InProcess(threads=2), client):
        _same(link_partitions(folders["parts"], engine), whole)
    _same(link_partitions(folders["whole"]), whole)  # an unpartitioned import: one part


def test_cli_link_same_bytes_on_every_engine(folders: dict[str, Path], client,  # noqa: ANN001
                                             tmp_path: Path, capsys) -> None:  # noqa: ANN001
    outs = {}
    runs = {"whole": [str(folders["whole"])],
            "parts": [str(folders["parts"])],
            "in-process": [str(folders["parts"]), "--engine", "in-process"],
            "scheduler": [str(folders["parts"]), "--engine", "dask", "--scheduler",
                          client.scheduler.address]}
    for name, (data, *engine) in runs.items():
        out = tmp_path / f"{name}.parquet"
        assert main(["link", "--data", data, "--out", str(out), *engine]) == 0
        text = capsys.readouterr().out
        outs[name] = (out.read_bytes(), text.replace(str(out), "OUT"))
    assert len({v for v in outs.values()}) == 1
    assert "key ids merged into one person" in outs["whole"][1]


def test_link_engine_needs_the_key_linkage_of_an_imported_folder(
        folders: dict[str, Path], tmp_path: Path, capsys) -> None:  # noqa: ANN001
    out = str(tmp_path / "p.parquet")
    assert main(["link", "--data", str(folders["raw"]), "--out", out,
                 "--engine", "dask"]) == 2
    assert "imported folder" in capsys.readouterr().err
    assert main(["link", "--data", str(folders["parts"]), "--out", out, "--engine", "dask",
                 "--link", "probabilistic"]) == 2
    assert "--link key" in capsys.readouterr().err


def test_split_persons_count_once_per_year() -> None:
    from kprlink.linkage._keyfile_steps import _NAT, reduce_rows, row_part

    # person 0 has ids in both parts (unlinked, rows in 2017 in both); person 1 in part b
    a = pd.DataFrame({"date": pd.to_datetime(["2017-01-05", "2017-02-01"]),
                      "year": pd.array([2017, 2017], dtype="Int64")})
    b = pd.DataFrame({"date": pd.to_datetime(["2017-03-01", "2016-12-01", "2017-04-01"]),
                      "year": pd.array([2017, 2016, 2017], dtype="Int64")})
    none = (None, None)
    pa_ = row_part(a, "date", np.array([0, 0]), 1, np.array([_NAT]), np.array([False]), none,
                   np.array([0]), np.array([True]))
    died = np.array([_NAT, pd.Timestamp("2017-01-01").value])
    pb = row_part(b, "date", np.array([0, 1, 1]), 2, died, np.array([False, True]), none,
                  np.array([0, 1]), np.array([True, False]))
    r = reduce_rows([pa_, pb])
    assert r["years"].tolist() == [2016, 2017]
    assert r["n_rows"].tolist() == [1, 4] and r["n_rows_unlinked"].tolist() == [0, 3]
    assert r["n_persons_unlinked"].tolist() == [0, 1]
    assert (r["n_late"], r["n_late_persons"]) == (1, 1)
