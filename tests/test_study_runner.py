"""run_study / kprlink run on a small synthetic delivery, with the real disclosure layer.

Every shipped study runs twice on one synthetic delivery (scale 0.002): the
release must pass every check and the released tables and release logs must
be byte-identical between runs.
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
from kprlink.study import OutputFolderError, find_study, run_study, shipped_studies

STUDIES = Path(__file__).resolve().parent.parent / "studies"
ALL = ["dementia_2016_2017", "nursing_home_quality_2017", "rehabilitation_assessment_2017",
       "welfare_technology_2017"]
RELEASED = ["tables", "tables.xlsx", "figures", "release_log.csv", "release_log.json",
            "report.md", "report.html", "provenance.json"]
PERSON_COLS = {"kpr_id", "npr_id", "person_id", "birth_year", "index_date"}


@pytest.fixture(scope="module")
def delivery(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("delivery") / "d"
    kl.generate_delivery(out, kl.SynthConfig(scale=0.002, seed=2017))
    return out


@pytest.fixture(scope="module")
def runs(delivery: Path, tmp_path_factory: pytest.TempPathFactory
         ) -> dict[str, tuple[study_mod.StudyResult, Path]]:
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for name in ALL:
        res = run_study(STUDIES / name, data=delivery, out=root / name, work=root / "work")
        out[name] = (res, root / name)
    return out


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_every_shipped_study_is_run_here() -> None:
    assert sorted(shipped_studies()) == sorted(ALL)
    assert {p.name for p in STUDIES.iterdir() if (p / "study.toml").is_file()} == set(ALL)


@pytest.mark.parametrize("name", ALL)
def test_study_release_is_safe_and_complete(name: str, runs: dict, delivery: Path) -> None:
    res, out = runs[name]
    spec = study_mod.StudySpec.from_toml(STUDIES / name)
    assert sorted(p.name for p in out.iterdir()) == sorted(RELEASED)
    assert res.all_passed and set(res.tables) == {t.name for t in spec.tables}
    log = json.loads((out / "release_log.json").read_text())
    assert log["all_passed"] is True and log["rule"]["max_n"] == spec.disclosure.max_n
    assert all(t["disclosure_audit"]["audited"] for t in log["tables"].values())
    cell_log = pd.read_csv(out / "release_log.csv")
    assert (cell_log["check"] == "passed").all()
    assert len(cell_log) == sum(len(t) for t in res.tables.values())
    for tname, table in res.tables.items():
        csv = pd.read_csv(out / "tables" / f"{tname}.csv", dtype=str, keep_default_na=False)
        assert not PERSON_COLS & set(csv.columns)
        assert len(csv) == len(table)
        n = pd.to_numeric(csv["n"].replace("", None))
        assert not ((n >= 1) & (n <= 4)).any(), tname
        hidden = n.isna()
        assert (hidden == (csv["status"] != "published")).all()
        for col in csv.columns.difference(["n", "status", *table.columns[:3]]):
            if col != "population":
                assert (csv.loc[hidden, col] == "").all(), (tname, col)
        if "population" in csv:
            diff = pd.to_numeric(csv["population"]) - n
            assert not ((diff >= 1) & (diff <= 4)).any(), tname
    assert not any(p.suffix == ".parquet" for p in out.rglob("*"))
    prov = json.loads((out / "provenance.json").read_text())
    assert {f["file"] for f in prov["inputs"]} == {p.name for p in delivery.iterdir()
                                                   if p.is_file()}
    assert prov["study"]["digest"] == spec.digest
    report = (out / "report.md").read_text()
    for p in spec.published:
        assert p.value in report
    for t in spec.tables:
        if t.figure:
            assert (out / "figures" / f"{t.name}.png").is_file()
            assert (out / "figures" / f"{t.name}.svg").is_file()


@pytest.mark.parametrize("name", ALL)
def test_rerun_is_byte_identical(name: str, runs: dict, delivery: Path,
                                 tmp_path: Path) -> None:
    _, first = runs[name]
    run_study(name, data=delivery, out=tmp_path / "b", work=tmp_path / "w")
    assert _files(first) == _files(tmp_path / "b")


def test_dementia_tables_add_up(runs: dict) -> None:
    res, _ = runs["dementia_2016_2017"]
    share = res.tables["share_by_age_sex"]
    total = share[(share["age_band"] == "Total") & (share["sex"] == "Total")].iloc[0]
    assert total["status"] == "published" and total["n"] > 0
    assert total["share_lower"] < total["share_pct"] < total["share_upper"]
    assert set(share["age_band"]) == {*kl.AgeBands.reference_dementia().labels, "Total"}
    # every table of persons in the cohort has the same grand total
    for name in ("registered_in", "gp_contacts_by_age", "hospital_diagnoses", "hip_fracture",
                 "care_step", "municipal_service_by_age"):
        t = res.tables[name]
        dims = [c for c in t.columns if c not in ("n",) and t[c].astype(str).eq("Total").any()]
        grand = t[(t[dims] == "Total").all(axis=1)]["n"].iloc[0]
        assert grand == total["n"], name
    gp = res.tables["gp_contacts_by_age"]
    row = gp[gp["age_band"] == "Total"].iloc[0]
    assert row["consultation_per_person"] == pytest.approx(
        round(row["consultation"] / row["n"], 4))


def test_existing_output_needs_force(delivery: Path, tmp_path: Path) -> None:
    study = "welfare_technology_2017"
    run_study(study, data=delivery, out=tmp_path / "o")
    with pytest.raises(OutputFolderError) as exc:
        run_study(study, data=delivery, out=tmp_path / "o")
    assert exc.value.path == tmp_path / "o"
    assert run_study(study, data=delivery, out=tmp_path / "o", force=True).all_passed
    with pytest.raises(OutputFolderError) as exc2:
        run_study(study, data=delivery, out=delivery / "release", force=True)
    # the default work folder (<out>.work) lies in the delivery too
    assert [p.reason for p in exc2.value.problems] == [  # type: ignore[union-attr]
        "overlaps_data", "work_overlaps_data"]


def test_unknown_study_name() -> None:
    with pytest.raises(SpecError) as exc:
        find_study("no_such_study")
    assert exc.value.problems == shipped_studies()
    assert find_study(STUDIES / "welfare_technology_2017" / "study.toml").name == \
        "welfare_technology_2017"


def test_missing_delivery_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        run_study("welfare_technology_2017", data=tmp_path / "nope", out=tmp_path / "o")


def test_failed_release_check_writes_nothing(delivery: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    def leaky(cells, at, rule):  # type: ignore[no-untyped-def]
        t = study_mod.add_margins(cells, list(at.dims), [at.count_col])
        t[at.count_col] = t[at.count_col].astype("Int64")
        return t.assign(status="published"), None, []

    monkeypatch.setattr(study_mod, "_suppress", leaky)
    with pytest.raises(ReleaseRefusedError) as exc:
        run_study("nursing_home_quality_2017", data=delivery, out=tmp_path / "o")
    assert exc.value.problems
    assert not (tmp_path / "o").exists()


def test_failed_audit_refuses_release(delivery: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    real = study_mod._suppress

    def unaudited(cells, at, rule):  # type: ignore[no-untyped-def]
        table, log, _ = real(cells, at, rule)
        return table, log, ["cell x has feasible interval [3, 3]"]

    monkeypatch.setattr(study_mod, "_suppress", unaudited)
    with pytest.raises(ReleaseRefusedError) as exc:
        run_study("welfare_technology_2017", data=delivery, out=tmp_path / "o")
    assert len(exc.value.problems) > 0
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


def test_cli_run_and_errors(delivery: Path, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["run", "welfare_technology_2017", "--data", str(delivery), "--out",
            str(tmp_path / "o"), "--quiet"]
    assert cli.main(argv) == 0
    assert "report.html" in capsys.readouterr().out
    assert cli.main(argv) == 2
    assert "--force" in capsys.readouterr().err
    assert cli.main(["run", "not_a_study", "--data", str(delivery), "--out",
                     str(tmp_path / "x")]) == 2
    assert "dementia_2016_2017" in capsys.readouterr().err


def test_cli_demo_refuses_foreign_folder(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (out / "thesis.docx").write_bytes(b"x")
    assert cli.main(["demo", "--out", str(out), "--force", "--quiet"]) == 2
    assert "provenance.json" in capsys.readouterr().err
    assert not (tmp_path / "o.work").exists()
