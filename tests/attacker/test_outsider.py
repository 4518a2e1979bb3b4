"""The outsider's attack on hand-built release folders: what it must find, and what not."""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
import pytest

from kprlink.disclosure import outsider
from kprlink.disclosure.outsider import NotAReleaseError, attack_release, run_attack

from ._build import table, two_by_two, write_release


def _kinds(findings: pd.DataFrame) -> list[str]:
    return sorted(findings["kind"])


def test_one_hidden_cell_with_margins_is_recovered(tmp_path: Path) -> None:
    out = write_release(tmp_path / "o", {"t": two_by_two({("F", "N")})})
    f = attack_release(out)
    assert f[["table", "cell", "lower", "upper", "kind"]].values.tolist() == [
        ["t", "sex=F, region=N", 12.0, 12.0, "interval"]]


def test_rectangle_of_hidden_cells_is_safe(tmp_path: Path) -> None:
    hidden = {("F", "N"), ("F", "S"), ("M", "N"), ("M", "S")}
    out = write_release(tmp_path / "o", {"t": two_by_two(hidden)})
    res = run_attack(out)
    assert res.findings.empty
    assert len(res.intervals) == 4
    fn = res.intervals.set_index("cell").loc["sex=F, region=N"]
    assert (fn["lower"], fn["upper"]) == (0, 19)  # F,N + M,N = 19


def _ages_a() -> pd.DataFrame:  # 0-64 / 65-79 / 80+: 0-64 and 65-79 hidden
    return table([("Total", 50), ("0-64", None), ("65-79", None), ("80+", 28)],
                 ["age_band", "n"])


def _ages_b() -> pd.DataFrame:  # Under 60 / 60-64 / 65+: the two small bands hidden
    return table([("Total", 50), ("Under 60", None), ("60-64", None), ("65+", 48)],
                 ["age_band", "n"])


def test_different_band_cuts_pin_a_cell_jointly(tmp_path: Path) -> None:
    assert attack_release(write_release(tmp_path / "a", {"a": _ages_a()})).empty
    assert attack_release(write_release(tmp_path / "b", {"b": _ages_b()})).empty
    res = run_attack(write_release(tmp_path / "ab", {"a": _ages_a(), "b": _ages_b()}))
    pinned = res.findings.set_index(["table", "cell"])
    assert pinned.loc[("a", "age_band=0-64"), ["lower", "upper"]].tolist() == [2, 2]
    assert pinned.loc[("a", "age_band=65-79"), ["lower", "upper"]].tolist() == [20, 20]
    assert set(res.findings["kind"]) == {"interval"}
    # the Under 60 / 60-64 split stays open
    b = res.intervals[res.intervals["table"] == "b"].set_index("cell")
    assert b.loc["age_band=60-64", ["lower", "upper"]].tolist() == [0, 2]


def test_tables_of_other_persons_are_not_joined(tmp_path: Path) -> None:
    other = _ages_b()
    other.loc[other["age_band"] == "Total", "n"] = 51
    other.loc[other["age_band"] == "65+", "n"] = 49
    assert attack_release(write_release(tmp_path / "o", {"a": _ages_a(), "b": other})).empty


def test_share_beside_a_hidden_count_is_a_finding(tmp_path: Path) -> None:
    t = table([("Total", 40, 100.0), ("x", 30, 75.0), ("y", None, 12.5), ("z", None, None)],
              ["group", "n", "share_pct"])
    f = attack_release(write_release(tmp_path / "o", {"t": t}))
    assert f[f["kind"] == "derived_shown"]["cell"].tolist() == ["group=y [share_pct]"]


