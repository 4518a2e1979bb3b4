"""Studies on imperfect deliveries and specs (issue 17, items 3, 6 and 7).

* ``provenance.json`` records every exclusion by file and reason;
* more persons in a cell than its population on 1 January never aborts a study;
* unknown table parameters and paths outside the study folder are refused (exit 2).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

import kprlink as kl
from kprlink.sources import import_delivery, read_delivery
from kprlink.study import run_study


@pytest.fixture(scope="module")
def delivery(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("faults") / "d"
    kl.generate_delivery(out, kl.SynthConfig(scale=0.002, seed=2017))  # 1 % defects
    return out


def _expected_exclusions(folder: Path, action: str = "excluded") -> dict[str, dict[str, int]]:
    reasons = read_delivery(folder).report.reasons
    exc = reasons[reasons["action"] == action]
    out: dict[str, dict[str, int]] = {}
    for r in exc.itertuples():
        out.setdefault(r.file, {})
        out[r.file][r.reason] = out[r.file].get(r.reason, 0) + int(r.n_rows)
    return out


def _provenance_file(out: Path) -> dict:
    path = next(p for p in (out / "checker" / "provenance.json", out / "provenance.json")
                if p.is_file())
    return json.loads(path.read_text(encoding="utf-8"))


def test_provenance_records_every_exclusion_by_file_and_reason(delivery, tmp_path):
    expected = _expected_exclusions(delivery)
    assert sum(len(v) for v in expected.values()) >= 3  # the synthetic defects
    res = run_study("welfare_technology_2017", data=delivery, out=tmp_path / "o",
                    work=tmp_path / "w")
    assert res.provenance["delivery_exclusions"] == expected
    assert _provenance_file(tmp_path / "o")["delivery_exclusions"] == expected
    # an imported delivery records the same (from its stored report)
    import_delivery(delivery, tmp_path / "imp")
    res2 = run_study("welfare_technology_2017", data=tmp_path / "imp", out=tmp_path / "o2",
                     work=tmp_path / "w2")
    assert res2.provenance["delivery_exclusions"] == expected


def test_provenance_records_repairs_flags_and_files_not_read(delivery, tmp_path):
    import shutil

    data = tmp_path / "d"
    shutil.copytree(delivery, data, ignore=shutil.ignore_patterns("truth"))
    (data / "notes.txt").write_text("levert 2024\n", encoding="utf-8")
    key = data / "nokkel_npr_kpr.csv"
    raw = key.read_bytes().splitlines(keepends=True)
    key.write_bytes(b"".join([*raw, raw[1], raw[2]]))  # two repeated key rows
    npr = data / "npr_episoder.csv"
    lines = npr.read_bytes().splitlines(keepends=True)
    col = lines[0].rstrip(b"\r\n").split(b";").index(b"ncmp_1")
    fields = lines[1].split(b";")
    fields[col] = b'"AAF6"'  # no valid NCMP shape (four letters, two digits): repaired
    npr.write_bytes(b"".join([lines[0], b";".join(fields), *lines[2:]]))
    repairs = _expected_exclusions(data, "repaired")
    assert repairs["npr_episoder.csv"]["invalid_code"] == 1
    assert sum(len(v) for v in repairs.values()) >= 2
    res = run_study("welfare_technology_2017", data=data, out=tmp_path / "o",
                    work=tmp_path / "w")
    prov = _provenance_file(tmp_path / "o")
    assert prov["delivery_repairs"] == repairs
    assert prov["delivery_exclusions"]["nokkel_npr_kpr.csv"]["duplicate_row"] == 2
    assert prov["delivery_flags"] == _expected_exclusions(data, "flagged")
    not_read = set(prov["delivery_files_not_read"])
    assert "notes.txt" in not_read and not_read <= {p.name for p in data.iterdir()}
    assert not not_read & set(read_delivery(data).files["file"])
    assert res.provenance["delivery_repairs"] == repairs


# ------------------------------------------------------------------ n > population
def test_release_rates_suppresses_counts_above_their_denominator():
    from kprlink.disclosure import SuppressionRule
    from kprlink.exceptions import SpecError
    from kprlink.tables.crosstab import release_rates

    cells = pd.DataFrame({"m": ["a", "b", "c", "d"], "n": [30, 40, 9, 50],
                          "population": [300, 400, 7, 500]})
    with pytest.raises(SpecError) as err:
        release_rates(cells, dims=["m"], rule=SuppressionRule(max_n=4))
    assert "m=c" not in str(err.value) and "(c)" in str(err.value)  # the cell, by its dims
    rr = release_rates(cells, dims=["m"], rule=SuppressionRule(max_n=4), exceeding="suppress")
    got = rr.released.set_index("m")
    assert pd.isna(got.loc["c", "n"]) and pd.isna(got.loc["c", "share"])
    assert got.loc["c", "population"] == 7  # the public denominator as given
    assert rr.suppression.table.set_index("m").loc["c", "reason"] == "count_exceeds_denominator"
    assert got["n"].isna().sum() >= 2  # a second cell protects it from the total
    assert rr.suppression.ok
    assert rr.exceeding["m"].tolist() == ["c"]
    shown = got[got["n"].notna()]
    assert (shown["n"] <= shown["population"]).all()


def test_study_with_counts_above_small_populations_completes(delivery, tmp_path, caplog):
    """Population 65+ of 1 in every municipality: the study runs, never aborts."""
    import logging
    import shutil

    data = tmp_path / "d"
    shutil.copytree(delivery, data, ignore=shutil.ignore_patterns("truth"))
    pop_file = data / "ssb_07459_befolkning.csv"
    pop = pd.read_csv(pop_file, sep=None, engine="python", dtype=str)
    sep = ";" if ";" in pop_file.read_text(encoding="utf-8").splitlines()[0] else ","
    small = (pop["granularity_geo"] == "municip") & (pop["age"].astype(int) >= 65)
    pop.loc[small, "pop_jan1_n"] = "0"
    pop.loc[small & (pop["age"] == "65") & (pop["sex"] == "female"), "pop_jan1_n"] = "1"
    pop.to_csv(pop_file, sep=sep, index=False)
    with caplog.at_level(logging.WARNING, logger="kprlink.study"):
        res = run_study("dementia_2016_2017", data=data, out=tmp_path / "o",
                        work=tmp_path / "w")
    assert res.all_passed
    warned = [r.getMessage() for r in caplog.records if "municipal_variation" in r.getMessage()]
    assert len(warned) == 1 and "person_id" not in warned[0]
    named = warned[0].rsplit(": ", 1)[1].split(", ")
    assert len(named) >= 1 and all(c.startswith("municipality=") for c in named)
    log = res.release_log[res.release_log["table"] == "municipal_variation"]
    status = dict(zip(log["cell"], log["status"], strict=True))
    assert all(status[c] != "published" for c in named)
    table = res.tables["municipal_variation"]
    inner = table[table["municipality"] != "Total"]
    shown = inner[inner["n"].notna()]
    assert (shown["n"] <= shown["population"]).all()
    report = next((tmp_path / "o").rglob("report.md")).read_text(encoding="utf-8")
    assert f"{len(named)} cell(s) counted more persons than their population" in report


# ------------------------------------------------------------------ study spec faults
def _study(tmp_path: Path, edit) -> Path:
    """A copy of the shipped dementia study with `edit` applied to its study.toml text."""
    import shutil

    from kprlink.study import find_study

    folder = tmp_path / "study"
    shutil.copytree(find_study("dementia_2016_2017"), folder)
    toml = folder / "study.toml"
    toml.write_text(edit(toml.read_text(encoding="utf-8")), encoding="utf-8")
    return folder


def test_unknown_table_params_exit_2(delivery, tmp_path, capsys):
    from kprlink.cli import main
    from kprlink.exceptions import SpecError
    from kprlink.study import StudySpec

    folder = _study(tmp_path, lambda t: t.replace("params = { min_age = 65 }",
                                                  "params = { min_age = 65, max_age = 90 }"))
    with pytest.raises(SpecError) as err:
        StudySpec.from_toml(folder)
    assert [p.column for p in err.value.problems] == ["tables.municipal_variation.params"]
    assert "max_age" in str(err.value) and "min_age" in str(err.value)
    assert main(["run", str(folder), "--data", str(delivery), "--out", str(tmp_path / "o"),
                 "--quiet"]) == 2
    msg = capsys.readouterr().err
    assert "max_age" in msg and "Traceback" not in msg
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("cohort", ["/etc/passwd", "../outside.toml", "linked.toml"])
def test_cohort_path_stays_in_the_study_folder(delivery, tmp_path, cohort, capsys):
    from kprlink.cli import main
    from kprlink.exceptions import SpecError
    from kprlink.study import StudySpec

    (tmp_path / "outside.toml").write_text("x = 1\n")
    folder = _study(tmp_path, lambda t: t.replace('cohort = "cohort.toml"',
                                                  f'cohort = "{cohort}"'))
    (folder / "linked.toml").symlink_to(tmp_path / "outside.toml")
    with pytest.raises(SpecError) as err:
        StudySpec.from_toml(folder)
    assert [p.column for p in err.value.problems] == ["cohort"]
    assert main(["run", str(folder), "--data", str(delivery), "--out", str(tmp_path / "o"),
                 "--quiet"]) == 2
    assert "outside the study folder" in capsys.readouterr().err


def test_cohort_in_a_subfolder_of_the_study_is_fine(tmp_path):
    from kprlink.study import StudySpec

    folder = _study(tmp_path, lambda t: t.replace('cohort = "cohort.toml"',
                                                  'cohort = "definitions/cohort.toml"'))
    (folder / "definitions").mkdir()
    (folder / "cohort.toml").rename(folder / "definitions" / "cohort.toml")
    assert StudySpec.from_toml(folder).cohort_path.is_file()


def test_run_removes_what_a_killed_run_left(delivery, tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    left = tmp_path / f".o.tmp-{dead}"
    (left / "tables").mkdir(parents=True)
    (left / "tables" / "share.csv").write_text("n\n3\n")  # a table before its release check
    run_study("welfare_technology_2017", data=delivery, out=tmp_path / "o", work=tmp_path / "w")
    assert not left.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("ref", ["/etc/codes.json", "../codes.json"])
def test_cohort_code_list_files_stay_in_the_study_folder(tmp_path, ref):
    from kprlink.exceptions import SpecError
    from kprlink.study import StudySpec

    folder = _study(tmp_path, lambda t: t)
    cohort = folder / "cohort.toml"
    cohort.write_text(cohort.read_text(encoding="utf-8").replace(
        'codelists = ["dementia_icd10"]', f'codelists = ["{ref}"]'), encoding="utf-8")
    with pytest.raises(SpecError) as err:
        StudySpec.from_toml(folder)
    assert [p.column for p in err.value.problems] == ["cohort"]
    assert ref in str(err.value)


def test_cohort_code_list_file_inside_the_study_is_fine(tmp_path):
    from kprlink.codes import load_phenotype
    from kprlink.study import StudySpec

    folder = _study(tmp_path, lambda t: t)
    load_phenotype("dementia_icd10").to_json(folder / "dem.json")
    cohort = folder / "cohort.toml"
    cohort.write_text(cohort.read_text(encoding="utf-8").replace(
        'codelists = ["dementia_icd10"]', 'codelists = ["dem.json"]'), encoding="utf-8")
    assert StudySpec.from_toml(folder).cohort_path == folder / "cohort.toml"


@pytest.mark.parametrize("code, said", [(28, "disk is full"), (30, "read-only")])
def test_full_disk_or_read_only_mid_run_exit_2(delivery, tmp_path, monkeypatch, capsys,
                                               code, said):
    import errno

    from kprlink import _atomic
    from kprlink.cli import main

    assert (code, said) in ((errno.ENOSPC, "disk is full"), (errno.EROFS, "read-only"))
    real, calls = _atomic.write_text, []

    def failing(path, *a, **k):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(code, os.strerror(code), str(path))
        return real(path, *a, **k)

    monkeypatch.setattr(_atomic, "write_text", failing)
    out = tmp_path / "o"
    assert main(["run", "welfare_technology_2017", "--data", str(delivery), "--out", str(out),
                 "--work", str(tmp_path / "w"), "--quiet"]) == 2
    msg = capsys.readouterr().err
    assert said in msg and "Traceback" not in msg and len(calls) == 2
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert not list((tmp_path / "w").rglob("*.cells.parquet"))  # no ledger entry
    monkeypatch.undo()
    assert main(["run", "welfare_technology_2017", "--data", str(delivery), "--out", str(out),
                 "--work", str(tmp_path / "w"), "--quiet"]) == 0
