"""Plausibility checks of delivered rows (issue 17, item 5).

* a birth year after the event (an age below 0) is set to missing and counted by row;
* two delivered columns for one field (``kpr_lnr`` and ``KPR_lnr``) that differ are refused.
"""

from __future__ import annotations

import pandas as pd
import pytest
from test_sources_data import CLAIMS, EPISODES, write_csv, write_delivery

from kprlink.cli import main
from kprlink.exceptions import ValidationError
from kprlink.sources import read_delivery, read_extract


def test_birth_year_after_the_event_is_repaired_and_counted(tmp_path):
    claims = CLAIMS.assign(fodselsaar=[1936, 2031, 1927, 2017, 1936])  # 2017 > 2016-09-01
    res = read_extract(write_csv(claims, tmp_path / "c.csv"))
    got = res.data.set_index("claim_id")["birth_year"]
    assert got.loc[[1, 3, 5]].tolist() == [1936, 1927, 1936]
    assert got.loc[[2, 4]].isna().all()  # 2031 after 2017-02-10; 2017 after 2016-09-01
    p = next(p for p in res.report.problems if p.reason == "born_after_event")
    assert (p.rows, p.n_rows, p.column) == ((2, 4), 2, "birth_year")
    r = res.report.reasons.set_index("reason").loc["born_after_event"]
    assert (r["action"], int(r["n_rows"])) == ("repaired", 2)
    assert int(res.report.table["kept"].iloc[0]) == len(claims)  # the events stay


def test_born_in_the_event_year_is_plausible(tmp_path):
    claims = CLAIMS.assign(fodselsaar=[2017, 2017, 2017, 2016, 2017])
    res = read_extract(write_csv(claims, tmp_path / "c.csv"))
    assert "born_after_event" not in set(res.report.reasons["reason"])


def test_birth_year_check_in_projected_reads_and_npr(tmp_path):
    folder = write_delivery(tmp_path / "d")
    write_csv(CLAIMS.assign(fodselsaar=[1936, 2031, 1927, 1951, 1936]),
              folder / "kpr_kuhr_regninger.csv")
    write_csv(EPISODES.assign(fodselsar=[2030, 1940, 1927]), folder / "npr_episoder.csv")
    whole = read_delivery(folder)
    projected = read_delivery(folder, columns={"kuhr_claims": ("kpr_id",)})
    for d in (whole, projected):
        reasons = d.report.reasons
        got = reasons[reasons["reason"] == "born_after_event"].set_index("file")["n_rows"]
        assert got.to_dict() == {"kpr_kuhr_regninger.csv": 1, "npr_episoder.csv": 1}


def test_differing_alias_columns_are_refused(tmp_path, capsys):
    claims = CLAIMS.assign(KPR_lnr=[101, 102, 999, 104, 101])
    path = write_csv(claims, tmp_path / "c.csv")
    with pytest.raises(ValidationError) as err:
        read_extract(path)
    p = next(p for p in err.value.problems if p.reason == "conflicting_columns")
    assert p.column == "kpr_id" and "'kpr_lnr', 'KPR_lnr'" in p.message and "3" in p.message
    assert "999" not in str(err.value)  # row numbers, never the values (person ids)
    assert main(["validate", str(path)]) == 2
    msg = capsys.readouterr().err
    assert "KPR_lnr" in msg and "Traceback" not in msg and "999" not in msg


def test_differing_alias_columns_refused_in_projected_reads(tmp_path):
    folder = write_delivery(tmp_path / "d")
    write_csv(CLAIMS.assign(KPR_lnr=[101, 102, 999, 104, 101]),
              folder / "kpr_kuhr_regninger.csv")
    with pytest.raises(ValidationError) as err:
        read_delivery(folder, columns={"kuhr_claims": ("date",)})
    assert "conflicting_columns" in {p.reason for p in err.value.problems}


def test_identical_alias_columns_are_read(tmp_path):
    claims = CLAIMS.assign(KPR_lnr=CLAIMS["kpr_lnr"])
    res = read_extract(write_csv(claims, tmp_path / "c.csv"))
    pd.testing.assert_series_equal(res.data["kpr_id"],
                                   read_extract(write_csv(CLAIMS, tmp_path / "k.csv"))
                                   .data["kpr_id"])