def test_population_bounds_pin_hidden_cells(tmp_path: Path) -> None:
    rows = [("Total", 16, 106), ("0301", None, 1), ("0302", None, 5), ("0303", 10, 100)]
    with_pop = table(rows, ["municipality", "n", "population"])
    f = attack_release(write_release(tmp_path / "p", {"m": with_pop}))
    got = f.set_index("cell")[["lower", "upper", "kind"]]
    assert got.loc["municipality=0301"].tolist() == [1, 1, "interval"]
    assert got.loc["municipality=0302"].tolist() == [5, 5, "interval"]
    without = with_pop.drop(columns="population")
    assert attack_release(write_release(tmp_path / "q", {"m": without})).empty


def test_denominator_implied_by_a_share_is_used(tmp_path: Path) -> None:
    rows = [("Total", "Total", 105, 100.0), ("Total", "yes", 60, 57.1429),
            ("Total", "no", 45, 42.8571),
            ("A", "Total", None, None), ("A", "yes", 10, 76.9231), ("A", "no", None, None),
            ("B", "Total", None, None), ("B", "yes", 20, 90.9091), ("B", "no", None, None),
            ("C", "Total", 70, 100.0), ("C", "yes", 30, 42.8571), ("C", "no", 40, 57.1429)]
    t = table(rows, ["age_band", "service", "n", "share_pct"])
    res = run_attack(write_release(tmp_path / "o", {"t": t}))
    got = res.findings.set_index("cell")
    assert got.loc["age_band=A, service=no", ["lower", "upper"]].tolist() == [3, 3]
    assert got.loc["age_band=A, service=Total", ["lower", "upper"]].tolist() == [13, 13]
    blind = t.drop(columns="share_pct")
    assert attack_release(write_release(tmp_path / "b", {"t": blind})).empty


def test_wilson_interval_reveals_a_hidden_denominator(tmp_path: Path) -> None:
    # 0 of 11 has the Wilson interval [0, 25.8833]: it pins the hidden group total
    rows = [("Total", "Total", 60, 100, 93.9828, 100), ("Total", "yes", 0, 0, 0, 6.0172),
            ("Total", "no", 60, 100, 93.9828, 100),
            ("A", "Total", None, None, None, None), ("A", "yes", 0, 0, 0, 25.8833),
            ("A", "no", None, None, None, None),
            ("B", "Total", None, None, None, None), ("B", "yes", 0, 0, 0, 7.2698),
            ("B", "no", None, None, None, None)]
    cols = ["group", "answer", "n", "share_pct", "share_lower", "share_upper"]
    res = run_attack(write_release(tmp_path / "o", {"t": table(rows, cols)}))
    got = res.findings.set_index("cell")
    assert got.loc["group=A, answer=Total", ["lower", "upper"]].tolist() == [11, 11]
    assert got.loc["group=B, answer=Total", ["lower", "upper"]].tolist() == [49, 49]
    blind = table(rows, cols).drop(columns=["share_lower", "share_upper"])
    assert attack_release(write_release(tmp_path / "b", {"t": blind})).empty


def test_shown_small_counts_values_and_text(tmp_path: Path) -> None:
    t = table([("Total", 40, 9), ("x", 37, 6), ("y", 3, 3)],
              ["group", "n", "home_visit"])
    report = "Left out: unknown age: 2; dated after death (not counted): 0."
    res = run_attack(write_release(tmp_path / "o", {"t": t}, report=report))
    assert _kinds(res.findings) == ["small_count", "small_value", "text"]
    assert res.text_numbers[["label", "value"]].values.tolist() == [
        ["unknown age", 2], ["dated after death (not counted)", 0]]
    assert res.max_n == 4


def test_rule_is_read_from_the_report(tmp_path: Path) -> None:
    t = table([("Total", 40), ("x", 37), ("y", 3)], ["group", "n"])
    strict = write_release(tmp_path / "a", {"t": t})
    lax = write_release(tmp_path / "b", {"t": t},
                        rule="- **Disclosure rule**: counts 1\u20132 suppressed")
    assert _kinds(attack_release(strict)) == ["small_count"]
    assert attack_release(lax).empty
    assert _kinds(attack_release(lax, max_n=4)) == ["small_count"]


