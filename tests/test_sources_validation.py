"""Row-level checks and the ValidationReport: counts add up, every reason counted."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from test_sources_data import CLAIMS, EPISODES, FUNCTIONS, INDICATORS, SERVICES, write_csv

from kprlink.exceptions import Problem
from kprlink.sources import ValidationReport, read_extract
from kprlink.sources.validation import Ledger


def _read(tmp_path, frame, name="x.csv"):
    return read_extract(write_csv(frame, tmp_path / name))


def _reasons(res):
    r = res.report.reasons
    return (r["n_rows"].groupby(r["action"] + ":" + r["reason"]).sum()).to_dict()


def _adds_up(report):
    t = report.table
    assert (t["rows_in"] == t["kept"] + t["excluded"]).all()
    exc = report.reasons.loc[report.reasons["action"] == "excluded"]
    per_file = exc.groupby("file")["n_rows"].sum()
    for f, n in per_file.items():
        assert n == int(t.loc[t["file"] == f, "excluded"].iloc[0])


def test_end_before_start_excluded(tmp_path):
    res = _read(tmp_path, EPISODES.assign(utdato=["2017-01-19", "2017-03-01", "2017-05-09"]))
    assert _reasons(res) == {"excluded:end_before_start": 1}
    assert res.data["npr_id"].tolist() == [502, 503]
    p = res.report.problems[0]
    assert (p.column, p.rows, p.n_rows) == ("date_out", (1,), 1)
    _adds_up(res.report)


def test_service_end_before_start_excluded(tmp_path):
    res = _read(tmp_path, SERVICES.assign(tildato=["2016-01-01", "2017-11-30", "", ""]))
    assert _reasons(res)["excluded:end_before_start"] == 1


def test_event_after_death_excluded(tmp_path):
    claims = CLAIMS.assign(doddato=["2017-01-04", "", "2017-12-01", "", ""])
    res = _read(tmp_path, claims)
    assert _reasons(res) == {"excluded:after_death": 1}
    npr = _read(tmp_path, EPISODES.assign(doddato=["", "2017-02-01", ""]), name="n.csv")
    assert _reasons(npr) == {"excluded:after_death": 1}
    svc = _read(tmp_path, SERVICES.assign(doddato=["2016-01-01", "", "", ""]), name="s.csv")
    assert _reasons(svc) == {"excluded:after_death": 1, "repaired:service_recoded": 1}


def test_before_coverage_excluded(tmp_path):
    claims = CLAIMS.assign(dato=["2016-06-30", "2016-07-01", "2017-03-15", "2016-09-01",
                                 "2017-06-30"])
    res = _read(tmp_path, claims)
    assert _reasons(res) == {"excluded:before_coverage": 1}
    assert res.data["claim_id"].tolist() == [2, 3, 4, 5]
    fun = _read(tmp_path, FUNCTIONS.assign(vurderingsdato=["2016-12-31", "2017-01-01",
                                                           "2017-02-05"]), name="f.csv")
    assert _reasons(fun) == {"excluded:before_coverage": 1}
    ind = _read(tmp_path, INDICATORS.assign(dato=["2016-12-31", "2017-12-31"]), name="i.csv")
    assert _reasons(ind) == {"excluded:before_coverage": 1}


def test_service_periods_may_start_early_but_must_reach_coverage(tmp_path):
    df = SERVICES.assign(fradato=["2012-01-01", "2014-01-01", "2017-12-01", "2015-04-01"],
                         tildato=["", "2016-12-31", "", "2017-01-01"])
    res = _read(tmp_path, df)
    assert _reasons(res)["excluded:before_coverage"] == 1
    assert res.data["kpr_id"].tolist() == [101, 103, 105]


def test_duplicate_ids_keep_first(tmp_path):
    res = _read(tmp_path, CLAIMS.assign(enkeltregning_lnr=[1, 2, 1, 4, 1]))
    assert _reasons(res) == {"excluded:duplicate_id": 2}
    assert res.data["kpr_id"].tolist() == [101, 102, 104]
    p = res.report.problems[0]
    assert (p.rows, p.n_rows) == ((3, 5), 2)


def test_duplicate_function_scores(tmp_path):
    df = pd.concat([FUNCTIONS, FUNCTIONS.iloc[[0]]], ignore_index=True)
    res = _read(tmp_path, df)
    assert _reasons(res) == {"excluded:duplicate_id": 1}


def test_episode_id_assigned_from_row_order_and_stable(tmp_path):
    df = EPISODES.assign(utdato=["2017-01-25", "2017-02-01", "2017-05-09"])  # row 2 excluded
    res = _read(tmp_path, df)
    assert res.data["episode_id"].tolist() == [1, 3]
    delivered = _read(tmp_path, EPISODES.assign(episode_lnr=[70, 71, 72]), name="e.csv")
    assert delivered.data["episode_id"].tolist() == [70, 71, 72]


def test_a_row_with_several_reasons_is_counted_once(tmp_path):
    claims = CLAIMS.assign(dato=["2016-01-01", "2017-02-10", "2017-03-15", "2016-09-01",
                                 "2017-06-30"], doddato=["2015-01-01", "", "", "", ""])
    res = _read(tmp_path, claims)
    assert res.report.n_excluded == 1
    assert _reasons(res) == {"excluded:after_death": 1, "excluded:before_coverage": 0}
    _adds_up(res.report)
    # both problems name the row
    assert {p.reason: p.rows for p in res.report.problems} == {
        "after_death": (1,), "before_coverage": (1,)}


def test_problem_lists_first_rows_and_count(tmp_path):
    n = 12
    df = pd.concat([CLAIMS.iloc[[0]]] * n, ignore_index=True)
    df["enkeltregning_lnr"] = range(n)
    df["dato"] = "2015-01-01"
    df.loc[0, "dato"] = "2017-01-01"
    res = _read(tmp_path, df)
    p = res.report.problems[0]
    assert p.rows == (2, 3, 4, 5, 6) and p.n_rows == 11
    assert "and 6 more" in str(p)


def test_report_summary_markdown_and_str(tmp_path):
    res = _read(tmp_path, CLAIMS.assign(enkeltregning_lnr=[1, 2, 1, 4, 1]))
    s = res.report.summary()
    assert s[["rows_in", "kept", "excluded", "excluded_duplicate_id"]].iloc[0].tolist() == \
        [5, 3, 2, 2]
    md = res.report.to_markdown()
    assert md.splitlines()[0].startswith("| file | contract | rows_in")
    assert "duplicate id" in str(res.report)
    assert repr(res.report).startswith("<ValidationReport 1 file(s): 5 rows in, 2 excluded")
    assert res.report.ok


def test_report_is_frozen_and_checks_counts():
    rep = ValidationReport.empty()
    with pytest.raises(dataclasses.FrozenInstanceError):
        rep.table = None  # type: ignore[misc]
    bad = pd.DataFrame([{"file": "a", "contract": "c", "rows_in": 3, "kept": 1,
                         "repaired": 0, "excluded": 1}])
    with pytest.raises(ValueError):
        ValidationReport(table=bad, reasons=rep.reasons)


def test_report_combine_and_with_exclusion(tmp_path):
    a = _read(tmp_path, CLAIMS).report
    b = _read(tmp_path, FUNCTIONS, name="f.csv").report
    both = ValidationReport.combine([a, b], unclassified=["notes.txt"])
    assert both.rows_in == 8 and both.unclassified == ("notes.txt",)
    p = Problem("f.csv", "kpr_id", "test", "test")
    more = both.with_exclusion("f.csv", "test", "kpr_id", 2, p)
    _adds_up(more)
    assert more.n_excluded == 2 and more.problems[-1] is p
    assert both.with_exclusion("f.csv", "test", None, 0, p) is both
    with pytest.raises(ValueError):
        both.with_exclusion("nothing.csv", "test", None, 1, p)
    with pytest.raises(ValueError):
        both.with_exclusion("f.csv", "test", None, 99, p)


def test_ledger_mask_shape_is_checked():
    ledger = Ledger("f", "c", 3)
    with pytest.raises(ValueError):
        ledger.exclude("r", None, [True], "m")


def test_empty_report_summary():
    rep = ValidationReport.empty()
    assert rep.summary().empty and rep.rows_in == 0
    assert "0 file(s)" in str(rep)


@pytest.mark.parametrize("keys", [["claim_id"], ["claim_id", "position"], ["name"]])
def test_check_unique_fast_paths_match_pandas(keys):
    """Packed integer keys (sorted: one pass; unsorted: hashed) and text keys flag what
    ``DataFrame.duplicated`` flags, incomplete keys never."""
    from kprlink.sources.validation import check_unique

    rng = np.random.default_rng(5)
    n = 5000
    df = pd.DataFrame({"claim_id": pd.array(rng.integers(0, 1500, n), dtype="Int64"),
                       "position": pd.array(rng.integers(1, 4, n), dtype="Int64"),
                       "name": pd.array(rng.integers(0, 900, n).astype(str),
                                        dtype="string[pyarrow]")})
    df.loc[[3, 70, 900], "claim_id"] = pd.NA
    for frame in (df, df.sort_values(keys).reset_index(drop=True),
                  df.drop_duplicates(keys).sort_values(keys).reset_index(drop=True)):
        led = Ledger("f", "c", len(frame))
        check_unique(frame, keys, led)
        complete = frame[keys].notna().all(axis=1).to_numpy(bool)
        want = frame[keys].duplicated(keep="first").to_numpy(bool) & complete
        got = led.excluded_mask()
        assert (got == want).all()
