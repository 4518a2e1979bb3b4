"""MkDocs hooks: the notebooks and the changelog live outside ``docs/``; add them to the site.

``notebooks/*.ipynb`` become ``notebooks/<name>.ipynb`` pages (rendered by mkdocs-jupyter,
executed at build time unless ``KPRLINK_DOCS_EXECUTE=false``; ``KPRLINK_DOCS_NOTEBOOKS``
names a folder called ``notebooks`` of executed copies) and ``CHANGELOG.md`` becomes ``changelog.md``,
so the documentation needs no link out of ``docs/``.
"""

from __future__ import annotations

import os
from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent.parent


@event_priority(100)  # before mkdocs-jupyter turns .ipynb files into pages
def on_files(files, config):  # type: ignore[no-untyped-def]
    folder = Path(os.environ.get("KPRLINK_DOCS_NOTEBOOKS") or ROOT / "notebooks")
    for nb in sorted(folder.glob("*.ipynb")):
        # a plain File (src_dir the notebooks' parent): mkdocs-jupyter reads abs_src_path
        files.append(File(f"notebooks/{nb.name}", str(folder.parent), config["site_dir"],
                          config["use_directory_urls"]))
    files.append(File.generated(config, "changelog.md",
                                content=(ROOT / "CHANGELOG.md").read_text(encoding="utf-8")))
    return files
