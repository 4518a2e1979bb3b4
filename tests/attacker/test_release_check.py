"""``kprlink release check OUT``: exit 0 clean, 1 with one line per finding, 2 not a release."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprlink import cli
from kprlink.disclosure.outsider import check_release

from ._build import table, two_by_two, write_release

SAFE = {("F", "N"), ("F", "S"), ("M", "N"), ("M", "S")}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    rc = cli.main(["release", "check", *argv])
    cap = capsys.readouterr()
    return rc, cap.out.splitlines(), cap.err


def test_clean_release_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = write_release(tmp_path / "o", {"t": two_by_two(SAFE)})
    rc, lines, _ = _run(capsys, str(out))
    assert rc == 0 and lines == [f"release check {out}: nothing found"]
    assert _run(capsys, str(out / "release"))[0] == 0


def test_recoverable_cell_exits_1_one_line_each(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = write_release(tmp_path / "o", {"t": two_by_two({("F", "N")}),
                                         "u": table([("Total", 9), ("a", 6), ("b", 3)],
                                                    ["g", "n"])})
    rc, lines, _ = _run(capsys, str(out))
    assert rc == 1
    assert sorted(lines[:-1]) == ["t: sex=F, region=N: interval [12, 12]",
                                  "u: g=b: small_count [3, 3]"]
    assert lines[-1].endswith("2 finding(s)")


def test_status_column_and_words_are_findings(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    t = two_by_two(SAFE)
    t["status"] = ["published"] * 5 + ["secondary"] * 2 + ["primary"] * 2
    out = write_release(tmp_path / "o", {"t": t},
                        report="9 cells; 4 suppressed (2 primary, 2 secondary).\n\n"
                               "Main or secondary diagnosis counted.")
    f = check_release(out)
    assert (f["kind"] == "label").sum() == 3
    assert set(f["table"]) == {"tables/t.csv", "report.md"}
    assert not f["cell"].str.contains("diagnosis").any()
    assert _run(capsys, str(out))[0] == 1


def test_blank_cells_and_checker_files_are_findings(tmp_path: Path) -> None:
    out = write_release(tmp_path / "o", {"t": two_by_two(SAFE)})
    rel = out / "release"
    text = (rel / "tables" / "t.csv").read_text().replace(":", "")
    (rel / "tables" / "t.csv").write_text(text)
    (rel / "release_log.csv").write_text("table,cell,status\n")
    (rel / "report.md").write_text("| a | n |\n|---|---|\n| x | : |\n| y |  |\n")
    f = check_release(out)
    assert sorted(f["kind"]) == ["blank", "blank", "checker_file"]
    assert "rows 2" in f.loc[f["table"] == "report.md (table at line 1)", "cell"].iloc[0]


def test_not_a_release_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, lines, err = _run(capsys, str(tmp_path))
    assert rc == 2 and not lines
    assert "not a release folder" in err and "Traceback" not in err
    with pytest.raises(SystemExit):
        cli.main(["release"])


def test_a_count_hidden_in_the_csv_but_shown_elsewhere(tmp_path: Path) -> None:
    out = write_release(tmp_path / "o", {"t": two_by_two(SAFE)},
                        report="Table `t`: sex by region.\n\n"
                               "| sex | region | n |\n|---|---|---|\n"
                               "| Total | Total | 74 |\n| F | N | 12 |\n| F | S | : |\n")
    f = check_release(out)
    assert f[["table", "cell", "kind"]].values.tolist() == [
        ["t", "sex=F, region=N [n] differs in report.md (table at line 7)", "inconsistent"]]
    two_by_two(set()).to_excel(out / "release" / "tables.xlsx", sheet_name="t", index=False)
    kinds = check_release(out)["kind"].tolist()
    assert kinds.count("inconsistent") == 1 + 4
