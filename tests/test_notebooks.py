"""Every notebook: outputs cleared, public API only, and it runs top to bottom."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

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


#: executed notebooks, kept for the documentation build below (same module, runs after)
EXECUTED: dict[str, object] = {}


def _execute(nb: Path, delivery: Path) -> object:
    import os

    import nbformat
    from nbclient import NotebookClient

    book = nbformat.read(nb, as_version=4)
    old = os.environ.get("KPRLINK_DELIVERY")
    os.environ["KPRLINK_DELIVERY"] = str(delivery)
    try:
        NotebookClient(book, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(nb.parent)}}).execute()
    finally:
        if old is None:
            os.environ.pop("KPRLINK_DELIVERY")
        else:
            os.environ["KPRLINK_DELIVERY"] = old
    EXECUTED[nb.name] = book
    return book


@pytest.mark.slow
@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(nb: Path, delivery: Path) -> None:
    book: Any = _execute(nb, delivery)
    errors = [o for c in book.cells if c.cell_type == "code" for o in c.outputs
              if o.get("output_type") == "error"]
    assert errors == []
    last = [c for c in book.cells if c.cell_type == "code"][-1]
    assert any("passed" in json.dumps(o) for o in last.outputs)
    assert not any("failed" in json.dumps(o) for o in last.outputs)


# --- the documentation site ---------------------------------------------------------------

def test_docs_have_no_link_out_of_the_repository_and_every_page_is_in_the_nav() -> None:
    docs = ROOT / "docs"
    for page in docs.rglob("*.md"):
        assert "../shared" not in page.read_text(encoding="utf-8"), page
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = {str(p.relative_to(docs)) for p in docs.rglob("*.md")}
    pages |= {f"notebooks/{nb.name}" for nb in NOTEBOOKS}
    missing = {p for p in pages if f": {p}" not in nav}
    assert missing == set(), f"add {sorted(missing)} to the nav of mkdocs.yml"


@pytest.mark.slow
def test_docs_site_builds_with_warnings_as_errors(delivery: Path, tmp_path: Path) -> None:
    """MkDocs --strict: the pages, the API reference from the docstrings, and the
    notebooks rendered with their outputs (executed above, or here when run alone)."""
    import os
    import subprocess
    import sys

    import nbformat

    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings_handlers.python")
    pytest.importorskip("mkdocs_jupyter")
    executed = tmp_path / "notebooks"
    executed.mkdir()
    for nb in NOTEBOOKS:
        book = EXECUTED.get(nb.name) or _execute(nb, delivery)
        nbformat.write(book, executed / nb.name)
    env = {**os.environ, "KPRLINK_DOCS_EXECUTE": "false",
           "KPRLINK_DOCS_NOTEBOOKS": str(executed)}
    site = tmp_path / "site"
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f",
                          str(ROOT / "mkdocs.yml"), "-d", str(site)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "WARNING" not in run.stderr
    tutorial = (site / "notebooks" / "00_tutorial" / "index.html").read_text(encoding="utf-8")
    assert "release check passed" in tutorial and "data:image/png;base64" in tutorial
    api = (site / "api" / "plots" / "index.html").read_text(encoding="utf-8")
    assert "plot_bars" in api and "natural order" in api  # from the docstring
    assert "build_cohort" in (site / "api" / "cohorts" / "index.html").read_text(
        encoding="utf-8")
    assert (site / "changelog" / "index.html").is_file()
