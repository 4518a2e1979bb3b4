"""`kprlink demo`: the dementia study end to end on a fresh synthetic delivery.

Byte-identical reruns of the same study on the same delivery are tested in
``test_study_runner.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from kprlink import cli
from kprlink.study import find_study


def test_demo_study_is_shipped() -> None:
    assert (find_study("dementia_2016_2017") / "study.toml").is_file()
    assert (find_study("dementia_2016_2017") / "cohort.toml").is_file()


def test_demo_end_to_end(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo-out"
    assert cli.main(["demo", "--out", str(out), "--quiet"]) == 0
    assert "report.html" in capsys.readouterr().out
    for f in ("release/tables/share_by_age_sex.csv", "release/figures/share_by_age_sex.png",
              "release/figures/share_by_age_sex.svg", "release/figures/municipal_variation.png",
              "checker/release_log.csv", "release/report.md", "release/report.html",
              "checker/provenance.json", "release/tables.xlsx"):
        assert (out / f).is_file(), f
    assert not list(out.rglob("*.parquet"))
    assert (tmp_path / "demo-out.work" / "study" / "cohort.parquet").is_file()
    table = pd.read_csv(out / "release" / "tables" / "share_by_age_sex.csv", dtype=str)
    shown = pd.to_numeric(table["n"].where(table["n"] != ":"))
    assert not ((shown >= 1) & (shown <= 4)).any()
    assert json.loads((out / "checker" / "release_log.json").read_text())["all_passed"] is True
    assert set(table["age_band"]) >= {"Under 60", "90+", "Total"}
    rules = json.loads((out / "checker" / "release_log.json").read_text())["rule"]
    assert rules == {"max_n": 4, "protect_zeros": False, "protect_differences": True,
                     "min_width": 1.0, "symbol": ":"}


def test_demo_unknown_study(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["demo", "--out", str(tmp_path / "o"), "--study", "nope", "--quiet"]) == 2
    assert "dementia_2016_2017" in capsys.readouterr().err
    assert not (tmp_path / "o.work").exists()
