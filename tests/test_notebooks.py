"""Every notebook: outputs cleared, public API only, and it runs top to bottom."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import kprlink as kl

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _code(nb: Path) -> str:
    cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


TUTORIAL = ROOT / "notebooks" / "00_tutorial.ipynb"


def test_there_is_a_notebook_per_study() -> None:
    studies = {p.name for p in (ROOT / "studies").iterdir() if (p / "study.toml").is_file()}
    named = {re.search(r"find_study\('(\w+)'\)", _code(nb)).group(1)  # type: ignore[union-attr]
             for nb in NOTEBOOKS if "kl.run_study(" in _code(nb)}
    assert studies == named


def test_the_tutorial_builds_the_analysis_step_by_step() -> None:
    code = _code(TUTORIAL)
    assert "run_study" not in code  # no study runner
    steps = ["kl.generate_delivery(", "kl.read_delivery(", "kl.link_extracts(",
             "kl.build_cohort(", "kl.add_sex_label(", "kl.add_age_band(", "kl.table_one(",
             "kl.release_table_one(", "kl.population_denominators(", "kl.release_rates(",
             "kl.render_table(", "kl.plot_share_by_age_sex(", "kl.save_figure(",
             "check_release("]
    at = [code.find(step) for step in steps]
    assert -1 not in at and at == sorted(at)  # every step, in the order of the story
    prose = [c for c in json.loads(TUTORIAL.read_text(encoding="utf-8"))["cells"]
             if c["cell_type"] == "markdown"]
    assert len(prose) >= 8


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_clean(nb: Path) -> None:
    data = json.loads(nb.read_text(encoding="utf-8"))
    for cell in data["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
    code = _code(nb)
    assert "import kprlink as kl" in code
    assert not re.search(r"kprlink\._|from kprlink\.\w+\._", code)
    assert "../shared" not in code


@pytest.fixture(scope="module")
def delivery(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("nb") / "delivery"
    kl.generate_delivery(out, kl.SynthConfig(scale=0.002, seed=2017))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(nb: Path, delivery: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("KPRLINK_DELIVERY", str(delivery))
    book = nbformat.read(nb, as_version=4)
    NotebookClient(book, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(nb.parent)}}).execute()
    errors = [o for c in book.cells if c.cell_type == "code" for o in c.outputs
              if o.get("output_type") == "error"]
    assert errors == []
    last = [c for c in book.cells if c.cell_type == "code"][-1]
    assert any("passed" in json.dumps(o) for o in last.outputs)
    assert not any("failed" in json.dumps(o) for o in last.outputs)
