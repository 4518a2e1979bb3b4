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
