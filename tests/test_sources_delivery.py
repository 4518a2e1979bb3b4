"""read_delivery, import_delivery, NPR made long, the legacy KUHR extract."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from test_sources_data import CLAIMS, DIAGNOSES, EPISODES, FEES, FILES, KEY, write_csv
from test_sources_data import write_delivery

import kprlink as kl
from kprlink.exceptions import ValidationError
from kprlink.sources import MissingRequiredColumnsError, import_delivery, read_delivery
from kprlink.sources import read_extract
from kprlink.sources.delivery import MANIFEST


@pytest.fixture()
def delivery_dir(tmp_path):
    return write_delivery(tmp_path / "delivery")


def test_read_delivery_fills_every_frame(delivery_dir):
    d = read_delivery(delivery_dir)
    sizes = {k: len(v) for k, v in d.frames().items()}
    assert sizes == {"kuhr_claims": 5, "kuhr_diagnoses": 6, "kuhr_fees": 5, "ho_services": 4,
                     "ho_functions": 3, "ho_indicators": 2, "npr_episodes": 3,
                     "npr_diagnoses": 6, "npr_procedures": 1, "key": 3, "population": 4}
    assert list(d.files.columns) == ["file", "contract", "format", "encoding", "separator",
                                     "rows", "sha256"]
    assert len(d.files) == 9 and d.files["sha256"].str.len().eq(64).all()
    assert d.report.unclassified == ("klass_kommuner.csv",)
    assert "truth" not in " ".join(d.files["file"])  # sub-folder never read
    assert d.report.ok and d.report.rows_in == sum(len(f) for f, _ in FILES.values()) - 1
    assert repr(d).startswith("<Delivery ")
    assert d.summary()["rows_in"].sum() == d.report.rows_in


def test_public_names_are_exported():
    for name in ("read_extract", "read_delivery", "import_delivery", "normalise_codes",
                 "Delivery", "ExtractResult", "ValidationReport"):
        assert name in kl.sources.__all__


def test_diagnoses_of_excluded_claims_are_excluded_and_counted(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    claims = CLAIMS.assign(dato=["2016-01-01"] + CLAIMS["dato"].tolist()[1:])  # claim 1 out
    write_csv(claims, folder / "c.csv")
    write_csv(DIAGNOSES.assign(enkeltregning_lnr=[1, 1, 2, 3, 4, 99]), folder / "d.csv")
    write_csv(FEES, folder / "f.csv")
    d = read_delivery(folder)
    t = d.report.table.set_index("file")
    assert t.loc["d.csv", ["rows_in", "kept", "excluded"]].tolist() == [6, 3, 3]
    assert t.loc["f.csv", ["rows_in", "kept", "excluded"]].tolist() == [5, 4, 1]
    assert sorted(d.kuhr_diagnoses["claim_id"].unique()) == [2, 3, 4]
    reasons = d.report.reasons
    assert reasons.loc[reasons["reason"] == "claim_not_kept", "n_rows"].tolist() == [3, 1]
    orphan = [p for p in d.report.problems if p.reason == "claim_not_kept"]
    assert [(p.file, p.rows) for p in orphan] == [("d.csv", (1, 2, 6)), ("f.csv", (1,))]


def test_fatal_problems_of_all_files_collected_once(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    write_csv(CLAIMS.drop(columns=["dato"]), folder / "c.csv")
    write_csv(EPISODES.drop(columns=["omsorgsniva"]), folder / "n.csv")
    (folder / "bad.sav").write_bytes(b"garbage")
    with pytest.raises(MissingRequiredColumnsError) as info:
        read_delivery(folder)
    err = info.value
    assert sorted(err.missing) == ["care_level", "date"]
    assert sorted(p.reason for p in err.problems) == ["missing_column", "missing_column",
                                                      "unreadable"]
    assert sorted({p.file for p in err.problems}) == ["bad.sav", "c.csv", "n.csv"]


def test_unreadable_file_alone_raises_validation_error(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "bad.dta").write_bytes(b"garbage")
    with pytest.raises(ValidationError) as info:
        read_delivery(folder)
    assert not isinstance(info.value, MissingRequiredColumnsError)


def test_empty_folder(tmp_path):
    d = read_delivery(tmp_path)
    assert d.frames() == {} and d.report.rows_in == 0 and len(d.files) == 0


def test_single_file_and_missing_path(tmp_path):
    path = write_csv(KEY, tmp_path / "k.csv")
    assert len(read_delivery(path).key) == 3
    with pytest.raises(FileNotFoundError):
        read_delivery(tmp_path / "nope")


def test_two_files_of_one_contract_are_stacked(tmp_path):
    write_csv(KEY, tmp_path / "k1.csv")
    write_csv(KEY.assign(levering="m23"), tmp_path / "k2.csv")
    d = read_delivery(tmp_path)
    assert d.key["delivery"].tolist() == ["m21t3"] * 3 + ["m23"] * 3


def test_import_then_read_back_gives_the_same_frames(delivery_dir, tmp_path):
    out = tmp_path / "parquet"
    first = import_delivery(delivery_dir, out)
    assert (out / MANIFEST).is_file()
    assert json.loads((out / MANIFEST).read_text())["kprlink_import"] == 2
    back = read_delivery(out)
    assert first.frames().keys() == back.frames().keys()
    for name, frame in first.frames().items():
        pd.testing.assert_frame_equal(frame, back.frames()[name], obj=name)
    pd.testing.assert_frame_equal(first.files, back.files)
    pd.testing.assert_frame_equal(first.report.table, back.report.table)
    assert first.report.problems == back.report.problems
    assert back.report.unclassified == first.report.unclassified


def test_unknown_manifest_version(tmp_path, delivery_dir):
    out = tmp_path / "parquet"
    import_delivery(delivery_dir, out)
    m = json.loads((out / MANIFEST).read_text())
    m["kprlink_import"] = 99
    (out / MANIFEST).write_text(json.dumps(m))
    with pytest.raises(ValidationError) as info:
        read_delivery(out)
    assert info.value.problems[0].reason == "unknown_manifest"


def test_canonical_parquet_without_manifest_is_detected(tmp_path, delivery_dir):
    d = read_delivery(delivery_dir)
    d.kuhr_claims.to_parquet(tmp_path / "claims.parquet")
    res = read_extract(tmp_path / "claims.parquet")
    assert res.contract.name == "kpr_kuhr.claims"
    pd.testing.assert_frame_equal(res.data, d.kuhr_claims)


# ------------------------------------------------------------------ NPR long
def test_npr_wide_diagnoses_made_long(tmp_path):
    res = read_extract(write_csv(EPISODES, tmp_path / "n.csv"))
    long = res.frames["npr_diagnoses"]
    assert list(long.columns) == ["episode_id", "npr_id", "condition", "slot", "code",
                                  "code_original", "code_valid", "is_main"]
    pair = long.loc[long["episode_id"] == 1]
    assert pair[["condition", "slot", "code"]].values.tolist() == [
        [1, 1, "G301"], [1, 2, "F001"], [2, 1, "I10"]]
    assert pair["is_main"].tolist() == [True, True, False]
    assert not any(c.startswith("tilstand") for c in res.data.columns)
    proc = res.frames["npr_procedures"]
    assert proc[["episode_id", "system", "code"]].values.tolist() == [[3, "NCSP", "NFB49"]]


def test_npr_without_wide_columns_gives_empty_long_frames(tmp_path):
    df = EPISODES.drop(columns=["tilstand_1_1", "tilstand_1_2", "tilstand_2_1", "ncsp_1"])
    res = read_extract(write_csv(df, tmp_path / "n.csv"))
    assert len(res.frames["npr_diagnoses"]) == 0
    assert res.frames["npr_diagnoses"]["condition"].dtype == "Int16"


def test_npr_long_skips_excluded_episodes(tmp_path):
    df = EPISODES.assign(utdato=["2017-01-01", "2017-03-01", "2017-05-09"])
    res = read_extract(write_csv(df, tmp_path / "n.csv"))
    assert sorted(res.frames["npr_diagnoses"]["episode_id"].unique()) == [2, 3]


# ------------------------------------------------------------------ legacy KUHR
LEGACY = pd.DataFrame({
    "PASIENTLOPENUMMER": [1, 2, 3, ""],
    "MNED": ["2017-03", "2017-04", "2017-13x", "2017-05"],
    "DIAGNOSER": ["P70 K86", "R74,F00.1", "", "A01"],
    "DIAGNOSE_KODEVERK": ["ICPC-2", "ICPC-2", "ICPC-2", "ICPC-2"],
    "NORAKOKODE": ["2ad 2fk", "2AE", "", "2ad"],
})


def test_legacy_kuhr_split_into_three_frames(tmp_path):
    res = read_extract(write_csv(LEGACY, tmp_path / "2017_Data_KUHR.csv"))
    assert res.contract.name == "kpr_kuhr.legacy"
    claims, diag, fees = (res.frames[k] for k in ("kuhr_claims", "kuhr_diagnoses",
                                                 "kuhr_fees"))
    assert claims["claim_id"].tolist() == [1, 2]
    assert claims["date"].dt.strftime("%Y-%m-%d").tolist() == ["2017-03-01", "2017-04-01"]
    assert diag[["claim_id", "code", "position"]].values.tolist() == [
        [1, "P70", 1], [1, "K86", 2], [2, "R74", 1], [2, "F001", 2]]
    assert diag["is_main"].tolist() == [True, False, True, False]
    assert diag["code_valid"].tolist() == [True, True, True, False]  # F001 is not ICPC-2
    assert fees["fee_code"].tolist() == ["2ad", "2fk", "2ae"]
    t = res.report.table.set_index("file")
    assert t.loc["2017_Data_KUHR.csv", ["rows_in", "kept", "excluded"]].tolist() == [4, 2, 2]
    assert t.loc["2017_Data_KUHR.csv [diagnoses]", "rows_in"] == 4


def test_legacy_in_a_delivery_keeps_its_diagnoses(tmp_path):
    write_csv(LEGACY, tmp_path / "2017_Data_KUHR.csv")
    d = read_delivery(tmp_path)
    assert (len(d.kuhr_claims), len(d.kuhr_diagnoses), len(d.kuhr_fees)) == (2, 4, 3)
    assert d.report.ok
