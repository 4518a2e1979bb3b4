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
ALL = ["dementia_2016_2017", "dementia_trend_2016_2024", "hip_fracture_dementia_2017",
       "nursing_home_quality_2017", "rehabilitation_assessment_2017", "welfare_technology_2017"]
#: studies of several calendar years: run on a multi-year delivery (kprlink synth --years)
MULTI_YEAR = {"dementia_trend_2016_2024": (2016, 2017, 2018, 2019)}
RELEASE = ["tables", "tables.xlsx", "figures", "report.md", "report.html"]
CHECKER = ["release_log.csv", "release_log.json", "provenance.json"]
PERSON_COLS = {"kpr_id", "npr_id", "person_id", "birth_year", "index_date"}


@pytest.fixture(scope="module")
def delivery(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("delivery") / "d"
    kl.generate_delivery(out, kl.SynthConfig(scale=0.002, seed=2017))
    return out


@pytest.fixture(scope="module")
def multi_delivery(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kprlink.synth.years import generate_years

    out = tmp_path_factory.mktemp("multi") / "d"
    generate_years(out, kl.SynthConfig(scale=0.002, seed=2017),
                   years=MULTI_YEAR["dementia_trend_2016_2024"])
    return out


def _data(name: str, delivery: Path, multi_delivery: Path) -> Path:
    return multi_delivery if name in MULTI_YEAR else delivery


@pytest.fixture(scope="module")
def runs(delivery: Path, multi_delivery: Path, tmp_path_factory: pytest.TempPathFactory
         ) -> dict[str, tuple[study_mod.StudyResult, Path]]:
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for name in ALL:
        res = run_study(STUDIES / name, data=_data(name, delivery, multi_delivery),
                        out=root / name, work=root / "work")
        out[name] = (res, root / name)
    return out


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_every_shipped_study_is_run_here() -> None:
    assert sorted(shipped_studies()) == sorted(ALL)
    assert {p.name for p in STUDIES.iterdir() if (p / "study.toml").is_file()} == set(ALL)


@pytest.mark.parametrize("name", ALL)
def test_study_release_is_safe_and_complete(name: str, runs: dict, delivery: Path,
                                            multi_delivery: Path) -> None:
    delivery = _data(name, delivery, multi_delivery)
    res, out = runs[name]
    spec = study_mod.StudySpec.from_toml(STUDIES / name)
    assert sorted(p.name for p in out.iterdir()) == ["checker", "release"]
    assert sorted(p.name for p in (out / "release").iterdir()) == sorted(RELEASE)
    assert sorted(p.name for p in (out / "checker").iterdir()) == sorted(CHECKER)
    assert res.all_passed and set(res.tables) == {t.name for t in spec.tables}
    log = json.loads((out / "checker" / "release_log.json").read_text())
    assert log["all_passed"] is True and log["rule"]["max_n"] == spec.disclosure.max_n
    assert log["protection"]["atoms"] > 0
    cell_log = pd.read_csv(out / "checker" / "release_log.csv")
    counted = cell_log[cell_log["status"].isin(["published", "primary", "secondary"])]
    hidden_log = counted[counted["status"] != "published"]
    # every hidden number has an audit interval at least one wide
    assert ((hidden_log["upper"] - hidden_log["lower"]) >= 1).all()
    for tname, table in res.tables.items():
        csv = pd.read_csv(out / "release" / "tables" / f"{tname}.csv", dtype=str,
                          keep_default_na=False)
        assert not PERSON_COLS & set(csv.columns)
        assert not {"status", "reason"} & set(csv.columns)
        assert len(csv) == len(table)
        assert not (csv == "").any().any(), tname  # missing is never blank
        hidden = csv["n"] == ":"
        n = pd.to_numeric(csv["n"].where(~hidden))
        assert not ((n >= 1) & (n <= 4)).any(), tname
        dims = list(csv.columns[:list(csv.columns).index("n")])  # labels come first
        for col in csv.columns.difference(["n", "population", *dims]):
            assert (csv.loc[hidden, col] == ":").all(), (tname, col)
            shown = pd.to_numeric(csv[col].where(csv[col] != ":"), errors="coerce")
            if not (col.endswith(("_per_person", "_pct", "_lower", "_upper"))
                    or "_per_" in col or col in ("smd", "estimate", "lower", "upper", "per_1000")):
                assert not ((shown >= 1) & (shown <= 4)).any(), (tname, col)
        if "population" in csv:
            diff = pd.to_numeric(csv["population"]) - n
            assert not ((diff >= 1) & (diff <= 4)).any(), tname
    assert not any(p.suffix == ".parquet" for p in out.rglob("*"))
    prov = json.loads((out / "checker" / "provenance.json").read_text())
    assert {f["file"] for f in prov["inputs"]} == {p.name for p in delivery.iterdir()
                                                   if p.is_file()}
    assert prov["study"]["digest"] == spec.digest
    report = (out / "release" / "report.md").read_text()
    assert "count<=" not in report and "contributors<=" not in report
    for word in ("primary", "secondary"):  # no cell's status in what leaves
        assert f"| {word}" not in report and f",{word}" not in report
    for p in spec.published:
        assert p.value in report
    for t in spec.tables:
        if t.figure:
            assert (out / "release" / "figures" / f"{t.name}.png").is_file()
            assert (out / "release" / "figures" / f"{t.name}.svg").is_file()


def test_study_workbook_has_notes_frozen_headers_and_numbers(runs: dict) -> None:
    import openpyxl

    res, out = runs["dementia_2016_2017"]
    spec = study_mod.StudySpec.from_toml(STUDIES / "dementia_2016_2017")
    wb = openpyxl.load_workbook(out / "release" / "tables.xlsx")
    assert wb.sheetnames == [*res.tables, "notes"]
    notes = dict(wb["notes"].iter_rows(min_row=2, values_only=True))
    assert notes["title"] == spec.title
    assert notes["period"].startswith("01 Jul 2016 – 30 Jun 2017")
    assert "1 to 4" in notes["rule"] and notes["symbol"].startswith(": ")
    assert "07459" in notes["sources"] and "Wilson" in notes["intervals"]
    ws = wb["share_by_age_sex"]
    assert ws.freeze_panes == "A2" and ws["A1"].font.bold
    header = [c.value for c in ws[1]]
    n_col = header.index("n")
    counts = [r[n_col] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert all(isinstance(v, int) or v == ":" for v in counts)
    assert any(isinstance(v, int) for v in counts)


@pytest.mark.parametrize("name", ALL)
def test_rerun_is_byte_identical(name: str, runs: dict, delivery: Path, multi_delivery: Path,
                                 tmp_path: Path) -> None:
    _, first = runs[name]
    run_study(name, data=_data(name, delivery, multi_delivery), out=tmp_path / "b",
              work=tmp_path / "w")
    # the checker's summary names the size of the joint model, which grows with
    # the ledger (the fixture's runs share one work area), and a study sharing persons
    # with an earlier one (hip fracture: the dementia cohort) gets narrower audit
    # intervals from its release; everything else is equal
    a, b = _files(first), _files(tmp_path / "b")
    summary, cells = "checker/release_log.json", "checker/release_log.csv"
    assert a.keys() == b.keys() and {k: v for k, v in a.items() if k not in (summary, cells)
                                     } == {k: v for k, v in b.items()
                                           if k not in (summary, cells)}
    la, lb = (pd.read_csv(first / cells), pd.read_csv(tmp_path / "b" / cells))
    pd.testing.assert_frame_equal(la.drop(columns=["lower", "upper"]),
                                  lb.drop(columns=["lower", "upper"]))
    ja, jb = json.loads(a[summary]), json.loads(b[summary])
    for j in (ja, jb):
        j.pop("protection")
        for t in j["tables"].values():
            t.pop("hidden_intervals")
    assert ja == jb


def test_dementia_tables_add_up(runs: dict) -> None:
    res, _ = runs["dementia_2016_2017"]
    share = res.tables["share_by_age_sex"]
    total = share[(share["age_band"] == "Total") & (share["sex"] == "Total")].iloc[0]
    assert pd.notna(total["n"]) and total["n"] > 0
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
    import kprlink._study_release as rel

    real = rel.protect

    def leaky(tables, spec, **kw):  # type: ignore[no-untyped-def]
        joint = real(tables, spec, **kw)
        for t in joint.tables.values():
            t["status"] = "published"
        return joint

    monkeypatch.setattr(rel, "protect", leaky)
    with pytest.raises(ReleaseRefusedError) as exc:
        run_study("nursing_home_quality_2017", data=delivery, out=tmp_path / "o")
    assert exc.value.problems
    assert not (tmp_path / "o").exists()


def test_failed_audit_refuses_release(delivery: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import kprlink._study_release as rel

    real = rel.protect

    def unaudited(tables, spec, **kw):  # type: ignore[no-untyped-def]
        joint = real(tables, spec, **kw)
        joint.problems.append("cell x has feasible interval [3, 3]")
        return joint

    monkeypatch.setattr(rel, "protect", unaudited)
    with pytest.raises(ReleaseRefusedError) as exc:
        run_study("welfare_technology_2017", data=delivery, out=tmp_path / "o")
    assert "cell x has feasible interval [3, 3]" in exc.value.problems
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


def test_ledger_audits_a_later_run_of_a_nested_cohort(delivery: Path, tmp_path: Path) -> None:
    """A run, then the same study on the cohort minus one criterion: no difference leaks."""
    import shutil
    import tomllib

    ledger = tmp_path / "ledger"
    first = run_study("welfare_technology_2017", data=delivery, out=tmp_path / "a",
                      work=tmp_path / "w", ledger=ledger)
    entries = list(ledger.rglob("*.cells.parquet"))
    assert len(entries) == 1
    cells = pd.read_parquet(entries[0])
    assert len(cells) == int((first.release_log["status"] == "published").sum())
    # a rerun of the same study replaces its own entry and gives the same release
    run_study("welfare_technology_2017", data=delivery, out=tmp_path / "a2",
              work=tmp_path / "w", ledger=ledger)
    assert len(list(ledger.rglob("*.cells.parquet"))) == 1
    assert _files(tmp_path / "a" / "release") == _files(tmp_path / "a2" / "release")
    # the same study with older age bands: a different release of overlapping persons
    src = find_study("welfare_technology_2017")
    study = tmp_path / "study"
    shutil.copytree(src, study)
    text = (study / "study.toml").read_text()
    spec = tomllib.loads(text)
    assert spec["tables"][0]["params"]["breaks"] == [0, 67, 80, 90]
    (study / "study.toml").write_text(text.replace("[0, 67, 80, 90]", "[0, 67, 80, 85, 90]"))
    second = run_study(study, data=delivery, out=tmp_path / "b", work=tmp_path / "w",
                       ledger=ledger)
    assert len(list(ledger.rglob("*.cells.parquet"))) == 2
    log = json.loads((tmp_path / "b" / "checker" / "release_log.json").read_text())
    assert log["all_passed"] is True
    from kprlink.disclosure.outsider import check_release

    assert check_release(tmp_path / "b").empty
    assert second.all_passed


def test_ledger_may_not_sit_in_the_release(delivery: Path, tmp_path: Path) -> None:
    with pytest.raises(OutputFolderError):
        run_study("welfare_technology_2017", data=delivery, out=tmp_path / "o",
                  ledger=tmp_path / "o" / "ledger")
