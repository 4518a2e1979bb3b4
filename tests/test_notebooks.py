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


def test_there_is_a_notebook_per_study() -> None:
    studies = {p.name for p in (ROOT / "studies").iterdir() if (p / "study.toml").is_file()}
    named = {re.search(r"find_study\('(\w+)'\)", _code(nb)).group(1)  # type: ignore[union-attr]
             for nb in NOTEBOOKS}
    assert studies == named


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
    last = book.cells[-1]
    assert any("passed" in json.dumps(o) for o in last.outputs)
    assert not any("failed" in json.dumps(o) for o in last.outputs)