# ------------------------------------------------------------------ extraction date
def test_events_after_the_extraction_date_are_excluded_and_counted(tmp_path, capsys):
    claims = CLAIMS.assign(doddato=["", "", "2017-12-01", "", ""])
    path = write_csv(claims, tmp_path / "c.csv")
    res = read_extract(path, extraction_date="2017-03-31")
    assert sorted(res.data["claim_id"].tolist()) == [1, 2, 3, 4]  # 5 is 2017-06-30
    got = res.report.reasons.set_index(["reason", "column"])
    assert got.loc[("after_extraction", "date"), ["action", "n_rows"]].tolist() == [
        "excluded", 1]
    # claim 3 is kept, its death date (after the extraction) set to missing
    assert got.loc[("after_extraction", "death_date"), ["action", "n_rows"]].tolist() == [
        "repaired", 1]
    assert res.data.set_index("claim_id")["death_date"].isna().all()
    assert "after_extraction" not in set(read_extract(path).report.reasons["reason"])
    assert main(["validate", str(path), "--extraction-date", "2017-03-31"]) == 0
    assert "after the delivery's extraction date (2017-03-31)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as bad:  # argparse: exit 2 with the usage
        main(["validate", str(path), "--extraction-date", "31.03.2017"])
    assert bad.value.code == 2


def test_extraction_date_in_a_delivery_and_its_import(tmp_path):
    folder = write_delivery(tmp_path / "d")
    d = read_delivery(folder, extraction_date="2017-04-30")
    r = d.report.reasons
    exc = r[(r["reason"] == "after_extraction") & (r["action"] == "excluded")]
    assert exc.groupby("file")["n_rows"].sum().to_dict() == {
        "kpr_kuhr_regninger.csv": 1, "npr_episoder.csv": 1, "kpr_ho_tjenester.csv": 1,
        "kpr_ho_indikatorer.csv": 2}
    assert main(["import", str(folder), "--out", str(tmp_path / "imp"),
                 "--extraction-date", "2017-04-30"]) == 0
    assert len(read_delivery(tmp_path / "imp").npr_episodes) == len(EPISODES) - 1
    assert main(["validate", str(tmp_path / "imp"), "--extraction-date", "2017-04-30"]) == 2


# ------------------------------------------------------------------ NPR codes
def test_invalid_npr_codes_are_counted_by_row_as_in_kuhr(tmp_path):
    ep = EPISODES.assign(tilstand_1_1=["G30.1", "XYZ", "S72.0"],
                         tilstand_2_1=["I10", "", "12"], ncsp_1=["", "", "N"])
    res = read_extract(write_csv(ep, tmp_path / "npr.csv"))
    r = res.report.reasons.set_index(["reason", "column"])
    assert r.loc[("invalid_code", "tilstand"), ["action", "n_rows"]].tolist() == [
        "repaired", 2]
    assert r.loc[("invalid_code", "procedure"), "n_rows"] == 1
    p = next(p for p in res.report.problems if p.column == "tilstand")
    assert p.rows == (2, 3)
    long = res.frames["npr_diagnoses"]
    assert int((long["code_valid"] == False).sum()) == 2  # noqa: E712
    assert len(res.data) == 3  # kept


# ------------------------------------------------------------------ key file
def test_key_duplicates_and_one_to_many_keys_in_validate(tmp_path, capsys):
    from test_sources_data import KEY

    key = pd.concat([KEY, pd.DataFrame({"npr_lnr": [501, 504], "kpr_lnr": [101, 102],
                                        "levering": ["m21t3", "m21t3"]})],
                    ignore_index=True)  # 501-101 again; 102 also paired with 504
    path = write_csv(key, tmp_path / "nokkel.csv")
    res = read_extract(path)
    assert len(res.data) == 4
    r = res.report.reasons.set_index(["reason", "column"])
    assert r.loc[("duplicate_row", "npr_id,kpr_id,delivery"), "n_rows"] == 1
    assert r.loc[("one_to_many", "kpr_id"), ["action", "n_rows"]].tolist() == ["flagged", 2]
    assert ("one_to_many", "npr_id") not in r.index
    assert int(res.report.table["repaired"].iloc[0]) == 0
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "paired with more than one npr_id" in out and "same key pair" in out
    assert "101" not in out and "504" not in out  # never a person id


def test_a_key_in_two_deliveries_is_not_one_to_many(tmp_path):
    from test_sources_data import KEY

    key = pd.concat([KEY, pd.DataFrame({"npr_lnr": [501], "kpr_lnr": [111],
                                        "levering": ["m19t1"]})], ignore_index=True)
    res = read_extract(write_csv(key, tmp_path / "nokkel.csv"))
    assert "one_to_many" not in set(res.report.reasons["reason"])
