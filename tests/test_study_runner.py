"""run_study / kprlink run / kprlink demo on a small synthetic delivery.

Runner mechanics are tested with a stand-in for the disclosure layer (primary
suppression of counts 1..max_n) so they do not depend on it; the tests at the
end use the real ``kl.suppress_table`` once it is part of kprlink.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import kprlink as kl
import kprlink.study as study_mod
from kprlink import cli
from kprlink.exceptions import ReleaseRefusedError, SpecError
from kprlink.study import OutputFolderError, run_study

STUDIES = Path(__file__).resolve().parent.parent / "studies"
HO_STUDIES = ["welfare_technology_2017", "nursing_home_quality_2017",
              "rehabilitation_assessment_2017"]
REAL_DISCLOSURE = hasattr(kl, "suppress_table") and hasattr(kl, "SuppressionRule")


def _primary_only(cells, at, rule):  # type: ignore[no-untyped-def]
    t = study_mod.add_margins(cells, list(at.dims), [at.count_col])
    n = t[at.count_col]
    hide = ((n >= 1) & (n <= rule.max_n)) | ((n == 0) & rule.protect_zeros)
    t["status"] = hide.map({True: "primary", False: "published"})
    t[at.count_col] = t[at.count_col].astype("Int64").mask(hide)
    return t, {"stand_in": True}


@pytest.fixture(scope="module")
def delivery(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("delivery") / "d"
    kl.generate_delivery(out, kl.SynthConfig(scale=0.002, seed=2017))
    return out


@pytest.fixture()
def stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(study_mod, "_suppress", _primary_only)


RELEASED = ["tables", "tables.xlsx", "figures", "release_log.csv", "release_log.json",
            "report.md", "report.html", "provenance.json"]


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


@pytest.mark.usefixtures("stand_in")
def test_run_writes_release_and_reruns_identically(delivery: Path, tmp_path: Path) -> None:
    res = run_study(STUDIES / "nursing_home_quality_2017", data=delivery, out=tmp_path / "a")
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(RELEASED)
    assert res.all_passed and len(res.tables) == 4
    for name, table in res.tables.items():
        csv = pd.read_csv(tmp_path / "a" / "tables" / f"{name}.csv", dtype={"county": str})
        assert not {"kpr_id", "npr_id", "person_id"} & set(csv.columns)
        shown = csv["n"].dropna()
        assert not ((shown >= 1) & (shown <= 4)).any()
        assert csv.loc[csv["n"].isna(), "share_pct"].isna().all()
        assert len(csv) == len(table)
    log = json.loads((tmp_path / "a" / "release_log.json").read_text())
    assert log["all_passed"] is True and log["rule"]["max_n"] == 4
    prov = json.loads((tmp_path / "a" / "provenance.json").read_text())
    assert {f["file"] for f in prov["inputs"]} == {p.name for p in delivery.iterdir()
                                                   if p.is_file()}
    assert prov["study"]["digest"] == study_mod.StudySpec.from_toml(
        STUDIES / "nursing_home_quality_2017").digest
    assert not any(p.suffix == ".parquet" for p in (tmp_path / "a").rglob("*"))
    run_study(STUDIES / "nursing_home_quality_2017", data=delivery, out=tmp_path / "b")
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


@pytest.mark.usefixtures("stand_in")
@pytest.mark.parametrize("name", ["welfare_technology_2017", "rehabilitation_assessment_2017"])
def test_other_home_care_studies_run(name: str, delivery: Path, tmp_path: Path) -> None:
    res = run_study(STUDIES / name, data=delivery, out=tmp_path / "o")
    assert res.all_passed
    report = (tmp_path / "o" / "report.md").read_text()
    spec = study_mod.StudySpec.from_toml(STUDIES / name)
    for p in spec.published:
        assert p.value in report
    assert (tmp_path / "o" / "figures").is_dir()
    summary = res.summary()
    assert summary["cells"].sum() == len(res.release_log)


@pytest.mark.usefixtures("stand_in")
def test_existing_output_needs_force(delivery: Path, tmp_path: Path) -> None:
    study = STUDIES / "rehabilitation_assessment_2017"
    run_study(study, data=delivery, out=tmp_path / "o")
    with pytest.raises(OutputFolderError) as exc:
        run_study(study, data=delivery, out=tmp_path / "o")
    assert exc.value.path == tmp_path / "o"
    assert run_study(study, data=delivery, out=tmp_path / "o", force=True).all_passed
    with pytest.raises(OutputFolderError) as exc2:
        run_study(study, data=delivery, out=delivery / "release", force=True)
    assert [p.reason for p in exc2.value.problems] == ["overlaps_data"]  # type: ignore[union-attr]


def test_failed_release_check_writes_nothing(delivery: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    def leaky(cells, at, rule):  # type: ignore[no-untyped-def]
        t = study_mod.add_margins(cells, list(at.dims), [at.count_col])
        t[at.count_col] = t[at.count_col].astype("Int64")
        return t.assign(status="published"), None

    monkeypatch.setattr(study_mod, "_suppress", leaky)
    with pytest.raises(ReleaseRefusedError) as exc:
        run_study(STUDIES / "nursing_home_quality_2017", data=delivery, out=tmp_path / "o")
    assert exc.value.problems
    assert not (tmp_path / "o").exists()


def test_cohort_study_needs_a_cohort_file(delivery: Path, tmp_path: Path) -> None:
    spec = study_mod.StudySpec.from_dict({
        "kprlink_spec": 1, "name": "no_cohort", "title": "T",
        "period": {"start": "2016-07-01", "end": "2017-06-30"},
        "tables": [{"name": "share", "kind": "cohort_share_by_age_sex"}]})
    with pytest.raises(SpecError) as exc:
        run_study(spec, data=delivery, out=tmp_path / "o")
    assert exc.value.problems == ["cohort"]
    assert not (tmp_path / "o").exists()


@pytest.mark.usefixtures("stand_in")
def test_cli_run_and_errors(delivery: Path, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    study = str(STUDIES / "rehabilitation_assessment_2017")
    argv = ["run", study, "--data", str(delivery), "--out", str(tmp_path / "o"), "--quiet"]
    assert cli.main(argv) == 0
    assert "report.html" in capsys.readouterr().out
    assert cli.main(argv) == 2
    assert "--force" in capsys.readouterr().err
    assert cli.main(["run", str(tmp_path), "--data", str(delivery), "--out",
                     str(tmp_path / "x")]) == 2


def test_cli_demo_refuses_foreign_folder(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (out / "thesis.docx").write_bytes(b"x")
    assert cli.main(["demo", "--out", str(out), "--force", "--quiet"]) == 2
    assert "provenance.json" in capsys.readouterr().err
    assert not (tmp_path / "o.work").exists()


@pytest.mark.skipif(not REAL_DISCLOSURE, reason="kl.suppress_table not in this build yet")
@pytest.mark.parametrize("name", HO_STUDIES)
def test_home_care_studies_with_real_disclosure(name: str, delivery: Path,
                                                tmp_path: Path) -> None:
    res = run_study(STUDIES / name, data=delivery, out=tmp_path / "a")
    assert res.all_passed
    log = pd.read_csv(tmp_path / "a" / "release_log.csv")
    assert (log["check"] == "passed").all()
    run_study(STUDIES / name, data=delivery, out=tmp_path / "b")
    for f in ("tables", "release_log.csv", "release_log.json"):
        a, b = tmp_path / "a" / f, tmp_path / "b" / f
        assert (_files(a) == _files(b)) if a.is_dir() else a.read_bytes() == b.read_bytes()