def test_difference_to_population(tmp_path: Path) -> None:
    t = table([("Total", 49, 60), ("x", 9, 10), ("y", 40, 50)],
              ["group", "n", "population"])
    f = attack_release(write_release(tmp_path / "o", {"t": t}))
    assert f[["cell", "kind"]].values.tolist() == [["group=x", "difference"]]


def test_same_name_different_variable_is_not_joined(tmp_path: Path) -> None:
    # two indicators of the same residents: joining them would 'pin' a false value
    t1 = table([("Total", 100), ("yes", None), ("no", None), ("not reported", 40)],
               ["indicator", "n"])
    t2 = table([("Total", 100), ("yes", None), ("no", 55), ("not reported", None)],
               ["indicator", "n"])
    res = run_attack(write_release(tmp_path / "o", {"a": t1, "b": t2}))
    assert res.findings.empty


def test_table_that_does_not_add_up_gets_bounds(tmp_path: Path) -> None:
    # persons with each chapter: one person can have several
    t = table([("Total", 20), ("I", 15), ("II", 12), ("III", None)], ["chapter", "n"])
    res = run_attack(write_release(tmp_path / "o", {"t": t}))
    assert res.findings.empty and res.notes
    assert res.intervals[["lower", "upper"]].values.tolist() == [[0, 20]]


def test_hidden_value_column_recovered_from_its_margin(tmp_path: Path) -> None:
    t = table([("Total", 40, 90), ("x", 30, 60), ("y", None, None), ("z", 5, 20)],
              ["group", "n", "consultation"])
    f = attack_release(write_release(tmp_path / "o", {"t": t}))
    assert f[["cell", "kind"]].values.tolist() == [["group=y", "interval"],
                                                    ["group=y [consultation]",
                                                     "value_interval"]]


def test_checker_folder_is_never_read(tmp_path: Path) -> None:
    truth = pd.DataFrame({"table": ["t"] * 4, "cell": ["a"] * 4, "status": ["primary"] * 4,
                          "n": [5, 6, 7, 8], "lower": [5] * 4, "upper": [5] * 4})
    hidden = {("F", "N"), ("F", "S"), ("M", "N"), ("M", "S")}
    out = write_release(tmp_path / "o", {"t": two_by_two(hidden)},
                        checker={"release_log": truth})
    assert attack_release(out).empty
    assert attack_release(out / "release").empty


def test_not_a_release(tmp_path: Path) -> None:
    with pytest.raises(NotAReleaseError, match="not a release"):
        run_attack(tmp_path)


