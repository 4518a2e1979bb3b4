"""Release log, Release sessions, linked tables, rendering, rounding and the CLI."""

from __future__ import annotations

import io
import json

import numpy as np
import openpyxl
import pandas as pd
import pytest

import kprlink as kl
from kprlink.cli import main


def _ages():
    female = [30, 31, 32, 33, 34, 2, 5, 36, 37, 38]
    male = [40, 41, 42, 43, 44, 45, 46, 47, 48, 49]
    base = pd.DataFrame({"age": [str(a) for a in range(10)] * 2,
                         "sex": ["F"] * 10 + ["M"] * 10, "n": female + male})
    base["band"] = np.select([base["age"] == "0", base["age"].astype(int) <= 5],
                             ["0", "1-5"], "6-9")
    return base


def _res():
    cells = pd.DataFrame({"sex": list("FFMM"), "age": ["<60", "60+"] * 2,
                          "n": [2, 10, 12, 15]})
    return kl.suppress_table(cells, ["sex", "age"], count_col="n",
                             rule=kl.SuppressionRule(max_n=4))


# --- release log ---------------------------------------------------------------------

def test_release_log_has_no_hidden_count(tmp_path):
    res = _res()
    entry = res.release_log()
    assert entry["rule"]["max_n"] == 4 and entry["release_ok"]
    assert entry["kprlink_version"] == kl.__version__
    assert entry["input_digest"] == res.input_digest
    hidden = [c for c in entry["cells"] if c["status"] != "published"]
    assert len(hidden) == 4
    assert all(c["value"] is None and c["audit_ok"] for c in hidden)
    assert {c["reason"] for c in hidden} == {"count<=4", "protects a primary cell"}
    log = kl.write_release_log([res], tmp_path / "log.json")
    data = json.loads((tmp_path / "log.json").read_text())
    assert data["tables"][0]["n_by_status"] == {"published": 5, "primary": 1, "secondary": 3}
    md = (tmp_path / "log.md").read_text()
    assert "| F | <60 | primary | count<=4 |" in md
    assert "<pre>" in log.to_html()


def test_release_log_digest_changes_with_input():
    cells = pd.DataFrame({"g": list("ab"), "n": [10, 12]})
    a = kl.suppress_table(cells, ["g"], count_col="n", rule=kl.SuppressionRule(max_n=4))
    b = kl.suppress_table(cells.assign(n=[10, 13]), ["g"], count_col="n",
                          rule=kl.SuppressionRule(max_n=4))
    assert a.input_digest != b.input_digest


# --- Release session -----------------------------------------------------------------

def test_release_refuses_differencing_with_an_earlier_table():
    base = _ages()
    rule = kl.SuppressionRule(max_n=4)
    t1 = kl.suppress_table(base, ["age", "sex"], count_col="n", rule=rule)
    bands = base.groupby(["band", "sex"], as_index=False)["n"].sum()
    t2 = kl.suppress_table(bands, ["band", "sex"], count_col="n", rule=rule)
    assert t1.ok and t2.ok and t2.n_primary == 0  # each table alone is safe
    session = kl.Release(base, count_col="n")
    session.add(t1, name="age by sex")
    with pytest.raises(kl.ReleaseRefusedError) as err:
        session.add(t2, name="band by sex")
    assert any("age=5, sex=F: interval [2, 2]" in p for p in err.value.problems)
    assert len(session.log.tables) == 1  # the refused table is not logged


def test_linked_tables_suppress_common_cells_alike_and_pass_the_session():
    base = _ages()
    rule = kl.SuppressionRule(max_n=4)
    t1, t2 = kl.suppress_linked_tables(
        base, [kl.LinkedTable(("age", "sex")), kl.LinkedTable(("band", "sex"))],
        count_col="n", rule=rule)
    assert t1.ok and t2.ok
    session = kl.Release(base, count_col="n")
    session.add(t1)
    session.add(t2)
    assert len(session.log.tables) == 2
    # common cells (sex totals, grand total) have one status in both tables
    a = t1.table[t1.table["age"] == "Total"].set_index("sex")["status"]
    b = t2.table[t2.table["band"] == "Total"].set_index("sex")["status"]
    pd.testing.assert_series_equal(a, b, check_categorical=False, check_index_type=False)
    # band "0" is age "0": one cell, one status
    s1 = t1.table.set_index(["age", "sex"])["status"]
    s2 = t2.table.set_index(["band", "sex"])["status"]
    assert s1[("0", "F")] == s2[("0", "F")]


