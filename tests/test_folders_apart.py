"""Output and work folders never overlap the delivery (issue 17, item 2).

Equal, inside or containing: ``run`` (``--out`` and ``--work``), ``import``,
``cohort`` and ``link`` refuse with exit 2 before writing anything, and the
delivery folder is left exactly as it was.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_sources_data import write_delivery

from kprlink._atomic import OutputFolderError
from kprlink.cli import main
from kprlink.study import run_study

COHORT = Path(__file__).resolve().parents[1] / "studies" / "dementia_2016_2017" / "cohort.toml"


@pytest.fixture
def data(tmp_path):
    return write_delivery(tmp_path / "d")


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _where(data: Path, where: str) -> Path:
    return {"equal": data, "inside": data / "sub", "containing": data.parent}[where]


@pytest.mark.parametrize("where", ["equal", "inside", "containing"])
def test_run_work_never_overlaps_data(data, tmp_path, where, capsys):
    before = _tree(data)
    with pytest.raises(OutputFolderError) as err:
        run_study("welfare_technology_2017", data=data, out=tmp_path / "o",
                  work=_where(data, where))
    assert "work_overlaps_data" in {p.reason for p in err.value.problems}
    argv = ["run", "welfare_technology_2017", "--data", str(data), "--out", str(tmp_path / "o"),
            "--work", str(_where(data, where)), "--quiet"]
    assert main(argv) == 2
    msg = capsys.readouterr().err
    assert "work folder and the data folder" in msg and "Traceback" not in msg
    assert _tree(data) == before and not (tmp_path / "o").exists()


@pytest.mark.parametrize("where", ["equal", "inside", "containing"])
def test_run_out_never_overlaps_data(data, tmp_path, where, capsys):
    before = _tree(data)
    out = _where(data, where)
    assert main(["run", "welfare_technology_2017", "--data", str(data), "--out", str(out),
                 "--work", str(tmp_path / "w"), "--force", "--quiet"]) == 2
    assert "overlap" in capsys.readouterr().err
    assert _tree(data) == before


@pytest.mark.parametrize("command", ["cohort", "link"])
@pytest.mark.parametrize("name", [".", "cohort.parquet", "sub/cohort.csv"])
def test_person_files_never_go_into_the_delivery(data, command, name, capsys):
    before = _tree(data)
    args = [str(COHORT)] if command == "cohort" else []
    out = data / name if name != "." else data
    assert main([command, *args, "--data", str(data), "--out", str(out)]) == 2
    msg = capsys.readouterr().err
    assert "delivery folder" in msg and "Traceback" not in msg
    assert _tree(data) == before


def test_cohort_attrition_never_goes_into_the_delivery(data, tmp_path, capsys):
    before = _tree(data)
    assert main(["cohort", str(COHORT), "--data", str(data), "--out", str(tmp_path / "c.parquet"),
                 "--attrition", str(data / "attrition.csv")]) == 2
    assert "delivery folder" in capsys.readouterr().err
    assert _tree(data) == before and not (tmp_path / "c.parquet").exists()


def test_cohort_written_beside_the_delivery(data, tmp_path):
    out = tmp_path / "work" / "cohort.parquet"
    assert main(["cohort", str(COHORT), "--data", str(data), "--out", str(out)]) == 0
    assert out.is_file() and [p.name for p in out.parent.iterdir()] == ["cohort.parquet"]
