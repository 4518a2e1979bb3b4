"""``kprlink validate`` and ``kprlink import`` through kprlink.cli.main."""

from __future__ import annotations

import pandas as pd
from test_sources_data import CLAIMS, write_csv, write_delivery

from kprlink.cli import main


def test_validate_folder_exit_0_and_report(tmp_path, capsys):
    folder = write_delivery(tmp_path / "d")
    assert main(["validate", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "kpr_kuhr_regninger.csv" in out and "klass_kommuner.csv" in out
    assert "rows_in" in out


def test_validate_file_reports_excluded_rows(tmp_path, capsys):
    path = write_csv(CLAIMS.assign(enkeltregning_lnr=[1, 1, 2, 3, 4]), tmp_path / "c.csv")
    assert main(["validate", str(path), "--markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| file | contract |")
    assert "duplicate id" in out


def test_validate_missing_column_exit_2_without_traceback(tmp_path, capsys):
    path = write_csv(CLAIMS.drop(columns=["dato"]), tmp_path / "c.csv")
    assert main(["validate", str(path), "--contract", "kpr_kuhr.claims"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kprlink validate: c.csv is not usable")
    assert "'date'" in err and "Traceback" not in err


def test_validate_wrong_separator_exit_2(tmp_path, capsys):
    path = write_csv(CLAIMS, tmp_path / "c.csv")
    assert main(["validate", str(path), "--sep", ","]) == 2
    assert "sep=';'" in capsys.readouterr().err


def test_validate_missing_path_exit_2(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "absent.csv")]) == 2
    assert "absent.csv" in capsys.readouterr().err


def test_validate_unreadable_folder_file_exit_2(tmp_path, capsys):
    (tmp_path / "x.sav").write_bytes(b"garbage")
    assert main(["validate", str(tmp_path)]) == 2
    assert "x.sav" in capsys.readouterr().err


def test_import_writes_parquet(tmp_path, capsys):
    folder = write_delivery(tmp_path / "d")
    out = tmp_path / "pq"
    assert main(["import", str(folder), "--out", str(out)]) == 0
    assert "kprlink_import.json" in capsys.readouterr().out
    claims = pd.read_parquet(out / "kuhr_claims.parquet")
    assert claims["claim_id"].tolist() == [1, 2, 3, 4, 5]
    assert main(["validate", str(out)]) == 0


def test_import_bad_delivery_exit_2(tmp_path, capsys):
    (tmp_path / "d").mkdir()
    write_csv(CLAIMS.drop(columns=["kpr_lnr"]), tmp_path / "d" / "c.csv")
    assert main(["import", str(tmp_path / "d"), "--out", str(tmp_path / "pq")]) == 2
    assert "kpr_id" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]  # no folder, no leftover


def test_validate_empty_or_unrecognised_folder_exit_2(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["validate", str(empty)]) == 2
    err = capsys.readouterr().err
    assert "no register extract recognised" in err and "holds no files" in err
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.csv").write_text("a;b\n1;2\n", encoding="utf-8")
    assert main(["validate", str(other)]) == 2
    err = capsys.readouterr().err
    assert "notes.csv" in err and "--contract" in err and "Traceback" not in err
