"""Single tables as safe as studies (issue 13, item 9): one test per defect."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import kprlink as kl
from kprlink import cli
from kprlink.disclosure.audit import audit_intervals
from kprlink.exceptions import DisclosureError

RULE = kl.SuppressionRule(max_n=4)


@pytest.fixture()
def _cli(capsys, monkeypatch):
    def run(*args: str, cwd) -> SimpleNamespace:
        monkeypatch.chdir(cwd)
        rc = cli.main(["suppress", *args])
        cap = capsys.readouterr()
        return SimpleNamespace(returncode=rc, stdout=cap.out, stderr=cap.err)
    return run


def test_absent_combinations_are_zero_cells_and_protected():
    # y x p has no row: margins p = 7 and x = 19 would reveal it as 0
    cells = pd.DataFrame({"a": ["x", "y", "x"], "b": ["p", "q", "q"], "n": [7, 10, 12]})
    res = kl.suppress_table(cells, ["a", "b"], count_col="n", rule=RULE)
    t = res.table.astype({"a": str, "b": str}).set_index(["a", "b"])
    assert t.loc[("y", "p"), "n"] == 0
    assert t.loc[("y", "p"), "status"] == "primary"
    rel = res.released.astype({"a": str, "b": str}).set_index(["a", "b"])
    assert pd.isna(rel.loc[("y", "p"), "n"])
    # the audit, with everything published, does not pin the zero
    aud = res.audit.astype({"a": str, "b": str}).set_index(["a", "b"])
    assert aud.loc[("y", "p"), "upper"] - aud.loc[("y", "p"), "lower"] >= RULE.min_width
    assert res.ok


def test_absent_combinations_structural_are_not_cells():
    cells = pd.DataFrame({"a": ["x", "y", "x"], "b": ["p", "q", "q"], "n": [7, 10, 12]})
    res = kl.suppress_table(cells, ["a", "b"], count_col="n", rule=RULE,
                            absent_cells="structural")
    inner = res.table[(res.table["a"] != "Total") & (res.table["b"] != "Total")]
    assert len(inner) == 3


def test_absent_combinations_with_denominator_must_be_given():
    cells = pd.DataFrame({"a": ["x", "y", "x"], "b": ["p", "q", "q"], "n": [7, 10, 12],
                          "pop": [70, 100, 120]})
    with pytest.raises(DisclosureError, match="no row"):
        kl.suppress_table(cells, ["a", "b"], count_col="n", rule=RULE,
                          denominator_col="pop")


def test_sum_beyond_2_53_is_refused_not_wrapped():
    big = 2**62
    cells = pd.DataFrame({"a": ["x", "y", "z"], "n": [big, big, 10]})
    with pytest.raises(DisclosureError) as err:
        kl.suppress_table(cells, ["a"], count_col="n", rule=RULE)
    assert "2**53" in str(err.value.problems)


def test_dims_naming_the_count_column_is_refused():
    cells = pd.DataFrame({"a": ["x", "y"], "n": [3, 10]})
    with pytest.raises(DisclosureError, match="invalid columns"):
        kl.suppress_table(cells, ["a", "n"], count_col="n", rule=RULE)
    with pytest.raises(DisclosureError, match="invalid columns"):
        kl.suppress_table(cells, ["a", "a"], count_col="n", rule=RULE)


@pytest.mark.parametrize("label", ["total", " Total", "TOTAL ", "Total"])
def test_labels_reading_as_total_are_refused(label):
    cells = pd.DataFrame({"a": ["x", label, "z"], "n": [3, 10, 12]})
    with pytest.raises(DisclosureError, match="margin label"):
        kl.suppress_table(cells, ["a"], count_col="n", rule=RULE)


def test_integer_audit_is_narrower_than_the_lp():
    # three published sums over five suppressed inner cells (true z = 2,1,1,1,1):
    # the LP lets z[3] reach 0, no integer table does
    rows = [[1, 2, 3], [0, 2, 3, 4], [0, 1, 3, 4]]
    z = np.array([2, 1, 1, 1, 1])
    inner_of_cell = [np.array(r) for r in rows] + [np.array([i]) for i in range(5)]
    values = np.array([z[r].sum() for r in rows] + list(z), dtype=float)
    suppressed = np.array([False] * 3 + [True] * 5)
    lp = audit_intervals(inner_of_cell, values, suppressed, inner_values=z, min_width=3)
    ip = audit_intervals(inner_of_cell, values, suppressed, inner_values=z, min_width=3,
                         integer=True)
    assert lp.loc[6, "lower"] == 0 and lp.loc[6, "upper"] == 3
    assert ip.loc[6, "lower"] == 1 and ip.loc[6, "upper"] == 3
    assert not ip.loc[6, "ok"]
    # every integer interval lies inside its LP interval
    assert (ip["lower"] >= lp["lower"] - 1e-9).all() and (ip["upper"] <= lp["upper"] + 1e-9).all()


def test_cli_out_in_missing_folder_is_a_clear_error(tmp_path, _cli):
    (tmp_path / "t.csv").write_text("a,n\nx,3\ny,10\nz,12\n")
    r = _cli("t.csv", "--dims", "a", "--count", "n", "--max-n", "4",
             "--out", "missing/o.csv", cwd=tmp_path)
    assert r.returncode == 2
    assert "does not exist" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "missing").exists()


def test_cli_dims_with_count_column_exit_2_nothing_written(tmp_path, _cli):
    (tmp_path / "t.csv").write_text("a,n\nx,3\ny,10\nz,12\n")
    r = _cli("t.csv", "--dims", "a,n", "--count", "n", "--max-n", "4", "--out", "o.csv",
             cwd=tmp_path)
    assert r.returncode == 2 and "both a dimension and a count" in r.stderr
    assert not (tmp_path / "o.csv").exists()


def test_cli_overflow_exit_2(tmp_path, _cli):
    (tmp_path / "t.csv").write_text(
        "a,n\nx,9223372036854775807\ny,9223372036854775807\nz,3\n")
    r = _cli("t.csv", "--dims", "a", "--count", "n", "--max-n", "4", "--out", "o.csv",
             cwd=tmp_path)
    assert r.returncode == 2 and "2**53" in r.stderr
    assert not (tmp_path / "o.csv").exists()


def test_cli_fills_absent_cells(tmp_path, _cli):
    (tmp_path / "t.csv").write_text("a,b,n\nx,p,7\ny,q,10\nx,q,12\n")
    r = _cli("t.csv", "--dims", "a,b", "--count", "n", "--max-n", "4", "--out", "o.csv",
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = pd.read_csv(tmp_path / "o.csv", dtype=str, keep_default_na=False)
    row = out[(out["a"] == "y") & (out["b"] == "p")]
    assert len(row) == 1 and row["n"].iat[0] == "" and row["status"].iat[0] == "primary"