def test_independent_of_the_suppression_code() -> None:
    """The attack imports nothing from the code it checks."""
    pkg = Path(outsider.__file__).parent
    for path in [pkg / "outsider.py", *pkg.glob("_outsider_*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                if name.startswith("kprlink"):
                    assert name.startswith("kprlink.disclosure._outsider_"), (path.name, name)


def test_sex_is_joined_on_evidence(tmp_path: Path) -> None:
    # age x sex and source x sex count the same persons; sex margins agree (30 / 20)
    a = table([("Total", "Total", 50), ("Total", "F", 30), ("Total", "M", 20),
               ("young", "Total", None), ("young", "F", None), ("young", "M", None),
               ("old", "Total", None), ("old", "F", None), ("old", "M", None)],
              ["age_band", "sex", "n"])
    b = table([("Total", "Total", 50), ("Total", "F", 30), ("Total", "M", 20),
               ("GP", "Total", 25), ("GP", "F", None), ("GP", "M", None),
               ("hospital", "Total", 25), ("hospital", "F", None), ("hospital", "M", None)],
              ["source", "sex", "n"])
    res = run_attack(write_release(tmp_path / "o", {"a": a, "b": b}))
    assert res.findings.empty
    keys = [k for k in res.intervals["cell"] if "sex" in k]
    assert keys  # joined model solved every hidden cell of both tables
    assert len(res.intervals) == 10


def test_common_cells_suppressed_differently_in_two_tables(tmp_path: Path) -> None:
    # the nursing-home case on main (seed 1): county 17 shown in one table, hidden in another
    a = table([("Total", 42), ("01", None), ("02", None), ("03", 7), ("17", 5)],
              ["county", "n"])
    b = table([("Total", 42), ("01", 20), ("02", None), ("03", 7), ("17", None)],
              ["county", "n"])
    assert attack_release(write_release(tmp_path / "a", {"a": a})).empty
    assert attack_release(write_release(tmp_path / "b", {"b": b})).empty
    f = attack_release(write_release(tmp_path / "ab", {"a": a, "b": b}))
    got = {(r.table, r.cell): r.lower for r in f.itertuples()}
    assert got == {("a", "county=01"): 20, ("a", "county=02"): 10,
                   ("b", "county=02"): 10, ("b", "county=17"): 5}


def test_rate_beside_a_hidden_value_is_a_finding(tmp_path: Path) -> None:
    t = table([("Total", 40, 90, 2.25), ("x", 30, 60, 2.0), ("y", 10, None, 3.0)],
              ["group", "n", "consultation", "consultation_per_person"])
    f = attack_release(write_release(tmp_path / "o", {"t": t}))
    assert f[f["kind"] == "derived_shown"]["cell"].tolist() == [
        "group=y [consultation_per_person]"]


def test_population_is_no_bound_where_the_report_says_it_is_exceeded(tmp_path: Path) -> None:
    # main's runner suppresses cells counting more persons than their population (movers)
    rows = [("Total", 30, 300), ("0929", None, 0), ("0930", None, 100), ("0931", 25, 200)]
    t = table(rows, ["municipality", "n", "population"])
    f = attack_release(write_release(tmp_path / "a", {"m": t}))
    assert f[["cell", "lower", "upper"]].values.tolist() == [["municipality=0929", 0, 0],
                                                             ["municipality=0930", 5, 5]]
    said = ("Table `m`: by municipality. 1 cell(s) counted more persons than their population "
            "on 2017-01-01; they are suppressed.")
    res = run_attack(write_release(tmp_path / "b", {"m": t}, report=said))
    assert res.findings.empty and res.notes


def test_a_rate_beside_a_hidden_event_count_is_found(tmp_path: Path) -> None:
    # events hidden in F, but the rate per 1,000 person-years beside them is shown
    t = table([("Total", 40, 12, 9000, 486.9), ("F", 20, None, 4000, 365.25),
               ("M", 20, None, 5000, 584.4)],
              ["sex", "n", "events", "person_days", "events_per_1000_py"])
    res = run_attack(write_release(tmp_path / "o", {"t": t}))
    assert set(res.findings["kind"]) == {"derived_shown"}
    assert len(res.findings) == 2
    # hidden with its events, the rate discloses nothing; it is no value column
    t2 = t.assign(events_per_1000_py=[486.9, None, None])
    res2 = run_attack(write_release(tmp_path / "o2", {"t": t2}))
    assert res2.findings.empty
    assert set(res2.intervals["column"]) == {"events"}


def test_standardised_differences_are_not_attacked_as_sums(tmp_path: Path) -> None:
    # an smd column is a statistic of the shares, not an additive value
    t = table([("Total", "Total", 60, 0.2), ("Total", "a", 30, "."), ("Total", "b", 30, "."),
               ("f", "Total", 35, 0.2), ("f", "a", 20, "."), ("f", "b", 15, "."),
               ("m", "Total", 25, 0.2), ("m", "a", 10, "."), ("m", "b", 15, ".")],
              ["sex", "group", "n", "smd"])
    res = run_attack(write_release(tmp_path / "o", {"t": t}))
    assert res.findings.empty and res.intervals.empty