def test_release_errors():
    base = _ages()
    with pytest.raises(kl.MissingColumnsError) as err:
        kl.Release(base, count_col="count")
    assert err.value.missing == ["count"]
    session = kl.Release(base, count_col="n")
    other = pd.DataFrame({"region": ["N", "S"], "n": [3, 40]})
    res = kl.suppress_table(other, ["region"], count_col="n",
                            rule=kl.SuppressionRule(max_n=4))
    with pytest.raises(kl.MissingColumnsError) as err:
        session.add(res)
    assert err.value.missing == ["region"]
    wrong = kl.suppress_table(base.assign(n=base["n"] + 1), ["age", "sex"], count_col="n",
                              rule=kl.SuppressionRule(max_n=4))
    with pytest.raises(kl.DisclosureError) as err:
        session.add(wrong)
    assert err.value.problems
    unaudited = kl.suppress_table(base, ["age", "sex"], count_col="n",
                                  rule=kl.SuppressionRule(max_n=4), audit=False)
    with pytest.raises(kl.ReleaseRefusedError):
        session.add(unaudited)
    with pytest.raises(kl.DisclosureError):
        kl.suppress_linked_tables(base, [], count_col="n", rule=kl.SuppressionRule(max_n=4))
    with pytest.raises(kl.DisclosureError):
        kl.LinkedTable(())


# --- rendering -----------------------------------------------------------------------

def test_render_csv_markdown_xlsx(tmp_path):
    res = _res()
    text = kl.render_table(res, fmt="csv")
    frame = pd.read_csv(io.StringIO(text), dtype=str)
    hidden = frame["status"] != "published"
    assert (frame.loc[hidden, "n"] == ":").all() and hidden.sum() == 4
    assert kl.render_table(res, fmt="csv", symbol="..").count("..") == 4
    md = kl.render_table(res, fmt="markdown", status=False)
    assert md.splitlines()[0] == "| sex | age | n |"
    out = tmp_path / "t.xlsx"
    kl.render_table(res, fmt="xlsx", path=out)
    ws = openpyxl.load_workbook(out).active
    values = [row for row in ws.iter_rows(values_only=True)]
    assert values[0] == ("sex", "age", "n", "status")
    assert sum(1 for r in values[1:] if r[2] == ":") == 4


def test_render_xlsx_numbers_frozen_header_and_notes(tmp_path):
    out = tmp_path / "t.xlsx"
    kl.render_table(_res(), fmt="xlsx", path=out, status=False, title="Persons by sex and age",
                    period="2017", sources="synthetic KPR")
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["table", "notes"]
    ws = wb["table"]
    assert ws.freeze_panes == "A2" and ws["A1"].font.bold
    counts = [r[2] for r in ws.iter_rows(min_row=2, values_only=True)]
    shown = [v for v in counts if v != ":"]
    assert shown and all(isinstance(v, int) for v in shown)  # numbers, not text
    assert counts.count(":") == 4
    notes = dict(wb["notes"].iter_rows(min_row=2, values_only=True))
    assert notes["title"] == "Persons by sex and age" and notes["period"] == "2017"
    assert notes["sources"] == "synthetic KPR" and notes["symbol"].startswith(": ")
    assert "1 to 4" in notes["rule"]


def test_render_released_rates_shows_shares_and_the_symbol():
    cells = pd.DataFrame({"sex": ["female", "male", "female", "male"],
                          "age": ["<60", "<60", "60+", "60+"], "n": [2, 10, 12, 15],
                          "population": [100, 120, 80, 0 + 90]})
    rates = kl.release_rates(cells, dims=["sex", "age"], rule=kl.SuppressionRule(max_n=4))
    frame = pd.read_csv(io.StringIO(kl.render_table(rates, status=False)), dtype=str)
    assert list(frame.columns) == ["sex", "age", "n", "population", "share", "share_lower",
                                   "share_upper"]
    hidden = frame["n"] == ":"
    assert hidden.sum() == 4 and (frame.loc[hidden, "share"] == ":").all()
    total = frame[(frame["sex"] == "Total") & (frame["age"] == "Total")].iloc[0]
    assert float(total["share"]) == pytest.approx(39 / 390 * 100)


def test_render_refuses_and_rejects_format():
    res = _res()
    with pytest.raises(kl.DisclosureError):
        kl.render_table(res, fmt="pdf")
    plain = kl.suppress_table(pd.DataFrame({"g": list("ab"), "n": [1, 9]}), ["g"],
                              count_col="n", rule=kl.SuppressionRule(max_n=4), audit=False)
    with pytest.raises(kl.ReleaseRefusedError) as err:
        kl.render_table(plain)
    assert err.value.problems


# --- rounding ------------------------------------------------------------------------

def test_round_table_additive_multiples_and_unbiased():
    cells = pd.DataFrame({"g": list("abcdef"), "n": [0, 1, 4, 5, 7, 23]})
    res = kl.round_table(cells, ["g"], count_col="n", base=5, max_n=4, seed=3)
    rel = res.released.set_index("g")["n"]
    assert (rel % 5 == 0).all() and res.ok
    assert rel["Total"] == rel.drop("Total").sum()
    assert rel["a"] == 0 and rel["d"] == 5
    assert (np.abs(res.table["rounded"] - res.table["n"]).iloc[1:] < 5).all()
    draws = [kl.round_table(cells, ["g"], count_col="n", base=5, max_n=4, seed=s)
             .released.set_index("g").loc["e", "n"] for s in range(120)]
    assert abs(np.mean(draws) - 7) < 1.0
    assert kl.release_rounded(res).equals(res.released)
    log = res.release_log()
    assert log["rule"] == {"base": 5, "max_n": 4} and log["release_ok"]
    assert [c["value"] for c in log["cells"]] == rel.tolist()
    both = kl.ReleaseLog([log, _res().release_log()])
    assert both.to_dict()["tables"][0]["method"].startswith("random rounding")
    md = both.to_markdown()
    assert "- method: random rounding to base 5" in md and "| F | <60 | primary |" in md


