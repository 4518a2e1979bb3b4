"""StudySpec (study.toml), age bands, margins and the atomic output folder."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

import kprlink as kl

from kprlink import _atomic, _provenance
from kprlink._studyspec import DisclosureSpec, StudySpec
from kprlink.analyses import AnalysisTable, age_bands, get_step, sex_label
from kprlink.exceptions import MissingColumnsError, SpecError
from kprlink.study import OutputFolderError, add_margins

STUDIES = Path(__file__).resolve().parent.parent / "studies"


def _base(**over: object) -> dict[str, object]:
    d: dict[str, object] = {
        "kprlink_spec": 1, "kind": "study", "name": "s1", "title": "S",
        "period": {"start": "2017-01-01", "end": "2017-12-31"},
        "tables": [{"name": "t1", "kind": "function_assessment", "title": "T"}]}
    d.update(over)
    return d


def test_spec_from_dict_defaults_and_digest() -> None:
    spec = StudySpec.from_dict(_base())
    assert spec.disclosure == DisclosureSpec(max_n=4, protect_zeros=False)
    assert spec.ref_date == dt.date(2018, 1, 1)
    assert spec.digest == StudySpec.from_dict(_base()).digest
    changed = dataclasses.replace(spec, disclosure=DisclosureSpec(max_n=10))
    assert changed.digest != spec.digest
    assert spec.table("t1").kind == "function_assessment"


@pytest.mark.parametrize("name", ["welfare_technology_2017", "nursing_home_quality_2017",
                                  "rehabilitation_assessment_2017"])
def test_shipped_study_files_load(name: str) -> None:
    spec = StudySpec.from_toml(STUDIES / name)
    assert spec.name == name
    assert spec.published, "every study prints published figures beside its results"
    for t in spec.tables:
        assert callable(get_step(t.kind))


def test_dementia_study_file_names_its_cohort() -> None:
    text = (STUDIES / "dementia_2016_2017" / "study.toml").read_text()
    import tomllib

    data = tomllib.loads(text)
    assert data["cohort"] == "cohort.toml"
    assert data["period"] == {"start": "2016-07-01", "end": "2017-06-30"}
    assert data["reference_date"] == "2017-01-01"


def test_spec_collects_every_problem() -> None:
    with pytest.raises(SpecError) as exc:
        StudySpec.from_dict(_base(colour="red", period={"start": "2017-13-01", "end": "x"},
                                  disclosure={"max_n": 0}, kprlink_spec=2))
    cols = {p.column for p in exc.value.problems}  # type: ignore[union-attr]
    assert {"colour", "period.start", "period.end", "disclosure.max_n",
            "kprlink_spec"} <= cols


def test_spec_semantic_problems() -> None:
    with pytest.raises(SpecError) as exc:
        StudySpec.from_dict(_base(
            name="Bad Name", period={"start": "2017-12-31", "end": "2017-01-01"},
            tables=[{"name": "t1", "kind": "nope"}, {"name": "t1", "kind": "function_assessment",
                                                    "figure": "pie"}],
            published=[{"table": "zz", "label": "L", "value": "1", "source": "S",
                        "status": "rumour"}]))
    cols = [p.column for p in exc.value.problems]  # type: ignore[union-attr]
    assert "name" in cols and "period" in cols and "tables" in cols
    assert "tables.t1.kind" in cols and "tables.t1.figure" in cols
    assert cols.count("published") == 2


def test_spec_no_tables_and_bad_seed() -> None:
    with pytest.raises(SpecError) as exc:
        StudySpec.from_dict(_base(tables=[], seed=-1))
    assert {p.column for p in exc.value.problems} >= {"seed"}  # type: ignore[union-attr]
    with pytest.raises(SpecError) as exc2:
        StudySpec.from_dict(_base(tables=[]))
    assert [p.column for p in exc2.value.problems] == ["tables"]  # type: ignore[union-attr]


def test_spec_missing_cohort_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as exc:
        StudySpec.from_dict(_base(cohort="cohort.toml"), directory=tmp_path)
    assert [p.column for p in exc.value.problems] == ["cohort"]  # type: ignore[union-attr]


def test_spec_from_toml_errors(tmp_path: Path) -> None:
    (tmp_path / "study.toml").write_text("name = [unclosed\n")
    with pytest.raises(SpecError) as exc:
        StudySpec.from_toml(tmp_path)
    assert exc.value.problems[0].reason == "toml"  # type: ignore[union-attr]
    with pytest.raises(FileNotFoundError):
        StudySpec.from_toml(tmp_path / "nowhere")


def test_age_bands_reference_and_custom() -> None:
    assert age_bands([0, 60, 65, 70, 75, 80, 85, 90]) == kl.AgeBands.reference_dementia()
    assert age_bands([0, 67]).labels == ("0-66", "67+")
    with pytest.raises(SpecError):
        age_bands([10, 5])


def test_sex_label_all_na() -> None:
    assert sex_label(pd.Series([pd.NA, 9], dtype="Int16")).isna().all()


def test_add_margins_two_dims_and_empty() -> None:
    cells = pd.DataFrame({"a": ["x", "x", "y"], "b": ["p", "q", "p"], "n": [1, 2, 3]})
    before = cells.copy()
    out = add_margins(cells, ["a", "b"], ["n"])
    pd.testing.assert_frame_equal(cells, before)
    idx = out.set_index(["a", "b"])["n"]
    assert idx[("Total", "Total")] == 6 and idx[("x", "Total")] == 3
    assert idx[("Total", "p")] == 4 and len(out) == 3 + 2 + 2 + 1
    empty = add_margins(cells.iloc[:0], ["a", "b"], ["n"])
    assert empty.set_index(["a", "b"]).loc[("Total", "Total"), "n"] == 0


def test_analysis_table_validation() -> None:
    with pytest.raises(MissingColumnsError) as exc:
        AnalysisTable(pd.DataFrame({"a": ["x"]}), ("a",))
    assert exc.value.missing == ["n"]
    with pytest.raises(SpecError):
        AnalysisTable(pd.DataFrame({"a": ["x"], "n": [1]}), ("a",), share_within="b")
    with pytest.raises(MissingColumnsError) as exc2:
        AnalysisTable(pd.DataFrame({"a": ["x"], "n": [1]}), ("a",),
                      population=pd.DataFrame({"a": ["x"]}))
    assert exc2.value.missing == ["population"]


def test_unknown_step_kind() -> None:
    with pytest.raises(SpecError):
        get_step("no_such_kind")


def test_atomic_folder_refusals(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("not kprlink")
    with pytest.raises(OutputFolderError) as exc:
        _atomic.check_output_folder(out, force=False)
    assert [p.reason for p in exc.value.problems] == ["exists"]  # type: ignore[union-attr]
    with pytest.raises(OutputFolderError) as exc:
        _atomic.check_output_folder(out, force=True)
    assert [p.reason for p in exc.value.problems] == ["not_kprlink_output"]  # type: ignore[union-attr]
    with pytest.raises(OutputFolderError) as exc:
        _atomic.check_output_folder(tmp_path / "d" / "o", force=False,
                                    inputs={"data": tmp_path / "d"})
    assert [p.reason for p in exc.value.problems] == ["overlaps_data"]  # type: ignore[union-attr]


def test_atomic_folder_keeps_old_output_on_failure(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with _atomic.atomic_folder(out, force=False) as tmp:
        (tmp / _atomic.MARKER).write_text("v1")
    with pytest.raises(RuntimeError), _atomic.atomic_folder(out, force=True) as tmp:
        (tmp / _atomic.MARKER).write_text("v2")
        raise RuntimeError("step failed")
    assert (out / _atomic.MARKER).read_text() == "v1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    with _atomic.atomic_folder(out, force=True) as tmp:
        (tmp / _atomic.MARKER).write_text("v2")
    assert (out / _atomic.MARKER).read_text() == "v2"


def test_xlsx_and_csv_are_byte_identical(tmp_path: Path) -> None:
    df = pd.DataFrame({"a": ["x", "y"], "n": pd.array([5, None], dtype="Int64"),
                       "share_pct": [1 / 3, None]})
    _atomic.write_xlsx(tmp_path / "1.xlsx", {"t": df})
    _atomic.write_xlsx(tmp_path / "2.xlsx", {"t": df})
    assert (tmp_path / "1.xlsx").read_bytes() == (tmp_path / "2.xlsx").read_bytes()
    import openpyxl

    ws = openpyxl.load_workbook(tmp_path / "1.xlsx")["t"]
    assert [c.value for c in ws[3]] == ["y", None, None]
    _atomic.write_csv(tmp_path / "t.csv", df)
    assert (tmp_path / "t.csv").read_text() == "a,n,share_pct\nx,5,0.333333\ny,,\n"


def test_provenance_lists_top_level_files_only(tmp_path: Path) -> None:
    (tmp_path / "b.csv").write_bytes(b"abc")
    (tmp_path / "truth").mkdir()
    (tmp_path / "truth" / "x.parquet").write_bytes(b"z")
    files = _provenance.input_files(tmp_path)
    assert [f["file"] for f in files] == ["b.csv"]
    assert files[0]["sha256"] == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    rec = _provenance.provenance_record(kprlink_version="x", study={"name": "s"},
                                        definitions={"c.toml": "ab"}, inputs=files, seed=3)
    assert rec["dependencies"]["pandas"] == pd.__version__  # type: ignore[index]
    assert _provenance.dumps(rec) == _provenance.dumps(dict(reversed(list(rec.items()))))
