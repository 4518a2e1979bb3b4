"""`kprlink demo` and the dementia study end to end (needs cohorts and disclosure)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import kprlink as kl
from kprlink import cli
from kprlink.commands.demo import studies_root

READY = all(hasattr(kl, n) for n in ("build_cohort", "CohortDefinition", "suppress_table"))


def test_demo_study_is_shipped() -> None:
    assert (studies_root() / "dementia_2016_2017" / "study.toml").is_file()


@pytest.mark.skipif(not READY, reason="cohorts and disclosure not in this build yet")
def test_demo_end_to_end_and_reproducible(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo-out"
    assert cli.main(["demo", "--out", str(out), "--quiet"]) == 0
    assert "report.html" in capsys.readouterr().out
    for f in ("tables/share_by_age_sex.csv", "figures/share_by_age_sex.png",
              "figures/share_by_age_sex.svg", "release_log.csv", "report.md",
              "report.html", "provenance.json", "tables.xlsx"):
        assert (out / f).is_file(), f
    assert not list(out.rglob("*.parquet"))
    assert (tmp_path / "demo-out.work" / "cohort.parquet").is_file()
    table = pd.read_csv(out / "tables" / "share_by_age_sex.csv")
    shown = table["n"].dropna()
    assert not ((shown >= 1) & (shown <= 4)).any()
    assert json.loads((out / "release_log.json").read_text())["all_passed"] is True
    assert set(table["age_band"]) >= {"Under 60", "90+", "Total"}
    first = {f: (out / f).read_bytes() for f in ("tables/share_by_age_sex.csv",
                                                 "release_log.csv", "release_log.json")}
    assert cli.main(["demo", "--out", str(out), "--quiet", "--force"]) == 0
    assert first == {f: (out / f).read_bytes() for f in first}