def test_round_table_recheck_fails_when_base_too_small():
    cells = pd.DataFrame({"g": list("ab"), "n": [3, 30]})
    res = kl.round_table(cells, ["g"], count_col="n", base=3, max_n=4)
    assert not res.ok and len(res.problems) == 1
    with pytest.raises(kl.ReleaseRefusedError) as err:
        kl.release_rounded(res)
    assert err.value.problems == res.problems


@pytest.mark.parametrize("kwargs", [{"base": 1, "max_n": 4}, {"base": 5, "max_n": -1},
                                    {"base": 2.5, "max_n": 4}])
def test_round_table_invalid(kwargs):
    with pytest.raises(kl.SpecError) as err:
        kl.round_table(pd.DataFrame({"g": ["a"], "n": [1]}), ["g"], count_col="n", **kwargs)
    assert len(err.value.problems) == 1


# --- CLI -----------------------------------------------------------------------------

def _write(tmp_path, text, name="t.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_cli_suppress(tmp_path):
    src = _write(tmp_path, "kommune;diag;freq\nK1;v;0\nK1;w;12\nK2;v;9\nK2;w;15\nK3;v;7\nK3;w;8\n")
    out = tmp_path / "out.csv"
    rc = main(["suppress", str(src), "--dims", "kommune,diag", "--count", "freq",
               "--max-n", "4", "--out", str(out), "--audit", "--log", str(tmp_path / "l.json")])
    assert rc == 0
    t = pd.read_csv(out, dtype={"kommune": str, "diag": str})
    assert list(t.columns) == ["kommune", "diag", "freq", "status", "audit_lo", "audit_up"]
    assert len(t) == 4 * 3
    assert t.loc[t["status"] != "published", "freq"].isna().all()
    assert t.loc[t["status"] == "published", "audit_lo"].isna().all()
    assert (t.loc[t["status"] != "published", "audit_up"]
            > t.loc[t["status"] != "published", "audit_lo"]).all()
    assert t.iloc[0][["kommune", "diag"]].tolist() == ["Total", "Total"]
    assert (tmp_path / "l.json").exists() and (tmp_path / "l.md").exists()
    rc = main(["suppress", str(src), "--dims", "kommune,diag", "--count", "freq",
               "--max-n", "4", "--no-protect-zeros", "--out", str(out)])
    t = pd.read_csv(out, dtype={"kommune": str, "diag": str})
    assert rc == 0 and list(t.columns) == ["kommune", "diag", "freq", "status"]
    assert t.set_index(["kommune", "diag"]).loc[("K1", "v"), "freq"] == 0


def test_cli_bad_input_exits_2(tmp_path, capsys):
    src = _write(tmp_path, "a,b,n\nx,y,1\nx,z,-3\n")
    rc = main(["suppress", str(src), "--dims", "a,b", "--count", "n", "--max-n", "4",
               "--out", str(tmp_path / "o.csv")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "column 'n'" in err
    rc = main(["suppress", str(src), "--dims", "a,c", "--count", "n", "--max-n", "4",
               "--out", str(tmp_path / "o.csv")])
    assert rc == 2
    rc = main(["suppress", str(tmp_path / "nope.csv"), "--dims", "a", "--count", "n",
               "--max-n", "4", "--out", str(tmp_path / "o.csv")])
    assert rc == 2
    assert not (tmp_path / "o.csv").exists()


def test_release_accepts_a_magnitude_table():
    micro = pd.DataFrame({"region": list("NNNNSSSS"), "kind": list("abababab"),
                          "hosp": [1, 2, 3, 7, 4, 5, 6, 8],
                          "days": [900.5, 40, 30, 45.25, 35, 30, 40, 50]})
    res = kl.suppress_magnitude_table(micro, ["region", "kind"], value_col="days",
                                      contributor_col="hosp", rule=kl.DominanceRule())
    base = micro.groupby(["region", "kind"], as_index=False)["days"].sum()
    session = kl.Release(base, count_col="days")
    session.add(res, name="bed-days")
    entry = session.log.tables[0]
    assert entry["rule"]["kind"] == "dominance" and entry["method"] == "gauss-magnitude"
    assert all(c["value"] is None for c in entry["cells"] if c["status"] != "published")


def test_cli_empty_file_exits_2(tmp_path, capsys):
    src = _write(tmp_path, "")
    rc = main(["suppress", str(src), "--dims", "a", "--count", "n", "--max-n", "4",
               "--out", str(tmp_path / "o.csv")])
    assert rc == 2 and "Traceback" not in capsys.readouterr().err
